"""Fixtures of the end-to-end tests: the sandbox (started, or reused when one is running, and
stopped when the test run that started it ends: tests/conftest.py) and a copy of the project to
create stacks in, one per test process.

Without the sandbox these tests are skipped, except under CI (``CI=true``), where that fails."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.sandbox import CACHE, Project, Sandbox, copy_project, start_sandbox
from tests.support.fixtures import prometheus

__all__ = ["e2e_project", "prometheus", "sandbox"]

CI = os.environ.get("CI", "").lower() == "true"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def sandbox() -> Sandbox:
    started = start_sandbox(CI)
    if isinstance(started, str):
        if CI:
            pytest.fail(f"the sandbox is required in CI: {started}", pytrace=False)
        pytest.skip(started)
    # mypy (Pulumi.yaml's typechecker) keeps its cache across runs, one per test process.
    started.env["MYPY_CACHE_DIR"] = str(CACHE / "mypy" / os.environ.get("PYTEST_XDIST_WORKER", "main"))
    return started


@pytest.fixture(scope="session")
def e2e_project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    copy = Project(sandbox, copy_project(tmp_path_factory.mktemp("project")))
    try:
        yield copy
    finally:
        # A sandbox these tests started is about to be removed whole; one that was running
        # before (someone's) gets its stacks destroyed.
        if not sandbox.owned:
            copy.remove_stacks()
