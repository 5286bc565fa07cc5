"""Alert rules of the monitoring report and their evaluation against measured values. Pure: no I/O.

The thresholds (rules, directions, defaults, the parser of ``flutter-app:reportThresholds``) are
in components/report_thresholds.py. A value exactly at a limit does not fire: "above 2 s" means
strictly more than 2 s, "below 90 %" strictly less than 90 %. Missing data never fires an alert;
the report shows it as missing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from components.report_thresholds import RULES, SEVERITY_ORDER, Rule, RuleSpec, Severity, Thresholds


def breached(rule: Rule, value: float | None) -> tuple[Severity, float] | None:
    """The most severe level ``value`` is past (strictly), with its limit; None when none is.

    ``None`` (missing data) is never past a limit."""
    if value is None or math.isnan(value):
        return None
    for severity in SEVERITY_ORDER:
        limit = rule.levels.get(severity)
        if limit is None:
            continue
        if (rule.spec.direction == "above" and value > limit) or (
            rule.spec.direction == "below" and value < limit
        ):
            return severity, limit
    return None


@dataclass(frozen=True)
class Alert:
    severity: Severity
    rule: str
    """The rule's key, e.g. errorRatePercent."""
    app: str
    subject: str
    """The app, or the pod for per-pod rules."""
    value: float
    limit: float

    @property
    def spec(self) -> RuleSpec:
        return RULES[self.rule]

    @property
    def message(self) -> str:
        spec = self.spec
        sign = ">" if spec.direction == "above" else "<"
        where = self.app if self.subject == self.app else f"{self.app} pod {self.subject}"
        return f"{where}: {spec.title} {_show(self.value, spec.unit)} {sign} {_show(self.limit, spec.unit)}"


def _show(value: float, unit: str) -> str:
    return f"{value:.4g} %" if unit == "%" else f"{value:.4g} {unit}"


def check(thresholds: Thresholds, rule: str, app: str, subject: str, value: float | None) -> Alert | None:
    """The alert ``value`` raises under ``rule``, if any."""
    hit = breached(thresholds[rule], value)
    if hit is None or value is None:
        return None
    return Alert(hit[0], rule, app, subject, value, hit[1])


def sort_alerts(alerts: Sequence[Alert]) -> list[Alert]:
    """Critical first, then by app, rule and subject."""
    return sorted(alerts, key=lambda a: (SEVERITY_ORDER.index(a.severity), a.app, a.rule, a.subject))
