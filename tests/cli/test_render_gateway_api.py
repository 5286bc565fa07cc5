"""`rollout render` with ``cluster.traffic: gateway-api``: the HTTPRoutes each strategy writes,
attached to the platform's Gateway, valid against the Gateway API CRD schema, and no Istio object
and no Ingress; and the mirrored step in both modes (Gateway API and Istio)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import yaml

from rollout.cli import main
from tests.support.project import edit_stack, set_app
from tests.support.schemas import manifest_errors

GATEWAY = {"name": "public", "namespace": "gateway-system"}
CANARY_IMAGE = "ghcr.io/example/flutter-app:1.5.0"


def render(project: Path, stack: str) -> list[dict[str, Any]]:
    out, err = project / "out", io.StringIO()
    code = main(
        ["--cwd", str(project), "render", "--stack", stack, "--out", str(out)], out=io.StringIO(), err=err
    )
    assert code == 0, err.getvalue()
    manifests = [m for m in yaml.safe_load_all((out / stack / "manifests.yaml").read_text()) if m]
    errors = [e for m in manifests if (e := manifest_errors(m))]
    assert not errors, "\n".join(errors)
    return manifests


def gateway_api(project: Path, stack: str) -> None:
    edit_stack(
        project,
        stack,
        lambda config: config.setdefault("flutter-app:cluster", {}).update(
            traffic="gateway-api", gateway=GATEWAY
        ),
    )


def of_kind(manifests: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def test_a_canary_at_25_percent_splits_75_25_between_two_services_by_httproute(project: Path) -> None:
    gateway_api(project, "staging")
    set_app(project, "staging", canary={"image": CANARY_IMAGE, "weight": 25})
    manifests = render(project, "staging")
    assert not {"VirtualService", "DestinationRule", "Gateway", "Ingress"} & {m["kind"] for m in manifests}
    (route,) = of_kind(manifests, "HTTPRoute").values()
    spec = route["spec"]
    assert spec["parentRefs"] == [GATEWAY]
    assert spec["hostnames"] == ["staging.example.com"]
    header, weighted = spec["rules"]
    assert header["matches"] == [{"headers": [{"name": "canary", "value": "true", "type": "Exact"}]}]
    assert header["backendRefs"] == [{"name": "flutter-app-canary", "port": 80}]
    assert [(b["name"], b["weight"]) for b in weighted["backendRefs"]] == [
        ("flutter-app-stable", 75),
        ("flutter-app-canary", 25),
    ]
    services = of_kind(manifests, "Service")
    assert services["flutter-app-stable"]["spec"]["selector"] == {"app": "flutter-app", "version": "stable"}
    assert services["flutter-app-canary"]["spec"]["selector"] == {"app": "flutter-app", "version": "canary"}


def test_without_a_canary_there_is_no_header_rule_and_the_canary_gets_nothing(project: Path) -> None:
    gateway_api(project, "staging")
    (route,) = of_kind(render(project, "staging"), "HTTPRoute").values()
    (weighted,) = route["spec"]["rules"]
    assert [b["weight"] for b in weighted["backendRefs"]] == [100, 0]


def test_blue_green_and_rolling_route_their_hosts_to_the_serving_services(project: Path) -> None:
    gateway_api(project, "production")
    routes = of_kind(render(project, "production"), "HTTPRoute")
    assert {
        name: (r["spec"]["hostnames"], r["spec"]["rules"][0]["backendRefs"]) for name, r in routes.items()
    } == {
        "flutter-app": (["app.example.com"], [{"name": "flutter-app", "port": 80}]),
        "flutter-app-preview": (["preview.app.example.com"], [{"name": "flutter-app-preview", "port": 80}]),
    }
    edit_stack(
        project,
        "dev",
        lambda c: c.update(
            {"flutter-app:cluster": {"mode": "existing", "traffic": "gateway-api", "gateway": GATEWAY}}
        ),
    )
    set_app(project, "dev", expose={"hosts": ["dev.example.com"]})
    manifests = render(project, "dev")
    assert "Ingress" not in {m["kind"] for m in manifests}
    (route,) = of_kind(manifests, "HTTPRoute").values()
    assert route["spec"]["rules"][0]["backendRefs"] == [{"name": "flutter-app", "port": 80}]


@pytest.mark.parametrize("traffic", ["gateway-api", "istio"])
def test_a_mirror_at_weight_0_copies_requests_and_routes_no_user_to_the_canary(
    project: Path, traffic: str
) -> None:
    if traffic == "gateway-api":
        gateway_api(project, "staging")
    set_app(project, "staging", canary={"image": CANARY_IMAGE, "weight": 0, "mirror": 100})
    manifests = render(project, "staging")
    if traffic == "gateway-api":
        (route,) = of_kind(manifests, "HTTPRoute").values()
        weighted = route["spec"]["rules"][-1]
        assert [b["weight"] for b in weighted["backendRefs"]] == [100, 0]
        assert weighted["filters"] == [
            {
                "type": "RequestMirror",
                "requestMirror": {"backendRef": {"name": "flutter-app-canary", "port": 80}, "percent": 100},
            }
        ]
    else:
        (service,) = of_kind(manifests, "VirtualService").values()
        weighted = service["spec"]["http"][-1]
        assert [d["weight"] for d in weighted["route"]] == [100, 0]
        assert weighted["mirror"] == {"host": "flutter-app", "subset": "canary", "port": {"number": 80}}
        assert weighted["mirrorPercentage"] == {"value": 100.0}


@pytest.mark.parametrize("traffic", ["gateway-api", "istio"])
def test_promotion_passing_through_weight_0_copies_nothing(project: Path, traffic: str) -> None:
    """Promotion's "traffic to stable" step: the stable runs the canary's image, the weight is
    back at 0 while the canary still runs: no copy (every write would run twice), no canary gate."""
    if traffic == "gateway-api":
        gateway_api(project, "staging")
    set_app(
        project, "staging", image=CANARY_IMAGE, canary={"image": CANARY_IMAGE, "weight": 0, "mirror": 100}
    )
    manifests = render(project, "staging")
    routes = of_kind(manifests, "HTTPRoute" if traffic == "gateway-api" else "VirtualService").values()
    text = yaml.safe_dump(list(routes))
    assert "RequestMirror" not in text and "mirror" not in text
    resources = (project / "out" / "staging" / "resources.json").read_text()
    assert "flutter-app-canary-gate" not in resources and "flutter-app-stable-gate" in resources


def test_the_routes_attach_to_the_gateway_and_never_declare_it(project: Path) -> None:
    """With istio and cluster.gateway, the VirtualServices bind to the platform's Gateway and the
    stack declares none (before: every stack declared istio-ingress/public, and they fought)."""
    edit_stack(
        project,
        "staging",
        lambda c: c.setdefault("flutter-app:cluster", {}).update(
            gateway={"name": "edge", "namespace": "istio-ingress"}
        ),
    )
    manifests = render(project, "staging")
    assert "Gateway" not in {m["kind"] for m in manifests}
    (service,) = of_kind(manifests, "VirtualService").values()
    assert service["spec"]["gateways"] == ["istio-ingress/edge", "mesh"]
