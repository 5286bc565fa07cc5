"""The gate loop: evaluate at 0, interval, 2*interval, ... up to duration; stop early once a
streak reaches its limit, or (``mode: sequential``) once a sequential test decides. In sequential
mode the duration is extended by the time spent inconclusive, up to ``max_hold``, and, while a
sequential test is undecided, up to ``max_duration`` (then ``on_undecided`` decides). Bounded in
count (``spec.max_evaluations``) and in time (no evaluation starts after the (extended) end plus
one interval of slack; each probe, query and fetch has its own timeout).

Everything with side effects is injected through ``GateRuntime`` (probes, queries, sample
fetches, clocks, sleep, progress and notifications), so tests and benchmarks can run on a virtual
clock. ``build_runtime`` wires the real ones from a spec and its secrets.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime

from credentials import redact
from gates.counts import Ledger
from gates.decision import (
    SequentialCheck,
    Streaks,
    Track,
    early_pass,
    final_verdict,
    judge_check,
    judge_evaluation,
    judge_sequential,
    limit_reached,
    sequential_rejection,
    undecided,
    undecided_verdict,
)
from gates.load import Load, start_load
from gates.notify import Alert, Notifier
from gates.probes import probe_all
from gates.progress import Progress
from gates.prometheus import PrometheusClient, SeriesResult
from gates.report import GateReport
from gates.results import (
    CheckResult,
    Evaluation,
    Failure,
    ProbeResult,
    QueryOutcome,
    QueryResult,
    SequentialResult,
    Status,
    Verdict,
)
from gates.sequential import Design, Reference
from gates.spec import LATENCY_QUANTILES, CheckSpec, GateSpec, LoadSpec, ProbeSpec
from gates.templates import BUCKETS_METRIC, REQUESTS_METRIC, selector

Prober = Callable[[Sequence[ProbeSpec]], list[ProbeResult]]
Querier = Callable[[str], QueryResult]
Sampler = Callable[[str, float, float], SeriesResult]
"""``samples(selector, start, end)``: the raw samples of the series ``selector`` matches in
(start, end], in Prometheus (unix) time."""


@dataclass(frozen=True)
class Secrets:
    """Credentials for one run. Never printed (``repr`` masks them) and never stored."""

    prometheus_token: str | None = field(default=None, repr=False)
    webhook_url: str | None = field(default=None, repr=False)

    def values(self) -> tuple[str, ...]:
        return tuple(v for v in (self.prometheus_token, self.webhook_url) if v)


def secrets_from_env(spec: GateSpec, env: Mapping[str, str] | None = None) -> Secrets:
    """Read the credentials the spec names from the environment (missing ones stay None)."""
    env = os.environ if env is None else env
    token = (
        env.get(spec.prometheus.bearer_token_env)
        if spec.prometheus and spec.prometheus.bearer_token_env
        else None
    )
    url = env.get(spec.notify.url_env) if spec.notify else None
    return Secrets(token or None, url or None)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class GateRuntime:
    """The side effects of a run. Defaults are the real ones; tests replace any of them."""

    probe: Prober = probe_all
    query: Querier | None = None
    """Runs one PromQL instant query; required when the spec has checks."""
    samples: Sampler | None = None
    """Fetches raw counter samples; required when the spec has sequential checks."""
    start_load: Callable[[LoadSpec, Sequence[ProbeSpec], float], Load] = start_load
    """Starts the spec's synthetic load (``load``) for a gate that runs at most that many seconds."""
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    wall: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    on_evaluation: Callable[[Evaluation, Streaks], None] | None = None
    on_progress: Callable[[Progress], None] | None = None
    """Called after each evaluation with where the run stands (gates/progress.py)."""
    notifier: Notifier | None = None
    log: Callable[[str], None] = field(default=lambda _line: None)
    concurrent: bool = True
    """Run an evaluation's queries in parallel threads; False runs them one after another in the
    calling thread (for virtual-clock runs whose queries return at once, e.g. bench/)."""
    carried: tuple[float, ...] = ()
    """When this gate continues the evidence of earlier steps judging the same canary, the edges
    of its strata (Prometheus unix time): the first step's gate start, then the end of each earlier
    step's gate (the weight moves only after a gate passed). The sequential tests count requests
    from the first edge, each step a stratum (gates/sequential.py). Empty: from its own start.
    One test over the whole release: see docs/gates.md, "Evidence carried across steps"."""


