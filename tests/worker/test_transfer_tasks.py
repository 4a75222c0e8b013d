"""publish → fetch → audit → repair through real worker processes on both brokers and databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from agihub.blobs import BlobClient
from agihub_services.db.engine import session_scope
from agihub_services.db.schema import AuditResult, ShardPlacement
from agihub_services.queue import make_producer, submit
from agihub_worker import catalog
from tests.sdk.transfer.transfer_kit import RunningRelay, relay_fleet

from .conftest import StartWorker, engine_for, wait_for_tasks
from .transfer_fixtures import WORKER_KEY, package_dir, relay_spec

DEAD = "http://127.0.0.1:"  # + a port in 0..5 below 9: nothing listens there on loopback


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RunningRelay]]:
    with relay_fleet(tmp_path_factory.mktemp("fleet"), 6) as relays:
        yield relays


def test_publish_fetch_audit_repair(
    start_worker: StartWorker, fleet: list[RunningRelay], tmp_path: Path
) -> None:
    worker = start_worker("w1", relay_timeout_s="5")
    engine, producer = engine_for(worker), make_producer(worker.settings)
    model, package, root = package_dir(tmp_path, seed=11)
    catalog.register_package(engine, package)
    spec = relay_spec([r.http_url for r in fleet])
    try:
        published = submit(engine, producer, "agihub.transfer.publish", {"model_root": root, "relays": spec})
        record = wait_for_tasks(engine, [published])[published]
        assert record.state == "SUCCESS", record.error
        assert record.result["happiness"] == 6 and record.done == record.total > 0
        assert record.result["decision"]["policy"] == "spread", (
            "a public model spreads; the decision is recorded"
        )

        dest = tmp_path / "fetched.safetensors"
        fetched = submit(engine, producer, "agihub.transfer.fetch", {"model_root": root, "dest": str(dest)})
        record = wait_for_tasks(engine, [fetched])[fetched]
        assert record.state == "SUCCESS", record.error
        assert dest.read_bytes() == model.read_bytes()
        assert record.detail["shards_verified"] == 3 and record.done > 0, (
            "progress is visible in task_records"
        )

        # Relays down (their URL answers nothing): up to n-k down still fetches, n-k+1 fails clearly.
        urls = sorted({r.url for v in catalog.holders(engine, root).values() for r in v})
        for down in range(5):
            dark = {u: f"{DEAD}{i}" for i, u in enumerate(urls[:down])}
            _route(engine, root, dark)
            target = tmp_path / f"down-{down}.safetensors"
            task = submit(
                engine, producer, "agihub.transfer.fetch", {"model_root": root, "dest": str(target)}
            )
            record = wait_for_tasks(engine, [task])[task]
            _route(engine, root, {v: k for k, v in dark.items()})
            if down <= 3:
                assert record.state == "SUCCESS", (down, record.error)
                assert target.read_bytes() == model.read_bytes()
            else:
                assert record.state == "FAILURE" and "NotEnoughShardsError" in record.error
                assert "only 2 of the 3 shards" in record.error and not target.exists()

        # Two relays lose their copy (an operator wiped the disk).
        held = catalog.holders(engine, root)
        victims = {0: held[0][0].url, 4: held[4][0].url}
        for index, url in victims.items():
            sha = catalog.package(engine, root)[0].manifest.shards[index].sha256
            BlobClient(url, WORKER_KEY).delete(sha)

        audited = submit(engine, producer, "agihub.maintenance.audit", {"model_root": root})
        record = wait_for_tasks(engine, [audited])[audited]
        assert record.state == "SUCCESS", record.error
        assert record.result["outcomes"]["fail"] == 2 and record.result["outcomes"]["pass"] == 4
        assert sorted(item["shard"] for item in record.result["lost"]) == [0, 4]

        repaired = submit(
            engine,
            producer,
            "agihub.maintenance.repair",
            {"model_root": root, "threshold": 6, "relays": spec},
        )
        record = wait_for_tasks(engine, [repaired])[repaired]
        assert record.state == "SUCCESS", record.error
        assert record.result["repaired"] == [0, 4]
        after = catalog.holders(engine, root)
        assert sorted(after) == list(range(6))
        for index, url in victims.items():
            assert all(r.url != url for r in after[index]), (
                "a relay that lost a shard is not trusted with it again"
            )
            sha = catalog.package(engine, root)[0].manifest.shards[index].sha256
            assert BlobClient(after[index][0].url, WORKER_KEY).has(sha)

        audited = submit(engine, producer, "agihub.maintenance.audit", {"model_root": root})
        record = wait_for_tasks(engine, [audited])[audited]
        assert record.result["outcomes"]["fail"] == 0 and record.result["outcomes"]["pass"] == 6
        with session_scope(engine) as session:
            assert len(session.scalars(select(AuditResult).where(AuditResult.model_root == root)).all()) == 12
    finally:
        producer.close()
        engine.dispose()


def _route(engine, root: str, moves: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """Point placements at other URLs (a relay's address going dark, and back)."""
    from sqlalchemy import update

    with session_scope(engine) as session:
        for old, new in moves.items():
            session.execute(
                update(ShardPlacement)
                .where(ShardPlacement.model_root == root, ShardPlacement.relay_url == old)
                .values(relay_url=new)
            )


def test_unknown_model_fails_with_a_named_error(start_worker: StartWorker, tmp_path: Path) -> None:
    worker = start_worker("w1")
    engine, producer = engine_for(worker), make_producer(worker.settings)
    try:
        task = submit(
            engine, producer, "agihub.transfer.fetch", {"model_root": "ab" * 32, "dest": str(tmp_path / "x")}
        )
        record = wait_for_tasks(engine, [task])[task]
        assert record.state == "FAILURE"
        assert "UnknownPackageError" in record.error and "agihub publish" in record.error
        assert not (tmp_path / "x").exists()
        with session_scope(engine) as session:
            assert session.scalars(select(ShardPlacement)).all() == []
    finally:
        producer.close()
        engine.dispose()
