"""Istio traffic rules: route weights that add up, and subsets that exist.

VirtualService and DestinationRule are ``kubernetes:networking.istio.io/<version>:<Kind>`` custom
resources; their ``spec`` is sent verbatim, so it carries Istio's own camelCase field names.
Host names resolve as Istio resolves them: a name without a dot is a short name in the
resource's namespace (``web`` -> ``web.<ns>.svc.cluster.local``); any other name is taken as is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from flutter_app_policies.common import (
    check_split,
    elements,
    get,
    known_str,
    kubernetes_label,
    namespace_of,
    number,
)

VIRTUAL_SERVICES: Final = frozenset(
    {
        "kubernetes:networking.istio.io/v1:VirtualService",
        "kubernetes:networking.istio.io/v1beta1:VirtualService",
        "kubernetes:networking.istio.io/v1alpha3:VirtualService",
    }
)
DESTINATION_RULES: Final = frozenset(
    {
        "kubernetes:networking.istio.io/v1:DestinationRule",
        "kubernetes:networking.istio.io/v1beta1:DestinationRule",
        "kubernetes:networking.istio.io/v1alpha3:DestinationRule",
    }
)
ROUTE_KINDS: Final = ("http", "tcp", "tls")
CLUSTER_DOMAIN: Final = "cluster.local"


def istio_route_weights(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Each route's destination weights are within 0..100 and add up to 100."""
    if args.resource_type not in VIRTUAL_SERVICES:
        return
    label = kubernetes_label(args.resource_type, args.props, args.name)
    for kind in ROUTE_KINDS:
        for index, route in elements(args.props, "spec", kind):
            destinations = list(elements(route, "route"))
            weights: list[tuple[int, float]] = []
            known = True
            for position, destination in destinations:
                value = get(destination, "weight")
                # A lone destination takes all traffic; one of several without a weight gets none.
                weight = (100.0 if len(destinations) == 1 else 0.0) if value is None else number(value)
                if weight is None:
                    known = False  # unknown during preview: `pulumi up` judges it
                    continue
                weights.append((position, weight))
            check_split(label, f"spec.{kind}[{index}].route", weights, report_violation, complete=known)


def resolve_host(host: str, namespace: str) -> str:
    """The fully qualified name Istio gives ``host`` in a resource of ``namespace``."""
    if host.startswith("*") or "." in host:
        return host
    return f"{host}.{namespace}.svc.{CLUSTER_DOMAIN}"


def _host_matches(rule_host: str, host: str) -> bool:
    if rule_host.startswith("*"):
        return host.endswith(rule_host[1:])
    return rule_host == host


@dataclass(frozen=True)
class _Reference:
    where: str
    host: str
    subset: str


def _subset_references(props: Any) -> Iterator[_Reference]:
    for kind in ROUTE_KINDS:
        for index, route in elements(props, "spec", kind):
            for position, destination in elements(route, "route"):
                where = f"spec.{kind}[{index}].route[{position}].destination"
                yield from _reference(where, get(destination, "destination"))
            if kind == "http":
                yield from _reference(f"spec.http[{index}].mirror", get(route, "mirror"))


def _reference(where: str, destination: Any) -> Iterator[_Reference]:
    if not isinstance(destination, Mapping):
        return
    host = known_str(get(destination, "host"))
    subset = known_str(get(destination, "subset"))
    if host and subset:
        yield _Reference(where, host, subset)


def istio_subsets_defined(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every subset a VirtualService routes to is defined by a DestinationRule for its host."""
    defined: list[tuple[str, set[str] | None, str]] = []  # (host, subsets or None if unknown, label)
    for rule in args.resources:
        if rule.resource_type not in DESTINATION_RULES:
            continue
        namespace = namespace_of(rule.props)
        host = known_str(get(rule.props, "spec", "host"))
        if namespace is None or host is None:
            continue
        found = [get(subset, "name") for _, subset in elements(rule.props, "spec", "subsets")]
        # A name not known before `up` means no subset can be said to be missing.
        names = {n for n in found if isinstance(n, str)} if all(isinstance(n, str) for n in found) else None
        label = kubernetes_label(rule.resource_type, rule.props, rule.name)
        defined.append((resolve_host(host, namespace), names, label))

    for service in args.resources:
        if service.resource_type not in VIRTUAL_SERVICES:
            continue
        namespace = namespace_of(service.props)
        if namespace is None:
            continue
        label = kubernetes_label(service.resource_type, service.props, service.name)
        for ref in _subset_references(service.props):
            fqdn = resolve_host(ref.host, namespace)
            rules = [(names, rule) for host, names, rule in defined if _host_matches(host, fqdn)]
            if any(names is None or ref.subset in names for names, _ in rules):
                continue
            shown = ref.host if ref.host == fqdn else f"{ref.host} ({fqdn})"
            if rules:
                listed = "; ".join(
                    f"{rule} defines {', '.join(sorted(names or [])) or 'no subsets'}"
                    for names, rule in rules
                )
                problem = f"is not among the subsets of its DestinationRule ({listed})"
            else:
                problem = "is not defined: no DestinationRule in the stack has that host"
            report_violation(
                f"{label}: {ref.where} subset '{ref.subset}' of host {shown} {problem}", service.urn
            )
