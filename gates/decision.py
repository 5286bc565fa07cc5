"""The gate's judgement, pure: a query result against a check's limits, the items of an evaluation
into pass / fail / inconclusive, and the streaks of evaluations into a verdict.

Rules (DESIGN.md "Health gates"):

* a check whose query errored (Prometheus unreachable, 4xx/5xx, malformed, ``status: error``) is
  **inconclusive**, never a pass; one with no data (empty result, NaN) counts as ``on_no_data``;
* an evaluation fails if any probe or check failed, else is inconclusive if any was, else passes;
* a pass resets both streaks; a fail resets the inconclusive streak; an inconclusive evaluation
  extends the inconclusive streak and leaves the failure streak as it was (no evidence either
  way, so a Prometheus hiccup between two failures does not hide them);
* the gate fails when the failure streak reaches ``failure_limit`` (verdict ``fail``) or the
  inconclusive streak reaches ``inconclusive_limit`` (verdict ``inconclusive``);
* when the duration ends it passes, unless no evaluation passed at all (then it is ``fail`` if
  any failed, else ``inconclusive``): a gate never passes without evidence.

In ``mode: sequential`` (gates/sequential.py) an ``error-rate`` check is judged from the counts
over the gate's elapsed time: it fails the gate at once when its test rejects the canary, and the
gate passes early when every such test accepted and the last ``failure_limit`` evaluations passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gates.results import (
    CheckResult,
    Decision,
    Evaluation,
    ProbeResult,
    QueryOutcome,
    QueryResult,
    SequentialResult,
    Status,
    Verdict,
    fmt,
)
from gates.sequential import Counts, Design, weigh
from gates.spec import OnNoData

_NO_DATA_STATUS = {"inconclusive": Status.INCONCLUSIVE, "fail": Status.FAIL, "pass": Status.PASS}


def judge_check(
    name: str,
    query: str,
    result: QueryResult,
    maximum: float | None,
    minimum: float | None,
    on_no_data: OnNoData,
) -> CheckResult:
    """One check's status, deciding value and a one-line detail."""

    def make(status: Status, value: float | None, detail: str) -> CheckResult:
        return CheckResult(name, query, status, value, maximum, minimum, detail)

    if result.outcome is QueryOutcome.ERROR:
        return make(Status.INCONCLUSIVE, None, result.detail or "query failed")
    if result.outcome is QueryOutcome.NO_DATA or not result.values:
        status = _NO_DATA_STATUS[on_no_data]
        return make(status, None, f"no data ({result.detail or 'empty result'}); on_no_data: {on_no_data}")
    series = "" if len(result.values) == 1 else f" (worst of {len(result.values)} series)"
    highest, lowest = max(result.values), min(result.values)
    if maximum is not None and highest > maximum:
        return make(Status.FAIL, highest, f"{fmt(highest)} > max {fmt(maximum)}{series}")
    if minimum is not None and lowest < minimum:
        return make(Status.FAIL, lowest, f"{fmt(lowest)} < min {fmt(minimum)}{series}")
    if maximum is not None:
        return make(Status.PASS, highest, f"{fmt(highest)} <= max {fmt(maximum)}{series}")
    return make(Status.PASS, lowest, f"{fmt(lowest)} >= min {fmt(minimum)}{series}")


def judge_evaluation(probes: Sequence[ProbeResult], checks: Sequence[CheckResult]) -> tuple[Status, str, str]:
    """(status, reason, deciding label) of one evaluation; the first failing item decides."""
    items: list[ProbeResult | CheckResult] = [*probes, *checks]
    for status in (Status.FAIL, Status.INCONCLUSIVE):
        bad = [item for item in items if item.status is status]
        if bad:
            more = f" (+{len(bad) - 1} more {status.value})" if len(bad) > 1 else ""
            return status, f"{bad[0].label}: {bad[0].detail}{more}", bad[0].label
    return Status.PASS, f"all {len(probes)} probes and {len(checks)} checks within limits", ""


@dataclass(frozen=True)
class Streaks:
    failures: int = 0
    inconclusive: int = 0

    def after(self, status: Status) -> Streaks:
        if status is Status.PASS:
            return Streaks()
        if status is Status.FAIL:
            return Streaks(self.failures + 1, 0)
        return Streaks(self.failures, self.inconclusive + 1)


