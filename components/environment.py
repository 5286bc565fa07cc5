"""Environment: the namespace of one stack, its app ConfigMap and Secret, quota, limits and
NetworkPolicies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.app_env import CONFIG_MAP_ENV
from components.network_policy import policy_specs
from components.podspec import standard_labels
from components.profiles import CONTAINER_LIMITS
from components.settings import PROJECT, PROTECTED_ENVIRONMENTS, StackSettings


@dataclass(frozen=True)
class EnvironmentArgs:
    """Inputs of an Environment."""

    settings: StackSettings
    """Validated stack settings."""
    secrets: Mapping[str, pulumi.Output[str]]
    """Environment-variable name -> secret value, for the app Secret (empty: no Secret)."""


def _env_text(value: object) -> str:
    """A setting as an environment variable holds it: true/false, lists comma-separated."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def app_config_data(settings: StackSettings) -> dict[str, str]:
    """The non-secret app config of the environment table, as the app reads it from its env."""
    values = settings.model_dump(by_alias=True)
    return {name: _env_text(values[key]) for name, key in CONFIG_MAP_ENV.items()}


class Environment(pulumi.ComponentResource):
    """Namespace + app ConfigMap + app Secret + ResourceQuota + LimitRange for one environment."""

    namespace: pulumi.Output[str]
    """Name of the namespace (depend on it to be created after it)."""
    config_map_name: pulumi.Output[str]
    secret_name: pulumi.Output[str] | None
    """None when the stack sets no secret."""

    def __init__(self, name: str, args: EnvironmentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flutter-app:platform:Environment", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.settings
        # What holds data is protected where it matters: neither a replacement (a renamed
        # namespace, a moved cluster) nor a mistaken `pulumi destroy` deletes it; the engine refuses
        # instead. Deliberate removal: `pulumi state unprotect` first (docs/operations.md).
        keep = pulumi.ResourceOptions(parent=self, protect=settings.environment in PROTECTED_ENVIRONMENTS)
        labels = standard_labels(PROJECT, settings.environment, "environment")
        # Istio routes canary traffic only between pods that carry its sidecar.
        injection = {"istio-injection": "enabled"} if settings.uses_istio else {}
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": settings.namespace_name, "labels": {**labels, **injection}},
            opts=keep,
        )
        self.namespace = namespace.metadata.name

        def metadata(object_name: str) -> k8s.meta.v1.ObjectMetaArgsDict:
            return {"name": object_name, "namespace": self.namespace, "labels": labels}

        config_map = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=metadata(f"{PROJECT}-config"),
            data=app_config_data(settings),
            opts=child,
        )
        self.config_map_name = config_map.metadata.name
        self.secret_name = None
        if args.secrets:
            secret = k8s.core.v1.Secret(
                f"{name}-secrets",
                metadata=metadata(f"{PROJECT}-secrets"),
                type="Opaque",
                string_data=dict(args.secrets),
                opts=keep,
            )
            self.secret_name = secret.metadata.name
        k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata=metadata(f"{PROJECT}-quota"),
            spec={"hard": settings.namespace_quota.hard()},
            opts=child,
        )
        if settings.cluster.addons.monitoring != "none":
            # Scrape every app pod, keeping its `app` and `version` labels: the health gates
            # select a release track's metrics by them.
            k8s.apiextensions.CustomResource(
                f"{name}-pod-monitor",
                api_version="monitoring.coreos.com/v1",
                kind="PodMonitor",
                metadata=metadata(PROJECT),
                spec={
                    "selector": {"matchLabels": {"app.kubernetes.io/part-of": PROJECT}},
                    "podTargetLabels": ["app", "version"],
                    "podMetricsEndpoints": [{"port": "http", "path": "/metrics", "interval": "15s"}],
                },
                opts=child,
            )
        for policy_name, spec in policy_specs(settings).items():
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy_name.removeprefix(PROJECT + '-')}",
                metadata=metadata(policy_name),
                spec=spec,
                opts=child,
            )
        k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata=metadata(f"{PROJECT}-limits"),
            spec={
                "limits": [
                    {
                        "type": "Container",
                        "default": CONTAINER_LIMITS["default"],
                        "default_request": CONTAINER_LIMITS["defaultRequest"],
                        "max": CONTAINER_LIMITS["max"],
                    }
                ]
            },
            opts=child,
        )
        self.register_outputs(
            {
                "namespace": self.namespace,
                "config_map_name": self.config_map_name,
                "secret_name": self.secret_name,
            }
        )
