"""Faults around the release of a production-like blue/green stack, under the real engine, as an
on-call engineer meets them, and the one command that recovers each:

- a KUBECONFIG at a closed port: a stack bound to its cluster refuses to run (an unbound one
  refuses the step that would replace the Kubernetes provider: test_rolling_and_faults.py);
- a kubeconfig under another path with another context name for the same cluster (the provider is
  updated, never replaced);
- the whole process tree of `rollout release` killed (kill -9) during the switch: the next release
  and rollback refuse and say what was left, `rollout recover` repairs it, the retried release
  runs the switch and its gate again;
- SIGTERM (what a CI runner sends on cancel) during the switch's live gate: `pulumi` stops
  cleanly, the config is put back, the lock released, no process left; `rollout recover` puts
  live traffic back on the colour that passed its gate (the API server that stops answering:
  test_paused_api_server.py);
- a field another manager owns (a hand-applied hotfix): the cause in one line, nothing changed;
- more than ten updates: version numbers that never shift, `rollback --to` an old one.

After each fault the tests assert that nothing was lost: the Namespace and every object the stack
declared (same UIDs), the live selector and images, the app Secret, and a stack file equal to the
config of the last succeeded update. The steps share one stack and run in file order.
"""

from __future__ import annotations

import base64
import json
import re
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.kubeconfig import read_current_cluster
from rollout.configdiff import config_diff, project_defaults
from rollout.history import parse_config
from tests.e2e.processes import Running, gone, kill_all
from tests.e2e.sandbox import Project
from tests.e2e.stacks import APP, GATE_SPEC, namespace, policy_pack, sandbox_config
from tests.support.app import FaultyApp

NAMESPACE = namespace("faults")
REPO = "ghcr.io/example/flutter-app"
SECRET = "e2e-firebase-key-0c4f7e"  # a test value, not a credential
# Probes of an app that always answers: the gates here only have to run (and be interrupted).
QUICK_GATE = {**GATE_SPEC, "duration": 4, "max_duration": 4}


