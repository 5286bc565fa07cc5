"""BlueGreenRelease: blue and green Deployments, a live Service selecting the active colour and
a preview Service selecting the idle one.

Switching ``active`` edits only the two Services' selectors — an in-place update; Deployment
selectors never change (a selector change would replace the Deployment).
"""

from __future__ import annotations

import pulumi

from components.app_settings import Colour
from components.exposure import declare_routes
from components.gating import GateTarget, declare_gate
from components.names import preview_service_name
from components.workload import (
    WorkloadArgs,
    declare_deployment,
    declare_disruption_budget,
    declare_service,
    selector_labels,
    track_selector,
)

COLOURS: tuple[Colour, Colour] = ("blue", "green")


class BlueGreenRelease(pulumi.ComponentResource):
    """An app released by blue/green switch."""

    service_name: pulumi.Output[str]
    """The live Service (active colour)."""
    preview_service_name: pulumi.Output[str]
    """The preview Service (idle colour), where a new release is gated before the switch."""

    def __init__(self, name: str, args: WorkloadArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flutter-app:release:BlueGreenRelease", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        app, app_name = args.app, args.pod.app_name
        plan = app.blue_green
        deployments = {}
        for colour in COLOURS:
            idle_and_parked = plan.scale_down_idle and colour == plan.idle
            deployments[colour] = declare_deployment(
                f"{name}-{colour}",
                args,
                track=colour,
                image=app.colour_image(colour),
                replicas=0 if idle_and_parked else app.replicas,
                selector=track_selector(app_name, colour),
                opts=child,
            )
        # The provider's Service await (endpoints unchanged for 10 s) is kept for the live Service,
        # which users reach. The preview Service serves the preview gate only, which runs after the
        # idle Deployment's own await and tolerates a failed probe; without the await a switch, which
        # moves both selectors one after the other (below), takes 10 s less.
        preview = declare_service(
            name,
            args,
            service_name=preview_service_name(app_name),
            selector=track_selector(app_name, plan.idle),
            role="preview",
            opts=child,
            awaited=False,
        )
        # A new image lands on the idle colour and is gated on the preview Service; the live
        # Service switches only after that gate passed, then the live gate checks the switch.
        # The preview trigger is both colours' images, so a switch alone does not re-run it.
        images = {colour: app.colour_image(colour) for colour in COLOURS}
        preview_gate = declare_gate(
            self,
            name,
            args,
            GateTarget("preview", app.gate.preview_url, plan.idle, metrics=False),
            trigger={"images": images},
            depends_on=[deployments[plan.idle], preview],
        )
        live = declare_service(
            name,
            args,
            service_name=app_name,
            selector=track_selector(app_name, plan.active),
            role="live",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[preview_gate] if preview_gate else []),
        )
        declare_gate(
            self,
            name,
            args,
            GateTarget("live", app.gate.url, plan.active),
            trigger={"active": plan.active, "image": images[plan.active]},
            depends_on=[deployments[plan.active], live],
        )
        declare_disruption_budget(name, args, selector_labels(app_name), child)
        # Users reach the live Service by name: the switch above flips its selector, never the route.
        declare_routes(self, name, args, {app_name: live, preview_service_name(app_name): preview})
        self.service_name = live.metadata.name
        self.preview_service_name = preview.metadata.name
        self.register_outputs(
            {"service_name": self.service_name, "preview_service_name": self.preview_service_name}
        )
