"""Exposure: the route from an app's external hosts (``apps.X.expose``) to the Service that serves
live traffic, whatever the strategy.

- With Istio (installed or external): a VirtualService ``<app>`` binding ``hosts`` to the live
  Service through the Gateways (default: the stack's ``istio-ingress/public``), and for blue/green
  a VirtualService ``<app>-preview`` binding ``previewHosts`` to the preview Service. Both name a
  Service, never a colour: a switch flips the two Services' selectors and the routes stay as they
  are, so the switch still changes only selectors. A canary's hosts join its own VirtualService
  (components/canary.py), which splits by weight.
- With the Gateway API (any implementation): an HTTPRoute ``<app>`` attached to the platform's
  Gateway (``cluster.gateway``) from ``hosts`` to the live Service, and for blue/green an HTTPRoute
  ``<app>-preview`` from ``previewHosts`` to the preview Service; a canary's HTTPRoute splits by
  weight (components/canary.py).
- Without either: one Kubernetes Ingress ``<app>`` of the cluster's ingress controller, a rule per
  host to the same Services.
- Without ``expose``: nothing; the Services stay reachable inside the cluster only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_kubernetes as k8s

from components import gateway_api, istio
from components.addons import GATEWAY_NAME, INGRESS_NAMESPACE
from components.app_settings import AppSettings, Expose
from components.cluster_settings import GatewayParent, IngressController, Traffic
from components.names import preview_service_name
from components.podspec import PORT_NAME, SKIP_AWAIT, standard_labels

if TYPE_CHECKING:
    from components.workload import WorkloadArgs

PUBLIC_GATEWAY = f"{INGRESS_NAMESPACE}/{GATEWAY_NAME}"
"""The Gateway the stack declares (components/addons.py): the default of ``expose.gateways``."""


@dataclass(frozen=True)
class RouteContext:
    """What the cluster routes with, known from the stack settings."""

    mode: Traffic
    """VirtualServices (istio), HTTPRoutes (gateway-api) or an Ingress (ingress)."""
    ingress: IngressController
    """The controller that serves the Ingress (ingress)."""
    gateway: GatewayParent | None = None
    """The platform's Gateway: the HTTPRoutes' parent; with Istio, the VirtualServices' default."""


@dataclass(frozen=True)
class Route:
    """Hosts routed to one Service."""

    role: str
    """live or preview: names the route."""
    hosts: tuple[str, ...]
    service: str


def routes(app_name: str, app: AppSettings) -> list[Route]:
    """The app's routes (pure): its hosts to the live Service, preview hosts to the preview one."""
    exposure = app.exposure
    if exposure is None:
        return []
    found = [Route("live", tuple(exposure.hosts), app_name)]
    if exposure.preview_hosts:
        found.append(Route("preview", tuple(exposure.preview_hosts), preview_service_name(app_name)))
    return found


def gateways(exposure: Expose, platform: GatewayParent | None = None) -> list[str]:
    """The Gateways the app's VirtualServices bind to: its own, else the platform's, else the
    stack's istio-ingress/public."""
    return list(exposure.gateways or [platform.ref if platform else PUBLIC_GATEWAY])


def parent_refs(gateway: GatewayParent) -> list[gateway_api.ParentReference]:
    return [gateway_api.ParentReference(gateway.name, gateway.namespace, gateway.section_name)]


def http_route_spec(route: Route, gateway: GatewayParent, port: int) -> gateway_api.HTTPRouteSpec:
    """An HTTPRoute sending every request for ``route.hosts`` to ``route.service`` (pure)."""
    return gateway_api.HTTPRouteSpec(
        parent_refs=parent_refs(gateway),
        hostnames=list(route.hosts),
        rules=[gateway_api.RouteRule(route.role, [gateway_api.BackendRef(route.service, port)])],
    )


def virtual_service_spec(route: Route, bound_to: list[str], port: int) -> istio.VirtualServiceSpec:
    """A VirtualService sending every request for ``route.hosts`` to ``route.service`` (pure)."""
    destination = istio.Destination(route.service, port=istio.PortSelector(port))
    return istio.VirtualServiceSpec(
        hosts=list(route.hosts),
        gateways=bound_to,
        http=[
            istio.HTTPRoute(
                name=route.role, route=[istio.HTTPRouteDestination(destination)], retries=istio.SAFE_RETRIES
            )
        ],
    )


def ingress_metadata(
    metadata: k8s.meta.v1.ObjectMetaArgsDict, controller: IngressController
) -> k8s.meta.v1.ObjectMetaArgsDict:
    """The provider waits until the controller publishes the Ingress's address; where the
    controller never does, it would wait 10 minutes and fail, so it is told not to wait."""
    if controller.publishes_address:
        return metadata
    return {**metadata, "annotations": SKIP_AWAIT}


def ingress_spec(
    found: list[Route], ingress_class: str, tls_secret: str | None
) -> k8s.networking.v1.IngressSpecArgsDict:
    """An Ingress with one rule per host, each to its route's Service on the app's port (pure)."""
    rules: list[k8s.networking.v1.IngressRuleArgsDict] = [
        {
            "host": host,
            "http": {
                "paths": [
                    {
                        "path": "/",
                        "path_type": "Prefix",
                        "backend": {"service": {"name": route.service, "port": {"name": PORT_NAME}}},
                    }
                ]
            },
        }
        for route in found
        for host in route.hosts
    ]
    spec: k8s.networking.v1.IngressSpecArgsDict = {
        "ingress_class_name": ingress_class,
        "rules": rules,
        **(
            {"tls": [{"hosts": [h for r in found for h in r.hosts], "secret_name": tls_secret}]}
            if tls_secret
            else {}
        ),
    }
    return spec


def declare_routes(
    parent: pulumi.ComponentResource,
    name: str,
    args: WorkloadArgs,
    services: dict[str, pulumi.Resource],
) -> list[pulumi.Resource]:
    """The app's routes as children of ``parent``; ``services`` maps each route's Service name to
    its resource (a route is created after the Service it names)."""
    app, app_name = args.app, args.pod.app_name
    found = routes(app_name, app)
    exposure = app.exposure
    if exposure is None or not found:
        return []

    def metadata(object_name: str) -> k8s.meta.v1.ObjectMetaArgsDict:
        labels = standard_labels(app_name, args.pod.environment, "routing")
        return {"name": object_name, "namespace": args.namespace, "labels": labels}

    routing = args.routing
    if routing.mode == "gateway-api":
        assert routing.gateway is not None  # the settings require it in this mode
        return [
            gateway_api.http_route(
                f"{name}-{route.role}-route",
                metadata(route.service),
                http_route_spec(route, routing.gateway, app.service_port),
                pulumi.ResourceOptions(parent=parent, depends_on=[services[route.service]]),
            )
            for route in found
        ]
    if routing.mode == "ingress":
        return [
            k8s.networking.v1.Ingress(
                f"{name}-ingress",
                metadata=ingress_metadata(metadata(app_name), args.routing.ingress),
                spec=ingress_spec(found, args.routing.ingress.class_name, exposure.tls_secret),
                opts=pulumi.ResourceOptions(parent=parent, depends_on=list(services.values())),
            )
        ]
    return [
        istio.virtual_service(
            f"{name}-{route.role}-route",
            metadata(route.service),
            virtual_service_spec(route, gateways(exposure, routing.gateway), app.service_port),
            {},
            pulumi.ResourceOptions(parent=parent, depends_on=[services[route.service]]),
        )
        for route in found
    ]
