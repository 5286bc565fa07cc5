"""The gate loop: evaluate at 0, interval, 2*interval, ... up to duration; stop early once a
streak reaches its limit, or (``mode: sequential``) once a sequential test decides. In sequential
mode the duration is extended by the time spent inconclusive, up to ``max_hold``. Bounded in count
(``spec.max_evaluations``) and in time (no evaluation starts after the (extended) duration plus
one interval of slack; each probe and query has its own timeout).

Everything with side effects is injected through ``GateRuntime`` (probes, queries, clocks,
sleep, progress and notifications), so tests and benchmarks can run on a virtual clock.
``build_runtime`` wires the real ones from a spec and its secrets.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gates.decision import (
    CountResults,
    Streaks,
    early_pass,
    final_verdict,
    judge_check,
    judge_evaluation,
    judge_sequential,
    limit_reached,
    sequential_rejection,
)
from gates.notify import Alert, Notifier
from gates.probes import probe_all
from gates.prometheus import PrometheusClient
from gates.report import GateReport
from gates.results import (
    CheckResult,
    Evaluation,
    ProbeResult,
    QueryOutcome,
    QueryResult,
    SequentialResult,
    Status,
    Verdict,
    redact_url,
)
from gates.sequential import Design
from gates.spec import SEQUENTIAL_TEMPLATE, CheckSpec, GateSpec, ProbeSpec
from gates.templates import render as render_template

Prober = Callable[[Sequence[ProbeSpec]], list[ProbeResult]]
Querier = Callable[[str], QueryResult]


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
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    wall: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    on_evaluation: Callable[[Evaluation, Streaks], None] | None = None
    notifier: Notifier | None = None
    log: Callable[[str], None] = field(default=lambda _line: None)
    concurrent: bool = True
    """Run an evaluation's queries in parallel threads; False runs them one after another in the
    calling thread (for virtual-clock runs whose queries return at once, e.g. bench/)."""


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
    if spec.notify is not None and secrets.webhook_url:
        runtime.notifier = Notifier(
            secrets.webhook_url, spec.notify.kind, timeout=spec.notify.timeout, log=runtime.log
        )
    elif spec.notify is not None:
        runtime.log(f"notify: no webhook URL (set {spec.notify.url_env}); notifications are off")
    return runtime


def _query_timeout(spec: GateSpec) -> float:
    return 2 * (spec.prometheus.timeout if spec.prometheus else 5.0) + 1


COUNT_TEMPLATES = ("requests-increase", "errors-increase", "request-samples")


def is_sequential(spec: GateSpec, check: CheckSpec) -> bool:
    """Whether ``check`` is judged by the sequential test."""
    return spec.sequential_mode and check.template == SEQUENTIAL_TEMPLATE


def design(spec: GateSpec) -> Design:
    settings = spec.sequential
    return Design(
        alpha=settings.error_probability,
        beta=settings.error_probability,
        min_ratio=settings.min_ratio,
        acceptable_error_rate=settings.acceptable_error_rate,
        min_error_rate=settings.min_error_rate,
    )


def elapsed_window(offset: float) -> str:
    """The gate's elapsed time as a Prometheus range (whole seconds, at least 1 s)."""
    return f"{max(1, math.ceil(offset - 1e-6))}s"


def count_queries(spec: GateSpec, check: CheckSpec, window: str) -> tuple[list[str], list[str] | None]:
    """The count queries (requests, errors, samples) of the canary and of its baseline (None when
    the check does not select a ``version`` other than the baseline's)."""
    params = {**check.string_params, "window": window}
    canary = [render_template(t, params) for t in COUNT_TEMPLATES]
    base = spec.sequential.baseline_version
    if base is None or "version" not in params or params["version"] == base:
        return canary, None
    return canary, [render_template(t, {**params, "version": base}) for t in COUNT_TEMPLATES]


