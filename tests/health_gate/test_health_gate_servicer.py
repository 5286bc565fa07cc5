"""The HealthGate dynamic provider through the SDK's own servicer over gRPC, as `pulumi up` runs it:
Configure (secret stack config), Check, Create, Diff, Update, and the error a failed gate gives.
Gates probe the real test app and query a scripted Prometheus on 127.0.0.1."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from pulumi.runtime import proto

from components.health_gate import HealthGateProvider
from tests.health_gate.harness import ProviderProcess, from_struct, secret, serialize
from tests.support.app import FaultyApp, Received, ScriptedServer, prometheus_answer

TOKEN = "prom-token-7d1c0ffee"
HOOK_SECRET = "T000/B000/hook-secret-4242"

Start = Callable[[Callable[[Received], tuple[int, bytes]]], ScriptedServer]


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[ProviderProcess]:
    process = ProviderProcess(tmp_path / "provider.log")
    yield process
    process.stop()


@pytest.fixture
def prom(scripted: Start) -> ScriptedServer:
    """A Prometheus answering 0.001 to every query (its answer can be changed by tests)."""
    return scripted(lambda _request: (200, prometheus_answer("0.001")))


@pytest.fixture
def hook(scripted: Start) -> ScriptedServer:
    return scripted(lambda _request: (200, b"ok"))


def spec_for(app: FaultyApp, prom: ScriptedServer, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "release-gate",
        # The scripted Prometheus answers one ratio to every query: the threshold mode's premise.
        "mode": "threshold",
        "interval": 0.2,
        "duration": 0.4,
        "failure_limit": 2,
        "probes": [{"url": f"{app.url}/health", "timeout": 2, "max_response_time": 1}],
        "prometheus": {"url": prom.url, "timeout": 2},
        "checks": [
            {"name": "error-rate", "template": "error-rate", "params": {"job": "flutter-app"}, "max": 0.05}
        ],
        "notify": {"kind": "slack"},
        **overrides,
    }


def configure(provider: ProviderProcess, hook: ScriptedServer) -> Any:
    return provider.configure(
        {
            "flutter-app:environment": "staging",
            "flutter-app:prometheusToken": secret(TOKEN),
            "flutter-app:gateWebhookUrl": secret(f"{hook.url}/services/{HOOK_SECRET}"),
        }
    )


def no_secret_in(text: str) -> None:
    assert TOKEN not in text
    assert HOOK_SECRET not in text


def test_create_passes_with_credentials_from_config_and_no_secret_in_outputs(
    provider: ProviderProcess, app: FaultyApp, prom: ScriptedServer, hook: ScriptedServer
) -> None:
    assert configure(provider, hook).acceptSecrets is False
    ser = serialize(HealthGateProvider())
    assert TOKEN.encode() not in base64.b64decode(ser)
    inputs = {"spec": spec_for(app, prom), "trigger": {"image": "app:1.0"}, "__provider": ser}

    checked = provider.check(inputs)
    assert list(checked.failures) == []

    created = provider.create(inputs)
    outputs = from_struct(created.properties)
    assert outputs["verdict"] == "pass"
    assert outputs["summary"].startswith("passed: 3 of 3 evaluations passed")
    assert outputs["trigger"] == {"image": "app:1.0"}
    assert created.id.startswith("gate-")
    no_secret_in(json.dumps(outputs))
    # The token from secret config reached Prometheus; the webhook got the verdict.
    assert {r.headers.get("Authorization") for r in prom.received} == {f"Bearer {TOKEN}"}
    assert hook.received[-1].path == f"/services/{HOOK_SECRET}"
    assert "health gate *release-gate* verdict: *pass*" in hook.received[-1].json()["text"]
    no_secret_in(provider.log_path.read_text())


def test_diff_reports_changes_only_for_trigger_or_spec(
    provider: ProviderProcess, app: FaultyApp, prom: ScriptedServer, hook: ScriptedServer
) -> None:
    configure(provider, hook)
    inputs = {
        "spec": spec_for(app, prom),
        "trigger": "app:1.0",
        "__provider": serialize(HealthGateProvider()),
    }
    created = provider.create(inputs)

    same = provider.diff(created.id, created.properties, inputs, inputs)
    assert same.changes == proto.DiffResponse.DIFF_NONE

    new_trigger = {**inputs, "trigger": "app:1.1"}
    changed = provider.diff(created.id, created.properties, inputs, new_trigger)
    assert changed.changes == proto.DiffResponse.DIFF_SOME
    assert list(changed.replaces) == []

    new_spec = {**inputs, "spec": spec_for(app, prom, failure_limit=3)}
    assert (
        provider.diff(created.id, created.properties, inputs, new_spec).changes
        == proto.DiffResponse.DIFF_SOME
    )

    updated = provider.update(created.id, created.properties, new_trigger)
    outputs = from_struct(updated.properties)
    assert (outputs["verdict"], outputs["trigger"]) == ("pass", "app:1.1")
    assert outputs["__provider"] == inputs["__provider"]
    after = provider.diff(created.id, updated.properties, new_trigger, new_trigger)
    assert after.changes == proto.DiffResponse.DIFF_NONE


def test_failed_check_fails_create_with_check_value_and_limit(
    provider: ProviderProcess, app: FaultyApp, scripted: Start, hook: ScriptedServer
) -> None:
    bad_prom = scripted(lambda _request: (200, prometheus_answer("0.3")))
    configure(provider, hook)
    inputs = {
        "spec": spec_for(app, bad_prom),
        "trigger": "app:2.0",
        "__provider": serialize(HealthGateProvider()),
    }
    with pytest.raises(grpc.RpcError) as raised:
        provider.create(inputs)
    error: Any = raised.value
    assert error.code() == grpc.StatusCode.UNKNOWN
    details: str = error.details()
    # What `pulumi up` prints after "error: ": the verdict, then the evaluations, no frames.
    first, *evaluations = details.splitlines()
    assert first == (
        "components.health_gate.GateFailedError: health gate 'release-gate' fail: check error-rate: "
        "0.3 > max 0.05; 2 consecutive failed evaluations (failure_limit 2)"
    )
    assert "Traceback" not in details and 'File "' not in details
    assert evaluations[0].startswith("  2 evaluations from ")
    assert all(line.startswith("  evaluation ") for line in evaluations[1:])
    no_secret_in(details)
    no_secret_in(provider.log_path.read_text())


def test_failed_probe_fails_update(
    provider: ProviderProcess, app: FaultyApp, prom: ScriptedServer, hook: ScriptedServer
) -> None:
    configure(provider, hook)
    inputs = {
        "spec": spec_for(app, prom),
        "trigger": "app:1.0",
        "__provider": serialize(HealthGateProvider()),
    }
    created = provider.create(inputs)
    app.faults.status = 503
    with pytest.raises(grpc.RpcError) as raised:
        provider.update(created.id, created.properties, {**inputs, "trigger": "app:1.1"})
    error: Any = raised.value
    assert error.code() == grpc.StatusCode.UNKNOWN
    assert (
        f"GateFailedError: health gate 'release-gate' fail: probe {app.url}/health: HTTP 503 (expected 2xx); "
        in error.details()
    )


def test_check_rejects_a_bad_spec_naming_the_field(provider: ProviderProcess, hook: ScriptedServer) -> None:
    configure(provider, hook)
    spec = {"probes": [{"url": "http://127.0.0.1:1/health", "timeout": "2"}], "colour": "blue"}
    checked = provider.check({"spec": spec, "trigger": "x", "__provider": serialize(HealthGateProvider())})
    reasons = sorted((f.property, f.reason) for f in checked.failures)
    assert reasons == [
        (
            "spec",
            "spec.colour: unknown field; expected one of name, interval, duration, failure_limit, "
            "inconclusive_limit, on_no_data, probes, prometheus, checks, notify, mode, sequential, max_hold, "
            "min_duration, max_duration, on_undecided, load, allow_link_local",
        ),
        ("spec", "spec.probes[0].timeout: Input should be a valid number, got '2'"),
    ]


def test_a_step_further_on_the_same_canary_continues_its_evidence(
    provider: ProviderProcess, app: FaultyApp, prom: ScriptedServer, hook: ScriptedServer
) -> None:
    configure(provider, hook)
    inputs = {
        "spec": spec_for(app, prom),
        "trigger": {"image": "app:2.0", "weight": 5},
        "__provider": serialize(HealthGateProvider()),
    }
    created = provider.create(inputs)
    first, first_end = from_struct(created.properties)["evidence"]
    # The next weight of the same image: counted from the first step's start (kept in the state),
    # a stratum of its own from the end of the first step's gate (when the weight could move).
    step = {**inputs, "trigger": {"image": "app:2.0", "weight": 25}}
    second = provider.update(created.id, created.properties, step)
    edges = from_struct(second.properties)["evidence"]
    assert edges[:2] == [first, first_end] and len(edges) == 3 and first < first_end < edges[2]
    assert "evidence carried from the previous step: counting since" in provider.log_path.read_text()
    # A new image, or a smaller weight (a rollback), starts afresh.
    for trigger in ({"image": "app:2.1", "weight": 50}, {"image": "app:2.0", "weight": 5}):
        fresh = provider.update(created.id, second.properties, {**inputs, "trigger": trigger})
        assert from_struct(fresh.properties)["evidence"][0] > first, trigger
