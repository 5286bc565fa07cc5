"""Blue/green and canary under the SDK's mock monitor: the objects DESIGN.md describes, and that
a weight or colour change touches only routing objects (compared on every resource's declared
inputs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.validation import ConfigError
from rollout.offline.engine import ProgramRun
from rollout.offline.render import clean
from tests.support.project import ROOT, run_stack, set_app

GATE = "pulumi-python:dynamic/gates:HealthGate"


def inputs_by_urn(run: ProgramRun, gates: bool) -> dict[str, Any]:
    return {r.urn: clean(r.inputs) for r in run.resources if (r.type == GATE) == gates}


def changed(before: ProgramRun, after: ProgramRun, gates: bool = False) -> dict[str, tuple[Any, Any]]:
    """Resources (or, with ``gates``, health gates) whose declared inputs differ."""
    old, new = inputs_by_urn(before, gates), inputs_by_urn(after, gates)
    assert old.keys() == new.keys(), "the set of resources changed"
    return {urn.split("::")[-1]: (old[urn], new[urn]) for urn in old if old[urn] != new[urn]}


def named(run: ProgramRun, kind: str, name: str) -> dict[str, Any]:
    return next(
        clean(r.inputs)
        for r in run.resources
        if r.type.endswith(f":{kind}") and r.inputs.get("metadata", {}).get("name") == name
    )


# --- canary -----------------------------------------------------------------------------------


@pytest.fixture
def canary_at(project: Path) -> Any:
    def run(weight: int) -> ProgramRun:
        set_app(project, "staging", canary={"image": "ghcr.io/example/flutter-app:1.5.0", "weight": weight})
        return run_stack(project, "staging")

    return run


def test_canary_objects_as_design_describes(canary_at: Any) -> None:
    run = canary_at(25)
    stable, canary = (
        named(run, "Deployment", "flutter-app-stable"),
        named(run, "Deployment", "flutter-app-canary"),
    )
    assert stable["spec"]["selector"] == {"matchLabels": {"app": "flutter-app", "version": "stable"}}
    assert canary["spec"]["selector"] == {"matchLabels": {"app": "flutter-app", "version": "canary"}}
    assert stable["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/example/flutter-app:1.4.2"
    assert canary["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/example/flutter-app:1.5.0"
    assert (stable["spec"]["replicas"], canary["spec"]["replicas"]) == (3, 1)
    assert named(run, "Service", "flutter-app")["spec"]["selector"] == {"app": "flutter-app"}
    rule = named(run, "DestinationRule", "flutter-app")
    assert rule["apiVersion"] == "networking.istio.io/v1"
    assert rule["spec"]["subsets"] == [
        {"name": "stable", "labels": {"app": "flutter-app", "version": "stable"}},
        {"name": "canary", "labels": {"app": "flutter-app", "version": "canary"}},
    ]
    header, weighted = named(run, "VirtualService", "flutter-app")["spec"]["http"]
    assert header["match"] == [{"headers": {"canary": {"exact": "true"}}}]
    assert [(d["destination"]["subset"], d["weight"]) for d in header["route"]] == [("canary", 100)]
    assert [(d["destination"]["subset"], d["weight"]) for d in weighted["route"]] == [
        ("stable", 75),
        ("canary", 25),
    ]
    namespace = next(r for r in run.resources if r.type == "kubernetes:core/v1:Namespace")
    assert namespace.inputs["metadata"]["labels"]["istio-injection"] == "enabled"


def test_changing_only_the_weight_changes_only_the_virtual_service(canary_at: Any) -> None:
    before, after = canary_at(5), canary_at(50)
    diff = changed(before, after)
    assert list(diff) == ["flutter-app-virtual-service"]
    # Only the canary's gate runs again, for the new weight.
    gates = changed(before, after, gates=True)
    assert list(gates) == ["flutter-app-canary-gate"]
    assert gates["flutter-app-canary-gate"][1]["trigger"]["weight"] == 50
    old, new = diff["flutter-app-virtual-service"]
    assert [d["weight"] for d in new["spec"]["http"][1]["route"]] == [50, 50]
    assert old["spec"]["http"][0] == new["spec"]["http"][0]


def test_no_canary_image_means_no_canary_pods_and_no_canary_traffic() -> None:
    run = run_stack(ROOT, "staging")
    assert named(run, "Deployment", "flutter-app-canary")["spec"]["replicas"] == 0
    (weighted,) = named(run, "VirtualService", "flutter-app")["spec"]["http"]  # no header route
    assert [d["weight"] for d in weighted["route"]] == [100, 0]


def test_canary_binds_to_gateway_and_hosts_from_config(project: Path) -> None:
    set_app(project, "staging", expose={"hosts": ["staging.example.com"], "gateways": ["edge/public"]})
    spec = named(run_stack(project, "staging"), "VirtualService", "flutter-app")["spec"]
    assert spec["hosts"] == ["flutter-app", "staging.example.com"]
    assert spec["gateways"] == ["edge/public", "mesh"]


# --- blue/green -------------------------------------------------------------------------------


def test_blue_green_objects_as_design_describes(active: Any) -> None:
    run = active("blue")
    blue, green = named(run, "Deployment", "flutter-app-blue"), named(run, "Deployment", "flutter-app-green")
    assert blue["spec"]["template"]["metadata"]["labels"]["version"] == "blue"
    assert green["spec"]["selector"] == {"matchLabels": {"app": "flutter-app", "version": "green"}}
    assert green["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/example/flutter-app:1.5.0"
    assert named(run, "Service", "flutter-app")["spec"]["selector"] == {
        "app": "flutter-app",
        "version": "blue",
    }
    assert named(run, "Service", "flutter-app-preview")["spec"]["selector"] == {
        "app": "flutter-app",
        "version": "green",
    }
    # The provider waits for the live Service's endpoints (users reach it), not the preview's.
    assert "annotations" not in named(run, "Service", "flutter-app")["metadata"]
    assert named(run, "Service", "flutter-app-preview")["metadata"]["annotations"] == {
        "pulumi.com/skipAwait": "true"
    }


def test_switching_active_changes_only_the_service_selectors(active: Any) -> None:
    before, after = active("blue"), active("green")
    assert list(changed(before, after, gates=True)) == ["flutter-app-live-gate"]
    diff = changed(before, after)
    assert sorted(diff) == ["flutter-app-live", "flutter-app-preview"]
    for old, new in diff.values():
        assert {**old, "spec": {**old["spec"], "selector": None}} == {
            **new,
            "spec": {**new["spec"], "selector": None},
        }
    assert diff["flutter-app-live"][1]["spec"]["selector"]["version"] == "green"
    assert diff["flutter-app-preview"][1]["spec"]["selector"]["version"] == "blue"


def test_idle_colour_can_be_scaled_down_once_confirmed(project: Path) -> None:
    set_app(project, "production", blueGreen={"active": "green", "scaleDownIdle": True})
    run = run_stack(project, "production")
    assert named(run, "Deployment", "flutter-app-blue")["spec"]["replicas"] == 0
    assert named(run, "Deployment", "flutter-app-green")["spec"]["replicas"] == 6


# --- bad values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "values", "key", "fragment"),
    [
        (
            "staging",
            {"canary": {"weight": 120, "image": "a:2"}},
            "apps.flutter-app.canary.weight",
            "(got 120)",
        ),
        ("staging", {"canary": {"weight": -5, "image": "a:2"}}, "apps.flutter-app.canary.weight", "(got -5)"),
        (
            "staging",
            {"canary": {"weight": 10}},
            "apps.flutter-app.canary.weight",
            "is 10 but no canary.image is set",
        ),
        ("staging", {"canary": {"steps": [5, 50, 25, 100]}}, "apps.flutter-app.canary.steps", "increasing"),
        ("staging", {"canary": {"gateways": ["public"]}}, "apps.flutter-app.canary.gateways[0]", '"public"'),
        ("production", {"blueGreen": {"active": "purple"}}, "apps.flutter-app.blueGreen.active", '"purple"'),
        (
            "production",
            {"blueGreen": {"greenImage": "nope"}},
            "apps.flutter-app.blueGreen.greenImage",
            "no tag",
        ),
        (
            "production",
            {"canary": {"weight": 5}},
            "apps.flutter-app.canary",
            "is set but strategy is blue-green, not canary",
        ),
        (
            "staging",
            {"autoscaling": {"minReplicas": 2, "maxReplicas": 4}},
            "apps.flutter-app.autoscaling",
            "rolling only",
        ),
    ],
)
def test_bad_release_values_name_the_key(
    project: Path, stack: str, values: dict, key: str, fragment: str
) -> None:
    set_app(project, stack, **values)
    with pytest.raises(ConfigError) as caught:
        run_stack(project, stack)
    line = next(ln for ln in str(caught.value).splitlines() if f"flutter-app:{key}:" in ln)
    assert fragment in line


def test_weights_change_only_after_the_canary_pods_are_ready(canary_at: Any) -> None:
    run = canary_at(5)
    routes = next(r for r in run.resources if r.name == "flutter-app-virtual-service")
    canary = next(r for r in run.resources if r.name == "flutter-app-canary")
    assert canary.urn in routes.dependencies


def test_header_route_exists_only_while_a_canary_runs(canary_at: Any) -> None:
    routes = named(canary_at(0), "VirtualService", "flutter-app")["spec"]["http"]
    assert [r["name"] for r in routes] == ["canary-header", "weighted"]
