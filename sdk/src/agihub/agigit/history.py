"""The commit graph: ancestors, merge bases, the log, and the foundation a delta is stored against."""

from __future__ import annotations

from collections import deque

from agihub.agigit.commit import Commit
from agihub.agigit.repository import Repository


def ancestors(repo: Repository, commit_id: str) -> dict[str, int]:
    """Every commit reachable from ``commit_id`` (itself included) → its distance in parent links."""
    seen: dict[str, int] = {commit_id: 0}
    queue = deque([commit_id])
    while queue:
        current = queue.popleft()
        for parent in repo.read_commit(current).commit.parents:
            if parent not in seen:
                seen[parent] = seen[current] + 1
                queue.append(parent)
    return seen


def is_ancestor(repo: Repository, maybe_ancestor: str, commit_id: str) -> bool:
    return maybe_ancestor in ancestors(repo, commit_id)


def merge_base(repo: Repository, a: str, b: str) -> str | None:
    """The common ancestor of ``a`` and ``b`` closest to them (None if the histories never meet)."""
    from_a, from_b = ancestors(repo, a), ancestors(repo, b)
    common = set(from_a) & set(from_b)
    if not common:
        return None
    # Prefer a common ancestor that is not itself an ancestor of another common one (a "best"
    # merge base in git's sense): one walk from the parents of every common commit finds all the
    # dominated ones. Ties are broken by distance then id so the answer is deterministic.
    dominated: set[str] = set()
    queue = deque(p for c in common for p in repo.read_commit(c).commit.parents)
    while queue:
        current = queue.popleft()
        if current not in dominated:
            dominated.add(current)
            queue.extend(repo.read_commit(current).commit.parents)
    best = (common - dominated) or common
    return min(best, key=lambda c: (from_a[c] + from_b[c], c))


def foundation(repo: Repository, commit_id: str) -> str:
    """The commit whose params are stored in full that ``commit_id`` builds on (itself if full)."""
    commit = repo.read_commit(commit_id)
    if commit.params.storage == "full":
        return commit_id
    return commit.params.base or commit_id


def log(repo: Repository, start: str, part: str | None = None) -> list[tuple[str, Commit]]:
    """Commits reachable from ``start``, newest first (by time, then id); with ``part``, only the
    commits that changed it (its version differs from the first parent's, or it first appears)."""
    reach = ancestors(repo, start)
    commits = [(cid, repo.read_commit(cid)) for cid in reach]
    if part is not None:
        commits = [(cid, c) for cid, c in commits if changed_part(repo, c, part)]
    return sorted(commits, key=lambda item: (-item[1].commit.time, reach[item[0]], item[0]))


def changed_part(repo: Repository, commit: Commit, part: str) -> bool:
    """True when ``commit`` names another version of ``part`` than its first parent (by content)."""
    mine = commit.commit.parts.get(part)  # type: ignore[call-overload]
    if not commit.commit.parents:
        return mine is not None
    theirs = repo.read_commit(commit.commit.parents[0]).commit.parts.get(part)  # type: ignore[call-overload]
    return (mine.sha256 if mine else None) != (theirs.sha256 if theirs else None)
