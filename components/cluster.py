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
from pulumi.runtime.mocks import MockMonitor
from pulumi_aws.provider import Provider as AwsProvider

from components.cluster_settings import ClusterSettings
from components.eks import EksCluster, EksClusterArgs
from components.kubeconfig import ClusterEndpoint, KubeconfigError, normal_server, read_current_cluster
from components.settings import PROJECT
from components.validation import ConfigError, Problem

BINDING_KEY = f"{PROJECT}:cluster.apiServer"


def binding_problem(settings: ClusterSettings, found: ClusterEndpoint | KubeconfigError) -> Problem | None:
    """Why the kubeconfig's cluster is not the one the stack is bound to, if it is not (pure).

    ``found`` is what the ambient kubeconfig points at (components/kubeconfig.py), or why it
    cannot tell. An unbound stack (no ``apiServer``) is not checked here.
    """
    if settings.mode != "existing" or not settings.api_server:
        return None
    bound = f"{settings.api_server}" + (
        f" (CA sha256:{settings.ca_sha256[:16]}...)" if settings.ca_sha256 else ""
    )
    move = (
        "To move the stack to another cluster on purpose, set cluster.apiServer (and caSha256) to it: "
        "its objects are then created there and deleted from the old one"
    )
    if isinstance(found, KubeconfigError):
        return Problem(
            BINDING_KEY,
            f"this stack deploys to {bound}, and the kubeconfig cannot say which cluster it points at: "
            f"{found}. Check KUBECONFIG and cluster.kubeContext",
        )
    same_server = normal_server(settings.api_server) == found.server
    same_ca = settings.ca_sha256 is None or settings.ca_sha256 == found.ca_sha256
    if same_server and same_ca:
        return None
    return Problem(
        BINDING_KEY,
        f"this stack deploys to {bound}, but the kubeconfig points at {found.describe()}: refusing to run "
        f"against another cluster, nothing was declared. Check KUBECONFIG and cluster.kubeContext. {move}",
    )


@dataclass(frozen=True)
class ClusterArgs:
    """Inputs of a Cluster."""

    settings: ClusterSettings
    environment: str


def refuse_another_cluster(settings: ClusterSettings, stack: str) -> None:
    """Raise ConfigError (before anything is declared) when the ambient kubeconfig points at a
    cluster other than the one the stack is bound to. Reads the kubeconfig (run time only).

    Under the SDK's mock monitor (`rollout render`, the program tests) there is no cluster and
    nothing is read: the binding is checked by a real `pulumi preview` or `up`.
    """
    if settings.mode != "existing" or not settings.api_server:
        return
    if isinstance(pulumi.runtime.settings.get_monitor(), MockMonitor):
        return
    try:
        found: ClusterEndpoint | KubeconfigError = read_current_cluster(settings.kube_context or None)
    except KubeconfigError as error:
        found = error
    problem = binding_problem(settings, found)
    if problem is not None:
        raise ConfigError(stack, [problem])


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
            # The provider (and with it every object) is replaced only when the bound cluster
            # changes, never because a kubeconfig path, context name or token did; without a
            # binding the provider's own guess applies (its kubeconfig's server changed).
            cluster_identifier=normal_server(settings.api_server) if settings.api_server else None,
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
