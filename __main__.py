"""Composition root: read the stack settings once, declare the platform, export what users need."""

import pulumi

from components.addons import AddonsArgs, PlatformAddons
from components.cluster import Cluster, ClusterArgs, refuse_another_cluster
from components.environment import Environment, EnvironmentArgs
from components.exposure import RouteContext
from components.gating import GateContext
from components.podspec import PodInputs
from components.release import declare_release
from components.settings import SECRET_KEYS, load
from components.workload import WorkloadArgs

settings = load()
config = settings.config
refuse_another_cluster(config.cluster, settings.stack)
if config.cluster.mode == "existing" and not config.cluster.api_server:
    pulumi.log.warn(
        "flutter-app:cluster.apiServer is not set: this stack is bound to no cluster, so a KUBECONFIG "
        "pointing at another one would move its objects there; set it to the API server it deploys to"
    )
for key in settings.missing_secrets:
    pulumi.log.warn(f"{key} is not set: the app runs without it (`pulumi config set --secret {key}`)")
for name, app in config.apps.items():
    for key in app.old_spellings:
        new = key.replace("canary.", "expose.")
        pulumi.log.warn(f"apps.{name}.{key} is the old spelling of apps.{name}.{new}: move it")
    if not (app.gate.url or config.prometheus_url):
        pulumi.log.warn(f"no health gate for app {name}: set apps.{name}.gate.url and/or prometheusUrl")

cluster = Cluster("cluster", ClusterArgs(config.cluster, config.environment))
k8s_opts = pulumi.ResourceOptions(providers=[cluster.provider])
addons = PlatformAddons(
    "addons",
    AddonsArgs(
        config.cluster.addons,
        declare_gateway=config.cluster.routing == "istio" and not config.cluster.gateway,
        ingress_gateway=config.cluster.routing != "gateway-api",
    ),
    opts=k8s_opts,
)
secret_env = {SECRET_KEYS[key]: value for key, value in settings.secrets.values.items()}
environment = Environment(
    config.environment,
    EnvironmentArgs(config, secret_env),
    # After the add-ons: their CRDs (PodMonitor) and Istio's injection webhook must exist first.
    opts=pulumi.ResourceOptions(providers=[cluster.provider], depends_on=[addons]),
)

releases = {
    name: declare_release(
        name,
        WorkloadArgs(
            app=app,
            pod=PodInputs(
                app_name=name,
                environment=config.environment,
                config_map_name=environment.config_map_name,
                secret_name=environment.secret_name,
                secret_env=sorted(secret_env),
            ),
            namespace=environment.namespace,
            gates=GateContext(namespace=config.namespace_name, prometheus_url=config.prometheus_url),
            routing=RouteContext(
                config.cluster.routing, config.cluster.ingress_controller, config.cluster.gateway
            ),
        ),
        opts=k8s_opts,
    )
    for name, app in config.apps.items()
}

pulumi.export("environment", config.environment)
pulumi.export("namespace", environment.namespace)
pulumi.export("services", {name: r.service_name for name, r in releases.items()})
pulumi.export("images", {name: app.image for name, app in config.apps.items()})
pulumi.export("clusterName", cluster.cluster_name)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("ecrRepositoryUrl", cluster.ecr_repository_url)
pulumi.export("ingressHostname", addons.ingress_hostname)
pulumi.export("prometheusUrl", addons.prometheus_url)