def build_runtime(
    spec: GateSpec, secrets: Secrets, *, log: Callable[[str], None] | None = None
) -> GateRuntime:
    """The real runtime for ``spec``: HTTP probes, a Prometheus client and the webhook, if any."""
    runtime = GateRuntime(log=log or (lambda _line: None))
    if spec.prometheus is not None:
        client = PrometheusClient(
            spec.prometheus.url,
            timeout=spec.prometheus.timeout,
            token=secrets.prometheus_token,
            verify_tls=spec.prometheus.verify_tls,
        )
        runtime.query = client.query
        runtime.samples = client.query_samples
    if spec.notify is not None and secrets.webhook_url:
        runtime.notifier = Notifier(
            secrets.webhook_url, spec.notify.kind, timeout=spec.notify.timeout, log=runtime.log
        )
    elif spec.notify is not None:
        runtime.log(f"notify: no webhook URL (set {spec.notify.url_env}); notifications are off")
    return runtime


def _query_timeout(spec: GateSpec) -> float:
    return 2 * (spec.prometheus.timeout if spec.prometheus else 5.0) + 1


def is_sequential(spec: GateSpec, check: CheckSpec) -> bool:
    """Whether ``check`` is judged by a sequential test."""
    return spec.sequential_kind(check) is not None


def design(spec: GateSpec) -> Design:
    settings = spec.sequential
    return Design(
        alpha=settings.error_probability,
        beta=settings.early_pass_error_probability,
        min_ratio=settings.min_ratio,
        accept_ratio=settings.accept_ratio,
    )


@dataclass(frozen=True)
class Plan:
    """A sequential check and the series it reads: the canary's and its baseline's (if any)."""

    check: SequentialCheck
    canary: str
    baseline: str | None


def plan(spec: GateSpec, check: CheckSpec) -> Plan:
    """What the sequential test of ``check`` reads and compares with (see gates/sequential.py)."""
    kind = spec.sequential_kind(check)
    if kind is None:
        raise ValueError(f"check {check.name} is not sequential")
    settings = spec.sequential
    base = spec.baseline_params(check)
    if kind == "error-rate":
        metric = REQUESTS_METRIC
        reference = Reference(settings.min_error_rate, settings.acceptable_error_rate)
        limit = None
    else:
        metric = BUCKETS_METRIC
        quantile = LATENCY_QUANTILES[str(check.template)]
        # Without a baseline the test's alternative is the check's own limit being exceeded:
        # a share slower than max of 1 - q (for p95: 5 %), min_ratio times the acceptable one.
        acceptable = (1 - quantile) / settings.min_ratio if quantile is not None else settings.min_slow_share
        reference = Reference(settings.min_slow_share, acceptable)
        limit = check.limits[0]
    canary = selector(metric, check.string_params)
    return Plan(
        SequentialCheck(check.name, canary, kind, reference, limit),
        canary,
        selector(metric, base) if base is not None else None,
    )


class SequentialState:
    """The samples a run's sequential checks have read so far, per selector."""

    def __init__(self, start: float, carried: tuple[float, ...] = ()) -> None:
        self.start = start
        """The gate's start in Prometheus (unix) time."""
        self.since = min(carried[0], start) if carried else start
        """Where the counts start: the gate's start, or the first earlier step's (carried evidence)."""
        self.boundaries = tuple(t for t in carried[1:] if self.since < t <= start)
        """Where each later stratum starts; the last is this step's."""
        self.ledgers: dict[str, Ledger] = {}

    def ledger(self, series: str) -> Ledger:
        if series not in self.ledgers:
            self.ledgers[series] = Ledger(self.since, self.boundaries)
        return self.ledgers[series]


