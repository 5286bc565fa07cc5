"""Cluster: the Kubernetes provider every Kubernetes resource of the stack uses.

Mode ``existing``: a kubeconfig context from stack config (a kind/k3d cluster, or a cluster
managed elsewhere). The provider is explicit so no resource ever falls back to whatever the
ambient kubeconfig points at.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s


@dataclass(frozen=True)
class ClusterArgs:
    """Inputs of a Cluster."""

    kube_context: str
    """kubeconfig context to deploy to; empty means the kubeconfig's current context."""


class Cluster(pulumi.ComponentResource):
    """Where the stack deploys: exposes ``provider`` for every Kubernetes resource."""

    provider: k8s.Provider

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flutter-app:platform:Cluster", name, {}, opts)
        self.provider = k8s.Provider(
            f"{name}-k8s",
            context=args.kube_context or None,
            # Server-side apply lets a blue/green switch patch only the Service selector.
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})
