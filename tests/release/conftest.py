"""Harness for CONTRACT tests: the real Automation API (``pulumi.automation``) and the real
`rollout` commands run against a stand-in `pulumi` executable (tests/release/fakecli) put first on
PATH. The stand-in speaks the CLI's documented JSON and records every call; it is not Pulumi, so
these tests check what we send and how we react, never what a real engine would do."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rollout.cli import Console, build_parser
from rollout.exit_codes import CommandError
from rollout.interaction import Terminal
from rollout.schedule import Traffic
from rollout.services import Services
from tests.release import fixtures as fx
from tests.support.project import ROOT

FAKE = Path(__file__).parent / "fakecli" / "fake_pulumi.py"
PASSPHRASE = "test-passphrase-TESTONLY"


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class FakeCli:
    project: Path
    state_path: Path
    calls_path: Path

    def state(self) -> dict[str, Any]:
        return json.loads(self.state_path.read_text())

    def save(self, state: dict[str, Any]) -> None:
        self.state_path.write_text(json.dumps(state, indent=2))

    def stack(self, name: str) -> dict[str, Any]:
        stack: dict[str, Any] = self.state()["stacks"][name]
        return stack

    def edit(self, name: str, change: Callable[[dict[str, Any]], None]) -> None:
        state = self.state()
        change(state["stacks"][name])
        self.save(state)

    def calls(self) -> list[dict[str, Any]]:
        if not self.calls_path.exists():
            return []
        return [json.loads(line) for line in self.calls_path.read_text().splitlines()]

    def argvs(self) -> list[list[str]]:
        """Each call's argv without the leading --non-interactive."""
        return [[a for a in c["argv"] if a != "--non-interactive"] for c in self.calls()]

    def writes(self) -> list[list[str]]:
        """Calls that change the stack: config writes and updates."""
        return [
            argv
            for argv in self.argvs()
            if argv[:1] == ["up"]
            or (argv[:1] == ["config"] and len(argv) > 1 and argv[1] in ("set", "set-all", "rm", "rm-all"))
        ]

    def up_messages(self) -> list[str]:
        return [argv[argv.index("--message") + 1] for argv in self.argvs() if argv[:1] == ["up"]]

    def reset_calls(self) -> None:
        self.calls_path.unlink(missing_ok=True)

    def run(
        self,
        *argv: str,
        tty: bool = False,
        answer: str = "",
        post: Any = None,
        env: dict[str, str] | None = None,
    ) -> Result:
        """Run a rollout command in-process with an injected terminal, environment and webhook."""
        out, err = io.StringIO(), io.StringIO()
        console = Console(out, err)
        services = Services(
            terminal=Terminal(io.StringIO(answer), lambda: tty),
            env={**os.environ, **(env or {})},
            post=post,
            # Never the stacks' Prometheus (not on 127.0.0.1): a canary plans its fixed steps.
            measure_traffic=lambda _url, _params, _token: Traffic(
                None, None, "not measured in contract tests"
            ),
        )
        try:
            args = build_parser().parse_args(["--cwd", str(self.project), *argv])
            code = int(args.handler(args, console, services))
        except CommandError as error:
            console.note(f"error: {error}")
            code = int(error.code)
        except KeyboardInterrupt:  # as rollout.cli.main maps it
            code = 130
        return Result(code, out.getvalue(), err.getvalue())


def initial_state() -> dict[str, Any]:
    production = {
        "config": fx.production_config(8),
        "history": fx.production_history(),
        "outputs": {"environment": "production"},
        "up": [],
    }
    staging_config = fx.base_config("staging")
    staging_config["flutter-app:apps"] = fx.obj({"flutter-app": {"image": f"{fx.IMAGE}:1.4.2"}})
    staging_config["flutter-app:firebaseApiKey"] = fx.secret(fx.FIREBASE_V7)
    dev_config = fx.base_config("dev")
    dev_config["flutter-app:apps"] = fx.obj({"flutter-app": {"image": f"{fx.IMAGE}:1.4.2"}})
    first = {
        "version": 1,
        "kind": "update",
        "startTime": "2026-11-20T09:00:00.000Z",
        "message": "first",
        "environment": {"git.head": "1" * 40},
        "result": "succeeded",
        "endTime": "2026-11-20T09:01:00.000Z",
        "resourceChanges": {"create": 12},
    }
    return {
        # 3.205: the newest CLI whose engine events the SDK reads from a file (newer ones stream
        # them over gRPC, which the stand-in does not speak).
        "version": "3.205.0",
        "passphrase": PASSPHRASE,
        "now": 1_795_000_000,
        "git_head": "a" * 40,
        "stacks": {
            "production": production,
            "staging": {
                "config": staging_config,
                "history": [{**first, "config": staging_config}],
                "outputs": {},
                "up": [],
            },
            "dev": {
                "config": dev_config,
                "history": [{**first, "config": dev_config}],
                "outputs": {},
                "up": [],
            },
            "empty": {"config": dev_config, "history": [], "outputs": {}, "up": []},
        },
    }


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeCli:
    """A project directory, the stand-in CLI first on PATH, and its state and call log."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "pulumi"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "{FAKE}" "$@"\n')
    shim.chmod(0o755)
    cli = FakeCli(project, tmp_path / "state.json", tmp_path / "calls.jsonl")
    cli.save(initial_state())
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_PULUMI_STATE", str(cli.state_path))
    monkeypatch.setenv("FAKE_PULUMI_CALLS", str(cli.calls_path))
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    for name in (
        "ROLLOUT_WEBHOOK_URL",
        "GATE_WEBHOOK_URL",
        "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK",
        "PULUMI_HOME",
    ):
        monkeypatch.delenv(name, raising=False)
    return cli
