"""The sequential decision mode (gates/sequential.py and its use in decision/runner/spec): pure,
fast and deterministic (virtual clock, fake Prometheus answers, fixed seeds)."""

from __future__ import annotations

import math
import random
import re
from typing import Any

import pytest

from gates.decision import CountResults, judge_sequential
from gates.results import Decision, QueryOutcome, QueryResult
from gates.runner import GateRuntime, count_queries, elapsed_window, run_gate
from gates.sequential import Counts, Design, extrapolation_bound, wald_expected_samples, weigh
from gates.spec import SpecError, parse_spec, spec_to_data
from gates.templates import render

PROM = {"url": "http://127.0.0.1:9090"}
CANARY = {"namespace": "prod", "app": "web", "version": "canary"}


def problems(data: Any) -> list[str]:
    with pytest.raises(SpecError) as raised:
        parse_spec(data)
    return [str(p) for p in raised.value.problems]


# --- statistics ------------------------------------------------------------------------------


def test_extrapolation_bound_and_wald_floor() -> None:
    assert extrapolation_bound(1) == math.inf
    assert extrapolation_bound(2) == pytest.approx(3.2)
    assert extrapolation_bound(23) == pytest.approx(1.1)
    # Wald: 0.5 % vs 2 % at alpha = beta = 1 % needs ~351 requests on average under H1.
    assert wald_expected_samples(0.005, 0.02, 0.01, 0.01) == pytest.approx(350.7, abs=0.5)
    assert wald_expected_samples(0.005, 0.2, 0.01, 0.01) == pytest.approx(8.0, abs=0.1)


def test_weigh_against_the_baseline() -> None:
    design = Design()
    assert design.ratios == (3, 9, 27, 81)
    assert (design.reject_at, design.accept_at) == (
        pytest.approx(4.605, abs=1e-3),
        pytest.approx(-4.605, abs=1e-3),
    )
    # 5 % of traffic on the canary, both at 0.5 %: no evidence either way yet.
    same = weigh(Counts(1000, 5, 20), Counts(19000, 95, 20), design)
    assert same.decision is Decision.CONTINUE and same.reference == "baseline"
    assert same.reference_rate == pytest.approx(0.005)
    # The canary at 4 % against 0.5 %: rejected.
    worse = weigh(Counts(1000, 40, 20), Counts(19000, 95, 20), design)
    assert worse.decision is Decision.REJECT and worse.log_mixture >= design.reject_at
    # Lots of traffic at the same rate: accepted (not 3x worse).
    fine = weigh(Counts(20000, 100, 40), Counts(380000, 1900, 40), design)
    assert fine.decision is Decision.ACCEPT and fine.log_lr_closest <= design.accept_at


def test_fewer_samples_weigh_less() -> None:
    design = Design()
    many = weigh(Counts(1000, 20, 40), Counts(19000, 95, 40), design)
    few = weigh(Counts(1000, 20, 3), Counts(19000, 95, 3), design)
    assert few.scale == pytest.approx(2.1) and many.scale < 1.06
    assert 0 < few.log_mixture < many.log_mixture


def test_without_baseline_the_canary_is_compared_with_the_acceptable_rate() -> None:
    design = Design(acceptable_error_rate=0.01)
    evidence = weigh(Counts(500, 40, 20), None, design)
    assert (evidence.decision, evidence.reference, evidence.reference_rate) == (
        Decision.REJECT,
        "acceptable_error_rate",
        0.01,
    )
    # A baseline without requests is ignored the same way.
    assert weigh(Counts(500, 40, 20), Counts(0, 0, 20), design).reference == "acceptable_error_rate"
    with pytest.raises(ValueError):
        weigh(Counts(0, 0, 20), None, design)


def test_a_baseline_without_errors_counts_as_min_error_rate() -> None:
    # One canary error against a perfect stable is not, by itself, a rollback.
    design = Design(min_error_rate=0.001)
    evidence = weigh(Counts(1000, 1, 20), Counts(19000, 0, 20), design)
    assert evidence.reference_rate == 0.001
    assert evidence.decision is not Decision.REJECT


def _false_rejections(runs: int, looks: int, seed: int) -> int:
    """The canary and the baseline at the same error rate, weighed after every batch of traffic."""
    rng = random.Random(seed)
    design = Design()
    rejected = 0
    for _ in range(runs):
        c_n = c_e = b_n = b_e = 0.0
        for look in range(looks):
            c_n += 50
            b_n += 950
            c_e += sum(rng.random() < 0.005 for _ in range(50))
            b_e += sum(rng.random() < 0.005 for _ in range(950)) if look % 2 == 0 else 5
            if weigh(Counts(c_n, c_e, 100), Counts(b_n, b_e, 100), design).decision is Decision.REJECT:
                rejected += 1
                break
    return rejected


