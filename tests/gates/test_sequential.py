"""The sequential decision mode (gates/sequential.py and its use in decision/runner/spec): pure,
fast and deterministic (virtual clock, fake Prometheus samples, fixed seeds)."""

from __future__ import annotations

import json
import math
import random
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from gates.counts import Ledger
from gates.decision import SequentialCheck, Track, judge_sequential
from gates.prometheus import Series, SeriesResult
from gates.report import to_json, to_markdown
from gates.results import Decision, QueryOutcome, QueryResult
from gates.runner import GateRuntime, plan, run_gate
from gates.sequential import Counts, Design, Reference, wald_expected_samples, weigh
from gates.spec import SpecError, parse_spec, spec_to_data

PROM = {"url": "http://127.0.0.1:9090"}
CANARY = {"namespace": "prod", "app": "web", "version": "canary"}
ERRORS = Reference(floor=0.001, acceptable=0.01)


def problems(data: Any) -> list[str]:
    with pytest.raises(SpecError) as raised:
        parse_spec(data)
    return [str(p) for p in raised.value.problems]


Pair = tuple[Counts, Counts | None]


def same(canary: Counts, baseline: Counts | None) -> tuple[Pair, Pair]:
    """The same counts for both decisions (tracks scraped at the same instants)."""
    return (canary, baseline), (canary, baseline)


# --- statistics ------------------------------------------------------------------------------


def test_wald_floor() -> None:
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
    level = weigh(*same(Counts(1000, 5), Counts(19000, 95)), design, ERRORS)
    assert level.decision is Decision.CONTINUE and level.reference == "baseline"
    assert level.reference_share == pytest.approx(0.005)
    # The canary at 4 % against 0.5 %: rejected.
    worse = weigh(*same(Counts(1000, 40), Counts(19000, 95)), design, ERRORS)
    assert worse.decision is Decision.REJECT and worse.log_mixture >= design.reject_at
    # Lots of traffic at the same rate: accepted (not 3x worse).
    fine = weigh(*same(Counts(20000, 100), Counts(380000, 1900)), design, ERRORS)
    assert fine.decision is Decision.ACCEPT and fine.log_lr_closest <= design.accept_at


def test_steps_are_strata_so_an_incident_during_a_larger_weight_is_not_the_canarys_fault() -> None:
    # Carried evidence: a step at 5 % (both tracks at 0.5 %), then one at 50 % during a dependency
    # incident (both tracks at 20 %). Pooled, the canary's requests come mostly from the incident
    # and the stable's from before it: 18 % against 7 %, a false rollback. By step, the same.
    design = Design(alpha=0.003)
    before = (Counts(500, 2), Counts(9500, 47))
    incident = (Counts(5000, 1000), Counts(5000, 1000))
    pooled = (Counts(5500, 1002), Counts(14500, 1047))
    assert weigh(*same(*pooled), design, ERRORS).decision is Decision.REJECT
    stratified = weigh(*same(*incident), design, ERRORS, earlier=[before])
    assert stratified.decision is not Decision.REJECT and stratified.log_mixture < 0
    # What is shown adds the strata up: the canary's and the stable's shares over the release.
    assert stratified.canary_share == pytest.approx(1002 / 5500)
    assert stratified.reference_share == pytest.approx(1047 / 14500)
    # A canary worse in every stratum is still rejected.
    worse = weigh(*same(Counts(5000, 2500), Counts(5000, 1000)), design, ERRORS, earlier=[before])
    assert worse.decision is Decision.REJECT


def test_each_decision_uses_its_own_alignment() -> None:
    design = Design()
    # The canary's last scrape shows 40 errors the stable's last scrape cannot show yet: only the
    # counts up to the stable's scrape (8 errors) may reject, and they do not.
    aligned = (Counts(800, 8), Counts(15000, 75))
    latest = (Counts(1000, 48), Counts(15000, 75))
    assert weigh(aligned, latest, design, ERRORS).decision is Decision.CONTINUE
    # A baseline with nothing counted yet at one alignment gives no evidence for that decision,
    # and the canary is never compared with the acceptable rate instead (no false rollback
    # from a stable scraped later than the canary).
    early = weigh((Counts(30, 3), Counts(0, 0)), (Counts(30, 3), Counts(0, 0)), design, ERRORS)
    assert (early.decision, early.reference, early.log_mixture) == (Decision.CONTINUE, "baseline", 0.0)


