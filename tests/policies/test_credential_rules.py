"""The program (components/credentials.py) and the policy pack (flutter_app_policies.common, its
own copy: the pack cannot import the program) classify every name and value alike, and the pack
flags credentials held in plain values, not only under credential-like names."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

import pytest

from components import credentials
from tests.policies.builders import (
    NAMESPACE,
    PACK,
    check,
    container,
    k8s,
    messages,
    pod,
    registration,
    web_app,
)

NAMES = [
    *("DATABASE_PASSWORD", "dbPasswd", "DB_PWD", "DB_PASS", "apiKey", "FIREBASE_API_KEY", "client_secret"),
    *("GITHUB_TOKEN", "privateKey", "AWS_ACCESS_KEY_ID", "credentials.json", "SIGNING_KEY", "ENCRYPTION_KEY"),
    *("SENTRY_DSN", "BEARER", "KEY", "API_BASE_URL", "SECRET_NAME", "PASSWORD_FILE", "TOKEN_URL"),
    *("COMPASS_HEADING", "LOG_LEVEL", "KEYBOARD_LAYOUT", "MONKEY", "APP_NAME", ""),
]
DEP = f"Deployment {NAMESPACE}/web"
VALUES = [
    "postgres://app:hunter2@db.example.com/app",
    "https://abc123@o1.ingest.example.com/2",
    "https://ops@example.com/x",
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
    "AKIAABCDEFGHIJKLMNOP",
    "ghp_" + "a" * 36,
    "xoxb-1234567890-abc",
    "AIza" + "b" * 35,
    "sk_live_" + "c" * 24,
    "https://maps.example.com/api?v=3&key=abc",
    "Server=db;Password=x;",
    "ops@example.com",
    "https://app.example.com/base?x=1",
    "json",
    "mailto:ops@example.com",
    "keyboard=us",
]


@pytest.fixture(scope="module")
def pack_rules() -> ModuleType:
    sys.path.insert(0, str(PACK))
    try:
        return importlib.import_module("flutter_app_policies.common")
    finally:
        sys.path.remove(str(PACK))


@pytest.mark.parametrize("name", NAMES)
def test_names_are_classified_alike(pack_rules: ModuleType, name: str) -> None:
    assert pack_rules.looks_like_credential(name) == credentials.looks_like_credential(name)


@pytest.mark.parametrize("value", VALUES)
def test_values_are_classified_alike(pack_rules: ModuleType, value: str) -> None:
    assert pack_rules.credential_in_value(value) == credentials.credential_in_value(value)


def test_the_tables_hold_both_credentials_and_not() -> None:
    assert {credentials.looks_like_credential(n) for n in NAMES} == {True, False}
    assert {credentials.credential_in_value(v) is None for v in VALUES} == {True, False}


def test_redaction_hides_what_is_found() -> None:
    for value in VALUES:
        if credentials.credential_in_value(value):
            assert credentials.credential_in_value(
                credentials.redact(value)
            ) is None or "[redacted]" in credentials.redact(value)
    assert credentials.redact("postgres://app:hunter2@db/app") == "postgres://[redacted]@db/app"
    assert "hunter2" not in credentials.redact("https://x/?password=hunter2&a=1")


def test_credentials_in_plain_values_are_violations_without_echoing_them() -> None:
    config_map = k8s(
        "ConfigMap", "app-config", data={"DATABASE_URL": "postgres://app:hunter2@db/app", "LOG": "json"}
    )
    env = [
        {"name": "ERRORS", "value": "https://abc123@o1.ingest.example.com/2"},
        {"name": "MODE", "value": "fast"},
    ]
    violations = check([config_map, *web_app(pod_spec=pod([container(env=env)]))])
    found = messages(violations, "no-plaintext-credentials")
    assert found == [
        f"ConfigMap {NAMESPACE}/app-config: data key DATABASE_URL holds user info in a URL "
        "(scheme://user:password@host); keep it in a Secret",
        f"{DEP}: containers[0] (web) env[0] ERRORS holds user info in a URL (scheme://user:password@host) in a "
        "plain value; take it from a Secret (valueFrom.secretKeyRef)",
    ]
    assert not any("hunter2" in m or "abc123" in m for m in found)


def test_a_health_gate_spec_with_a_credential_is_a_violation() -> None:
    gate = registration(
        "pulumi-python:dynamic/gates:HealthGate",
        "web-live-gate",
        {"spec": {"probes": [{"url": "https://ops:hunter2@app.example.com/health"}], "name": "web"}},
    )
    clean_gate = registration(
        "pulumi-python:dynamic/gates:HealthGate",
        "web-preview-gate",
        {"spec": {"probes": [{"url": "https://app.example.com/health"}]}},
    )
    assert messages(check([gate, clean_gate]), "no-plaintext-credentials") == [
        "HealthGate web-live-gate: spec.probes[0].url holds user info in a URL (scheme://user:password@host), "
        "stored in plain text"
    ]
