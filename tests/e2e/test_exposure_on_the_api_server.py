"""How users reach the app, as the sandbox's API server holds it after a real `pulumi up`: a
blue/green stack on a cluster with Istio (external) gets VirtualServices from its hosts to the
live and preview Services, and after a switch (blueGreen.active + `pulumi up`) the same route
reaches the new colour, because only the Services' selectors moved; a rolling stack on a cluster
without Istio gets an Ingress. Both namespaces get their default-deny NetworkPolicy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.sandbox import Project
from tests.e2e.stacks import APP, namespace, sandbox_config
from tests.support.app import FaultyApp

QUICK_GATE = {"interval": 2, "duration": 4}
VIRTUAL_SERVICE = "virtualservices.networking.istio.io"


def policy(environment: str) -> tuple[str, ...]:
    return ("--policy-pack", "policies", "--policy-pack-config", f"policies/config/{environment}.json")


@pytest.fixture(scope="module")
def app() -> Iterator[FaultyApp]:
    server = FaultyApp()
    yield server
    server.stop()


def held(project: Project, kind: str, name: str, ns: str) -> dict[str, Any]:
    found = project.sandbox.get(kind, name, ns)
    assert found is not None, f"the API server holds no {kind} {ns}/{name}"
    return found


def destinations(route: dict[str, Any]) -> list[str]:
    return [d["destination"]["host"] for r in route["spec"]["http"] for d in r["route"]]


def pod_colours(project: Project, service: dict[str, Any]) -> set[str]:
    """The `version` labels of the pods the Service's selector selects."""
    meta, selector = service["metadata"], service["spec"]["selector"]
    labels = ",".join(f"{k}={v}" for k, v in selector.items())
    pods = project.sandbox.list("pods", meta["namespace"], labels)
    assert pods, f"Service {meta['name']} selects no pod ({labels})"
    return {pod["metadata"]["labels"]["version"] for pod in pods}


def test_blue_green_hosts_reach_the_live_colour_before_and_after_a_switch(
    e2e_project: Project, app: FaultyApp
) -> None:
    ns = namespace("expose-bg")
    gate = {"url": app.url, "previewUrl": app.url, "spec": QUICK_GATE}
    config = sandbox_config("production", ns, app.url, gate=gate, replicas=2)
    assert config["apps"][APP]["expose"] == {
        "hosts": ["app.example.com"],
        "previewHosts": ["preview.app.example.com"],
    }
    config["namespaceQuota"] = {"pods": 20}
    stack = e2e_project.new_stack("expose-bg", config)
    e2e_project.pulumi("up", "--yes", "--skip-preview", *policy("production"), stack=stack)

    live_route = held(e2e_project, VIRTUAL_SERVICE, APP, ns)
    preview_route = held(e2e_project, VIRTUAL_SERVICE, f"{APP}-preview", ns)
    assert (live_route["spec"]["hosts"], live_route["spec"]["gateways"]) == (
        ["app.example.com"],
        ["istio-ingress/public"],
    )
    assert destinations(live_route) == [APP]
    assert (preview_route["spec"]["hosts"], destinations(preview_route)) == (
        ["preview.app.example.com"],
        [f"{APP}-preview"],
    )
    gateway = held(e2e_project, "gateways.networking.istio.io", "public", "istio-ingress")
    assert gateway["spec"]["servers"][0]["hosts"] == ["*"]
    assert pod_colours(e2e_project, held(e2e_project, "service", APP, ns)) == {"blue"}
    assert pod_colours(e2e_project, held(e2e_project, "service", f"{APP}-preview", ns)) == {"green"}

    config["apps"][APP]["blueGreen"] = {"active": "green"}
    e2e_project.write_config(stack, config)
    e2e_project.pulumi("up", "--yes", "--skip-preview", *policy("production"), stack=stack)

    # The routes are the objects they were (same generation, same hosts and destinations); the
    # Services they name now select the other colours.
    after_live = held(e2e_project, VIRTUAL_SERVICE, APP, ns)
    after_preview = held(e2e_project, VIRTUAL_SERVICE, f"{APP}-preview", ns)
    assert after_live["metadata"]["generation"] == live_route["metadata"]["generation"]
    assert after_live["spec"] == live_route["spec"]
    assert after_preview["spec"] == preview_route["spec"]
    assert pod_colours(e2e_project, held(e2e_project, "service", APP, ns)) == {"green"}
    assert pod_colours(e2e_project, held(e2e_project, "service", f"{APP}-preview", ns)) == {"blue"}

    deny = held(e2e_project, "networkpolicy", "flutter-app-default-deny", ns)
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    allow = held(e2e_project, "networkpolicy", "flutter-app-allow-apps", ns)
    admitted = [peer["namespaceSelector"]["matchLabels"] for peer in allow["spec"]["ingress"][1]["from"]]
    assert admitted == [
        {"kubernetes.io/metadata.name": "istio-ingress"},
        {"kubernetes.io/metadata.name": "monitoring"},
        {"istio-injection": "enabled"},
    ]
    e2e_project.pulumi("destroy", "--yes", "--skip-preview", stack=stack)
    assert e2e_project.sandbox.get(VIRTUAL_SERVICE, APP, ns) is None


def test_rolling_stack_without_istio_gets_an_ingress_to_its_service(
    e2e_project: Project, app: FaultyApp
) -> None:
    ns = namespace("expose-rolling")
    config = sandbox_config("dev", ns, app.url, gate={"url": app.url, "spec": QUICK_GATE})
    config["cluster"]["ingressController"] = {"className": "traefik", "namespace": "traefik"}
    stack = e2e_project.new_stack("expose-rolling", config)
    e2e_project.pulumi("up", "--yes", "--skip-preview", *policy("dev"), stack=stack)

    ingress = held(e2e_project, "ingress", APP, ns)
    assert ingress["spec"]["ingressClassName"] == "traefik"
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "dev.example.com"
    assert rule["http"]["paths"] == [
        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": APP, "port": {"name": "http"}}}}
    ]
    service = held(e2e_project, "service", APP, ns)
    assert [p["name"] for p in service["spec"]["ports"]] == ["http"]
    pods = e2e_project.sandbox.list("pods", ns, f"app={APP}")
    assert pods and all(p["metadata"]["labels"]["app"] == APP for p in pods)
    assert e2e_project.sandbox.get(VIRTUAL_SERVICE, APP, ns) is None
    allow = held(e2e_project, "networkpolicy", "flutter-app-allow-apps", ns)
    assert allow["spec"]["ingress"][1]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}}}
    ]
    e2e_project.pulumi("destroy", "--yes", "--skip-preview", stack=stack)
