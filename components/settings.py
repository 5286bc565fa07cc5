"""Typed stack settings: read once from stack config, merged over per-environment defaults,
validated purely, every problem reported at once with the key, the value and what was expected.

Pydantic models give typed, frozen settings with camelCase config keys and collect every error in
one pass (cross-field checks included), which hand-written checks would have to re-implement.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, get_args, get_origin

import pulumi
from pydantic import AfterValidator, BaseModel, Field, ValidationError, ValidationInfo, field_validator

from components.addons import INGRESS_NAMESPACE, ISTIO_NAMESPACE, MONITORING_NAMESPACE
from components.app_env import SECRET_ENV
from components.app_settings import AppSettings
from components.capacity import NamespaceQuota, peak_usage
from components.cluster_settings import ClusterSettings
from components.config_types import (
    ConfigModel,
    Dns1035Label,
    LogLevel,
    LogSink,
    TextBool,
    TextInt,
)
from components.names import DerivedName, collisions, derived_names, name_problem
from components.network_settings import NetworkPolicySettings
from components.plain_text import MAX_DEPTH, plain_text_problems
from components.profiles import (
    CLUSTER_DEFAULTS,
    ENVIRONMENTS,
    QUOTA_DEFAULTS,
    WORKLOAD_DEFAULTS,
    Environment,
)
from components.report_thresholds import THRESHOLDS_KEY, ThresholdsError, parse_thresholds
from components.urls import check_base_url
from components.validation import (
    ConfigError,
    NestedProblems,
    Problem,
    check_dns_label,
    did_you_mean,
    show,
)

PROJECT: Final = "flutter-app"
DEFAULT_APP: Final = "flutter-app"
# Credentials: secret config only (`pulumi config set --secret`), never part of the plain settings.
# Read by the HealthGate provider in its own process (components/health_gate.py), never by the
# program; like every credential they must be secret.
GATE_SECRET_KEYS: Final = ("prometheusToken", "gateWebhookUrl")
SECRET_KEYS: Final[dict[str, str]] = SECRET_ENV
CREDENTIAL_KEYS: Final = (*SECRET_KEYS, *GATE_SECRET_KEYS)
# Keys whose stack value is YAML structure; the engine hands them to the program as JSON text.
_STRUCTURED_KEYS: Final = frozenset(
    {"apps", "cluster", "logSinks", "namespaceQuota", "networkPolicy", "reportThresholds"}
)
PROTECTED_ENVIRONMENTS: Final = frozenset({"staging", "production"})
"""Where what holds data (the Namespace, the app Secret) is protected from deletion and an existing
cluster must be bound by its API server."""
# Namespaces the stack must never declare (and so own, and delete with the stack): Kubernetes' own,
# and the add-ons'.
RESERVED_NAMESPACES: Final = frozenset(
    {"default", "kube-system", "kube-public", "kube-node-lease"}
    | {ISTIO_NAMESPACE, INGRESS_NAMESPACE, MONITORING_NAMESPACE}
)


def _namespace(value: str) -> str:
    if value == "":
        return value
    check_dns_label(value)
    if value in RESERVED_NAMESPACES:
        raise ValueError(
            "is a namespace of Kubernetes or of the add-ons; the stack would declare it as its own and "
            "delete it with the stack: choose another (empty means flutter-app-<environment>)"
        )
    return value


def _prometheus_url(value: str) -> str:
    hint = "give the gates a bearer token with `pulumi config set --secret flutter-app:prometheusToken`"
    return value and check_base_url(value, schemes=("http", "https"), credential_hint=hint)


def _api_base_url(value: str) -> str:
    hint = (
        "the URL goes into the flutter-app-config ConfigMap in plain text: the app's credentials are "
        "secret config (`pulumi config set --secret`)"
    )
    return check_base_url(value, schemes=("https",), credential_hint=hint)


class StackSettings(ConfigModel):
    """Everything one stack deploys, read from its config (see Pulumi.yaml for every key)."""

    environment: Environment
    namespace: Annotated[str, AfterValidator(_namespace)] = ""
    prometheus_url: Annotated[str, AfterValidator(_prometheus_url)] = ""
    api_base_url: Annotated[str, AfterValidator(_api_base_url)]
    api_timeout_seconds: Annotated[TextInt, Field(ge=1, le=300)]
    api_retries: Annotated[TextInt, Field(ge=0, le=10)]
    database_host: Annotated[str, Field(pattern=r"^[A-Za-z0-9.-]+$")]
    database_port: Annotated[TextInt, Field(ge=1, le=65535)] = 5432
    database_name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    log_level: LogLevel
    log_sinks: Annotated[list[LogSink], Field(min_length=1)]
    feature_new_ui: TextBool
    feature_beta: TextBool
    feature_analytics: TextBool
    debug_mode: TextBool
    analytics_enabled: TextBool
    cluster: ClusterSettings
    namespace_quota: NamespaceQuota
    """The namespace's ResourceQuota (defaults per environment: components/profiles.py)."""
    network_policy: NetworkPolicySettings = NetworkPolicySettings()
    """The namespace's NetworkPolicies: ingress denied except from what they admit."""
    apps: Annotated[dict[Dns1035Label, AppSettings], Field(min_length=1)]
    """Declared after environment, cluster and namespaceQuota: its checks read them."""
    report_thresholds: dict[str, Any] = Field(default_factory=dict)
    """Alert thresholds of `rollout report` (components/report_thresholds.py), checked here too."""

    @field_validator("cluster")
    @classmethod
    def _bound_where_it_matters(cls, cluster: ClusterSettings, info: ValidationInfo) -> ClusterSettings:
        environment = info.data.get("environment")
        namespace = info.data.get("namespace")
        # Compared with the namespace the stack declares, which an empty `namespace` defaults (not
        # known when `namespace` or `environment` is itself invalid: reported there).
        own = namespace or None
        if namespace == "" and environment is not None:
            own = effective_namespace(namespace, environment)
        unset = "" if namespace else f", as flutter-app:namespace is unset: {PROJECT}-<environment>"
        platform = [
            (
                ("gateway", "namespace"),
                cluster.gateway.namespace if cluster.gateway else None,
                "the Gateway's",
            ),
            (
                ("ingressController", "namespace"),
                cluster.ingress_controller.namespace,
                "the ingress controller's",
            ),
        ]
        taken = [
            (
                key,
                f"is the stack's own namespace ({own}{unset}): {whose} namespace is the platform's, and the "
                "stack would own it, delete it with the stack and default-deny it; choose another "
                "flutter-app:namespace",
            )
            for key, value, whose in platform
            if own and value == own
        ]
        if taken:
            raise NestedProblems(taken)
        if cluster.mode == "existing" and not cluster.api_server and environment in PROTECTED_ENVIRONMENTS:
            raise NestedProblems(
                [
                    (
                        ("apiServer",),
                        f"required for an existing cluster in {environment}: the API server URL this stack "
                        "deploys to (the `server` of its kubeconfig cluster), so that a KUBECONFIG pointing "
                        "at another cluster is refused instead of moving the stack's objects there",
                    )
                ]
            )
        return cluster

    @field_validator("apps")
    @classmethod
    def _apps_fit_the_cluster(
        cls, apps: dict[str, AppSettings], info: ValidationInfo
    ) -> dict[str, AppSettings]:
        environment, cluster = info.data.get("environment"), info.data.get("cluster")
        quota = info.data.get("namespace_quota")
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if environment is not None:
            routing = cluster.routing if cluster is not None else None
            derived = {
                name: derived_names(
                    name,
                    app.strategy,
                    environment,
                    routing,
                    exposed=app.exposure is not None,
                    previewed=bool(app.exposure and app.exposure.preview_hosts),
                )
                for name, app in apps.items()
            }
            for name, names in derived.items():
                # A route is named after its Service: one message per name is enough.
                unique: dict[str, DerivedName] = {}
                for each in names:
                    unique.setdefault(each.value, each)
                problems += [
                    ((name,), problem) for each in unique.values() if (problem := name_problem(each))
                ]
            problems += [((name,), problem) for name, problem in collisions(derived)]
        canaries = sorted(name for name, app in apps.items() if app.strategy == "canary")
        if canaries and cluster is not None and cluster.routing == "ingress":
            problems.append(
                (
                    (),
                    f"{', '.join(canaries)} use strategy canary, which splits traffic by weight: it needs "
                    "cluster.traffic istio (cluster.addons.istio: true or external) or gateway-api (with "
                    "cluster.gateway), not a Kubernetes Ingress",
                )
            )
        if cluster is not None:
            problems += _exposure_problems(apps, cluster)
        if quota is not None and (over := quota.exceeded(peak_usage(apps.values()))):
            problems.append(
                (
                    (),
                    f"at the peak of a release (surge and both tracks running) the apps need {', '.join(over)}, "
                    f"beyond the {environment} namespace quota ({PROJECT}:namespaceQuota): raise it, or lower "
                    "replicas or resources",
                )
            )
        if problems:
            raise NestedProblems(problems)
        return apps

    @field_validator("report_thresholds")
    @classmethod
    def _report_thresholds(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            parse_thresholds(value)
        except ThresholdsError as error:
            nested = []
            for text in error.problems:
                where, _, message = text.partition(": ")
                path = where.removeprefix(THRESHOLDS_KEY).lstrip(".")
                nested.append((tuple(path.split(".")) if path else (), message))
            raise NestedProblems(nested) from None
        return value

    @property
    def uses_istio(self) -> bool:
        """Some app is released by Istio canary: its pods need the sidecar."""
        return self.cluster.routing == "istio" and any(app.strategy == "canary" for app in self.apps.values())

    @property
    def has_istio(self) -> bool:
        """The cluster runs Istio (installed by the stack or external): a mesh the apps can be in."""
        return self.cluster.addons.istio != "none"

    @property
    def namespace_name(self) -> str:
        return effective_namespace(self.namespace, self.environment)


def effective_namespace(namespace: str, environment: str) -> str:
    """The namespace a stack declares: ``namespace``, else ``flutter-app-<environment>``."""
    return namespace or f"{PROJECT}-{environment}"


def _exposure_problems(
    apps: Mapping[str, AppSettings], cluster: ClusterSettings
) -> list[tuple[tuple[str | int, ...], str]]:
    """What an app's exposure asks of the cluster that it does not have, and a host routed twice."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    first: dict[str, str] = {}
    for name, app in apps.items():
        expose = app.expose
        routing = cluster.routing
        if expose is not None and routing != "istio" and expose.gateways is not None:
            problems.append(
                (
                    (name, "expose", "gateways"),
                    f"are Istio Gateways, and cluster.traffic is {routing}: "
                    + (
                        "the routes attach to cluster.gateway; remove gateways"
                        if routing == "gateway-api"
                        else "without Istio the app gets a Kubernetes Ingress (cluster.ingressController); remove gateways"
                    ),
                )
            )
        if expose is not None and routing != "ingress" and expose.tls_secret is not None:
            problems.append(
                (
                    (name, "expose", "tlsSecret"),
                    "is for an Ingress; with Istio or the Gateway API the Gateway terminates TLS",
                )
            )
        if app.strategy == "canary" and routing == "gateway-api" and expose is None and not app.canary.hosts:
            problems.append(
                (
                    (name, "expose"),
                    "is needed for a canary with cluster.traffic gateway-api: the HTTPRoute that splits "
                    "traffic attaches to the platform's Gateway for these hosts only",
                )
            )
        if app.canary.mirror is not None and routing == "ingress":
            problems.append(((name, "canary", "mirror"), "needs cluster.traffic istio or gateway-api"))
        exposure = app.exposure
        for host in [*exposure.hosts, *exposure.preview_hosts] if exposure else []:
            if host in first and first[host] != name:
                problems.append(
                    (
                        (name, "expose"),
                        f"routes {host}, which app {first[host]} routes too; a host reaches one app",
                    )
                )
            first.setdefault(host, name)
    return problems


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
    quota = raw.get("namespaceQuota", {})
    merged["namespaceQuota"] = (
        _deep_merge(QUOTA_DEFAULTS[environment], quota) if isinstance(quota, Mapping) else quota
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
        nested = item.get("ctx", {}).get("error")
        if isinstance(nested, NestedProblems):
            problems += [Problem(_key(loc + where), message) for where, message in nested.problems]
            continue
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
            shown = "" if isinstance(value, Mapping) else f" (got {show(value)})"
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
                problems.append(
                    Problem(f"{PROJECT}:{key}", f"expected a YAML object or list (got {show(text[:200])})")
                )
            except RecursionError:
                problems.append(Problem(f"{PROJECT}:{key}", f"nests deeper than {MAX_DEPTH} levels"))
        else:
            raw[key] = text
    return raw, problems


def _within(key: str, roots: Collection[str]) -> bool:
    return any(key == root or key.startswith((f"{root}.", f"{root}[")) for root in roots)


def validate_config(texts: Mapping[str, str], secret_keys: Collection[str], *, stack: str) -> StackSettings:
    """Every check of a stack's config in one pass: ``texts`` as the engine hands config to a
    program (keys without the project prefix), ``secret_keys`` the ones set with ``--secret``.
    Raises one ConfigError listing every problem (a key that cannot be read is named once, not
    again as missing)."""
    prefix = f"{PROJECT}:"
    fields = {field.alias for field in StackSettings.model_fields.values()}
    problems: list[Problem] = []
    unreadable: set[str] = set()
    for key in CREDENTIAL_KEYS:
        if key in texts and key not in secret_keys:
            problems.append(
                Problem(
                    f"{prefix}{key}",
                    f"is a credential stored in plaintext; use `pulumi config set --secret {key}`",
                )
            )
    for key in sorted(set(secret_keys) & fields):
        problems.append(
            Problem(
                f"{prefix}{key}",
                "is set as a secret (`secure:`), but this key is not one: its value goes into plain "
                "outputs (ConfigMap, HealthGate spec); set it with `pulumi config set` without --secret, "
                "and keep credentials out of it (README, Secrets)",
            )
        )
        unreadable.add(f"{prefix}{key}")
    plain = {key: text for key, text in texts.items() if key not in secret_keys or key not in fields}
    raw, decoding = decode_config(plain)
    problems += decoding
    unreadable |= {problem.key for problem in decoding}
    # Every plain value, whatever key holds it: no credential, no control character, nothing too
    # long. Values too long or too deep are not read further.
    generic = plain_text_problems(raw, prefix)
    if any(p.startswith(("is ", "nests ", "the plain config")) for p in generic.values()):
        raise ConfigError(stack, [*problems, *(Problem(key, text) for key, text in generic.items())])
    specific: list[Problem] = []
    try:
        settings = parse_settings(raw, stack=stack)
    except ConfigError as error:
        specific = [p for p in error.problems if not _within(p.key, unreadable)]
    # A key the settings' own checks already reported is not reported twice.
    problems += specific + [
        Problem(k, t)
        for k, t in generic.items()
        if not any(_within(p.key, {k}) or _within(k, {p.key}) for p in specific)
    ]
    if problems:
        raise ConfigError(stack, problems)
    return settings


def load(stack: str | None = None) -> Settings:
    """Read and validate this stack's config once. Raises ConfigError before anything is declared."""
    from pulumi.runtime.config import CONFIG, is_config_secret

    stack = stack or pulumi.get_stack()
    config = pulumi.Config(PROJECT)
    prefix = f"{PROJECT}:"
    keys = sorted(k.removeprefix(prefix) for k in CONFIG.get() if k.startswith(prefix))
    texts = {key: text for key in keys if (text := config.get(key)) is not None}
    secret_keys = {key for key in keys if is_config_secret(f"{prefix}{key}")}
    parsed = validate_config(texts, secret_keys, stack=stack)
    secrets = {key: config.require_secret(key) for key in SECRET_KEYS if key in keys}
    missing = tuple(f"{prefix}{key}" for key in SECRET_KEYS if key not in keys)
    return Settings(stack=stack, config=parsed, secrets=Secrets(secrets), missing_secrets=missing)
