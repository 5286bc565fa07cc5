"""A rolling app released through `rollout` on the real engine, and what goes wrong around a
release: a second release while one runs, Ctrl-C during a real `pulumi up`, and the gate's
Prometheus going away mid-gate."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.e2e.processes import gone
from tests.e2e.sandbox import Project
from tests.e2e.stacks import APP, GATE_SPEC, namespace, sandbox_config
from tests.e2e.standins import Router, tracks
from tests.support.app import Faults, FaultyApp, ScriptedServer
from tests.support.prometheus import Prometheus

NAMESPACE = namespace("rolling")
REPO = "ghcr.io/example/flutter-app"
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


@pytest.fixture(scope="module")
def rolling(e2e_project: Project, prometheus: Prometheus) -> Iterator[Rolling]:
    with tracks(prometheus, NAMESPACE, APP, ("live",)) as apps:
        service = Router(lambda _headers: "live", apps)
        service.start_traffic()
        config = sandbox_config("test", NAMESPACE, service.url, gate={"url": service.url, "spec": GATE_SPEC})
        config["prometheusUrl"] = prometheus.url
        # Unbound (no cluster.apiServer), as dev and test stacks may be: the step check is what
        # keeps a wrong KUBECONFIG from moving it.
        stack = e2e_project.new_stack("rolling", config, bind=False)
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


def test_an_unbound_stack_refuses_a_step_that_would_replace_the_provider(
    rolling: Rolling, tmp_path: Path
) -> None:
    project, stack = rolling.project, rolling.stack
    elsewhere = project.sandbox.env_elsewhere(tmp_path)
    before, history, image = (
        project.sandbox.inventory(NAMESPACE),
        project.history(stack),
        rolling.configured_image(),
    )
    result = project.rollout("release", "--stack", stack, "--image", f"{REPO}:1.5.5", "--yes", env=elsewhere)
    assert result.returncode == 1, result.stdout + result.stderr
    err = result.stderr
    assert "refused before anything changed" in err and "The Kubernetes provider would be replaced" in err
    assert "pulumi:providers:kubernetes cluster-k8s: create-replacement/replace/delete-replaced" in err
    assert "kubernetes:core/v1:Namespace test-namespace: create-replacement" in err
    # The documented rollback, with the same KUBECONFIG, is refused the same way.
    result = project.rollout("rollback", "--stack", stack, "--previous", "--yes", env=elsewhere)
    assert result.returncode == 1 and "refused before anything changed" in result.stderr, result.stderr
    assert project.sandbox.inventory(NAMESPACE) == before and project.history(stack) == history
    assert rolling.configured_image() == image


def test_a_second_release_while_one_runs_is_refused_and_changes_nothing(rolling: Rolling) -> None:
    first, seen = rolling.release(f"{REPO}:1.6.0"), list[str]()
    wait_for_line(first, r"\[gate flutter-app-live\] 1:", seen)  # its `up` holds the lock now
    second = rolling.project.rollout("release", "--stack", rolling.stack, "--image", f"{REPO}:1.7.0", "--yes")
    code, output = finish(first, seen)
    assert code == 0, output
    assert second.returncode == 1, second.stdout + second.stderr
    assert "which still runs" in second.stderr and "an update may be running" in second.stderr
    assert rolling.configured_image() == f"{REPO}:1.6.0"
    assert rolling.image() == f"{REPO}:1.6.0"
    messages = [h.get("message", "") for h in rolling.project.history(rolling.stack)]
    assert messages[0] == "release flutter-app 1.6.0: rolling update"
    assert not any("1.7.0" in m for m in messages)


def test_dry_run_and_refusals_change_nothing(rolling: Rolling) -> None:
    project, stack = rolling.project, rolling.stack
    history, image = project.history(stack), rolling.configured_image()
    dry = project.rollout("release", "--stack", stack, "--image", f"{REPO}:2.0.0", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "rolling update" in dry.stdout and "dry run: nothing changed" in dry.stderr
    refused = [
        (("--image", "not an image!"), "--image"),
        (("--image", f"{REPO}:2.0.0", "--strategy", "canary"), "configured for rolling"),
        (("--image", f"{REPO}:2.0.0", "--app", "nope"), "no app 'nope'"),
    ]
    for args, message in refused:
        result = project.rollout("release", "--stack", stack, *args, "--yes")
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr
    same = project.rollout("release", "--stack", stack, "--image", image, "--yes")
    assert same.returncode == 0 and "nothing to release" in same.stdout
    assert project.history(stack) == history
    assert rolling.configured_image() == image


def test_history_needs_no_passphrase(rolling: Rolling) -> None:
    env = {**rolling.project.sandbox.env, "PULUMI_CONFIG_PASSPHRASE_FILE": "", "PULUMI_CONFIG_PASSPHRASE": ""}
    table = rolling.project.rollout("history", "--stack", rolling.stack, env=env)
    assert table.returncode == 0, table.stderr
    header, newest = table.stdout.splitlines()[:2]
    assert header.split()[:3] == ["VERSION", "KIND", "RESULT"]
    tag = rolling.configured_image().rsplit(":", 1)[1]
    assert newest.split()[1:3] == ["update", "succeeded"] and f"flutter-app {tag}" in newest
    listed = rolling.project.rollout("history", "--stack", rolling.stack, "--json", "--limit", "1", env=env)
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 1


def test_a_missing_stack_and_a_stack_without_history_are_bad_input(rolling: Rolling) -> None:
    project = rolling.project
    missing = project.rollout("history", "--stack", "no-such-stack")
    assert missing.returncode == 2 and "stack 'no-such-stack' not found" in missing.stderr
    empty = project.new_stack("empty", sandbox_config("test", namespace("empty"), "http://127.0.0.1:9"))
    result = project.rollout("rollback", "--stack", empty, "--previous", "--yes")
    assert result.returncode == 2 and "no history" in result.stderr


def test_a_rollback_while_a_release_runs_is_refused_and_changes_nothing(rolling: Rolling) -> None:
    release, seen = rolling.release(f"{REPO}:1.6.5"), list[str]()
    wait_for_line(release, r"\[gate flutter-app-live\] 1:", seen)
    rollback = rolling.project.rollout("rollback", "--stack", rolling.stack, "--previous", "--yes")
    code, output = finish(release, seen)
    assert code == 0, output
    assert rollback.returncode == 1 and "which still runs" in rollback.stderr
    assert rolling.configured_image() == rolling.image() == f"{REPO}:1.6.5"
    assert not any(
        h.get("message", "").startswith("rollback") for h in rolling.project.history(rolling.stack)
    )


def test_a_webhook_that_is_down_never_changes_the_exit_code(rolling: Rolling) -> None:
    result = rolling.project.rollout(
        "release",
        "--stack",
        rolling.stack,
        "--image",
        f"{REPO}:1.7.0",
        "--yes",
        env={**rolling.project.sandbox.env, "ROLLOUT_WEBHOOK_URL": "http://127.0.0.1:9/hook"},
    )
    assert result.returncode == 0, result.stderr
    assert "webhook delivery failed (connection failed)" in result.stderr
    assert "127.0.0.1:9" not in result.stderr  # the URL is a secret


def test_a_rollback_whose_gate_fails_exits_1_and_notifies(rolling: Rolling) -> None:
    webhook = ScriptedServer(lambda _r: (200, b"{}"))
    rolling.app.faults = Faults(status=503, paths=("/health",))
    try:
        # test needs no approval: no --yes, no terminal.
        result = rolling.project.rollout(
            "rollback",
            "--stack",
            rolling.stack,
            "--previous",
            env={**rolling.project.sandbox.env, "ROLLOUT_WEBHOOK_URL": webhook.url},
        )
    finally:
        rolling.app.faults = Faults()
        webhook.stop()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "gate failed: health gate 'flutter-app-live' fail" in result.stderr
    (posted,) = [r.json() for r in webhook.received]
    assert (posted["event"], posted["status"]) == ("rollback", "fail")
    assert rolling.project.history(rolling.stack)[0]["result"] == "failed"


def test_ctrl_c_during_a_real_up_puts_the_config_back_and_says_how_to_recover(rolling: Rolling) -> None:
    before = rolling.configured_image()
    process, seen = rolling.release(f"{REPO}:1.8.0"), list[str]()
    wait_for_line(process, r"\[gate flutter-app-live\] 1:", seen)
    root = psutil.Process(process.pid)
    tree = [root, *root.children(recursive=True)]  # the CLI runs in a session of its own
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    code, output = finish(process, seen)
    assert gone(tree, 120) == []
    assert code == 130, output
    assert "SIGINT: interrupted during step 1/1" in output
    assert f"rollout recover --stack {rolling.stack}" in output
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
