"""`rollout release --dry-run` and `rollout rollback --dry-run` where no `pulumi` CLI is installed:
the release is planned from the stack file; the rollback says that it needs the stack's history,
and what the stack file says runs now. Exit codes and messages as users see them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from rollout.cli import main
from tests.support.project import ROOT, edit_stack

NEW = "ghcr.io/example/flutter-app:1.5.0"


@pytest.fixture(autouse=True)
def no_pulumi_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def rollout(*argv: str, cwd: Path = ROOT) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--cwd", str(cwd), *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_release_dry_run_plans_blue_green_from_the_stack_file() -> None:
    code, out, err = rollout("release", "--stack", "production", "--image", NEW, "--dry-run")
    assert code == 0, err
    lines = out.splitlines()
    assert (
        lines[0] == f"release flutter-app: ghcr.io/example/flutter-app:1.4.2 -> {NEW} (blue-green, 2 steps)"
    )
    assert (
        '  1. deploy to idle colour green: up --message "release flutter-app 1.5.0: deploy to idle colour green (preview)"'
        in lines
    )
    assert f"       set flutter-app:apps.flutter-app.blueGreen.greenImage = {NEW}" in lines
    assert (
        '  2. switch to green: up --message "release flutter-app 1.5.0: switch live traffic to green"'
        in lines
    )
    assert "planned from Pulumi.production.yaml" in err and "no `pulumi` CLI on PATH" in err
    assert "nothing changed" in err


def test_release_dry_run_plans_a_canary_from_the_stack_file() -> None:
    code, out, err = rollout("release", "--stack", "staging", "--image", NEW, "--dry-run")
    assert code == 0, err
    steps = [
        line.split(":")[0].strip() for line in out.splitlines() if line.startswith("  ") and ". " in line[:6]
    ]
    assert steps == [
        "1. canary 5%",
        "2. canary 25%",
        "3. canary 50%",
        "4. canary 100%",
        "5. promote",
        "6. promote",
        "7. promote",
    ]


def test_release_dry_run_reads_the_stack_file_as_it_is_now(project: Path) -> None:
    edit_stack(
        project,
        "production",
        lambda c: c["flutter-app:apps"]["flutter-app"].update(blueGreen={"active": "green"}),
    )
    code, out, _ = rollout("release", "--stack", "production", "--image", NEW, "--dry-run", cwd=project)
    assert code == 0
    assert "deploy to idle colour blue" in out


def test_release_dry_run_refuses_a_bad_stack_file_naming_the_key(project: Path) -> None:
    edit_stack(project, "production", lambda c: c["flutter-app:apps"]["flutter-app"].update(replicas="six"))
    code, out, err = rollout("release", "--stack", "production", "--image", NEW, "--dry-run", cwd=project)
    assert (code, out) == (2, "")
    assert "flutter-app:apps.flutter-app.replicas" in err and "Traceback" not in err


def test_release_dry_run_of_an_unknown_stack_names_the_stacks() -> None:
    code, _, err = rollout("release", "--stack", "prod", "--image", NEW, "--dry-run")
    assert code == 2
    assert "stack 'prod' has no Pulumi.prod.yaml; stacks here: dev, production, staging, test" in err


def test_a_real_release_still_needs_the_cli() -> None:
    code, out, err = rollout("release", "--stack", "dev", "--image", NEW, "--yes")
    assert (code, out) == (2, "")
    assert "the `pulumi` CLI was not found on PATH" in err


def test_rollback_dry_run_says_it_needs_history_and_shows_what_runs_now() -> None:
    code, out, err = rollout("rollback", "--stack", "production", "--previous", "--dry-run")
    assert code == 2
    assert out.splitlines() == [
        "rollback stack production (--previous): cannot be planned here",
        "  now, per Pulumi.production.yaml: flutter-app 1.4.2 bg:blue",
    ]
    assert err.startswith("error: rollback needs the stack's history")
    assert "only the `pulumi` CLI reads from the stack's backend" in err
    assert "nothing was changed" in err
