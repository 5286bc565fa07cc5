"""Settings of the cluster a stack deploys to: EKS (network, node groups) or an existing one, and
the platform add-ons."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from components.config_types import Bool, Cidr, ConfigModel, DnsLabel, SemVer
from components.plain_text import check_name_text
from components.validation import NestedProblems


class NodeGroup(ConfigModel):
    """An EKS managed node group in the private subnets."""

    instance_types: Annotated[
        list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")]], Field(min_length=1)
    ]
    min_size: Annotated[int, Field(ge=0, le=100)]
    desired_size: Annotated[int, Field(ge=0, le=100)]
    max_size: Annotated[int, Field(ge=1, le=100)]
    disk_size_gib: Annotated[int, Field(ge=20, le=1000)] = 50
    capacity_type: Literal["ON_DEMAND", "SPOT"] = "ON_DEMAND"

    @model_validator(mode="after")
    def _sizes_ordered(self) -> NodeGroup:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError(
                f"expected minSize <= desiredSize <= maxSize (got {self.min_size}, {self.desired_size}, {self.max_size})"
            )
        return self


class Network(ConfigModel):
    """A new VPC across three availability zones, or an existing VPC and its subnets."""

    cidr: Annotated[Cidr, AfterValidator(_vpc_cidr)] = "10.0.0.0/16"
    vpc_id: Annotated[str, Field(pattern=r"^vpc-[0-9a-f]{8,17}$")] | None = None
    public_subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(
        default_factory=list
    )
    private_subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(
        default_factory=list
    )
    nat_gateway_per_zone: Bool = False
    """One NAT gateway per zone (no cross-zone dependency) instead of one shared."""

    @model_validator(mode="after")
    def _existing_is_complete(self) -> Network:
        if self.vpc_id and (len(self.private_subnet_ids) < 2 or not self.public_subnet_ids):
            raise NestedProblems(
                [
                    (
                        ("privateSubnetIds" if len(self.private_subnet_ids) < 2 else "publicSubnetIds",),
                        "an existing vpcId needs privateSubnetIds (2 or more, in different zones) and "
                        "publicSubnetIds",
                    )
                ]
            )
        if not self.vpc_id and (self.public_subnet_ids or self.private_subnet_ids):
            raise NestedProblems([(("vpcId",), "required: subnet ids are given without vpcId")])
        prefix = ipaddress.ip_network(self.cidr).prefixlen
        if not self.vpc_id and prefix > 20:
            raise NestedProblems(
                [
                    (
                        ("cidr",),
                        f"{self.cidr} is too small for six /{prefix + 3} subnets; use /20 or larger",
                    )
                ]
            )
        return self


AddonMode = Literal["install", "external", "none"]


def _addon_mode(value: object) -> object:
    # As users write it: true (install it), false (none) or "external" (the cluster has it).
    if value is True or value == "true":
        return "install"
    if value is False or value == "false":
        return "none"
    if value == "external":
        return "external"
    raise ValueError(
        'expected true (install it with Helm), false (none) or "external" (the cluster already has it)'
    )


Addon = Annotated[AddonMode, BeforeValidator(_addon_mode)]


class Addons(ConfigModel):
    """Platform add-ons: installed with Helm (chart versions pinned), absent, or ``external``: the
    cluster already runs them, so nothing is installed but what uses them is still declared."""

    istio: Addon
    """Istio: the ingress Gateway, and the VirtualServices and DestinationRules of canaries."""
    istio_version: SemVer = "1.27.3"
    monitoring: Addon
    """The Prometheus Operator (kube-prometheus-stack): the app's PodMonitor."""
    monitoring_version: SemVer = "81.6.2"
    """kube-prometheus-stack chart version (Prometheus, kube-state-metrics, Grafana)."""
    ingress_tls_secret: DnsLabel = "flutter-app-tls"
    """kubernetes.io/tls Secret in istio-ingress with the public certificate (e.g. from cert-manager)."""


