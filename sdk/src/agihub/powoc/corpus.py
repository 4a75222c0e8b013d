"""Validation corpora that ship with Python, and the seeded validation-set sampler.

Corpora (bytes; their sha256 goes into every score record, since the text depends on the
Python release that ships it):

* ``python-stdlib`` — the domain corpus: the source of a fixed list of standard-library modules;
* ``pydoc-topics``  — the general corpus: the English language-reference topics in
  ``pydoc_data.topics``.

A validation set D is ``windows`` windows of ``window + 1`` bytes drawn from one corpus; the
first byte of each window is context only, so D holds ``windows * window`` scored bytes. Window
``i`` starts at ``int(sha256(DOMAIN ‖ seed ‖ i)) mod (len(corpus) - window)``. The seed is
32 bytes fixed *after* the contribution is registered — :meth:`ValidationSpec.from_registration`
derives it from the registration's block hash and the contribution id — so a contributor cannot
know which bytes will be scored when they publish (see README.md).
"""

from __future__ import annotations

import hashlib
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from agihub.powoc.errors import ScoreParameterError, ValidationSetMismatch

SEED_DOMAIN = b"agihub-powoc-validation-v1"
REGISTRATION_DOMAIN = b"agihub-powoc-seed-v1"
DEFAULT_WINDOW = 64
DEFAULT_BYTES = 65_536
MAX_BYTES = 1 << 26

# A fixed list keeps the corpus identical on every machine running the same Python release.
STDLIB_MODULES = (
    "argparse.py", "ast.py", "calendar.py", "configparser.py", "csv.py", "difflib.py",
    "email/message.py", "fractions.py", "gettext.py", "heapq.py", "ipaddress.py", "locale.py",
    "logging/__init__.py", "optparse.py", "pprint.py", "queue.py", "sched.py", "selectors.py",
    "tarfile.py", "tokenize.py", "uuid.py", "wave.py",
)  # fmt: skip


def _stdlib_text() -> bytes:
    root = Path(sysconfig.get_paths()["stdlib"])
    return b"\n".join((root / name).read_bytes() for name in STDLIB_MODULES)


def _pydoc_text() -> bytes:
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics)).encode("utf-8")


CORPORA = {"python-stdlib": _stdlib_text, "pydoc-topics": _pydoc_text}

#: Content-addressed corpora: ``sha256:<hex>`` names the bytes themselves, e.g. a repository's
#: committed ``val-data`` part (issue #10), so anyone recomputing a score needs exactly those bytes.
CONTENT_PREFIX = "sha256:"
_loaded: dict[str, bytes] = {}


def register_corpus(data: bytes) -> str:
    """Make ``data`` available as a corpus; returns its name ``sha256:<hex>``."""
    if not data:
        raise ScoreParameterError("a validation corpus must not be empty")
    name = CONTENT_PREFIX + hashlib.sha256(data).hexdigest()
    _loaded[name] = bytes(data)
    return name


def _is_content_name(corpus: str) -> bool:
    digest = corpus.removeprefix(CONTENT_PREFIX)
    return (
        corpus.startswith(CONTENT_PREFIX)
        and len(digest) == 64
        and all(c in "0123456789abcdef" for c in digest)
    )


def corpus_bytes(corpus: str) -> bytes:
    """The full text of a named or content-addressed corpus."""
    if _is_content_name(corpus):
        try:
            return _loaded[corpus]
        except KeyError:
            raise ScoreParameterError(
                f"corpus {corpus[:23]}… is not loaded: fetch the validation data with that sha256 and "
                "register it (agihub.powoc.corpus.register_corpus)"
            ) from None
    try:
        loader = CORPORA[corpus]
    except KeyError:
        raise ScoreParameterError(f"unknown corpus {corpus!r}; known: {sorted(CORPORA)}") from None
    return _named(loader)


@cache
def _named(loader: Callable[[], bytes]) -> bytes:
    return loader()


@cache
def corpus_sha256(corpus: str) -> str:
    """Hex sha256 of a named corpus."""
    return hashlib.sha256(corpus_bytes(corpus)).hexdigest()