def test_without_baseline_the_canary_is_compared_with_the_acceptable_share() -> None:
    design = Design()
    evidence = weigh(*same(Counts(500, 40), None), design, ERRORS)
    assert (evidence.decision, evidence.reference, evidence.reference_share) == (
        Decision.REJECT,
        "acceptable",
        0.01,
    )
    with pytest.raises(ValueError):
        weigh(*same(Counts(0, 0), None), design, ERRORS)


def test_a_baseline_without_errors_counts_as_its_floor() -> None:
    # One canary error against a perfect stable is not, by itself, a rollback.
    evidence = weigh(*same(Counts(1000, 1), Counts(19000, 0)), Design(), ERRORS)
    assert evidence.reference_share == 0.001
    assert evidence.decision is not Decision.REJECT


def _false_rejections(runs: int, looks: int, seed: int) -> int:
    """The canary and the baseline at the same error rate, weighed after every batch of traffic."""
    rng = random.Random(seed)
    design = Design(alpha=0.01)
    rejected = 0
    for _ in range(runs):
        c_n = c_e = b_n = b_e = 0.0
        for look in range(looks):
            c_n += 50
            b_n += 950
            c_e += sum(rng.random() < 0.005 for _ in range(50))
            b_e += sum(rng.random() < 0.005 for _ in range(950)) if look % 2 == 0 else 5
            counts = same(Counts(c_n, c_e), Counts(b_n, b_e))
            if weigh(*counts, design, ERRORS).decision is Decision.REJECT:
                rejected += 1
                break
    return rejected


def test_looking_often_keeps_the_false_rollback_rate_below_alpha() -> None:
    # Ville's inequality: at most alpha (1 % here) however often the test is looked at.
    assert _false_rejections(runs=300, looks=30, seed=8) <= 3


# --- judging a check ---------------------------------------------------------------------------


def track(*series: tuple[dict[str, str], list[tuple[float, float]]], error: str | None = None) -> Track:
    found = Ledger(0.0)
    found.merge([Series(labels, tuple(points)) for labels, points in series], until=100)
    return Track(found, error)


def test_judge_sequential_outcomes() -> None:
    design = Design()
    check = SequentialCheck("err", "q", "error-rate", ERRORS)
    down = "Prometheus unreachable at http://p: connection refused"
    result, state = judge_sequential(check, track(error=down), None, design, "inconclusive", now=30)
    assert (result.status, result.detail, state) == ("inconclusive", down, None)
    result, state = judge_sequential(check, track(), None, design, "fail", now=30)
    assert result.status == "fail" and result.detail.endswith("on_no_data: fail") and state is None
    canary = track(({"code": "200"}, [(10, 480)]), ({"code": "500"}, [(10, 20)]))
    stable = track(({"code": "200"}, [(-5, 10_000), (10, 19_950)]), ({"code": "500"}, [(-5, 50), (10, 100)]))
    result, state = judge_sequential(
        check, canary, stable, design, "inconclusive", now=12, baseline_label="stable"
    )
    assert result.status == "fail" and state is not None and state.decision is Decision.REJECT
    assert result.detail.startswith("error rate 4 % (20 of 500) vs stable 0.5 % (50 of 1e+04): evidence ")
    assert result.detail.endswith("at least 3x worse (error probability 0.01)")
    # The canary stopped being scraped: its old counts are no current evidence.
    result, state = judge_sequential(check, canary, stable, design, "inconclusive", now=200)
    assert (result.status, result.detail, state) == (
        "inconclusive",
        "no new canary sample for 190 s (stale)",
        None,
    )


def test_judge_latency_by_the_share_slower_than_the_limit() -> None:
    design = Design()
    slow = Reference(floor=0.01, acceptable=0.05 / 3)
    check = SequentialCheck("p95", "q", "latency", slow, limit=2.0)
    buckets = [("1.0", 40.0), ("2.5", 70.0), ("5.0", 95.0), ("+Inf", 100.0)]
    canary = track(*(({"le": le}, [(10.0, count)]) for le, count in buckets))
    result, state = judge_sequential(check, canary, None, design, "inconclusive", now=12)
    # 2 s is no bucket bound: requests slower than 2.5 s count (never one within the limit).
    assert state is not None and state.slower_than == 2.5 and state.canary_bad == 30
    assert result.status == "fail" and result.detail.startswith(
        "slower than 2.5 s 30 % (30 of 100) vs acceptable"
    )
    without = track(({"le": "1.0"}, [(10, 40.0)]), ({"le": "+Inf"}, [(10, 100.0)]))
    result, state = judge_sequential(check, without, None, design, "inconclusive", now=12)
    assert result.status == "inconclusive" and state is None
    assert result.detail.startswith("no latency histogram bucket at or above 2 s")


