"""``agigit genemap``: the gene map of a version against the foundations in its history.

A thin bridge to :mod:`agihub.powoc.genemap`: the model is a commit (or the work tree), and unless
other versions are named, the candidates for its nearest ancestor are every commit reachable from
it whose params are stored in full (the foundation versions of this history).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agihub.agigit import history
from agihub.agigit.errors import MissingModelError
from agihub.agigit.repository import Repository


def foundations_of(repo: Repository, commit_id: str, *, include_self: bool) -> list[str]:
    """Full-stored commits reachable from ``commit_id``, newest first."""
    return [
        cid
        for cid, c in history.log(repo, commit_id)
        if c.params.storage == "full" and (include_self or cid != commit_id)
    ]


def genemap(
    repo: Repository, rev: str | None = None, against: Sequence[str] | None = None, png: Path | None = None
) -> dict[str, Any]:
    """Render the gene map of ``rev`` (default: the work tree) against ``against`` (default: its foundations)."""
    from agihub.powoc import genemap as gm

    head = repo.head()
    target_id = repo.resolve(rev) if rev else None
    start = target_id or head
    if against:
        others = [repo.resolve(r) for r in against]
    else:  # the work tree may descend from HEAD itself; a commit is not its own ancestor
        others = foundations_of(repo, start, include_self=target_id is None) if start else []
    with contextlib.ExitStack() as stack:
        if target_id is None:
            if not repo.model_path.is_file():
                raise MissingModelError(f"{repo.model_path} does not exist; name a commit instead")
            target = gm.fingerprint(repo.model_path, label="work tree")
        else:
            target = gm.fingerprint(stack.enter_context(repo.materialized(target_id)), label=target_id[:12])
        maps = [gm.fingerprint(stack.enter_context(repo.materialized(cid)), label=cid[:12]) for cid in others]
        return gm.render(target, maps, png)
