"""Bad input: each failure is a typed error, one clear `error:` line, exit status 1, and the
repository (objects, refs, config, work tree) exactly as it was before the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agihub.agigit import worktree
from agihub.agigit.errors import NoCommonAncestorError
from agihub.agigit.repository import Repository
from agihub.blobs import BlobClient
from agihub_services.dev.ports import free_port
from tests.sdk.agigit.conftest import Cli, snapshot
from tests.sdk.agigit.tinymodel import finetune, make_model

MODEL = "model.safetensors"


@pytest.fixture
def history(cli: Cli, tmp_path: Path) -> tuple[Path, str, str]:
    """A repository with a foundation f1 and a fine-tune d1 (HEAD, clean)."""
    work = tmp_path / "alice"
    cli.ok(tmp_path, "init", str(work), "--name", "tiny", "--k", "2", "--n", "4")
    make_model(work / MODEL)
    f1 = json.loads(cli.ok(work, "commit", "-m", "foundation", "--json"))["commit"]
    finetune(work / MODEL, work / MODEL, ("layers.1",))
    d1 = json.loads(cli.ok(work, "commit", "-m", "tune", "--json"))["commit"]
    return work, f1, d1


def fails(cli: Cli, work: Path, *argv: str, match: str) -> str:
    """Run a command that must fail; the repository must not change."""
    before = snapshot(work)
    result = cli(work, *argv)
    assert result.code == 1, result
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    assert match in result.err, result.err
    assert snapshot(work) == before
    assert not (work / ".agigit" / "lock").exists()
    return result.err


def test_unknown_commit(cli: Cli, history: tuple[Path, str, str]) -> None:
    work, _, _ = history
    fails(cli, work, "checkout", "deadbeef", match="no commit deadbeef")
    fails(cli, work, "diff", "no-such-rev", match="not a commit id, a branch or HEAD")
    fails(cli, work, "merge", "HEAD", "deadbeef00", match="no commit deadbeef00")


def test_checkout_with_dirty_tree(cli: Cli, history: tuple[Path, str, str]) -> None:
    work, f1, _ = history
    finetune(work / MODEL, work / MODEL, ("head",), seed=7)
    fails(cli, work, "checkout", f1, match="uncommitted changes")
    assert json.loads(cli.ok(work, "status", "--json"))["state"] == "modified"


def test_merge_of_incompatible_layouts(cli: Cli, history: tuple[Path, str, str]) -> None:
    work, f1, _ = history
    make_model(work / MODEL, seed=5, d=16)  # another width: same names, other shapes
    narrow = json.loads(cli.ok(work, "commit", "-m", "narrow", "--json"))["commit"]
    err = fails(cli, work, "merge", f1, narrow, match="different layouts")
    assert "embed.weight" in err and "F32[64, 32]" in err and "F32[64, 16]" in err


def test_merge_unknown_group_or_strategy(cli: Cli, history: tuple[Path, str, str]) -> None:
    work, f1, d1 = history
    fails(cli, work, "merge", f1, d1, "--group", "layers.9=ours", match="no parameter group 'layers.9'")
    fails(cli, work, "merge", f1, d1, "--strategy", "sum", match="must be one of average, ours, theirs")
    fails(cli, work, "merge", f1, d1, "--group", "layers.1", match="write GROUP=STRATEGY")


def test_commit_refusals(cli: Cli, history: tuple[Path, str, str]) -> None:
    work, _, _ = history
    fails(cli, work, "commit", "-m", "again", match="nothing to commit")
    (work / MODEL).write_bytes(b"not a safetensors file at all")
    fails(cli, work, "commit", "-m", "junk", match="safetensors")
    (work / MODEL).unlink()
    fails(cli, work, "commit", "-m", "gone", match="does not exist")


def test_push_with_no_push_relays(cli: Cli, history: tuple[Path, str, str]) -> None:
    work, _, _ = history
    fails(cli, work, "push", match="no push relay configured; add one with `agigit relay add --push URL`")
    fails(cli, work, "fetch", match="no fetch relay configured")


def test_push_and_fetch_to_an_unreachable_relay(cli: Cli, history: tuple[Path, str, str]) -> None:
    work, _, _ = history
    dead = f"http://127.0.0.1:{free_port()}"
    cli.ok(work, "relay", "add", dead)
    fails(cli, work, "push", match="unreachable")
    fails(cli, work, "fetch", match="no fetch relay could be reached")


def test_not_a_repository_and_init_twice(cli: Cli, tmp_path: Path, history: tuple[Path, str, str]) -> None:
    work, _, _ = history
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli(empty, "status")
    assert result.code == 1 and "not inside an agigit repository" in result.err
    fails(cli, work, "init", ".", match="already a repository")
    fails(cli, work, "relay", "add", "not-a-relay", match="neither a relay URL")


def test_tampered_commit_is_refused(cli: Cli, history: tuple[Path, str, str]) -> None:
    work, f1, _ = history
    path = work / ".agigit" / "objects" / "commits" / f"{f1}.json"
    path.write_bytes(path.read_bytes().replace(b"foundation", b"Foundation"))
    fails(cli, work, "log", match="commit hashes to")


def test_rebase_without_common_ancestor(cli: Cli, history: tuple[Path, str, str]) -> None:
    work, _, _ = history
    repo = Repository.find(work)
    other = work.parent / "other.safetensors"
    make_model(other, seed=9)
    root = worktree.record_commit(repo, other, [], "an unrelated root")
    before = snapshot(work)
    with pytest.raises(NoCommonAncestorError, match="share no ancestor"):
        worktree.rebase(repo, root.id)
    assert snapshot(work) == before


def test_crash_while_committing_leaves_head(
    cli: Cli, history: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    work, _, d1 = history
    finetune(work / MODEL, work / MODEL, ("head",), seed=8)

    def disk_full(self: Repository, commit: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Repository, "store_commit", disk_full)
    with pytest.raises(OSError, match="No space left"):
        worktree.commit(Repository.find(work), "will not land")
    repo = Repository.find(work)
    assert repo.head() == d1 and worktree.status(repo).state == "modified"
    assert not (work / ".agigit" / "lock").exists() and not any((work / ".agigit" / "tmp").iterdir())


def test_fetch_with_fewer_than_k_shards(cli: Cli, relays: list, tmp_path: Path) -> None:
    relay_a, relay_b = relays
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    info = json.loads(
        cli.ok(tmp_path, "init", str(alice), "--name", "tiny", "--k", "2", "--n", "4", "--json")
    )
    for relay, operator in ((relay_a, "a"), (relay_b, "b")):
        cli.ok(alice, "relay", "add", "--push", relay.http_url, "--operator", operator)
    make_model(alice / MODEL)
    cli.ok(alice, "commit", "-m", "foundation")
    cli.ok(alice, "push")
    # Every shard but one disappears from the relays (alice, their only owner, deletes them).
    state = json.loads((alice / ".agigit" / "remote.json").read_text())
    [(cid, entry)] = state["objects"].items()
    manifest = Repository.find(alice).manifest(Repository.find(alice).read_commit(cid).params.manifest)
    key = Repository.find(alice).config.key
    for index, urls in entry["placements"].items():
        if index != "3":
            for url in urls:
                with BlobClient(url, key) as client:
                    client.delete(manifest.manifest.shards[int(index)].sha256)

    cli.ok(tmp_path, "init", str(bob), "--name", "tiny", "--upstream", info["author"], "--k", "2", "--n", "4")
    for relay in relays:
        cli.ok(bob, "relay", "add", "--fetch", relay.http_url)
    fails(cli, bob, "fetch", match="only 1 of the 2 shards needed")
    fails(cli, bob, "pull", match="only 1 of the 2 shards needed")
    assert Repository.find(bob).all_commits() == []


def test_fetch_when_nothing_was_pushed(cli: Cli, relays: list, tmp_path: Path) -> None:
    bob = tmp_path / "bob"
    cli.ok(tmp_path, "init", str(bob), "--name", "tiny")
    cli.ok(bob, "relay", "add", relays[0].http_url)
    fails(cli, bob, "fetch", match="hold no head of repository 'tiny'")
    fails(cli, bob, "rebase", match="no commits yet")
    make_model(bob / MODEL)
    cli.ok(bob, "commit", "-m", "first")
    fails(cli, bob, "rebase", match="no upstream head fetched yet; run `agigit fetch`")


def test_a_second_writer_is_refused(cli: Cli, history: tuple[Path, str, str]) -> None:
    work, f1, _ = history
    (work / ".agigit" / "lock").write_text("12345")
    before = snapshot(work)
    result = cli(work, "checkout", f1)
    assert result.code == 1 and "another agigit command is running" in result.err
    assert snapshot(work) == before


def test_damaged_config_is_a_clear_error(cli: Cli, history: tuple[Path, str, str]) -> None:
    work, _, _ = history
    (work / ".agigit" / "config.json").write_text("[1, 2")
    result = cli(work, "status")
    assert result.code == 1 and "config.json is unreadable or malformed" in result.err