# --- the spec ------------------------------------------------------------------------------------


def test_spec_defaults_by_mode() -> None:
    spec = parse_spec({"prometheus": PROM, "checks": [{"name": "e", "template": "error-rate"}]})
    assert (spec.mode, spec.duration, spec.inconclusive_limit, spec.max_hold) == ("sequential", 300, 30, 300)
    assert (spec.min_duration, spec.max_duration, spec.on_undecided) == (60, 1200, "pass")
    settings = spec.sequential
    assert (settings.error_probability, settings.early_pass_error_probability) == (0.003, 0.01)
    assert settings.baseline_version == "stable" and settings.min_slow_share == 0.01
    assert spec_to_data(spec) == {"prometheus": PROM, "checks": [{"name": "e", "template": "error-rate"}]}
    short = parse_spec({**spec_to_data(spec), "duration": 30})
    assert (short.min_duration, short.max_duration) == (30, 120)
    assert spec_to_data(short) == {**spec_to_data(spec), "duration": 30}  # derived, not stored
    old = parse_spec({"mode": "threshold", "probes": [{"url": "http://a"}]})
    assert (old.duration, old.inconclusive_limit, old.max_evaluations) == (60, 3, 7)
    explicit = parse_spec(
        {"interval": 5, "inconclusive_limit": 4, "max_duration": 600, "probes": [{"url": "http://a"}]}
    )
    assert explicit.inconclusive_limit == 4
    assert parse_spec(spec_to_data(explicit)) == explicit


def test_which_checks_are_sequential() -> None:
    checks = [
        {"name": "e", "template": "error-rate", "params": CANARY},
        {"name": "avg", "template": "latency-avg", "params": CANARY, "max": 2},
        {"name": "p95", "template": "latency-p95", "params": CANARY, "max": 5},
        {"name": "avg-live", "template": "latency-avg", "params": {"app": "web"}, "max": 2},
        {"name": "p99-live", "template": "latency-p99", "params": {"app": "web"}},
        {"name": "cpu", "template": "cpu"},
    ]
    spec = parse_spec({"prometheus": PROM, "checks": checks})
    assert [spec.sequential_kind(c) for c in spec.checks] == [
        "error-rate",
        "latency",
        "latency",
        None,
        "latency",
        None,
    ]
    p99 = plan(spec, spec.checks[4])
    # Without a baseline, the share the check allows (1 % slower than max for a p99) is what
    # the test must catch: min_ratio times the acceptable share.
    assert p99.baseline is None and p99.check.reference.acceptable == pytest.approx(0.01 / 3)
    p95 = plan(spec, spec.checks[2])
    assert p95.canary == 'http_request_duration_seconds_bucket{namespace="prod",app="web",version="canary"}'
    assert p95.baseline == 'http_request_duration_seconds_bucket{namespace="prod",app="web",version="stable"}'
    assert (
        plan(spec, spec.checks[0]).canary
        == 'http_requests_total{namespace="prod",app="web",version="canary"}'
    )
    threshold = parse_spec({"mode": "threshold", "prometheus": PROM, "checks": checks})
    assert {threshold.sequential_kind(c) for c in threshold.checks} == {None}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"sequential": {"error_probability": 0.5}},
            "sequential.error_probability: Input should be less than or equal to 0.2, got 0.5",
        ),
        ({"sequential": {"min_ratio": 1}}, "sequential.min_ratio: Input should be greater than 1, got 1"),
        ({"sequential": {"min_ratoi": 2}}, "sequential.min_ratoi: unknown field; did you mean 'min_ratio'?"),
        (
            {"sequential": {"acceptable_error_rate": 0.5}},
            "sequential.acceptable_error_rate: times min_ratio (3) must be below 1, got 0.5",
        ),
        (
            {"sequential": {"min_slow_share": 0}},
            "sequential.min_slow_share: Input should be greater than 0, got 0",
        ),
        ({"sequential": {"baseline_version": " "}}, "sequential.baseline_version: must not be empty"),
        (
            {"sequential": {"accept_ratio": 2}},
            "sequential.accept_ratio: must be at least min_ratio (3), got 2",
        ),
        ({"mode": "sprt"}, "mode: Input should be 'sequential' or 'threshold'"),
        ({"max_hold": -1}, "max_hold: Input should be greater than or equal to 0, got -1"),
        ({"max_duration": 200}, "max_duration: must be at least duration (300), got 200"),
        ({"min_duration": 400}, "min_duration: must not exceed duration (300), got 400"),
        ({"on_undecided": "rollback"}, "on_undecided: Input should be 'pass' or 'fail', got 'rollback'"),
    ],
)
def test_bad_sequential_settings_name_the_field(data: dict[str, Any], expected: str) -> None:
    found = problems({"probes": [{"url": "http://a"}], **data})
    assert any(p.startswith(expected) for p in found), found