class IngressController(ConfigModel):
    """The cluster's Kubernetes ingress controller, which serves the apps' Ingresses where the
    cluster has no Istio (dev and test on an existing cluster)."""

    class_name: DnsLabel = "nginx"
    """IngressClass of the Ingresses (``spec.ingressClassName``)."""
    namespace: DnsLabel = "ingress-nginx"
    """Where the controller's pods run: the NetworkPolicy admits them to the apps."""
    publishes_address: Bool = True
    """The controller writes its address into each Ingress's status, as ingress-nginx, Traefik
    and the AWS Load Balancer Controller do: `pulumi up` waits for it like for any resource, so an
    Ingress no controller takes fails the update (after 10 minutes). false for a controller that
    never does: `pulumi up` then does not wait, and only the health gate shows the route works."""


EKS_VERSIONS = ("1.29", "1.30", "1.31", "1.32", "1.33", "1.34")
"""Kubernetes versions EKS offers for new clusters (standard and extended support, as EKS's
version calendar lists them for late 2026); a version outside it is refused by the EKS API."""


def _eks_version(value: str) -> str:
    if value not in EKS_VERSIONS:
        raise ValueError(f"expected a Kubernetes version EKS offers: {', '.join(EKS_VERSIONS)}")
    return value


_RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
"""RFC 6598 shared address space: not global, yet a range AWS's VPC CIDR table permits."""


def _vpc_cidr(value: str) -> str:
    network = ipaddress.ip_network(value)
    if network.version != 4 or not 16 <= network.prefixlen <= 28:
        raise ValueError("expected an IPv4 VPC range between /16 and /28 (AWS's limits), such as 10.0.0.0/16")
    assert isinstance(network, ipaddress.IPv4Network)
    # AWS takes RFC 1918 or publicly routable unicast ranges. Python counts multicast as global,
    # hence the special ranges first.
    kinds = ("multicast", "loopback", "link-local", "reserved")
    special = next((kind for kind in kinds if getattr(network, f"is_{kind.replace('-', '_')}")), None)
    private = any(network.subnet_of(block) for block in _RFC1918) or network.subnet_of(_SHARED)
    if special or not (private or network.is_global):
        kind = f"a {special} range" if special else "neither private (RFC 1918) nor publicly routable"
        raise ValueError(
            f"is {kind}; expected an RFC 1918 range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) or a "
            "publicly routable unicast range, as AWS takes for a VPC, such as 10.0.0.0/16"
        )
    return value


def _api_server(value: str) -> str:
    if not re.fullmatch(r"https://[^\s/@?#]+(/[^\s@?#]*)?", value):
        raise ValueError(
            "expected the cluster's API server URL as its kubeconfig writes it, https://HOST[:PORT]"
        )
    return value


Traffic = Literal["istio", "gateway-api", "ingress"]

# The Gateway API's SectionName (HTTPRoute spec.parentRefs[].sectionName, a Gateway's listener
# name): pattern and maxLength of the v1.4.1 standard CRDs, tests/data/gateway-api-standard-v1.4.1.yaml
# (sigs.k8s.io/gateway-api config/crd/standard). A DNS-1123 subdomain, so `a..b` is refused, as the
# API server would refuse the route. A Gateway's own name (metadata.name) follows the same rule.
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_MAX_SUBDOMAIN = 253


def _subdomain(what: str) -> AfterValidator:
    def check(value: str) -> str:
        if len(value) > _MAX_SUBDOMAIN:
            raise ValueError(f"is {len(value)} characters; {what} has at most {_MAX_SUBDOMAIN}")
        if not _SUBDOMAIN.fullmatch(value):
            raise ValueError(
                f"expected {what}: lowercase a-z, 0-9, '-' and '.', each dot-separated part starting and "
                "ending with a letter or digit (a DNS-1123 subdomain)"
            )
        return value

    return AfterValidator(check)


SectionName = Annotated[str, _subdomain("a Gateway listener name (the Gateway API's SectionName)")]
GatewayObjectName = Annotated[str, _subdomain("a Gateway's name")]


