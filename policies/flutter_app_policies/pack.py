"""The policies of the pack: name, description, validator and tunables of each rule.

Every policy takes the ``environment`` property; levels come from the policy config
(policies/config/ENV.json: advisory in dev and test, mandatory in staging and production).
"""

from __future__ import annotations

from typing import Any, Final

from pulumi_policy import (
    Policy,
    PolicyConfigSchema,
    ResourceValidation,
    ResourceValidationPolicy,
    StackValidation,
    StackValidationPolicy,
)

from flutter_app_policies import eks, gateway_api, istio, kubernetes, production
from flutter_app_policies.common import ENVIRONMENT_PROPERTY

POLICY_PACK_NAME: Final = "flutter-app-policies"


def _schema(**extra: dict[str, Any]) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties={"environment": dict(ENVIRONMENT_PROPERTY), **extra})


def _resource(name: str, description: str, validate: ResourceValidation, **extra: dict[str, Any]) -> Policy:
    return ResourceValidationPolicy(
        name=name, description=description, validate=validate, config_schema=_schema(**extra)
    )


def _stack(name: str, description: str, validate: StackValidation, **extra: dict[str, Any]) -> Policy:
    return StackValidationPolicy(
        name=name, description=description, validate=validate, config_schema=_schema(**extra)
    )


def all_policies() -> list[Policy]:
    """Every policy of the pack, in the order they are reported."""
    return [
        _resource(
            "container-resources",
            "Containers set CPU and memory requests and limits.",
            kubernetes.container_resources,
        ),
        _resource(
            "container-probes",
            "Containers of long-running workloads have liveness and readiness probes.",
            kubernetes.container_probes,
        ),
        _resource(
            "image-pinned",
            "Container images are pinned: never 'latest' or untagged; a version tag or digest in staging "
            "and production.",
            kubernetes.image_pinned,
        ),
        _resource(
            "pod-run-as-non-root",
            "Pods run as a non-root user (runAsNonRoot: true, never user 0).",
            kubernetes.pod_run_as_non_root,
        ),
        _resource(
            "no-privileged-containers",
            "Containers are not privileged and do not allow privilege escalation.",
            kubernetes.no_privileged_containers,
        ),
        _resource(
            "no-host-namespaces",
            "Pods do not use the node's network, PID or IPC namespace.",
            kubernetes.no_host_namespaces,
        ),
        _resource(
            "no-host-path-volumes",
            "Pods do not mount hostPath volumes.",
            kubernetes.no_host_path_volumes,
        ),
        _resource(
            "load-balancer-services",
            "Services of type LoadBalancer only where the environment allows them.",
            kubernetes.load_balancer_services,
            allowLoadBalancer={
                "type": "boolean",
                "description": "Allow Services of type LoadBalancer. Unset: allowed in dev and test only.",
            },
        ),
        _resource(
            "no-plaintext-credentials",
            "No credential-like keys in ConfigMaps or in plain container environment variables.",
            kubernetes.no_plaintext_credentials,
        ),
        _resource(
            "istio-route-weights",
            "Istio VirtualService route weights are within 0..100 and add up to 100.",
            istio.istio_route_weights,
        ),
        _resource(
            "gateway-route-weights",
            "Gateway API HTTPRoute rules that split between backends give whole weights adding up to 100.",
            gateway_api.gateway_route_weights,
        ),
        _resource(
            "eks-control-plane-logging",
            "EKS clusters send api and audit control-plane logs.",
            eks.eks_control_plane_logging,
        ),
        _resource(
            "eks-private-endpoint",
            "Production EKS clusters have no public API endpoint.",
            eks.eks_private_endpoint,
        ),
        _resource(
            "eks-node-group-sizing",
            "EKS node groups are sized minSize <= desiredSize <= maxSize.",
            eks.eks_node_group_sizing,
        ),
        _stack(
            "production-min-replicas",
            "Production Deployments serving traffic run enough replicas.",
            production.production_min_replicas,
            minProductionReplicas={
                "type": "integer",
                "minimum": 1,
                "default": production.DEFAULT_MIN_REPLICAS,
                "description": "Fewest pods a production Deployment serving traffic may run.",
            },
        ),
        _stack(
            "production-pod-disruption-budget",
            "Production Deployments serving traffic are covered by a PodDisruptionBudget.",
            production.production_pod_disruption_budget,
        ),
        _stack(
            "gateway-route-parent",
            "Gateway API HTTPRoutes attach to one Gateway: the configured one when set.",
            gateway_api.gateway_route_parent,
            gateway={
                "type": "string",
                "pattern": "^[a-z0-9-]+/[a-z0-9.-]+$",
                "description": "The platform's Gateway (namespace/name) routes attach to. Unset: any one Gateway, the same for every route.",
            },
        ),
        _stack(
            "gateway-route-backends",
            "Gateway API HTTPRoute backends (and mirrors) are Services of the stack, in the route's namespace.",
            gateway_api.gateway_route_backends,
        ),
        _stack(
            "istio-subsets-defined",
            "Every subset an Istio VirtualService routes to is defined by a DestinationRule.",
            istio.istio_subsets_defined,
        ),
    ]