# --- the runner on a virtual clock -----------------------------------------------------------

SLOW_AT = {"0.25": 0.0, "1.0": 0.0, "2.5": 0.0, "5.0": 0.0, "+Inf": 0.0}
"""Share of requests slower than each ``le`` for a fast app (cumulative buckets: 1 - this)."""


class World:
    """A fake Prometheus for one canary pod (``version="canary"``, new at 0) and one stable pod
    (running for long), each scraped every 5 s at its own phase. Counts grow linearly with time:
    5 canary and 95 stable requests/s at the given error rates and shares slower than each
    bucket. ``down``: seconds with Prometheus down (queries error, nothing scraped)."""

    def __init__(
        self,
        canary_error: float,
        down: tuple[float, float] = (-1, -1),
        canary_rate: float = 5.0,
        canary_slow: dict[str, float] | None = None,
    ) -> None:
        self.now = 0.0
        self.canary_error, self.down, self.canary_rate = canary_error, down, canary_rate
        self.canary_slow = canary_slow or SLOW_AT
        self.fetches: list[str] = []

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def runtime(self, **extra: Any) -> GateRuntime:
        """A gate runtime on this world's clock and Prometheus, evaluating serially."""
        return GateRuntime(
            query=self.query,
            samples=self.samples,
            monotonic=lambda: self.now,
            sleep=self.sleep,
            wall=lambda: datetime.fromtimestamp(self.now, UTC),
            concurrent=False,
            **extra,
        )

    def query(self, promql: str) -> QueryResult:
        if self.down[0] <= self.now < self.down[1]:
            return QueryResult(QueryOutcome.ERROR, (), "Prometheus unreachable")
        # Threshold checks (mode: threshold, or a latency average without a baseline).
        return QueryResult(QueryOutcome.OK, (0.001 if 'code=~"5.."' in promql else 0.1,))

    def _scrapes(self, phase: float, since: float, start: float, end: float) -> list[float]:
        times = [
            phase + 5 * k for k in range(math.ceil((since - phase) / 5), math.floor((end - phase) / 5) + 1)
        ]
        return [t for t in times if t > start and not (self.down[0] <= t < self.down[1])]

    def samples(self, selector: str, start: float, end: float) -> SeriesResult:
        self.fetches.append(selector)
        if self.down[0] <= self.now < self.down[1]:
            return SeriesResult(QueryOutcome.ERROR, (), "Prometheus unreachable")
        stable = 'version="stable"' in selector
        rate, error, slow = (
            (95.0, 0.005, SLOW_AT) if stable else (self.canary_rate, self.canary_error, self.canary_slow)
        )
        since = -600.0 if stable else 0.0
        times = self._scrapes(3.0 if stable else 1.0, since, start, min(end, self.now))
        served = {t: rate * (t - since) for t in times}
        if selector.startswith("http_requests_total"):
            columns = {("code", "200"): 1 - error, ("code", "500"): error}
        else:
            columns = {("le", le): 1 - share for le, share in slow.items()}
        series = tuple(
            Series(dict([label]), tuple((t, served[t] * part) for t in times))
            for label, part in columns.items()
        )
        if not times:
            return SeriesResult(QueryOutcome.NO_DATA, (), "empty result")
        return SeriesResult(QueryOutcome.OK, series)


