"""Typed stack settings: read once from stack config, merged over per-environment defaults,
validated purely, every problem reported at once with the key, the value and what was expected.

Pydantic models give typed, frozen settings with camelCase config keys and collect every error in
one pass (cross-field checks included), which hand-written checks would have to re-implement.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, get_args, get_origin

import pulumi
from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator

from components.app_settings import AppSettings
from components.capacity import fmt_quantity, peak_usage
from components.cluster_settings import ClusterSettings
from components.config_types import Bool, ConfigModel, DnsLabel, LogLevel, LogSink, Port
from components.profiles import CLUSTER_DEFAULTS, ENVIRONMENTS, QUOTAS, WORKLOAD_DEFAULTS, Environment
from components.validation import ConfigError, Problem, did_you_mean, parse_quantity

PROJECT: Final = "flutter-app"
DEFAULT_APP: Final = "flutter-app"
# Credentials: secret config only (`pulumi config set --secret`), never part of the plain settings.
# Read by the HealthGate provider in its own process (components/health_gate.py), never by the
# program; like every credential they must be secret.
GATE_SECRET_KEYS: Final = ("prometheusToken", "gateWebhookUrl")
SECRET_KEYS: Final[dict[str, str]] = {
    "firebaseApiKey": "FIREBASE_API_KEY",
    "databasePassword": "DATABASE_PASSWORD",
}
CREDENTIAL_KEYS: Final = (*SECRET_KEYS, *GATE_SECRET_KEYS)
# Keys whose stack value is YAML structure; the engine hands them to the program as JSON text.
_STRUCTURED_KEYS: Final = frozenset({"apps", "cluster", "logSinks", "reportThresholds"})


class StackSettings(ConfigModel):
    """Everything one stack deploys, read from its config (see Pulumi.yaml for every key)."""

    environment: Environment
    namespace: Annotated[str, Field(pattern=r"^$|^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")] = ""
    prometheus_url: Annotated[str, Field(pattern=r"^$|^https?://[^\s/]+(/\S*)?$")] = ""
    api_base_url: Annotated[str, Field(pattern=r"^https://[^\s/]+(/\S*)?$")]
    api_timeout_seconds: Annotated[int, Field(ge=1, le=300)]
    api_retries: Annotated[int, Field(ge=0, le=10)]
    database_host: Annotated[str, Field(pattern=r"^[A-Za-z0-9.-]+$")]
    database_port: Port = 5432
    database_name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    log_level: LogLevel
    log_sinks: Annotated[list[LogSink], Field(min_length=1)]
    feature_new_ui: Bool
    feature_beta: Bool
    feature_analytics: Bool
    debug_mode: Bool
    analytics_enabled: Bool
    cluster: ClusterSettings
    apps: Annotated[dict[DnsLabel, AppSettings], Field(min_length=1)]
    """Declared after environment and cluster: its checks read them."""
    report_thresholds: dict[str, Any] = Field(default_factory=dict)
    """Alert thresholds of `rollout report`, which validates them (rollout/monitoring/alerts.py)."""

    @field_validator("apps")
    @classmethod
    def _apps_fit_the_cluster(
        cls, apps: dict[str, AppSettings], info: ValidationInfo
    ) -> dict[str, AppSettings]:
        environment, cluster = info.data.get("environment"), info.data.get("cluster")
        canaries = sorted(name for name, app in apps.items() if app.strategy == "canary")
        if canaries and cluster is not None and cluster.addons.istio == "none":
            raise ValueError(
                f"{', '.join(canaries)} use strategy canary, which needs cluster.addons.istio: true "
                "(or external)"
            )
        if environment in QUOTAS:
            quota = QUOTAS[environment]
            over = [
                f"{key} {fmt_quantity(used)} > {quota[key]}"
                for key, used in peak_usage(apps.values()).items()
                if key in quota and used > parse_quantity(quota[key])
            ]
            if over:
                raise ValueError(
                    f"at the peak of a release (surge and both tracks running) the apps need {', '.join(over)}, "
                    f"beyond the {environment} namespace quota (components/profiles.py): lower replicas or resources"
                )
        return apps

    @property
    def uses_istio(self) -> bool:
        """Some app is released by Istio canary."""
        return any(app.strategy == "canary" for app in self.apps.values())

    @property
    def namespace_name(self) -> str:
        return self.namespace or f"{PROJECT}-{self.environment}"


@dataclass(frozen=True)
class Secrets:
    """Credentials from secret config; ``None`` when the stack has not set one."""

    values: dict[str, pulumi.Output[str]]


@dataclass(frozen=True)
class Settings:
    """What the program builds from: validated plain settings plus secret Outputs."""

    stack: str
    config: StackSettings
    secrets: Secrets
    missing_secrets: tuple[str, ...]


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _with_defaults(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Merge each app over its environment's workload defaults (production's when the
    environment itself is invalid, so the apps are still checked)."""
    env = raw.get("environment")
    environment: Environment = env if env in ENVIRONMENTS else "production"
    defaults = WORKLOAD_DEFAULTS[environment]
    merged = dict(raw)
    cluster = raw.get("cluster", {})
    merged["cluster"] = (
        _deep_merge(CLUSTER_DEFAULTS[environment], cluster) if isinstance(cluster, Mapping) else cluster
    )
    apps = raw.get("apps", {DEFAULT_APP: {}})
    if isinstance(apps, Mapping):
        merged["apps"] = {
            name: _deep_merge(defaults, app) if isinstance(app, Mapping) else app
            for name, app in apps.items()
        }
    else:
        merged["apps"] = apps
    return merged


