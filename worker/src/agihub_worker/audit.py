"""Challenge every relay holding a shard of a model; a failed audit marks the copy lost."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from agihub.transfer import audit as audit_range
from agihub.transfer.audit import FAIL
from agihub_worker import catalog
from agihub_worker.progress import Reporter
from agihub_worker.settings import WorkerSettings


def audit_model(
    engine: Engine, settings: WorkerSettings, model_root: str, *, report: Reporter | None = None
) -> dict[str, Any]:
    """One audit per healthy placement. A placement with no challenges left is reported as
    ``unchallenged`` (the next publish or repair of the model draws new ones)."""
    signed, _ = catalog.package(engine, model_root)  # unknown model → typed error
    shards = {s.index: s.sha256 for s in signed.manifest.shards}
    held = catalog.holders(engine, model_root)
    outcomes: dict[str, int] = {"pass": 0, "fail": 0, "timeout": 0, "unchallenged": 0}
    lost: list[dict[str, Any]] = []
    total = sum(len(v) for v in held.values())
    for index, relays in sorted(held.items()):
        for relay in relays:
            challenges = catalog.take_challenges(engine, model_root, index, 2)
            if not challenges:
                outcomes["unchallenged"] += 1
                continue
            result = audit_range(
                relay.url,
                shards[index],
                challenges[0],
                challenges[1] if len(challenges) > 1 else None,
                timeout=settings.relay_timeout_s,
            )
            catalog.record_audit(engine, model_root, index, relay.url, result.outcome, result.detail)
            outcomes[result.outcome] += 1
            if result.outcome == FAIL:
                catalog.mark(engine, model_root, index, relay.url, catalog.LOST)
                lost.append({"shard": index, "relay": relay.url, "detail": result.detail})
            if report is not None:
                report(sum(outcomes.values()), total, **outcomes, phase="audit")
    healthy = len(catalog.holders(engine, model_root))
    return {"model_root": model_root, "outcomes": outcomes, "lost": lost, "healthy_shards": healthy}
