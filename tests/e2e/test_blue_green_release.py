"""A production-like blue/green app released, failed and rolled back through `rollout` on the real
engine: every step a recorded `pulumi up`, the HealthGates run by the engine against a stand-in
app and a real Prometheus, rollback restoring an earlier version's config exactly. On the way:
how users reach it (VirtualServices from its hosts to the live and preview Services, which a
switch never touches), its NetworkPolicies, and its namespace quota admitting a release's peak.

One stack, its steps in file order, as an on-call engineer's day would go:

    v1 bootstrap `pulumi up` (blue live, 1.4.2)
    v2-v3 release 1.5.0: green gated on preview, switched, gated live
    v4 release 1.6.0: blue's /health fails the preview gate
    v5-v7 release 1.7.0: blue errors under live traffic, live gate fails, switched back
    then rollbacks to v3 and back, and history;
    last, release 1.8.0 with --scale-down-idle: green parked at 0 replicas after the switch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.e2e.sandbox import Project
from tests.e2e.stacks import APP, GATE_SPEC, namespace, policy_pack, sandbox_config
from tests.e2e.standins import Router, service_selector, tracks
from tests.support.app import Faults, FaultyApp, Received, ScriptedServer
from tests.support.prometheus import Prometheus

NAMESPACE = namespace("bluegreen")
REPO = "ghcr.io/example/flutter-app"
ROUTES = "virtualservices.networking.istio.io"
SECRET = "e2e-firebase-key-51c0de"  # a test value, not a credential


@dataclass
class BlueGreen:
    project: Project
    stack: str
    apps: dict[str, FaultyApp]
    webhook: ScriptedServer
    live: Router
    preview: Router
    generations: dict[str, int] = field(default_factory=dict)
    routes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def rollout(self, *args: str) -> tuple[int, str, str]:
        result = self.project.rollout(
            *args, "--stack", self.stack, env={"ROLLOUT_WEBHOOK_URL": self.webhook.url}
        )
        return result.returncode, result.stdout, result.stderr

    def service(self, name: str) -> dict[str, Any]:
        found = self.project.sandbox.get("service", name, NAMESPACE)
        assert found is not None, name
        return found

    def deployment(self, colour: str) -> dict[str, Any]:
        found = self.project.sandbox.get("deployment", f"{APP}-{colour}", NAMESPACE)
        assert found is not None, colour
        return found

    def live_colour(self) -> str:
        colour: str = self.service(APP)["spec"]["selector"]["version"]
        return colour

    def image(self, colour: str) -> str:
        image: str = self.deployment(colour)["spec"]["template"]["spec"]["containers"][0]["image"]
        return image

    def config(self) -> dict[str, Any]:
        shown = self.project.pulumi("config", "--show-secrets", "--json", stack=self.stack).stdout
        config: dict[str, Any] = json.loads(shown)
        return config


@pytest.fixture(scope="module")
def bg(e2e_project: Project, prometheus: Prometheus) -> Iterator[BlueGreen]:
    sandbox = e2e_project.sandbox
    webhook = ScriptedServer(lambda _r: (200, b"{}"))
    with tracks(prometheus, NAMESPACE, APP, ("blue", "green")) as apps:
        live = Router(service_selector(sandbox, NAMESPACE, APP), apps)
        preview = Router(service_selector(sandbox, NAMESPACE, f"{APP}-preview"), apps)
        live.start_traffic()
        config = sandbox_config(
            "production",
            NAMESPACE,
            live.url,
            gate={"url": live.url, "previewUrl": preview.url, "spec": GATE_SPEC},
        )
        config["prometheusUrl"] = prometheus.url
        stack = e2e_project.new_stack("bluegreen", config, secrets={"firebaseApiKey": SECRET})
        try:
            yield BlueGreen(e2e_project, stack, apps, webhook, live, preview)
        finally:
            live.stop()
            preview.stop()
            webhook.stop()


def notifications(bg: BlueGreen) -> list[dict[str, Any]]:
    return [r.json() for r in bg.webhook.received if r.method == "POST"]


def bodies(received: list[Received]) -> str:
    return "\n".join(r.body.decode() for r in received)


def held(bg: BlueGreen, kind: str, name: str, namespace: str = NAMESPACE) -> dict[str, Any]:
    found = bg.project.sandbox.get(kind, name, namespace)
    assert found is not None, f"the API server holds no {kind} {namespace}/{name}"
    return found


def destinations(route: dict[str, Any]) -> list[str]:
    return [d["destination"]["host"] for r in route["spec"]["http"] for d in r["route"]]


def pod_colours(bg: BlueGreen, service: str) -> set[str]:
    """The `version` labels of the pods a Service's selector selects."""
    selector = held(bg, "service", service)["spec"]["selector"]
    pods = bg.project.sandbox.list("pods", NAMESPACE, ",".join(f"{k}={v}" for k, v in selector.items()))
    assert pods, f"Service {service} selects no pod"
    return {pod["metadata"]["labels"]["version"] for pod in pods}