def _annotation_at(loc: tuple[str | int, ...]) -> Any:
    """The model (or type) at ``loc`` in StackSettings, to suggest keys for a typo."""
    current: Any = StackSettings
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {f.alias or n: f.annotation for n, f in current.model_fields.items()}
            current = fields.get(str(part))
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        else:
            return None
        while get_origin(current) is Annotated or type(None) in get_args(current):
            args = [a for a in get_args(current) if a is not type(None)]
            current = args[0] if args else None
    return current


def _key(loc: tuple[str | int, ...]) -> str:
    parts = [f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc]
    return f"{PROJECT}:" + "".join(parts).lstrip(".")


def _problems(error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors():
        # Pydantic inserts "[key]" for a bad dict key; the key itself is the location.
        loc = tuple(p for p in item["loc"] if p != "[key]")
        kind, value = item["type"], item.get("input")
        if kind == "missing":
            message = "required but not set"
        elif kind == "extra_forbidden":
            model = _annotation_at(loc[:-1])
            choices = (
                [f.alias or n for n, f in model.model_fields.items()]
                if isinstance(model, type) and issubclass(model, BaseModel)
                else []
            )
            message = f"unknown key{did_you_mean(str(loc[-1]), choices)}"
        else:
            text = item["msg"].removeprefix("Value error, ")
            if kind == "string_pattern_mismatch":
                text = f"does not match the expected format {item['ctx']['pattern']}"
            shown = "" if isinstance(value, Mapping) else f" (got {json.dumps(value, default=str)})"
            message = f"{text}{shown}"
        problems.append(Problem(_key(loc), message))
    return problems


def parse_settings(raw: Mapping[str, Any], *, stack: str) -> StackSettings:
    """Validate plain config values (keys without the project prefix). Pure: raises ConfigError."""
    try:
        return StackSettings.model_validate(_with_defaults(raw))
    except ValidationError as error:
        raise ConfigError(stack, _problems(error)) from None


def decode_config(texts: Mapping[str, str]) -> tuple[dict[str, Any], list[Problem]]:
    """Config text as the engine hands it to a program (keys without the project prefix) to the
    values ``parse_settings`` takes: structured keys decoded from JSON, credentials left out."""
    raw: dict[str, Any] = {}
    problems: list[Problem] = []
    for key, text in texts.items():
        if key in CREDENTIAL_KEYS:
            continue
        if key in _STRUCTURED_KEYS:
            try:
                raw[key] = json.loads(text)
            except json.JSONDecodeError:
                problems.append(Problem(f"{PROJECT}:{key}", f"expected a YAML object or list (got {text!r})"))
        else:
            raw[key] = text
    return raw, problems


def load(stack: str | None = None) -> Settings:
    """Read and validate this stack's config once. Raises ConfigError before anything is declared."""
    from pulumi.runtime.config import CONFIG, is_config_secret

    stack = stack or pulumi.get_stack()
    config = pulumi.Config(PROJECT)
    prefix = f"{PROJECT}:"
    keys = sorted(k.removeprefix(prefix) for k in CONFIG.get() if k.startswith(prefix))
    raw, problems = decode_config({key: text for key in keys if (text := config.get(key)) is not None})
    for key in CREDENTIAL_KEYS:
        if key in keys and not is_config_secret(f"{prefix}{key}"):
            problems.append(
                Problem(
                    f"{prefix}{key}",
                    f"is a credential stored in plaintext; use `pulumi config set --secret {key}`",
                )
            )
    try:
        parsed = parse_settings(raw, stack=stack)
    except ConfigError as error:
        problems.extend(error.problems)
    if problems:
        raise ConfigError(stack, problems)
    secrets = {key: config.require_secret(key) for key in SECRET_KEYS if key in keys}
    missing = tuple(f"{prefix}{key}" for key in SECRET_KEYS if key not in keys)
    return Settings(stack=stack, config=parsed, secrets=Secrets(secrets), missing_secrets=missing)
