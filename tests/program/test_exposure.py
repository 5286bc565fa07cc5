"""How users reach the app, for every strategy, under the SDK's mock monitor: the route from the
app's hosts to the Service that serves live traffic (VirtualService with Istio, Ingress without),
the blue/green switch reaching the new colour through an unchanged route, the old `canary.hosts`
spelling, the refusals, and the namespace's NetworkPolicies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.validation import ConfigError
from rollout.offline.engine import ProgramRun
from rollout.offline.render import clean
from tests.program.test_strategies import changed, named
from tests.support.project import ROOT, edit_stack, run_stack, set_app

APP = "flutter-app"


def of_kind(run: ProgramRun, kind: str) -> dict[str, dict[str, Any]]:
    """Objects of ``kind`` by metadata.name."""
    return {
        r.inputs["metadata"]["name"]: clean(r.inputs) for r in run.resources if r.type.endswith(f":{kind}")
    }


def pods_reached(run: ProgramRun, service: str) -> list[str]:
    """The Deployments whose pods the Service's selector selects."""
    selector = named(run, "Service", service)["spec"]["selector"]
    return sorted(
        name
        for name, deployment in of_kind(run, "Deployment").items()
        if selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    )


def host_routes(run: ProgramRun) -> dict[str, str]:
    """External host -> the Service its route sends requests to (VirtualService or Ingress)."""
    found: dict[str, str] = {}
    for route in of_kind(run, "VirtualService").values():
        spec = route["spec"]
        for host in spec["hosts"]:
            if "." in host:  # the in-mesh short name of a canary is not an external host
                (weighted,) = [r for r in spec["http"] if "match" not in r]
                assert {d["destination"]["host"] for d in weighted["route"]} == {route["metadata"]["name"]}
                found[host] = weighted["route"][0]["destination"]["host"]
    for ingress in of_kind(run, "Ingress").values():
        for rule in ingress["spec"]["rules"]:
            (path,) = rule["http"]["paths"]
            assert (path["path"], path["pathType"], path["backend"]["service"]["port"]) == (
                "/",
                "Prefix",
                {"name": "http"},
            )
            found[rule["host"]] = path["backend"]["service"]["name"]
    return found


@pytest.mark.parametrize(
    ("stack", "kind", "routes", "serving"),
    [
        ("dev", "Ingress", {"dev.example.com": APP}, [APP]),
        ("test", "Ingress", {"test.example.com": APP}, [APP]),
        ("staging", "VirtualService", {"staging.example.com": APP}, [f"{APP}-canary", f"{APP}-stable"]),
        (
            "production",
            "VirtualService",
            {"app.example.com": APP, "preview.app.example.com": f"{APP}-preview"},
            [f"{APP}-blue"],
        ),
    ],
)
def test_every_stack_routes_its_hosts_to_the_serving_service(
    stack: str, kind: str, routes: dict[str, str], serving: list[str]
) -> None:
    run = run_stack(ROOT, stack)
    assert of_kind(run, kind)
    assert host_routes(run) == routes
    assert pods_reached(run, routes[min(routes, key=len)]) == serving


def test_istio_routes_bind_to_the_stacks_gateway() -> None:
    run = run_stack(ROOT, "production")
    routes = of_kind(run, "VirtualService")
    assert {name: r["spec"]["gateways"] for name, r in routes.items()} == {
        APP: ["istio-ingress/public"],
        f"{APP}-preview": ["istio-ingress/public"],
    }
    gateway = next(iter(of_kind(run, "Gateway").values()))
    assert (gateway["metadata"]["namespace"], gateway["metadata"]["name"]) == ("istio-ingress", "public")
    assert routes[APP]["spec"]["http"][0]["route"] == [{"destination": {"host": APP, "port": {"number": 80}}}]


def test_after_a_switch_the_same_route_reaches_the_new_colour(active: Any) -> None:
    before, after = active("blue"), active("green")
    assert (
        host_routes(before)
        == host_routes(after)
        == {
            "app.example.com": APP,
            "preview.app.example.com": f"{APP}-preview",
        }
    )
    assert (pods_reached(before, APP), pods_reached(after, APP)) == ([f"{APP}-blue"], [f"{APP}-green"])
    assert (pods_reached(before, f"{APP}-preview"), pods_reached(after, f"{APP}-preview")) == (
        [f"{APP}-green"],
        [f"{APP}-blue"],
    )
    # The switch changes the two Services' selectors and nothing else: never a route.
    assert sorted(changed(before, after)) == [f"{APP}-live", f"{APP}-preview"]


