"""Typed stack settings: read once from stack config, merged over per-environment defaults,
validated purely, every problem reported at once with the key, the value and what was expected.

Pydantic models give typed, frozen settings with camelCase config keys and collect every error in
one pass (cross-field checks included), which hand-written checks would have to re-implement.
"""

from __future__ import annotations

import copy
import ipaddress
import itertools
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Final, Literal, get_args, get_origin

import pulumi
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components.profiles import (
    CLUSTER_DEFAULTS,
    ENVIRONMENTS,
    QUOTAS,
    SIDECAR_RESOURCES,
    WORKLOAD_DEFAULTS,
    Environment,
)
from components.validation import (
    CREDENTIAL_NAME,
    ConfigError,
    Problem,
    check_dns_label,
    did_you_mean,
    parse_image,
    parse_quantity,
)

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
# Keys whose stack value is YAML structure; the engine hands them to the program as JSON text.
_STRUCTURED_KEYS: Final = frozenset({"apps", "cluster", "logSinks", "reportThresholds"})

Strategy = Literal["rolling", "blue-green", "canary"]
LogLevel = Literal["debug", "info", "warning", "error"]
LogSink = Literal["console", "file"]
Port = Annotated[int, Field(ge=1, le=65535)]
DnsLabel = Annotated[str, AfterValidator(check_dns_label)]


def _quantity(value: str) -> str:
    parse_quantity(value)
    return value


Quantity = Annotated[str, AfterValidator(_quantity)]


# maxSurge / maxUnavailable: a pod count or a percentage, as the Deployment API takes them.
def _int_or_percent(value: int | str) -> int | str:
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,3}%", value):
        return value
    raise ValueError("expected a pod count (0 or more) or a percentage such as 25%")


IntOrPercent = Annotated[int | str, AfterValidator(_int_or_percent)]


def _bool(value: object) -> object:
    # As pulumi.Config.get_bool reads them: only true and false, never "yes", "on" or 1.
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ValueError("expected true or false")


Bool = Annotated[bool, BeforeValidator(_bool)]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True, strict=False
    )


class Compute(_Model):
    """CPU and memory for one side (requests or limits)."""

    cpu: Quantity
    memory: Quantity


class Resources(_Model):
    """Container resources; limits must not be below requests."""

    requests: Compute
    limits: Compute

    @model_validator(mode="after")
    def _limits_cover_requests(self) -> Resources:
        for kind in ("cpu", "memory"):
            request, limit = getattr(self.requests, kind), getattr(self.limits, kind)
            if parse_quantity(limit) < parse_quantity(request):
                raise ValueError(f"limits.{kind} {limit} is below requests.{kind} {request}")
        return self


class Probe(_Model):
    """An HTTP GET probe on the container port."""

    path: Annotated[str, Field(pattern=r"^/\S*$")]
    initial_delay_seconds: Annotated[int, Field(ge=0)] = 0
    period_seconds: Annotated[int, Field(ge=1)] = 10
    timeout_seconds: Annotated[int, Field(ge=1)] = 1
    failure_threshold: Annotated[int, Field(ge=1)] = 3


class Autoscaling(_Model):
    """HorizontalPodAutoscaler on CPU utilisation."""

    min_replicas: Annotated[int, Field(ge=1)]
    max_replicas: Annotated[int, Field(ge=1)]
    target_cpu_percent: Annotated[int, Field(ge=1, le=100)] = 70

    @model_validator(mode="after")
    def _min_not_above_max(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"minReplicas {self.min_replicas} is above maxReplicas {self.max_replicas}")
        return self


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check_env_names(names: list[str]) -> None:
    invalid = [n for n in names if not _ENV_NAME.match(n)]
    credentials = [n for n in names if CREDENTIAL_NAME.search(n)]
    if invalid:
        raise ValueError(f"not valid environment variable names (A-Z, 0-9, '_'): {', '.join(invalid)}")
    if credentials:
        raise ValueError(
            f"{', '.join(credentials)} look like credentials; credentials are secret config only "
            "(`pulumi config set --secret`), never plain values"
        )


Colour = Literal["blue", "green"]


def _image(value: str | None) -> str | None:
    if value is not None:
        parse_image(value)
    return value


Image = Annotated[str, AfterValidator(_image)]


class BlueGreen(_Model):
    """Blue/green: which colour is live, and each colour's image (default: the app's ``image``)."""

    active: Colour = "blue"
    blue_image: Image | None = None
    green_image: Image | None = None
    scale_down_idle: Bool = False
    """Run the idle colour at zero replicas (once a release is confirmed)."""

    @property
    def idle(self) -> Colour:
        return "green" if self.active == "blue" else "blue"