def _deciding(evaluation: Evaluation) -> str:
    items: list[ProbeResult | CheckResult] = [*evaluation.probes, *evaluation.checks]
    for item in items:
        if item.status is evaluation.status:
            return item.label
    return ""


def limit_reached(
    streaks: Streaks, evaluation: Evaluation, failure_limit: int, inconclusive_limit: int
) -> Verdict | None:
    """The verdict once a streak reaches its limit, else None (keep evaluating)."""
    if streaks.failures >= failure_limit:
        return Verdict(
            Status.FAIL,
            f"{evaluation.reason}; {streaks.failures} consecutive failed evaluations (failure_limit {failure_limit})",
            _deciding(evaluation),
        )
    if streaks.inconclusive >= inconclusive_limit:
        return Verdict(
            Status.INCONCLUSIVE,
            f"{evaluation.reason}; {streaks.inconclusive} consecutive inconclusive evaluations "
            f"(inconclusive_limit {inconclusive_limit})",
            _deciding(evaluation),
        )
    return None


def closest_to_limit(evaluations: Sequence[Evaluation]) -> str:
    """The passing item that came closest to its limit, e.g. ``check p95 0.41 (max 0.5)``."""
    best: tuple[float, str] | None = None
    for evaluation in evaluations:
        for probe in evaluation.probes:
            if probe.response_time is not None and probe.limit > 0:
                ratio = probe.response_time / probe.limit
                text = f"{probe.label} {fmt(probe.response_time)} s (max {fmt(probe.limit)} s)"
                best = max(best or (ratio, text), (ratio, text))
        for check in evaluation.checks:
            if check.value is None:
                continue
            if check.max is not None and check.max != 0:
                ratio, text = (
                    check.value / check.max,
                    f"{check.label} {fmt(check.value)} (max {fmt(check.max)})",
                )
            elif check.min is not None and check.value != 0:
                ratio, text = (
                    check.min / check.value,
                    f"{check.label} {fmt(check.value)} (min {fmt(check.min)})",
                )
            else:
                continue
            best = max(best or (ratio, text), (ratio, text))
    return best[1] if best else ""


def final_verdict(evaluations: Sequence[Evaluation], duration: float) -> Verdict:
    """The verdict when the duration ended without a streak reaching its limit."""
    if not evaluations:
        return Verdict(Status.INCONCLUSIVE, "no evaluation ran", "")
    if not any(e.status is Status.PASS for e in evaluations):
        worst = Status.FAIL if any(e.status is Status.FAIL for e in evaluations) else Status.INCONCLUSIVE
        decider = next(e for e in reversed(evaluations) if e.status is worst)
        return Verdict(
            worst,
            f"{decider.reason}; no evaluation passed in {len(evaluations)} over {fmt(duration)} s",
            _deciding(decider),
        )
    count = len(evaluations)
    closest = closest_to_limit(evaluations)
    passed = sum(e.status is Status.PASS for e in evaluations)
    reason = f"passed: {passed} of {count} evaluations passed over {fmt(duration)} s, no limit reached"
    if closest:
        reason += f"; closest to its limit: {closest}"
    return Verdict(Status.PASS, reason, "")


@dataclass(frozen=True)
class CountResults:
    """The three count queries of one track (gates/templates.py requests-increase,
    errors-increase, request-samples)."""

    requests: QueryResult
    errors: QueryResult
    samples: QueryResult


def _first_error(results: CountResults) -> QueryResult | None:
    for result in (results.requests, results.errors, results.samples):
        if result.outcome is QueryOutcome.ERROR:
            return result
    return None


def _counts(results: CountResults) -> Counts | None:
    """The counts, or None when there is nothing to weigh (no requests or under two samples)."""
    if results.requests.outcome is not QueryOutcome.OK or results.samples.outcome is not QueryOutcome.OK:
        return None
    requests, samples = sum(results.requests.values), min(results.samples.values)
    errors = sum(results.errors.values) if results.errors.outcome is QueryOutcome.OK else 0.0
    if not (requests > 0 and samples >= 2 and all(map(_finite, (requests, samples, errors)))):
        return None
    return Counts(requests, errors, samples)


def _finite(value: float) -> bool:
    return value == value and value not in (float("inf"), float("-inf"))


def _pct(rate: float) -> str:
    return f"{100 * rate:.3g} %"


