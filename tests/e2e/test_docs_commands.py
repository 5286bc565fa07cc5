"""The README's "Try it locally" and every command example in docs/operations.md, run exactly as
written, in the order a reader meets them, in one shell, in a fresh copy of the repository
against the sandbox: the docs cannot drift from the tool.

A ```sh block preceded by ``<!-- docs-test: skip (reason) -->`` is not run (it needs a stack the
sandbox does not have, or a person typing a value); every other ```sh block is.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.sandbox import ROOT, Project, Sandbox

BLOCK = re.compile(
    r"^(?:<!-- docs-test: skip \((?P<reason>[^)]+)\) -->\n)?```sh\n(?P<body>.*?)^```$", re.S | re.M
)
STACK = "dev"
NAMESPACE = "flutter-app-dev"
TIMEOUT_S = 1800


def shell_blocks(markdown: str) -> list[tuple[str, str | None]]:
    """Every ```sh block of a page: (its text, the reason it is skipped or None)."""
    return [(match["body"], match["reason"]) for match in BLOCK.finditer(markdown)]


def runnable(page: str) -> list[str]:
    return [body for body, reason in shell_blocks((ROOT / page).read_text()) if reason is None]


def repository_copy(target: Path) -> Path:
    """What a fresh clone holds (the working tree's tracked and new files), as a git repository
    of its own, with this checkout's installed virtualenv as its .venv."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    identity = {"GIT_AUTHOR_NAME": "docs", "GIT_AUTHOR_EMAIL": "docs@127.0.0.1"}
    git_env = {
        **os.environ,
        **identity,
        "GIT_COMMITTER_NAME": "docs",
        "GIT_COMMITTER_EMAIL": "docs@127.0.0.1",
    }
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "copy"]):
        subprocess.run(["git", *argv], cwd=target, env=git_env, check=True, capture_output=True)
    # A link, which .gitignore's `.venv/` (a directory) does not cover.
    (target / ".venv").symlink_to(ROOT / ".venv")
    (target / ".git" / "info" / "exclude").write_text(".venv\n")
    return target


def test_the_readme_and_the_operations_page_run_as_written(sandbox: Sandbox, tmp_path: Path) -> None:
    if not list((ROOT / ".venv").glob(".installed-test-*")):
        pytest.fail("run `./dev.sh test` once: the copy's ./dev.sh must find .venv installed", pytrace=False)
    copy = repository_copy(tmp_path / "clone")
    project = Project(sandbox, copy)
    stacks = json.loads(project.pulumi("stack", "ls", "--json").stdout)
    assert not any(stack["name"] == STACK for stack in stacks), (
        "a 'dev' stack is already in the running sandbox (someone's \"Try it locally\"?): "
        "`./dev.sh sandbox stop`, or `pulumi destroy` and `pulumi stack rm` it, first"
    )
    readme = runnable("README.md")
    operations = runnable("docs/operations.md")
    assert len(readme) == 2 and len(operations) >= 4, (readme, operations)
    # Try it, everything on the operations page, then the README's clean-up.
    script = "\n".join(["set -eo pipefail", "set -x", readme[0], *operations, readme[1]])
    try:
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=copy,
            env=sandbox.shell_before_start(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    finally:
        if any(
            stack["name"] == STACK for stack in json.loads(project.pulumi("stack", "ls", "--json").stdout)
        ):
            project.pulumi("destroy", "--yes", "--stack", STACK, check=False)
            project.pulumi("stack", "rm", "--yes", "--force", STACK, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    # What each part showed the reader.
    assert re.search(r"deployment\.apps/flutter-app\s", output), output[-6000:]
    assert "release flutter-app 1.4.3" in output
    assert re.search(r"rollback to version 1 \(from 2\)", output), output[-6000:]
    assert "Pulumi.dev.yaml differs from the config" in output
    # The clean-up left nothing: no stack, no namespace, the stack file as committed.
    assert not any(
        stack["name"] == STACK for stack in json.loads(project.pulumi("stack", "ls", "--json").stdout)
    )
    namespaces = sandbox.kubectl("get", "namespaces", "-o", "name").stdout.split()
    assert f"namespace/{NAMESPACE}" not in namespaces
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=copy, capture_output=True, text=True, check=True
    )
    assert status.stdout.strip() == "", status.stdout


def test_every_skipped_block_says_why() -> None:
    for page in ("README.md", "docs/operations.md"):
        text = (ROOT / page).read_text()
        marked = re.findall(r"<!-- docs-test: skip(.*?)-->", text)
        assert all(re.fullmatch(r" \(.+\) ", reason) for reason in marked), (page, marked)
        assert len(marked) == sum(reason is not None for _, reason in shell_blocks(text))