@dataclass
class Stack:
    project: Project
    name: str
    namespace: str
    app: FaultyApp
    committed: dict[str, Any]
    """The plain config the stack was created with: its stack file as a fresh checkout has it."""

    def config(self) -> dict[str, Any]:
        """The stack's config as the CLI reads its stack file, secrets shown."""
        shown = self.project.pulumi("config", "--show-secrets", "--json", stack=self.name).stdout
        config: dict[str, Any] = json.loads(shown)
        return config

    def rollout(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        result = self.project.rollout(*args, "--stack", self.name, env=env)
        return result.returncode, result.stdout, result.stderr

    def start(self, *args: str) -> Running:
        return Running([*args, "--stack", self.name], self.project.path, self.project.sandbox.env)

    def objects(self) -> dict[str, Any]:
        return self.project.sandbox.inventory(self.namespace)

    def config_drift(self) -> list[str]:
        """Keys where the stack's config differs from the last succeeded update's (none: equal)."""
        current = parse_config(self.config())
        entry = next(
            e
            for e in self.project.history(self.name, show_secrets=True)
            if e["kind"] == "update" and e["result"] == "succeeded"
        )
        defaults = project_defaults(yaml.safe_load((self.project.path / "Pulumi.yaml").read_text()))
        diff = config_diff(parse_config(entry["config"]), current, project_defaults=defaults)
        return [c.key for c in (*diff.added, *diff.changed, *diff.removed)]

    def providers(self) -> list[dict[str, Any]]:
        state = self.project.export(self.name)["deployment"]["resources"]
        return [r for r in state if r["type"] == "pulumi:providers:kubernetes"]

    def locks(self) -> list[Path]:
        backend = Path(self.project.sandbox.env["PULUMI_BACKEND_URL"].removeprefix("file://"))
        return list((backend / ".pulumi" / "locks").glob(f"*/*/{self.name}/*.json"))


@pytest.fixture(scope="module")
def app() -> Iterator[FaultyApp]:
    server = FaultyApp()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def prod(e2e_project: Project, app: FaultyApp) -> Stack:
    """A production-like blue/green stack, bound to the sandbox's cluster, released once."""
    gate = {"url": app.url, "previewUrl": app.url, "spec": QUICK_GATE}
    config = sandbox_config("production", NAMESPACE, app.url, gate=gate)
    name = e2e_project.new_stack("faults", config, secrets={"firebaseApiKey": SECRET})
    e2e_project.pulumi("up", "--yes", "--skip-preview", *policy_pack("production"), stack=name)
    committed = yaml.safe_load(e2e_project.stack_file(name).read_text())["config"]
    plain = {k: v for k, v in committed.items() if not (isinstance(v, dict) and "secure" in v)}
    stack = Stack(e2e_project, name, NAMESPACE, app, plain)
    code, out, err = stack.rollout("release", "--image", f"{REPO}:1.5.0", "--yes")
    assert code == 0, out + err
    return stack


def live_and_idle(stack: Stack) -> tuple[str, str]:
    live: str = stack.objects()["live"]["version"]
    return live, "green" if live == "blue" else "blue"


@pytest.fixture
def elsewhere(prod: Stack, tmp_path: Path) -> dict[str, str]:
    return prod.project.sandbox.env_elsewhere(tmp_path)


def test_a_bound_stack_refuses_a_kubeconfig_at_another_server_and_nothing_changes(
    prod: Stack, elsewhere: dict[str, str]
) -> None:
    before, config = prod.objects(), prod.config()
    history, providers = prod.project.history(prod.name), prod.providers()
    server = read_current_cluster(None, environ=prod.project.sandbox.env).server
    code, out, err = prod.rollout("release", "--image", f"{REPO}:1.6.0", "--yes", env=elsewhere)
    assert code == 1, out + err
    assert "refusing to run against another cluster" in err
    assert f"this stack deploys to {server}" in err and "points at https://127.0.0.1:9" in err
    code, out, err = prod.rollout("rollback", "--previous", "--yes", env=elsewhere)
    assert code == 1 and "refusing to run against another cluster" in err, out + err
    direct = prod.project.pulumi("up", "--yes", "--skip-preview", stack=prod.name, env=elsewhere, check=False)
    assert direct.returncode != 0 and "refusing to run against another cluster" in direct.stdout
    assert prod.objects() == before and prod.config() == config
    assert prod.providers() == providers and len(prod.project.history(prod.name)) == len(history) + 1
    assert prod.project.history(prod.name)[0]["result"] == "failed"  # the direct `up`, refused


def test_a_new_kubeconfig_path_and_context_name_update_the_provider_and_never_replace_it(
    prod: Stack, tmp_path: Path
) -> None:
    document = yaml.safe_load(Path(prod.project.sandbox.env["KUBECONFIG"]).read_text())
    renamed = json.loads(json.dumps(document).replace(document["current-context"], "on-call-laptop"))
    moved = tmp_path / "elsewhere" / "config"
    moved.parent.mkdir()
    moved.write_text(yaml.safe_dump(renamed))
    env = {**prod.project.sandbox.env, "KUBECONFIG": str(moved)}
    preview = prod.project.pulumi("preview", "--diff", stack=prod.name, env=env).stdout
    assert "~ pulumi:providers:kubernetes: (update)" in preview
    assert "replace" not in preview and "to replace" not in preview


def test_a_stack_file_that_is_not_yaml_is_bad_input_at_the_line_where_it_breaks(prod: Stack) -> None:
    text = prod.project.stack_file(prod.name).read_text()
    lines = text.splitlines()
    broken = next(i for i, line in enumerate(lines) if "previewHosts:" in line)
    lines[broken] = lines[broken].replace("previewHosts:", "previewHosts: [preview.example.com")
    prod.project.stack_file(prod.name).write_text("\n".join(lines) + "\n")
    try:
        for command in (
            ("release", "--image", f"{REPO}:1.6.0", "--yes"),
            ("rollback", "--previous"),
            ("recover",),
        ):
            code, out, err = prod.rollout(*command)
            assert code == 2, out + err
            assert f"Pulumi.{prod.name}.yaml: not valid YAML at line {broken + 1}," in err
    finally:
        prod.project.stack_file(prod.name).write_text(text)


def test_a_field_owned_by_another_manager_is_named_in_one_line_and_nothing_changes(prod: Stack) -> None:
    idle = "flutter-app-blue"  # green went live with 1.5.0
    hotfix = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": idle, "namespace": prod.namespace},
        "spec": {"template": {"spec": {"containers": [{"name": APP, "image": f"{REPO}:hotfix"}]}}},
    }
    sandbox = prod.project.sandbox
    sandbox.run(
        ["kubectl", "apply", "--server-side", "--field-manager=hotfixer", "--force-conflicts", "-f", "-"],
        input=json.dumps(hotfix),
    )
    try:
        before, config = prod.objects(), prod.config()
        code, out, err = prod.rollout("release", "--image", f"{REPO}:1.6.0", "--yes")
        assert code == 1, out + err
        (cause,) = [line for line in err.splitlines() if line.startswith("error:")]
        assert f"kubernetes:apps/v1:Deployment {idle}:" in cause and "field conflict" in cause
        assert "nothing of the release ran" in err
        assert prod.objects() == before and prod.config() == config
    finally:
        # The hotfixer hands the field back: its entry leaves the object's managed fields.
        shown = sandbox.kubectl(
            "get", "deployment", idle, "-n", prod.namespace, "-o", "json", "--show-managed-fields"
        )
        fields = [
            f for f in json.loads(shown.stdout)["metadata"]["managedFields"] if f["manager"] != "hotfixer"
        ]
        patch = [{"op": "replace", "path": "/metadata/managedFields", "value": fields}]
        sandbox.kubectl(
            "patch", "deployment", idle, "-n", prod.namespace, "--type=json", "-p", json.dumps(patch)
        )


