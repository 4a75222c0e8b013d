"""``agihub order ...`` and ``agihub relay-register`` against the stack's chain over JSON-RPC."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agihub.cli.main import build_app, main
from agihub.cli.order import parse_amount
from agihub.errors import ConfigError
from tests.sdk.chain.test_evm_conformance import hardhat_url  # noqa: F401 - session fixture
from tests.sdk.client.conftest import GWEI, ServedApi, Stack, hardhat_market, hardhat_travel
from tests.sdk.client.test_client_flow import OPTIONS

pytestmark = pytest.mark.node


@pytest.fixture
def node_stack(stack: Stack, hardhat_url: str) -> Stack:  # noqa: F811 - the imported fixture
    """The client stack with its market on a hardhat JSON-RPC node, so the CLI connects by URL."""
    stack.market = hardhat_market(hardhat_url)
    stack.rpc_url = hardhat_url  # type: ignore[attr-defined]
    return stack


def _env(stack: Stack, who: str = "buyer") -> dict[str, str]:
    account = getattr(stack.market, who).account
    return {
        "AGIHUB_RPC_URL": stack.rpc_url,  # type: ignore[attr-defined]
        "AGIHUB_MARKET": stack.market.admin.contract.address,
        "AGIHUB_ACCOUNT_KEY": "0x" + bytes(account.key).hex(),
        "AGIHUB_CLIENT_DIR": str(stack.base / f"cli-{who}"),
    }


def _run(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(build_app(), args, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_order_commands_end_to_end(node_stack: Stack, api: ServedApi) -> None:
    stack = node_stack
    code, out, _ = _run(["relay-register", stack.relays[0].ws_url, "--json"], _env(stack, "relay"))
    assert code == 0 and json.loads(out)["relay"] == stack.market.relay.address
    published = stack.client("admin").publish(stack.model(), options=OPTIONS, happiness=2)
    api.discover(stack.relays, published.model_root)
    env = {**_env(stack), "AGIHUB_API_URL": api.url}
    relay = stack.market.relay.address
    code, out, _ = _run(
        [
            "order",
            "pull",
            published.model_root.hex(),
            "--relay",
            relay,
            "--down",
            "2gwei",
            "--cost",
            "0.00001eth",
            "--json",
        ],
        env,
    )
    assert code == 0, out
    order_id = json.loads(out)["order_id"]
    code, out, _ = _run(["order", "raise", str(order_id), "--tip", "3", "--json"], env)
    assert code == 0
    stack.agent().poll()
    code, out, _ = _run(["order", "confirm", str(order_id), "--json"], env)
    assert code == 0, out
    confirmed = json.loads(out)
    assert confirmed["plain_size"] > 0
    stack.agent().poll()
    code, out, _ = _run(["order", "status", str(order_id), "--json"], env)
    status = json.loads(out)
    assert status["state"] == "COMPLETED"
    assert [e["event"] for e in status["events"]] == [
        "OrderPulled", "PaymentRaised", "OrderTaken", "OrderConfirmed", "KeyRevealed",
    ]  # fmt: skip
    assert status["events"][1]["fields"]["new_tip"] == 3
    dest = stack.base / "cli.safetensors"
    relays = [arg for url in stack.relay_urls for arg in ("--relay-url", url)]
    code, out, _ = _run(
        ["order", "open", str(order_id), str(dest), *relays, "--json"], env
    )  # manifest by root
    assert code == 0, out
    assert dest.read_bytes() == stack.model().read_bytes()
    again = stack.base / "cli-again.safetensors"
    manifest = published.package_dir / "manifest.json"
    code, out, _ = _run(["order", "open", str(order_id), str(again), "--manifest", str(manifest)], env)
    assert code == 0 and again.read_bytes() == dest.read_bytes()
    code, out, _ = _run(["order", "status", str(order_id), "--follow", "--json"], env)
    assert code == 0 and len(out.strip().splitlines()) == 5


def test_cancel_and_settle_and_text_output(node_stack: Stack) -> None:
    stack = node_stack
    env = _env(stack)
    other = stack.market.other.address
    pull = [
        "order",
        "pull",
        "00" * 32,
        "--relay",
        other,
        "--cost",
        "1gwei",
        "--window",
        "60",
        "--no-offer-check",
    ]
    _, out, _ = _run(pull, env)
    assert out.startswith("order 1 opened")
    code, out, _ = _run(["order", "cancel", "1"], env)
    assert (code, out.strip()) == (0, "order 1 cancelled")
    _run(pull, env)
    hardhat_travel(stack.market, 61)
    code, out, _ = _run(["order", "settle", "2"], env)
    assert (code, out.strip()) == (0, "order 2 settled")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["order", "status", "77"], "E_UNKNOWN_ORDER"),
        (["order", "cancel", "77"], "E_UNKNOWN_ORDER"),
        (
            ["order", "pull", "abcd", "--relay", "0x" + "11" * 20, "--cost", "1"],
            "model_root must be 32 bytes",
        ),
        (
            ["order", "pull", "00" * 32, "--relay", "0x" + "11" * 20, "--cost", "lots"],
            "is not a number of wei",
        ),
        (
            ["order", "pull", "00" * 32, "--relay", "0x" + "11" * 20, "--cost", "1", "--no-offer-check"],
            "E_RELAY_NOT_REGISTERED",
        ),
        (
            ["order", "pull", "00" * 32, "--relay", "0x" + "11" * 20, "--cost", "1"],
            "no marketplace API is configured",
        ),
        (
            ["order", "open", "77", "out.safetensors", "--relay-url", "ws://x"],
            "E_UNKNOWN_ORDER",
        ),
        (
            ["order", "pull", "00" * 32, "--relay", "0x" + "11" * 20, "--cost", "10000000eth"],
            "insufficient funds",
        ),
    ],
)
def test_errors_are_one_line_and_exit_1(
    node_stack: Stack, args: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    stack = node_stack
    for name, value in _env(stack).items():
        monkeypatch.setenv(name, value)
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


def test_pull_of_a_model_no_named_relay_offers_exits_1(
    node_stack: Stack, api: ServedApi, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    """With the API configured, ordering a model the named relay does not offer sends nothing."""
    stack = node_stack
    stack.client("relay").register_relay(stack.relay_urls[0])  # no relay offers root ee..ee
    api.discover(stack.relays)
    for name, value in {**_env(stack), "AGIHUB_API_URL": api.url}.items():
        monkeypatch.setenv(name, value)
    relay = stack.market.relay.address
    assert main(["order", "pull", "ee" * 32, "--relay", relay, "--cost", "1gwei"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no named relay offers model " + "ee" * 32) and "\n" not in err
    assert relay in err and "--no-offer-check" in err
    assert stack.market.buyer.next_order_id() == 1
    pull = ["order", "pull", "ee" * 32, "--relay", relay, "--cost", "1gwei", "--no-offer-check", "--json"]
    code, out, _ = _run(pull, {**_env(stack), "AGIHUB_API_URL": api.url})
    assert code == 0 and json.loads(out)["order_id"] == 1
    assert stack.market.buyer.next_order_id() == 2


def test_unreachable_node_exits_1(monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.sdk.transfer.transfer_kit import dead_url

    monkeypatch.setenv("AGIHUB_MARKET", "0x" + "11" * 20)
    monkeypatch.setenv("AGIHUB_ACCOUNT_KEY", "0x" + "22" * 32)
    assert main(["order", "status", "1", "--rpc-url", dead_url()]) == 1
    assert "no EVM JSON-RPC node answers" in capsys.readouterr().err


def test_parse_amount() -> None:
    assert parse_amount("1000") == 1000
    assert parse_amount("2gwei") == 2 * GWEI
    assert parse_amount("0.01 ETH") == 10**16
    for bad in ("-1", "1.5", "1e3", "one"):
        with pytest.raises(ConfigError):
            parse_amount(bad)
