"""Shared fixtures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.project import PROJECT_FILES, ROOT


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's Pulumi files to edit (the code is imported from the repository)."""
    for name in PROJECT_FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(
        ROOT / "policies", tmp_path / "policies", ignore=shutil.ignore_patterns("venv", "__pycache__")
    )
    return tmp_path
