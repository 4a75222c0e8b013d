"""Relays as remotes: relay configuration (by URL or by public key), pull, private repositories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agihub.agigit import heads, remote, worktree
from agihub.agigit.errors import RemoteError
from agihub.agigit.repository import Repository
from agihub.blobs import BlobClient
from agihub.identity import SecretKey
from agihub.nostr import kinds
from tests.sdk.agigit.conftest import Cli, snapshot
from tests.sdk.agigit.tinymodel import finetune, make_model

MODEL = "model.safetensors"


def relays_of(work: Path) -> list[tuple[str, bool, bool]]:
    return [(r.url, r.fetch, r.push) for r in Repository.find(work).config.relays]


def test_relay_add_and_remove_directions(cli: Cli, tmp_path: Path) -> None:
    work = tmp_path / "w"
    cli.ok(tmp_path, "init", str(work))
    cli.ok(work, "relay", "add", "ws://127.0.0.1:7001/")
    cli.ok(work, "relay", "add", "--fetch", "http://127.0.0.1:7002")
    assert relays_of(work) == [("http://127.0.0.1:7001", True, True), ("http://127.0.0.1:7002", True, False)]
    cli.ok(work, "relay", "add", "--push", "http://127.0.0.1:7002")
    cli.ok(work, "relay", "remove", "--push", "http://127.0.0.1:7001")
    assert relays_of(work) == [("http://127.0.0.1:7001", True, False), ("http://127.0.0.1:7002", True, True)]
    cli.ok(work, "relay", "remove", "--fetch", "ws://127.0.0.1:7001")
    cli.ok(work, "relay", "remove", "http://127.0.0.1:7002")
    assert relays_of(work) == []
    before = snapshot(work)
    result = cli(work, "relay", "remove", "http://127.0.0.1:7002")
    assert result.code == 1 and "is not a configured relay" in result.err and snapshot(work) == before


def test_relay_added_by_public_key(cli: Cli, relays: list, tmp_path: Path) -> None:
    relay_a, relay_b = relays
    work = tmp_path / "w"
    cli.ok(tmp_path, "init", str(work))
    cli.ok(work, "relay", "add", relay_a.http_url)
    # relay-b announces itself (kind 31338) on relay-a; a client that knows relay-a finds relay-b by key.
    relay_key = SecretKey.generate()
    heads.publish(relay_a.http_url, kinds.relay_offer(relay_key, relay_b.ws_url, []))
    cli.ok(work, "relay", "add", "--push", relay_key.public_key.npub)
    [_, added] = Repository.find(work).config.relays
    assert (added.url, added.pubkey, added.fetch, added.push) == (
        relay_b.http_url, relay_key.public_key.hex, False, True)  # fmt: skip
    cli.ok(work, "relay", "remove", relay_key.public_key.npub)
    before = snapshot(work)
    result = cli(work, "relay", "add", SecretKey.generate().public_key.npub)
    assert result.code == 1 and "no relay offer (kind 31338)" in result.err and snapshot(work) == before


def test_pull_fast_forwards_and_refuses_divergence(cli: Cli, relays: list, tmp_path: Path) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    info = json.loads(cli.ok(tmp_path, "init", str(alice), "--name", "m", "--k", "2", "--n", "3", "--json"))
    cli.ok(tmp_path, "init", str(bob), "--name", "m", "--upstream", info["npub"], "--k", "2", "--n", "3")
    for relay in relays:
        cli.ok(alice, "relay", "add", relay.http_url)
        cli.ok(bob, "relay", "add", "--fetch", relay.http_url)
    make_model(alice / MODEL)
    f1 = json.loads(cli.ok(alice, "commit", "-m", "f1", "--json"))["commit"]
    cli.ok(alice, "push")
    assert json.loads(cli.ok(bob, "pull", "--json"))["checked_out"] == f1
    assert (bob / MODEL).read_bytes() == (alice / MODEL).read_bytes()
    assert Repository.find(bob).read_ref("refs/heads/master") == f1
    # alice moves on, bob commits his own change: the histories diverge.
    finetune(alice / MODEL, alice / MODEL, ("layers.0",))
    cli.ok(alice, "commit", "-m", "alice")
    cli.ok(alice, "push")
    finetune(bob / MODEL, bob / MODEL, ("head",))
    cli.ok(bob, "commit", "-m", "bob")
    bob_before = Repository.find(bob).head()
    result = cli(bob, "pull")
    assert result.code == 1 and "have diverged" in result.err
    assert Repository.find(bob).head() == bob_before


def test_private_model_needs_the_owner_secret(cli: Cli, relays: list, tmp_path: Path) -> None:
    alice, bob, eve = tmp_path / "alice", tmp_path / "bob", tmp_path / "eve"
    info = json.loads(cli.ok(tmp_path, "init", str(alice), "--name", "p", "--private", "--k", "2", "--n", "3",
                             "--json"))  # fmt: skip
    for relay in relays:
        cli.ok(alice, "relay", "add", relay.http_url)
    make_model(alice / MODEL)
    cli.ok(alice, "commit", "-m", "secret model")
    finetune(alice / MODEL, alice / MODEL, ("layers.1",))
    assert json.loads(cli.ok(alice, "commit", "-m", "secret tune", "--json"))["storage"] == "delta"
    cli.ok(alice, "push")
    secret_file = tmp_path / "owner.key"
    secret_file.write_text(Repository.find(alice).config.owner_secret or "")
    cli.ok(tmp_path, "init", str(bob), "--name", "p", "--upstream", info["author"],
           "--owner-secret-file", str(secret_file))  # fmt: skip
    cli.ok(tmp_path, "init", str(eve), "--name", "p", "--upstream", info["author"])
    for work in (bob, eve):
        cli.ok(work, "relay", "add", "--fetch", relays[0].http_url)
    cli.ok(bob, "pull")
    assert (bob / MODEL).read_bytes() == (alice / MODEL).read_bytes()
    before = snapshot(eve)
    result = cli(eve, "fetch")
    assert result.code == 1 and "this model is private" in result.err and snapshot(eve) == before


def test_push_to_a_relay_that_requires_auth(cli: Cli, auth_relay: object, tmp_path: Path) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    info = json.loads(cli.ok(tmp_path, "init", str(alice), "--name", "m", "--k", "1", "--n", "2", "--json"))
    cli.ok(alice, "relay", "add", auth_relay.ws_url)
    make_model(alice / MODEL)
    f1 = json.loads(cli.ok(alice, "commit", "-m", "f1", "--json"))["commit"]
    stranger = heads.head_event(SecretKey.generate(), "m", "master", f1, "0" * 64, 1)
    with pytest.raises(RemoteError, match="auth-required"):
        heads.publish(auth_relay.http_url, stranger)  # no key to authenticate with
    assert json.loads(cli.ok(alice, "push", "--json"))["announced"] == [auth_relay.http_url]
    cli.ok(tmp_path, "init", str(bob), "--name", "m", "--upstream", info["author"])
    cli.ok(bob, "relay", "add", "--fetch", auth_relay.http_url)
    assert json.loads(cli.ok(bob, "fetch", "--json"))["head"] == f1


def test_forged_or_malformed_heads_are_refused(cli: Cli, relays: list, tmp_path: Path) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    info = json.loads(cli.ok(tmp_path, "init", str(alice), "--name", "m", "--k", "1", "--n", "2", "--json"))
    cli.ok(alice, "relay", "add", relays[0].http_url)
    make_model(alice / MODEL)
    f1 = json.loads(cli.ok(alice, "commit", "-m", "f1", "--json"))["commit"]
    cli.ok(alice, "push")
    cli.ok(tmp_path, "init", str(bob), "--name", "m", "--upstream", info["author"])
    cli.ok(bob, "relay", "add", "--fetch", relays[0].http_url)
    key = Repository.find(alice).config.key

    def announce(doc: dict, created_at: int) -> None:
        path = tmp_path / f"head-{created_at}.json"
        path.write_text(json.dumps(doc))
        with BlobClient(relays[0].http_url, key) as client:
            blob = client.upload(path)["sha256"]
        heads.publish(relays[0].http_url, heads.head_event(key, "m", "master", f1, blob, created_at), key)

    good = json.loads((alice / ".agigit" / "remote.json").read_text())
    now = good["created_at"]
    bad_entry = {f1: {"commit": "not a hash", "manifest": "0" * 64, "placements": {}}}
    announce(
        {"format": "agigit-head/1", "name": "m", "branch": "master", "head": f1, "objects": bad_entry},
        now + 1,
    )
    before = snapshot(bob)
    result = cli(bob, "fetch")
    assert result.code == 1 and "is malformed" in result.err and snapshot(bob) == before
    # A well-formed entry whose commit blob is another file: refused by the commit id check.
    manifest_blob = good["objects"][f1]["manifest"]
    swapped = {f1: {**good["objects"][f1], "commit": manifest_blob}}
    announce(
        {"format": "agigit-head/1", "name": "m", "branch": "master", "head": f1, "objects": swapped}, now + 2
    )
    result = cli(bob, "fetch")
    assert result.code == 1 and "commit is malformed" in result.err and snapshot(bob) == before
    # A head event signed by someone else is ignored: bob follows alice only.
    stranger = SecretKey.generate()
    heads.publish(relays[0].http_url, heads.head_event(stranger, "m", "master", "f" * 64, "0" * 64, now + 3))
    cli.ok(alice, "push")  # alice's genuine head becomes the newest again
    assert json.loads(cli.ok(bob, "fetch", "--json"))["head"] == f1


def test_non_fast_forward_push_is_refused_unless_forced(cli: Cli, relays: list, tmp_path: Path) -> None:
    laptop, desktop = tmp_path / "laptop", tmp_path / "desktop"
    cli.ok(tmp_path, "init", str(laptop), "--name", "m", "--k", "1", "--n", "2")
    key_file = tmp_path / "author.nsec"
    key_file.write_text(Repository.find(laptop).config.key.nsec)
    cli.ok(tmp_path, "init", str(desktop), "--name", "m", "--identity", str(key_file), "--k", "1", "--n", "2")
    for work, seed in ((laptop, 0), (desktop, 1)):
        cli.ok(work, "relay", "add", relays[0].http_url)
        make_model(work / MODEL, seed=seed)
        cli.ok(work, "commit", "-m", f"root {seed}")
    cli.ok(laptop, "push")
    before = snapshot(desktop)
    result = cli(desktop, "push")
    assert (
        result.code == 1 and "which HEAD does not descend from" in result.err and snapshot(desktop) == before
    )
    forced = json.loads(cli.ok(desktop, "push", "--force", "--json"))
    assert forced["head"] == Repository.find(desktop).head()
    cli.ok(laptop, "relay", "add", "--fetch", relays[0].http_url)
    assert json.loads(cli.ok(laptop, "fetch", "--json"))["head"] == forced["head"]


def test_push_and_fetch_report_progress(cli: Cli, relays: list, tmp_path: Path) -> None:
    alice = Repository.init(tmp_path / "alice", name="m", k=2, n=3)
    bob = Repository.init(tmp_path / "bob", name="m", upstream=alice.config.key.public_key.hex, k=2, n=3)
    for relay in relays:
        remote.relay_add(alice, relay.http_url, push=True)
        remote.relay_add(bob, relay.http_url, fetch=True)
    make_model(alice.model_path)
    created = worktree.commit(alice, "f1")
    seen: dict[str, list[tuple[str, int, int]]] = {"push": [], "fetch": []}
    remote.push(alice, progress=lambda *event: seen["push"].append(event))
    remote.fetch(bob, progress=lambda *event: seen["fetch"].append(event))
    shards = Repository.find(alice.work).manifest(created.params.manifest).manifest.shards
    assert seen["push"][-1] == (created.id, sum(s.size for s in shards), sum(s.size for s in shards))
    assert len(seen["push"]) == len(shards)
    commit_id, done, goal = seen["fetch"][-1]
    assert commit_id == created.id and done >= goal == sum(s.size for s in shards[:2])


def test_pushed_versions_are_found_by_root(cli: Cli, relays: list, tmp_path: Path) -> None:
    """A buyer holding only a model root finds the signed manifest agigit push placed on the relays."""
    from agihub.client.manifests import find_manifest

    work = tmp_path / "w"
    cli.ok(tmp_path, "init", str(work), "--name", "m", "--k", "2", "--n", "3")
    for relay in relays:
        cli.ok(work, "relay", "add", relay.http_url)
    make_model(work / MODEL)
    cid = json.loads(cli.ok(work, "commit", "-m", "v1", "--json"))["commit"]
    assert json.loads(cli.ok(work, "push", "--json"))["failed"] == {}
    repo = Repository.find(work)
    signed = repo.manifest(repo.read_commit(cid).params.manifest)
    root = bytes.fromhex(signed.manifest.model_root)
    for relay in relays:  # each relay was told, and serves the manifest itself
        assert find_manifest(root, [relay.http_url]).to_bytes() == signed.to_bytes()
