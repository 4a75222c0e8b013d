"""Fetch a placed model from the relays holding its shards into a destination path."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from agihub.transfer import fetch_package
from agihub_worker import catalog
from agihub_worker.progress import Reporter
from agihub_worker.settings import WorkerSettings


def work_dir(settings: WorkerSettings, model_root: str, purpose: str) -> Path:
    """Per-model scratch space; a fetch interrupted here resumes from the shards already verified."""
    return settings.data_dir / "worker" / purpose / model_root


def download(
    engine: Engine,
    settings: WorkerSettings,
    model_root: str,
    dest: str,
    *,
    report: Reporter | None = None,
) -> dict[str, Any]:
    signed, _ = catalog.package(engine, model_root)
    held = catalog.holders(engine, model_root)
    holders = {i: [r.url for r in relays] for i, relays in held.items()}

    def progress(done: int, total: int, verified: int) -> None:
        if report is not None:
            report(done, total, shards_verified=verified, phase="download")

    result = fetch_package(
        signed,
        holders,
        work_dir(settings, model_root, "fetch"),
        dest,
        timeout=settings.relay_timeout_s,
        progress=progress,
    )
    # Relays that failed are named in the result (``failures``); the audit task judges their health.
    shutil.rmtree(work_dir(settings, model_root, "fetch"), ignore_errors=True)  # rebuilt and verified
    if report is not None:
        report(
            result.bytes_downloaded,
            result.bytes_downloaded,
            force=True,
            shards_verified=len(result.shards),
            phase="done",
        )
    return result.to_dict()
