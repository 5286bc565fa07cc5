"""The gate's judgement, pure: a query result against a check's limits, the items of an evaluation
into pass / fail / inconclusive, and the streaks of evaluations into a verdict.

Rules (docs/design.md "Health gates"):

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

In ``mode: sequential`` (gates/sequential.py) ``error-rate`` and latency checks are judged from
the counts over the gate's elapsed time: a check fails the gate at once when its test rejects the
canary, and the gate passes early when every such test accepted and the last ``failure_limit``
evaluations passed. When the duration ends with a test undecided, the gate keeps watching up to
``max_duration``, and an undecided test there gives the verdict ``on_undecided`` (``undecided``);
a test that counted no canary request over the whole gate gives ``inconclusive`` instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gates.counts import Ledger, Window, align, strata
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
from gates.sequential import Counts, Design, Reference, pooled, usable, weigh
from gates.spec import OnNoData, SequentialKind

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
class Track:
    """One track's samples for a sequential check this evaluation."""

    ledger: Ledger
    error: str | None = None
    """Why this evaluation's fetch failed (the ledger keeps what earlier fetches brought)."""


@dataclass(frozen=True)
class SequentialCheck:
    """What a sequential check judges: its kind, the limit (latency) and its reference."""

    name: str
    query: str
    """What the report shows as the check's query: the canary's selector."""
    kind: SequentialKind
    reference: Reference
    limit: float | None = None
    """Latency: the check's ``max`` (s)."""


def _pct(rate: float) -> str:
    return f"{100 * rate:.3g} %"


def _bucket(ledger: Ledger, limit: float) -> tuple[str, float] | None:
    """The ``le`` label (as spelled) and bound of the smallest finite bucket at or above ``limit``."""
    bounds: list[tuple[float, str]] = []
    for label in ledger.label_values("le"):
        try:
            bound = float(label)
        except ValueError:
            continue
        if math.isfinite(bound) and bound >= limit * (1 - 1e-9):
            bounds.append((bound, label))
    if not bounds:
        return None
    bound, label = min(bounds)
    return label, bound


def _same_bucket(ledger: Ledger, bound: float) -> str | None:
    for label in ledger.label_values("le"):
        try:
            if math.isclose(float(label), bound, rel_tol=1e-9):
                return label
        except ValueError:
            continue
    return None


def _counter(kind: SequentialKind, ledger: Ledger, le: str | None) -> Callable[[Window], Counts]:
    """How one track's counts are read from its ledger for ``kind``."""

    def errors(window: Window) -> Counts:
        return Counts(ledger.total(window), ledger.total(window, (("code", "5*"),)))

    def slow(window: Window) -> Counts:
        total = ledger.total(window, (("le", "+Inf"),))
        return Counts(total, total - ledger.total(window, (("le", le or ""),)))

    return errors if kind == "error-rate" else slow