def test_looking_often_keeps_the_false_rollback_rate_below_alpha() -> None:
    # Ville's inequality: at most alpha (1 %) however often the test is looked at.
    assert _false_rejections(runs=300, looks=30, seed=8) <= 3


# --- judging a check ---------------------------------------------------------------------------


def ok(value: float) -> QueryResult:
    return QueryResult(QueryOutcome.OK, (value,))


def counts(requests: float, errors: float, samples: float = 20) -> CountResults:
    return CountResults(ok(requests), ok(errors), ok(samples))


def test_judge_sequential_outcomes() -> None:
    design = Design()
    down = QueryResult(QueryOutcome.ERROR, (), "Prometheus unreachable at http://p: connection refused")
    check, state = judge_sequential(
        "err", "q", CountResults(down, ok(0), ok(3)), None, design, "inconclusive"
    )
    assert (check.status, check.detail, state) == (
        "inconclusive",
        "Prometheus unreachable at http://p: connection refused",
        None,
    )
    empty = QueryResult(QueryOutcome.NO_DATA, (), "empty result")
    check, state = judge_sequential("err", "q", CountResults(empty, ok(0), ok(0)), None, design, "fail")
    assert check.status == "fail" and check.detail.endswith("on_no_data: fail") and state is None
    check, state = judge_sequential(
        "err", "q", counts(1000, 40), counts(19000, 95), design, "inconclusive", "stable"
    )
    assert check.status == "fail" and state is not None and state.decision is Decision.REJECT
    assert check.detail.startswith("error rate 4 % (40 of 1000) vs stable 0.5 % (95 of 1.9e+04): evidence ")
    assert check.detail.endswith("at least 3x worse (error probability 0.01)")
    check, _ = judge_sequential("err", "q", counts(1000, 5), counts(0, 0, 0), design, "inconclusive")
    assert "vs acceptable 1 % (no baseline data)" in check.detail and check.status == "pass"


def test_count_queries_follow_the_check_and_the_baseline() -> None:
    spec = parse_spec(
        {"prometheus": PROM, "checks": [{"name": "e", "template": "error-rate", "params": CANARY}]}
    )
    canary, baseline = count_queries(spec, spec.checks[0], elapsed_window(42.3))
    assert canary == [
        'sum(increase(http_requests_total{namespace="prod",app="web",version="canary"}[43s]))',
        'sum(increase(http_requests_total{namespace="prod",app="web",version="canary",code=~"5.."}[43s]))'
        " or vector(0)",
        'min(count_over_time(http_requests_total{namespace="prod",app="web",version="canary"}[43s]))',
    ]
    assert baseline is not None and all('version="stable"' in q for q in baseline)
    assert render("requests-increase", {"job": "a", "window": "5s"}) == (
        'sum(increase(http_requests_total{job="a"}[5s]))'
    )
    unversioned = parse_spec({"prometheus": PROM, "checks": [{"name": "e", "template": "error-rate"}]})
    assert count_queries(unversioned, unversioned.checks[0], "1s")[1] is None
    assert elapsed_window(0) == "1s"


# --- the spec ------------------------------------------------------------------------------------


def test_spec_defaults_by_mode() -> None:
    spec = parse_spec({"prometheus": PROM, "checks": [{"name": "e", "template": "error-rate"}]})
    assert (spec.mode, spec.duration, spec.inconclusive_limit, spec.max_hold) == ("sequential", 300, 30, 300)
    assert spec.sequential.error_probability == 0.01 and spec.sequential.baseline_version == "stable"
    assert spec_to_data(spec) == {"prometheus": PROM, "checks": [{"name": "e", "template": "error-rate"}]}
    old = parse_spec({"mode": "threshold", "probes": [{"url": "http://a"}]})
    assert (old.duration, old.inconclusive_limit, old.max_evaluations) == (60, 3, 7)
    explicit = parse_spec({"interval": 5, "inconclusive_limit": 4, "probes": [{"url": "http://a"}]})
    assert explicit.inconclusive_limit == 4
    assert parse_spec(spec_to_data(explicit)) == explicit


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"sequential": {"error_probability": 0.5}},
            "sequential.error_probability: Input should be less than or equal to 0.2, got 0.5",
        ),
        ({"sequential": {"min_ratio": 1}}, "sequential.min_ratio: Input should be greater than 1, got 1"),
        (
            {"sequential": {"alpha": 0.01}},
            "sequential.alpha: unknown field; expected one of error_probability",
        ),
        ({"sequential": {"min_ratoi": 2}}, "sequential.min_ratoi: unknown field; did you mean 'min_ratio'?"),
        (
            {"sequential": {"acceptable_error_rate": 0.5}},
            "sequential.acceptable_error_rate: times min_ratio (3) must be below 1, got 0.5",
        ),
        ({"sequential": {"baseline_version": " "}}, "sequential.baseline_version: must not be empty"),
        ({"mode": "sprt"}, "mode: Input should be 'sequential' or 'threshold'"),
        ({"max_hold": -1}, "max_hold: Input should be greater than or equal to 0, got -1"),
    ],
)
def test_bad_sequential_settings_name_the_field(data: dict[str, Any], expected: str) -> None:
    found = problems({"probes": [{"url": "http://a"}], **data})
    assert any(p.startswith(expected) for p in found), found


