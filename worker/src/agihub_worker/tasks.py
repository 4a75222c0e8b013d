"""Registered tasks. Thin wrappers: adapt arguments, call the plain module, return JSON-able data.

Task names are pinned by ``tests/worker/test_task_registration.py``; routing to queues is by name
prefix (``agihub_services.queue.ROUTES``). Every task is idempotent: it takes ids, and running it
twice leaves the same rows and the same blobs as running it once.
"""

from __future__ import annotations

from typing import Any

from agihub.transfer import RelayFailure
from agihub_worker import audit, download, health, publish, repair, scoring
from agihub_worker.app import app, engine, settings
from agihub_worker.progress import reporter
from agihub_worker.reliability import TransientTaskError


@app.task(name="agihub.health.ping", acks_late=True)
def ping(origin: str = "unknown") -> dict[str, Any]:
    """Prove the broker → worker → database path works; records a heartbeat."""
    return health.ping(engine(), origin)


@app.task(name="agihub.transfer.publish", bind=True)
def publish_task(
    self: Any,
    model_root: str,
    relays: list[dict[str, str]] | None = None,
    happiness: int | None = None,
    policy: str | None = None,
) -> dict[str, Any]:
    """Place a registered package's shards on relays (distinct operators first)."""
    report = reporter(engine(), self.request.id)
    try:
        return publish.publish(
            engine(), settings, model_root, relays=relays, happiness=happiness, policy=policy, report=report
        )
    except RelayFailure as exc:
        raise TransientTaskError(str(exc)) from exc


@app.task(name="agihub.transfer.fetch", bind=True)
def fetch_task(self: Any, model_root: str, dest: str) -> dict[str, Any]:
    """Download any k shards, verify, rebuild the model at ``dest`` (resumable)."""
    report = reporter(engine(), self.request.id)
    return download.download(engine(), settings, model_root, dest, report=report)


@app.task(name="agihub.maintenance.audit", bind=True)
def audit_task(self: Any, model_root: str) -> dict[str, Any]:
    """Challenge every relay holding a shard of the model for a random byte range."""
    return audit.audit_model(engine(), settings, model_root, report=reporter(engine(), self.request.id))


@app.task(name="agihub.maintenance.repair", bind=True)
def repair_task(
    self: Any, model_root: str, threshold: int | None = None, relays: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """Rebuild lost shards and place them on relays that did not lose them."""
    report = reporter(engine(), self.request.id)
    return repair.repair_model(
        engine(), settings, model_root, threshold=threshold, relays=relays, report=report
    )


def _chain() -> Any:
    """The validator's chain handle (its account signs commit and reveal)."""
    from eth_account import Account

    from agihub.chain.evm import EvmChain, connect
    from agihub.chain.evm_deploy import compile_market
    from agihub.errors import ConfigError

    if not settings.market_address:
        raise ConfigError("AGIHUB_WORKER_MARKET is not set: the market contract's address")
    account = Account.from_key(settings.chain_key.get_secret_value())
    return EvmChain(connect(settings.rpc_url), settings.market_address, compile_market().abi, account)


@app.task(name="agihub.scoring.score", bind=True)
def score_task(self: Any, contribution_id: int) -> dict[str, Any]:
    """Score a contribution (PoWoC), commit the score on chain, schedule its reveal."""
    from agihub_services.queue import submit

    chain = _chain()
    try:
        result = scoring.score_and_commit(
            engine(), settings, chain, scoring.chain_key(chain), contribution_id
        )
    except scoring.NotIndexedYet as exc:
        raise TransientTaskError(str(exc)) from exc
    submit(
        engine(),
        app,
        "agihub.scoring.reveal",
        {"contribution_id": contribution_id},
        countdown=settings.reveal_delay_s,
    )
    return result


@app.task(name="agihub.scoring.reveal")
def reveal_task(contribution_id: int) -> dict[str, Any]:
    """Open this validator's commitment to its score of a contribution."""
    chain = _chain()
    return scoring.reveal(engine(), chain, scoring.chain_key(chain), contribution_id)