def test_bootstrap_up(bg: BlueGreen) -> None:
    bg.project.pulumi("up", "--yes", "--skip-preview", *policy_pack("production"), stack=bg.stack)
    assert bg.live_colour() == "blue"
    assert bg.image("blue") == bg.image("green") == f"{REPO}:1.4.2"
    bg.generations = {colour: bg.deployment(colour)["metadata"]["generation"] for colour in ("blue", "green")}
    for colour in ("blue", "green"):
        assert bg.deployment(colour)["status"]["readyReplicas"] == 6  # production's sizing


def test_users_reach_the_live_service_through_the_gateway(bg: BlueGreen) -> None:
    live, preview = held(bg, ROUTES, APP), held(bg, ROUTES, f"{APP}-preview")
    assert (live["spec"]["hosts"], live["spec"]["gateways"], destinations(live)) == (
        ["app.example.com"],
        ["istio-ingress/public"],
        [APP],
    )
    assert (preview["spec"]["hosts"], destinations(preview)) == (
        ["preview.app.example.com"],
        [f"{APP}-preview"],
    )
    assert held(bg, "gateways.networking.istio.io", "public", "istio-ingress")["spec"]["servers"][0][
        "hosts"
    ] == ["*"]
    assert pod_colours(bg, APP) == {"blue"} and pod_colours(bg, f"{APP}-preview") == {"green"}
    bg.routes = {name: held(bg, ROUTES, name) for name in (APP, f"{APP}-preview")}


