"""Fetch a placed model from the relays holding its shards into a destination path."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from agihub.transfer import fetch_package
from agihub.transfer.plan import PlanningError, RetrievalPlan
from agihub_services.packages import retrieval_plan
from agihub_worker import catalog
from agihub_worker.progress import Reporter
from agihub_worker.settings import WorkerSettings

PLAN_TARGET = 0.999


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
    plan = _plan(engine, model_root, signed.manifest.erasure.k)
    first = set(plan.relays) if plan is not None else set()
    # Relays of the plan first for every shard; the others stay as fallbacks.
    holders = {
        i: sorted((r.url for r in relays), key=lambda url: url not in first) for i, relays in held.items()
    }

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
    out = result.to_dict()
    out["plan"] = plan.to_dict() if plan is not None else None
    return out


def _plan(engine: Engine, model_root: str, k: int) -> RetrievalPlan | None:
    """The retrieval plan at the default target; None when no plan reaches it (fetch then tries every
    holder, and the result says so)."""
    try:
        return retrieval_plan(engine, model_root, k, PLAN_TARGET)
    except PlanningError:
        return None