def test_a_stack_file_checked_out_fresh_releases_from_what_was_deployed(prod: Stack) -> None:
    # As CI has it: the committed stack file, whose image and colour are not what runs.
    live, idle = live_and_idle(prod)
    before = prod.objects()
    committed = {k.removeprefix("flutter-app:"): v for k, v in prod.committed.items()}
    prod.project.write_config(prod.name, committed)
    generation = prod.project.sandbox.get("deployment", f"{APP}-{live}", prod.namespace)
    code, out, err = prod.rollout("release", "--image", f"{REPO}:1.6.0", "--yes")
    assert code == 0, out + err
    assert "is not what version" in err and "the release starts from version" in err
    assert f"deploy to idle colour {idle}" in out
    after = prod.objects()
    assert after["live"] == {"app": APP, "version": idle}
    assert after["images"][f"{APP}-{idle}"] == f"{REPO}:1.6.0"
    # The colour that served was never rolled: same image, same generation.
    assert after["images"][f"{APP}-{live}"] == before["images"][f"{APP}-{live}"]
    held = prod.project.sandbox.get("deployment", f"{APP}-{live}", prod.namespace)
    assert held is not None and generation is not None
    assert held["metadata"]["generation"] == generation["metadata"]["generation"]
    assert prod.config_drift() == []


def test_a_release_killed_during_the_switch_is_refused_until_recovered_then_runs_the_switch_again(
    prod: Stack,
) -> None:
    live, idle = live_and_idle(prod)
    before = prod.objects()
    release = prod.start("release", "--image", f"{REPO}:1.7.0", "--yes")
    release.wait_for(rf"\[2/2\] switch to {idle}: preview plans")
    release.wait_for(r"\[gate flutter-app-live\] 1:")
    tree = release.tree()
    kill_all(tree)
    release.finish()
    assert prod.locks(), "the killed update left its lock"
    # The switch's config is in the file, its update never completed: a retry must not take it as done.
    code, out, err = prod.rollout("release", "--image", f"{REPO}:1.7.0", "--yes")
    assert code == 1, out + err
    assert "nothing to release" not in out
    assert "left by an interrupted update" in err and "which no longer runs" in err
    assert f'blueGreen.active: "{live}" -> "{idle}"' in err
    assert f"rollout recover --stack {prod.name}" in err
    code, out, err = prod.rollout("rollback", "--previous", "--yes")
    assert code == 1 and "left by an interrupted update" in err, out + err
    code, out, err = prod.rollout("recover", "--yes")
    assert code == 0, out + err
    assert "the preview plans no change" in out
    assert_nothing_lost(prod, before, live)
    # The recovery redeployed the last succeeded update's config: --previous passes over it.
    code, out, err = prod.rollout("rollback", "--previous", "--dry-run")
    assert code == 0, out + err
    assert re.search(r"passed over: version \d+ \(ran the config that runs now\)", out), out
    # The retried release runs the switch and its live gate again.
    code, out, err = prod.rollout("release", "--image", f"{REPO}:1.7.0", "--yes")
    assert code == 0, out + err
    assert "[gate flutter-app-live] 1:" in err
    assert prod.objects()["live"] == {"app": APP, "version": idle}


