"""A rolling app released through `rollout` on the real engine, and what goes wrong around a
release: a second release while one runs, Ctrl-C during a real `pulumi up`, and the gate's
Prometheus going away mid-gate."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.sandbox import Project
from tests.e2e.stacks import APP, namespace, sandbox_config
from tests.e2e.standins import Router, tracks
from tests.support.app import FaultyApp
from tests.support.prometheus import Prometheus

NAMESPACE = namespace("rolling")
REPO = "ghcr.io/example/flutter-app"
GATE = {"interval": 2, "duration": 10, "max_hold": 20}
ROLLOUT = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "rollout")


@dataclass
class Rolling:
    project: Project
    stack: str
    app: FaultyApp

    def image(self) -> str:
        found = self.project.sandbox.get("deployment", APP, NAMESPACE)
        assert found is not None
        image: str = found["spec"]["template"]["spec"]["containers"][0]["image"]
        return image

    def configured_image(self) -> str:
        shown = self.project.pulumi("config", "get", "--path", f"apps.{APP}.image", stack=self.stack)
        return shown.stdout.strip()

    def release(self, image: str) -> subprocess.Popen[str]:
        """`rollout release` in a session of its own (its own process group, as a terminal's
        foreground job is), output to read as it comes."""
        return subprocess.Popen(
            [
                ROLLOUT,
                "--cwd",
                str(self.project.path),
                "release",
                "--stack",
                self.stack,
                "--image",
                image,
                "--yes",
            ],
            env=self.project.sandbox.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )


def wait_for_line(
    process: subprocess.Popen[str], pattern: str, seen: list[str], timeout: float = 300
) -> None:
    """Read the process's stderr (into ``seen``) until a line matches ``pattern``."""
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            raise AssertionError(f"output ended before {pattern!r}:\n{''.join(seen)}")
        seen.append(line)
        if re.search(pattern, line):
            return
    raise AssertionError(f"no {pattern!r} within {timeout} s:\n{''.join(seen)}")


def finish(process: subprocess.Popen[str], seen: list[str], timeout: float = 600) -> tuple[int, str]:
    _out, rest = process.communicate(timeout=timeout)
    return process.returncode, "".join(seen) + rest


def wait_group_gone(pgid: int, timeout: float = 120) -> None:
    """Every process of the group (the CLI, its plugins) has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    raise AssertionError(f"process group {pgid} still running after {timeout} s")


@pytest.fixture(scope="module")
def rolling(e2e_project: Project, prometheus: Prometheus) -> Iterator[Rolling]:
    with tracks(prometheus, NAMESPACE, APP, ("live",)) as apps:
        service = Router(lambda _headers: "live", apps)
        service.start_traffic()
        config = sandbox_config("test", NAMESPACE, service.url, gate={"url": service.url, "spec": GATE})
        config["prometheusUrl"] = prometheus.url
        stack = e2e_project.new_stack("rolling", config)
        e2e_project.pulumi("up", "--yes", "--skip-preview", stack=stack)
        try:
            yield Rolling(e2e_project, stack, apps["live"])
        finally:
            service.stop()


def test_rolling_release_gates_after_the_rollout(rolling: Rolling) -> None:
    result = rolling.project.rollout("release", "--stack", rolling.stack, "--image", f"{REPO}:1.5.0", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert rolling.image() == f"{REPO}:1.5.0"
    err = result.stderr
    # The Deployment's rollout completed (the provider awaited it) before the gate's first look.
    assert err.index("kubernetes:apps/v1:Deployment") < err.index("[gate flutter-app-live] 1:")
    state = rolling.project.export(rolling.stack)
    (gate,) = [r for r in state["deployment"]["resources"] if r["type"].endswith("gates:HealthGate")]
    assert gate["outputs"]["verdict"] == "pass"
    assert gate["outputs"]["trigger"]["image"] == f"{REPO}:1.5.0"


def test_a_second_release_while_one_runs_is_refused_and_changes_nothing(rolling: Rolling) -> None:
    first, seen = rolling.release(f"{REPO}:1.6.0"), list[str]()
    wait_for_line(first, r"\[gate flutter-app-live\] 1:", seen)  # its `up` holds the lock now
    second = rolling.project.rollout("release", "--stack", rolling.stack, "--image", f"{REPO}:1.7.0", "--yes")
    code, output = finish(first, seen)
    assert code == 0, output
    assert second.returncode == 1, second.stdout + second.stderr
    assert "locked by another update" in second.stderr
    assert rolling.configured_image() == f"{REPO}:1.6.0"
    assert rolling.image() == f"{REPO}:1.6.0"
    messages = [h.get("message", "") for h in rolling.project.history(rolling.stack)]
    assert messages[0] == "release flutter-app 1.6.0: rolling update"
    assert not any("1.7.0" in m for m in messages)


def test_ctrl_c_during_a_real_up_puts_the_config_back_and_says_how_to_recover(rolling: Rolling) -> None:
    before = rolling.configured_image()
    process, seen = rolling.release(f"{REPO}:1.8.0"), list[str]()
    wait_for_line(process, r"\[gate flutter-app-live\] 1:", seen)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    code, output = finish(process, seen)
    wait_group_gone(process.pid)
    assert code == 130, output
    assert "interrupted during step 1/1" in output
    assert "pulumi cancel" in output
    assert rolling.configured_image() == before
    # The next `up` converges whatever the interrupted one had already applied.
    rolling.project.pulumi("up", "--yes", "--skip-preview", stack=rolling.stack)
    assert rolling.image() == before


def test_prometheus_going_away_mid_gate_holds_then_fails_inconclusive(
    rolling: Rolling, tmp_path: Path
) -> None:
    project, stack = rolling.project, rolling.stack
    doomed = Prometheus(tmp_path / "prometheus")
    try:
        doomed.scrape(f"{NAMESPACE}-doomed", rolling.app.port, labels={"namespace": NAMESPACE, "app": APP})
        project.pulumi("config", "set", "prometheusUrl", doomed.url, stack=stack)
        project.pulumi("config", "set", "--path", f"apps.{APP}.gate.spec.max_hold", "6", stack=stack)
        process, seen = rolling.release(f"{REPO}:1.9.0"), list[str]()
        wait_for_line(process, r"\[gate flutter-app-live\] 1:", seen)
    finally:
        doomed.stop()
    code, output = finish(process, seen)
    assert code == 1, output
    assert "inconclusive" in output
    assert not re.search(r"health gate '\S+' pass", output)
    latest: dict[str, Any] = project.history(stack)[0]
    assert (latest["result"], latest["message"]) == ("failed", "release flutter-app 1.9.0: rolling update")
