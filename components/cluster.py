"""Cluster: where the stack deploys, and the Kubernetes provider every Kubernetes resource uses.

Mode ``existing`` (dev and test by default): a kubeconfig context, e.g. a local kind or k3d
cluster. Mode ``eks`` (staging and production): an EksCluster built with pulumi-aws, whose
kubeconfig feeds the provider. Either way every Kubernetes resource uses this one explicit
provider (never a default provider); in existing mode it reads the ambient kubeconfig
(``KUBECONFIG`` or ~/.kube/config) at ``cluster.kubeContext``, or at its current context when
that is empty.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pulumi_aws.provider import Provider as AwsProvider

from components.cluster_settings import ClusterSettings
from components.eks import EksCluster, EksClusterArgs
from components.settings import PROJECT


@dataclass(frozen=True)
class ClusterArgs:
    """Inputs of a Cluster."""

    settings: ClusterSettings
    environment: str


class Cluster(pulumi.ComponentResource):
    """Exposes ``provider`` (Kubernetes) and, in eks mode, the cluster's outputs."""

    provider: k8s.Provider
    cluster_name: pulumi.Output[str] | None
    kubeconfig: pulumi.Output[str] | None
    """Secret."""
    ecr_repository_url: pulumi.Output[str] | None

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flutter-app:platform:Cluster", name, {}, opts)
        settings = args.settings
        self.cluster_name = self.kubeconfig = self.ecr_repository_url = None
        if settings.mode == "eks":
            tags = {"project": PROJECT, "environment": args.environment, "managed-by": "pulumi"}
            aws_provider = AwsProvider(
                f"{name}-aws",
                region=settings.region,
                default_tags={"tags": tags},
                opts=pulumi.ResourceOptions(parent=self),
            )
            eks = EksCluster(
                f"{PROJECT}-{args.environment}",
                EksClusterArgs(settings=settings),
                pulumi.ResourceOptions(parent=self, providers=[aws_provider]),
            )
            self.cluster_name, self.kubeconfig = eks.cluster_name, eks.kubeconfig
            self.ecr_repository_url = eks.ecr_repository_url
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            context=settings.kube_context or None,
            # Server-side apply lets a blue/green switch patch only the Service selector.
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "kubeconfig": self.kubeconfig,
                "ecr_repository_url": self.ecr_repository_url,
            }
        )
