"""Typed Istio traffic objects (networking.istio.io/v1): the parts of VirtualService and
DestinationRule this project uses, serialized to the camelCase spec the API expects and
validated with errors that name the field.

``CustomResource`` sends ``spec`` verbatim (no snake_case translation), so the dataclasses here
are the only place that spelling is decided. Field names follow the Istio API reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.api_specs import to_spec

API_VERSION = "networking.istio.io/v1"
_DURATION = re.compile(r"^[0-9]+(\.[0-9]+)?(ms|s|m|h)$")


class IstioSpecError(ValueError):
    """An Istio object that the API (or its routing) would reject; names every bad field."""

    def __init__(self, kind: str, name: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{kind} {name}: " + "; ".join(problems))


@dataclass(frozen=True)
class StringMatch:
    """Exactly one of exact / prefix / regex."""

    exact: str | None = None
    prefix: str | None = None
    regex: str | None = None


@dataclass(frozen=True)
class HTTPMatchRequest:
    headers: dict[str, StringMatch] = field(default_factory=dict)
    uri: StringMatch | None = None


@dataclass(frozen=True)
class PortSelector:
    number: int


@dataclass(frozen=True)
class Destination:
    host: str
    subset: str | None = None
    port: PortSelector | None = None


@dataclass(frozen=True)
class HTTPRouteDestination:
    destination: Destination
    weight: int | None = None


@dataclass(frozen=True)
class HTTPRetry:
    attempts: int
    per_try_timeout: str | None = None
    retry_on: str | None = None


@dataclass(frozen=True)
class Percent:
    value: float


@dataclass(frozen=True)
class HTTPRoute:
    name: str
    route: list[HTTPRouteDestination]
    match: list[HTTPMatchRequest] = field(default_factory=list)
    timeout: str | None = None
    retries: HTTPRetry | None = None
    mirror: Destination | None = None
    """A copy of each request goes there too; its answer is discarded."""
    mirror_percentage: Percent | None = None


# Retry only failures that never reached the app: retrying 5xx would hide a release's errors from
# the gate's error rate.
SAFE_RETRIES = HTTPRetry(
    attempts=2, per_try_timeout="10s", retry_on="connect-failure,refused-stream,unavailable"
)


@dataclass(frozen=True)
class VirtualServiceSpec:
    hosts: list[str]
    http: list[HTTPRoute]
    gateways: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LoadBalancerSettings:
    simple: str


@dataclass(frozen=True)
class TrafficPolicy:
    load_balancer: LoadBalancerSettings | None = None


@dataclass(frozen=True)
class Subset:
    name: str
    labels: dict[str, str]
    traffic_policy: TrafficPolicy | None = None


@dataclass(frozen=True)
class DestinationRuleSpec:
    host: str
    subsets: list[Subset]
    traffic_policy: TrafficPolicy | None = None


def _match_problems(where: str, match: StringMatch) -> list[str]:
    set_fields = [f for f in ("exact", "prefix", "regex") if getattr(match, f) is not None]
    return (
        []
        if len(set_fields) == 1
        else [f"{where}: set exactly one of exact, prefix, regex (got {set_fields})"]
    )


def virtual_service_problems(spec: VirtualServiceSpec, subsets: dict[str, set[str]]) -> list[str]:
    """Problems in ``spec``; ``subsets`` maps each destination host to its defined subsets."""
    problems = [] if spec.hosts else ["hosts: must not be empty"]
    if not spec.http:
        problems.append("http: must have at least one route")
    for i, route in enumerate(spec.http):
        where = f"http[{i}]"
        if not route.route:
            problems.append(f"{where}.route: must not be empty")
        weights = [d.weight for d in route.route]
        for j, (weight, dest) in enumerate(zip(weights, route.route, strict=True)):
            if weight is not None and not 0 <= weight <= 100:
                problems.append(f"{where}.route[{j}].weight: must be within 0..100 (got {weight})")
            known = subsets.get(dest.destination.host, set())
            if dest.destination.subset is not None and dest.destination.subset not in known:
                problems.append(
                    f"{where}.route[{j}].destination.subset: '{dest.destination.subset}' is not defined "
                    f"for host {dest.destination.host} (defined: {sorted(known)})"
                )
        if len(route.route) > 1 and None in weights:
            problems.append(f"{where}.route: every destination needs a weight when there are several")
        elif route.route and sum(w if w is not None else 100 for w in weights) != 100:
            problems.append(f"{where}.route: weights must sum to 100 (got {sum(w or 0 for w in weights)})")
        for k, match in enumerate(route.match):
            for header, string_match in match.headers.items():
                problems += _match_problems(f"{where}.match[{k}].headers.{header}", string_match)
            if match.uri is not None:
                problems += _match_problems(f"{where}.match[{k}].uri", match.uri)
        if route.timeout is not None and not _DURATION.match(route.timeout):
            problems.append(f"{where}.timeout: expected a duration such as 15s (got {route.timeout!r})")
    return problems


def destination_rule_problems(spec: DestinationRuleSpec) -> list[str]:
    problems = [] if spec.host else ["host: must not be empty"]
    names = [s.name for s in spec.subsets]
    problems += [f"subsets: '{n}' is defined twice" for n in sorted(set(names)) if names.count(n) > 1]
    problems += [
        f"subsets[{i}].labels: must not be empty" for i, s in enumerate(spec.subsets) if not s.labels
    ]
    return problems


def destination_rule(
    name: str,
    metadata: k8s.meta.v1.ObjectMetaArgsDict,
    spec: DestinationRuleSpec,
    opts: pulumi.ResourceOptions,
) -> k8s.apiextensions.CustomResource:
    """Declare a validated DestinationRule."""
    problems = destination_rule_problems(spec)
    if problems:
        raise IstioSpecError("DestinationRule", name, problems)
    return k8s.apiextensions.CustomResource(
        name,
        api_version=API_VERSION,
        kind="DestinationRule",
        metadata=metadata,
        spec=to_spec(spec),
        opts=opts,
    )


def virtual_service(
    name: str,
    metadata: k8s.meta.v1.ObjectMetaArgsDict,
    spec: VirtualServiceSpec,
    subsets: dict[str, set[str]],
    opts: pulumi.ResourceOptions,
) -> k8s.apiextensions.CustomResource:
    """Declare a validated VirtualService whose subsets must be among ``subsets``."""
    problems = virtual_service_problems(spec, subsets)
    if problems:
        raise IstioSpecError("VirtualService", name, problems)
    return k8s.apiextensions.CustomResource(
        name, api_version=API_VERSION, kind="VirtualService", metadata=metadata, spec=to_spec(spec), opts=opts
    )