def test_without_istio_blue_green_gets_one_ingress_for_live_and_preview_hosts(project: Path) -> None:
    edit_stack(
        project,
        "production",
        lambda c: c.update(
            {
                "flutter-app:cluster": {
                    "mode": "existing",
                    "apiServer": "https://k8s.example.com",
                    "addons": {"istio": False, "monitoring": False},
                    "ingressController": {"className": "traefik", "namespace": "traefik"},
                }
            }
        ),
    )
    set_app(
        project,
        "production",
        expose={
            "hosts": ["app.example.com"],
            "previewHosts": ["preview.app.example.com"],
            "tlsSecret": "app-tls",
        },
    )
    run = run_stack(project, "production")
    assert not of_kind(run, "VirtualService")
    ingress = of_kind(run, "Ingress")[APP]
    assert ingress["spec"]["ingressClassName"] == "traefik"
    # The controller publishes its address: `pulumi up` waits for it, as for any resource.
    assert "annotations" not in ingress["metadata"]
    assert ingress["spec"]["tls"] == [
        {"hosts": ["app.example.com", "preview.app.example.com"], "secretName": "app-tls"}
    ]
    assert host_routes(run) == {"app.example.com": APP, "preview.app.example.com": f"{APP}-preview"}
    allow = of_kind(run, "NetworkPolicy")[f"{APP}-allow-apps"]["spec"]
    assert allow["ingress"][1]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}}}
    ]


