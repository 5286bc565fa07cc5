"""CanaryRelease: stable and canary Deployments behind one Service, split by Istio.

The VirtualService's first route sends requests with header ``canary: "true"`` to the canary;
the default route splits ``100 - weight`` / ``weight``. Both destinations are always present, so a
weight change edits two numbers in the VirtualService and nothing else.
"""

from __future__ import annotations

import pulumi

from components import istio
from components.exposure import gateways
from components.gating import CANARY_HEADERS, GateTarget, declare_gate
from components.workload import (
    WorkloadArgs,
    declare_deployment,
    declare_disruption_budget,
    declare_service,
    object_metadata,
    selector_labels,
    track_selector,
)

TRACKS = ("stable", "canary")


def routing(args: WorkloadArgs) -> tuple[istio.DestinationRuleSpec, istio.VirtualServiceSpec]:
    """The DestinationRule and VirtualService specs of an app's canary (pure)."""
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
    service = istio.VirtualServiceSpec(
        # The in-mesh Service host always; the external hosts through their Gateways.
        hosts=[app_name, *(exposure.hosts if exposure else [])],
        gateways=[*gateways(exposure), "mesh"] if exposure else [],
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
        rule_spec, service_spec = routing(args)
        metadata = object_metadata(args, app_name, "routing")
        rule = istio.destination_rule(f"{name}-destination-rule", metadata, rule_spec, child)
        routes = istio.virtual_service(
            f"{name}-virtual-service",
            metadata,
            service_spec,
            {rule_spec.host: {s.name for s in rule_spec.subsets}},
            # Traffic moves only to ready pods: the provider waits for the canary Deployment (its
            # scale-up included) before the weights change. That is also why promotion is three
            # steps (stable image, weight 0, canary removed) and never one.
            pulumi.ResourceOptions(parent=self, depends_on=[rule, service, deployments["canary"]]),
        )
        # A gate after each weight step. At weight 0 (before the first step, after an undo) there
        # is nothing to judge, and a failed canary must not be judged again by the undo's `up`.
        if app.canary_running and app.canary.weight > 0:
            declare_gate(
                self,
                name,
                args,
                GateTarget("canary", app.gate.url, "canary", CANARY_HEADERS),
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
