"""The committed val-data part feeds the PoWoC score (issue #10 item 3): a validator that fetches the
repository from relays scores on exactly the bytes the contributor committed, and gets the same score."""

from __future__ import annotations

import json
import shutil
import sysconfig
from pathlib import Path

import pytest

from agihub.agigit.repository import Repository
from tests.sdk.agigit.conftest import Cli

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def lm_models(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from tests.sdk.powoc.models_kit import train_models

    return train_models(tmp_path_factory.mktemp("lm"))


def _score_from_val_part(work: Path, commit: str, parent: Path, child: Path, seed: bytes):  # type: ignore[no-untyped-def]
    from agihub.powoc import ValidationSpec, score_contribution
    from agihub.powoc.corpus import register_corpus

    repo = Repository.find(work)
    with repo.materialized(commit, "val-data") as path:
        corpus = register_corpus(path.read_bytes())
    spec = ValidationSpec(corpus=corpus, seed=seed, n_bytes=1024)
    return score_contribution(parent, child, spec, compression="lossless"), corpus


def test_a_score_recomputed_from_the_committed_val_data_root_is_equal(
    cli: Cli, relays: list, tmp_path: Path, lm_models
) -> None:  # type: ignore[no-untyped-def]
    relay_a, relay_b = relays
    alice = tmp_path / "alice"
    cli.ok(tmp_path, "init", str(alice), "--name", "m", "--k", "2", "--n", "3", "--cdc-cap", "16384")
    shutil.copy(lm_models.child, alice / "model.safetensors")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    (alice / "val.txt").write_bytes((stdlib / "json" / "decoder.py").read_bytes() * 3)
    cli.ok(alice, "add", "--part", "val-data", "val.txt")
    cli.ok(alice, "relay", "add", relay_a.http_url, "--operator", "op-a")
    cli.ok(alice, "relay", "add", relay_b.http_url, "--operator", "op-b")
    commit = json.loads(cli.ok(alice, "commit", "-m", "fine-tune + its validation data", "--json"))["commit"]
    cli.ok(alice, "push")

    npub = Repository.find(alice).config.key.public_key.npub
    validator = tmp_path / "validator"
    cli.ok(tmp_path, "init", str(validator), "--name", "m", "--upstream", npub, "--k", "2", "--n", "3")
    cli.ok(validator, "relay", "add", "--fetch", relay_b.http_url)
    cli.ok(validator, "fetch")

    committed = Repository.find(alice).read_commit(commit).commit.parts["val-data"]
    fetched = Repository.find(validator).read_commit(commit).commit.parts["val-data"]
    assert fetched.model_root == committed.model_root, "the validator holds the committed val-data root"

    seed = bytes(range(32))
    original, corpus = _score_from_val_part(alice, commit, lm_models.parent, lm_models.child, seed)
    recomputed, corpus_again = _score_from_val_part(
        validator, commit, lm_models.parent, lm_models.child, seed
    )
    assert corpus == corpus_again == "sha256:" + committed.sha256
    assert recomputed.digest() == original.digest() and recomputed.score_bits == original.score_bits
