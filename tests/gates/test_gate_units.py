"""Pure parts of the gate: spec validation, templates, decisions, the loop on a virtual clock,
reports and alert collapsing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gates.decision import Streaks, final_verdict, judge_check, judge_evaluation, limit_reached
from gates.notify import Alert, Notifier
from gates.report import to_json, to_markdown
from gates.results import CheckResult, Evaluation, ProbeResult, QueryOutcome, QueryResult, Status
from gates.runner import GateRuntime, run_gate
from gates.spec import SpecError, parse_spec, spec_to_data
from gates.templates import TEMPLATES, render

PROM = {"url": "http://127.0.0.1:9090"}


def problems(data: Any) -> list[str]:
    with pytest.raises(SpecError) as raised:
        parse_spec(data)
    return [str(p) for p in raised.value.problems]


def test_issue_example_spec_is_valid() -> None:
    spec = parse_spec(
        {
            "interval": 10,
            "duration": 60,
            "failure_limit": 2,
            "inconclusive_limit": 3,
            "on_no_data": "inconclusive",
            "probes": [
                {
                    "url": "http://127.0.0.1:8080/health",
                    "headers": {"canary": "true"},
                    "timeout": 2,
                    "max_response_time": 1,
                }
            ],
            "prometheus": {"url": "http://127.0.0.1:9090", "timeout": 5},
            "checks": [
                {"name": "error-rate", "query": "sum(rate(x[1m]))", "max": 0.01},
                {
                    "name": "p95-latency",
                    "template": "latency-p95",
                    "params": {"job": "flutter-app"},
                    "max": 0.5,
                },
            ],
        }
    )
    # 0, 10, ..., up to max_duration (4 x 60 s: watching an undecided sequential test after the
    # duration) plus max_hold (300 s held through inconclusive evaluations).
    assert spec.max_evaluations == 55
    assert parse_spec({**spec_to_data(spec), "mode": "threshold"}).max_evaluations == 7
    assert spec.checks[1].promql == (
        'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="flutter-app"}[1m])))'
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"interval": 0, "probes": [{"url": "http://a"}]}, "interval: Input should be greater than 0, got 0"),
        (
            {"probes": [{"url": "http://a", "timout": 1}]},
            "probes[0].timout: unknown field; did you mean 'timeout'?",
        ),
        (
            {"probes": [{"url": "ftp://a"}]},
            "probes[0].url: expected an http:// or https:// URL with a host, got 'ftp://a'",
        ),
        (
            {
                "prometheus": PROM,
                "checks": [{"name": "a", "query": "up", "max": 1}, {"name": "b", "query": "up", "max": "x"}],
            },
            "checks[1].max: Input should be a valid number, got 'x'",
        ),
        ({"prometheus": PROM, "checks": [{"name": "a", "query": "up"}]}, "checks[0]: set max, min or both"),
        (
            {"prometheus": PROM, "checks": [{"name": "a", "template": "p95"}]},
            "checks[0].template: unknown template 'p95'; expected one of",
        ),
        (
            {"prometheus": PROM, "checks": [{"name": "a", "query": "up", "template": "cpu"}]},
            "checks[0]: set exactly one of query and template",
        ),
        (
            {"prometheus": PROM, "checks": [{"name": "a", "template": "cpu", "params": {"window": "5 min"}}]},
            "checks[0].params.window: expected a Prometheus duration",
        ),
        (
            {"prometheus": PROM, "checks": [{"name": "a", "query": "up", "max": 1, "min": 2}]},
            "checks[0].min: must not exceed max (1), got 2",
        ),
        ({"checks": [{"name": "a", "query": "up", "max": 1}]}, "prometheus: required when there are checks"),
        (
            {"on_no_data": "ignore", "probes": [{"url": "http://a"}]},
            "on_no_data: Input should be 'inconclusive', 'fail' or 'pass'",
        ),
        (
            {"interval": 10, "duration": 5, "probes": [{"url": "http://a"}]},
            "duration: must be at least interval (10), got 5",
        ),
        (
            {"probes": [{"url": "http://a", "timeout": 1, "max_response_time": 2}]},
            "probes[0].max_response_time: must not exceed timeout (1), got 2",
        ),
        (
            {"probes": [{"url": "http://a"}], "notify": {"url": "https://hooks.slack.com/x"}},
            "notify.url: webhook URLs are secrets",
        ),
        ({}, "(spec): a gate needs at least one probe or one check"),
        ([1], "(spec): expected a mapping of gate settings, got list"),
    ],
)
def test_bad_specs_name_the_field(data: Any, expected: str) -> None:
    assert any(p.startswith(expected) for p in problems(data)), problems(data)


def test_templates_render_labels_and_defaults() -> None:
    assert set(TEMPLATES) == {
        "error-rate",
        "latency-avg",
        "latency-p50",
        "latency-p95",
        "latency-p99",
        "cpu",
        "healthy-instances-percent",
        "requests-increase",
        "errors-increase",
        "request-samples",
    }
    assert render("error-rate", {"job": "web", "namespace": "prod", "window": "5m"}) == (
        '(sum(rate(http_requests_total{job="web",namespace="prod",code=~"5.."}[5m])) or vector(0))'
        ' / sum(rate(http_requests_total{job="web",namespace="prod"}[5m]))'
    )
    assert (
        render("healthy-instances-percent", {"app": 'a"b'})
        == '100 * sum(up{app="a\\"b"}) / count(up{app="a\\"b"})'
    )
    assert render("cpu", {"cpu_limit": "0.5"}).endswith("/ 0.5")
    # The CD guide: response time 5 s, error rate 5 %, average response 2 s, CPU 80 %.
    defaults = {n: (t.default_max, t.default_min) for n, t in TEMPLATES.items()}
    assert defaults["error-rate"] == (0.05, None)
    assert defaults["latency-avg"] == (2.0, None)
    assert defaults["latency-p95"] == (5.0, None)
    assert defaults["cpu"] == (0.8, None)
    spec = parse_spec({"prometheus": PROM, "checks": [{"name": "e", "template": "error-rate"}]})
    assert spec.checks[0].limits == (0.05, None)


def ok(*values: float) -> QueryResult:
    return QueryResult(QueryOutcome.OK, values)


@pytest.mark.parametrize(
    ("result", "maximum", "minimum", "on_no_data", "status", "detail"),
    [
        (ok(0.01), 0.05, None, "inconclusive", "pass", "0.01 <= max 0.05"),
        (ok(0.2), 0.05, None, "inconclusive", "fail", "0.2 > max 0.05"),
        (ok(0.01, 0.3), 0.05, None, "inconclusive", "fail", "0.3 > max 0.05 (worst of 2 series)"),
        (ok(50.0), None, 80.0, "inconclusive", "fail", "50 < min 80"),
        (ok(float("inf")), 0.5, None, "inconclusive", "fail", "inf > max 0.5"),
        (
            QueryResult(QueryOutcome.NO_DATA, (), "empty result"),
            1,
            None,
            "inconclusive",
            "inconclusive",
            "no data (empty result); on_no_data: inconclusive",
        ),
        (
            QueryResult(QueryOutcome.NO_DATA, (), "empty result"),
            1,
            None,
            "fail",
            "fail",
            "no data (empty result); on_no_data: fail",
        ),
        (
            QueryResult(QueryOutcome.NO_DATA, (), "empty result"),
            1,
            None,
            "pass",
            "pass",
            "no data (empty result); on_no_data: pass",
        ),
        # Unreachable is inconclusive whatever on_no_data says: never a silent pass.
        (
            QueryResult(QueryOutcome.ERROR, (), "Prometheus unreachable"),
            1,
            None,
            "pass",
            "inconclusive",
            "Prometheus unreachable",
        ),
    ],
)
def test_judge_check(
    result: QueryResult,
    maximum: float | None,
    minimum: float | None,
    on_no_data: Any,
    status: str,
    detail: str,
) -> None:
    check = judge_check("c", "q", result, maximum, minimum, on_no_data)
    assert (check.status, check.detail) == (status, detail)


def probe(status: Status, detail: str = "") -> ProbeResult:
    return ProbeResult("http://app/health", status, 1.0, 200, 0.1, detail)


def check(status: Status, detail: str = "") -> CheckResult:
    return CheckResult("err", "q", status, 0.1, 0.05, None, detail)


def test_evaluation_fail_beats_inconclusive_and_names_the_first_failure() -> None:
    assert judge_evaluation([probe(Status.PASS)], [check(Status.PASS)])[0] == "pass"
    status, reason, label = judge_evaluation(
        [probe(Status.FAIL, "HTTP 503 (expected 2xx)")], [check(Status.INCONCLUSIVE), check(Status.FAIL, "x")]
    )
    assert (status, label) == ("fail", "probe http://app/health")
    assert reason == "probe http://app/health: HTTP 503 (expected 2xx) (+1 more fail)"


def test_streaks() -> None:
    s = Streaks()
    for status in (Status.FAIL, Status.INCONCLUSIVE, Status.FAIL):
        s = s.after(status)
    assert s == Streaks(2, 0)  # an inconclusive between failures does not hide them
    assert s.after(Status.PASS) == Streaks()
    assert Streaks(0, 2).after(Status.FAIL) == Streaks(1, 0)


def evaluation(status: Status, reason: str = "r", index: int = 1) -> Evaluation:
    return Evaluation(index, 0.0, "t", status, reason, (), (check(status),))


def test_limits_and_final_verdicts() -> None:
    assert limit_reached(Streaks(1, 0), evaluation(Status.FAIL), 2, 3) is None
    verdict = limit_reached(Streaks(2, 0), evaluation(Status.FAIL, "check err: 0.1 > max 0.05"), 2, 3)
    assert verdict is not None
    assert verdict.reason == "check err: 0.1 > max 0.05; 2 consecutive failed evaluations (failure_limit 2)"
    inconclusive = limit_reached(Streaks(0, 3), evaluation(Status.INCONCLUSIVE), 2, 3)
    assert inconclusive is not None and inconclusive.status == "inconclusive"
    # Too few evaluations to reach a limit, none passed: never a pass.
    assert final_verdict([evaluation(Status.INCONCLUSIVE)], 1).status == "inconclusive"
    assert final_verdict([evaluation(Status.INCONCLUSIVE), evaluation(Status.FAIL)], 1).status == "fail"
    assert final_verdict([evaluation(Status.PASS), evaluation(Status.FAIL)], 1).status == "pass"


class VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_runner_on_a_virtual_clock_is_bounded_and_stops_at_the_limit() -> None:
    spec = parse_spec(
        {
            "interval": 10,
            "duration": 60,
            "failure_limit": 2,
            "prometheus": PROM,
            "checks": [{"name": "err", "query": "q", "max": 0.05}],
        }
    )
    answers = iter([ok(0.01), ok(0.2), ok(0.01), ok(0.2), ok(0.3), ok(0.01)])
    clock = VirtualClock()
    report = run_gate(
        spec, GateRuntime(query=lambda _q: next(answers), monotonic=lambda: clock.now, sleep=clock.sleep)
    )
    assert [e.status for e in report.evaluations] == ["pass", "fail", "pass", "fail", "fail"]
    assert [e.offset for e in report.evaluations] == [0, 10, 20, 30, 40]
    assert (
        report.verdict.reason
        == "check err: 0.3 > max 0.05; 2 consecutive failed evaluations (failure_limit 2)"
    )

    healthy = VirtualClock()
    passed = run_gate(
        spec, GateRuntime(query=lambda _q: ok(0.01), monotonic=lambda: healthy.now, sleep=healthy.sleep)
    )
    assert (passed.verdict.status, len(passed.evaluations), healthy.now) == ("pass", 7, 60)
    assert "closest to its limit: check err 0.01 (max 0.05)" in passed.verdict.reason


def test_report_json_and_markdown() -> None:
    spec = parse_spec(
        {
            "mode": "threshold",
            "interval": 1,
            "duration": 1,
            "probes": [{"url": "http://user:pw@app/health", "headers": {"Authorization": "Bearer abc"}}],
            "prometheus": PROM,
            "checks": [{"name": "p95", "template": "latency-p95", "max": 0.5}],
        }
    )
    clock = VirtualClock()
    runtime = GateRuntime(
        probe=lambda probes: [
            ProbeResult("http://[redacted]@app/health", Status.PASS, 5.0, 200, 0.02, "HTTP 200")
        ],
        query=lambda _q: ok(float("inf")),
        monotonic=lambda: clock.now,
        sleep=clock.sleep,
    )
    report = run_gate(spec, runtime)
    document = json.loads(to_json(report, ["abc"]))
    assert document["verdict"] == "fail"
    assert (
        document["reason"] == "check p95: inf > max 0.5; 2 consecutive failed evaluations (failure_limit 2)"
    )
    assert {"started_at", "ended_at", "evaluations", "settings"} <= set(document)
    first = document["evaluations"][0]
    assert first["checks"][0] == {
        "name": "p95",
        "query": spec.checks[0].promql,
        "status": "fail",
        "value": "+Inf",
        "max": 0.5,
        "min": None,
        "detail": "inf > max 0.5",
    }
    assert first["probes"][0]["response_time"] == 0.02 and first["probes"][0]["limit"] == 5.0
    assert document["settings"]["probes"][0]["headers"] == ["Authorization"]
    text = to_json(report) + to_markdown(report)
    assert "pw" not in text and "Bearer abc" not in text
    markdown = to_markdown(report)
    assert markdown.startswith(
        "# Health gate `health-gate`: **FAIL**\n\n**Reason:** check p95: inf > max 0.5"
    )
    assert "| check p95 | inf | max 0.5 | fail | inf > max 0.5 |" in markdown


class FakePost:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, url: str, json: dict[str, Any], **_kwargs: Any) -> Any:
        self.bodies.append(json)
        status = self.status

        class Response:
            status_code = status

            def close(self) -> None:
                pass

        return Response()


def test_repeated_alerts_for_the_same_cause_are_collapsed() -> None:
    post = FakePost()
    notifier = Notifier("https://hooks.example/T0/hook-token", "json", post=post)
    for index in (1, 2, 3):
        notifier.send(Alert("g", Status.FAIL, "check err", f"err high {index}", index))
    notifier.send(Alert("g", Status.INCONCLUSIVE, "check err", "unreachable", 4))
    notifier.send(Alert("g", Status.FAIL, "verdict", "failed", final=True))
    assert [(b["event"], b["status"], b["evaluation"], b["collapsed"]) for b in post.bodies] == [
        ("evaluation", "fail", 1, 0),
        ("evaluation", "inconclusive", 4, 2),
        ("verdict", "fail", None, 0),
    ]
    assert (notifier.stats.sent, notifier.stats.collapsed, notifier.stats.failed) == (3, 2, 0)
    assert "hook-token" not in repr(notifier)


def test_slack_payload_and_failed_delivery_is_recorded_not_raised() -> None:
    logged: list[str] = []
    notifier = Notifier("https://hooks.example/secret", "slack", post=FakePost(500), log=logged.append)
    notifier.send(Alert("g", Status.FAIL, "verdict", "check err: 0.2 > max 0.05", final=True))
    assert notifier.payload(Alert("g", Status.FAIL, "v", "why", final=True), 2) == {
        "text": ":x: health gate *g* verdict: *fail* — why (2 repeated alerts collapsed)"
    }
    assert (notifier.stats.failed, notifier.stats.errors) == (1, ["HTTP 500"])
    assert logged == ["webhook delivery failed (HTTP 500); the verdict is unaffected"]
