"""The ``agigit`` command: a git-like repository of model versions whose remotes are relays.

Thin adapters over :mod:`agihub.agigit`; every :class:`agihub.errors.AgihubError` becomes one
``error: ...`` line on stderr and exit status 1 (usage errors: click's exit status 2).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TransferSpeedColumn

from agihub.agigit import history, remote, worktree
from agihub.agigit.errors import UnknownGroupError, UnknownPartError
from agihub.agigit.repository import DEFAULT_LIMITS, Repository, check_part
from agihub.identity import PublicKey, SecretKey
from agihub.storage.cdc import DEFAULT_CDC_CAP
from agihub.storage.crypto import load_secret

app = typer.Typer(
    name="agigit",
    help="agigit: version models like git; remotes are relays (push fans shards out, fetch needs any k).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
relay_app = typer.Typer(help="Configure the relays to fetch from and push to.", no_args_is_help=True)
app.add_typer(relay_app, name="relay")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _emit(as_json: bool, data: Any, text: str) -> None:
    typer.echo(json.dumps(data, sort_keys=True) if as_json else text)


def _repo() -> Repository:
    return Repository.find(Path.cwd())


@contextlib.contextmanager
def _progress(show: bool, verb: str) -> Iterator[remote.Progress | None]:
    """A progress bar per commit on stderr (only on a terminal, never with --json)."""
    console = Console(stderr=True)
    if not show or not console.is_terminal:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def update(commit_id: str, done: int, total: int) -> None:
            if commit_id not in tasks:
                tasks[commit_id] = bar.add_task(f"{verb} {commit_id[:12]}", total=total)
            bar.update(tasks[commit_id], completed=done, total=total)

        yield update


@app.command("init")
def init_command(
    directory: Annotated[Path, typer.Argument(help="Work tree (default: the current directory).")] = Path(
        "."
    ),
    name: Annotated[
        str | None, typer.Option(help="Repository name announced on relays (default: directory name).")
    ] = None,
    identity: Annotated[
        Path | None, typer.Option(help="Author key file (nsec or hex); default: a new key.")
    ] = None,
    private: Annotated[
        bool, typer.Option("--private", help="Encrypt packages with a new owner secret.")
    ] = False,
    owner_secret_file: Annotated[
        Path | None, typer.Option(help="Owner secret of an existing private model.")
    ] = None,
    upstream: Annotated[
        str | None, typer.Option(help="npub/hex whose head `fetch` follows (default: own key).")
    ] = None,
    model: Annotated[str, typer.Option(help="Tracked model file name.")] = "model.safetensors",
    k: Annotated[int, typer.Option(help="Shards needed to rebuild.")] = 4,
    n: Annotated[int, typer.Option(help="Shards written per version.")] = 6,
    cdc_cap: Annotated[
        int, typer.Option(help="Data parts: FastCDC max chunk, a power of two (average = cap/8).")
    ] = DEFAULT_CDC_CAP,
    code_limit: Annotated[int, typer.Option(help="Largest code part in bytes.")] = DEFAULT_LIMITS["code"],
    as_json: JsonOpt = False,
) -> None:
    """Create an empty repository."""
    repo = Repository.init(
        directory,
        name=name,
        key=SecretKey.load(identity) if identity else None,
        private=private,
        owner_secret=load_secret(owner_secret_file) if owner_secret_file else None,
        upstream=PublicKey.parse(upstream).hex if upstream else None,
        model=model,
        k=k,
        n=n,
        cdc_cap=cdc_cap,
        code_limit=code_limit,
    )
    author = repo.config.key.public_key
    data = {"path": str(repo.dir), "name": repo.config.name, "author": author.hex, "npub": author.npub,
            "private": repo.owner_secret is not None}  # fmt: skip
    _emit(as_json, data, f"initialized {repo.dir} ({repo.config.name}) as {author.npub}")


PartOpt = Annotated[
    str | None, typer.Option("--part", help="One part: code, params, train-data or val-data.")
]


@app.command("add")
def add_command(
    path: Annotated[str, typer.Argument(help="File inside the work tree.")],
    part: Annotated[str, typer.Option("--part", help="code, params, train-data or val-data.")],
    as_json: JsonOpt = False,
) -> None:
    """Track a file as the work-tree file of a part (each part is versioned separately)."""
    rel = worktree.add(_repo(), part, path)
    _emit(as_json, {"part": part, "path": rel}, f"tracking {rel} as {part}")


@app.command("status")
def status_command(as_json: JsonOpt = False) -> None:
    """Show the branch, HEAD and whether each part's file differs from it."""
    current = worktree.status(_repo())
    where = f"on {current.branch}" if current.branch else "HEAD detached"
    head = current.head[:12] if current.head else "(no commits)"
    lines = [f"{where} at {head}"]
    lines += [f"{part:10} {info['path']}: {info['state']}" for part, info in current.parts.items()]
    _emit(as_json, current.to_dict(), "\n".join(lines))