def test_ingress_is_denied_but_from_the_gateway_the_mesh_and_monitoring(bg: BlueGreen) -> None:
    deny = held(bg, "networkpolicy", "flutter-app-default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    allow = held(bg, "networkpolicy", "flutter-app-allow-apps")
    admitted = [peer["namespaceSelector"]["matchLabels"] for peer in allow["spec"]["ingress"][1]["from"]]
    assert admitted == [
        {"kubernetes.io/metadata.name": "istio-ingress"},
        {"kubernetes.io/metadata.name": "monitoring"},
        {"istio-injection": "enabled"},
    ]


def test_healthy_release_gates_the_preview_then_switches_the_live_selector(bg: BlueGreen) -> None:
    code, out, err = bg.rollout("release", "--image", f"{REPO}:1.5.0", "--yes")
    assert code == 0, out + err
    assert "released flutter-app" in out
    assert bg.live_colour() == "green"
    assert bg.image("green") == f"{REPO}:1.5.0"
    # Blue served users throughout the release and was never rolled.
    assert bg.deployment("blue")["metadata"]["generation"] == bg.generations["blue"]
    assert bg.image("blue") == f"{REPO}:1.4.2"
    messages = [h.get("message", "") for h in bg.project.history(bg.stack)[:2]]
    assert messages == [
        "release flutter-app 1.5.0: switch live traffic to green",
        "release flutter-app 1.5.0: deploy to idle colour green (preview)",
    ]
    assert bg.live.served.get("green", 0) > 0
    # The routes users follow are the objects they were; the Services they name moved.
    for name, before in bg.routes.items():
        after = held(bg, ROUTES, name)
        assert (after["metadata"]["generation"], after["spec"]) == (
            before["metadata"]["generation"],
            before["spec"],
        )
    assert pod_colours(bg, APP) == {"green"} and pod_colours(bg, f"{APP}-preview") == {"blue"}
    # The idle colour rolled with the guide's surge (maxSurge 2) beside 6 live pods: the
    # production quota admitted that peak.
    quota = held(bg, "resourcequota", "flutter-app-quota")
    assert quota["status"]["hard"]["pods"] == "60" and int(quota["status"]["used"]["pods"]) == 12


def test_failed_preview_gate_exits_1_and_the_live_selector_never_moves(bg: BlueGreen) -> None:
    bg.apps["blue"].faults = Faults(status=500, paths=("/health",))
    try:
        code, out, err = bg.rollout("release", "--image", f"{REPO}:1.6.0", "--yes")
    finally:
        bg.apps["blue"].faults = Faults()
    assert code == 1, out + err
    # The failing check, its value and its limit reach the user.
    assert "gate failed" in err
    assert "status 500" in err or "500" in err
    # pulumi up's own output (the "  | " lines) shows the gate's verdict and evaluations, no frames.
    assert "error: components.health_gate.GateFailedError: health gate 'flutter-app-preview' fail" in err
    assert "Traceback (most recent call last)" not in err
    assert bg.live_colour() == "green"
    latest = bg.project.history(bg.stack)[0]
    assert latest["result"] == "failed"
    assert latest["message"] == "release flutter-app 1.6.0: deploy to idle colour blue (preview)"


def test_failed_live_gate_after_the_switch_switches_back(bg: BlueGreen) -> None:
    # Blue answers its probes but fails one user request in two once it takes live traffic.
    bg.apps["blue"].faults = Faults(error_every=2, paths=("/api",))
    try:
        code, out, err = bg.rollout("release", "--image", f"{REPO}:1.7.0", "--yes")
    finally:
        bg.apps["blue"].faults = Faults()
    assert code == 1, out + err
    assert "error" in err.lower() and "traffic undone" in err
    assert bg.live_colour() == "green"
    results = [(h["result"], h.get("message", "")) for h in bg.project.history(bg.stack)[:3]]
    assert results == [
        ("succeeded", "release flutter-app 1.7.0: switch live traffic back to green"),
        ("failed", "release flutter-app 1.7.0: switch live traffic to blue"),
        ("succeeded", "release flutter-app 1.7.0: deploy to idle colour blue (preview)"),
    ]


def test_release_notifications_reached_the_webhook_without_secrets(bg: BlueGreen) -> None:
    sent = notifications(bg)
    releases = [n for n in sent if n.get("event") == "release"]
    assert [n["status"] for n in releases] == ["pass", "fail", "fail"]
    assert SECRET not in bodies(bg.webhook.received)


def test_history_agrees_with_pulumi(bg: BlueGreen) -> None:
    code, out, err = bg.rollout("history", "--json")
    assert code == 0, err
    ours = json.loads(out)
    theirs = bg.project.history(bg.stack)
    assert [(e["kind"], e["result"], e["message"]) for e in ours] == [
        (e["kind"], e["result"], e.get("message", "")) for e in theirs
    ]
    # A file backend numbers nothing (every entry is version 0): rollout numbers them as Pulumi
    # Cloud does, oldest = 1, which is what `rollback --to N` takes.
    assert {e["version"] for e in theirs} == {0}
    assert [e["version"] for e in ours] == list(range(len(theirs), 0, -1)) == list(range(7, 0, -1))
    # The images each update deployed, read back from the config each update recorded.
    by_version = {e["version"]: e["apps"][0] for e in ours}
    assert by_version[1]["images"] == {"blue": f"{REPO}:1.4.2", "green": f"{REPO}:1.4.2"}
    assert by_version[3]["active"] == "green" and by_version[3]["images"]["green"] == f"{REPO}:1.5.0"
    assert SECRET not in out


def test_rollback_to_a_failed_update_is_refused(bg: BlueGreen) -> None:
    before = bg.config()
    code, _out, err = bg.rollout("rollback", "--to", "4", "--yes")
    assert code == 2
    assert "not a succeeded update" in err
    assert bg.config() == before


def test_rollback_dry_run_and_approval_change_nothing(bg: BlueGreen) -> None:
    before, history = bg.config(), bg.project.history(bg.stack)
    code, out, err = bg.rollout("rollback", "--to", "3", "--dry-run")
    assert code == 0, err
    assert "version 3" in out and "dry run" in err
    # Production needs approval: without --yes and without a terminal it refuses.
    code, _out, err = bg.rollout("rollback", "--to", "3")
    assert code == 2 and "--yes" in err
    assert bg.config() == before and bg.project.history(bg.stack) == history


def test_rollback_without_the_passphrase_refuses_and_changes_nothing(bg: BlueGreen) -> None:
    before, live = bg.config(), bg.live_colour()
    env = bg.project.sandbox.env
    for change in (
        {"PULUMI_CONFIG_PASSPHRASE_FILE": ""},
        {"PULUMI_CONFIG_PASSPHRASE_FILE": "", "PULUMI_CONFIG_PASSPHRASE": "wrong"},
    ):
        result = bg.project.rollout(
            "rollback", "--stack", bg.stack, "--to", "1", "--yes", env={**env, **change}
        )
        assert result.returncode == 2, result.stdout + result.stderr
        assert "PULUMI_CONFIG_PASSPHRASE" in result.stderr
    assert bg.config() == before
    assert bg.live_colour() == live


def test_rollback_to_a_version_restores_its_config_exactly(bg: BlueGreen) -> None:
    project, stack = bg.project, bg.stack
    v3 = project.history(stack)[-3]  # listed newest first; the file backend numbers nothing
    # Since v3: a new secret and a changed plain value, both to be undone.
    project.pulumi("config", "set", "--secret", "databasePassword", stack=stack, input="e2e-db-0451")
    project.pulumi("config", "set", "logLevel", "info", stack=stack)
    code, out, err = bg.rollout("rollback", "--to", "3", "--yes")
    assert code == 0, out + err
    restored = bg.config()
    assert "flutter-app:databasePassword" not in restored
    assert restored["flutter-app:logLevel"]["value"] == "error"
    assert restored["flutter-app:firebaseApiKey"] == {"value": SECRET, "secret": True}
    apps = restored["flutter-app:apps"]
    assert apps["objectValue"] == json.loads(json.dumps(_object(v3["config"]["flutter-app:apps"])))
    assert bg.live_colour() == "green"
    assert bg.image("green") == f"{REPO}:1.5.0" and bg.image("blue") == f"{REPO}:1.4.2"
    latest = project.history(stack)[0]
    assert latest["message"].startswith("rollback to version 3")
    assert SECRET not in out + err


def test_rollback_previous_goes_back_one_succeeded_update(bg: BlueGreen) -> None:
    code, out, err = bg.rollout("rollback", "--previous", "--yes")
    assert code == 0, out + err
    # The newest succeeded update before the rollback is v7 (switched back to green, blue 1.7.0),
    # recorded before the secret and the log level were changed.
    assert bg.live_colour() == "green"
    assert bg.image("blue") == f"{REPO}:1.7.0"
    restored = bg.config()
    assert restored["flutter-app:logLevel"]["value"] == "error"
    assert "flutter-app:databasePassword" not in restored
    rollbacks = [n for n in notifications(bg) if n.get("event") == "rollback"]
    assert [n["status"] for n in rollbacks] == ["pass", "pass"]
    assert SECRET not in bodies(bg.webhook.received)


def _object(entry: dict[str, Any]) -> Any:
    """A history config entry's object value (history keeps objects as JSON text or objects)."""
    if "objectValue" in entry:
        return entry["objectValue"]
    return json.loads(entry["value"])


def test_rollback_to_a_failed_update_with_force(bg: BlueGreen) -> None:
    code, out, err = bg.rollout("rollback", "--to", "4", "--force", "--yes")
    assert code == 0, out + err
    # Version 4 put 1.6.0 on the idle colour (blue) and never switched.
    assert bg.live_colour() == "green" and bg.image("blue") == f"{REPO}:1.6.0"
    assert bg.project.history(bg.stack)[0]["message"].startswith("rollback to version 4")


def test_scale_down_idle_parks_the_colour_that_served_until_the_switch(bg: BlueGreen) -> None:
    code, out, err = bg.rollout("release", "--image", f"{REPO}:1.8.0", "--yes", "--scale-down-idle")
    assert code == 0, out + err
    assert bg.live_colour() == "blue" and bg.image("blue") == f"{REPO}:1.8.0"
    assert pod_colours(bg, APP) == {"blue"}
    # Green served until the switch; once the live gate passed it went to 0 replicas, its image kept.
    green = bg.deployment("green")
    assert green["spec"]["replicas"] == 0 and bg.image("green") == f"{REPO}:1.5.0"
    assert bg.deployment("blue")["spec"]["replicas"] == 6
    messages = [h.get("message", "") for h in bg.project.history(bg.stack)[:3]]
    assert messages == [
        "release flutter-app 1.8.0: release confirmed, scale down idle colour green",
        "release flutter-app 1.8.0: switch live traffic to blue",
        "release flutter-app 1.8.0: deploy to idle colour blue (preview)",
    ]
