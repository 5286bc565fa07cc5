"""Workload: one app released by rolling update — Deployment, Service, PodDisruptionBudget and,
when configured, a HorizontalPodAutoscaler."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.app_settings import AppSettings
from components.exposure import RouteContext, declare_routes
from components.gating import GateContext, GateTarget, declare_gate
from components.names import track_name, version_label
from components.podspec import PORT_NAME, SKIP_AWAIT, PodInputs, pod_template, standard_labels
from components.validation import parse_image


@dataclass(frozen=True)
class WorkloadArgs:
    """Inputs of a Workload."""

    app: AppSettings
    """Validated settings of the app."""
    pod: PodInputs
    """Names of the app's ConfigMap and Secret, and which secret keys become env vars."""
    namespace: pulumi.Input[str]
    """Namespace of every object (an Output of the Environment's Namespace, so it comes first)."""
    gates: GateContext
    """Where the app's health gates look."""
    routing: RouteContext
    """How the cluster routes external hosts to the app (VirtualService or Ingress)."""


def selector_labels(app_name: str) -> dict[str, str]:
    """The immutable Deployment selector: never includes anything a release changes."""
    return {"app": app_name}


def track_selector(app_name: str, track: str) -> dict[str, str]:
    """Selects one release track's pods (a colour, stable or canary)."""
    return {**selector_labels(app_name), "version": track}


def deployment_spec(
    args: WorkloadArgs, *, image: str, replicas: int | None, selector: dict[str, str], track: str
) -> k8s.apps.v1.DeploymentSpecArgsDict:
    """A Deployment spec with the app's rolling-update parameters (shared by every strategy)."""
    app, pod = args.app, args.pod
    ref = parse_image(image)
    labels = {
        **standard_labels(pod.app_name, pod.environment, "web"),
        **selector,
        "app.kubernetes.io/version": version_label(ref),
    }
    spec: k8s.apps.v1.DeploymentSpecArgsDict = {
        "selector": {"match_labels": selector},
        "revision_history_limit": 5,
        "progress_deadline_seconds": 600,
        "strategy": {
            "type": "RollingUpdate",
            "rolling_update": {"max_surge": app.max_surge, "max_unavailable": app.max_unavailable},
        },
        "template": pod_template(app, pod, image=image, labels=labels, track=track),
        # None leaves the count to the HPA, which owns it when autoscaling is on.
        **({"replicas": replicas} if replicas is not None else {}),
    }
    return spec


def object_metadata(
    args: WorkloadArgs, object_name: str, component: str = "web", **extra_labels: str
) -> k8s.meta.v1.ObjectMetaArgsDict:
    """Name, namespace and the standard labels of one of the app's objects."""
    labels = {**standard_labels(args.pod.app_name, args.pod.environment, component), **extra_labels}
    return {"name": object_name, "namespace": args.namespace, "labels": labels}


def declare_deployment(
    resource_name: str,
    args: WorkloadArgs,
    *,
    track: str,
    image: str,
    replicas: int | None,
    selector: dict[str, str],
    opts: pulumi.ResourceOptions,
    object_name: str | None = None,
) -> k8s.apps.v1.Deployment:
    """A Deployment of the app's pod on one release track (stable, canary, a colour)."""
    version = {"version": selector["version"]} if "version" in selector else {}
    return k8s.apps.v1.Deployment(
        resource_name,
        metadata=object_metadata(args, object_name or track_name(args.pod.app_name, track), **version),
        spec=deployment_spec(args, image=image, replicas=replicas, selector=selector, track=track),
        opts=opts,
    )


def managed_replicas(app: AppSettings) -> int | None:
    """Replicas to declare; None when an autoscaler owns the count (so `up` never fights it)."""
    return None if app.autoscaling else app.replicas


def declare_service(
    name: str,
    args: WorkloadArgs,
    *,
    service_name: str,
    selector: pulumi.Input[dict[str, str]],
    role: str,
    opts: pulumi.ResourceOptions,
    awaited: bool = True,
) -> k8s.core.v1.Service:
    """A ClusterIP Service on the app's port, selecting ``selector``. ``awaited``: the provider
    waits until its endpoints have not changed for 10 s and none is unready."""
    metadata = object_metadata(args, service_name)
    return k8s.core.v1.Service(
        f"{name}-{role}",
        metadata=metadata if awaited else {**metadata, "annotations": SKIP_AWAIT},
        spec={
            "type": "ClusterIP",
            "selector": selector,
            "ports": [
                {
                    "name": PORT_NAME,
                    "port": args.app.service_port,
                    "target_port": PORT_NAME,
                    "protocol": "TCP",
                }
            ],
        },
        opts=opts,
    )


def declare_disruption_budget(
    name: str, args: WorkloadArgs, selector: dict[str, str], opts: pulumi.ResourceOptions
) -> k8s.policy.v1.PodDisruptionBudget:
    """Voluntary disruptions (node drains, upgrades) take at most one pod at a time."""
    return k8s.policy.v1.PodDisruptionBudget(
        f"{name}-pdb",
        metadata=object_metadata(args, args.pod.app_name),
        spec={"max_unavailable": 1, "selector": {"match_labels": selector}},
        opts=opts,
    )


class Workload(pulumi.ComponentResource):
    """An app released by rolling update."""

    deployment_name: pulumi.Output[str]
    service_name: pulumi.Output[str]

    def __init__(self, name: str, args: WorkloadArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flutter-app:platform:Workload", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        app_name = args.pod.app_name
        selector = selector_labels(app_name)
        deployment = declare_deployment(
            f"{name}-deployment",
            args,
            track="stable",
            image=args.app.image,
            replicas=managed_replicas(args.app),
            selector=selector,
            opts=child,
            object_name=app_name,
        )
        service = declare_service(
            name, args, service_name=app_name, selector=selector, role="service", opts=child
        )
        declare_disruption_budget(name, args, selector, child)
        declare_routes(self, name, args, {app_name: service})
        if args.app.autoscaling:
            declare_autoscaler(name, args, app_name, child)
        # The provider waits for the rollout to be ready before the gate starts.
        declare_gate(
            self,
            name,
            args,
            GateTarget("live", args.app.gate.url, None),
            trigger={"image": args.app.image},
            depends_on=[deployment, service],
        )
        self.deployment_name = deployment.metadata.name
        self.service_name = service.metadata.name
        self.register_outputs({"deployment_name": self.deployment_name, "service_name": self.service_name})


def declare_autoscaler(
    name: str, args: WorkloadArgs, deployment_name: str, opts: pulumi.ResourceOptions
) -> k8s.autoscaling.v2.HorizontalPodAutoscaler:
    """An autoscaler on CPU utilisation for one Deployment."""
    scaling = args.app.autoscaling
    assert scaling is not None
    return k8s.autoscaling.v2.HorizontalPodAutoscaler(
        f"{name}-hpa",
        metadata=object_metadata(args, deployment_name),
        spec={
            "scale_target_ref": {"api_version": "apps/v1", "kind": "Deployment", "name": deployment_name},
            "min_replicas": scaling.min_replicas,
            "max_replicas": scaling.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "average_utilization": scaling.target_cpu_percent},
                    },
                }
            ],
        },
        opts=opts,
    )
