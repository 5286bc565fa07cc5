"""Fixtures shared by the program's test modules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rollout.offline.engine import ProgramRun
from tests.support.project import run_stack, set_app


@pytest.fixture
def active(project: Path) -> Any:
    """Run the production stack with its app's blue/green ``active`` colour set (green: 1.5.0)."""

    def run(colour: str) -> ProgramRun:
        set_app(
            project,
            "production",
            blueGreen={"active": colour, "greenImage": "ghcr.io/example/flutter-app:1.5.0"},
        )
        return run_stack(project, "production")

    return run