def _pairs(values: list[str], option: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key or not rest:
            raise UnknownPartError(f"{option} {value!r}: write PART=VALUE, e.g. val-data=master")
        out[key] = rest
    return out


@app.command("commit")
def commit_command(
    message: Annotated[str, typer.Option("-m", "--message", help="Commit message.")],
    full: Annotated[
        bool, typer.Option("--full", help="Store the whole model, not a delta (a new foundation).")
    ] = False,
    part: Annotated[
        list[str], typer.Option("--part", help="Record only this part's file (repeatable).")
    ] = [],  # noqa: B006
    use: Annotated[
        list[str], typer.Option("--use", help="PART=REV: take that commit's (or package's) version as is.")
    ] = [],  # noqa: B006
    as_json: JsonOpt = False,
) -> None:
    """Record the changed parts of the work tree as a new version."""
    created = worktree.commit(_repo(), message, full=full, parts=part or None, use=_pairs(use, "--use"))
    parts = {p: v.manifest for p, v in created.commit.parts.items()}
    data = {
        "commit": created.id,
        "storage": created.params.storage,
        "base": created.params.base,
        "parts": parts,
    }
    repo = _repo()
    changed = [p for p in created.commit.parts if history.changed_part(repo, created, p)]
    data["changed"] = changed
    _emit(
        as_json,
        data,
        f"[{created.id[:12]}] {message} ({created.params.storage}) [{','.join(changed)}]",
    )


@app.command("log")
def log_command(
    rev: Annotated[str, typer.Argument(help="Start from this commit.")] = "HEAD",
    part: PartOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List commits reachable from HEAD (or REV), newest first (--part: those that changed it)."""
    repo = _repo()
    if part is not None:
        check_part(part)
    entries = history.log(repo, repo.resolve(rev), part)
    rows = [{"commit": cid, "parents": c.commit.parents, "author": c.commit.author, "time": c.commit.time,
             "message": c.commit.message, "storage": c.params.storage, "size": c.params.size,
             "parts": {p: {"manifest": v.manifest, "sha256": v.sha256, "size": v.size} for p, v in c.commit.parts.items()}}
            for cid, c in entries]  # fmt: skip
    for row, (_, c) in zip(rows, entries, strict=True):
        row["changed"] = [p for p in c.commit.parts if history.changed_part(repo, c, p)]
    lines = []
    for row in rows:
        when = datetime.datetime.fromtimestamp(row["time"], datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
        merge = f" merge {' '.join(p[:12] for p in row['parents'])}" if len(row["parents"]) > 1 else ""
        changed = ",".join(row["changed"])
        lines.append(
            f"{row['commit'][:12]} {when} {row['author'][:12]} ({row['storage']}){merge} [{changed}]  {row['message']}"
        )
    _emit(as_json, rows, "\n".join(lines))


@app.command("diff")
def diff_command(
    a: Annotated[str | None, typer.Argument(help="From (default HEAD).")] = None,
    b: Annotated[str | None, typer.Argument(help="To (default the work tree).")] = None,
    part: PartOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Parameter groups changed, added or removed, with magnitudes (--part: that part)."""
    if part not in (None, "params"):
        d = worktree.diff_part(_repo(), part, a, b)
        text = f"{d.part}: {d.status}"
        if d.chunks:
            text += " ({chunks_b} chunks, {shared_bytes} bytes shared, {new_bytes} new, {dropped_bytes} dropped)".format(
                **d.chunks
            )
        text += f"\n{d.text}" if d.text else ""
        _emit(as_json, d.to_dict(), text)
        return
    rows = worktree.diff(_repo(), a, b)
    lines = []
    for d in rows:
        extra = f" rel={d.relative:.3g} l2={d.l2:.3g} max={d.max_abs:.3g}" if d.relative is not None else ""
        lines.append(f"{d.status:8} {d.group} ({d.tensors} tensors, {d.numel} values){extra}")
    _emit(as_json, [d.to_dict() for d in rows], "\n".join(lines) or "no changes")


@app.command("checkout")
def checkout_command(
    rev: Annotated[str, typer.Argument(help="A commit id (prefix) or `master`.")],
    part: PartOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a version into the work tree (refuses uncommitted changes); --part: only that part's
    file, HEAD stays."""
    target = worktree.checkout(_repo(), rev, part=part)
    what = f"the {part} part of " if part else ""
    _emit(as_json, {"commit": target, "part": part}, f"checked out {what}{rev} ({target[:12]})")


def _group_options(values: list[str]) -> dict[str, str]:
    out = {}
    for value in values:
        group, sep, strategy = value.partition("=")
        if not sep or not group:
            raise UnknownGroupError(f"--group {value!r}: write GROUP=STRATEGY, e.g. layers.0=ours")
        out[group] = strategy
    return out


@app.command("merge")
def merge_command(
    a: Annotated[str, typer.Argument(help="Ours.")],
    b: Annotated[str, typer.Argument(help="Theirs.")],
    strategy: Annotated[
        str, typer.Option(help="For conflicting groups: average, ours or theirs.")
    ] = "average",
    group: Annotated[
        list[str], typer.Option("--group", help="GROUP=STRATEGY for one group (repeatable).")
    ] = [],  # noqa: B006
    message: Annotated[str | None, typer.Option("-m", "--message")] = None,
    take: Annotated[
        list[str], typer.Option("--take", help="PART=ours|theirs for a code/data part changed on both sides.")
    ] = [],  # noqa: B006
    as_json: JsonOpt = False,
) -> None:
    """Merge two versions into a new commit: params per parameter group (conflicts resolved by
    strategy), other parts whole (a part changed on both sides needs --take)."""
    created, report = worktree.merge(
        _repo(),
        a,
        b,
        strategy=strategy,
        groups=_group_options(group),
        message=message,
        take=_pairs(take, "--take"),
    )
    lines = [f"[{created.id[:12]}] merged"]
    lines += [f"part {p}: {side}" for p, side in sorted(report.parts.items())]
    lines += [f"conflict {g}: resolved by {s}" for g, s in sorted(report.conflicts.items())]
    lines += [f"note: {n}" for n in report.notes]
    _emit(as_json, {"commit": created.id, **report.to_dict()}, "\n".join(lines))


@app.command("rebase")
def rebase_command(
    onto: Annotated[
        str | None, typer.Argument(help="New foundation commit (default: the fetched upstream head).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Carry HEAD's fine-tune over to a newer foundation version."""
    created, notes = worktree.rebase(_repo(), onto)
    text = "\n".join([f"[{created.id[:12]}] {created.commit.message}", *(f"note: {n}" for n in notes)])
    _emit(as_json, {"commit": created.id, "base": created.params.base, "notes": notes}, text)


@relay_app.command("add")
def relay_add_command(
    relay: Annotated[str, typer.Argument(help="Relay URL (http://, ws://) or relay public key (npub/hex).")],
    fetch: Annotated[bool, typer.Option("--fetch", help="Fetch from it only.")] = False,
    push: Annotated[bool, typer.Option("--push", help="Push to it only.")] = False,
    operator: Annotated[
        str | None, typer.Option(help="Who runs it (relays of one operator count once).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a relay (both directions unless --fetch or --push)."""
    added = remote.relay_add(_repo(), relay, fetch=fetch, push=push, operator=operator)
    _emit(as_json, added.__dict__, f"{added.url}: fetch={added.fetch} push={added.push}")


@relay_app.command("remove")
def relay_remove_command(
    relay: Annotated[str, typer.Argument(help="Relay URL or public key.")],
    fetch: Annotated[bool, typer.Option("--fetch", help="Stop fetching from it only.")] = False,
    push: Annotated[bool, typer.Option("--push", help="Stop pushing to it only.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Stop using a relay for fetch, push, or both."""
    removed = remote.relay_remove(_repo(), relay, fetch=fetch, push=push)
    _emit(as_json, removed.__dict__, f"{removed.url}: fetch={removed.fetch} push={removed.push}")


@relay_app.command("list")
def relay_list_command(as_json: JsonOpt = False) -> None:
    """List the configured relays."""
    relays = _repo().config.relays
    lines = [
        f"{r.url} {'fetch' if r.fetch else ''} {'push' if r.push else ''} ({r.operator})" for r in relays
    ]
    _emit(as_json, [r.__dict__ for r in relays], "\n".join(lines) or "no relays; agigit relay add URL")


@app.command("push")
def push_command(
    force: Annotated[
        bool, typer.Option("--force", help="Replace a relay head HEAD does not descend from.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Send new versions' shards to the push relays and announce the head."""
    with _progress(not as_json, "push") as progress:
        summary = remote.push(_repo(), force=force, progress=progress)
    text = f"pushed {len(summary.pushed)} commit(s); head {summary.head[:12]} announced on {len(summary.announced)} relay(s)"
    text += "".join(f"\nwarning: {url}: {why}" for url, why in summary.failed.items())
    _emit(as_json, summary.to_dict(), text)


@app.command("fetch")
def fetch_command(as_json: JsonOpt = False) -> None:
    """Download the upstream head and the versions it needs from any k shards."""
    with _progress(not as_json, "fetch") as progress:
        summary = remote.fetch(_repo(), progress=progress)
    _emit(
        as_json,
        summary.to_dict(),
        f"fetched {len(summary.fetched)} commit(s); upstream at {summary.head[:12]}",
    )


@app.command("pull")
def pull_command(
    rev: Annotated[
        str | None, typer.Argument(help="Commit to fast-forward to (default: upstream head).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch, then fast-forward HEAD and the work tree."""
    with _progress(not as_json, "fetch") as progress:
        summary, head = remote.pull(_repo(), rev, progress=progress)
    _emit(
        as_json,
        {**summary.to_dict(), "checked_out": head},
        f"fetched {len(summary.fetched)} commit(s); at {head[:12]}",
    )


@app.command("genemap")
def genemap_command(
    rev: Annotated[str | None, typer.Argument(help="Commit to map (default: the work tree).")] = None,
    against: Annotated[
        list[str] | None,
        typer.Option("--against", help="Candidate ancestor commit; repeat (default: foundations)."),
    ] = None,
    png: Annotated[Path | None, typer.Option("--png", help="Write the heat map here.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Per-layer gene map of a version and its nearest foundation (agihub.powoc.genemap)."""
    from agihub.agigit.genemap import genemap

    result = genemap(_repo(), rev, against, png)
    text = result["text"] + (f"\nheat map: {result['png']}" if result["png"] else "")
    _emit(as_json, {k: v for k, v in result.items() if k != "text"}, text)


def main(argv: list[str] | None = None) -> int:
    """Run agigit; an :class:`AgihubError` becomes one ``error:`` line and exit status 1."""
    from agihub.cli.main import run

    return run(app, argv, "agigit")


if __name__ == "__main__":
    sys.exit(main())