def _steps(value: list[int]) -> list[int]:
    if any(b <= a for a, b in itertools.pairwise(value)) or value[-1] != 100:
        raise ValueError(f"expected increasing weights ending at 100 (got {value})")
    return value


class Canary(_Model):
    """Istio canary: the canary image, its current traffic weight, and routing."""

    weight: Annotated[int, Field(ge=0, le=100)] = 0
    """Percent of requests (without the canary header) sent to the canary."""
    image: Image | None = None
    """Image under test; unset means no canary is running (no canary pods, no header route)."""
    replicas: Annotated[int, Field(ge=1, le=100)] = 1
    steps: Annotated[
        list[Annotated[int, Field(ge=1, le=100)]], Field(min_length=1), AfterValidator(_steps)
    ] = [
        5,
        25,
        50,
        100,
    ]
    """Weights `rollout release` walks through, a gate after each."""
    hosts: list[Annotated[str, Field(pattern=r"^(\*\.)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]] = Field(
        default_factory=list
    )
    """External hosts routed through ``gateways`` (the in-mesh Service host is always routed)."""
    gateways: list[Annotated[str, Field(pattern=r"^[a-z0-9-]+/[a-z0-9-]+$")]] = Field(default_factory=list)
    """Istio Gateways as namespace/name."""


HttpUrl = Annotated[str, Field(pattern=r"^https?://[^\s/]+(/\S*)?$")]


class GateSettings(_Model):
    """The health gates `pulumi up` runs for an app (see README "Health gates").

    Probes need a URL reachable from where `pulumi up` runs; Prometheus checks need the stack's
    ``prometheusUrl``. With neither, no gate is declared (and render says so)."""

    url: HttpUrl | None = None
    """Live URL of the app, probed after each release step (canary: with header canary: "true")."""
    preview_url: HttpUrl | None = None
    """Blue/green: URL of the preview Service (the idle colour), probed before the switch."""
    probe_path: Annotated[str, Field(pattern=r"^/\S*$")] = "/health"
    spec: dict[str, Any] = Field(default_factory=dict)
    """Overrides of the gate spec (interval, duration, failure_limit, inconclusive_limit,
    on_no_data, name, notify): the same fields as a `rollout gate` spec file."""

    @field_validator("spec")
    @classmethod
    def _spec(cls, value: dict[str, Any]) -> dict[str, Any]:
        from gates.spec import SpecError, parse_spec

        generated = {"probes", "prometheus", "checks"} & set(value)
        if generated:
            raise ValueError(
                f"{', '.join(sorted(generated))} are built from the app; set url / prometheusUrl"
            )
        try:
            parse_spec({**value, "probes": [{"url": "http://127.0.0.1/"}]})
        except SpecError as error:
            raise ValueError("; ".join(str(p) for p in error.problems)) from None
        return value


class AppSettings(_Model):
    """One deployed app: image, sizing, probes and release strategy."""

    image: str
    replicas: Annotated[int, Field(ge=1, le=100)]
    container_port: Port
    service_port: Port
    max_surge: IntOrPercent
    max_unavailable: IntOrPercent
    resources: Resources
    liveness: Probe
    readiness: Probe
    strategy: Strategy = "rolling"
    env: dict[str, str] = Field(default_factory=dict)
    feature_flags: dict[str, Bool] = Field(default_factory=dict)
    autoscaling: Autoscaling | None = None
    blue_green: BlueGreen = BlueGreen()
    canary: Canary = Canary()
    gate: GateSettings = GateSettings()

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        parse_image(value)
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        _check_env_names(list(value))
        return value

    @field_validator("feature_flags")
    @classmethod
    def _flags(cls, value: dict[str, bool]) -> dict[str, bool]:
        _check_env_names([name.upper() for name in value])
        return value

    @model_validator(mode="after")
    def _rollout_can_progress(self) -> AppSettings:
        if self.max_surge in (0, "0%") and self.max_unavailable in (0, "0%"):
            raise ValueError("maxSurge and maxUnavailable are both 0: a rolling update could never progress")
        if self.autoscaling and not (
            self.autoscaling.min_replicas <= self.replicas <= self.autoscaling.max_replicas
        ):
            raise ValueError(
                f"replicas {self.replicas} is outside autoscaling "
                f"{self.autoscaling.min_replicas}..{self.autoscaling.max_replicas}"
            )
        if self.autoscaling and self.strategy != "rolling":
            raise ValueError(
                f"autoscaling is supported with strategy rolling only (strategy is {self.strategy})"
            )
        for section, strategy in (("blue_green", "blue-green"), ("canary", "canary")):
            if section in self.model_fields_set and self.strategy != strategy:
                raise ValueError(
                    f"{to_camel(section)} is set but strategy is {self.strategy}, not {strategy}"
                )
        if self.canary.weight and not self.canary_running:
            raise ValueError(f"canary.weight is {self.canary.weight} but no canary.image is set")
        return self

    @property
    def canary_running(self) -> bool:
        """A canary is deployed (from its first step until promotion removes ``canary.image``;
        during promotion it may equal ``image`` while it still serves traffic)."""
        return self.canary.image is not None

    def colour_image(self, colour: Colour) -> str:
        """The image a blue/green colour runs."""
        return (self.blue_green.blue_image if colour == "blue" else self.blue_green.green_image) or self.image


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value)
    except ValueError:
        raise ValueError(f"expected an IPv4/IPv6 CIDR such as 10.0.0.0/16 (got {value!r})") from None
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]
SemVer = Annotated[str, Field(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")]


class NodeGroup(_Model):
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


class Network(_Model):
    """A new VPC across three availability zones, or an existing VPC and its subnets."""

    cidr: Cidr = "10.0.0.0/16"
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
            raise ValueError(
                "an existing vpcId needs privateSubnetIds (2 or more, in different zones) and publicSubnetIds"
            )
        if not self.vpc_id and (self.public_subnet_ids or self.private_subnet_ids):
            raise ValueError("subnet ids are given without vpcId")
        if not self.vpc_id and ipaddress.ip_network(self.cidr).prefixlen > 20:
            raise ValueError(
                f"cidr {self.cidr} is too small for six /{ipaddress.ip_network(self.cidr).prefixlen + 3} subnets; use /20 or larger"
            )
        return self


class Addons(_Model):
    """Platform add-ons installed with Helm, chart versions pinned."""

    istio: Bool
    istio_version: SemVer = "1.27.3"
    monitoring: Bool
    monitoring_version: SemVer = "81.6.2"
    """kube-prometheus-stack chart version (Prometheus, kube-state-metrics, Grafana)."""
    ingress_tls_secret: DnsLabel = "flutter-app-tls"
    """kubernetes.io/tls Secret in istio-ingress with the public certificate (e.g. from cert-manager)."""


class ClusterSettings(_Model):
    """Where the stack deploys: a new EKS cluster, or an existing cluster by kubeconfig context."""

    mode: Literal["eks", "existing"]
    kube_context: str = ""
    """existing: kubeconfig context (empty: the current context)."""
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")] = "eu-west-1"
    kubernetes_version: Annotated[str, Field(pattern=r"^1\.[0-9]{2}$")] = "1.34"
    endpoint_public_access: Bool = True
    public_access_cidrs: list[Cidr] = Field(default_factory=lambda: ["0.0.0.0/0"])
    network: Network = Network()
    node_groups: dict[DnsLabel, NodeGroup] = Field(default_factory=dict)
    ecr_repository: DnsLabel = "flutter-app"
    addons: Addons

    @model_validator(mode="after")
    def _eks_has_nodes(self) -> ClusterSettings:
        if self.mode == "eks" and not self.node_groups:
            raise ValueError("mode eks needs at least one entry in nodeGroups")
        return self


class StackSettings(_Model):
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
        if canaries and cluster is not None and not cluster.addons.istio:
            raise ValueError(
                f"{', '.join(canaries)} use strategy canary, which needs cluster.addons.istio: true"
            )
        if environment in QUOTAS:
            quota = QUOTAS[environment]
            over = [
                f"{key} {_fmt(used)} > {quota[key]}"
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


def _fmt(value: Decimal) -> str:
    if value >= 2**30 and value % 2**20 == 0:
        return f"{value / 2**30:.4g}Gi"
    return f"{value.normalize():f}"


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


def _read_raw(config: pulumi.Config, keys: list[str]) -> tuple[dict[str, Any], list[Problem]]:
    raw: dict[str, Any] = {}
    problems: list[Problem] = []
    for key in keys:
        text = config.get(key)
        if text is None:
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
    credentials = (*SECRET_KEYS, *GATE_SECRET_KEYS)
    raw, problems = _read_raw(config, [k for k in keys if k not in credentials])
    for key in credentials:
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
