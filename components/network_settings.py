"""Settings of the NetworkPolicies of the stack's namespace (stack config
``flutter-app:networkPolicy``). Pure."""

from __future__ import annotations

from pydantic import Field

from components.config_types import Bool, ConfigModel, DnsLabel


class NetworkPolicySettings(ConfigModel):
    """Ingress to the namespace is denied except from what is listed here (and from the
    namespace's own pods). Every field is optional."""

    enabled: Bool = True
    """Declare the NetworkPolicies (false: the namespace admits all traffic, Kubernetes' default)."""
    allow_ingress: Bool = True
    """Admit the ingress gateway's namespace (istio-ingress with Istio, else the ingress
    controller's: cluster.ingressController.namespace) to the apps' port."""
    allow_mesh: Bool = True
    """With Istio: admit pods of every namespace in the mesh (labelled istio-injection=enabled)."""
    allow_monitoring: Bool = True
    """With monitoring: admit the monitoring namespace (Prometheus scrapes the apps' port)."""
    allow_namespaces: list[DnsLabel] = Field(default_factory=list)
    """More namespaces whose pods may call the apps' port."""