# --- the runner on a virtual clock -----------------------------------------------------------


class World:
    """A fake Prometheus for one canary (version=canary) and its stable baseline: counts grow
    linearly with time at the given rates; ``down`` is a set of seconds with Prometheus down."""

    def __init__(self, canary_error: float, down: tuple[float, float] = (-1, -1), start: float = 0) -> None:
        self.now = 0.0
        self.canary_error, self.down, self.start = canary_error, down, start

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def query(self, promql: str) -> QueryResult:
        if self.down[0] <= self.now < self.down[1]:
            return QueryResult(QueryOutcome.ERROR, (), "Prometheus unreachable")
        elapsed = max(0.0, self.now - self.start)
        stable = 'version="stable"' in promql
        if promql.startswith("min(count_over_time"):
            return (
                ok(elapsed // 5) if elapsed >= 10 else QueryResult(QueryOutcome.NO_DATA, (), "empty result")
            )
        if elapsed < 10:
            return QueryResult(QueryOutcome.NO_DATA, (), "empty result")
        rate = 95.0 if stable else 5.0
        requests = rate * elapsed
        if 'code=~"5.."' in promql:
            return ok(requests * (0.005 if stable else self.canary_error))
        if "increase" in promql:
            return ok(requests)
        if "latency" in promql or "duration" in promql:
            return ok(0.1)
        raise AssertionError(promql)


def gate_spec(**overrides: Any) -> Any:
    return parse_spec(
        {
            "prometheus": PROM,
            "checks": [
                {"name": "errors", "template": "error-rate", "params": CANARY},
                {"name": "latency", "template": "latency-avg", "params": CANARY},
            ],
            **overrides,
        }
    )


def run(world: World, **overrides: Any) -> Any:
    runtime = GateRuntime(query=world.query, monotonic=lambda: world.now, sleep=world.sleep, concurrent=False)
    return run_gate(gate_spec(**overrides), runtime)


def test_a_bad_canary_fails_at_once_on_rejection() -> None:
    report = run(World(canary_error=0.05))
    assert report.verdict.status == "fail"
    assert report.verdict.deciding == "check errors"
    assert re.match(
        r"check errors: error rate 5 % \(.* vs stable 0\.5 % .*at least 3x worse", report.verdict.reason
    )
    assert report.evaluations[-1].offset <= 30  # no failure_limit streak needed
    assert report.evaluations[-1].sequential[0].decision is Decision.REJECT


def test_a_healthy_canary_passes_early_once_accepted() -> None:
    report = run(World(canary_error=0.005))
    assert report.verdict.status == "pass"
    assert report.verdict.reason.startswith("passed early at +")
    assert "not 3x worse" in report.verdict.reason
    assert report.evaluations[-1].offset < 300
    # Warming up (no scrape yet) neither fails nor extends the gate.
    assert report.evaluations[0].status == "inconclusive"


def test_an_outage_is_held_not_failed_and_extends_the_gate() -> None:
    world = World(canary_error=0.005, down=(20, 140))
    report = run(world, sequential={"error_probability": 1e-9})  # never decides early
    assert report.verdict.status == "pass"
    statuses = [e.status for e in report.evaluations]
    assert statuses.count("inconclusive") >= 12
    assert report.evaluations[-1].offset == 420  # 300 s + 120 s held
    # In threshold mode the same outage fails the gate after 3 inconclusive evaluations.
    threshold = run(World(canary_error=0.005, down=(20, 140)), mode="threshold")
    assert threshold.verdict.status == "inconclusive"
    assert "3 consecutive inconclusive evaluations (inconclusive_limit 3)" in threshold.verdict.reason


def test_holding_is_bounded_and_never_passes_without_evidence() -> None:
    report = run(World(canary_error=0.005, down=(0, 10_000)), max_hold=60)
    assert report.verdict.status == "inconclusive"
    assert "inconclusive_limit 6" in report.verdict.reason
    assert len(report.evaluations) == 6


def test_the_report_states_the_mode_and_the_evidence() -> None:
    import json

    from gates.report import to_json, to_markdown

    report = run(World(canary_error=0.05))
    document = json.loads(to_json(report))
    assert (document["settings"]["mode"], document["settings"]["checks"][0]["decision"]) == (
        "sequential",
        "sequential",
    )
    assert document["settings"]["checks"][1]["decision"] == "threshold"
    last = document["evaluations"][-1]["sequential"][0]
    assert last["decision"] == "reject" and last["reference"] == "baseline" and last["canary_requests"] > 0
    assert "- Mode: sequential (error probability 0.01, min_ratio 3, max_hold 300 s)" in to_markdown(report)
