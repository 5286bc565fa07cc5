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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gates.results import (
    CheckResult,
    Evaluation,
    ProbeResult,
    QueryOutcome,
    QueryResult,
    Status,
    Verdict,
    fmt,
)
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