@dataclass(frozen=True)
class ValidationSpec:
    """Everything that fixes a validation set D (and optionally what it must hash to).

    ``n_bytes`` is rounded up to whole windows. ``reference_bytes`` N (None: the corpus size |C|)
    is the data size the code-length saving measured on D is extrapolated to before the delta's
    cost is subtracted: the score estimates the metric on the whole corpus (see
    :mod:`agihub.powoc.metric`); ``reference_bytes = |D|`` gives the metric on D verbatim. ``corpus_sha256`` and ``commitment`` (the sha256 of D's bytes),
    when given, are checked: a mismatch raises :class:`ValidationSetMismatch`.
    """

    corpus: str
    seed: bytes
    n_bytes: int = DEFAULT_BYTES
    window: int = DEFAULT_WINDOW
    reference_bytes: int | None = None
    corpus_sha256: str | None = None
    commitment: str | None = None

    def __post_init__(self) -> None:
        if self.corpus not in CORPORA and not _is_content_name(self.corpus):
            raise ScoreParameterError(
                f"unknown corpus {self.corpus!r}; known: {sorted(CORPORA)} or sha256:<64 hex> of loaded data"
            )
        if not isinstance(self.seed, bytes) or len(self.seed) != 32:
            raise ScoreParameterError("seed must be exactly 32 bytes (e.g. a block hash)")
        for name in ("n_bytes", "window"):
            value = getattr(self, name)
            if type(value) is not int or not 1 <= value <= MAX_BYTES:
                raise ScoreParameterError(f"{name} must be an integer in 1..{MAX_BYTES}, got {value!r}")
        ref = self.reference_bytes
        if ref is not None and (type(ref) is not int or ref < 1):
            raise ScoreParameterError(f"reference_bytes must be an integer >= 1, got {ref!r}")

    @property
    def windows(self) -> int:
        """Number of windows in D."""
        return -(-self.n_bytes // self.window)

    @classmethod
    def from_registration(
        cls, block_hash: bytes, contribution_id: int, corpus: str = "python-stdlib", **options: Any
    ) -> ValidationSpec:
        """The spec a validator uses: seed = sha256(domain ‖ block hash ‖ contribution id as u256)."""
        if not isinstance(block_hash, bytes) or len(block_hash) != 32:
            raise ScoreParameterError("block_hash must be 32 bytes")
        if type(contribution_id) is not int or not 0 <= contribution_id < 2**256:
            raise ScoreParameterError(f"contribution_id must be a uint256, got {contribution_id!r}")
        seed = hashlib.sha256(REGISTRATION_DOMAIN + block_hash + contribution_id.to_bytes(32, "big")).digest()
        return cls(corpus=corpus, seed=seed, **options)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (seed as hex)."""
        return {"corpus": self.corpus, "seed": self.seed.hex(), "n_bytes": self.n_bytes, "window": self.window,
                "reference_bytes": self.reference_bytes, "corpus_sha256": self.corpus_sha256,
                "commitment": self.commitment}  # fmt: skip

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ValidationSpec:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(**{**raw, "seed": bytes.fromhex(raw["seed"])})
        except (KeyError, TypeError, ValueError) as exc:
            raise ScoreParameterError(f"not a validation spec: {exc}") from None


@dataclass(frozen=True)
class ValidationSet:
    """A sampled D: ``data`` holds ``windows`` rows of ``window + 1`` bytes back to back."""

    spec: ValidationSpec
    starts: tuple[int, ...]
    data: bytes = field(repr=False)
    corpus_sha256: str
    sha256: str
    corpus_bytes: int

    @property
    def scored_bytes(self) -> int:
        """|D|: bytes whose code length is counted (the first byte of each window is context)."""
        return len(self.starts) * self.spec.window


def sample(spec: ValidationSpec) -> ValidationSet:
    """Draw D from the corpus with the spec's seed; check the corpus and commitment if given."""
    text = corpus_bytes(spec.corpus)
    digest = corpus_sha256(spec.corpus)
    if spec.corpus_sha256 is not None and spec.corpus_sha256 != digest:
        raise ValidationSetMismatch(
            f"corpus {spec.corpus!r} here hashes to {digest[:16]}…, the spec commits to "
            f"{spec.corpus_sha256[:16]}… (another Python release ships other text)"
        )
    span = len(text) - spec.window
    if span < 1:
        raise ScoreParameterError(f"corpus {spec.corpus!r} is shorter than one window of {spec.window + 1}")
    starts = tuple(_start(spec.seed, i, span) for i in range(spec.windows))
    data = b"".join(text[s : s + spec.window + 1] for s in starts)
    set_sha = hashlib.sha256(data).hexdigest()
    if spec.commitment is not None and spec.commitment != set_sha:
        raise ValidationSetMismatch(
            f"validation set hashes to {set_sha[:16]}…, the commitment is {spec.commitment[:16]}…; "
            "the seed, window, size or corpus differ from the announced ones"
        )
    return ValidationSet(spec, starts, data, digest, set_sha, len(text))


def _start(seed: bytes, index: int, span: int) -> int:
    # A 256-bit hash modulo a span < 2**26 has a bias below 2**-230: uniform for every purpose.
    return (
        int.from_bytes(hashlib.sha256(SEED_DOMAIN + seed + index.to_bytes(8, "big")).digest(), "big") % span
    )