def _run_all(
    spec: GateSpec, pool: ThreadPoolExecutor | None, calls: Mapping[str, Callable[[], QueryResult]]
) -> dict[str, QueryResult]:
    """Run every call (in ``pool`` if any); a broken or late call is an error outcome, not a crash."""

    def failed(error: Exception) -> QueryResult:
        return QueryResult(QueryOutcome.ERROR, (), f"query failed ({type(error).__name__})")

    results: dict[str, QueryResult] = {}
    if pool is None:
        for key, call in calls.items():
            try:
                results[key] = call()
            except Exception as error:
                results[key] = failed(error)
        return results
    futures = [(key, pool.submit(call)) for key, call in calls.items()]
    for key, future in futures:
        try:
            results[key] = future.result(timeout=_query_timeout(spec))
        except FutureTimeout:
            results[key] = QueryResult(QueryOutcome.ERROR, (), "query did not return in time")
        except Exception as error:
            results[key] = failed(error)
    return results


def _queries(runtime: GateRuntime, promqls: list[str]) -> dict[str, Callable[[], QueryResult]]:
    query = runtime.query
    if query is None:
        return {q: lambda: QueryResult(QueryOutcome.ERROR, (), "no Prometheus configured") for q in promqls}
    return {q: functools.partial(query, q) for q in dict.fromkeys(promqls)}


def _fetches(
    runtime: GateRuntime, state: SequentialState, selectors: list[str], now: float
) -> dict[str, Callable[[], QueryResult]]:
    """One fetch per selector of what is new since its previous fetch, merged into its ledger; the
    answer only says whether it worked (the samples are in the ledger)."""
    sampler = runtime.samples

    def fetch(ledger: Ledger, series: str) -> QueryResult:
        if sampler is None:
            return QueryResult(QueryOutcome.ERROR, (), "no Prometheus configured")
        start, end = ledger.fetch_range(now)
        answer = sampler(series, start, end)
        if answer.outcome is QueryOutcome.ERROR:
            return QueryResult(QueryOutcome.ERROR, (), answer.detail or "query failed")
        ledger.merge(answer.series, end)
        return QueryResult(QueryOutcome.OK)

    # Ledgers are created here, before any thread runs: each fetch then touches only its own.
    return {
        f"samples:{series}": functools.partial(fetch, state.ledger(series), series)
        for series in dict.fromkeys(selectors)
    }


def evaluate(
    spec: GateSpec, runtime: GateRuntime, index: int, offset: float, state: SequentialState | None = None
) -> Evaluation:
    """One evaluation: every probe and every check, all at once."""
    started_at = _utc(runtime.wall())
    state = state or SequentialState(runtime.wall().timestamp() - offset, runtime.carried)
    now = state.start + offset
    plans = {check.name: plan(spec, check) for check in spec.checks if is_sequential(spec, check)}
    promqls = [check.promql for check in spec.checks if check.name not in plans]
    selectors = [s for p in plans.values() for s in (p.canary, p.baseline) if s is not None]
    calls = {**_queries(runtime, promqls), **_fetches(runtime, state, selectors, now)}
    workers = min(len(calls), 16) + 1
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gate") if runtime.concurrent else None
    try:
        probes_future = pool.submit(runtime.probe, spec.probes) if spec.probes and pool is not None else None
        answers = _run_all(spec, pool, calls)
        checks: list[CheckResult] = []
        sequential: list[SequentialResult] = []
        test = design(spec)
        for check in spec.checks:
            if check.name in plans:
                planned = plans[check.name]

                def track(series: str) -> Track:
                    answer = answers[f"samples:{series}"]
                    error = answer.detail if answer.outcome is QueryOutcome.ERROR else None
                    return Track(state.ledger(series), error)

                check_result, result = judge_sequential(
                    planned.check,
                    track(planned.canary),
                    track(planned.baseline) if planned.baseline is not None else None,
                    test,
                    spec.on_no_data,
                    now,
                    baseline_label=spec.sequential.baseline_version or "baseline",
                )
                checks.append(check_result)
                if result is not None:
                    sequential.append(result)
                continue
            maximum, minimum = check.limits
            checks.append(
                judge_check(
                    check.name, check.promql, answers[check.promql], maximum, minimum, spec.on_no_data
                )
            )
        probes: list[ProbeResult] = []
        if spec.probes:
            bound = 2 * max(p.timeout for p in spec.probes) + 2
            try:
                probes = probes_future.result(timeout=bound) if probes_future else runtime.probe(spec.probes)
            except FutureTimeout:
                probes = [
                    ProbeResult(
                        redact(p.url),
                        Status.FAIL,
                        p.response_limit,
                        None,
                        None,
                        "probe did not return in time",
                        Failure.TIMEOUT,
                    )
                    for p in spec.probes
                ]
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
    status, reason, _ = judge_evaluation(probes, checks)
    return Evaluation(
        index, offset, started_at, status, reason, tuple(probes), tuple(checks), tuple(sequential)
    )