def judge_sequential(
    check: SequentialCheck,
    canary: Track,
    baseline: Track | None,
    design: Design,
    on_no_data: OnNoData,
    now: float,
    baseline_label: str = "baseline",
) -> tuple[CheckResult, SequentialResult | None]:
    """A sequential check: its CheckResult (fail on reject) and the test's state (None when
    there was no evidence to weigh: a failed fetch, stale or no data)."""

    def make(status: Status, value: float | None, detail: str) -> CheckResult:
        return CheckResult(check.name, check.query, status, value, None, None, detail)

    def no_data(why: str) -> tuple[CheckResult, None]:
        return make(_NO_DATA_STATUS[on_no_data], None, f"no data ({why}); on_no_data: {on_no_data}"), None

    if canary.error is not None:
        return make(Status.INCONCLUSIVE, None, canary.error), None
    if baseline is not None and baseline.error is not None:
        return make(Status.INCONCLUSIVE, None, f"{baseline_label}: {baseline.error}"), None
    age = canary.ledger.stale(now)
    if age is not None:
        return make(Status.INCONCLUSIVE, None, f"no new canary sample for {age:.0f} s (stale)"), None
    le: str | None = None
    bound: float | None = None
    if check.kind == "latency":
        assert check.limit is not None
        found = _bucket(canary.ledger, check.limit)
        if found is None:
            if not canary.ledger.series:
                return no_data("no canary requests scraped yet")
            return (
                make(
                    Status.INCONCLUSIVE,
                    None,
                    f"no latency histogram bucket at or above {fmt(check.limit)} s to count slower "
                    "requests (add one to the app's histogram, or judge this check with mode: threshold)",
                ),
                None,
            )
        le, bound = found
    read_canary = _counter(check.kind, canary.ledger, le)
    latest = read_canary(Window(canary.ledger.start))
    if not usable(latest):
        return no_data("no canary requests scraped yet")
    base_le = _same_bucket(baseline.ledger, bound) if baseline is not None and bound is not None else le
    if baseline is not None and baseline.ledger.series and (check.kind == "error-rate" or base_le):
        read_base = _counter(check.kind, baseline.ledger, base_le)
        reject: tuple[Counts, Counts | None]
        accept: tuple[Counts, Counts | None]
        to_reject, to_accept = align(canary.ledger, baseline.ledger, now)
        reject = (read_canary(to_reject.canary), read_base(to_reject.baseline))
        accept = (read_canary(to_accept.canary), read_base(to_accept.baseline))
        earlier = [
            (read_canary(a.canary), read_base(a.baseline)) for a in strata(canary.ledger, baseline.ledger)
        ]
    else:
        reject = accept = (latest, None)
        earlier = []
    evidence = weigh(reject, accept, design, check.reference, earlier)
    shown_canary = pooled([*(c for c, _ in earlier), accept[0]])
    current_base = next((b for b in (accept[1], reject[1]) if b is not None and usable(b)), None)
    shown_base = (
        pooled([*(b for _, b in earlier), *([current_base] if current_base else [])])
        if current_base is not None or earlier
        else None
    )
    what = "error rate" if check.kind == "error-rate" else f"slower than {fmt(bound)} s"
    head = f"{what} {_pct(evidence.canary_share)} ({fmt(shown_canary.bad)} of {fmt(shown_canary.requests)})"
    if evidence.reference == "baseline" and shown_base is not None:
        floor = (
            f"; floor {_pct(check.reference.floor)}"
            if evidence.reference_share <= check.reference.floor
            else ""
        )
        head += (
            f" vs {baseline_label} {_pct(evidence.reference_share)} "
            f"({fmt(shown_base.bad)} of {fmt(shown_base.requests)}{floor})"
        )
    else:
        missing = " (no baseline data)" if baseline is not None else ""
        head += f" vs acceptable {_pct(evidence.reference_share)}{missing}"
    ratio, ruled_out = f"{design.min_ratio:g}x", f"{design.ruled_out:g}x"
    if evidence.decision is Decision.REJECT:
        detail = (
            f"{head}: evidence {evidence.log_mixture:.2f} >= {design.reject_at:.2f}, "
            f"at least {ratio} worse (error probability {design.alpha:g})"
        )
    elif evidence.decision is Decision.ACCEPT:
        detail = (
            f"{head}: evidence {evidence.log_lr_closest:.2f} <= {design.accept_at:.2f}, "
            f"not {ruled_out} worse (error probability {design.beta:g})"
        )
    else:
        detail = (
            f"{head}: evidence {evidence.log_mixture:.2f} (fails at {design.reject_at:.2f}), "
            f"{evidence.log_lr_closest:.2f} (passes at {design.accept_at:.2f})"
        )
    status = Status.FAIL if evidence.decision is Decision.REJECT else Status.PASS
    result = SequentialResult(
        check=check.name,
        kind=check.kind,
        decision=evidence.decision,
        log_mixture=evidence.log_mixture,
        log_lr_closest=evidence.log_lr_closest,
        reject_at=design.reject_at,
        accept_at=design.accept_at,
        canary_requests=shown_canary.requests,
        canary_bad=shown_canary.bad,
        baseline_requests=shown_base.requests if evidence.reference == "baseline" and shown_base else None,
        baseline_bad=shown_base.bad if evidence.reference == "baseline" and shown_base else None,
        reference_share=evidence.reference_share,
        reference=evidence.reference,
        slower_than=bound,
    )
    return make(status, evidence.canary_share, detail), result


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


def undecided(evaluation: Evaluation, sequential_checks: Sequence[str]) -> list[str]:
    """The sequential checks that have not accepted the canary at ``evaluation`` (they continue,
    or had no evidence this time)."""
    accepted = {r.check for r in evaluation.sequential if r.decision is Decision.ACCEPT}
    return [name for name in sequential_checks if name not in accepted]


def never_answered(evaluations: Sequence[Evaluation], names: Sequence[str]) -> list[str]:
    """The sequential checks among ``names`` that counted no canary request in any evaluation:
    Prometheus never answered them, or had no data, over the whole gate."""
    answered = {r.check for e in evaluations for r in e.sequential if r.canary_requests > 0}
    return [name for name in names if name not in answered]


def undecided_verdict(
    evaluations: Sequence[Evaluation], names: Sequence[str], max_duration: float, on_undecided: str
) -> Verdict:
    """The verdict at ``max_duration`` with sequential tests still undecided: ``on_undecided``,
    saying which tests and where their evidence stood; ``inconclusive`` whatever
    ``on_undecided`` says when a test never had evidence at all (a Prometheus that is down or
    misconfigured must not pass every release)."""
    last = evaluations[-1]
    silent = never_answered(evaluations, names)
    if silent:
        details = "; ".join(f"{c.label}: {c.detail}" for c in last.checks if c.name in silent)
        return Verdict(
            Status.INCONCLUSIVE,
            f"no evidence at +{fmt(last.offset)} s (max_duration {fmt(max_duration)} s): {details}; "
            "no canary request was counted in any evaluation, and on_undecided applies only to a "
            "test that had data",
            f"check {silent[0]}",
        )
    details = "; ".join(f"{c.label}: {c.detail}" for c in last.checks if c.name in names)
    status = Status.PASS if on_undecided == "pass" else Status.FAIL
    return Verdict(
        status,
        f"undecided at +{fmt(last.offset)} s (max_duration {fmt(max_duration)} s): {details}; "
        f"on_undecided: {on_undecided}",
        "" if status is Status.PASS else f"check {names[0]}",
    )
