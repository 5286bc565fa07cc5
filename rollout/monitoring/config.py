"""What a report looks at, from the stack config (Pulumi.yaml + Pulumi.STACK.yaml, read offline).

Keys read (all under the ``flutter-app:`` namespace):

* the typed stack settings (``apps`` with each app's strategy, replicas, resource limits,
  ``blueGreen.active``, ``canary.weight``/``image``; ``namespace``/``environment``), validated by
  ``components.settings.validate_config`` (every check the program makes) with its per-environment defaults;
* ``prometheusUrl``: Prometheus base URL (``--prometheus`` overrides it);
* ``reportThresholds``: alert thresholds (see ``rollout.monitoring.alerts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from components.app_settings import AppSettings
from components.report_thresholds import Thresholds, parse_thresholds
from components.settings import PROJECT
from components.validation import parse_quantity
from rollout.offline.project import StackConfig, stack_settings

PROMETHEUS_URL_KEY: Final = f"{PROJECT}:prometheusUrl"


@dataclass(frozen=True)
class DeploymentTarget:
    name: str
    role: str
    configured: int
    """Replicas the stack config asks for."""


@dataclass(frozen=True)
class AppTarget:
    name: str
    strategy: str
    release: str
    deployments: tuple[DeploymentTarget, ...]
    cpu_limit_cores: float
    memory_limit_bytes: float


@dataclass(frozen=True)
class ReportConfig:
    stack: str
    namespace: str
    prometheus_url: str | None
    thresholds: Thresholds
    apps: tuple[AppTarget, ...]


def _release(app: AppSettings) -> tuple[str, tuple[DeploymentTarget, ...]]:
    if app.strategy == "blue-green":
        plan = app.blue_green
        idle_replicas = 0 if plan.scale_down_idle else app.replicas
        return (
            f"blue/green: active colour {plan.active} ({app.colour_image(plan.active)}), "
            f"idle {plan.idle} ({app.colour_image(plan.idle)})",
            tuple(
                DeploymentTarget(
                    f"{{app}}-{colour}",
                    f"{colour}: {'live' if colour == plan.active else 'idle'}",
                    app.replicas if colour == plan.active else idle_replicas,
                )
                for colour in ("blue", "green")
            ),
        )
    if app.strategy == "canary":
        weight = app.canary.weight if app.canary_running else 0
        running = f"canary {app.canary.image}" if app.canary_running else "no canary running"
        return (
            f"canary: weight {weight} % to the canary ({running}), {100 - weight} % to stable {app.image}",
            (
                DeploymentTarget("{app}-stable", f"stable: {100 - weight} % of traffic", app.replicas),
                DeploymentTarget(
                    "{app}-canary",
                    f"canary: {weight} % of traffic",
                    app.canary.replicas if app.canary_running else 0,
                ),
            ),
        )
    return f"rolling: {app.image}", (DeploymentTarget("{app}", "", app.replicas),)


def _app_target(name: str, app: AppSettings) -> AppTarget:
    release, deployments = _release(app)
    return AppTarget(
        name=name,
        strategy=app.strategy,
        release=release,
        deployments=tuple(
            DeploymentTarget(d.name.format(app=name), d.role, d.configured) for d in deployments
        ),
        cpu_limit_cores=float(parse_quantity(app.resources.limits.cpu)),
        memory_limit_bytes=float(parse_quantity(app.resources.limits.memory)),
    )


def report_config(config: StackConfig) -> ReportConfig:
    """What the report needs from the stack's settings; ConfigError naming every bad key (the
    settings check prometheusUrl and reportThresholds with everything else)."""
    settings = stack_settings(config)
    return ReportConfig(
        stack=config.stack,
        namespace=settings.namespace_name,
        prometheus_url=settings.prometheus_url or None,
        thresholds=parse_thresholds(settings.report_thresholds or None),
        apps=tuple(_app_target(name, app) for name, app in settings.apps.items()),
    )


def load_report_config(project_dir: Path, stack: str) -> ReportConfig:
    """Read the stack's files and validate them (ProjectError, ConfigError)."""
    from rollout.offline.project import load_stack_config

    return report_config(load_stack_config(project_dir, stack))
