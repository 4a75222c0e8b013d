"""A validator's work: score a registered contribution with Proof-of-Work-of-Compression and post the
score through the contract's commit-then-reveal.

Steps, each safe to repeat after a crash:

1. read the contribution on chain (model root, parent root) and the block it was registered in
   (from the market's registration log); the validation set's seed comes from that block's hash, which did not
   exist when the contributor built the model (see :mod:`agihub.powoc.corpus`);
2. rebuild the parent model and the contribution from their packages (local shards, or any k relays)
   and score it (:func:`agihub.powoc.score_contribution`; deterministic, so every honest validator
   computes the same number);
3. store the score and a fresh salt in ``validator_scores`` *before* sending ``commit_score``, so a
   crash can never leave a commitment on chain whose salt is lost;
4. ``reveal_score`` later (a separate task after ``reveal_delay_s``), reusing the stored salt.

A contract error that says the step already happened (``E_ALREADY_COMMITTED``,
``E_ALREADY_REVEALED``) means a previous delivery got that far: it is recorded, not raised.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from agihub.chain.base import Chain
from agihub.chain.commitment import new_secret, score_commit
from agihub.chain.errors import AlreadyCommitted, AlreadyRevealed
from agihub.errors import StorageError
from agihub.storage.package import shard_name
from agihub.storage.unpack import unpack
from agihub.transfer import fetch_shards
from agihub_services.db.engine import session_scope
from agihub_services.db.schema import ValidatorScore
from agihub_worker import catalog
from agihub_worker.download import work_dir
from agihub_worker.settings import WorkerSettings

log = logging.getLogger(__name__)

SCORED, COMMITTED, REVEALED = "scored", "committed", "revealed"


class NotIndexedYet(Exception):
    """The node does not show the contribution's registration log yet (retry later)."""


class PrivateContributionError(StorageError):
    """The contribution's package is encrypted: a validator cannot read what it would score."""


@dataclass(frozen=True)
class Registration:
    contribution_id: int
    model_root: str
    parent_root: str
    block: int


def registration(chain: Chain, contribution_id: int) -> Registration:
    """The contribution as the chain has it (typed UnknownContribution if absent) and the block its
    registration was mined in, read from the market's own ``ContributionRegistered`` log."""
    c = chain.contribution(contribution_id)
    logs = (
        _contract(chain)
        .events.ContributionRegistered()
        .get_logs(
            from_block=getattr(chain, "start_block", 0), argument_filters={"contribution_id": contribution_id}
        )
    )
    if not logs:
        raise NotIndexedYet(f"contribution {contribution_id}: its registration log is not visible yet")
    return Registration(contribution_id, c.model_root.hex(), c.parent_root.hex(), int(logs[0]["blockNumber"]))


def materialize(engine: Engine, settings: WorkerSettings, model_root: str) -> tuple[Path, str]:
    """The payload file of a registered package (verified) and its kind (``safetensors``/``delta``):
    rebuilt from local shards when the worker has them, else fetched from any k relays."""
    signed, source = catalog.package(engine, model_root)
    body = signed.manifest
    if body.encryption is not None:
        raise PrivateContributionError(
            f"model {model_root[:16]}… is encrypted; a validator scores only what it can read "
            "(publish the contribution publicly, or share its version key with validators)"
        )
    folder = work_dir(settings, model_root, "score")
    dest = folder / f"payload.{body.payload.kind}"
    if dest.is_file():
        return dest, body.payload.kind
    if source is not None and all((source / shard_name(i)).is_file() for i in range(body.erasure.k)):
        shards = [source / shard_name(i) for i in range(body.erasure.n) if (source / shard_name(i)).is_file()]
    else:
        holders = {i: [r.url for r in v] for i, v in catalog.holders(engine, model_root).items()}
        paths, _, _, _ = fetch_shards(signed, holders, folder / "shards", timeout=settings.relay_timeout_s)
        shards = list(paths.values())
    unpack(signed, shards, dest)
    return dest, body.payload.kind


def compute(engine: Engine, settings: WorkerSettings, chain: Chain, reg: Registration) -> dict[str, Any]:
    """Score the contribution (the expensive, deterministic part)."""
    from agihub.powoc import ValidationSpec, score_contribution

    anchor = block_hash(chain, reg.block)
    spec = ValidationSpec.from_registration(anchor, reg.contribution_id, n_bytes=settings.score_val_bytes)
    parent, parent_kind = materialize(engine, settings, reg.parent_root)
    if parent_kind != "safetensors":
        raise StorageError(f"parent {reg.parent_root[:16]}… is a {parent_kind}; score against a full model")
    child, kind = materialize(engine, settings, reg.model_root)
    child_path, delta_path = (None, child) if kind == "delta" else (child, None)
    record = score_contribution(
        parent, child_path, spec, delta_path, parent_root=reg.parent_root, child_root=reg.model_root
    )
    return record.to_dict() | {"onchain_score": record.onchain_score}


