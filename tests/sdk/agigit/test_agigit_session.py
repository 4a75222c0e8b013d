"""The scripted session of issue #9 against two real relays:
init → commit → push → fetch on a second repository → checkout → diff → merge → rebase."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import numpy as np

from agihub.agigit.repository import Repository
from tests.sdk.agigit.conftest import Cli
from tests.sdk.agigit.tinymodel import arrays, finetune, make_model

MODEL = "model.safetensors"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def commit_id(cli: Cli, work: Path, message: str, *extra: str) -> str:
    return json.loads(cli.ok(work, "commit", "-m", message, "--json", *extra))["commit"]


def test_session(cli: Cli, relays: list, tmp_path: Path) -> None:
    relay_a, relay_b = relays
    alice, bob = tmp_path / "alice", tmp_path / "bob"

    # --- alice: init, commit a foundation and a fine-tune, push to both relays ---------------------
    info = json.loads(
        cli.ok(tmp_path, "init", str(alice), "--name", "tiny", "--k", "2", "--n", "4", "--json")
    )
    assert stat.S_IMODE((alice / ".agigit" / "config.json").stat().st_mode) == 0o600
    cli.ok(alice, "relay", "add", relay_a.http_url, "--operator", "op-a")
    cli.ok(alice, "relay", "add", relay_b.ws_url, "--operator", "op-b")
    make_model(alice / MODEL, seed=0)
    foundation_bytes = (alice / MODEL).read_bytes()
    f1 = commit_id(cli, alice, "foundation")
    finetune(alice / MODEL, alice / MODEL, ("layers.1",), seed=1)
    tuned_sha = sha(alice / MODEL)
    d1 = commit_id(cli, alice, "tune layers.1")
    assert json.loads(cli.ok(alice, "status", "--json"))["state"] == "clean"
    log = json.loads(cli.ok(alice, "log", "--json"))
    assert [row["commit"] for row in log] == [d1, f1]
    assert [row["storage"] for row in log] == ["delta", "full"]
    pushed = json.loads(cli.ok(alice, "push", "--json"))
    assert pushed["pushed"] == [f1, d1] and len(pushed["announced"]) == 2

    # --- bob: a second repository following alice's head, fetch from the relays -------------------
    cli.ok(tmp_path, "init", str(bob), "--name", "tiny", "--upstream", info["npub"], "--k", "2", "--n", "4")
    cli.ok(bob, "relay", "add", "--fetch", relay_a.http_url)
    cli.ok(bob, "relay", "add", "--fetch", relay_b.http_url)
    fetched = json.loads(cli.ok(bob, "fetch", "--json"))
    assert fetched["head"] == d1 and sorted(fetched["fetched"]) == sorted([f1, d1])
    assert json.loads(cli.ok(bob, "status", "--json"))["upstream"] == d1

    # --- checkout: byte-identical versions ---------------------------------------------------------
    cli.ok(bob, "checkout", d1[:10])
    assert sha(bob / MODEL) == tuned_sha
    cli.ok(bob, "checkout", f1)
    assert (bob / MODEL).read_bytes() == foundation_bytes

    # --- diff: only layers.1 changed, with the magnitude numpy computes ---------------------------
    rows = json.loads(cli.ok(bob, "diff", f1, d1, "--json"))
    assert [(r["group"], r["status"]) for r in rows] == [("layers.1", "changed")]
    a = arrays(bob / MODEL)  # bob is at f1
    cli.ok(bob, "checkout", d1)
    b = arrays(bob / MODEL)
    names = [n for n in a if n.startswith("layers.1.")]
    expected = np.sqrt(sum(float(np.sum((b[n].astype(np.float64) - a[n]) ** 2)) for n in names))
    assert abs(rows[0]["l2"] - expected) <= 1e-9 * max(1.0, expected) and rows[0]["l2"] > 0
    assert cli.ok(bob, "diff") == "no changes\n"

    # --- bob fine-tunes other groups on top of alice's version, and a side branch from f1 --------
    finetune(bob / MODEL, bob / MODEL, ("layers.0",), seed=2)
    d2 = commit_id(cli, bob, "bob tunes layers.0")
    d2_arrays = arrays(bob / MODEL)
    cli.ok(bob, "checkout", f1)
    finetune(bob / MODEL, bob / MODEL, ("head", "layers.1"), seed=3)
    x = commit_id(cli, bob, "bob tunes head and layers.1")
    x_arrays = arrays(bob / MODEL)

    # --- merge: one-sided groups are taken, the conflict (layers.1) is averaged and reported ------
    merged = json.loads(cli.ok(bob, "merge", d2, x, "--json"))
    assert merged["conflicts"] == {"layers.1": "average"}
    assert merged["taken"] == {"embed": "same", "head": "theirs", "layers.0": "ours"}
    m = arrays(bob / MODEL)
    assert np.array_equal(m["layers.0.attn.weight"], d2_arrays["layers.0.attn.weight"])
    assert np.array_equal(m["head.weight"], x_arrays["head.weight"])
    mean = ((d2_arrays["layers.1.mlp.weight"] + x_arrays["layers.1.mlp.weight"]) / 2).astype(np.float32)
    assert np.array_equal(m["layers.1.mlp.weight"], mean)
    merge_log = json.loads(cli.ok(bob, "log", "--json"))[0]
    assert merge_log["parents"] == [d2, x]

    # --- per-group strategy: theirs for the conflict ---------------------------------------------
    cli.ok(bob, "checkout", d2)
    again = json.loads(cli.ok(bob, "merge", d2, x, "--group", "layers.1=theirs", "--json"))
    assert again["conflicts"] == {"layers.1": "theirs"}
    assert np.array_equal(arrays(bob / MODEL)["layers.1.mlp.weight"], x_arrays["layers.1.mlp.weight"])

    # --- alice publishes a newer foundation (full), bob rebases his fine-tune onto it -------------
    cli.ok(alice, "checkout", f1)
    finetune(alice / MODEL, alice / MODEL, ("embed", "layers.0", "layers.1", "head"), seed=4, lr=0.01)
    f2 = commit_id(cli, alice, "foundation v2", "--full")
    f2_arrays = arrays(alice / MODEL)
    # f2 branches from f1, not from the announced d1: replacing the head needs --force, as in git.
    assert "which HEAD does not descend from" in cli(alice, "push").err
    cli.ok(alice, "push", "--force")
    cli.ok(bob, "checkout", d2)
    assert json.loads(cli.ok(bob, "fetch", "--json"))["head"] == f2
    rebased = json.loads(cli.ok(bob, "rebase", "--json"))
    assert rebased["base"] == f2  # the fine-tune is stored as a delta on the new foundation
    r = arrays(bob / MODEL)
    f1_arrays = arrays_of(bob, f1)
    for name, value in r.items():
        carried = f2_arrays[name] + (d2_arrays[name] - f1_arrays[name])
        assert np.allclose(value, carried, rtol=0, atol=1e-6), name
    assert json.loads(cli.ok(bob, "log", "--json"))[0]["parents"] == [f2]
    assert json.loads(cli.ok(bob, "status", "--json"))["state"] == "clean"


def arrays_of(work: Path, commit: str) -> dict[str, np.ndarray]:
    repo = Repository.find(work)
    with repo.materialized(commit) as path:
        return arrays(path)
