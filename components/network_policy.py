"""The NetworkPolicies of the stack's namespace: ingress denied by default, then admitted to the
apps' port from the ingress gateway (or ingress controller), the mesh and the monitoring namespace,
as ``flutter-app:networkPolicy`` says. Egress is left open (the apps call their API, database and
Firebase; an egress policy needs those addresses, which the stack does not know).

Traffic from the node (kubelet probes) is always allowed by Kubernetes, so probes keep working.
Built from the settings alone (pure), declared by the Environment."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components.addons import INGRESS_NAMESPACE, MONITORING_NAMESPACE
from components.podspec import PORT_NAME
from components.settings import PROJECT, StackSettings

DEFAULT_DENY = f"{PROJECT}-default-deny"
ALLOW_APPS = f"{PROJECT}-allow-apps"
# Every namespace carries this label (set by the API server since Kubernetes 1.22).
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
MESH_LABEL = {"istio-injection": "enabled"}
APP_PODS = {"app.kubernetes.io/part-of": PROJECT}


def _from_namespace(name: str) -> k8s.networking.v1.NetworkPolicyPeerArgsDict:
    return {"namespace_selector": {"match_labels": {NAMESPACE_NAME_LABEL: name}}}


def entry_namespace(settings: StackSettings) -> str:
    """Where the pods that bring users' requests in run: the Gateway's namespace (an
    implementation that runs its data plane elsewhere is admitted with allowNamespaces), Istio's
    ingress gateway's, or the ingress controller's."""
    cluster = settings.cluster
    if cluster.routing == "ingress":
        return cluster.ingress_controller.namespace
    if cluster.gateway is not None:
        return cluster.gateway.namespace
    return INGRESS_NAMESPACE


def admitted_namespaces(settings: StackSettings) -> list[str]:
    """Namespaces admitted by name to the apps' port, in a fixed order."""
    policy, addons = settings.network_policy, settings.cluster.addons
    names: list[str] = []
    if policy.allow_ingress:
        names.append(entry_namespace(settings))
    if policy.allow_monitoring and addons.monitoring != "none":
        names.append(MONITORING_NAMESPACE)
    names += policy.allow_namespaces
    return list(dict.fromkeys(names))


def policy_specs(settings: StackSettings) -> dict[str, k8s.networking.v1.NetworkPolicySpecArgsDict]:
    """Name -> NetworkPolicy spec; empty when disabled."""
    if not settings.network_policy.enabled:
        return {}
    peers: list[k8s.networking.v1.NetworkPolicyPeerArgsDict] = [
        _from_namespace(name) for name in admitted_namespaces(settings)
    ]
    if settings.network_policy.allow_mesh and settings.has_istio:
        peers.append({"namespace_selector": {"match_labels": dict(MESH_LABEL)}})
    rules: list[k8s.networking.v1.NetworkPolicyIngressRuleArgsDict] = [
        # The namespace's own pods: apps calling each other, a canary's sidecars.
        {"from_": [{"pod_selector": {}}]},
    ]
    if peers:
        rules.append({"from_": peers, "ports": [{"protocol": "TCP", "port": PORT_NAME}]})
    return {
        # Selects every pod and admits nothing: what no other policy admits is denied.
        DEFAULT_DENY: {"pod_selector": {}, "policy_types": ["Ingress"]},
        ALLOW_APPS: {
            "pod_selector": {"match_labels": dict(APP_PODS)},
            "policy_types": ["Ingress"],
            "ingress": rules,
        },
    }
