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
