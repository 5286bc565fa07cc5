"""CanaryRelease: stable and canary Deployments, split by weight by Istio or by any Gateway API
implementation.

- Istio (``cluster.traffic: istio``): one Service, a DestinationRule with the two subsets, and a
  VirtualService whose first route sends requests with header ``canary: "true"`` to the canary
  and whose default route splits ``100 - weight`` / ``weight``.
- Gateway API (``gateway-api``): a Service per track and an HTTPRoute ``<app>`` attached to the
  platform's Gateway: a rule matching the canary header to the canary Service only, and a rule
  splitting ``backendRefs`` by weight.

Both destinations are always present, so a weight change edits two numbers in one object and
nothing else; the header rule exists only while a canary runs. With ``canary.mirror``, while the
canary runs at weight 0 the weighted rule also copies that share of its requests to the canary
(Istio's ``mirror``, the Gateway API's ``RequestMirror`` filter): the canary is judged on real
requests while serving no user.
"""

from __future__ import annotations

import pulumi

from components import gateway_api, istio
from components.exposure import gateways, parent_refs
from components.gating import CANARY_HEADERS, GateTarget, declare_gate
from components.names import track_name
from components.workload import (
    WorkloadArgs,
    declare_deployment,
    declare_disruption_budget,
    declare_service,
    object_metadata,
    selector_labels,
    track_selector,
)
from gates.schedule import accept_ratio

TRACKS = ("stable", "canary")


def mirroring(args: WorkloadArgs) -> int | None:
    """The percent of requests copied to the canary now: while it runs another image than the
    stable at weight 0, if configured. Promotion also passes through weight 0 (the stable then
    runs the canary's image): copies then would only run every write twice."""
    app = args.app
    running = app.canary_running and app.canary.image != app.image
    return app.canary.mirror if running and app.canary.weight == 0 else None


def http_route_spec(args: WorkloadArgs) -> gateway_api.HTTPRouteSpec:
    """The HTTPRoute of an app's canary (Gateway API; pure)."""
    app, app_name = args.app, args.pod.app_name
    gateway = args.routing.gateway
    assert gateway is not None and app.exposure is not None  # the settings require both here
    stable = gateway_api.BackendRef(track_name(app_name, "stable"), app.service_port, 100 - app.canary.weight)
    canary = gateway_api.BackendRef(track_name(app_name, "canary"), app.service_port, app.canary.weight)
    header = gateway_api.RouteMatch([gateway_api.HeaderMatch(n, v) for n, v in CANARY_HEADERS.items()])
    copied = mirroring(args)
    rules = [
        *(
            [
                gateway_api.RouteRule(
                    "canary-header", [gateway_api.BackendRef(canary.name, canary.port)], [header]
                )
            ]
            if app.canary_running
            else []
        ),
        gateway_api.RouteRule(
            "weighted", [stable, canary], filters=[gateway_api.mirror(canary, copied)] if copied else []
        ),
    ]
    return gateway_api.HTTPRouteSpec(parent_refs(gateway), list(app.exposure.hosts), rules)


def routing(args: WorkloadArgs) -> tuple[istio.DestinationRuleSpec, istio.VirtualServiceSpec]:
    """The DestinationRule and VirtualService specs of an app's canary (Istio; pure)."""
    app, app_name = args.app, args.pod.app_name
    port = istio.PortSelector(app.service_port)

    def to(subset: str, weight: int) -> istio.HTTPRouteDestination:
        return istio.HTTPRouteDestination(istio.Destination(app_name, subset, port), weight)

    header_match = {name: istio.StringMatch(exact=value) for name, value in CANARY_HEADERS.items()}
    rule = istio.DestinationRuleSpec(
        host=app_name,
        subsets=[istio.Subset(track, track_selector(app_name, track)) for track in TRACKS],
        traffic_policy=istio.TrafficPolicy(istio.LoadBalancerSettings("LEAST_REQUEST")),
    )
    retries = istio.SAFE_RETRIES
    exposure = app.exposure
    copied = mirroring(args)
    service = istio.VirtualServiceSpec(
        # The in-mesh Service host always; the external hosts through their Gateways.
        hosts=[app_name, *(exposure.hosts if exposure else [])],
        gateways=[*gateways(exposure, args.routing.gateway), "mesh"] if exposure else [],
        # The header route exists while a canary runs: without canary pods it could only 503.
        http=[
            *(
                [
                    istio.HTTPRoute(
                        name="canary-header",
                        match=[istio.HTTPMatchRequest(headers=header_match)],
                        route=[to("canary", 100)],
                        retries=retries,
                    )
                ]
                if app.canary_running
                else []
            ),
            istio.HTTPRoute(
                name="weighted",
                route=[to("stable", 100 - app.canary.weight), to("canary", app.canary.weight)],
                retries=retries,
                mirror=istio.Destination(app_name, "canary", port) if copied else None,
                mirror_percentage=istio.Percent(float(copied)) if copied else None,
            ),
        ],
    )
    return rule, service


