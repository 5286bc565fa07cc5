"""Gates against real servers on 127.0.0.1: the fault-injecting test app, a real Prometheus
scraping it every second, and the gate's own HTTP probes. Gates run for a few seconds."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from gates.report import GateReport
from gates.runner import Secrets, build_runtime, run_gate
from gates.spec import parse_spec
from gates.templates import render
from tests.support.app import FaultyApp, free_port
from tests.support.prometheus import Prometheus

pytestmark = pytest.mark.prometheus


def gate(**spec: Any) -> GateReport:
    """Run a gate; ``mode: threshold`` unless given (these tests are about per-window limits)."""
    parsed = parse_spec({"mode": "threshold", **spec})
    return run_gate(parsed, build_runtime(parsed, Secrets()))


def checks_for(job: str, **limits: float) -> list[dict[str, Any]]:
    params = {"job": job, "window": "5s"}
    return [
        {
            "name": "error-rate",
            "template": "error-rate",
            "params": params,
            "max": limits.get("error_rate", 0.05),
        },
        {"name": "p95", "template": "latency-p95", "params": params, "max": limits.get("p95", 0.25)},
        {"name": "instances", "template": "healthy-instances-percent", "params": {"job": job}},
    ]


def test_healthy_app_passes(monitored_app: tuple[FaultyApp, str], prometheus: Prometheus) -> None:
    app, job = monitored_app
    report = gate(
        interval=1,
        duration=3,
        probes=[{"url": f"{app.url}/health", "timeout": 2, "max_response_time": 1}],
        prometheus={"url": prometheus.url, "timeout": 2},
        checks=[*checks_for(job), {"name": "cpu", "template": "cpu", "params": {"job": job, "window": "5s"}}],
    )
    assert report.verdict.status == "pass", report.verdict.reason
    assert report.verdict.reason.startswith("passed: 4 of 4 evaluations passed")
    assert len(report.evaluations) == 4
    first = report.evaluations[0]
    assert [c.name for c in first.checks] == ["error-rate", "p95", "instances", "cpu"]
    instances = first.checks[2]
    assert (instances.value, instances.min, instances.status) == (100.0, 80.0, "pass")
    assert first.checks[0].value == 0.0  # no 5xx at all is 0, not "no data"


def test_5xx_burst_fails_on_error_rate(monitored_app: tuple[FaultyApp, str], prometheus: Prometheus) -> None:
    app, job = monitored_app
    app.faults.error_every = 2  # half the requests answer 500 from now on
    report = gate(
        interval=1,
        duration=8,
        failure_limit=2,
        prometheus={"url": prometheus.url, "timeout": 2},
        checks=checks_for(job, error_rate=0.05)[:1],
    )
    assert report.verdict.status == "fail"
    assert report.verdict.deciding == "check error-rate"
    assert "check error-rate:" in report.verdict.reason
    assert "> max 0.05" in report.verdict.reason
    assert "2 consecutive failed evaluations (failure_limit 2)" in report.verdict.reason
    assert len(report.evaluations) < 9  # stopped at the limit, not at the end of the duration
    failing = report.evaluations[-1].checks[0]
    assert failing.value is not None and failing.value > 0.05


def test_latency_regression_fails_on_p95(
    monitored_app: tuple[FaultyApp, str], prometheus: Prometheus
) -> None:
    app, job = monitored_app
    app.faults.latency = 0.4
    report = gate(
        interval=1,
        duration=8,
        failure_limit=2,
        prometheus={"url": prometheus.url, "timeout": 2},
        checks=[checks_for(job, p95=0.25)[1]],
    )
    assert report.verdict.status == "fail", report.verdict.reason
    assert report.verdict.reason.startswith("check p95: ")
    assert "> max 0.25" in report.verdict.reason


def test_prometheus_down_is_inconclusive_then_fails_at_the_limit(app: FaultyApp) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    report = gate(
        interval=0.2,
        duration=5,
        inconclusive_limit=3,
        probes=[{"url": f"{app.url}/health", "timeout": 1}],
        prometheus={"url": dead, "timeout": 1},
        checks=[{"name": "error-rate", "template": "error-rate"}],
    )
    assert report.verdict.status == "inconclusive"
    assert [e.status for e in report.evaluations] == ["inconclusive"] * 3
    assert report.verdict.reason == (
        f"check error-rate: Prometheus unreachable at {dead}: connection refused; "
        "3 consecutive inconclusive evaluations (inconclusive_limit 3)"
    )
    # The probes passed, but an unreachable Prometheus is never a silent pass.
    assert all(p.status == "pass" for e in report.evaluations for p in e.probes)


@pytest.mark.parametrize(
    ("on_no_data", "verdict", "fragment"),
    [
        ("pass", "pass", "passed: 3 of 3 evaluations passed"),
        ("fail", "fail", "check missing: no data (empty result); on_no_data: fail; 2 consecutive failed"),
        (
            "inconclusive",
            "inconclusive",
            "check missing: no data (empty result); on_no_data: inconclusive; 2 consecutive",
        ),
    ],
)
def test_empty_result_follows_on_no_data(
    prometheus: Prometheus, on_no_data: str, verdict: str, fragment: str
) -> None:
    report = gate(
        interval=0.3,
        duration=0.6,
        failure_limit=2,
        inconclusive_limit=2,
        on_no_data=on_no_data,
        prometheus={"url": prometheus.url, "timeout": 2},
        checks=[{"name": "missing", "query": 'no_such_metric{job="nobody"}', "max": 1}],
    )
    assert report.verdict.status == verdict
    assert fragment in report.verdict.reason


def test_bad_promql_is_an_explicit_error(prometheus: Prometheus) -> None:
    report = gate(
        interval=0.2,
        duration=1,
        inconclusive_limit=2,
        prometheus={"url": prometheus.url, "timeout": 2},
        checks=[{"name": "typo", "query": "sum(rate(http_requests_total[1m]", "max": 1}],
    )
    assert report.verdict.status == "inconclusive"
    assert "check typo: Prometheus query error (HTTP 400, bad_data): " in report.verdict.reason


# --- mode: sequential against the real Prometheus -------------------------------------------


def wait_scraped(prometheus: Prometheus, selector: str, samples: int = 3, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = prometheus.query(f"min(count_over_time(http_requests_total{{{selector}}}[1m]))")
        if result and float(str(result[0]["value"][1])) >= samples:  # type: ignore[index]
            return
        time.sleep(0.25)
    raise RuntimeError(f"{selector} not scraped {samples} times in {timeout} s")


def value(prometheus: Prometheus, promql: str) -> float:
    result = prometheus.query(promql)
    assert len(result) == 1, (promql, result)
    return float(str(result[0]["value"][1]))  # type: ignore[index]


def test_count_templates_return_the_increase_over_the_window(
    monitored_app: tuple[FaultyApp, str], prometheus: Prometheus
) -> None:
    app, job = monitored_app
    app.faults.error_every = 4
    time.sleep(6)  # 6 s of traffic with every 4th request answering 500
    params = {"job": job, "window": "5s"}
    requests_ = value(prometheus, render("requests-increase", params))
    errors = value(prometheus, render("errors-increase", params))
    samples = value(prometheus, render("request-samples", params))
    # The traffic thread sends ~15 requests/s; 5 s hold 4-6 one-second scrapes.
    assert 20 < requests_ < 200
    assert errors == pytest.approx(requests_ / 4, rel=0.35)
    assert 3 <= samples <= 6
    nobody = {"job": "nobody", "window": "5s"}
    assert prometheus.query(render("requests-increase", nobody)) == []  # no traffic: no data
    assert value(prometheus, render("errors-increase", nobody)) == 0  # no 5xx: 0 (or vector(0))


@contextmanager
def stable_and_canary(prometheus: Prometheus, job: str) -> Iterator[tuple[FaultyApp, FaultyApp]]:
    """Two test apps; at the end Prometheus forgets ``job`` and both stop (``versioned`` has them
    scraped, once set up)."""
    stable, canary = FaultyApp(), FaultyApp()
    try:
        yield stable, canary
    finally:
        prometheus.forget(job)
        for app in (stable, canary):
            app.stop()


def versioned(prometheus: Prometheus, job: str, apps: dict[str, FaultyApp]) -> None:
    """Scrape each app as ``job`` with its own ``version`` label (file-based discovery)."""
    targets = [
        {"targets": [f"127.0.0.1:{a.port}"], "labels": {"job": job, "version": v}} for v, a in apps.items()
    ]
    path = prometheus.targets / f"{job}.json"
    path.with_suffix(".tmp").write_text(json.dumps(targets))
    os.replace(path.with_suffix(".tmp"), path)
    for version in apps:
        wait_scraped(prometheus, f'job="{job}",version="{version}"')


@pytest.mark.parametrize(("error_every", "verdict"), [(2, "fail"), (0, "pass")])
def test_sequential_gate_compares_canary_with_stable(
    prometheus: Prometheus, error_every: int, verdict: str
) -> None:
    job = f"seq-{os.getpid()}-{error_every}"
    with stable_and_canary(prometheus, job) as (stable, canary):
        canary.faults.error_every = error_every
        for a in (stable, canary):
            a.start_traffic()
        versioned(prometheus, job, {"stable": stable, "canary": canary})
        spec = parse_spec(
            {
                "interval": 1,
                "duration": 6,
                "max_duration": 8,
                "prometheus": {"url": prometheus.url, "timeout": 2},
                "checks": [
                    {"name": "errors", "template": "error-rate", "params": {"job": job, "version": "canary"}}
                ],
            }
        )
        report = run_gate(spec, build_runtime(spec, Secrets()))
    assert report.verdict.status == verdict, report.verdict.reason
    decided = [e for e in report.evaluations if e.sequential]
    assert decided, "no evaluation weighed any counts"
    state = decided[-1].sequential[0]
    assert state.reference == "baseline" and state.baseline_requests and state.canary_requests > 0
    if verdict == "fail":
        # A stable without errors counts as min_error_rate (0.1 %).
        assert (
            "at least 3x worse" in report.verdict.reason and "vs stable 0.1 % (0 of" in report.verdict.reason
        )
    else:
        # A perfect canary against a perfect stable: no evidence against it, but too little
        # traffic (15 requests/s) to accept it: undecided at max_duration, on_undecided: pass.
        # (The offset is real time: +8.001 s, say.)
        assert re.match(
            r"(undecided at \+8[.0-9]* s \(max_duration 8 s\)|passed early)", report.verdict.reason
        )
        assert report.evaluations[-1].offset >= 8 or report.verdict.reason.startswith("passed early")
