"""The gate loop: evaluate at 0, interval, 2*interval, ... up to duration; stop early once a
streak reaches its limit. Bounded in count (``spec.max_evaluations``) and in time (no evaluation
starts after ``duration`` plus one interval of slack; each probe and query has its own timeout).

Everything with side effects is injected through ``GateRuntime`` (probes, queries, clocks,
sleep, progress and notifications), so tests and benchmarks can run on a virtual clock.
``build_runtime`` wires the real ones from a spec and its secrets.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gates.decision import Streaks, final_verdict, judge_check, judge_evaluation, limit_reached
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
    Status,
    Verdict,
    redact_url,
)
from gates.spec import GateSpec, ProbeSpec

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


def evaluate(spec: GateSpec, runtime: GateRuntime, index: int, offset: float) -> Evaluation:
    """One evaluation: every probe and every check, all at once."""
    started_at = _utc(runtime.wall())
    pool = ThreadPoolExecutor(max_workers=len(spec.checks) + 1, thread_name_prefix="gate")
    try:
        probes_future = pool.submit(runtime.probe, spec.probes) if spec.probes else None
        queries: list[tuple[str, Future[QueryResult] | None]] = []
        for check in spec.checks:
            promql = check.promql
            queries.append((promql, pool.submit(runtime.query, promql) if runtime.query else None))
        checks: list[CheckResult] = []
        for check, (promql, future) in zip(spec.checks, queries, strict=True):
            try:
                result = (
                    future.result(timeout=_query_timeout(spec))
                    if future
                    else QueryResult(QueryOutcome.ERROR, (), "no Prometheus configured")
                )
            except FutureTimeout:
                result = QueryResult(QueryOutcome.ERROR, (), "query did not return in time")
            except Exception as error:  # a broken querier is an error outcome, not a crash
                result = QueryResult(QueryOutcome.ERROR, (), f"query failed ({type(error).__name__})")
            maximum, minimum = check.limits
            checks.append(judge_check(check.name, promql, result, maximum, minimum, spec.on_no_data))
        probes: list[ProbeResult] = []
        if probes_future is not None:
            bound = 2 * max(p.timeout for p in spec.probes) + 2
            try:
                probes = probes_future.result(timeout=bound)
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
        pool.shutdown(wait=False, cancel_futures=True)
    status, reason, _ = judge_evaluation(probes, checks)
    return Evaluation(index, offset, started_at, status, reason, tuple(probes), tuple(checks))


def run_gate(spec: GateSpec, runtime: GateRuntime) -> GateReport:
    """Run the gate to its verdict."""
    started_at = _utc(runtime.wall())
    start = runtime.monotonic()
    deadline = spec.duration + spec.interval
    evaluations: list[Evaluation] = []
    streaks = Streaks()
    verdict: Verdict | None = None
    for k in range(spec.max_evaluations):
        target = k * spec.interval
        offset = runtime.monotonic() - start
        if offset < target:
            runtime.sleep(target - offset)
            offset = runtime.monotonic() - start
        if offset > deadline:
            runtime.log(f"stopping: evaluations ran late ({offset:.1f} s > {deadline:.1f} s)")
            break
        evaluation = evaluate(spec, runtime, k + 1, offset)
        evaluations.append(evaluation)
        streaks = streaks.after(evaluation.status)
        if runtime.on_evaluation is not None:
            runtime.on_evaluation(evaluation, streaks)
        if runtime.notifier is not None and evaluation.status is not Status.PASS:
            _, _, cause = judge_evaluation(evaluation.probes, evaluation.checks)
            runtime.notifier.send(
                Alert(spec.name, evaluation.status, cause, evaluation.reason, evaluation.index)
            )
        verdict = limit_reached(streaks, evaluation, spec.failure_limit, spec.inconclusive_limit)
        if verdict is not None:
            break
    if verdict is None:
        verdict = final_verdict(evaluations, spec.duration)
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
