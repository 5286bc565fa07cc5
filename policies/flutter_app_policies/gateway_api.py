"""Gateway API routes: weights that add up, backends that are Services of the stack in the route's
own namespace, and a parent that is the Gateway the stack is configured with.

HTTPRoute is ``kubernetes:gateway.networking.k8s.io/v1:HTTPRoute`` (``v1beta1`` too); its ``spec``
is sent verbatim, in the Gateway API's camelCase. The Gateway routes may attach to is the policy
config's ``gateway`` (``namespace/name``); without it, every route of the stack must attach to the
same one Gateway. (A local policy pack does not see the stack's config: the CLI passes it none.)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from flutter_app_policies.common import (
    UNKNOWN,
    check_split,
    elements,
    get,
    known_str,
    kubernetes_label,
    namespace_of,
    number,
)

HTTP_ROUTES: Final = frozenset(
    {
        "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
        "kubernetes:gateway.networking.k8s.io/v1beta1:HTTPRoute",
    }
)
SERVICE: Final = "kubernetes:core/v1:Service"


def gateway_route_weights(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Each rule splitting between several backends gives whole weights that add up to 100."""
    if args.resource_type not in HTTP_ROUTES:
        return
    label = kubernetes_label(args.resource_type, args.props, args.name)
    for index, rule in elements(args.props, "spec", "rules"):
        refs = list(elements(rule, "backendRefs"))
        if len(refs) < 2:
            continue
        # A backend without a weight gets the Gateway API's default, 1.
        weights = [
            (position, number(get(ref, "weight") if get(ref, "weight") is not None else 1))
            for position, ref in refs
        ]
        known = [(position, weight) for position, weight in weights if weight is not None]
        # A weight unknown during preview: `pulumi up` judges the total.
        check_split(
            label,
            f"spec.rules[{index}].backendRefs",
            known,
            report_violation,
            complete=len(known) == len(weights),
        )


def _backends(props: Any) -> Iterator[tuple[str, Any]]:
    for index, rule in elements(props, "spec", "rules"):
        for position, ref in elements(rule, "backendRefs"):
            yield f"spec.rules[{index}].backendRefs[{position}]", ref
        for position, item in elements(rule, "filters"):
            mirrored = get(item, "requestMirror", "backendRef")
            if isinstance(mirrored, Mapping):
                yield f"spec.rules[{index}].filters[{position}].requestMirror.backendRef", mirrored


def gateway_route_backends(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every backend (and mirror) of a route is a Service the stack declares, in the route's own
    namespace: no cross-namespace backend, no other kind."""
    services = {
        (namespace_of(r.props), known_str(get(r.props, "metadata", "name")))
        for r in args.resources
        if r.resource_type == SERVICE
    }
    for route in args.resources:
        if route.resource_type not in HTTP_ROUTES:
            continue
        namespace = namespace_of(route.props)
        label = kubernetes_label(route.resource_type, route.props, route.name)
        for where, ref in _backends(route.props):
            kind, group = known_str(get(ref, "kind")) or "Service", known_str(get(ref, "group")) or ""
            name, target = known_str(get(ref, "name")), known_str(get(ref, "namespace"))
            if kind != "Service" or group:
                report_violation(
                    f"{label}: {where} is a {group or 'core'}/{kind}; expected a Service", route.urn
                )
            elif target is not None and target != namespace:
                report_violation(
                    f"{label}: {where} is in namespace {target}; a route sends only to Services of its own "
                    f"namespace ({namespace})",
                    route.urn,
                )
            elif name is not None and namespace is not None and (namespace, name) not in services:
                report_violation(
                    f"{label}: {where} is Service {name}, which the stack does not declare", route.urn
                )


GATEWAY_GROUP = "gateway.networking.k8s.io"


def _parents(props: Any) -> Iterator[tuple[int, str, tuple[str, ...] | None]]:
    """(index, group/kind, (namespace, name[, sectionName])) of each parent of a route; None where
    not yet known."""
    namespace = namespace_of(props)
    for index, parent in elements(props, "spec", "parentRefs"):
        name = known_str(get(parent, "name"))
        target = known_str(get(parent, "namespace")) or namespace
        kind = f"{known_str(get(parent, 'group')) or GATEWAY_GROUP}/{known_str(get(parent, 'kind')) or 'Gateway'}"
        section = known_str(get(parent, "sectionName"))
        if name is None or target is None:
            yield index, kind, None
        else:
            yield index, kind, (target, name, *([section] if section else []))


def gateway_route_parent(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Routes attach to one Gateway, the configured one (policy config ``gateway``:
    ``namespace/name`` or ``namespace/name/sectionName``) when set; a route attached to none
    serves nobody, or whatever Gateway its implementation defaults to."""
    text = args.get_config().get("gateway")
    expected = tuple(text.split("/")) if isinstance(text, str) and text.count("/") in (1, 2) else None
    first = expected
    for route in args.resources:
        if route.resource_type not in HTTP_ROUTES:
            continue
        label = kubernetes_label(route.resource_type, route.props, route.name)
        parents = list(_parents(route.props))
        if not parents and get(route.props, "spec", "parentRefs") is not UNKNOWN:
            report_violation(f"{label}: spec.parentRefs is empty; expected the platform's Gateway", route.urn)
        for index, kind, gateway in parents:
            where = f"{label}: spec.parentRefs[{index}]"
            if kind != f"{GATEWAY_GROUP}/Gateway":
                report_violation(f"{where} is a {kind}; expected the platform's Gateway", route.urn)
            elif gateway is None:
                continue
            elif first is None:
                first = gateway
            elif gateway != first:
                whose = "the configured one" if expected else "the one the stack's other routes attach to"
                report_violation(
                    f"{where} attaches to Gateway {'/'.join(gateway)}; {whose} is {'/'.join(first)}",
                    route.urn,
                )
