"""Where a running gate stands, in words: the plain progress line, what "remaining" means, each
item's latest value against its limit and how far each sequential test is from deciding. Shared
by the plain lines and the live panel (gates/panel.py) of `rollout gate`, so both say the same.
Pure: no I/O.

A gate's end moves (gates/runner.py): it is ``duration``, later by the time held inconclusive (up
to ``max_hold``) and, while a sequential test is undecided at ``duration``, up to
``max_duration``; it is sooner when a streak reaches its limit or a test decides. So a count of
evaluations is given against the ones planned within ``duration`` (plus the time held), and says
so whenever it counts further.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gates.decision import Streaks
from gates.results import CheckResult, Evaluation, ProbeResult, SequentialResult, Status, fmt, limit_text
from gates.spec import GateSpec

_SLACK = 1e-9


@dataclass(frozen=True)
class Progress:
    """The state of a run after one evaluation (``GateRuntime.on_progress``)."""

    evaluation: Evaluation
    streaks: Streaks
    held: float = 0.0
    """Seconds the end was extended by inconclusive evaluations (at most ``max_hold``)."""
    undecided: tuple[str, ...] = ()
    """Sequential tests that have not accepted yet: past ``duration`` they keep the gate going."""


def planned_end(spec: GateSpec, progress: Progress | None) -> float:
    """Seconds the gate runs if no streak, test or undecided test changes it: ``duration`` plus
    the time held."""
    return spec.duration + (progress.held if progress is not None else 0.0)


def watching(spec: GateSpec, progress: Progress | None) -> bool:
    """Past the planned end, kept going by an undecided sequential test."""
    return (
        progress is not None
        and bool(progress.undecided)
        and progress.evaluation.offset > planned_end(spec, progress) + _SLACK
    )


def current_end(spec: GateSpec, progress: Progress | None) -> float:
    """The latest the gate can stop as things stand: the planned end, or ``max_duration`` (plus
    the time held) while it watches an undecided test."""
    if watching(spec, progress):
        assert progress is not None
        return spec.max_duration + progress.held
    return planned_end(spec, progress)


def evaluations_until(spec: GateSpec, end: float) -> int:
    """Evaluations at 0, interval, ... up to ``end`` seconds."""
    return math.floor(end / spec.interval + _SLACK) + 1


def extension(spec: GateSpec, progress: Progress) -> str:
    """Why the count goes past ``duration`` ("" when it does not)."""
    parts = []
    if watching(spec, progress):
        parts.append(
            f"past duration {fmt(spec.duration)} s, watching undecided {', '.join(progress.undecided)} "
            f"up to max_duration {fmt(spec.max_duration)} s"
        )
    if progress.held > 0:
        parts.append(f"+{fmt(progress.held)} s held inconclusive, max_hold {fmt(spec.max_hold)} s")
    return "; ".join(parts)


def progress_line(spec: GateSpec, progress: Progress) -> str:
    """``[3/31 +20.0s] pass  all 1 probes and 2 checks within limits``: the evaluation's number
    of the ones planned (see ``extension``), its time since the start, status and reason; not
    passing, the streaks against their limits. Stable: scripts parse it (README)."""
    evaluation, streaks = progress.evaluation, progress.streaks
    total = evaluations_until(spec, current_end(spec, progress))
    note = extension(spec, progress)
    head = f"[{evaluation.index}/{total} +{evaluation.offset:.1f}s{', ' + note if note else ''}]"
    line = f"{head} {evaluation.status.value:<12} {evaluation.reason}"
    if evaluation.status is not Status.PASS:
        line += (
            f"  (failed {streaks.failures}/{spec.failure_limit}, "
            f"inconclusive {streaks.inconclusive}/{spec.inconclusive_limit})"
        )
    return line


def remaining(spec: GateSpec, progress: Progress | None, elapsed: float) -> tuple[str, str]:
    """(``remaining 280 s to ...``, what can make the gate end sooner or later) at ``elapsed``."""
    left = max(0.0, current_end(spec, progress) - elapsed)
    if not spec.sequential_mode:
        return (
            f"remaining {left:.0f} s to duration {fmt(spec.duration)} s",
            f"sooner after failure_limit {spec.failure_limit} failed or inconclusive_limit "
            f"{spec.inconclusive_limit} inconclusive evaluations in a row",
        )
    held = progress.held if progress is not None else 0.0
    added = f" + {fmt(held)} s held" if held > 0 else ""
    if watching(spec, progress):
        assert progress is not None
        return (
            f"remaining at most {left:.0f} s to max_duration {fmt(spec.max_duration)} s{added}",
            f"watching {', '.join(progress.undecided)}: ends when decided; still undecided at "
            f"max_duration, the verdict is on_undecided ({spec.on_undecided})",
        )
    tests = [check.name for check in spec.checks if spec.sequential_kind(check)]
    later = [f"inconclusive evaluations add up to max_hold {fmt(spec.max_hold)} s"]
    sooner = f"sooner after failure_limit {spec.failure_limit} failed evaluations in a row"
    if tests:
        sooner = f"sooner when a test rejects, or all accept after min_duration {fmt(spec.min_duration)} s"
        later.insert(0, f"a test undecided then keeps it up to max_duration {fmt(spec.max_duration)} s")
    return (
        f"remaining {left:.0f} s to duration {fmt(spec.duration)} s{added}",
        f"{sooner}; {'; '.join(later)}",
    )


def _pct(share: float) -> str:
    return f"{100 * share:.3g} %"


def _count(value: float | None) -> str:
    # Request counts are whole numbers; "12000" reads better than fmt's "1.2e+04".
    if value is not None and math.isfinite(value) and float(value).is_integer():
        return f"{value:.0f}"
    return fmt(value)


def _bad(result: SequentialResult) -> str:
    return "5xx" if result.kind == "error-rate" else f"slower than {fmt(result.slower_than)} s"


def probe_cells(probe: ProbeResult) -> tuple[str, str, str, str]:
    """(item, latest value, limit, status) of a probe."""
    if probe.error is not None:
        latest = f"no answer ({probe.error.value})"
    elif probe.response_time is None:
        latest = "-"
    else:
        latest = f"{fmt(probe.response_time)} s"
        if probe.http_status is not None and not 200 <= probe.http_status < 300:
            latest += f", HTTP {probe.http_status}"
    return probe.label, latest, f"max {fmt(probe.limit)} s", probe.status.value


def check_cells(
    spec: GateSpec, check: CheckResult, result: SequentialResult | None
) -> tuple[str, str, str, str]:
    """(item, latest value, limit, status) of a check; a sequential one by its canary's share
    against ``min_ratio`` times its reference."""
    if result is not None:
        reference = (
            "acceptable"
            if result.reference == "acceptable"
            else spec.sequential.baseline_version or "baseline"
        )
        return (
            check.label,
            f"{_pct(check.value or 0.0)} {_bad(result)}",
            f"< {spec.sequential.min_ratio:g}x {reference} {_pct(result.reference_share)}",
            check.status.value,
        )
    latest = fmt(check.value) if check.value is not None else "-"
    limit = limit_text(check.max, check.min) or "sequential"
    return check.label, latest, limit, check.status.value


def toward(value: float, threshold: float) -> float:
    """How far ``value`` has gone from 0 toward ``threshold`` (same sign), between 0 and 1."""
    if threshold == 0:
        return 0.0
    return min(1.0, max(0.0, value / threshold))


def evidence_cells(result: SequentialResult, baseline_label: str) -> tuple[str, str, str, str, str, str]:
    """(test, decision, canary counts, reference, toward fail, toward pass) of a sequential test:
    its log likelihood ratios against the thresholds where it fails and passes early."""
    canary = f"{_count(result.canary_bad)} of {_count(result.canary_requests)} {_bad(result)}"
    if result.reference == "baseline" and result.baseline_requests is not None:
        reference = (
            f"{baseline_label} {_pct(result.reference_share)} "
            f"({_count(result.baseline_bad)} of {_count(result.baseline_requests)})"
        )
    else:
        reference = f"acceptable {_pct(result.reference_share)}"
    to_fail = (
        f"{100 * toward(result.log_mixture, result.reject_at):.0f} % "
        f"({result.log_mixture:.2f}/{result.reject_at:.2f})"
    )
    to_pass = (
        f"{100 * toward(result.log_lr_closest, result.accept_at):.0f} % "
        f"({result.log_lr_closest:.2f}/{result.accept_at:.2f})"
    )
    return result.check, result.decision.value, canary, reference, to_fail, to_pass
