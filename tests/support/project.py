"""Helpers to run the real program for a stack, and to edit a copy of its stack config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from rollout.offline.engine import ProgramRun, run_program
from rollout.offline.project import load_stack_config

ROOT = Path(__file__).resolve().parents[2]
STACKS = ("dev", "test", "staging", "production")
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", *(f"Pulumi.{s}.yaml" for s in STACKS))


def edit_stack(project: Path, stack: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Apply ``change`` to the ``config`` mapping of Pulumi.<stack>.yaml."""
    path = project / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text())
    change(document["config"])
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def set_app(project: Path, stack: str, **values: Any) -> None:
    """Update the settings of the app ``flutter-app`` in Pulumi.<stack>.yaml."""
    edit_stack(project, stack, lambda c: c["flutter-app:apps"]["flutter-app"].update(values))


def run_stack(project_dir: Path, stack: str, secrets: dict[str, str] | None = None) -> ProgramRun:
    """Run the real program for ``stack``; ``secrets`` gives plaintext to `secure:` keys."""
    config = load_stack_config(project_dir, stack)
    secrets = secrets or {}
    config = replace(
        config, values={**config.values, **secrets}, secret_keys=config.secret_keys | set(secrets)
    )
    return run_program(config)
