"""agigit benchmark (not a test): what the repository layer costs over the raw storage pipeline.

Run: ``.venv/bin/python tests/benchmarks/bench_agigit.py [MiB]`` (default 64 MiB model)

A float32 model of 16 layers is committed as a foundation, then a fine-tune that changes 2 of the
16 layers is committed (stored as a delta), both are pushed to two local relays (k=2, n=4) and
fetched into a second repository. Each agigit step is timed beside the same work done directly
with agihub.storage / agihub.delta / agihub.transfer in the same run (the anchor), on fresh relays
so nothing is deduplicated. The ratio agigit/anchor is the repository layer's overhead
(group hashing, file copies, commit objects, head announcement, checks on fetch).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from agihub.agigit import remote, worktree  # noqa: E402
from agihub.agigit.repository import Repository  # noqa: E402
from agihub.delta import encode_delta  # noqa: E402
from agihub.delta.tensors import Tensor, save  # noqa: E402
from agihub.identity import SecretKey  # noqa: E402
from agihub.storage import Card, PackOptions, pack_delta, pack_model  # noqa: E402
from agihub.transfer import RelayTarget, fetch_package, push_package  # noqa: E402
from tests.sdk.agigit.conftest import _relay  # noqa: E402

LAYERS, K, N = 16, 2, 4


def make_models(folder: Path, mib: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    per = mib * (1 << 20) // (LAYERS * 4 * 4)
    base = {
        f"layers.{i}.{p}": rng.standard_normal(per, dtype=np.float32) for i in range(LAYERS) for p in "abcd"
    }
    tuned = dict(base)
    for i in (3, 11):
        for p in "abcd":
            tuned[f"layers.{i}.{p}"] = (
                base[f"layers.{i}.{p}"] + rng.standard_normal(per, dtype=np.float32) * 1e-3
            )
    paths = folder / "base.safetensors", folder / "tuned.safetensors"
    for path, tensors in zip(paths, (base, tuned), strict=True):
        save({k: Tensor.from_array(v) for k, v in tensors.items()}, path)
    return paths


def timed(fn, *args, **kwargs) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def anchor(tmp: Path, base: Path, tuned: Path, relays: list) -> dict[str, float]:
    key, opts = SecretKey.generate(), PackOptions(k=K, n=N)
    t_pack, signed = timed(pack_model, base, tmp / "a1", key, Card(name="m"), options=opts)
    start = time.perf_counter()
    encode_delta(base, tuned, tmp / "d.delta")
    signed2 = pack_delta(tmp / "d.delta", tmp / "a2", key, Card(name="m", version="2"),
                         parent_root=signed.model_root, delta_encoding="agihub-delta/1", options=opts)  # fmt: skip
    t_delta = time.perf_counter() - start
    targets = [RelayTarget(url=r.http_url, operator=f"op{i}") for i, r in enumerate(relays)]
    start = time.perf_counter()
    reports = [push_package(tmp / d, targets, key) for d in ("a1", "a2")]
    t_push = time.perf_counter() - start
    start = time.perf_counter()
    for signed_x, report, name in ((signed, reports[0], "f1"), (signed2, reports[1], "f2")):
        fetch_package(signed_x, report.placements, tmp / f"w{name}", tmp / f"{name}.out")
    t_fetch = time.perf_counter() - start
    return {
        "commit foundation": t_pack,
        "commit fine-tune": t_delta,
        "push both": t_push,
        "fetch both": t_fetch,
    }


def agigit(tmp: Path, base: Path, tuned: Path, relays: list) -> dict[str, float]:
    alice = Repository.init(tmp / "alice", name="m", k=K, n=N)
    for i, r in enumerate(relays):
        remote.relay_add(alice, r.http_url, operator=f"op{i}")
    shutil.copyfile(base, alice.model_path)
    t_f, _ = timed(worktree.commit, alice, "foundation")
    shutil.copyfile(tuned, alice.model_path)
    t_d, _ = timed(worktree.commit, alice, "fine-tune")
    t_push, _ = timed(remote.push, alice)
    bob = Repository.init(tmp / "bob", name="m", upstream=alice.config.key.public_key.hex, k=K, n=N)
    for r in relays:
        remote.relay_add(bob, r.http_url, fetch=True)
    t_fetch, _ = timed(remote.fetch, bob)
    return {"commit foundation": t_f, "commit fine-tune": t_d, "push both": t_push, "fetch both": t_fetch}


def main() -> None:
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    with tempfile.TemporaryDirectory() as name, contextlib.ExitStack() as stack:
        tmp = Path(name)
        base, tuned = make_models(tmp, mib)
        relays_a = [stack.enter_context(_relay(tmp, f"ra{i}")) for i in range(2)]
        relays_b = [stack.enter_context(_relay(tmp, f"rb{i}")) for i in range(2)]
        raw = anchor(tmp, base, tuned, relays_a)
        ours = agigit(tmp, base, tuned, relays_b)
    print(f"agigit on a {mib} MiB float32 model, k={K} n={N}, two local relays (seconds)")
    print(f"{'step':20} {'agigit':>8} {'anchor':>8} {'ratio':>6}")
    for step in raw:
        print(f"{step:20} {ours[step]:8.2f} {raw[step]:8.2f} {ours[step] / raw[step]:6.2f}x")
    print(
        f"{'total':20} {sum(ours.values()):8.2f} {sum(raw.values()):8.2f} {sum(ours.values()) / sum(raw.values()):6.2f}x"
    )


if __name__ == "__main__":
    main()