def _w3(chain: Chain) -> Any:
    return _contract(chain).w3


def _contract(chain: Chain) -> Any:
    contract = getattr(chain, "contract", None)
    if contract is None:
        raise StorageError("validator scoring reads registration blocks from EVM chains only (for now)")
    return contract


def block_hash(chain: Chain, number: int) -> bytes:
    """The hash of block ``number``."""
    return bytes(_w3(chain).eth.get_block(number)["hash"])


def chain_key(chain: Chain) -> str:
    """The name the indexer files this chain's rows under (``evm:<chain id>``)."""
    return f"evm:{_w3(chain).eth.chain_id}"


def score_and_commit(
    engine: Engine, settings: WorkerSettings, chain: Chain, chain_name: str, contribution_id: int
) -> dict[str, Any]:
    """Steps 1-3: score (once; a stored score is reused), then commit it on chain."""
    validator = chain.address
    row = _row(engine, chain_name, contribution_id, validator)
    if row is None:
        reg = registration(chain, contribution_id)
        record = compute(engine, settings, chain, reg)
        row = _store(engine, chain_name, contribution_id, validator, record)
    if row["state"] == SCORED:
        commitment = score_commit(int(row["score"]), bytes.fromhex(row["salt"]), contribution_id, validator)
        try:
            tx = chain.commit_score(contribution_id, commitment).tx_hash
        except AlreadyCommitted:
            tx = "already committed by an earlier delivery"
        _update(engine, chain_name, contribution_id, validator, state=COMMITTED, commit_tx=tx)
        row["state"] = COMMITTED
    return {
        "contribution_id": contribution_id,
        "score": int(row["score"]),
        "state": row["state"],
        "record": row["record"],
    }


def reveal(engine: Engine, chain: Chain, chain_name: str, contribution_id: int) -> dict[str, Any]:
    """Step 4: open the stored commitment."""
    validator = chain.address
    row = _row(engine, chain_name, contribution_id, validator)
    if row is None or row["state"] == SCORED:
        raise StorageError(
            f"contribution {contribution_id}: nothing committed to reveal; run the score task first"
        )
    if row["state"] == COMMITTED:
        try:
            tx = chain.reveal_score(contribution_id, int(row["score"]), bytes.fromhex(row["salt"])).tx_hash
        except AlreadyRevealed:
            tx = "already revealed by an earlier delivery"
        _update(engine, chain_name, contribution_id, validator, state=REVEALED, reveal_tx=tx)
    final = chain.contribution(contribution_id)
    return {
        "contribution_id": contribution_id,
        "score": int(row["score"]),
        "final": final.final,
        "final_score": final.score,
    }


def _row(engine: Engine, chain_name: str, contribution_id: int, validator: str) -> dict[str, Any] | None:
    with session_scope(engine) as session:
        row = session.get(ValidatorScore, (chain_name, contribution_id, validator.lower()))
        if row is None:
            return None
        return {"state": row.state, "score": row.score, "salt": row.salt, "record": json.loads(row.record)}


def _store(
    engine: Engine, chain_name: str, contribution_id: int, validator: str, record: dict[str, Any]
) -> dict[str, Any]:
    salt = new_secret().hex()
    score = str(record["onchain_score"])
    with session_scope(engine) as session:
        existing = session.get(ValidatorScore, (chain_name, contribution_id, validator.lower()))
        if existing is None:  # a concurrent delivery may have stored first: keep its salt
            session.add(
                ValidatorScore(
                    chain=chain_name,
                    contribution_id=contribution_id,
                    validator=validator.lower(),
                    state=SCORED,
                    score=score,
                    salt=salt,
                    record=json.dumps(record, sort_keys=True),
                    updated_at=datetime.now(UTC),
                )
            )
    stored = _row(engine, chain_name, contribution_id, validator)
    assert stored is not None
    return stored


def _update(engine: Engine, chain_name: str, contribution_id: int, validator: str, **values: str) -> None:
    with session_scope(engine) as session:
        row = session.get(ValidatorScore, (chain_name, contribution_id, validator.lower()))
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = datetime.now(UTC)
