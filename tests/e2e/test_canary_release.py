"""A staging-like Istio canary released through `rollout` on the real engine: the weights walk
``canary.steps`` as in-place VirtualService updates, a gate after each weight (the canary against
the stable track on a real Prometheus), promotion to one track; then a canary that degrades at
25 % goes back to weight 0 and the release exits 1; last, a mistaken destroy keeps the protected
Namespace and Secret, and a deliberate one (unprotected first) leaves the Gateway every stack on
the cluster shares."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from tests.e2e.sandbox import Project
from tests.e2e.stacks import APP, GATE_SPEC, namespace, policy_pack, sandbox_config
from tests.e2e.standins import Router, tracks, virtual_service
from tests.support.app import Faults, FaultyApp
from tests.support.prometheus import Prometheus

NAMESPACE = namespace("canary")
REPO = "ghcr.io/example/flutter-app"
STEPS = [5, 25, 100]
ROUTES = "virtualservices.networking.istio.io"
GATEWAYS = "gateways.networking.istio.io"


@dataclass
class Canary:
    project: Project
    stack: str
    apps: dict[str, FaultyApp]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found = self.project.sandbox.get(kind, name, NAMESPACE)
        assert found is not None, f"{kind}/{name}"
        return found

    def routes(self) -> list[dict[str, Any]]:
        http: list[dict[str, Any]] = self.get(ROUTES, APP)["spec"]["http"]
        return http

    def weights(self) -> list[int]:
        return [d["weight"] for d in self.routes()[-1]["route"]]

    def set_steps(self, steps: list[int] | str) -> None:
        """``canary.steps`` in the stack file, the rest of it (the release state) as it is."""
        path = self.project.stack_file(self.stack)
        document = yaml.safe_load(path.read_text())
        document["config"]["flutter-app:apps"][APP]["canary"]["steps"] = steps
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    def generation(self, kind: str, name: str) -> int:
        generation: int = self.get(kind, name)["metadata"]["generation"]
        return generation


@pytest.fixture(scope="module")
def canary(e2e_project: Project, prometheus: Prometheus) -> Iterator[Canary]:
    sandbox = e2e_project.sandbox
    with tracks(prometheus, NAMESPACE, APP, ("stable", "canary")) as apps:
        mesh = Router(virtual_service(sandbox, NAMESPACE, APP), apps)
        mesh.start_traffic(pause=0.02)
        config = sandbox_config(
            "staging", NAMESPACE, mesh.url, replicas=2, gate={"url": mesh.url, "spec": GATE_SPEC}
        )
        config["apps"][APP]["canary"] = {"steps": STEPS, "replicas": 1}
        config["prometheusUrl"] = prometheus.url
        stack = e2e_project.new_stack("canary", config, secrets={"firebaseApiKey": "e2e-canary-key-0c7a"})
        e2e_project.pulumi("up", "--yes", "--skip-preview", *policy_pack("staging"), stack=stack)
        try:
            yield Canary(e2e_project, stack, apps)
        finally:
            mesh.stop()


def step_blocks(err: str) -> dict[str, str]:
    """rollout's output of each release step (between `[i/n] NAME: up` and the next step)."""
    blocks: dict[str, str] = {}
    parts = re.split(r"^\[\d+/\d+\] (.+?): up --message .*$", err, flags=re.MULTILINE)
    for name, text in zip(parts[1::2], parts[2::2], strict=True):
        blocks[name] = text
    return blocks


def updated_types(block: str) -> set[str]:
    """The resource types pulumi reported as updated in one step's output."""
    return set(re.findall(r"~\s+(\S+:\S+)\s+\S+\s+updated", block))


def test_before_a_release_there_is_no_header_route_and_no_canary_pod(canary: Canary) -> None:
    # The API server validated both against the Istio CRDs' schemas when it stored them.
    rule = canary.get("destinationrules.networking.istio.io", APP)
    assert [s["name"] for s in rule["spec"]["subsets"]] == ["stable", "canary"]
    assert canary.get(ROUTES, APP)["spec"]["hosts"] == [APP, "staging.example.com"]
    assert [r["name"] for r in canary.routes()] == ["weighted"]
    assert canary.weights() == [100, 0]
    assert canary.get("deployment", f"{APP}-canary")["spec"]["replicas"] == 0


