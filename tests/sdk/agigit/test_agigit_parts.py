"""Four independently versioned parts (issue #10): code, params, train-data, val-data."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from agihub.agigit import heads, worktree
from agihub.agigit.errors import PartTooLargeError, UnknownPartVersionError
from agihub.agigit.repository import PAYLOAD, Repository
from agihub.blobs import BlobClient
from agihub.storage.errors import IntegrityError
from tests.sdk.agigit.conftest import Cli, snapshot
from tests.sdk.agigit.tinymodel import make_model

MODEL = "model.safetensors"
CAP = 16384  # FastCDC: 16 KiB max, 2 KiB average, 512 B min chunks, so a small dataset has many


def records(count: int, seed: int, edit: range = range(0)) -> str:
    """Deterministic JSONL; records in ``edit`` get another label."""
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        text = " ".join(
            rng.choice(["alpha", "beta", "gamma", "delta", "omega"]) for _ in range(rng.randint(5, 40))
        )
        label = rng.randint(0, 9)  # drawn for every record, so an edit does not shift the stream
        lines.append(json.dumps({"id": i, "text": text, "label": "edited" if i in edit else label}))
    return "\n".join(lines) + "\n"


def setup_repo(cli: Cli, tmp_path: Path, name: str = "w", *extra: str) -> Path:
    work = tmp_path / name
    cli.ok(tmp_path, "init", str(work), "--name", "m", "--k", "2", "--n", "3", "--cdc-cap", str(CAP), *extra)
    make_model(work / MODEL, seed=0)
    (work / "train.py").write_text("print('train v1')\n")
    (work / "train.jsonl").write_text(records(3000, seed=1))
    (work / "val.jsonl").write_text(records(300, seed=2))
    cli.ok(work, "add", "--part", "code", "train.py")
    cli.ok(work, "add", "--part", "train-data", "train.jsonl")
    cli.ok(work, "add", "--part", "val-data", "val.jsonl")
    return work


def parts_of(work: Path, rev: str = "HEAD") -> dict[str, str]:
    repo = Repository.find(work)
    return {p: v.manifest for p, v in repo.read_commit(repo.resolve(rev)).commit.parts.items()}


def log_part(cli: Cli, work: Path, part: str) -> list[str]:
    return [row["commit"] for row in json.loads(cli.ok(work, "log", "--part", part, "--json"))]


def test_parts_advance_independently(cli: Cli, tmp_path: Path) -> None:
    work = setup_repo(cli, tmp_path)
    c1 = json.loads(cli.ok(work, "commit", "-m", "all four", "--json"))["commit"]
    v1 = parts_of(work)
    assert set(v1) == {"code", "params", "train-data", "val-data"}
    # New data for the same code and params: only train-data gets a new version.
    (work / "train.jsonl").write_text(records(3000, seed=1, edit=range(1500, 1530)))
    status = json.loads(cli.ok(work, "status", "--json"))["parts"]
    assert {p: s["state"] for p, s in status.items()} == {
        "params": "clean", "code": "clean", "train-data": "modified", "val-data": "clean"}  # fmt: skip
    pending = json.loads(cli.ok(work, "diff", "--part", "train-data", "--json"))  # HEAD vs the work tree
    assert pending["status"] == "changed" and pending["b"]["manifest"] is None
    assert pending["chunks"]["shared_bytes"] > 0.8 * (work / "train.jsonl").stat().st_size
    c2 = json.loads(cli.ok(work, "commit", "-m", "fix 30 labels", "--json"))["commit"]
    v2 = parts_of(work)
    assert {p for p in v1 if v1[p] != v2[p]} == {"train-data"}
    # New code only.
    (work / "train.py").write_text("print('train v2')\n")
    c3 = json.loads(cli.ok(work, "commit", "-m", "code v2", "--json"))["commit"]
    assert {p for p in v2 if v2[p] != parts_of(work)[p]} == {"code"}
    assert log_part(cli, work, "train-data") == [c2, c1]
    assert log_part(cli, work, "code") == [c3, c1]
    assert log_part(cli, work, "params") == [c1]
    code_diff = json.loads(cli.ok(work, "diff", c2, c3, "--part", "code", "--json"))
    assert code_diff["status"] == "changed" and "+print('train v2')" in code_diff["text"]
    data_diff = json.loads(cli.ok(work, "diff", c1, c2, "--part", "train-data", "--json"))
    size = (work / "train.jsonl").stat().st_size
    assert data_diff["status"] == "changed" and data_diff["chunks"]["shared_bytes"] > 0.8 * size
    # The edited version's package stores only the new chunks (a thin package), locally too.
    repo = Repository.find(work)
    thin = repo.manifest(v2["train-data"]).manifest
    assert thin.reuse is not None and thin.reuse.bases == [v1["train-data"]]
    stored = (repo.package_dir(v2["train-data"]) / PAYLOAD).stat().st_size
    assert stored == thin.erasure.stream_size < 0.2 * size


def test_checkout_one_part_changes_only_its_file(cli: Cli, tmp_path: Path) -> None:
    work = setup_repo(cli, tmp_path)
    c1 = json.loads(cli.ok(work, "commit", "-m", "v1", "--json"))["commit"]
    old_train = (work / "train.jsonl").read_bytes()
    (work / "train.jsonl").write_text(records(3100, seed=1))  # appended records
    (work / "val.jsonl").write_text(records(300, seed=3))
    c2 = json.loads(cli.ok(work, "commit", "-m", "v2", "--json"))["commit"]
    before = snapshot(work)
    cli.ok(work, "checkout", c1, "--part", "train-data")
    after = snapshot(work)
    assert after["train.jsonl"] == old_train
    assert {k for k in before if before[k] != after.get(k)} == {"train.jsonl"}  # HEAD, refs, other parts stay
    assert Repository.find(work).head() == c2
    assert worktree.status(Repository.find(work)).parts["train-data"]["state"] == "modified"
    # Committing it advances train-data alone: its version is c1's again (same package, nothing stored).
    c3 = json.loads(cli.ok(work, "commit", "-m", "back to v1 data", "--json"))["commit"]
    assert parts_of(work, c3) == {**parts_of(work, c2), "train-data": parts_of(work, c1)["train-data"]}
    # --use takes a part's version from another commit without its file: val-data goes back to c1's.
    c4 = json.loads(cli.ok(work, "commit", "-m", "v1 val", "--use", f"val-data={c1[:8]}", "--json"))["commit"]
    assert parts_of(work, c4) == {**parts_of(work, c3), "val-data": parts_of(work, c1)["val-data"]}
    assert (work / "val.jsonl").read_text() == records(300, seed=2)
    assert json.loads(cli.ok(work, "status", "--json"))["parts"]["val-data"]["state"] == "clean"


def test_merge_treats_parts_separately(cli: Cli, tmp_path: Path) -> None:
    work = setup_repo(cli, tmp_path)
    base = json.loads(cli.ok(work, "commit", "-m", "base", "--json"))["commit"]
    (work / "train.jsonl").write_text(records(3000, seed=5))
    ours = json.loads(cli.ok(work, "commit", "-m", "new train data", "--json"))["commit"]
    cli.ok(work, "checkout", base)
    (work / "val.jsonl").write_text(records(300, seed=6))
    theirs = json.loads(cli.ok(work, "commit", "-m", "new val data", "--json"))["commit"]
    cli.ok(work, "checkout", "master")
    merged = json.loads(cli.ok(work, "merge", ours, theirs, "--json"))
    assert merged["parts"] == {"code": "same", "train-data": "ours", "val-data": "theirs"}
    result = parts_of(work, merged["commit"])
    assert result["train-data"] == parts_of(work, ours)["train-data"]
    assert result["val-data"] == parts_of(work, theirs)["val-data"]
    assert (work / "val.jsonl").read_text() == records(300, seed=6)
    # code changed on both sides: a conflict, unless --take picks a side.
    (work / "train.py").write_text("print('ours')\n")
    a = json.loads(cli.ok(work, "commit", "-m", "code a", "--json"))["commit"]
    cli.ok(work, "checkout", merged["commit"])
    (work / "train.py").write_text("print('theirs')\n")
    b = json.loads(cli.ok(work, "commit", "-m", "code b", "--json"))["commit"]
    before = snapshot(work)
    failed = cli(work, "merge", a, b)
    assert failed.code == 1 and "code changed on both sides" in failed.err and "--take code=" in failed.err
    assert snapshot(work) == before
    taken = json.loads(cli.ok(work, "merge", a, b, "--take", "code=theirs", "--json"))
    assert taken["parts"]["code"] == "theirs (conflict)"
    assert (work / "train.py").read_text() == "print('theirs')\n"


def test_bad_part_input_leaves_repository_unchanged(cli: Cli, tmp_path: Path) -> None:
    work = setup_repo(cli, tmp_path)
    c1 = json.loads(cli.ok(work, "commit", "-m", "v1", "--json"))["commit"]
    repo = Repository.find(work)
    # A part larger than its limit; a CDC cap that is not a power of two.
    (work / "train.py").write_bytes(b"#" * (repo.config.limits["code"] + 1))
    bad_cap = cli(tmp_path, "init", str(tmp_path / "other"), "--cdc-cap", "5000")
    assert (
        bad_cap.code == 1 and "power of two" in bad_cap.err and not (tmp_path / "other" / ".agigit").exists()
    )
    before = snapshot(work)
    result = cli(work, "commit", "-m", "huge code")
    assert result.code == 1 and "limit for code" in result.err and snapshot(work) == before
    with pytest.raises(PartTooLargeError):
        worktree.commit(repo, "huge code")
    (work / "train.py").write_text("print('train v1')\n")
    # A commit naming a part version that does not exist.
    before = snapshot(work)
    for missing in ("0" * 64, "feedbeef"):
        result = cli(work, "commit", "-m", "x", "--use", f"val-data={missing}")
        assert result.code == 1 and "val-data" in result.err and snapshot(work) == before
    with pytest.raises(UnknownPartVersionError):
        worktree.commit(repo, "x", use={"val-data": "0" * 64})
    # A dataset chunk that fails its hash: the stored chunks of the base version are corrupt.
    (work / "train.jsonl").write_text(records(3000, seed=1, edit=range(10, 12)))
    c2 = json.loads(cli.ok(work, "commit", "-m", "v2", "--json"))["commit"]
    base_payload = repo.package_dir(parts_of(work, c1)["train-data"]) / PAYLOAD
    raw = bytearray(base_payload.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    base_payload.write_bytes(bytes(raw))
    cli.ok(work, "checkout", c1, "--part", "val-data")  # other parts are unaffected
    before = snapshot(work)
    result = cli(work, "checkout", c1)
    assert result.code == 1 and "fails its sha256" in result.err and snapshot(work) == before
    with pytest.raises(IntegrityError):
        worktree.checkout(repo, c2, part="train-data")


@pytest.mark.parametrize("private", [False, True])
def test_parts_push_fetch_and_checkout_one_part(
    cli: Cli, relays: list, tmp_path: Path, private: bool
) -> None:
    relay_a, relay_b = relays
    alice = setup_repo(cli, tmp_path, "alice", *(["--private"] if private else []))
    cli.ok(alice, "relay", "add", relay_a.http_url, "--operator", "op-a")
    cli.ok(alice, "relay", "add", relay_b.ws_url, "--operator", "op-b")
    c1 = json.loads(cli.ok(alice, "commit", "-m", "v1", "--json"))["commit"]
    first = json.loads(cli.ok(alice, "push", "--json"))
    # Edit 1% of the training records (30 consecutive ones) and push again: only new chunks go out.
    (alice / "train.jsonl").write_text(records(3000, seed=1, edit=range(2000, 2030)))
    c2 = json.loads(cli.ok(alice, "commit", "-m", "relabel 1%", "--json"))["commit"]
    second = json.loads(cli.ok(alice, "push", "--json"))
    assert first["pushed"] == [c1] and second["pushed"] == [c2]
    repo = Repository.find(alice)
    v1, v2 = (repo.read_commit(c).commit.parts["train-data"] for c in (c1, c2))
    chunks1 = {c.sha256 for c in repo.manifest(v1.manifest).manifest.chunking.chunks}
    chunks2 = repo.manifest(v2.manifest).manifest.chunking.chunks
    new_bytes = sum(c.length for c in chunks2 if c.sha256 not in chunks1)
    reused = 1 - new_bytes / v2.size
    assert reused > 0.9, f"only {reused:.1%} of the edited dataset's bytes were reused"
    # Uploaded: the new chunks once erasure-coded (n/k = 1.5), plus shard headers, stripe padding
    # and (private) 28 bytes of nonce and tag per chunk.
    assert second["uploaded"][c2] < 1.5 * new_bytes + 3 * 4096 + 1.5 * 28 * len(chunks2)
    assert second["uploaded"][c2] < 0.1 * first["uploaded"][c1]

    npub = Repository.find(alice).config.key.public_key.npub
    bob = tmp_path / "bob"
    secret = tmp_path / "owner.key"
    secret.write_text(Repository.find(alice).config.owner_secret or "")
    with_secret = ["--owner-secret-file", str(secret)] if private else []
    cli.ok(
        tmp_path, "init", str(bob), "--name", "m", "--upstream", npub, "--k", "2", "--n", "3", *with_secret
    )
    cli.ok(bob, "relay", "add", "--fetch", relay_b.http_url)
    fetched = json.loads(cli.ok(bob, "fetch", "--json"))
    assert fetched["head"] == c2 and sorted(fetched["fetched"]) == sorted([c1, c2])
    assert parts_of(bob, c2) == parts_of(alice, c2)
    cli.ok(bob, "checkout", c2)
    for name in ("train.py", "train.jsonl", "val.jsonl", MODEL):
        assert (bob / name).read_bytes() == (alice / name).read_bytes()
    # Bob's store, like Alice's, holds only the new chunks of the edited version.
    bob_repo = Repository.find(bob)
    assert (bob_repo.package_dir(v2.manifest) / PAYLOAD).stat().st_size < 0.1 * v2.size
    # Checkout of one part: only train.jsonl goes back to v1.
    before = snapshot(bob)
    cli.ok(bob, "checkout", c1, "--part", "train-data")
    after = snapshot(bob)
    assert {k for k in before if before[k] != after.get(k)} == {"train.jsonl"}
    assert (bob / "train.jsonl").read_text() == records(3000, seed=1)
    assert bob_repo.head() == c2


def test_fetched_commit_naming_an_unplaced_part_version_is_refused(
    cli: Cli, relays: list, tmp_path: Path
) -> None:
    alice = setup_repo(cli, tmp_path, "alice")
    cli.ok(alice, "relay", "add", relays[0].http_url)
    c1 = json.loads(cli.ok(alice, "commit", "-m", "v1", "--json"))["commit"]
    cli.ok(alice, "push")
    key = Repository.find(alice).config.key
    bob = tmp_path / "bob"
    cli.ok(tmp_path, "init", str(bob), "--name", "m", "--upstream", key.public_key.hex)
    cli.ok(bob, "relay", "add", "--fetch", relays[0].http_url)
    good = json.loads((alice / ".agigit" / "remote.json").read_text())
    entry = {
        k: v for k, v in good["objects"][c1].items() if k != "parts"
    }  # the code/data parts are not placed
    doc = {"format": "agigit-head/1", "name": "m", "branch": "master", "head": c1, "objects": {c1: entry}}
    path = tmp_path / "head.json"
    path.write_text(json.dumps(doc))
    with BlobClient(relays[0].http_url, key) as client:
        blob = client.upload(path)["sha256"]
    heads.publish(
        relays[0].http_url, heads.head_event(key, "m", "master", c1, blob, good["created_at"] + 1), key
    )
    before = snapshot(bob)
    result = cli(bob, "fetch")
    assert result.code == 1 and "the head blob does not place on any relay" in result.err
    assert snapshot(bob) == before


def test_scattered_record_edits_are_stored_pushed_and_fetched_as_deltas(
    cli: Cli, relays: list, tmp_path: Path
) -> None:
    alice = tmp_path / "alice"
    # 128 KiB cap (16 KiB average chunks, ~100 records each): editing every 100th record touches them all.
    cli.ok(tmp_path, "init", str(alice), "--name", "m", "--k", "2", "--n", "3", "--cdc-cap", str(1 << 17))
    make_model(alice / MODEL, seed=0)
    (alice / "train.jsonl").write_text(records(6000, seed=1))
    cli.ok(alice, "add", "--part", "train-data", "train.jsonl")
    cli.ok(alice, "relay", "add", relays[0].http_url, "--operator", "op-a")
    c1 = json.loads(cli.ok(alice, "commit", "-m", "v1", "--json"))["commit"]
    first = json.loads(cli.ok(alice, "push", "--json"))
    (alice / "train.jsonl").write_text(records(6000, seed=1, edit=range(50, 6000, 100)))  # 1 %, scattered
    c2 = json.loads(cli.ok(alice, "commit", "-m", "relabel every 100th", "--json"))["commit"]
    second = json.loads(cli.ok(alice, "push", "--json"))
    repo = Repository.find(alice)
    v1, v2 = (repo.read_commit(c).commit.parts["train-data"] for c in (c1, c2))
    thin = repo.manifest(v2.manifest).manifest
    old = {c.sha256 for c in repo.manifest(v1.manifest).manifest.chunking.chunks}
    dedup_only = sum(c.length for c in thin.chunking.chunks if c.sha256 not in old)
    assert dedup_only > 0.5 * v2.size  # deduplication alone would store most of the file again
    assert thin.reuse is not None and thin.reuse.deltas and thin.reuse.bases == [v1.manifest]
    stored = (repo.package_dir(v2.manifest) / PAYLOAD).stat().st_size
    assert stored == thin.erasure.stream_size < 0.05 * v2.size
    assert second["uploaded"][c2] < 0.1 * first["uploaded"][c1]
    # The edited file still checks out exactly, here and in a fresh clone fetched from the relay.
    cli.ok(alice, "checkout", c1, "--part", "train-data")
    assert (alice / "train.jsonl").read_text() == records(6000, seed=1)
    bob = tmp_path / "bob"
    cli.ok(tmp_path, "init", str(bob), "--name", "m", "--upstream", repo.config.key.public_key.npub)
    cli.ok(bob, "relay", "add", "--fetch", relays[0].http_url)
    assert json.loads(cli.ok(bob, "fetch", "--json"))["head"] == c2
    cli.ok(bob, "checkout", c2)
    assert (bob / "train.jsonl").read_text() == records(6000, seed=1, edit=range(50, 6000, 100))
    assert (Repository.find(bob).package_dir(v2.manifest) / PAYLOAD).stat().st_size == stored
