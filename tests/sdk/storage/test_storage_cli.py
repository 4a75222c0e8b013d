"""``agihub pack / unpack / verify`` through the real entry point (``agihub.cli.main.main``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from storage_testlib import small_tensors, write_model

import agihub.cli.main as cli_main
from agihub.identity import SecretKey


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    # The lead lists agihub.cli.storage in BUILTIN_MODULES; until then the tests add it themselves.
    if "agihub.cli.storage" not in cli_main.BUILTIN_MODULES:
        monkeypatch.setattr(cli_main, "BUILTIN_MODULES", (*cli_main.BUILTIN_MODULES, "agihub.cli.storage"))
    monkeypatch.delenv("AGIHUB_IDENTITY_FILE", raising=False)

    def _run(*args: str) -> tuple[int, str, str]:
        try:
            code = cli_main.main(list(args))
        except SystemExit as exc:  # click exits for usage errors and typer.Exit
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    return _run


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    ident = tmp_path / "pub.nsec"
    ident.write_text(SecretKey.generate().nsec)
    owner = tmp_path / "owner.key"
    owner.write_text("11" * 32)
    return {"model": write_model(tmp_path / "m.safetensors", small_tensors()), "id": ident, "owner": owner}


def test_public_pack_verify_unpack(run, files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(
        "pack",
        str(files["model"]),
        str(tmp_path / "pkg"),
        "--identity",
        str(files["id"]),
        "--name",
        "tiny",
        "--license",
        "mit",
        "--k",
        "2",
        "--n",
        "3",
        "--json",
    )
    assert code == 0, err
    packed = json.loads(out)
    assert packed["k"] == 2 and packed["n"] == 3 and packed["name"] == "tiny" and not packed["private"]
    code, out, _ = run("verify", str(tmp_path / "pkg" / "manifest.json"), "--json")
    report = json.loads(out)
    assert code == 0 and report["good"] == [0, 1, 2] and "embed" in report["tensor_names"]
    (tmp_path / "pkg" / "shard-000.bin").unlink()
    code, out, _ = run("unpack", str(tmp_path / "pkg" / "manifest.json"), str(tmp_path / "out.safetensors"))
    assert code == 0 and "rebuilt" in out
    assert (tmp_path / "out.safetensors").read_bytes() == files["model"].read_bytes()


def test_private_round_trip_and_key_errors(
    run, files, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AGIHUB_IDENTITY_FILE", str(files["id"]))
    code, _, err = run("pack", str(files["model"]), str(tmp_path / "pkg"), "--private")
    assert code == 1 and err.startswith("error: --private needs --key-file") and err.count("\n") == 1
    code, _, err = run(
        "pack", str(files["model"]), str(tmp_path / "pkg"), "--private", "--key-file", str(files["owner"])
    )
    assert code == 0, err
    manifest = str(tmp_path / "pkg" / "manifest.json")
    code, _, err = run("unpack", manifest, str(tmp_path / "out"))
    assert code == 1 and "private" in err and not (tmp_path / "out").exists()
    wrong = tmp_path / "wrong.key"
    wrong.write_text("22" * 32)
    code, _, err = run("unpack", manifest, str(tmp_path / "out"), "--key-file", str(wrong))
    assert code == 1 and "wrong key" in err and not (tmp_path / "out").exists()
    shards = sorted((tmp_path / "pkg").glob("shard-*.bin"))
    code, _, err = run(
        "unpack",
        manifest,
        str(tmp_path / "out"),
        "--key-file",
        str(files["owner"]),
        *[a for s in shards[2:] for a in ("--shard", str(s))],
    )
    assert code == 0, err
    assert (tmp_path / "out").read_bytes() == files["model"].read_bytes()


def test_errors_are_one_line_with_exit_1(run, files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run("pack", str(files["model"]), str(tmp_path / "a"))
    assert code == 1 and "no publisher key" in err and err.count("\n") == 1
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(files["model"].read_bytes()[:-3])
    code, _, err = run("pack", str(bad), str(tmp_path / "b"), "--identity", str(files["id"]))
    assert code == 1 and "follow" not in err and "past the end" in err
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())
    code, _, err = run(
        "pack", str(files["model"]), str(tmp_path / "c"), "--identity", str(files["id"]), "--k", "7"
    )
    assert code == 1 and "k <= n" in err


def test_tampered_manifest_and_corrupt_shard(run, files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("pack", str(files["model"]), str(tmp_path / "pkg"), "--identity", str(files["id"]))[0] == 0
    manifest = tmp_path / "pkg" / "manifest.json"
    shard = tmp_path / "pkg" / "shard-004.bin"
    data = bytearray(shard.read_bytes())
    data[-1] ^= 1
    shard.write_bytes(bytes(data))
    code, out, _ = run("verify", str(manifest), "--json")
    report = json.loads(out)
    assert code == 1 and report["good"] == [0, 1, 2, 3, 5] and report["recoverable"]
    assert "corrupt" in report["shards"][4]["problem"]
    manifest.write_bytes(manifest.read_bytes().replace(b'"version":"1"', b'"version":"2"'))
    code, _, err = run("verify", str(manifest))
    assert code == 1 and "signature does not verify" in err
