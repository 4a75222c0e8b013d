"""Scores on a content-addressed validation corpus (a repository's val-data part): the corpus is
named by its sha256, so a recomputation needs exactly the same bytes."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from agihub.powoc import ValidationSpec, score_contribution
from agihub.powoc.corpus import register_corpus
from agihub.powoc.errors import ScoreParameterError, ValidationSetMismatch


def _val_bytes() -> bytes:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return b"\n".join(
        (stdlib / "json" / name).read_bytes() for name in ("decoder.py", "encoder.py", "scanner.py")
    )


def test_a_registered_corpus_scores_reproducibly(models, seed) -> None:  # type: ignore[no-untyped-def]
    name = register_corpus(_val_bytes())
    spec = ValidationSpec(corpus=name, seed=seed, n_bytes=1024)
    first = score_contribution(models.parent, models.child, spec, compression="lossless")
    again = score_contribution(
        models.parent,
        models.child,
        ValidationSpec(corpus=register_corpus(_val_bytes()), seed=seed, n_bytes=1024),
        compression="lossless",
    )
    assert first.digest() == again.digest()
    assert first.validation["corpus_sha256"] == name.removeprefix("sha256:")


def test_unloaded_or_other_bytes_are_refused(seed) -> None:  # type: ignore[no-untyped-def]
    from agihub.powoc.corpus import sample

    with pytest.raises(ScoreParameterError, match="is not loaded"):
        sample(ValidationSpec(corpus="sha256:" + "ab" * 32, seed=seed))
    with pytest.raises(ScoreParameterError, match="unknown corpus"):
        ValidationSpec(corpus="sha256:xyz", seed=seed)
    name = register_corpus(b"some validation text " * 100)
    pinned = ValidationSpec(corpus=name, seed=seed, n_bytes=256, commitment="00" * 32)
    with pytest.raises(ValidationSetMismatch):
        sample(pinned)
    with pytest.raises(ScoreParameterError, match="must not be empty"):
        register_corpus(b"")


def test_cli_scores_on_a_validation_file(models, seed, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    val = tmp_path / "val.jsonl"
    val.write_bytes(_val_bytes())
    argv = ["score", str(models.parent), str(models.child), "--val-seed", seed.hex(), "--n-bytes", "1024",
            "--val-file", str(val), "--compression", "lossless", "--json"]  # fmt: skip
    code, text, err = cli(*argv)
    assert code == 0, err
    record = json.loads(text)
    assert record["validation"]["corpus_sha256"] == register_corpus(_val_bytes()).removeprefix("sha256:")
