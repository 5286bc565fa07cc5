"""Canary and blue/green through the Gateway API on the real engine: HTTPRoutes attached to the
platform's Gateway (gateway-system/public in the sandbox), the API server validating them (the CRDs'
schemas and CEL rules), the stand-in router following their weights, header matches and mirror.

A staging-like canary with ``canary.mirror: 100`` walks a mirrored step first (no user served by the
canary, the gate judging it on copies of real requests), then 25 % and 100 % as in-place HTTPRoute
updates, and promotes; a canary that fails only on the copies is removed at the mirrored step;
then a canary that fails at 25 % is taken out. A production-like blue/green
app switches through HTTPRoutes that never change."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.sandbox import Project
from tests.e2e.stacks import APP, EXTERNAL_ADDONS, GATE_SPEC, namespace, policy_pack, sandbox_config
from tests.e2e.standins import Router, http_route, routed_service, tracks
from tests.support.app import Faults, FaultyApp
from tests.support.prometheus import Prometheus

ROUTES = "httproutes.gateway.networking.k8s.io"
GATEWAY = {"name": "public", "namespace": "gateway-system"}
REPO = "ghcr.io/example/flutter-app"
CLUSTER = {"mode": "existing", **EXTERNAL_ADDONS, "traffic": "gateway-api", "gateway": GATEWAY}


@dataclass
class Stack:
    project: Project
    name: str
    namespace: str
    apps: dict[str, FaultyApp]
    router: Router

    def route(self, name: str = APP) -> dict[str, Any]:
        found = self.project.sandbox.get(ROUTES, name, self.namespace)
        assert found is not None, name
        return found

    def weights(self) -> list[int]:
        return [ref["weight"] for ref in self.route()["spec"]["rules"][-1]["backendRefs"]]

    def release(self, image: str, *extra: str) -> tuple[int, str, str]:
        result = self.project.rollout("release", "--stack", self.name, "--image", image, "--yes", *extra)
        return result.returncode, result.stdout, result.stderr


@pytest.fixture(scope="module")
def canary(e2e_project: Project, prometheus: Prometheus) -> Iterator[Stack]:
    ns = namespace("gwcanary")
    sandbox = e2e_project.sandbox
    with tracks(prometheus, ns, APP, ("stable", "canary")) as apps:
        router = Router(http_route(sandbox, ns, APP, APP), apps)
        router.start_traffic(pause=0.02)
        config = sandbox_config(
            "staging", ns, router.url, replicas=2, gate={"url": router.url, "spec": GATE_SPEC}
        )
        config["cluster"] = CLUSTER
        config["apps"][APP]["canary"] = {"steps": [25, 100], "replicas": 1, "mirror": 100}
        config["prometheusUrl"] = prometheus.url
        stack = e2e_project.new_stack("gwcanary", config, secrets={"firebaseApiKey": "e2e-gw-key-4d1e"})
        e2e_project.pulumi("up", "--yes", "--skip-preview", *policy_pack("staging"), stack=stack)
        try:
            yield Stack(e2e_project, stack, ns, apps, router)
        finally:
            router.stop()


def test_the_api_server_holds_an_httproute_attached_to_the_platforms_gateway(canary: Stack) -> None:
    route = canary.route()
    assert route["spec"]["parentRefs"] == [
        {**GATEWAY, "group": "gateway.networking.k8s.io", "kind": "Gateway"}
    ]
    assert route["spec"]["hostnames"] == ["staging.example.com"]
    assert [r["name"] for r in route["spec"]["rules"]] == ["weighted"]  # no canary: no header rule
    assert canary.weights() == [100, 0]
    sandbox = canary.project.sandbox
    assert sandbox.get("virtualservices.networking.istio.io", APP, canary.namespace) is None
    stable = sandbox.get("service", f"{APP}-stable", canary.namespace)
    assert stable is not None and stable["spec"]["selector"] == {"app": APP, "version": "stable"}


def test_a_mirrored_step_is_gated_on_copies_then_the_weights_walk_in_place(canary: Stack) -> None:
    uid = canary.route()["metadata"]["uid"]
    seen: list[tuple[list[int], bool]] = []
    stop = threading.Event()

    def watch() -> None:
        for _ in range(2400):
            if stop.wait(0.25):
                return
            last = canary.route()["spec"]["rules"][-1]  # one read: weights and mirror of one state
            seen.append(
                (
                    [ref["weight"] for ref in last["backendRefs"]],
                    any(f.get("type") == "RequestMirror" for f in last.get("filters", [])),
                )
            )

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    served_before = canary.router.served.get("canary", 0)
    try:
        code, out, err = canary.release(f"{REPO}:1.5.0")
    finally:
        stop.set()
        watcher.join(timeout=5)
    assert code == 0, out + err
    assert "[1/6] mirror 100%" in err and "copies requests to the canary" in out
    # While mirrored: weights 100/0 (no user served by the canary), copies of every request.
    mirrored = [weights for weights, mirror in seen if mirror]
    assert mirrored and all(weights == [100, 0] for weights in mirrored)
    # Only before any user reached the canary: promotion passes through 100/0 without copies.
    first_user = next(i for i, (weights, _) in enumerate(seen) if weights[1] > 0)
    assert not any(mirror for _, mirror in seen[first_user:])
    assert canary.router.mirrored.get("canary", 0) > 0
    assert "[gate flutter-app-canary]" in err  # the mirrored step's gate ran
    # Then 25 % and 100 % as updates of the same object, and promotion back to one track.
    assert any(w == [75, 25] for w, _ in seen) and any(w == [0, 100] for w, _ in seen)
    assert canary.route()["metadata"]["uid"] == uid
    assert canary.weights() == [100, 0] and canary.router.served.get("canary", 0) > served_before
    assert [r["name"] for r in canary.route()["spec"]["rules"]] == ["weighted"]


def test_a_canary_failing_only_on_copies_is_removed_before_any_user_reaches_it(canary: Stack) -> None:
    # Users call /api; the gate's own probes (the header rule) call the health path, which still
    # answers: only the mirrored copies of the users' requests can show the fault.
    bad = canary.apps["canary"]
    bad.faults = Faults(status=500, paths=("/api",))
    copies = canary.router.mirrored.get("canary", 0)
    try:
        code, out, err = canary.release(f"{REPO}:1.7.0")
    finally:
        bad.faults = Faults()
    assert code == 1, out + err
    (failed,) = [line for line in err.splitlines() if "mirror 100%: FAILED" in line]
    assert "inconclusive" not in failed and "no canary request" not in failed, failed  # judged on errors
    assert "(mirrored), canary removed" in err
    assert "canary 25%" not in err  # no weighted step ran: no user was served by the canary
    assert canary.router.mirrored.get("canary", 0) > copies
    assert canary.weights() == [100, 0]
    route = canary.route()
    assert [r["name"] for r in route["spec"]["rules"]] == ["weighted"]
    assert "filters" not in route["spec"]["rules"][0]  # no copy goes on


def test_a_canary_failing_at_25_percent_is_taken_out(canary: Stack) -> None:
    bad = canary.apps["canary"]
    stop = threading.Event()

    def degrade_at_25() -> None:
        for _ in range(2400):
            if stop.wait(0.25):
                return
            if canary.weights()[1] >= 25:
                # Every user request it serves fails: decided within the step's short gate even
                # when a loaded machine serves few of them.
                bad.faults = Faults(status=500, paths=("/api",))
                return

    watcher = threading.Thread(target=degrade_at_25, daemon=True)
    watcher.start()
    try:
        code, out, err = canary.release(f"{REPO}:1.6.0")
    finally:
        stop.set()
        watcher.join(timeout=5)
        bad.faults = Faults()
    assert code == 1, out + err
    failed = [line for line in err.splitlines() if "FAILED" in line or "gate failed" in line]
    assert any("canary 25%: FAILED" in line for line in failed) and "traffic undone" in err, failed
    assert canary.weights() == [100, 0]
    assert [r["name"] for r in canary.route()["spec"]["rules"]] == ["weighted"]
    held = canary.project.sandbox.get("deployment", f"{APP}-canary", canary.namespace)
    assert held is not None and held["spec"]["replicas"] == 0


@pytest.fixture(scope="module")
def blue_green(e2e_project: Project, prometheus: Prometheus) -> Iterator[Stack]:
    ns = namespace("gwbluegreen")
    sandbox = e2e_project.sandbox
    with tracks(prometheus, ns, APP, ("blue", "green")) as apps:
        live = Router(routed_service(sandbox, ns, APP), apps)
        preview = Router(routed_service(sandbox, ns, f"{APP}-preview"), apps)
        live.start_traffic()
        config = sandbox_config(
            "production", ns, live.url, gate={"url": live.url, "previewUrl": preview.url, "spec": GATE_SPEC}
        )
        config["cluster"] = CLUSTER
        stack = e2e_project.new_stack("gwbluegreen", config, secrets={"firebaseApiKey": "e2e-gw-key-77aa"})
        e2e_project.pulumi("up", "--yes", "--skip-preview", *policy_pack("production"), stack=stack)
        try:
            yield Stack(e2e_project, stack, ns, apps, live)
        finally:
            live.stop()
            preview.stop()


def test_a_blue_green_switch_goes_through_routes_that_never_change(blue_green: Stack) -> None:
    routes = {name: blue_green.route(name) for name in (APP, f"{APP}-preview")}
    assert {
        n: (r["spec"]["hostnames"], r["spec"]["rules"][0]["backendRefs"][0]["name"])
        for n, r in routes.items()
    } == {
        APP: (["app.example.com"], APP),
        f"{APP}-preview": (["preview.app.example.com"], f"{APP}-preview"),
    }
    code, out, err = blue_green.release(f"{REPO}:1.5.0")
    assert code == 0, out + err
    sandbox = blue_green.project.sandbox
    live = sandbox.get("service", APP, blue_green.namespace)
    assert live is not None and live["spec"]["selector"]["version"] == "green"
    assert blue_green.router.served.get("green", 0) > 0
    for name, before in routes.items():
        after = blue_green.route(name)
        assert (after["metadata"]["generation"], after["spec"]) == (
            before["metadata"]["generation"],
            before["spec"],
        )
