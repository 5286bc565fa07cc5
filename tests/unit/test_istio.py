"""Typed Istio objects: the exact camelCase spec, and validation that names the field."""

from __future__ import annotations

import pytest

from components import istio

PORT = istio.PortSelector(80)


def split(stable: int | None, canary: int | None, subset: str = "canary") -> istio.VirtualServiceSpec:
    return istio.VirtualServiceSpec(
        hosts=["web"],
        http=[
            istio.HTTPRoute(
                name="weighted",
                route=[
                    istio.HTTPRouteDestination(istio.Destination("web", "stable", PORT), stable),
                    istio.HTTPRouteDestination(istio.Destination("web", subset, PORT), canary),
                ],
            )
        ],
    )


SUBSETS = {"web": {"stable", "canary"}}


def test_spec_is_camel_case_and_leaves_out_unset_fields() -> None:
    spec = istio.VirtualServiceSpec(
        hosts=["web"],
        gateways=["istio-ingress/public", "mesh"],
        http=[
            istio.HTTPRoute(
                name="canary-header",
                match=[istio.HTTPMatchRequest(headers={"canary": istio.StringMatch(exact="true")})],
                route=[istio.HTTPRouteDestination(istio.Destination("web", "canary", PORT), 100)],
                timeout="15s",
                retries=istio.HTTPRetry(attempts=2, per_try_timeout="5s", retry_on="connect-failure"),
            )
        ],
    )
    assert istio.to_spec(spec) == {
        "hosts": ["web"],
        "gateways": ["istio-ingress/public", "mesh"],
        "http": [
            {
                "name": "canary-header",
                "match": [{"headers": {"canary": {"exact": "true"}}}],
                "route": [
                    {
                        "destination": {"host": "web", "subset": "canary", "port": {"number": 80}},
                        "weight": 100,
                    }
                ],
                "timeout": "15s",
                "retries": {"attempts": 2, "perTryTimeout": "5s", "retryOn": "connect-failure"},
            }
        ],
    }
    rule = istio.DestinationRuleSpec(
        host="web",
        subsets=[istio.Subset("stable", {"version": "stable"})],
        traffic_policy=istio.TrafficPolicy(istio.LoadBalancerSettings("LEAST_REQUEST")),
    )
    assert istio.to_spec(rule) == {
        "host": "web",
        "subsets": [{"name": "stable", "labels": {"version": "stable"}}],
        "trafficPolicy": {"loadBalancer": {"simple": "LEAST_REQUEST"}},
    }


@pytest.mark.parametrize(("stable", "canary"), [(100, 0), (95, 5), (0, 100), (50, 50)])
def test_valid_splits(stable: int, canary: int) -> None:
    assert istio.virtual_service_problems(split(stable, canary), SUBSETS) == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (split(90, 20), "http[0].route: weights must sum to 100 (got 110)"),
        (split(110, -10), "http[0].route[0].weight: must be within 0..100 (got 110)"),
        (split(110, -10), "http[0].route[1].weight: must be within 0..100 (got -10)"),
        (split(95, None), "http[0].route: every destination needs a weight when there are several"),
        (
            split(95, 5, subset="canry"),
            "http[0].route[1].destination.subset: 'canry' is not defined for host web",
        ),
        (istio.VirtualServiceSpec(hosts=[], http=split(95, 5).http), "hosts: must not be empty"),
        (istio.VirtualServiceSpec(hosts=["web"], http=[]), "http: must have at least one route"),
    ],
)
def test_invalid_virtual_services_name_the_field(spec: istio.VirtualServiceSpec, expected: str) -> None:
    problems = istio.virtual_service_problems(spec, SUBSETS)
    assert any(p.startswith(expected) for p in problems), problems


def test_single_destination_without_weight_takes_all_traffic() -> None:
    spec = istio.VirtualServiceSpec(
        hosts=["web"], http=[istio.HTTPRoute("all", [istio.HTTPRouteDestination(istio.Destination("web"))])]
    )
    assert istio.virtual_service_problems(spec, {}) == []


def test_header_match_needs_exactly_one_kind() -> None:
    spec = istio.VirtualServiceSpec(
        hosts=["web"],
        http=[
            istio.HTTPRoute(
                "h",
                [istio.HTTPRouteDestination(istio.Destination("web"))],
                match=[
                    istio.HTTPMatchRequest(headers={"canary": istio.StringMatch(exact="true", prefix="t")})
                ],
            )
        ],
    )
    assert istio.virtual_service_problems(spec, {}) == [
        "http[0].match[0].headers.canary: set exactly one of exact, prefix, regex (got ['exact', 'prefix'])"
    ]


def test_destination_rule_problems_name_the_field() -> None:
    rule = istio.DestinationRuleSpec(host="", subsets=[istio.Subset("a", {"v": "1"}), istio.Subset("a", {})])
    assert istio.destination_rule_problems(rule) == [
        "host: must not be empty",
        "subsets: 'a' is defined twice",
        "subsets[1].labels: must not be empty",
    ]


def test_declaring_an_invalid_virtual_service_raises_naming_the_object() -> None:
    with pytest.raises(
        istio.IstioSpecError, match=r"VirtualService web-vs: http\[0\]\.route: weights must sum"
    ):
        istio.virtual_service("web-vs", {"name": "web"}, split(90, 20), SUBSETS, opts=None)  # type: ignore[arg-type]
