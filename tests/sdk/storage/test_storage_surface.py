"""Pins the public surface of agihub.storage: a change here is a deliberate API change."""

from __future__ import annotations

import agihub.storage as storage
from agihub.errors import StorageError
from agihub.storage import errors


def test_public_names() -> None:
    assert sorted(storage.__all__) == [
        "Cache",
        "Card",
        "Delivery",
        "PackOptions",
        "SignedManifest",
        "VerifyReport",
        "derive_version_key",
        "load_manifest",
        "open_delivery",
        "pack_delta",
        "pack_model",
        "parse_manifest",
        "plan_tensor_fetch",
        "private_version_key",
        "read_tensors",
        "seal_delivery",
        "unpack",
        "verify_package",
    ]
    for name in storage.__all__:
        assert getattr(storage, name) is not None


def test_every_storage_error_is_a_storage_error() -> None:
    classes = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, Exception)]
    assert len(classes) >= 17
    assert all(issubclass(c, StorageError) for c in classes)
