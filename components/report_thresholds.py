"""The alert thresholds of `rollout report` as a stack configures them
(``flutter-app:reportThresholds``): the rules, their directions and defaults, and the parser that
checks a stack's value. Pure. Here, below both, because the program validates the key with the
rest of the stack config (components/settings.py) and the report evaluates it
(rollout/monitoring/alerts.py).

Each rule has a fixed direction and up to two levels, ``warning`` and ``critical``::

    flutter-app:reportThresholds:
      healthyInstancesPercent: {critical: 90}   # fires when below (default: critical 90)
      avgResponseSeconds: {warning: 2}          # fires when above (default: warning 2)
      errorRatePercent: {critical: 5}           # fires when above (default: critical 5)
      cpuPercent: {warning: 80}                 # per pod, % of its CPU limit (default: warning 80)
      p95ResponseSeconds: {warning: 1, critical: 5}   # no default: off unless set
      memoryPercent: {warning: 90}              # per pod, % of its memory limit; no default

A rule given in the config replaces that rule's default levels (``{}`` turns it off); rules not
given keep the CD guide's defaults.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Literal

THRESHOLDS_KEY: Final = "flutter-app:reportThresholds"


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"


SEVERITY_ORDER: Final = (Severity.CRITICAL, Severity.WARNING)
"""Most severe first."""

Direction = Literal["above", "below"]


@dataclass(frozen=True)
class RuleSpec:
    """What a rule watches: its config name, how it reads, its direction and defaults."""

    key: str
    """The rule's name under ``reportThresholds``."""
    title: str
    unit: str
    direction: Direction
    per_pod: bool
    percent: bool
    """Limits are percentages (0..100)."""
    defaults: Mapping[Severity, float]


RULES: Final[dict[str, RuleSpec]] = {
    rule.key: rule
    for rule in (
        RuleSpec(
            "healthyInstancesPercent",
            "healthy instances",
            "%",
            "below",
            False,
            True,
            {Severity.CRITICAL: 90.0},
        ),
        RuleSpec(
            "avgResponseSeconds", "average response time", "s", "above", False, False, {Severity.WARNING: 2.0}
        ),
        RuleSpec("errorRatePercent", "error rate", "%", "above", False, True, {Severity.CRITICAL: 5.0}),
        RuleSpec("cpuPercent", "CPU use of the limit", "%", "above", True, True, {Severity.WARNING: 80.0}),
        RuleSpec("p95ResponseSeconds", "p95 response time", "s", "above", False, False, {}),
        RuleSpec("memoryPercent", "memory use of the limit", "%", "above", True, True, {}),
    )
}


@dataclass(frozen=True)
class Rule:
    spec: RuleSpec
    levels: Mapping[Severity, float]
    """Limit per severity; empty: the rule is off."""


@dataclass(frozen=True)
class Thresholds:
    rules: Mapping[str, Rule]

    def __getitem__(self, key: str) -> Rule:
        return self.rules[key]


DEFAULT_THRESHOLDS: Final = Thresholds({key: Rule(spec, dict(spec.defaults)) for key, spec in RULES.items()})


class ThresholdsError(ValueError):
    """Invalid ``reportThresholds``; ``problems`` name each key."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        super().__init__(
            "\n".join(
                [f"invalid {THRESHOLDS_KEY} ({count} problem{'s' if count != 1 else ''}):"]
                + [f"  - {p}" for p in self.problems]
            )
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _parse_rule(spec: RuleSpec, value: Any, problems: list[str]) -> Rule | None:
    where = f"{THRESHOLDS_KEY}.{spec.key}"
    if not isinstance(value, Mapping):
        problems.append(
            f"{where}: expected an object such as {{warning: N, critical: N}} (got {json.dumps(value)})"
        )
        return None
    levels: dict[Severity, float] = {}
    for name, limit in value.items():
        if name not in (Severity.WARNING, Severity.CRITICAL):
            problems.append(f"{where}.{name}: unknown level; expected warning or critical")
        elif not _is_number(limit) or limit < 0:
            problems.append(f"{where}.{name}: expected a number, 0 or more (got {json.dumps(limit)})")
        elif spec.percent and limit > 100:
            problems.append(f"{where}.{name}: a percentage is at most 100 (got {json.dumps(limit)})")
        else:
            levels[Severity(name)] = float(limit)
    warning, critical = levels.get(Severity.WARNING), levels.get(Severity.CRITICAL)
    if warning is not None and critical is not None:
        if spec.direction == "above" and not warning < critical:
            problems.append(
                f"{where}: warning ({warning:g}) must be below critical ({critical:g}): it fires above"
            )
        if spec.direction == "below" and not warning > critical:
            problems.append(
                f"{where}: warning ({warning:g}) must be above critical ({critical:g}): it fires below"
            )
    return Rule(spec, levels)


def parse_thresholds(value: Any) -> Thresholds:
    """Thresholds from the config value (an object, or its JSON text); None: the defaults."""
    if value is None:
        return DEFAULT_THRESHOLDS
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ThresholdsError([f"{THRESHOLDS_KEY}: expected an object (got {value!r})"]) from None
    if not isinstance(value, Mapping):
        raise ThresholdsError([f"{THRESHOLDS_KEY}: expected an object (got {json.dumps(value)})"])
    problems: list[str] = []
    rules = dict(DEFAULT_THRESHOLDS.rules)
    for key, item in value.items():
        spec = RULES.get(str(key))
        if spec is None:
            problems.append(f"{THRESHOLDS_KEY}.{key}: unknown rule; expected one of {', '.join(RULES)}")
            continue
        rule = _parse_rule(spec, item, problems)
        if rule is not None:
            rules[spec.key] = rule
    if problems:
        raise ThresholdsError(problems)
    return Thresholds(rules)