def judge_sequential(
    name: str,
    query: str,
    canary: CountResults,
    baseline: CountResults | None,
    design: Design,
    on_no_data: OnNoData,
    baseline_label: str = "baseline",
) -> tuple[CheckResult, SequentialResult | None]:
    """A sequential error check: its CheckResult (fail on reject) and the test's state (None when
    there was no evidence to weigh: query error or no data)."""

    def make(status: Status, value: float | None, detail: str) -> CheckResult:
        return CheckResult(name, query, status, value, None, None, detail)

    error = _first_error(canary) or (_first_error(baseline) if baseline is not None else None)
    if error is not None:
        prefix = "baseline: " if baseline is not None and _first_error(canary) is None else ""
        return make(Status.INCONCLUSIVE, None, prefix + (error.detail or "query failed")), None
    counts = _counts(canary)
    if counts is None:
        status = _NO_DATA_STATUS[on_no_data]
        return (
            make(
                status,
                None,
                f"no data (no canary requests counted over two scrapes yet); on_no_data: {on_no_data}",
            ),
            None,
        )
    base = _counts(baseline) if baseline is not None else None
    evidence = weigh(counts, base, design)
    if base is not None:
        versus = f"vs {baseline_label} {_pct(evidence.reference_rate)} ({fmt(base.errors)} of {fmt(base.requests)})"
    else:
        missing = " (no baseline data)" if baseline is not None else ""
        versus = f"vs acceptable {_pct(evidence.reference_rate)}{missing}"
    head = (
        f"error rate {_pct(evidence.canary_rate)} ({fmt(counts.errors)} of {fmt(counts.requests)}) {versus}"
    )
    ratio = f"{design.min_ratio:g}x"
    if evidence.decision is Decision.REJECT:
        detail = (
            f"{head}: evidence {evidence.log_mixture:.2f} >= {design.reject_at:.2f}, "
            f"at least {ratio} worse (error probability {design.alpha:g})"
        )
    elif evidence.decision is Decision.ACCEPT:
        detail = (
            f"{head}: evidence {evidence.log_lr_closest:.2f} <= {design.accept_at:.2f}, "
            f"not {ratio} worse (error probability {design.beta:g})"
        )
    else:
        detail = (
            f"{head}: evidence {evidence.log_mixture:.2f} (fails at {design.reject_at:.2f}), "
            f"{evidence.log_lr_closest:.2f} (passes at {design.accept_at:.2f})"
        )
    status = Status.FAIL if evidence.decision is Decision.REJECT else Status.PASS
    result = SequentialResult(
        check=name,
        decision=evidence.decision,
        log_mixture=evidence.log_mixture,
        log_lr_closest=evidence.log_lr_closest,
        reject_at=design.reject_at,
        accept_at=design.accept_at,
        canary_requests=counts.requests,
        canary_errors=counts.errors,
        baseline_requests=base.requests if base is not None else None,
        baseline_errors=base.errors if base is not None else None,
        reference_rate=evidence.reference_rate,
        reference=evidence.reference,
    )
    return make(status, evidence.canary_rate, detail), result


def sequential_rejection(evaluation: Evaluation) -> Verdict | None:
    """``fail`` at once when a sequential test rejected the canary this evaluation."""
    for result in evaluation.sequential:
        if result.decision is Decision.REJECT:
            check = next(c for c in evaluation.checks if c.name == result.check)
            return Verdict(Status.FAIL, f"{check.label}: {check.detail}", check.label)
    return None


def early_pass(evaluations: Sequence[Evaluation], tests: int, failure_limit: int) -> Verdict | None:
    """``pass`` before the duration ends when all ``tests`` sequential tests accepted the canary in
    the last evaluation and the last ``failure_limit`` evaluations all passed."""
    if tests == 0 or not evaluations:
        return None
    last = evaluations[-1]
    if len(last.sequential) != tests or any(r.decision is not Decision.ACCEPT for r in last.sequential):
        return None
    recent = evaluations[-failure_limit:]
    if len(recent) < failure_limit or any(e.status is not Status.PASS for e in recent):
        return None
    accepted = "; ".join(
        f"{c.label}: {c.detail}" for c in last.checks if any(r.check == c.name for r in last.sequential)
    )
    return Verdict(
        Status.PASS,
        f"passed early at +{fmt(last.offset)} s: {accepted}; the last {len(recent)} evaluations passed",
        "",
    )
