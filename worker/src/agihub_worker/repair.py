"""Re-create shards a model has lost and place them on relays that did not lose them."""

from __future__ import annotations

import shutil
from typing import Any

from sqlalchemy import Engine

from agihub.identity import SecretKey
from agihub.storage.package import MANIFEST_NAME
from agihub.transfer import fetch_shards, push_package, rebuild_shards
from agihub_worker import catalog
from agihub_worker.download import work_dir
from agihub_worker.progress import Reporter
from agihub_worker.publish import ensure_challenges, relays_from
from agihub_worker.settings import WorkerSettings


def default_threshold(k: int, n: int) -> int:
    """Repair when fewer than this many distinct shards are healthy: halfway from k to n, rounded
    up, so a single loss of a wide code waits for company but a model never drifts near k."""
    return k + (n - k + 1) // 2


def repair_model(
    engine: Engine,
    settings: WorkerSettings,
    model_root: str,
    *,
    threshold: int | None = None,
    relays: list[dict[str, str]] | None = None,
    report: Reporter | None = None,
) -> dict[str, Any]:
    signed, _ = catalog.package(engine, model_root)
    er = signed.manifest.erasure
    limit = threshold if threshold is not None else default_threshold(er.k, er.n)
    if not er.k <= limit <= er.n:
        raise ValueError(f"repair threshold {limit} must be between k={er.k} and n={er.n}")
    held = catalog.holders(engine, model_root)
    missing = [i for i in range(er.n) if i not in held]
    if er.n - len(missing) >= limit:
        return {"model_root": model_root, "repaired": [], "healthy_shards": er.n - len(missing)}
    folder = work_dir(settings, model_root, "repair")
    if report is not None:
        report(0, len(missing), phase="fetch")
    sources, _, _, _ = fetch_shards(
        signed, {i: [r.url for r in v] for i, v in held.items()}, folder, timeout=settings.relay_timeout_s
    )
    rebuild_shards(signed, sources, missing, folder)
    (folder / MANIFEST_NAME).write_bytes(signed.to_bytes())
    key = SecretKey.from_hex(settings.nostr_key.get_secret_value())
    targets = relays_from(relays) or catalog.offered_relays(engine)
    pushed = push_package(
        folder,
        targets,
        key,
        happiness_required=1,
        holders=held,
        exclude=catalog.lost_relays(engine, model_root),
        timeout=settings.relay_timeout_s,
    )
    placed = {i: [r for r in targets if r.url in pushed.placements[i]] for i in missing}
    catalog.record_placements(engine, model_root, placed)
    ensure_challenges(engine, settings, model_root, folder, missing)
    shutil.rmtree(folder, ignore_errors=True)
    if report is not None:
        report(len(missing), len(missing), force=True, phase="done")
    return {
        "model_root": model_root,
        "repaired": missing,
        "healthy_shards": er.n,
        "placements": pushed.to_dict()["placements"],
    }
