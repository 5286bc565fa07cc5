"""The namespace quota (stack config ``flutter-app:namespaceQuota``) and what the apps of a stack
need from it at the peak of a release. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated

from pydantic import Field

from components.app_settings import AppSettings, Compute
from components.config_types import INT32_MAX, ConfigModel, int_or_percent_value
from components.profiles import SIDECAR_RESOURCES
from components.validation import parse_quantity


class NamespaceQuota(ConfigModel):
    """The ResourceQuota of the stack's namespace (defaults per environment: profiles.py)."""

    requests: Compute
    limits: Compute
    pods: Annotated[int, Field(ge=1, le=INT32_MAX)]
    load_balancers: Annotated[int, Field(ge=0, le=INT32_MAX)]
    """Services of type LoadBalancer (the app's Services are ClusterIP)."""

    def hard(self) -> dict[str, str]:
        """``spec.hard`` of the ResourceQuota."""
        return {
            "requests.cpu": self.requests.cpu,
            "requests.memory": self.requests.memory,
            "limits.cpu": self.limits.cpu,
            "limits.memory": self.limits.memory,
            "pods": str(self.pods),
            "services.loadbalancers": str(self.load_balancers),
        }

    def exceeded(self, usage: dict[str, Decimal]) -> list[str]:
        """``key used > limit`` for each part of ``usage`` beyond the quota."""
        hard = self.hard()
        return [
            f"{key} {fmt_quantity(used)} > {hard[key]}"
            for key, used in usage.items()
            if used > parse_quantity(hard[key])
        ]


def peak_pods(app: AppSettings) -> int:
    """The most pods an app runs at once: rollout surge, and both tracks of blue/green or canary."""
    replicas = app.autoscaling.max_replicas if app.autoscaling else app.replicas
    surge = int_or_percent_value(app.max_surge, replicas)
    if app.strategy == "blue-green":
        return 2 * replicas + surge
    if app.strategy == "canary":
        return replicas + app.canary.replicas + surge
    return replicas + surge


def peak_usage(apps: Iterable[AppSettings]) -> dict[str, Decimal]:
    """Quota-counted usage at the peak of a release of every app (Istio sidecars included)."""
    usage = {
        key: Decimal(0) for key in ("pods", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory")
    }
    for app in apps:
        pods = peak_pods(app)
        usage["pods"] += pods
        for side in ("requests", "limits"):
            compute = getattr(app.resources, side)
            sidecar = SIDECAR_RESOURCES[side] if app.strategy == "canary" else {"cpu": "0", "memory": "0"}
            for kind in ("cpu", "memory"):
                per_pod = parse_quantity(getattr(compute, kind)) + parse_quantity(sidecar[kind])
                usage[f"{side}.{kind}"] += pods * per_pod
    return usage


def fmt_quantity(value: Decimal) -> str:
    if value >= 2**30 and value % 2**20 == 0:
        return f"{value / 2**30:.4g}Gi"
    if value >= 2**20 and value % 2**20 == 0:
        return f"{value / 2**20:.4g}Mi"
    return f"{value.normalize():f}"
