"""Remotes are relays: relay configuration, push, fetch and pull.

* ``push`` places every not-yet-pushed commit's shards on the push relays with
  :func:`agihub.transfer.push_package` (distinct operators first), uploads the commit and manifest
  files as blobs, then one head blob listing every reachable commit, and announces the head on each
  push relay (see :mod:`agihub.agigit.heads`).
* ``fetch`` reads the newest head of ``upstream`` from the fetch relays, downloads and checks the
  commits it lacks (id, signature) and their manifests (signature, publisher = commit author), and
  rebuilds each package from any k verified shards with :func:`agihub.transfer.fetch_package`.
  Everything is staged under ``.agigit/tmp``; objects are moved into the store only after every
  commit arrived, and ``refs/remotes/upstream`` is written last.
* ``pull`` is fetch, then a fast-forward of the current branch and the work tree.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from agihub.agigit import heads, history
from agihub.agigit.commit import PARTS, Commit, parse_commit
from agihub.agigit.errors import (
    CorruptObjectError,
    DivergedError,
    NoRelaysError,
    NothingToCommitError,
    RemoteError,
    UnknownPartVersionError,
)
from agihub.agigit.repository import (
    DEFAULT_BRANCH,
    PAYLOAD,
    UPSTREAM_REF,
    Relay,
    Repository,
    file_sha256,
    write_atomic,
)
from agihub.agigit.worktree import require_clean, write_worktree
from agihub.delta import read_header
from agihub.identity import IdentityError, PublicKey
from agihub.nostr import kinds
from agihub.nostr.event import is_hex64
from agihub.storage.errors import DecryptionError
from agihub.storage.manifest import SignedManifest, canonical_json, load_manifest, parse_manifest
from agihub.storage.package import MANIFEST_NAME, shard_name
from agihub.storage.unpack import private_version_key
from agihub.transfer import RelayFailure, RelayTarget, fetch_package, http_base, push_package
from agihub.transfer.relays import DEFAULT_TIMEOUT_S, download, upload

PROBE_TIMEOUT_S = 5.0
#: The payload kinds a fetched package of each part may hold.
PART_KINDS = {
    "params": ("safetensors", "delta"),
    "code": ("file",),
    "train-data": ("data",),
    "val-data": ("data",),
}

#: Called as shard bytes move: (commit id, bytes so far, bytes expected for that commit).
Progress = Callable[[str, int, int], None]

# --- relay configuration ------------------------------------------------------------------------


def _directions(fetch: bool, push: bool) -> tuple[bool, bool]:
    return (True, True) if not fetch and not push else (fetch, push)


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://", "ws://", "wss://"))


def resolve_relay(repo: Repository, url_or_pk: str) -> tuple[str, str | None]:
    """(blob-store URL, pubkey or None) for a relay URL, or a relay pubkey announced in a kind-31338
    relay offer on one of the relays already configured."""
    text = url_or_pk.strip()
    if _is_url(text):
        return http_base(text), None
    try:
        pubkey = PublicKey.parse(text).hex
    except IdentityError as exc:
        raise RemoteError(
            f"{text!r} is neither a relay URL (http://, ws://) nor a relay public key: {exc}"
        ) from exc
    for relay in repo.config.relays:
        try:
            offers = heads.query_events(relay.url, {"kinds": [kinds.RELAY_OFFER], "authors": [pubkey]})
        except RemoteError:
            continue
        for offer in offers:
            endpoint = offer.first_tag("endpoint")
            if offer.pubkey == pubkey and endpoint:
                return http_base(endpoint), pubkey
    raise RemoteError(
        f"no relay offer (kind 31338) by {pubkey[:16]}… on the configured relays; add the relay by URL instead"
    )


def relay_add(repo: Repository, url_or_pk: str, *, fetch: bool = False, push: bool = False,
              operator: str | None = None) -> Relay:  # fmt: skip
    """Add a relay (both directions unless ``--fetch`` or ``--push``), or widen an existing one."""
    want_fetch, want_push = _directions(fetch, push)
    with repo.locked():
        url, pubkey = resolve_relay(repo, url_or_pk)
        for relay in repo.config.relays:
            if relay.url == url:
                relay.fetch, relay.push = relay.fetch or want_fetch, relay.push or want_push
                relay.operator = operator or relay.operator
                break
        else:
            relay = Relay(
                url=url, fetch=want_fetch, push=want_push, operator=operator or pubkey or url, pubkey=pubkey
            )
            repo.config.relays.append(relay)
        repo.save_config()
        return relay


def relay_remove(repo: Repository, url_or_pk: str, *, fetch: bool = False, push: bool = False) -> Relay:
    """Stop using a relay in one direction (``--fetch``/``--push``) or both."""
    drop_fetch, drop_push = _directions(fetch, push)
    with repo.locked():
        text = url_or_pk.strip()
        key = http_base(text) if _is_url(text) else text
        for relay in repo.config.relays:
            if key in (relay.url, relay.pubkey) or (relay.pubkey and _npub_matches(text, relay.pubkey)):
                relay.fetch = relay.fetch and not drop_fetch
                relay.push = relay.push and not drop_push
                if not relay.fetch and not relay.push:
                    repo.config.relays.remove(relay)
                repo.save_config()
                return relay
        raise RemoteError(f"{text} is not a configured relay; see `agigit relay list`")


def _npub_matches(text: str, pubkey: str) -> bool:
    try:
        return PublicKey.parse(text).hex == pubkey
    except IdentityError:
        return False


def _relays(repo: Repository, direction: str) -> list[Relay]:
    chosen = [relay for relay in repo.config.relays if getattr(relay, direction)]
    if not chosen:
        raise NoRelaysError(
            f"no {direction} relay configured; add one with `agigit relay add --{direction} URL`"
        )
    return chosen


# --- push ---------------------------------------------------------------------------------------


@dataclass
class PushSummary:
    """What a push sent: new commits, head, where the head was announced, relays that failed."""

    head: str
    pushed: list[str] = field(default_factory=list)
    announced: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    uploaded: dict[str, int] = field(default_factory=dict)  # commit → shard bytes placed on relays

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _upload_everywhere(relays: Sequence[Relay], repo: Repository, path: Path, failed: dict[str, str]) -> str:
    """Upload one small file to every relay; at least one must take it."""
    digest = file_sha256(path)
    ok = 0
    for relay in relays:
        try:
            upload(relay.url, repo.config.key, path, DEFAULT_TIMEOUT_S)
            ok += 1
        except RelayFailure as exc:
            failed[relay.url] = exc.reason
    if not ok:
        raise RemoteError(
            f"no push relay accepted {path.name}: " + "; ".join(f"{u}: {r}" for u, r in failed.items())
        )
    return digest


def _reachable(relays: list[Relay], failed: dict[str, str]) -> list[Relay]:
    """The push relays that answer HTTP at all; the others are reported, and skipped."""
    alive = []
    for relay in relays:
        try:
            httpx.get(relay.url, headers={"accept": "application/nostr+json"}, timeout=PROBE_TIMEOUT_S)
            alive.append(relay)
        except httpx.HTTPError as exc:
            failed[relay.url] = f"unreachable: {exc}"
    if not alive:
        raise RemoteError(
            "every push relay is unreachable: "
            + "; ".join(f"{u}: {r}" for u, r in failed.items())
            + "; check `agigit relay list`"
        )
    return alive


def _push_package(
    repo: Repository, commit: Commit, manifest_id: str, relays: list[Relay], failed: dict[str, str],
    progress: Progress | None, uploaded: dict[str, int],
) -> dict[str, Any]:  # fmt: skip
    """Place one package's shards (a thin data package: only its new chunks) on the push relays."""
    pkg = repo.package_dir(manifest_id)
    signed = repo.manifest(manifest_id)
    if not all((pkg / shard_name(s.index)).is_file() for s in signed.manifest.shards):
        raise RemoteError(
            f"commit {commit.id[:12]} has no local shards and no known place on relays; fetch it again"
        )
    targets = [RelayTarget(url=r.url, operator=r.operator or r.url) for r in relays]
    report = push_package(pkg, targets, repo.config.key, progress=_per_commit(progress, commit.id))
    failed.update(report.failed)
    # Announce the version with its manifest blob, so a buyer holding only the root finds the
    # manifest on these relays (agihub.client.manifests); a refusal is reported, not fatal.
    announcement = kinds.manifest_announcement(repo.config.key, signed)
    for relay in relays:
        try:
            heads.publish(relay.url, announcement, repo.config.key)
        except RemoteError as exc:
            failed[relay.url] = str(exc)
    sizes = {s.index: s.size for s in signed.manifest.shards}
    uploaded[commit.id] = uploaded.get(commit.id, 0) + sum(
        sizes[i] * len(urls) for i, urls in report.placements.items()
    )
    return {
        "manifest": report.manifest_sha256,
        "placements": {str(i): urls for i, urls in sorted(report.placements.items())},
    }


