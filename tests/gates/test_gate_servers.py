"""Probes, the Prometheus client, webhooks and `rollout gate` against real loopback servers: the
fault-injecting app, scripted (fake) Prometheus servers and a webhook receiver."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gates.probes import probe_all
from gates.prometheus import PrometheusClient
from gates.spec import parse_spec
from rollout.cli import main
from tests.support.app import FaultyApp, Received, ScriptedServer, free_port, prometheus_answer

Start = Callable[[Callable[[Received], tuple[int, bytes]]], ScriptedServer]
TOKEN = "prom-token-0a1b2c3d"
HOOK_PATH = "/services/T01/B02/webhook-secret-99"


def probes(*entries: dict[str, Any]) -> Any:
    return parse_spec({"probes": list(entries)}).probes


def test_probes_run_concurrently_and_judge_status_latency_and_errors(app: FaultyApp) -> None:
    dead = f"http://127.0.0.1:{free_port()}/health"
    results = probe_all(
        probes(
            {"url": f"{app.url}/health", "headers": {"canary": "true"}, "timeout": 2, "max_response_time": 1},
            {"url": dead, "timeout": 1},
        )
    )
    assert [(r.status, r.http_status) for r in results] == [("pass", 200), ("fail", None)]
    assert results[1].detail == "connection refused"

    app.faults.latency = 0.3
    slow = probe_all(probes({"url": f"{app.url}/a", "timeout": 2, "max_response_time": 0.1}))[0]
    assert (
        slow.status == "fail"
        and slow.detail.startswith("response time 0.3")
        and slow.detail.endswith("> max 0.1 s")
    )

    app.faults.latency = 1.5
    timed_out = probe_all(probes({"url": f"{app.url}/a", "timeout": 0.3}))[0]
    assert (timed_out.status, timed_out.detail, timed_out.response_time) == (
        "fail",
        "timed out after 0.3 s waiting for an answer",
        None,
    )

    app.faults.latency, app.faults.status = 0.0, 503
    assert probe_all(probes({"url": f"{app.url}/a"}))[0].detail == "HTTP 503 (expected 2xx)"

    app.faults.status, app.faults.drop = None, True
    dropped = probe_all(probes({"url": f"{app.url}/a", "timeout": 1}))[0]
    assert (dropped.status, dropped.error, dropped.response_time) == ("fail", "reset", None)


@pytest.mark.parametrize(
    ("status", "body", "outcome", "detail"),
    [
        (200, prometheus_answer("0.25"), "ok", ""),
        (200, prometheus_answer("2", "scalar"), "ok", ""),
        (200, prometheus_answer(None), "no-data", "empty result"),
        (
            200,
            prometheus_answer("NaN"),
            "no-data",
            "NaN (no samples in the window, e.g. 0/0 without traffic)",
        ),
        (200, b"<html>garbage", "error", "malformed response from Prometheus: not JSON"),
        (200, b'{"status": "success"}', "error", "malformed response from Prometheus: no status/data"),
        (
            200,
            b'{"status":"success","data":{"resultType":"vector","result":[{"value":[1,2]}]}}',
            "error",
            'malformed response from Prometheus: sample is not [time, "value"]',
        ),
        (
            200,
            b'{"status":"error","errorType":"timeout","error":"query timed out"}',
            "error",
            "Prometheus query error (status error, timeout): query timed out",
        ),
        (
            400,
            b'{"status":"error","errorType":"bad_data","error":"parse error"}',
            "error",
            "Prometheus query error (HTTP 400, bad_data): parse error",
        ),
        (503, b"Service Unavailable", "error", "HTTP 503 from Prometheus"),
        (401, b"Unauthorized", "error", "HTTP 401 from Prometheus: check the bearer token"),
    ],
    # Named by what they show: a body's timestamp would give each run (each xdist worker) other ids.
    ids=lambda value: f"{value}" if isinstance(value, int) else value[:48] if isinstance(value, str) else "",
)
def test_prometheus_outcomes(scripted: Start, status: int, body: bytes, outcome: str, detail: str) -> None:
    server = scripted(lambda _request: (status, body))
    result = PrometheusClient(server.url, timeout=2, token=TOKEN).query("up")
    assert (result.outcome, result.detail) == (outcome, detail)
    assert server.received[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert server.received[0].path.startswith("/api/v1/query?query=up")


def test_prometheus_refused_and_slow(scripted: Start) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    refused = PrometheusClient(dead, timeout=1).query("up")
    assert (refused.outcome, refused.detail) == (
        "error",
        f"Prometheus unreachable at {dead}: connection refused",
    )

    def slow(_request: Received) -> tuple[int, bytes]:
        import time

        time.sleep(1.0)
        return 200, prometheus_answer("1")

    server = scripted(slow)
    result = PrometheusClient(server.url, timeout=0.3).query("up")
    assert (result.outcome, result.detail) == ("error", f"Prometheus at {server.url} timed out after 0.3 s")


def write_spec(tmp_path: Path, spec: dict[str, Any]) -> Path:
    path = tmp_path / "gate.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_bad_spec_exits_2_naming_the_field(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        {
            "probes": [{"url": "http://127.0.0.1:1/"}],
            "prometheus": {"url": "http://127.0.0.1:1"},
            "checks": [{"name": "a", "query": "up", "max": 1}, {"name": "b", "query": "up", "max": "high"}],
        },
    )
    code, out, err = run_cli(["gate", "--spec", str(spec)])
    assert code == 2 and out == ""
    assert err == (
        f"error: {spec}: invalid gate spec (1 problem):\n  - checks[1].max: Input should be a valid number, got 'high'\n"
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text("interval: [1\n")
    code, _, err = run_cli(["gate", "--spec", str(broken)])
    assert (
        code == 2
        and err.startswith(f"error: {broken}: not valid YAML at line 1, column 11")
        and "Traceback" not in err
    )


def test_cli_pass_and_fail_with_reports_webhook_and_no_secrets(
    tmp_path: Path, app: FaultyApp, scripted: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    prom = scripted(lambda _request: (200, prometheus_answer("0.01")))
    hook = scripted(lambda _request: (200, b"ok"))
    monkeypatch.setenv("PROM_TOKEN", TOKEN)
    monkeypatch.setenv("GATE_WEBHOOK_URL", f"{hook.url}{HOOK_PATH}")
    spec: dict[str, Any] = {
        "name": "staging",
        # The scripted Prometheus answers one ratio to every query: the threshold mode's premise.
        "mode": "threshold",
        "interval": 0.2,
        "duration": 0.6,
        "probes": [{"url": f"{app.url}/health", "timeout": 1}],
        "prometheus": {"url": prom.url, "timeout": 1, "bearer_token_env": "PROM_TOKEN"},
        "checks": [{"name": "error-rate", "template": "error-rate", "max": 0.05}],
        "notify": {"kind": "slack"},
    }
    report = tmp_path / "out" / "report.json"
    code, out, err = run_cli(["gate", "--spec", str(write_spec(tmp_path, spec)), "--report", str(report)])
    assert code == 0, err
    assert out.startswith("pass: passed: 4 of 4 evaluations passed")
    assert "[1/4 +0.0s] pass" in err and "[4/4 +0.6s] pass" in err
    document = json.loads(report.read_text())
    assert (document["verdict"], len(document["evaluations"])) == ("pass", 4)
    assert report.with_suffix(".md").read_text().startswith("# Health gate `staging`: **PASS**")
    assert {r.headers["Authorization"] for r in prom.received} == {f"Bearer {TOKEN}"}
    assert [r.path for r in hook.received] == [HOOK_PATH]  # only the verdict: nothing failed
    for text in (out, err, report.read_text(), report.with_suffix(".md").read_text()):
        assert TOKEN not in text and "webhook-secret" not in text

    # Failing, with the webhook down: the verdict is the gate's, the delivery failure is noted.
    app.faults.status = 500
    hook.stop()
    code, out, err = run_cli(["gate", "--spec", str(write_spec(tmp_path, spec)), "--report", str(report)])
    assert code == 1
    assert out == (
        f"fail: probe {app.url}/health: HTTP 500 (expected 2xx); 2 consecutive failed evaluations (failure_limit 2)\n"
    )
    assert "gate: webhook delivery failed (connection failed); the verdict is unaffected" in err
    document = json.loads(report.read_text())
    assert document["verdict"] == "fail"
    assert document["notifications"]["failed"] == 2
    for text in (out, err, report.read_text()):
        assert TOKEN not in text and "webhook-secret" not in text


def test_cli_missing_token_env_is_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROM_TOKEN", raising=False)
    spec = {
        "prometheus": {"url": "http://127.0.0.1:1", "bearer_token_env": "PROM_TOKEN"},
        "checks": [{"name": "e", "template": "error-rate"}],
    }
    code, _, err = run_cli(["gate", "--spec", str(write_spec(tmp_path, spec))])
    assert (code, err) == (
        2,
        "error: prometheus.bearer_token_env: environment variable PROM_TOKEN is not set\n",
    )


def test_a_passing_probe_and_an_unreachable_prometheus_never_pass(app: FaultyApp, tmp_path: Path) -> None:
    # The reproduction: a short sequential gate, its probe passing, its error-rate check
    # against a closed port, on_undecided: pass. Every evaluation is inconclusive; the gate must
    # say so (exit 1), not pass at max_duration.
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "interval": 1,
                "duration": 2,
                "max_duration": 4,
                "min_duration": 0,
                "on_undecided": "pass",
                "probes": [{"url": f"{app.url}/health"}],
                "prometheus": {"url": f"http://127.0.0.1:{free_port()}", "timeout": 1},
                "checks": [{"name": "error-rate", "template": "error-rate", "params": {"app": "web"}}],
            }
        )
    )
    out, err = io.StringIO(), io.StringIO()
    code = main(["gate", "--spec", str(spec)], out=out, err=err)
    assert code == 1, out.getvalue() + err.getvalue()
    verdict = out.getvalue()
    assert verdict.startswith("inconclusive"), verdict
    assert "no evidence at +" in verdict and "check error-rate: Prometheus unreachable" in verdict
