"""Production- and staging-like stacks through the real engine: the mandatory policy pack loaded by
the engine stops a violation at preview; a compliant blue/green stack goes up within its quota,
the release's surge included; a canary's Istio objects pass the API server's CRD validation, and
a weight change updates the VirtualService only."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.sandbox import Project
from tests.e2e.stacks import APP, GATE_SPEC, namespace, sandbox_config
from tests.support.app import FaultyApp


def policy(environment: str) -> tuple[str, ...]:
    return ("--policy-pack", "policies", "--policy-pack-config", f"policies/config/{environment}.json")


def changed(project: Project, stack: str, environment: str) -> set[tuple[str, str]]:
    """(operation, resource type) of every step a preview plans besides `same`."""
    preview = json.loads(project.pulumi("preview", "--json", *policy(environment), stack=stack).stdout)
    return {(s["op"], s["urn"].split("::")[-2].split("$")[-1]) for s in preview["steps"] if s["op"] != "same"}


@pytest.fixture(scope="module")
def app() -> Iterator[FaultyApp]:
    server = FaultyApp()
    yield server
    server.stop()


def test_production_policy_violation_fails_the_real_preview(e2e_project: Project, app: FaultyApp) -> None:
    ns = namespace("violation")
    config = sandbox_config("production", ns, app.url, image="ghcr.io/example/flutter-app:main")
    stack = e2e_project.new_stack("prod-violation", config)
    result = e2e_project.pulumi("preview", *policy("production"), stack=stack, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "image-pinned" in output
    assert "mandatory" in output
    assert e2e_project.sandbox.get("namespace", ns) is None


def test_production_blue_green_goes_up_and_its_quota_admits_the_release_peak(
    e2e_project: Project, app: FaultyApp
) -> None:
    ns = namespace("prod")
    gate = {"url": app.url, "previewUrl": app.url, "spec": GATE_SPEC}
    stack = e2e_project.new_stack("prod", sandbox_config("production", ns, app.url, gate=gate))
    e2e_project.pulumi("up", "--yes", "--skip-preview", *policy("production"), stack=stack)
    sandbox = e2e_project.sandbox
    live = sandbox.get("service", APP, ns)
    preview = sandbox.get("service", f"{APP}-preview", ns)
    assert live is not None and preview is not None
    assert live["spec"]["selector"] == {"app": APP, "version": "blue"}
    assert preview["spec"]["selector"] == {"app": APP, "version": "green"}
    for colour in ("blue", "green"):
        deployment = sandbox.get("deployment", f"{APP}-{colour}", ns)
        assert deployment is not None and deployment["status"]["readyReplicas"] == 6
    # A new image on the idle colour rolls it with the guide's surge (maxSurge 2) while the live
    # colour keeps its 6 pods: the quota must admit that peak, or the rollout would stall.
    e2e_project.pulumi(
        "config",
        "set",
        "--path",
        f"apps.{APP}.blueGreen.greenImage",
        "ghcr.io/example/flutter-app:1.5.0",
        stack=stack,
    )
    e2e_project.pulumi("up", "--yes", "--skip-preview", *policy("production"), stack=stack)
    green = sandbox.get("deployment", f"{APP}-green", ns)
    assert green is not None
    assert green["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.5.0")
    assert green["status"]["updatedReplicas"] == 6
    quota = sandbox.get("resourcequota", "flutter-app-quota", ns)
    assert quota is not None
    assert quota["status"]["hard"]["pods"] == "60"
    assert int(quota["status"]["used"]["pods"]) == 12
    e2e_project.pulumi("destroy", "--yes", "--skip-preview", stack=stack)


def test_staging_canary_objects_pass_crd_validation_and_a_weight_change_touches_routing_only(
    e2e_project: Project, app: FaultyApp
) -> None:
    ns = namespace("staging")
    config = sandbox_config("staging", ns, app.url, gate={"url": app.url, "spec": GATE_SPEC})
    config["apps"][APP]["canary"] = {"image": "ghcr.io/example/flutter-app:1.5.0", "weight": 5}
    stack = e2e_project.new_stack("staging", config)
    e2e_project.pulumi("up", "--yes", "--skip-preview", *policy("staging"), stack=stack)
    sandbox = e2e_project.sandbox
    # The API server validated these against the Istio CRDs' schemas when it stored them.
    route = sandbox.get("virtualservices.networking.istio.io", APP, ns)
    rule = sandbox.get("destinationrules.networking.istio.io", APP, ns)
    assert route is not None and rule is not None
    assert [s["name"] for s in rule["spec"]["subsets"]] == ["stable", "canary"]
    header, weighted = route["spec"]["http"]
    assert header["match"] == [{"headers": {"canary": {"exact": "true"}}}]
    assert [d["weight"] for d in weighted["route"]] == [95, 5]

    def generation(track: str) -> int:
        deployment = sandbox.get("deployment", f"{APP}-{track}", ns)
        assert deployment is not None, track
        value: int = deployment["metadata"]["generation"]
        return value

    generations = {track: generation(track) for track in ("stable", "canary")}

    config["apps"][APP]["canary"]["weight"] = 25
    e2e_project.write_config(stack, config)
    assert changed(e2e_project, stack, "staging") == {
        ("update", "kubernetes:networking.istio.io/v1:VirtualService"),
        ("update", "pulumi-python:dynamic/gates:HealthGate"),
    }
    e2e_project.pulumi("up", "--yes", "--skip-preview", *policy("staging"), stack=stack)
    route = sandbox.get("virtualservices.networking.istio.io", APP, ns)
    assert route is not None
    assert [d["weight"] for d in route["spec"]["http"][1]["route"]] == [75, 25]
    assert {track: generation(track) for track in generations} == generations
    e2e_project.pulumi("destroy", "--yes", "--skip-preview", stack=stack)
