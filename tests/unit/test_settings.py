"""Stack settings: per-environment defaults, and bad config rejected with every problem named
(key, value, what was expected). Pure: no Pulumi runtime."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from components.settings import parse_settings
from components.validation import ConfigError

BASE: dict[str, Any] = {
    "environment": "production",
    "apiBaseUrl": "https://api.example.com",
    "apiTimeoutSeconds": "10",
    "apiRetries": "2",
    "databaseHost": "prod-db.example.com",
    "databasePort": "5432",
    "databaseName": "flutter_app_prod",
    "logLevel": "error",
    "logSinks": ["file"],
    "featureNewUi": "false",
    "featureBeta": "false",
    "featureAnalytics": "true",
    "debugMode": "false",
    "analyticsEnabled": "true",
    "apps": {"flutter-app": {"image": "ghcr.io/example/flutter-app:1.4.2"}},
}


def app(**changes: Any) -> Callable[[dict[str, Any]], None]:
    def change(raw: dict[str, Any]) -> None:
        raw["apps"]["flutter-app"].update(changes)

    return change


def top(**changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda raw: raw.update(changes)


def drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda raw: raw.pop(key)


def problems_for(change: Callable[[dict[str, Any]], None]) -> str:
    raw = copy.deepcopy(BASE)
    change(raw)
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, stack="production")
    return str(caught.value)


def test_production_defaults_are_the_guides() -> None:
    settings = parse_settings(copy.deepcopy(BASE), stack="production")
    web = settings.apps["flutter-app"]
    assert (web.replicas, web.max_surge, web.max_unavailable) == (6, 2, 1)
    assert (web.resources.requests.memory, web.resources.requests.cpu) == ("256Mi", "250m")
    assert (web.resources.limits.memory, web.resources.limits.cpu) == ("512Mi", "500m")
    assert (web.container_port, web.service_port) == (8080, 80)
    assert (web.liveness.path, web.liveness.initial_delay_seconds, web.liveness.period_seconds) == (
        "/health",
        30,
        10,
    )
    assert (web.readiness.path, web.readiness.initial_delay_seconds, web.readiness.period_seconds) == (
        "/ready",
        5,
        5,
    )
    assert web.strategy == "blue-green"
    assert settings.namespace_name == "flutter-app-production"


def test_dev_defaults_are_smaller_and_explicit_values_win() -> None:
    raw = copy.deepcopy(BASE) | {"environment": "dev"}
    raw["apps"]["flutter-app"]["resources"] = {"limits": {"cpu": "1"}}
    web = parse_settings(raw, stack="dev").apps["flutter-app"]
    assert web.replicas == 1
    assert web.resources.requests.cpu == "100m"
    assert web.resources.limits.cpu == "1"
    assert web.resources.limits.memory == "256Mi"


def test_default_app_when_apps_is_absent_still_needs_an_image() -> None:
    message = problems_for(drop("apps"))
    assert "flutter-app:apps.flutter-app.image: required but not set" in message


BAD_CONFIGS = [
    ("unknown environment", top(environment="prod"), "flutter-app:environment", '"prod"'),
    ("environment missing", drop("environment"), "flutter-app:environment", "required but not set"),
    ("timeout not a number", top(apiTimeoutSeconds="ten"), "flutter-app:apiTimeoutSeconds", '"ten"'),
    (
        "timeout zero",
        top(apiTimeoutSeconds="0"),
        "flutter-app:apiTimeoutSeconds",
        "greater than or equal to 1",
    ),
    ("negative retries", top(apiRetries="-1"), "flutter-app:apiRetries", '(got "-1")'),
    ("plain http api", top(apiBaseUrl="http://api.example.com"), "flutter-app:apiBaseUrl", "https"),
    ("port out of range", top(databasePort="70000"), "flutter-app:databasePort", "70000"),
    ("bad log level", top(logLevel="verbose"), "flutter-app:logLevel", '"verbose"'),
    ("bad log sink", top(logSinks=["file", "syslog"]), "flutter-app:logSinks[1]", '"syslog"'),
    ("no log sink", top(logSinks=[]), "flutter-app:logSinks", "at least 1"),
    ("flag not a bool", top(featureBeta="maybe"), "flutter-app:featureBeta", '"maybe"'),
    ("top-level typo", top(apiRetrys="2"), "flutter-app:apiRetrys", "did you mean 'apiRetries'"),
    ("app typo", app(replcas=3), "flutter-app:apps.flutter-app.replcas", "did you mean 'replicas'"),
    ("zero replicas", app(replicas=0), "flutter-app:apps.flutter-app.replicas", "(got 0)"),
    ("replicas a string", app(replicas="six"), "flutter-app:apps.flutter-app.replicas", '"six"'),
    ("unknown strategy", app(strategy="bluegreen"), "flutter-app:apps.flutter-app.strategy", "'blue-green'"),
    (
        "image without tag",
        app(image="ghcr.io/example/flutter-app"),
        "flutter-app:apps.flutter-app.image",
        "no tag",
    ),
    (
        "malformed image",
        app(image="Ghcr.io/Example/App:1"),
        "flutter-app:apps.flutter-app.image",
        "REPOSITORY:TAG",
    ),
    ("container port zero", app(containerPort=0), "flutter-app:apps.flutter-app.containerPort", "(got 0)"),
    (
        "bad quantity",
        app(resources={"requests": {"memory": "256MB"}}),
        "flutter-app:apps.flutter-app.resources.requests.memory",
        "Kubernetes quantity",
    ),
    (
        "limit below request",
        app(resources={"requests": {"cpu": "2"}}),
        "flutter-app:apps.flutter-app.resources.limits.cpu",
        "500m is below requests.cpu 2",
    ),
    (
        "probe path",
        app(liveness={"path": "health"}),
        "flutter-app:apps.flutter-app.liveness.path",
        '"health"',
    ),
    (
        "rollout cannot progress",
        app(maxSurge=0, maxUnavailable=0),
        "flutter-app:apps.flutter-app.maxUnavailable",
        "may not be 0 when maxSurge is 0",
    ),
    ("bad surge", app(maxSurge="lots"), "flutter-app:apps.flutter-app.maxSurge", '"lots"'),
    (
        "autoscaling min above max",
        app(autoscaling={"minReplicas": 5, "maxReplicas": 2}),
        "flutter-app:apps.flutter-app.autoscaling",
        "minReplicas 5 is above maxReplicas 2",
    ),
    (
        "credential in env",
        app(env={"DB_PASSWORD": "hunter2"}),
        "flutter-app:apps.flutter-app.env.DB_PASSWORD",
        "looks like a credential",
    ),
    ("bad env name", app(env={"1ABC": "x"}), "flutter-app:apps.flutter-app.env.1ABC", "not a valid"),
    (
        "feature flag not bool",
        app(featureFlags={"dark_mode": "on"}),
        "flutter-app:apps.flutter-app.featureFlags.dark_mode",
        '"on"',
    ),
    (
        "bad app name",
        lambda raw: raw["apps"].update({"Web_App": {"image": "a:1"}}),
        "flutter-app:apps.Web_App",
        "RFC 1035",
    ),
    ("apps not an object", top(apps=["flutter-app"]), "flutter-app:apps", "valid dictionary"),
    ("no apps", top(apps={}), "flutter-app:apps", "at least 1"),
    ("bad namespace", top(namespace="Flutter App"), "flutter-app:namespace", '"Flutter App"'),
]


@pytest.mark.parametrize(("case", "change", "key", "fragment"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_names_the_key_and_what_was_wrong(
    case: str, change: Callable[[dict[str, Any]], None], key: str, fragment: str
) -> None:
    message = problems_for(change)
    line = next((ln for ln in message.splitlines() if ln.strip().startswith(f"- {key}:")), None)
    assert line is not None, f"{case}: no problem for {key} in:\n{message}"
    assert fragment in line, f"{case}: {fragment!r} not in {line!r}"


def test_every_problem_is_listed_at_once() -> None:
    def many(raw: dict[str, Any]) -> None:
        raw.update(environment="prod", apiRetries="-1", logLevel="loud")
        raw["apps"]["flutter-app"].update(replicas=0, image="nope")

    error_text = problems_for(many)
    assert "(5 problems)" in error_text
    for key in (
        "environment",
        "apiRetries",
        "logLevel",
        "apps.flutter-app.replicas",
        "apps.flutter-app.image",
    ):
        assert f"flutter-app:{key}:" in error_text


@pytest.mark.parametrize("environment", ["dev", "test", "staging", "production"])
def test_every_environments_defaults_fit_its_quota_at_the_peak_of_a_release(environment: str) -> None:
    from components.capacity import peak_usage

    raw = copy.deepcopy(BASE) | {"environment": environment}
    if environment in ("dev", "test"):
        raw["cluster"] = {"addons": {"istio": environment == "test"}}
    settings = parse_settings(raw, stack=environment)
    usage = peak_usage(settings.apps.values())
    assert settings.namespace_quota.exceeded(usage) == []
    assert all(used > 0 for used in usage.values())


def test_staging_canary_peak_counts_the_sidecar() -> None:
    from components.capacity import peak_usage

    raw = copy.deepcopy(BASE) | {"environment": "staging"}
    usage = peak_usage(parse_settings(raw, stack="staging").apps.values())
    # 3 stable + 1 canary + 1 surge pods, each 500m for the app and 500m for the Istio sidecar.
    assert usage["pods"] == 5 and usage["limits.cpu"] == 5


def test_apps_beyond_the_namespace_quota_are_refused_naming_the_key() -> None:
    message = problems_for(app(replicas=30))
    line = next(ln for ln in message.splitlines() if ln.strip().startswith("- flutter-app:apps:"))
    # blue/green at 30 replicas: 2 x 30 + 2 surge pods of 500m each
    assert "pods 62 > 60" in line and "limits.cpu 31 > 16" in line and "production namespace quota" in line


def _crd_section_name() -> dict[str, Any]:
    """The SectionName schema of HTTPRoute v1 spec.parentRefs in the Gateway API v1.4.1 standard
    CRDs (tests/data, from sigs.k8s.io/gateway-api config/crd/standard)."""
    import yaml

    from tests.support.schemas import GATEWAY_API_CRDS

    for crd in yaml.safe_load_all(GATEWAY_API_CRDS.read_text()):
        if crd and crd["spec"]["names"]["kind"] == "HTTPRoute":
            (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
            spec = v1["schema"]["openAPIV3Schema"]["properties"]["spec"]
            return dict(spec["properties"]["parentRefs"]["items"]["properties"]["sectionName"])
    raise AssertionError("no HTTPRoute CRD")


@pytest.mark.parametrize(
    "value",
    [
        "https",
        "a",
        "0",
        "a-b",
        "a.b",
        "web.https-1",
        "a" * 253,
        "a" * 254,
        "a..b",
        ".a",
        "a.",
        "-a",
        "a-",
        "A",
        "a_b",
        "a b",
        "",
        "a.-b",
        "é",
    ],
)
def test_section_name_is_the_crds_section_name(value: str) -> None:
    import re

    schema = _crd_section_name()
    crd_accepts = (
        schema["minLength"] <= len(value) <= schema["maxLength"]
        and re.search(schema["pattern"], value) is not None
    )
    gateway = {"name": "public", "namespace": "gateway-system", "sectionName": value}

    def change(raw: dict[str, Any]) -> None:
        raw["cluster"] = {"traffic": "gateway-api", "gateway": gateway}

    raw = copy.deepcopy(BASE)
    change(raw)
    if crd_accepts:
        assert parse_settings(raw, stack="production").cluster.gateway is not None
    else:
        assert "flutter-app:cluster.gateway.sectionName:" in problems_for(change)


def test_the_stacks_namespace_is_compared_with_the_platforms_as_it_defaults() -> None:
    # Unset namespace: flutter-app-<environment>, so in production flutter-app-production.
    message = problems_for(top(cluster={"ingressController": {"namespace": "flutter-app-production"}}))
    assert "flutter-app:cluster.ingressController.namespace: is the stack's own namespace" in message
    message = problems_for(
        top(
            namespace="web",
            cluster={"traffic": "gateway-api", "gateway": {"name": "public", "namespace": "web"}},
        )
    )
    assert "flutter-app:cluster.gateway.namespace: is the stack's own namespace (web):" in message
    # Another namespace than the stack's is the platform's business.
    raw = copy.deepcopy(BASE)
    raw["cluster"] = {"traffic": "gateway-api", "gateway": {"name": "public", "namespace": "flutter-app-dev"}}
    assert parse_settings(raw, stack="production").namespace_name == "flutter-app-production"


def test_each_cluster_problem_names_its_own_key() -> None:
    message = problems_for(top(cluster={"traffic": "gateway-api"}))
    assert "- flutter-app:cluster.gateway: required with traffic gateway-api" in message
    message = problems_for(top(cluster={"apiServer": "https://10.0.0.1"}))
    assert "- flutter-app:cluster.apiServer: binds an existing cluster; mode eks" in message
    message = problems_for(top(cluster={"mode": "existing", "caSha256": "a" * 64}))
    assert "- flutter-app:cluster.caSha256: caSha256 is given without apiServer" in message
    message = problems_for(top(cluster={"network": {"cidr": "10.0.0.0/24"}}))
    assert "- flutter-app:cluster.network.cidr: 10.0.0.0/24 is too small" in message
    message = problems_for(top(cluster={"network": {"privateSubnetIds": ["subnet-0123456789abcdef0"]}}))
    assert "- flutter-app:cluster.network.vpcId: required: subnet ids are given without vpcId" in message
