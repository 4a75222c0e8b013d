"""The repository's promises to a newcomer: the README's commands are what CI runs, `make help` is whole."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["make demo", "make test"]
    ci = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert ci[-1] == "make test"


def test_make_help_lists_every_phony_target() -> None:
    makefile = (ROOT / "Makefile").read_text()
    phony = set(re.search(r"^\.PHONY:(.*)$", makefile, re.M).group(1).split())  # type: ignore[union-attr]
    helped = subprocess.run(
        ["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    listed = {line.split()[0] for line in helped.splitlines() if line.strip()}
    assert phony == listed
    required = {"install", "dev", "demo", "test", "test-full", "bench", "lint", "fmt", "clean", "help"}
    assert required <= listed


def test_env_example_documents_every_setting() -> None:
    from agihub_indexer.settings import IndexerSettings
    from agihub_services.api.settings import ApiSettings
    from agihub_services.config import CommonSettings
    from agihub_services.dev.settings import DevSettings
    from agihub_services.relay.settings import RelaySettings
    from agihub_worker.settings import WorkerSettings

    documented = (ROOT / ".env.example").read_text()
    for cls in (CommonSettings, ApiSettings, DevSettings, WorkerSettings, RelaySettings, IndexerSettings):
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            env = (
                field.validation_alias
                if isinstance(field.validation_alias, str)
                else f"{prefix}{name}".upper()
            )
            assert env in documented, f"{env} is missing from .env.example"