def gate_spec(**overrides: Any) -> Any:
    return parse_spec(
        {
            "prometheus": PROM,
            "checks": [
                {"name": "errors", "template": "error-rate", "params": CANARY},
                {"name": "latency", "template": "latency-avg", "params": CANARY, "max": 2},
            ],
            **overrides,
        }
    )


def run(world: World, **overrides: Any) -> Any:
    return run_gate(gate_spec(**overrides), world.runtime())


def test_a_bad_canary_fails_at_once_on_rejection() -> None:
    report = run(World(canary_error=0.05))
    assert report.verdict.status == "fail"
    assert report.verdict.deciding == "check errors"
    assert re.match(
        r"check errors: error rate 5 % \(.* vs stable 0\.5 % .*at least 3x worse", report.verdict.reason
    )
    assert report.evaluations[-1].offset <= 30  # no failure_limit streak needed
    assert report.evaluations[-1].sequential[0].decision is Decision.REJECT


def test_a_latency_regression_fails_on_the_share_slower_than_the_limit() -> None:
    # 40 % of the canary's requests slower than 2.5 s (the bucket at or above the 2 s limit).
    regressed = {"0.25": 1.0, "1.0": 0.9, "2.5": 0.4, "5.0": 0.05, "+Inf": 0.0}
    report = run(World(canary_error=0.005, canary_slow=regressed))
    assert report.verdict.status == "fail" and report.verdict.deciding == "check latency"
    assert re.match(
        r"check latency: slower than 2\.5 s 40 % \(.* vs stable 1 % \(0 of .*; floor 1 %\)",
        report.verdict.reason,
    )
    assert report.evaluations[-1].offset <= 30


def test_a_healthy_canary_passes_early_once_accepted() -> None:
    report = run(World(canary_error=0.005))
    assert report.verdict.status == "pass"
    assert report.verdict.reason.startswith("passed early at +")
    assert "not 3x worse" in report.verdict.reason
    assert report.evaluations[-1].offset < 300
    # Warming up (no scrape yet) neither fails nor extends the gate.
    assert report.evaluations[0].status == "inconclusive"


def test_an_accept_ratio_passes_on_less_evidence_and_still_rejects_at_min_ratio() -> None:
    # An intermediate step of an auto schedule only rules out a canary ten times worse.
    slow = World(canary_error=0.005, canary_rate=2)
    full, gross = run(slow), run(World(canary_error=0.005, canary_rate=2), sequential={"accept_ratio": 10})
    assert gross.verdict.status == "pass" and "not 10x worse" in gross.verdict.reason
    assert gross.evaluations[-1].offset < full.evaluations[-1].offset
    # Rejection is the full test's: 5 % against 0.5 % still fails.
    bad = run(World(canary_error=0.05), sequential={"accept_ratio": 10})
    assert bad.verdict.status == "fail" and "at least 3x worse" in bad.verdict.reason


def test_no_early_pass_before_min_duration() -> None:
    # As much canary traffic as stable: accepted at 40 s, but a failure that starts later (the
    # benchmark's flapping release bursts at 30 s) needs time to show.
    busy = World(canary_error=0.005, canary_rate=95)
    assert run(busy, min_duration=0).verdict.reason.startswith("passed early at +40 s")
    assert run(World(canary_error=0.005, canary_rate=95)).verdict.reason.startswith("passed early at +60 s")


def test_fetches_read_only_the_series_the_tests_need() -> None:
    world = World(canary_error=0.005)
    run(world)
    assert set(world.fetches) == {
        'http_requests_total{namespace="prod",app="web",version="canary"}',
        'http_requests_total{namespace="prod",app="web",version="stable"}',
        'http_request_duration_seconds_bucket{namespace="prod",app="web",version="canary"}',
        'http_request_duration_seconds_bucket{namespace="prod",app="web",version="stable"}',
    }


def test_an_outage_is_held_not_failed_and_extends_the_gate() -> None:
    world = World(canary_error=0.005, down=(20, 140), canary_rate=0.01)  # too little to decide
    report = run(world, max_duration=300)
    statuses = [e.status for e in report.evaluations]
    assert statuses.count("inconclusive") >= 12
    # 300 s + 130 s held: 20..130 s down, and at 140 s the newest canary sample is still from
    # before the outage (the next scrape is at 141 s).
    assert report.evaluations[-1].offset == 430
    assert report.verdict.status == "pass" and report.verdict.reason.startswith("undecided at +430 s")
    # In threshold mode the same outage fails the gate after 3 inconclusive evaluations.
    threshold = run(World(canary_error=0.005, down=(20, 140)), mode="threshold")
    assert threshold.verdict.status == "inconclusive"
    assert "3 consecutive inconclusive evaluations (inconclusive_limit 3)" in threshold.verdict.reason


