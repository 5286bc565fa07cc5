"""Typed Gateway API routes (gateway.networking.k8s.io/v1 HTTPRoute, standard channel v1.4.1): the
parts this project uses, validated with errors that name the field, for any implementation of the
Gateway API (Istio, Envoy Gateway, Cilium, the AWS Load Balancer Controller, NGINX Gateway
Fabric, kgateway). Field names follow the API reference and the CRD schema
(tests/data/gateway-api-standard-v1.4.1.yaml, which the tests validate every route against).

A route attaches to the platform's Gateway (``parentRefs``), never declares it, and sends to
Services of its own namespace only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.api_specs import to_spec

API_VERSION = "gateway.networking.k8s.io/v1"


class RouteSpecError(ValueError):
    """An HTTPRoute the API server or its Gateway would refuse; names every bad field."""

    def __init__(self, name: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"HTTPRoute {name}: " + "; ".join(problems))


@dataclass(frozen=True)
class ParentReference:
    name: str
    namespace: str
    section_name: str | None = None


@dataclass(frozen=True)
class BackendRef:
    """A Service of the route's namespace, on its port."""

    name: str
    port: int
    weight: int | None = None


@dataclass(frozen=True)
class HeaderMatch:
    name: str
    value: str
    type: str = "Exact"


@dataclass(frozen=True)
class RouteMatch:
    headers: list[HeaderMatch] = field(default_factory=list)


@dataclass(frozen=True)
class RequestMirror:
    backend_ref: BackendRef
    percent: int | None = None


@dataclass(frozen=True)
class RouteFilter:
    type: str
    request_mirror: RequestMirror | None = None


@dataclass(frozen=True)
class RouteRule:
    name: str
    backend_refs: list[BackendRef]
    matches: list[RouteMatch] = field(default_factory=list)
    filters: list[RouteFilter] = field(default_factory=list)


@dataclass(frozen=True)
class HTTPRouteSpec:
    parent_refs: list[ParentReference]
    hostnames: list[str]
    rules: list[RouteRule]


def mirror(backend: BackendRef, percent: int) -> RouteFilter:
    """Copy ``percent`` of a rule's requests to ``backend`` (answers discarded)."""
    return RouteFilter("RequestMirror", RequestMirror(BackendRef(backend.name, backend.port), percent))


def route_problems(spec: HTTPRouteSpec) -> list[str]:
    """What the API server (the CRD's schema and CEL rules) or the split would refuse."""
    problems = [] if spec.parent_refs else ["parentRefs: must name the Gateway"]
    if not spec.hostnames:
        problems.append(
            "hostnames: must not be empty (a route without them takes every host of the listener)"
        )
    if not 1 <= len(spec.rules) <= 16:
        problems.append(f"rules: expected 1 to 16 (got {len(spec.rules)})")
    names = [rule.name for rule in spec.rules]
    problems += [f"rules: name {n!r} is used twice" for n in sorted(set(names)) if names.count(n) > 1]
    for index, rule in enumerate(spec.rules):
        where = f"rules[{index}]"
        if not rule.backend_refs:
            problems.append(f"{where}.backendRefs: must not be empty")
        weights = [ref.weight for ref in rule.backend_refs]
        for j, weight in enumerate(weights):
            if weight is not None and not 0 <= weight <= 1_000_000:
                problems.append(f"{where}.backendRefs[{j}].weight: must be within 0..1000000 (got {weight})")
        if len(rule.backend_refs) > 1 and sum(w or 0 for w in weights) != 100:
            problems.append(
                f"{where}.backendRefs: weights must sum to 100 (got {sum(w or 0 for w in weights)})"
            )
        for item in rule.filters:
            if item.request_mirror is not None and not 0 <= (item.request_mirror.percent or 100) <= 100:
                problems.append(f"{where}.filters: a mirror's percent must be within 0..100")
    return problems


def http_route(
    name: str, metadata: k8s.meta.v1.ObjectMetaArgsDict, spec: HTTPRouteSpec, opts: pulumi.ResourceOptions
) -> k8s.apiextensions.CustomResource:
    """Declare a validated HTTPRoute."""
    problems = route_problems(spec)
    if problems:
        raise RouteSpecError(name, problems)
    return k8s.apiextensions.CustomResource(
        name, api_version=API_VERSION, kind="HTTPRoute", metadata=metadata, spec=to_spec(spec), opts=opts
    )
