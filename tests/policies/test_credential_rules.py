"""The policy pack flags credentials held in plain values, not only under credential-like names,
without echoing them (the detector itself, shared with the program: tests/unit/test_credentials.py)."""

from __future__ import annotations

from tests.policies.builders import (
    NAMESPACE,
    check,
    container,
    k8s,
    messages,
    pod,
    registration,
    web_app,
)

DEP = f"Deployment {NAMESPACE}/web"


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