def _push_commit(
    repo: Repository, commit: Commit, relays: list[Relay], packages: dict[str, Any], summary: PushSummary,
    progress: Progress | None,
) -> dict[str, Any]:  # fmt: skip
    """Push the packages of every part this commit names that are not on relays yet (a part that
    did not change names the package an earlier commit pushed), then the commit file."""
    for version in commit.commit.parts.values():
        if version.manifest not in packages:
            packages[version.manifest] = _push_package(
                repo, commit, version.manifest, relays, summary.failed, progress, summary.uploaded
            )
    entry: dict[str, Any] = {
        "commit": _upload_everywhere(relays, repo, repo.commit_path(commit.id), summary.failed),
        **packages[commit.params.manifest],
    }
    others = {p: packages[v.manifest] for p, v in commit.commit.parts.items() if p != "params"}
    if others:
        entry["parts"] = others
    return entry


def _per_commit(progress: Progress | None, commit_id: str) -> Callable[[int, int, int], None] | None:
    """Adapt agihub.transfer's (bytes, total, shards) callback to (commit, bytes, total)."""
    if progress is None:
        return None
    return lambda done, total, _shards: progress(commit_id, done, total)


def push(repo: Repository, *, force: bool = False, progress: Progress | None = None) -> PushSummary:
    """Send every commit reachable from HEAD that the relays lack, then announce the new head.

    Like git, a push that would replace a head the relays hold by one that does not descend from it
    is refused (:class:`DivergedError`) unless ``force``.
    """
    with repo.locked():
        configured = _relays(repo, "push")
        head = repo.head()
        if head is None:
            raise NothingToCommitError("nothing to push: this repository has no commits yet")
        summary = PushSummary(head)
        relays = _reachable(configured, summary.failed)
        published = _published_head(repo, relays, head, force)
        state = repo.remote_state()
        objects: dict[str, Any] = dict(state.get("objects", {}))
        packages = _known_packages(repo, state)
        for cid, _ in reversed(history.log(repo, head)):
            if cid not in objects:
                commit = repo.read_commit(cid)
                objects[cid] = _push_commit(repo, commit, relays, packages, summary, progress)
                summary.pushed.append(cid)
        blob = _upload_head_blob(repo, head, objects, relays, summary.failed)
        created_at = max(int(time.time()), int(state.get("created_at", 0)) + 1, published + 1)
        _announce(repo, relays, heads.head_event(repo.config.key, repo.config.name, _branch(repo), head, blob,
                                                 created_at), summary)  # fmt: skip
        repo.save_remote_state(
            {"objects": objects, "packages": packages, "created_at": created_at, "pushed_head": head}
        )
        return summary


