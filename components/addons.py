"""PlatformAddons: Istio (base, istiod, ingress gateway) and the Prometheus stack (Prometheus,
kube-state-metrics, Grafana), as Helm releases with pinned chart versions, switched on per
environment, or ``external``: provided by the cluster, so only what the stack itself needs is
declared (the ingress Gateway). Exposes the in-cluster Prometheus URL and the ingress gateway's
hostname when this stack installed them."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import istio
from components.cluster_settings import Addons
from components.profiles import SIDECAR_RESOURCES

ISTIO_REPO = "https://istio-release.storage.googleapis.com/charts"
PROMETHEUS_REPO = "https://prometheus-community.github.io/helm-charts"
ISTIO_NAMESPACE = "istio-system"
INGRESS_NAMESPACE = "istio-ingress"
INGRESS_RELEASE = "istio-ingressgateway"
GATEWAY_NAME = "public"
MONITORING_NAMESPACE = "monitoring"
MONITORING_RELEASE = "kube-prometheus-stack"
PROMETHEUS_URL = f"http://{MONITORING_RELEASE}-prometheus.{MONITORING_NAMESPACE}.svc.cluster.local:9090"


@dataclass(frozen=True)
class AddonsArgs:
    """Inputs of PlatformAddons."""

    addons: Addons
    declare_gateway: bool = True
    """Declare the istio-ingress/public Gateway the VirtualServices bind to; off when the
    platform's own Gateway is referenced (cluster.gateway) or traffic goes by the Gateway API."""
    ingress_gateway: bool = True
    """Install Istio's ingress gateway (its chart, behind an NLB); off when traffic goes by the
    Gateway API, where Istio deploys a proxy for each Gateway the platform declares."""


def _release(
    name: str, chart: str, version: str, repo: str, namespace: str, values: dict, opts: pulumi.ResourceOptions
) -> k8s.helm.v3.Release:
    return k8s.helm.v3.Release(
        name,
        name=name.split("/")[-1],
        chart=chart,
        version=version,
        repository_opts={"repo": repo},
        namespace=namespace,
        create_namespace=True,
        # Roll a failed install or upgrade back instead of leaving half a release behind.
        atomic=True,
        timeout=900,
        values=values,
        opts=opts,
    )


def _hostname(status: k8s.core.v1.outputs.ServiceStatus | None) -> str:
    """The load balancer's hostname; empty until AWS has provisioned it."""
    ingress = status.load_balancer.ingress if status and status.load_balancer else None
    return (ingress[0].hostname or "") if ingress else ""


class PlatformAddons(pulumi.ComponentResource):
    """Istio and the monitoring stack for one cluster."""

    prometheus_url: pulumi.Output[str] | None
    """In-cluster URL of Prometheus (None without monitoring)."""
    ingress_hostname: pulumi.Output[str] | None
    """Hostname of the ingress gateway's load balancer (None without Istio)."""

    def __init__(self, name: str, args: AddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flutter-app:platform:PlatformAddons", name, {}, opts)
        addons = args.addons
        self.prometheus_url = None
        self.ingress_hostname = None
        if addons.istio == "install":
            self._istio(name, addons.istio_version, addons.ingress_tls_secret, args)
        elif addons.istio == "external" and args.declare_gateway:
            # The cluster's own Istio: its ingress gateway (pods labelled istio=ingressgateway in
            # istio-ingress, as Istio's gateway chart labels them) serves this Gateway. Every stack
            # on the cluster declares the same object, so none may delete it on destroy.
            self._gateway(name, addons.ingress_tls_secret, [], shared=True)
        if addons.monitoring == "install":
            _release(
                MONITORING_RELEASE,
                "kube-prometheus-stack",
                addons.monitoring_version,
                PROMETHEUS_REPO,
                MONITORING_NAMESPACE,
                {
                    "prometheus": {
                        "prometheusSpec": {
                            # Pick up the app's PodMonitor, which is not labelled for this release.
                            "podMonitorSelectorNilUsesHelmValues": False,
                            "serviceMonitorSelectorNilUsesHelmValues": False,
                            "retention": "15d",
                        }
                    },
                    "kube-state-metrics": {"enabled": True},
                    "grafana": {"enabled": True},
                },
                pulumi.ResourceOptions(parent=self),
            )
            self.prometheus_url = pulumi.Output.from_input(PROMETHEUS_URL)
        self.register_outputs(
            {"prometheus_url": self.prometheus_url, "ingress_hostname": self.ingress_hostname}
        )

    def _istio(self, name: str, version: str, tls_secret: str, args: AddonsArgs) -> None:
        child = pulumi.ResourceOptions(parent=self)
        base = _release("istio-base", "base", version, ISTIO_REPO, ISTIO_NAMESPACE, {}, child)
        istiod = _release(
            "istiod",
            "istiod",
            version,
            ISTIO_REPO,
            ISTIO_NAMESPACE,
            {"pilot": {"autoscaleMin": 2}, "global": {"proxy": {"resources": SIDECAR_RESOURCES}}},
            pulumi.ResourceOptions(parent=self, depends_on=[base]),
        )
        if not args.ingress_gateway:
            return
        gateway = _release(
            INGRESS_RELEASE,
            "gateway",
            version,
            ISTIO_REPO,
            INGRESS_NAMESPACE,
            {
                "service": {
                    "type": "LoadBalancer",
                    "annotations": {
                        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
                        "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
                    },
                },
                "autoscaling": {"minReplicas": 2},
            },
            pulumi.ResourceOptions(parent=self, depends_on=[istiod]),
        )
        if args.declare_gateway:
            self._gateway(name, tls_secret, [gateway])
        service = k8s.core.v1.Service.get(
            f"{name}-ingress-service",
            f"{INGRESS_NAMESPACE}/{INGRESS_RELEASE}",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
        )
        self.ingress_hostname = service.status.apply(_hostname)

    def _gateway(
        self, name: str, tls_secret: str, depends_on: list[pulumi.Resource], shared: bool = False
    ) -> None:
        # The Gateway apps bind their VirtualServices to (expose.gateways: istio-ingress/public).
        # HTTPS terminates here with the certificate in `ingressTlsSecret`; plain HTTP redirects.
        # Hosts are restricted by each VirtualService.
        k8s.apiextensions.CustomResource(
            f"{name}-gateway",
            api_version=istio.API_VERSION,
            kind="Gateway",
            metadata={"name": GATEWAY_NAME, "namespace": INGRESS_NAMESPACE},
            spec={
                "selector": {"istio": INGRESS_RELEASE.removeprefix("istio-")},
                "servers": [
                    {
                        "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                        "hosts": ["*"],
                        "tls": {"mode": "SIMPLE", "credentialName": tls_secret},
                    },
                    {
                        "port": {"number": 80, "name": "http", "protocol": "HTTP"},
                        "hosts": ["*"],
                        "tls": {"httpsRedirect": True},
                    },
                ],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on, retain_on_delete=shared),
        )