def run_gate(spec: GateSpec, runtime: GateRuntime) -> GateReport:
    """Run the gate to its verdict (with its synthetic load, if any, from start to end)."""
    load = None
    if spec.load is not None:
        load = runtime.start_load(spec.load, spec.probes, (spec.max_evaluations + 1) * spec.interval)
    try:
        report = _run(spec, runtime)
    finally:
        stats = load.stop() if load is not None else None
    report.load = stats
    return report


def _run(spec: GateSpec, runtime: GateRuntime) -> GateReport:
    started_at = _utc(runtime.wall())
    start = runtime.monotonic()
    state = SequentialState(runtime.wall().timestamp(), runtime.carried)
    sequential_checks = [check.name for check in spec.checks if is_sequential(spec, check)]
    tests = len(sequential_checks)
    evaluations: list[Evaluation] = []
    streaks = Streaks()
    verdict: Verdict | None = None
    held = 0.0
    warming_up = True
    end = spec.duration
    watching = False
    for k in range(spec.max_evaluations):
        target = k * spec.interval
        if target > end + 1e-9:
            break
        offset = runtime.monotonic() - start
        if offset < target:
            runtime.sleep(target - offset)
            offset = runtime.monotonic() - start
        deadline = end + spec.interval
        if offset > deadline:
            runtime.log(f"stopping: evaluations ran late ({offset:.1f} s > {deadline:.1f} s)")
            break
        evaluation = evaluate(spec, runtime, k + 1, offset, state)
        evaluations.append(evaluation)
        streaks = streaks.after(evaluation.status)
        if evaluation.status is not Status.INCONCLUSIVE:
            warming_up = False
        elif spec.sequential_mode and not warming_up:
            # Hold: no evidence either way, so the gate watches that much longer (up to max_hold).
            # Not while warming up (no scrape of the new traffic yet): the counts cover the gate's
            # whole elapsed time, so nothing from those first seconds is lost.
            held += spec.interval
        verdict = (
            sequential_rejection(evaluation)
            or limit_reached(streaks, evaluation, spec.failure_limit, spec.inconclusive_limit)
            or (
                early_pass(evaluations, tests, spec.failure_limit)
                if spec.sequential_mode and offset >= spec.min_duration - 1e-9
                else None
            )
        )
        extra = min(held, spec.max_hold) if spec.sequential_mode else 0.0
        names = undecided(evaluation, sequential_checks) if spec.sequential_mode else []
        if verdict is None:
            # No promotion without evidence: past the duration, an undecided test keeps the gate
            # watching until it decides, up to max_duration.
            watching = bool(names)
            end = (spec.max_duration if watching else spec.duration) + extra
        if runtime.on_evaluation is not None:
            runtime.on_evaluation(evaluation, streaks)
        if runtime.on_progress is not None:
            runtime.on_progress(Progress(evaluation, streaks, extra, tuple(names)))
        if runtime.notifier is not None and evaluation.status is not Status.PASS:
            _, _, cause = judge_evaluation(evaluation.probes, evaluation.checks)
            runtime.notifier.send(
                Alert(spec.name, evaluation.status, cause, evaluation.reason, evaluation.index)
            )
        if verdict is not None:
            break
    if verdict is None:
        names = undecided(evaluations[-1], sequential_checks) if evaluations else []
        if watching and names and evaluations[-1].offset > spec.duration + 1e-9:
            verdict = undecided_verdict(evaluations, names, spec.max_duration, spec.on_undecided)
        else:
            verdict = final_verdict(evaluations, end)
    if runtime.notifier is not None:
        runtime.notifier.send(Alert(spec.name, verdict.status, "verdict", verdict.reason, final=True))
    return GateReport(
        spec=spec,
        started_at=started_at,
        ended_at=_utc(runtime.wall()),
        verdict=verdict,
        evaluations=evaluations,
        notifications=runtime.notifier.stats if runtime.notifier is not None else None,
        counted_since=_utc(datetime.fromtimestamp(state.since, UTC)) if state.since < state.start else None,
    )