def _run_queries(
    spec: GateSpec, runtime: GateRuntime, pool: ThreadPoolExecutor | None, promqls: list[str]
) -> dict[str, QueryResult]:
    def failed(error: Exception) -> QueryResult:
        # A broken querier is an error outcome, not a crash.
        return QueryResult(QueryOutcome.ERROR, (), f"query failed ({type(error).__name__})")

    unique = list(dict.fromkeys(promqls))
    if runtime.query is None:
        return {q: QueryResult(QueryOutcome.ERROR, (), "no Prometheus configured") for q in unique}
    query = runtime.query
    results: dict[str, QueryResult] = {}
    if pool is None:
        for promql in unique:
            try:
                results[promql] = query(promql)
            except Exception as error:
                results[promql] = failed(error)
        return results
    futures = [(promql, pool.submit(query, promql)) for promql in unique]
    for promql, future in futures:
        try:
            results[promql] = future.result(timeout=_query_timeout(spec))
        except FutureTimeout:
            results[promql] = QueryResult(QueryOutcome.ERROR, (), "query did not return in time")
        except Exception as error:
            results[promql] = failed(error)
    return results


def evaluate(spec: GateSpec, runtime: GateRuntime, index: int, offset: float) -> Evaluation:
    """One evaluation: every probe and every check, all at once."""
    started_at = _utc(runtime.wall())
    window = elapsed_window(offset)
    plans: dict[str, tuple[list[str], list[str] | None]] = {}
    promqls: list[str] = []
    for check in spec.checks:
        if is_sequential(spec, check):
            canary, baseline = count_queries(spec, check, window)
            plans[check.name] = (canary, baseline)
            promqls += canary + (baseline or [])
        else:
            promqls.append(check.promql)
    workers = min(len(set(promqls)), 16) + 1
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gate") if runtime.concurrent else None
    try:
        probes_future = pool.submit(runtime.probe, spec.probes) if spec.probes and pool is not None else None
        answers = _run_queries(spec, runtime, pool, promqls)
        checks: list[CheckResult] = []
        sequential: list[SequentialResult] = []
        test = design(spec)
        for check in spec.checks:
            if check.name in plans:
                canary, baseline = plans[check.name]
                check_result, state = judge_sequential(
                    check.name,
                    canary[1],
                    CountResults(*(answers[q] for q in canary)),
                    CountResults(*(answers[q] for q in baseline)) if baseline is not None else None,
                    test,
                    spec.on_no_data,
                    baseline_label=spec.sequential.baseline_version or "baseline",
                )
                checks.append(check_result)
                if state is not None:
                    sequential.append(state)
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
                        redact_url(p.url),
                        Status.FAIL,
                        p.response_limit,
                        None,
                        None,
                        "probe did not return in time",
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
    """Run the gate to its verdict."""
    started_at = _utc(runtime.wall())
    start = runtime.monotonic()
    tests = sum(is_sequential(spec, check) for check in spec.checks)
    evaluations: list[Evaluation] = []
    streaks = Streaks()
    verdict: Verdict | None = None
    held = 0.0
    warming_up = True
    end = spec.duration
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
        evaluation = evaluate(spec, runtime, k + 1, offset)
        evaluations.append(evaluation)
        streaks = streaks.after(evaluation.status)
        if evaluation.status is not Status.INCONCLUSIVE:
            warming_up = False
        elif spec.sequential_mode and not warming_up:
            # Hold: no evidence either way, so the gate watches that much longer (up to max_hold).
            # Not while warming up (no scrape of the new traffic yet): the counts cover the gate's
            # whole elapsed time, so nothing from those first seconds is lost.
            held += spec.interval
            end = spec.duration + min(held, spec.max_hold)
        if runtime.on_evaluation is not None:
            runtime.on_evaluation(evaluation, streaks)
        if runtime.notifier is not None and evaluation.status is not Status.PASS:
            _, _, cause = judge_evaluation(evaluation.probes, evaluation.checks)
            runtime.notifier.send(
                Alert(spec.name, evaluation.status, cause, evaluation.reason, evaluation.index)
            )
        verdict = (
            sequential_rejection(evaluation)
            or limit_reached(streaks, evaluation, spec.failure_limit, spec.inconclusive_limit)
            or (early_pass(evaluations, tests, spec.failure_limit) if spec.sequential_mode else None)
        )
        if verdict is not None:
            break
    if verdict is None:
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
    )