def test_healthy_canary_walks_the_steps_in_place_and_promotes_to_one_track(canary: Canary) -> None:
    route_uid = canary.get(ROUTES, APP)["metadata"]["uid"]
    # canary.steps auto (the default): the weights come from the stable's traffic as the real
    # Prometheus measured it from the stand-in's scrapes.
    canary.set_steps("auto")
    try:
        result = canary.project.rollout(
            "release", "--stack", canary.stack, "--image", f"{REPO}:1.5.0", "--yes"
        )
    finally:
        canary.set_steps(STEPS)
    assert result.returncode == 0, result.stdout + result.stderr
    said = result.stdout + result.stderr
    planned = re.search(
        r"canary\.steps auto: measured ([0-9.]+) req/s: steps (\d+), 50, 100; about \d+ min", said
    )
    assert planned and float(planned[1]) > 0, said
    first, *later = [f"canary {w}%" for w in (planned[2], 50, 100)]
    blocks = step_blocks(result.stderr)
    assert list(blocks) == [
        first,
        *later,
        "promote: stable image",
        "promote: traffic to stable",
        "promote: remove canary",
    ]
    # Each weight after the first moved by editing the VirtualService (and re-running its gate):
    # neither Deployment was touched.
    for name in later:
        assert updated_types(blocks[name]) == {
            "kubernetes:networking.istio.io/v1:VirtualService",
            "pulumi-python:dynamic/gates:HealthGate",
        }, name
    assert "kubernetes:apps/v1:Deployment" in updated_types(blocks[first])  # canary pods start
    # The canary gate of each later weight continued the evidence of the one before (the same
    # image: countedSince, kept in the state); the first started from zero.
    carried = "[gate flutter-app-canary] evidence carried from the previous step: counting since"
    assert carried not in blocks[first]
    assert all(carried in blocks[name] for name in later)
    # ... and says what it brought, at the first evaluation of the step.
    brought = (
        r"\[gate flutter-app-canary\] carried into error-rate-canary: \d+ canary requests, \d+ % of the way"
    )
    assert all(re.search(brought, blocks[name]) for name in later), blocks[later[0]]
    # The history records why these weights.
    messages = [entry.get("message", "") for entry in canary.project.history(canary.stack)]
    assert f"release {APP} 1.5.0: {first} (auto: measured {planned[1]} req/s)" in messages, messages
    assert canary.get(ROUTES, APP)["metadata"]["uid"] == route_uid  # updated in place, never replaced
    # Promoted: the stable track runs the image and takes all traffic; the canary runs nothing
    # and its header route is gone.
    stable = canary.get("deployment", f"{APP}-stable")
    assert stable["spec"]["template"]["spec"]["containers"][0]["image"] == f"{REPO}:1.5.0"
    assert canary.get("deployment", f"{APP}-canary")["spec"]["replicas"] == 0
    assert [r["name"] for r in canary.routes()] == ["weighted"]
    assert canary.weights() == [100, 0]


def test_canary_failing_at_25_percent_goes_back_to_weight_0_then_to_the_version_before(
    canary: Canary,
) -> None:
    bad = canary.apps["canary"]
    stop = threading.Event()
    seen: list[tuple[int, list[str]]] = []

    def degrade_at_25() -> None:
        # The canary breaks under load: one user request in two fails once it takes 25 %.
        for _ in range(1200):
            if stop.wait(0.5):
                return
            weight = canary.weights()[1]
            seen.append((weight, [r["name"] for r in canary.routes()]))
            if weight >= 25:
                bad.faults = Faults(error_every=2, paths=("/api",))
                return

    watcher = threading.Thread(target=degrade_at_25, daemon=True)
    watcher.start()
    try:
        result = canary.project.rollout(
            "release", "--stack", canary.stack, "--image", f"{REPO}:1.6.0", "--yes", "--rollback-on-failure"
        )
    finally:
        stop.set()
        watcher.join(timeout=5)
        bad.faults = Faults()
    assert result.returncode == 1, result.stdout + result.stderr
    assert list(step_blocks(result.stderr)) == ["canary 5%", "canary 25%"]
    assert "error-rate" in result.stderr
    assert "traffic undone" in result.stderr
    # While the canary ran, requests with `canary: true` reached it whatever the weight.
    assert any(weight > 0 for weight, _names in seen)
    assert all(names == ["canary-header", "weighted"] for weight, names in seen if weight > 0)
    # Traffic first (weight 0), then the whole config of the version before the release: the
    # canary's pods and its header route are gone, the stable track never changed.
    assert canary.weights() == [100, 0]
    assert [r["name"] for r in canary.routes()] == ["weighted"]
    assert canary.get("deployment", f"{APP}-canary")["spec"]["replicas"] == 0
    stable = canary.get("deployment", f"{APP}-stable")
    assert stable["spec"]["template"]["spec"]["containers"][0]["image"] == f"{REPO}:1.5.0"
    latest = canary.project.history(canary.stack)[:3]
    assert [h["result"] for h in latest] == ["succeeded", "succeeded", "failed"]
    assert latest[0]["message"].startswith("rollback to version ")
    assert latest[1]["message"] == "release flutter-app 1.6.0: canary failed at 25%, weight set back to 0"
    assert latest[2]["message"] == "release flutter-app 1.6.0: canary 25%"


def test_destroy_removes_the_stack_but_not_the_gateway_every_stack_shares(canary: Canary) -> None:
    # With Istio `external` every stack on the cluster declares istio-ingress/public: one stack
    # going away must not take the others' Gateway with it.
    sandbox = canary.project.sandbox
    assert sandbox.get(GATEWAYS, "public", "istio-ingress") is not None
    # Staging protects what holds data: a mistaken destroy deletes the app's objects, then stops
    # at the Secret, and the Namespace and the Secret stay (a `pulumi up` recreates the rest).
    secret = sandbox.get("secret", "flutter-app-secrets", NAMESPACE)
    refused = canary.project.pulumi("destroy", "--yes", "--skip-preview", stack=canary.stack, check=False)
    assert refused.returncode != 0 and "because it is protected" in refused.stdout
    assert sandbox.get("namespace", NAMESPACE) is not None
    kept = sandbox.get("secret", "flutter-app-secrets", NAMESPACE)
    assert kept is not None and secret is not None and kept["data"] == secret["data"]
    # A deliberate teardown unprotects them first (docs/operations.md).
    canary.project.pulumi("state", "unprotect", "--all", "--yes", stack=canary.stack)
    canary.project.pulumi("destroy", "--yes", "--skip-preview", stack=canary.stack)
    assert sandbox.get("namespace", NAMESPACE) is None
    gateway = sandbox.get(GATEWAYS, "public", "istio-ingress")
    assert gateway is not None and gateway["spec"]["servers"][0]["port"]["number"] == 443