def _known_packages(repo: Repository, state: dict[str, Any]) -> dict[str, Any]:
    """manifest_id → {manifest blob, placements} of every package already on relays."""
    packages: dict[str, Any] = dict(state.get("packages", {}))
    for cid, entry in state.get("objects", {}).items():
        if not repo.has_commit(cid):
            continue
        commit = repo.read_commit(cid)
        packages.setdefault(commit.params.manifest, {k: entry[k] for k in ("manifest", "placements")})
        for part, held in entry.get("parts", {}).items():
            version = commit.commit.parts.get(part)
            if version is not None:
                packages.setdefault(version.manifest, held)
    return packages


def _published_head(repo: Repository, relays: list[Relay], head: str, force: bool) -> int:
    """``created_at`` of our newest head on the push relays (0 if none); refuses a non-fast-forward."""
    events = []
    for relay in relays:
        with contextlib.suppress(RemoteError):  # an unreachable relay is reported by the upload steps
            events += heads.query_heads(relay.url, repo.config.key.public_key.hex, repo.config.name)
    current = heads.newest(events)
    if current is None:
        return 0
    theirs = current.first_tag("c") or ""
    descends = theirs == head or (repo.has_commit(theirs) and history.is_ancestor(repo, theirs, head))
    if not descends and not force:
        raise DivergedError(
            f"the relays' head of {repo.config.name!r} is {theirs[:12]}, which HEAD does not descend from; "
            "`agigit fetch` and merge it first, or `agigit push --force` to replace it"
        )
    return current.created_at