class GatewayParent(ConfigModel):
    """A Gateway the platform owns (never declared by a stack): the HTTPRoutes attach to it
    (``traffic: gateway-api``), or the VirtualServices bind to it (``traffic: istio``)."""

    name: GatewayObjectName
    namespace: DnsLabel
    section_name: SectionName | None = None
    """The Gateway's listener to attach to (Gateway API only); unset: every listener that allows it."""

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


class ClusterSettings(ConfigModel):
    """Where the stack deploys: a new EKS cluster, or an existing cluster by kubeconfig context."""

    mode: Literal["eks", "existing"]
    kube_context: Annotated[str, AfterValidator(check_name_text)] = ""
    """existing: kubeconfig context (empty: the current context)."""
    api_server: Annotated[str, AfterValidator(_api_server)] | None = None
    """existing: the API server this stack deploys to. `pulumi up` refuses to run when the
    kubeconfig points at another one, and the Kubernetes provider is replaced only when this
    changes (its clusterIdentifier), never because a kubeconfig path, context or token changed."""
    ca_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    """existing: SHA-256 of the cluster's CA certificate (DER, lower-case hex), checked like apiServer."""
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")] = "eu-west-1"
    kubernetes_version: Annotated[str, AfterValidator(_eks_version)] = "1.34"
    endpoint_public_access: Bool = True
    public_access_cidrs: list[Cidr] = Field(default_factory=lambda: ["0.0.0.0/0"])
    network: Network = Network()
    node_groups: dict[DnsLabel, NodeGroup] = Field(default_factory=dict)
    ecr_repository: DnsLabel = "flutter-app"
    addons: Addons
    ingress_controller: IngressController = IngressController()
    """Without Istio: the controller that serves the apps' Ingresses."""
    traffic: Traffic | None = None
    """How traffic is described: Istio VirtualServices, Gateway API HTTPRoutes, or Kubernetes
    Ingresses; unset: istio where addons.istio is set, else ingress (see ``routing``)."""
    gateway: GatewayParent | None = None
    """The platform's Gateway: required with traffic gateway-api; with istio, the Gateway the
    VirtualServices bind to instead of the istio-ingress/public one a stack declares."""

    @property
    def routing(self) -> Traffic:
        """The traffic mode in effect."""
        if self.traffic is not None:
            return self.traffic
        return "istio" if self.addons.istio != "none" else "ingress"

    @model_validator(mode="after")
    def _eks_has_nodes(self) -> ClusterSettings:
        # Each problem at the key to change, not at `cluster`.
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.mode == "eks" and not self.node_groups:
            problems.append((("nodeGroups",), "mode eks needs at least one entry in nodeGroups"))
        if self.mode == "eks":
            problems += [
                (
                    (key,),
                    "binds an existing cluster; mode eks deploys to the cluster the stack creates: remove it",
                )
                for key, value in (("apiServer", self.api_server), ("caSha256", self.ca_sha256))
                if value
            ]
        elif self.ca_sha256 and not self.api_server:
            problems.append((("caSha256",), "caSha256 is given without apiServer"))
        if self.routing == "istio" and self.addons.istio == "none":
            problems.append((("traffic",), "traffic istio needs addons.istio: true or external"))
        if self.routing == "gateway-api" and self.gateway is None:
            problems.append(
                (
                    ("gateway",),
                    "required with traffic gateway-api: {name, namespace} of the platform's Gateway the "
                    "routes attach to",
                )
            )
        if self.routing == "ingress" and self.gateway is not None:
            problems.append(
                (
                    ("gateway",),
                    "is for traffic istio or gateway-api; traffic ingress uses ingressController",
                )
            )
        if self.routing == "istio" and self.gateway is not None and self.gateway.section_name is not None:
            # A VirtualService binds to a whole Istio Gateway; a listener is a Gateway API notion.
            problems.append(
                (
                    ("gateway", "sectionName"),
                    "is a Gateway API listener; traffic istio binds the VirtualServices to the whole "
                    "Gateway: remove it (or use traffic gateway-api)",
                )
            )
        if problems:
            raise NestedProblems(problems)
        return self
