"""Shared fixtures."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

from tests.e2e.sandbox import RUN_ID, stop_sandbox_of_run
from tests.support.project import PROJECT_FILES, ROOT


def _controller(config: pytest.Config) -> bool:
    """The process that runs the session (not an xdist worker)."""
    return not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    # One id for the whole run, inherited by xdist's workers: the sandbox remembers the run that
    # started it, and that run's controller stops it at the end.
    if _controller(config):
        os.environ.setdefault(RUN_ID, uuid.uuid4().hex)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _controller(session.config):
        stop_sandbox_of_run(os.environ.get(RUN_ID, ""))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's Pulumi files to edit (the code is imported from the repository)."""
    for name in PROJECT_FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(
        ROOT / "policies", tmp_path / "policies", ignore=shutil.ignore_patterns("venv", "__pycache__")
    )
    return tmp_path
