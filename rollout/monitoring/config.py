"""What a report looks at, from the stack config (Pulumi.yaml + Pulumi.STACK.yaml, read offline).

Keys read (all under the ``flutter-app:`` namespace):

* the typed stack settings (``apps`` with each app's strategy, replicas, resource limits,
  ``blueGreen.active``, ``canary.weight``/``image``; ``namespace``/``environment``), validated by
  ``components.settings.parse_settings`` with its per-environment defaults;
* ``prometheusUrl``: Prometheus base URL (``--prometheus`` overrides it);
* ``reportThresholds``: alert thresholds (see ``rollout.monitoring.alerts``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from components.app_settings import AppSettings
from components.settings import PROJECT, StackSettings, decode_config, parse_settings
from components.validation import ConfigError, parse_quantity
from rollout.monitoring.alerts import Thresholds, parse_thresholds
from rollout.offline.project import SECRET_PLACEHOLDER, StackConfig

PROMETHEUS_URL_KEY: Final = f"{PROJECT}:prometheusUrl"
THRESHOLDS_KEY: Final = f"{PROJECT}:reportThresholds"
_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")


class ReportConfigError(ValueError):
    """The stack config cannot drive a report (exit 2); the message names the key."""


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


def _settings(config: StackConfig) -> StackSettings:
    """The stack's settings, read as the program reads them (secret values are not needed)."""
    prefix = f"{PROJECT}:"
    texts = {
        key.removeprefix(prefix): text
        for key, text in config.values.items()
        if key.startswith(prefix) and key not in config.secret_keys
    }
    raw, problems = decode_config(texts)
    if problems:
        raise ConfigError(config.stack, problems)
    return parse_settings(raw, stack=config.stack)


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


def _prometheus_url(config: StackConfig) -> str | None:
    value = config.values.get(PROMETHEUS_URL_KEY)
    if value is None or value == "":
        return None
    if PROMETHEUS_URL_KEY in config.secret_keys or value == SECRET_PLACEHOLDER:
        raise ReportConfigError(
            f"{PROMETHEUS_URL_KEY} is a secret, whose value cannot be read offline; "
            "pass --prometheus URL (and a token in ROLLOUT_PROMETHEUS_TOKEN)"
        )
    if not _URL.match(value):
        raise ReportConfigError(f"{PROMETHEUS_URL_KEY}: expected an http(s) URL (got {value!r})")
    return value


def report_config(config: StackConfig) -> ReportConfig:
    """Validate what the report needs; ReportConfigError naming the key, or ConfigError."""
    settings = _settings(config)
    try:
        thresholds = parse_thresholds(config.values.get(THRESHOLDS_KEY))
    except ValueError as error:
        raise ReportConfigError(str(error)) from None
    return ReportConfig(
        stack=config.stack,
        namespace=settings.namespace_name,
        prometheus_url=_prometheus_url(config),
        thresholds=thresholds,
        apps=tuple(_app_target(name, app) for name, app in settings.apps.items()),
    )


def load_report_config(project_dir: Path, stack: str) -> ReportConfig:
    """Read the stack's files and validate them (ProjectError, ConfigError, ReportConfigError)."""
    from rollout.offline.project import load_stack_config

    return report_config(load_stack_config(project_dir, stack))
