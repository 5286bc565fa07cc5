"""What the apps of a stack need from the namespace quota at the peak of a release. Pure."""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal

from components.app_settings import AppSettings
from components.profiles import SIDECAR_RESOURCES
from components.validation import parse_quantity


def _surge(value: int | str, replicas: int) -> int:
    return value if isinstance(value, int) else math.ceil(replicas * int(value.rstrip("%")) / 100)


def peak_pods(app: AppSettings) -> int:
    """The most pods an app runs at once: rollout surge, and both tracks of blue/green or canary."""
    replicas = app.autoscaling.max_replicas if app.autoscaling else app.replicas
    surge = _surge(app.max_surge, replicas)
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
    return f"{value.normalize():f}"