def assert_nothing_lost(stack: Stack, before: dict[str, Any], live: str) -> None:
    """The objects (same UIDs), the live selector and the live colour's image as before the fault,
    the stack file equal to the last succeeded update's config, no lock, the app Secret intact."""
    after = stack.objects()
    assert after["live"] == before["live"] == {"app": APP, "version": live}
    assert {k: v for k, v in after.items() if k != "images"} == {
        k: v for k, v in before.items() if k != "images"
    }
    assert after["images"][f"{APP}-{live}"] == before["images"][f"{APP}-{live}"]
    assert stack.config_drift() == [] and not stack.locks()
    assert base64.b64decode(after["secret"]["FIREBASE_API_KEY"]).decode() == SECRET


def test_sigterm_during_the_switch_stops_cleanly_and_recover_puts_live_traffic_back(prod: Stack) -> None:
    before = prod.objects()
    live, idle = live_and_idle(prod)
    release = prod.start("release", "--image", f"{REPO}:1.8.0", "--yes")
    release.wait_for(r"\[gate flutter-app-live\] 1:")  # the Services switched, the live gate runs
    tree = release.tree()
    assert any("pulumi-resource-kubernetes" in " ".join(p.cmdline()) for p in tree)
    release.process.send_signal(signal.SIGTERM)  # to rollout alone, as a CI runner sends it
    code, _out, err = release.finish()
    assert code == 130, err
    assert f"SIGTERM: interrupted during step 2/2 (switch to {idle})" in err
    assert "config is back to before that step" in err
    assert gone(tree, 30) == [], "every process of the release has exited"
    # Back to the config of step 1, the last succeeded update (the idle colour on 1.8.0).
    assert prod.config_drift() == [] and not prod.locks()
    assert prod.project.history(prod.name)[0]["result"] == "failed"  # recorded, cancelled
    # The switch had been applied when the signal came: users are on the ungated colour.
    assert prod.objects()["live"] == {"app": APP, "version": idle}
    code, out, err = prod.rollout("recover", "--yes")
    assert code == 0, out + err
    assert "did not complete and the cluster is not as version" in out
    assert "the preview plans no change" in out
    assert_nothing_lost(prod, before, live)


def test_version_numbers_never_shift_and_rollback_reaches_any_of_them(prod: Stack) -> None:
    project, name = prod.project, prod.name
    for index in range(26 - len([e for e in project.history(name) if e["kind"] == "update"])):
        project.pulumi("up", "--yes", "--skip-preview", "--message", f"no-op {index}", stack=name)
    theirs = project.history(name)
    assert len(theirs) > 25
    code, out, err = prod.rollout("history", "--json")
    assert code == 0, err
    ours = json.loads(out)
    # Every entry, numbered over the whole history: 1 is the oldest, forever.
    assert [e["version"] for e in ours] == list(range(len(theirs), 0, -1))
    assert [e["message"] for e in ours] == [e.get("message", "") for e in theirs]
    oldest_release = len(theirs) - 1  # version 2: the first release step after the bootstrap
    code, out, err = prod.rollout("rollback", "--to", str(oldest_release), "--yes")
    assert code == 0, out + err
    assert f"rollback to version {oldest_release} (from {len(theirs)})" in out
    # After more updates, the numbers shown before name the same updates.
    code, out, _ = prod.rollout("history", "--json")
    again = {e["version"]: e["message"] for e in json.loads(out)}
    assert again[oldest_release] == theirs[-oldest_release]["message"]
    assert again[len(theirs) + 1] == f"rollback to version {oldest_release} (from {len(theirs)})"
