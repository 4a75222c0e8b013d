"""Validators score a contribution with PoWoC and post it through commit-then-reveal, on a real EVM
(py-evm executing the compiled market) with real trained models; restarts repeat no step."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from agihub.chain.errors import NotValidator, UnknownContribution
from agihub.identity import SecretKey
from agihub.storage import Card, PackOptions, pack_delta, pack_model
from agihub_services.db import migrate
from agihub_services.db.engine import make_engine, session_scope
from agihub_services.db.schema import ValidatorScore
from agihub_services.packages import register_package
from agihub_worker import scoring
from agihub_worker.settings import WorkerSettings
from tests.services.relay.test_agent_kit import Market, make_market

pytest.importorskip("torch")
OPTIONS = PackOptions(k=2, n=3)


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from agihub.delta import encode_delta
    from tests.sdk.powoc.models_kit import train_models

    base = tmp_path_factory.mktemp("scoring")
    (base / "models").mkdir()
    models = train_models(base / "models")
    key = SecretKey.generate()
    parent = pack_model(models.parent, base / "parent", key, Card(name="prose"), options=OPTIONS)
    encode_delta(models.parent, models.child, base / "child.delta")
    root = parent.model_root
    pack_delta(
        base / "child.delta",
        base / "child",
        key,
        Card(name="code"),
        parent_root=root,
        delta_encoding="agihub-delta/1",
        options=OPTIONS,
    )
    pack_model(
        models.child, base / "private", key, Card(name="secret"), options=OPTIONS, owner_secret=b"k" * 32
    )
    return {"parent": base / "parent", "child": base / "child", "private": base / "private"}


@pytest.fixture
def engine(tmp_path: Path, packages: dict[str, Path]) -> Engine:
    url = f"sqlite:///{tmp_path / 'scores.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    for folder in packages.values():
        register_package(engine, folder)
    return engine


@pytest.fixture
def settings(tmp_path: Path) -> WorkerSettings:
    return WorkerSettings(AGIHUB_DATA_DIR=tmp_path / "data", score_val_bytes=1024, reveal_delay_s=0)  # type: ignore[call-arg]


def _roots(engine: Engine, packages: dict[str, Path]) -> dict[str, bytes]:
    from agihub.storage import load_manifest

    return {name: load_manifest(p / "manifest.json").model_root for name, p in packages.items()}


def _contribute(market: Market, roots: dict[str, bytes], name: str = "child") -> int:
    receipt = market.buyer.register_contribution(roots[name], roots["parent"])
    assert receipt.result is not None
    return receipt.result


def _commits(market: Market, cid: int) -> int:
    logs = market.admin.contract.events.ScoreCommitted().get_logs(
        from_block=0, argument_filters={"contribution_id": cid}
    )
    return len(logs)


def test_two_validators_agree_and_the_score_becomes_final(engine, settings, packages) -> None:  # type: ignore[no-untyped-def]
    market = make_market()
    roots = _roots(engine, packages)
    cid = _contribute(market, roots)
    validators = [market.relay, market.other]
    for v in validators:
        market.admin.add_validator(v.address)
    market.admin.set_quorum(2)
    key = scoring.chain_key(market.admin)
    results = [scoring.score_and_commit(engine, settings, v, key, cid) for v in validators]
    assert results[0]["score"] == results[1]["score"], "scoring is deterministic: validators agree"
    record = results[0]["record"]
    assert (
        record["child"]["root"] == roots["child"].hex() and record["parent"]["root"] == roots["parent"].hex()
    )
    assert results[0]["score"] == max(0, int(record["score_bits"]))
    assert not market.admin.contribution(cid).final, "committed scores stay hidden until revealed"
    first = scoring.reveal(engine, validators[0], key, cid)
    assert not first["final"], "one reveal is below the quorum of two"
    second = scoring.reveal(engine, validators[1], key, cid)
    assert second["final"] and second["final_score"] == results[0]["score"]


def test_redelivery_repeats_no_step_and_reuses_the_stored_salt(engine, settings, packages) -> None:  # type: ignore[no-untyped-def]
    market = make_market()
    roots = _roots(engine, packages)
    cid = _contribute(market, roots)
    market.admin.add_validator(market.relay.address)
    key = scoring.chain_key(market.admin)
    # A crash after the score and salt were stored but before commit_score was sent:
    reg = scoring.registration(market.relay, cid)
    scoring._store(
        engine, key, cid, market.relay.address, scoring.compute(engine, settings, market.relay, reg)
    )
    with session_scope(engine) as session:
        salt = session.scalars(select(ValidatorScore.salt)).one()
    done = scoring.score_and_commit(engine, settings, market.relay, key, cid)
    assert done["state"] == scoring.COMMITTED and _commits(market, cid) == 1
    # The task delivered again (its ack was lost): nothing is recomputed or re-sent.
    again = scoring.score_and_commit(engine, settings, market.relay, key, cid)
    assert again == done and _commits(market, cid) == 1
    with session_scope(engine) as session:
        assert session.scalars(select(ValidatorScore.salt)).one() == salt
    assert scoring.reveal(engine, market.relay, key, cid)["final"]
    assert scoring.reveal(engine, market.relay, key, cid)["final"], "a second reveal is a no-op"


def test_bad_contributions_and_accounts_get_typed_errors(engine, settings, packages) -> None:  # type: ignore[no-untyped-def]
    market = make_market()
    roots = _roots(engine, packages)
    key = scoring.chain_key(market.admin)
    with pytest.raises(UnknownContribution):
        scoring.score_and_commit(engine, settings, market.relay, key, 999)
    private = _contribute(market, roots, "private")
    with pytest.raises(scoring.PrivateContributionError, match="encrypted"):
        scoring.score_and_commit(engine, settings, market.relay, key, private)
    cid = _contribute(market, roots)
    with pytest.raises(NotValidator):
        scoring.score_and_commit(engine, settings, market.relay, key, cid)
    with pytest.raises(Exception, match="nothing committed to reveal"):
        scoring.reveal(engine, market.other, key, cid)
    assert _commits(market, cid) == 0