def test_holding_is_bounded_and_never_passes_without_evidence() -> None:
    report = run(World(canary_error=0.005, down=(0, 10_000)), max_hold=60)
    assert report.verdict.status == "inconclusive"
    assert "inconclusive_limit 6" in report.verdict.reason
    assert len(report.evaluations) == 6


@pytest.mark.parametrize("on_undecided", ["pass", "fail"])
def test_undecided_at_the_duration_keeps_watching_up_to_max_duration(on_undecided: str) -> None:
    # One canary request a minute: no test can decide in 5 minutes, nor in 10.
    report = run(World(canary_error=0.005, canary_rate=1 / 60), max_duration=600, on_undecided=on_undecided)
    assert report.evaluations[-1].offset == 600  # not 300: the duration ended undecided
    assert report.verdict.status == on_undecided
    assert report.verdict.reason.startswith(
        "undecided at +600 s (max_duration 600 s): check errors: error rate "
    )
    assert report.verdict.reason.endswith(f"on_undecided: {on_undecided}")
    assert report.verdict.deciding == ("" if on_undecided == "pass" else "check errors")


@pytest.mark.parametrize(
    "world",
    [World(canary_error=0.005, down=(0, 10_000)), World(canary_error=0.005, canary_rate=0)],
    ids=["prometheus-never-answers", "no-canary-request"],
)
def test_a_test_without_any_evidence_is_inconclusive_whatever_on_undecided_says(world: World) -> None:
    # A short gate, watched past its duration up to max_duration (before inconclusive_limit):
    # every evaluation inconclusive, or every count zero. on_undecided: pass must not pass that.
    report = run(world, duration=6, max_duration=12, interval=2, min_duration=0, on_undecided="pass")
    assert report.verdict.status == "inconclusive", report.verdict.reason
    assert report.verdict.reason.startswith("no evidence at +12 s (max_duration 12 s): check errors: ")
    assert "on_undecided applies only to a test that had data" in report.verdict.reason
    assert report.verdict.deciding == "check errors"


def test_a_gate_continuing_an_earlier_steps_evidence_decides_sooner() -> None:
    # A healthy canary at one request/s, its previous step (same image) judged from 0 to 300 s.
    # This step starts at 300 s: afresh it needs its own few hundred requests; carried, the first
    # step's count is already most of the way.
    def step(carried: tuple[float, ...]) -> Any:
        world = World(canary_error=0.005, canary_rate=1.0)
        world.now = 300.0
        runtime = world.runtime()
        runtime.carried = carried
        return run_gate(gate_spec(max_duration=1200), runtime)

    afresh, carried = step(()), step((0.0,))
    assert afresh.verdict.status == carried.verdict.status == "pass"
    assert carried.evaluations[-1].offset < afresh.evaluations[-1].offset
    assert carried.counted_since == "1970-01-01T00:00:00.000Z" and afresh.counted_since is None
    first = carried.evaluations[0].sequential[0]
    assert first.canary_requests >= 250  # the previous step's requests, counted from the start
    assert (
        "Evidence carried from an earlier step of this release: requests counted since 1970-01-01T00:00:00.000Z"
        in (to_markdown(carried))
    )


def test_the_report_states_the_mode_and_the_evidence() -> None:
    report = run(World(canary_error=0.05))
    document = json.loads(to_json(report))
    assert document["schema"] == 2
    settings = document["settings"]
    assert (settings["mode"], settings["max_duration"], settings["on_undecided"]) == (
        "sequential",
        1200,
        "pass",
    )
    assert [c["decision"] for c in settings["checks"]] == ["sequential", "sequential"]
    last = document["evaluations"][-1]["sequential"][0]
    assert (last["kind"], last["decision"], last["reference"]) == ("error-rate", "reject", "baseline")
    assert last["canary_requests"] > 0 and last["canary_bad"] > 0
    assert (
        "- Mode: sequential (error probabilities 0.003 / 0.01, min_ratio 3, max_hold 300 s, min_duration 60 s, max_duration 1200 s, on_undecided pass)"
        in to_markdown(report)
    )
