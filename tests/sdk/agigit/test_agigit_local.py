"""Local repository behaviour: commit objects, groups, history, storage choices, private packages."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from agihub.agigit import history, worktree
from agihub.agigit.commit import FORMAT, CommitBody, PartVersion, parse_commit, sign_commit
from agihub.agigit.errors import CorruptObjectError
from agihub.agigit.groups import group_of
from agihub.agigit.repository import PAYLOAD, Repository
from agihub.identity import SecretKey
from agihub.storage.package import shard_name
from tests.sdk.agigit.conftest import Cli
from tests.sdk.agigit.tinymodel import finetune, make_model

MODEL = "model.safetensors"


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("model.layers.3.attn.q_proj.weight", "model.layers.3"),
        ("layers.0.mlp.bias", "layers.0"),
        ("h.11.ln_1.weight", "h.11"),
        ("embed.weight", "embed"),
        ("model.norm.weight", "model.norm"),
        ("bias", "bias"),
    ],
)
def test_group_of(name: str, group: str) -> None:
    assert group_of(name) == group


def _body(key: SecretKey, message: str = "m") -> CommitBody:
    part = PartVersion(manifest="a" * 64, model_root="b" * 64, sha256="c" * 64, size=1, storage="full")
    return CommitBody(format=FORMAT, parents=[], message=message, author=key.public_key.hex, time=1,
                      parts={"params": part})  # fmt: skip


def test_commit_object_round_trip_and_tampering() -> None:
    key = SecretKey.generate()
    commit = sign_commit(_body(key), key)
    assert parse_commit(commit.to_bytes(), expected_id=commit.id) == commit
    with pytest.raises(CorruptObjectError, match="hashes to"):
        parse_commit(commit.to_bytes(), expected_id="0" * 64)
    forged = commit.model_copy(
        update={"signature": SecretKey.generate().sign(bytes.fromhex(commit.id)).hex()}
    )
    with pytest.raises(CorruptObjectError, match="signature does not verify"):
        parse_commit(forged.to_bytes())
    with pytest.raises(CorruptObjectError, match="canonical"):
        parse_commit(commit.to_bytes().replace(b":", b": ", 1))
    with pytest.raises(CorruptObjectError, match="non-integer"):
        parse_commit(commit.to_bytes().replace(b'"time":1', b'"time":1.0'))
    with pytest.raises(CorruptObjectError, match="author differs"):
        sign_commit(_body(key), SecretKey.generate())


def test_history_checkout_master_and_detached_commits(cli: Cli, tmp_path: Path) -> None:
    work = tmp_path / "w"
    cli.ok(tmp_path, "init", str(work), "--k", "2", "--n", "3")
    make_model(work / MODEL)
    f1 = json.loads(cli.ok(work, "commit", "-m", "f1", "--json"))["commit"]
    finetune(work / MODEL, work / MODEL, ("layers.1",))
    d1 = json.loads(cli.ok(work, "commit", "-m", "d1", "--json"))["commit"]
    d1_bytes = (work / MODEL).read_bytes()
    cli.ok(work, "checkout", f1[:8])
    assert json.loads(cli.ok(work, "status", "--json"))["branch"] is None
    finetune(work / MODEL, work / MODEL, ("layers.0",))
    side = json.loads(cli.ok(work, "commit", "-m", "side", "--json"))["commit"]
    repo = Repository.find(work)
    assert repo.head() == side and repo.read_ref("refs/heads/master") == d1  # detached commit leaves master
    assert history.merge_base(repo, side, d1) == f1
    assert history.is_ancestor(repo, f1, side) and not history.is_ancestor(repo, d1, side)
    cli.ok(work, "checkout", "master")
    assert (work / MODEL).read_bytes() == d1_bytes
    assert json.loads(cli.ok(work, "status", "--json")) | {"head": None} == {
        "branch": "master", "head": None, "model": MODEL, "state": "clean", "upstream": None,
        "parts": {"params": {"path": MODEL, "state": "clean"}}}  # fmt: skip


def test_delta_only_when_it_pays(cli: Cli, tmp_path: Path) -> None:
    work = tmp_path / "w"
    cli.ok(tmp_path, "init", str(work), "--k", "2", "--n", "3")
    make_model(work / MODEL, seed=0)
    cli.ok(work, "commit", "-m", "f1")
    finetune(work / MODEL, work / MODEL, ("head",))
    tuned = json.loads(cli.ok(work, "commit", "-m", "tune head", "--json"))
    assert tuned["storage"] == "delta"
    repo = Repository.find(work)
    commit = repo.read_commit(tuned["commit"])
    payload = repo.package_dir(commit.params.manifest) / PAYLOAD
    assert payload.stat().st_size < 0.5 * commit.params.size  # only the head group is in the delta
    finetune(work / MODEL, work / MODEL, ("layers.0",))
    full = json.loads(cli.ok(work, "commit", "-m", "new foundation", "--full", "--json"))
    assert full["storage"] == "full" and full["base"] is None


def test_incompressible_change_is_stored_full(cli: Cli, tmp_path: Path) -> None:
    work = tmp_path / "w"
    cli.ok(tmp_path, "init", str(work), "--k", "2", "--n", "3")
    rng = np.random.default_rng(0)
    save_file({"blob.weight": rng.integers(0, 256, 32768, dtype=np.uint8)}, str(work / MODEL))
    cli.ok(work, "commit", "-m", "random bytes")
    save_file({"blob.weight": rng.integers(0, 256, 32768, dtype=np.uint8)}, str(work / MODEL))
    other = json.loads(cli.ok(work, "commit", "-m", "other random bytes", "--json"))
    assert other["storage"] == "full" and other["base"] is None  # a delta of noise saves nothing


def test_private_repository(cli: Cli, tmp_path: Path) -> None:
    work = tmp_path / "w"
    cli.ok(tmp_path, "init", str(work), "--private", "--k", "2", "--n", "3")
    config = work / ".agigit" / "config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600 and json.loads(config.read_text())["owner_secret"]
    make_model(work / MODEL)
    original = (work / MODEL).read_bytes()
    cid = json.loads(cli.ok(work, "commit", "-m", "private", "--json"))["commit"]
    repo = Repository.find(work)
    pkg = repo.package_dir(repo.read_commit(cid).params.manifest)
    assert repo.manifest(repo.read_commit(cid).params.manifest).manifest.encryption is not None
    sample = original[-256:]  # tensor bytes must not appear in any shard
    assert all(sample not in (pkg / shard_name(i)).read_bytes() for i in range(3))
    # With the plaintext payload gone, the model is rebuilt from the encrypted shards.
    (pkg / PAYLOAD).unlink()
    (pkg / shard_name(0)).unlink()
    (work / MODEL).unlink()
    cli.ok(work, "checkout", cid)
    assert (work / MODEL).read_bytes() == original


def test_genemap_names_the_foundation(cli: Cli, tmp_path: Path) -> None:
    work = tmp_path / "w"
    cli.ok(tmp_path, "init", str(work), "--k", "2", "--n", "3")
    make_model(work / MODEL)
    f1 = json.loads(cli.ok(work, "commit", "-m", "f1", "--json"))["commit"]
    finetune(work / MODEL, work / MODEL, ("layers.1",))
    result = json.loads(cli.ok(work, "genemap", "--json"))
    assert result["lineage"]["nearest"] == f1[:12]
    assert {m["name"].rsplit(".", 2)[0] for m in result["comparison"]["mutations"]} == {"layers.1"}
    assert "nearest ancestor" in cli.ok(work, "genemap")


def test_merge_base_prefers_the_nearest_common_ancestor(cli: Cli, tmp_path: Path) -> None:
    work = tmp_path / "w"
    cli.ok(tmp_path, "init", str(work), "--k", "1", "--n", "1")
    make_model(work / MODEL)
    repo = Repository.find(work)

    def node(message: str, *parents: str) -> str:
        return worktree.record_commit(repo, work / MODEL, list(parents), message).id

    root = node("root")
    a, b = node("a", root), node("b", root)
    merged = node("merge", a, b)
    after_a = node("after a", a)
    assert history.merge_base(repo, merged, after_a) == a  # root is common too, but a dominates it
    assert history.merge_base(repo, b, after_a) == root
    assert history.merge_base(repo, merged, merged) == merged
    assert set(history.ancestors(repo, merged)) == {root, a, b, merged}
    assert history.log(repo, merged)[0][0] == merged


def test_diff_reports_added_and_removed_groups(cli: Cli, tmp_path: Path) -> None:
    work = tmp_path / "w"
    cli.ok(tmp_path, "init", str(work), "--k", "1", "--n", "2")
    make_model(work / MODEL, seed=0, layers=2)
    two = json.loads(cli.ok(work, "commit", "-m", "two layers", "--json"))["commit"]
    make_model(work / MODEL, seed=0, layers=3)  # same seed: embed and layers 0-1 draw the same values
    rows = json.loads(cli.ok(work, "diff", "--json"))
    by_group = {r["group"]: r for r in rows}
    assert by_group["layers.2"]["status"] == "added" and by_group["layers.2"]["tensors"] == 4
    assert by_group["layers.2"]["numel"] == 2 * (32 * 32 + 32)
    three = json.loads(cli.ok(work, "commit", "-m", "three layers", "--json"))["commit"]
    back = {r["group"]: r["status"] for r in json.loads(cli.ok(work, "diff", three, two, "--json"))}
    assert back["layers.2"] == "removed"
    assert "removed  layers.2 (4 tensors, 2112 values)" in cli.ok(work, "diff", three, two)
