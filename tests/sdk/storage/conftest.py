"""Fixtures for the storage tests."""

from __future__ import annotations

import pytest

from agihub.identity import SecretKey


@pytest.fixture(scope="session")
def publisher() -> SecretKey:
    """One publisher identity for the whole session."""
    return SecretKey.generate()