def _upload_head_blob(
    repo: Repository, head: str, objects: dict[str, Any], relays: list[Relay], failed: dict[str, str]
) -> str:
    """The head blob lists every commit reachable from ``head`` and where its objects live."""
    reachable = history.ancestors(repo, head)
    doc = {"format": heads.HEAD_FORMAT, "name": repo.config.name, "branch": _branch(repo), "head": head,
           "objects": {cid: objects[cid] for cid in sorted(reachable)}}  # fmt: skip
    path = repo.temp_path(".head.json")
    try:
        write_atomic(path, canonical_json(doc))
        return _upload_everywhere(relays, repo, path, failed)
    finally:
        path.unlink(missing_ok=True)


def _announce(repo: Repository, relays: list[Relay], event: Any, summary: PushSummary) -> None:
    for relay in relays:
        try:
            heads.publish(relay.url, event, repo.config.key)
            summary.announced.append(relay.url)
        except RemoteError as exc:
            summary.failed[relay.url] = str(exc)
    if not summary.announced:
        raise RemoteError("no push relay took the head announcement: " + "; ".join(summary.failed.values()))


def _branch(repo: Repository) -> str:
    ref = repo.head_ref()
    return ref.removeprefix("refs/heads/") if ref else DEFAULT_BRANCH


# --- fetch --------------------------------------------------------------------------------------


@dataclass
class FetchSummary:
    """The upstream head found and the commits that arrived."""

    head: str
    fetched: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _download_any(relays: Iterable[str], sha256: str, dest: Path, failed: dict[str, str], what: str) -> Path:
    for url in relays:
        try:
            return download(url, sha256, dest, timeout=DEFAULT_TIMEOUT_S)
        except RelayFailure as exc:
            failed[url] = exc.reason
    raise RemoteError(f"no fetch relay served the {what} {sha256[:12]}…: " + "; ".join(failed.values()))


def _find_head(repo: Repository, relays: list[Relay], failed: dict[str, str]) -> Any:
    events = []
    for relay in relays:
        try:
            events += heads.query_heads(relay.url, repo.config.upstream_pubkey, repo.config.name)
        except RemoteError as exc:
            failed[relay.url] = str(exc)
    event = heads.newest(events)
    if event is not None:
        return event
    if len(failed) == len(relays):
        raise RemoteError("no fetch relay could be reached: " + "; ".join(failed.values()))
    raise RemoteError(
        f"the fetch relays hold no head of repository {repo.config.name!r} by {repo.config.upstream_pubkey[:16]}…; "
        "push it first, or check `agigit init --name/--upstream`"
    )


