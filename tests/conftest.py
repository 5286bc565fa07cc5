"""Shared fixtures: a throw-away copy of the Pulumi project to edit stack config in, and a
runner for the real program under the SDK's mock monitor."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from rollout.offline.engine import ProgramRun, run_program
from rollout.offline.project import load_stack_config

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("dev", "test", "staging", "production")
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", *(f"Pulumi.{s}.yaml" for s in STACKS))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's Pulumi files (the code is imported from the repository)."""
    for name in PROJECT_FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def edit_stack(project: Path, stack: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Apply ``change`` to the ``config`` mapping of Pulumi.<stack>.yaml."""
    path = project / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text())
    change(document["config"])
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def run_stack(project_dir: Path, stack: str, secrets: dict[str, str] | None = None) -> ProgramRun:
    """Run the real program for ``stack``; ``secrets`` gives plaintext to `secure:` keys."""
    config = load_stack_config(project_dir, stack)
    values = dict(config.values)
    for key, value in (secrets or {}).items():
        values[key] = value
    config = type(config)(
        project=config.project,
        stack=config.stack,
        directory=config.directory,
        main=config.main,
        values=values,
        secret_keys=config.secret_keys | set(secrets or {}),
    )
    return run_program(config)