def test_a_controller_that_publishes_no_address_is_not_waited_for(project: Path) -> None:
    cluster = {"mode": "existing", "ingressController": {"publishesAddress": False}}
    edit_stack(project, "dev", lambda c: c.update({"flutter-app:cluster": cluster}))
    ingress = of_kind(run_stack(project, "dev"), "Ingress")[APP]
    assert ingress["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}


def test_without_expose_there_is_no_route(project: Path) -> None:
    edit_stack(project, "dev", lambda c: c["flutter-app:apps"][APP].pop("expose"))
    run = run_stack(project, "dev")
    assert not of_kind(run, "Ingress") and not of_kind(run, "VirtualService")


def test_the_old_canary_spelling_is_read_as_expose_and_warned_about(project: Path) -> None:
    set_app(
        project, "staging", canary={"hosts": ["staging.example.com"], "gateways": ["istio-ingress/public"]}
    )
    edit_stack(project, "staging", lambda c: c["flutter-app:apps"][APP].pop("expose"))
    old = run_stack(project, "staging")
    new = run_stack(ROOT, "staging")
    assert named(old, "VirtualService", APP)["spec"] == named(new, "VirtualService", APP)["spec"]
    assert any(
        "apps.flutter-app.canary.hosts is the old spelling of apps.flutter-app.expose.hosts" in w
        for w in old.warnings
    )


@pytest.mark.parametrize(
    ("stack", "change", "key", "fragment"),
    [
        (
            "staging",
            {"canary": {"hosts": ["staging.example.com"]}},
            "apps.flutter-app.canary.hosts",
            "old spelling of expose.hosts",
        ),
        (
            "staging",
            {"canary": {"gateways": ["istio-ingress/public"]}, "expose": None},
            "apps.flutter-app.canary.gateways",
            "without canary.hosts",
        ),
        ("dev", {"expose": {"hosts": []}}, "apps.flutter-app.expose.hosts", "at least 1"),
        (
            "dev",
            {"expose": {"hosts": ["App.Example.com"]}},
            "apps.flutter-app.expose.hosts[0]",
            "lowercase host name",
        ),
        ("dev", {"expose": {"hosts": ["localhost"]}}, "apps.flutter-app.expose.hosts[0]", "at least one dot"),
        ("dev", {"expose": {"hosts": ["10.0.0.1"]}}, "apps.flutter-app.expose.hosts[0]", "is an IP address"),
        (
            "dev",
            {"expose": {"hosts": ["a.example.com", "a.example.com"]}},
            "apps.flutter-app.expose.hosts[1]",
            "listed twice",
        ),
        (
            "dev",
            {"expose": {"hosts": ["a.example.com"], "previewHosts": ["p.example.com"]}},
            "apps.flutter-app.expose.previewHosts",
            "strategy is rolling",
        ),
        (
            "dev",
            {"expose": {"hosts": ["a.example.com"], "gateways": ["istio-ingress/public"]}},
            "apps.flutter-app.expose.gateways",
            "are Istio Gateways, and cluster.traffic is ingress",
        ),
        (
            "production",
            {"expose": {"hosts": ["a.example.com"], "tlsSecret": "tls"}},
            "apps.flutter-app.expose.tlsSecret",
            "the Gateway terminates TLS",
        ),
        (
            "production",
            {"expose": {"hosts": ["a.example.com"], "gateways": ["public"]}},
            "apps.flutter-app.expose.gateways[0]",
            '"public"',
        ),
        (
            "production",
            {"expose": {"host": ["a.example.com"]}},
            "apps.flutter-app.expose.host",
            "did you mean 'hosts'",
        ),
    ],
)
def test_bad_exposure_names_the_key(project: Path, stack: str, change: dict, key: str, fragment: str) -> None:
    def apply(config: dict) -> None:
        app = config["flutter-app:apps"][APP]
        for name, value in change.items():
            if value is None:
                app.pop(name, None)
            else:
                app[name] = value

    edit_stack(project, stack, apply)
    with pytest.raises(ConfigError) as caught:
        run_stack(project, stack)
    line = next(ln for ln in str(caught.value).splitlines() if f"flutter-app:{key}:" in ln)
    assert fragment in line


def test_a_host_routed_by_two_apps_is_refused(project: Path) -> None:
    edit_stack(
        project,
        "dev",
        lambda c: c["flutter-app:apps"].update(
            {"api": {"image": "ghcr.io/example/api:1.0.0", "expose": {"hosts": ["dev.example.com"]}}}
        ),
    )
    with pytest.raises(
        ConfigError,
        match=r"flutter-app:apps\.api\.expose: routes dev\.example\.com, which app flutter-app routes too",
    ):
        run_stack(project, "dev")


# --- NetworkPolicy -----------------------------------------------------------------------------


def policies(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {name: p["spec"] for name, p in of_kind(run, "NetworkPolicy").items()}


def admitted(spec: dict[str, Any]) -> list[dict[str, str]]:
    """The namespace selectors of the rule that admits other namespaces to the apps' port."""
    (rule,) = [r for r in spec["ingress"] if "ports" in r]
    assert rule["ports"] == [{"protocol": "TCP", "port": "http"}]
    return [peer["namespaceSelector"]["matchLabels"] for peer in rule["from"]]


def test_production_denies_ingress_except_gateway_mesh_and_monitoring() -> None:
    found = policies(run_stack(ROOT, "production"))
    assert found["flutter-app-default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    allow = found["flutter-app-allow-apps"]
    assert allow["podSelector"] == {"matchLabels": {"app.kubernetes.io/part-of": "flutter-app"}}
    assert allow["ingress"][0] == {"from": [{"podSelector": {}}]}
    assert admitted(allow) == [
        {"kubernetes.io/metadata.name": "istio-ingress"},
        {"kubernetes.io/metadata.name": "monitoring"},
        {"istio-injection": "enabled"},
    ]


def test_dev_admits_only_its_ingress_controller() -> None:
    assert admitted(policies(run_stack(ROOT, "dev"))["flutter-app-allow-apps"]) == [
        {"kubernetes.io/metadata.name": "ingress-nginx"}
    ]


def test_network_policy_is_configurable(project: Path) -> None:
    edit_stack(
        project,
        "production",
        lambda c: c.update(
            {
                "flutter-app:networkPolicy": {
                    "allowMesh": False,
                    "allowMonitoring": False,
                    "allowNamespaces": ["batch"],
                }
            }
        ),
    )
    allow = policies(run_stack(project, "production"))["flutter-app-allow-apps"]
    assert admitted(allow) == [
        {"kubernetes.io/metadata.name": "istio-ingress"},
        {"kubernetes.io/metadata.name": "batch"},
    ]
    edit_stack(project, "production", lambda c: c.update({"flutter-app:networkPolicy": {"enabled": False}}))
    assert policies(run_stack(project, "production")) == {}


def test_bad_network_policy_names_the_key(project: Path) -> None:
    edit_stack(
        project,
        "dev",
        lambda c: c.update({"flutter-app:networkPolicy": {"enabled": "yes", "allowNamespaces": ["Batch"]}}),
    )
    with pytest.raises(ConfigError) as caught:
        run_stack(project, "dev")
    text = str(caught.value)
    assert 'flutter-app:networkPolicy.enabled: Input should be a valid boolean (got "yes")' in text
    assert "flutter-app:networkPolicy.allowNamespaces[0]: expected a lowercase RFC 1123 label" in text