def _read_head_doc(path: Path, event_head: str, name: str) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_bytes())
    except ValueError as exc:
        raise CorruptObjectError(f"head blob is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != heads.HEAD_FORMAT or doc.get("head") != event_head:
        raise CorruptObjectError("head blob does not match the signed head announcement")
    if doc.get("name") != name or not isinstance(doc.get("objects"), dict):
        raise CorruptObjectError(f"head blob is not for repository {name!r}")
    for cid, entry in doc["objects"].items():
        if not _valid_entry(entry):
            raise CorruptObjectError(f"head blob: the entry of commit {str(cid)[:12]} is malformed")
    return doc


def _valid_entry(entry: object) -> bool:
    """``{"commit": sha256, "manifest": sha256, "placements": {"<index>": [url, ...]}}`` (params),
    plus ``"parts": {part: {"manifest": sha256, "placements": ...}}`` when the commit names code
    or data parts."""
    if not isinstance(entry, dict) or set(entry) - {"parts"} != {"commit", "manifest", "placements"}:
        return False
    if not is_hex64(entry["commit"]) or not _valid_package_entry(entry):
        return False
    parts = entry.get("parts", {})
    return isinstance(parts, dict) and all(
        part in PARTS[1:] and isinstance(held, dict) and set(held) == {"manifest", "placements"}
        and _valid_package_entry(held)
        for part, held in parts.items()
    )  # fmt: skip


def _valid_package_entry(entry: dict[str, Any]) -> bool:
    hashes_ok = is_hex64(entry["manifest"])
    placements = entry["placements"]
    return (
        hashes_ok
        and isinstance(placements, dict)
        and all(
            str(i).isdigit()
            and isinstance(urls, list)
            and all(isinstance(u, str) and _is_url(u) for u in urls)
            for i, urls in placements.items()
        )
    )


def _missing_commits(repo: Repository, doc: dict[str, Any], urls: list[str], stage: Path,
                     failed: dict[str, str]) -> list[Commit]:  # fmt: skip
    """Download and check the commits reachable from the head that we lack; parents first."""
    order: list[Commit] = []
    todo, seen = [doc["head"]], set()
    while todo:
        cid = todo.pop()
        if cid in seen or repo.has_commit(cid):
            continue
        seen.add(cid)
        entry = doc["objects"].get(cid)
        if not isinstance(entry, dict):
            raise RemoteError(f"the head blob does not say where commit {cid[:12]} lives")
        path = _download_any(_sources(urls, entry), entry["commit"], stage / f"{cid}.json", failed, "commit")
        commit = parse_commit(path.read_bytes(), expected_id=cid)
        order.append(commit)
        todo.extend(commit.commit.parents)
    return _parents_first(order)


def _parents_first(commits: list[Commit]) -> list[Commit]:
    """Topological order (every parent before its children; ties by time, then id): a thin data
    package reuses chunks of packages an ancestor commit brought, so those are staged first."""
    by_id = {c.id: c for c in commits}
    done: set[str] = set()
    out: list[Commit] = []
    for start in sorted(commits, key=lambda c: (c.commit.time, c.id)):
        stack = [(start, False)]
        while stack:
            commit, expanded = stack.pop()
            if commit.id in done:
                continue
            if expanded:
                done.add(commit.id)
                out.append(commit)
                continue
            stack.append((commit, True))
            stack.extend((by_id[p], False) for p in commit.commit.parents if p in by_id and p not in done)
    return out


def _stage_package(repo: Repository, commit: Commit, part: str, held: dict[str, Any], urls: list[str],
                   stage: Path, staged: dict[str, Path], failed: dict[str, str], progress: Progress | None) -> Path:  # fmt: skip
    """Download one part's package (manifest, then any k shards) into ``stage`` and check it."""
    version = commit.commit.parts[part]  # type: ignore[index]
    pkg = stage / version.manifest
    pkg.mkdir()
    raw = _download_any(urls, held["manifest"], pkg / MANIFEST_NAME, failed, "manifest").read_bytes()
    signed = parse_manifest(raw, expected_publisher=commit.commit.author)
    if signed.manifest_id.hex() != version.manifest or signed.manifest.model_root != version.model_root:
        raise CorruptObjectError(
            f"commit {commit.id[:12]} names another {part} package than the relays served"
        )
    if signed.manifest.payload.kind not in PART_KINDS[part]:
        raise CorruptObjectError(
            f"commit {commit.id[:12]}: its {part} package holds a {signed.manifest.payload.kind} payload"
        )
    holders = {
        int(i): list(dict.fromkeys([*placed, *urls])) for i, placed in held.get("placements", {}).items()
    }
    fetch_package(signed, holders or urls, pkg, pkg / PAYLOAD, version_key=_version_key(repo, signed),
                  progress=_per_commit(progress, commit.id))  # fmt: skip
    staged[version.manifest] = pkg
    if part == "params" and version.storage == "full" and file_sha256(pkg / PAYLOAD) != version.sha256:
        raise CorruptObjectError(
            f"commit {commit.id[:12]}: the rebuilt model does not hash to the committed sha256"
        )
    if part != "params":
        _check_part_file(repo, commit, part, version, staged)
    return pkg


def _check_part_file(
    repo: Repository, commit: Commit, part: str, version: Any, staged: dict[str, Path]
) -> None:
    """A code or data version must rebuild (data: with the chunks of the packages it reuses,
    fetched earlier or already here) exactly the committed file."""
    signed = load_manifest(staged[version.manifest] / MANIFEST_NAME)
    for base in signed.manifest.reuse.bases if signed.manifest.reuse else []:
        if base not in staged and not (repo.package_dir(base) / MANIFEST_NAME).is_file():
            raise UnknownPartVersionError(
                f"commit {commit.id[:12]}: its {part} package reuses package {base[:12]}, which neither "
                "this repository nor the fetched history holds"
            )
    with repo.materialized_version(version, staged) as path:
        if path.stat().st_size != version.size or file_sha256(path) != version.sha256:
            raise CorruptObjectError(
                f"commit {commit.id[:12]}: the rebuilt {part} file does not hash to the committed sha256"
            )


def _sources(urls: list[str], entry: dict[str, Any]) -> list[str]:
    """Our fetch relays first, then the relays the pusher placed this commit's shards on."""
    held_all = [entry, *entry.get("parts", {}).values()]
    placed = [url for held in held_all for urls_ in held.get("placements", {}).values() for url in urls_]
    return list(dict.fromkeys([*urls, *placed]))


def _check_delta(repo: Repository, commit: Commit, pkg: Path, known: dict[str, Commit]) -> None:
    """A delta-stored commit must name an ancestor as base, and its delta must rebuild exactly
    the committed file from exactly that base's file."""
    if commit.params.storage != "delta":
        return
    base_id = commit.params.base
    base = known.get(base_id or "") or (
        repo.read_commit(base_id) if base_id and repo.has_commit(base_id) else None
    )
    if base is None or base.params.storage != "full":
        raise CorruptObjectError(
            f"commit {commit.id[:12]} is a delta against {base_id}, not a stored foundation"
        )
    header = read_header(pkg / PAYLOAD)
    if header.mode != "lossless" or (header.child_sha256, header.child_size) != (
        commit.params.sha256,
        commit.params.size,
    ):
        raise CorruptObjectError(f"commit {commit.id[:12]}: its delta does not rebuild the committed model")
    if header.parent_sha256 != base.params.sha256:
        raise CorruptObjectError(f"commit {commit.id[:12]}: its delta applies to another model than its base")


def _version_key(repo: Repository, signed: SignedManifest) -> bytes | None:
    if signed.manifest.encryption is None:
        return None
    if repo.owner_secret is None:
        raise DecryptionError(
            "this model is private: init the repository with its owner secret (--owner-secret-file)"
        )
    return private_version_key(signed, repo.owner_secret)


def _fetch(repo: Repository, progress: Progress | None) -> FetchSummary:
    relays = _relays(repo, "fetch")
    urls = [relay.url for relay in relays]
    failed: dict[str, str] = {}
    event = _find_head(repo, relays, failed)
    head, blob = event.first_tag("c") or "", event.first_tag("x") or ""
    stage = repo.temp_path()
    stage.mkdir()
    try:
        doc = _read_head_doc(
            _download_any(urls, blob, stage / "head.json", failed, "head blob"), head, repo.config.name
        )
        commits = _missing_commits(repo, doc, urls, stage, failed)
        known = {c.id: c for c in commits}
        packages: dict[str, Path] = {}
        staged = []
        for c in commits:
            entry = doc["objects"][c.id]
            sources = _sources(urls, entry)
            for part, version in c.commit.parts.items():
                if (
                    version.manifest in packages
                    or (repo.package_dir(version.manifest) / MANIFEST_NAME).is_file()
                ):
                    continue
                held = entry if part == "params" else entry.get("parts", {}).get(part)
                if held is None:
                    raise UnknownPartVersionError(
                        f"commit {c.id[:12]} names a {part} version the head blob does not place on any relay"
                    )
                _stage_package(repo, c, part, held, sources, stage, packages, failed, progress)
            if c.params.manifest in packages:
                _check_delta(repo, c, packages[c.params.manifest], known)
            staged.append((c, None))
        for manifest_id, pkg in packages.items():  # every package first, then the commits that name them
            repo.store_package(pkg, manifest_id)
        for commit, _ in staged:
            repo.store_commit(commit)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    state = repo.remote_state()
    state.setdefault("objects", {}).update({c.id: doc["objects"][c.id] for c, _ in staged})
    repo.save_remote_state(state)
    repo.write_ref(UPSTREAM_REF, head)
    return FetchSummary(head, [c.id for c, _ in staged], failed)


def fetch(repo: Repository, *, progress: Progress | None = None) -> FetchSummary:
    """Bring the upstream head and every commit it needs into the local store."""
    with repo.locked():
        return _fetch(repo, progress)


def pull(
    repo: Repository, rev: str | None = None, *, progress: Progress | None = None
) -> tuple[FetchSummary, str]:
    """Fetch, then fast-forward the current branch (or detached HEAD) and the work tree to ``rev``
    (default: the upstream head)."""
    with repo.locked():
        summary = _fetch(repo, progress)
        target = repo.resolve(rev or "upstream")
        head = repo.head()
        if head == target or (head is not None and history.is_ancestor(repo, target, head)):
            return summary, head or target
        if head is not None and not history.is_ancestor(repo, head, target):
            raise DivergedError(
                f"HEAD {head[:12]} and {target[:12]} have diverged; run `agigit merge HEAD {target[:12]}`"
            )
        require_clean(repo, "pulling")
        write_worktree(repo, target)
        repo.set_head(target)
        return summary, target
