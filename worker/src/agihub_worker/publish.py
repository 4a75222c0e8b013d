"""Place a registered package's shards on relays and remember where they went."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from agihub.identity import SecretKey
from agihub.storage.package import shard_name
from agihub.transfer import RelayTarget, make_challenges, push_package
from agihub.transfer.placement import decide
from agihub_worker import catalog
from agihub_worker.progress import Reporter
from agihub_worker.settings import WorkerSettings


def relays_from(spec: list[dict[str, str]] | None) -> list[RelayTarget]:
    """Relays named by the caller: ``[{"url", "operator"}]``."""
    return [RelayTarget(item["url"], item.get("operator") or item["url"]) for item in spec or []]


def _offered(engine: Engine) -> list[RelayTarget]:
    try:
        return catalog.offered_relays(engine)
    except catalog.NoRelaysError:
        return []


def publish(
    engine: Engine,
    settings: WorkerSettings,
    model_root: str,
    *,
    relays: list[dict[str, str]] | None = None,
    happiness: int | None = None,
    policy: str | None = None,
    report: Reporter | None = None,
) -> dict[str, Any]:
    """Upload every shard not yet healthy somewhere, on the relays the placement policy allows (see
    :func:`agihub.transfer.placement.decide`; the decision is part of the result, so it is recorded
    in ``task_records``); fails (PlacementError) below the required happiness."""
    signed, source = catalog.package(engine, model_root)
    if source is None or not source.is_dir():
        raise catalog.UnknownPackageError(
            f"the files of {model_root[:16]}… are not at {source}; register it again"
        )
    key = SecretKey.from_hex(settings.nostr_key.get_secret_value())
    held = catalog.holders(engine, model_root)
    decision = decide(
        signed,
        _offered(engine),
        relays_from(relays),
        policy=policy or settings.placement_policy,
        happiness_required=happiness,
    )

    def progress(done: int, total: int, shards: int) -> None:
        if report is not None:
            report(done, total, shards_placed=shards, phase="upload")

    result = push_package(
        source,
        decision.relays,
        key,
        happiness_required=decision.happiness,
        holders=held,
        exclude=catalog.lost_relays(engine, model_root),
        progress=progress,
        timeout=settings.relay_timeout_s,
    )
    placed = {i: [r for r in decision.relays if r.url in urls] for i, urls in result.placements.items()}
    catalog.record_placements(engine, model_root, placed)
    ensure_challenges(engine, settings, model_root, source, range(signed.manifest.erasure.n))
    return {**result.to_dict(), "decision": decision.to_dict()}


def ensure_challenges(
    engine: Engine, settings: WorkerSettings, model_root: str, folder: Path, indices: Any
) -> None:
    """Keep ``audit_challenges`` unused challenges per shard, drawn from the local shard files."""
    for index in indices:
        path = folder / shard_name(index)
        missing = settings.audit_challenges - catalog.unused_challenges(engine, model_root, index)
        if missing > 0 and path.is_file():
            catalog.add_challenges(
                engine, model_root, index, make_challenges(path, missing, settings.audit_range_bytes)
            )