class CanaryRelease(pulumi.ComponentResource):
    """An app released by Istio canary."""

    service_name: pulumi.Output[str]

    def __init__(self, name: str, args: WorkloadArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flutter-app:release:CanaryRelease", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        app, app_name = args.app, args.pod.app_name
        # Without a canary image under test, the canary track runs no pods.
        tracks = {
            "stable": (app.image, app.replicas),
            "canary": (app.canary.image or app.image, app.canary.replicas if app.canary_running else 0),
        }
        deployments = {}
        for track, (image, replicas) in tracks.items():
            deployments[track] = declare_deployment(
                f"{name}-{track}",
                args,
                track=track,
                image=image,
                replicas=replicas,
                selector=track_selector(app_name, track),
                opts=child,
            )
        service = declare_service(
            name, args, service_name=app_name, selector=selector_labels(app_name), role="service", opts=child
        )
        declare_disruption_budget(name, args, selector_labels(app_name), child)
        metadata = object_metadata(args, app_name, "routing")
        # Traffic moves only to ready pods: the provider waits for the canary Deployment (its
        # scale-up included) before the weights change. That is also why promotion is three steps
        # (stable image, weight 0, canary removed) and never one.
        routes: pulumi.Resource
        if args.routing.mode == "gateway-api":
            services = [
                declare_service(
                    name,
                    args,
                    service_name=track_name(app_name, track),
                    selector=track_selector(app_name, track),
                    role=f"{track}-service",
                    opts=child,
                )
                for track in TRACKS
            ]
            routes = gateway_api.http_route(
                f"{name}-http-route",
                metadata,
                http_route_spec(args),
                pulumi.ResourceOptions(parent=self, depends_on=[*services, deployments["canary"]]),
            )
        else:
            rule_spec, service_spec = routing(args)
            rule = istio.destination_rule(f"{name}-destination-rule", metadata, rule_spec, child)
            routes = istio.virtual_service(
                f"{name}-virtual-service",
                metadata,
                service_spec,
                {rule_spec.host: {s.name for s in rule_spec.subsets}},
                pulumi.ResourceOptions(parent=self, depends_on=[rule, service, deployments["canary"]]),
            )
        # A gate after each weight step, and on the mirrored step. At weight 0 without a mirror
        # (before the first step, after an undo) there is nothing to judge, and a failed canary
        # must not be judged again by the undo's `up`.
        if app.canary_running and (app.canary.weight > 0 or mirroring(args)):
            declare_gate(
                self,
                name,
                args,
                GateTarget(
                    "canary",
                    app.gate.url,
                    "canary",
                    CANARY_HEADERS,
                    # An auto schedule's steps below its full test rule out a gross failure only.
                    accept_ratio=accept_ratio(app.canary.weight) if app.canary.steps == "auto" else None,
                ),
                trigger={"image": tracks["canary"][0], "weight": app.canary.weight},
                depends_on=[deployments["canary"], routes],
            )
        # The stable track is gated when it serves traffic with a new image: at promotion, when
        # the weight goes back to 0. At weight 100 it serves nothing, so there is no gate.
        if app.canary.weight < 100:
            declare_gate(
                self,
                name,
                args,
                GateTarget("stable", app.gate.url, "stable"),
                trigger={"image": app.image},
                depends_on=[deployments["stable"], routes],
            )
        self.service_name = service.metadata.name
        self.register_outputs({"service_name": self.service_name})
