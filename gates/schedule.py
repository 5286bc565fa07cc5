"""The weights `canary.steps: auto` walks, chosen from the traffic the stable track serves when a
release starts, so that each step can reach a decision within its time. Pure: the caller
measures the traffic (rollout/schedule.py reads it from Prometheus; bench/ from its traces).

The physics (docs/gates.md): a sequential test needs about a fixed number of canary requests, and
the time it takes is that number over the canary's request rate; the bad requests served before
a rollback are about that number times the bad rate, whatever the weight. So:

* Every step below FULL_TEST_AT only has to rule out a **gross** failure (GROSS_RATIO times the
  reference) before more traffic moves: its gate's ``accept_ratio``. Rejection is the full test
  at every step (at least ``min_ratio`` worse), and the evidence is carried from step to step.
* The first weight is the smallest of WEIGHTS (at most ``max_first_weight``, the blast radius of a
  total failure) at which the canary gets, within the gate's minimum time, the requests that rule
  out a gross failure; with less traffic than that even at ``max_first_weight``, that weight (the
  step takes longer).
* Then FULL_TEST_AT, then 100: three steps at most, because each costs its minimum time and a
  `pulumi up` (at 500 requests/s the minimum times are the release). At FULL_TEST_AT the full test
  (``min_ratio``) decides on the requests of every step so far: there the canary and the stable
  serve alike, which is when a comparison of the two learns most per request (at 100 the stable
  serves nothing, and a comparison with its earlier requests alone learns little). The step at
  100 then passes on the evidence carried to it, in its minimum time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gates.spec import GateSpec

WEIGHTS = (5, 10, 25, 50, 100)
GROSS_RATIO = 10.0
"""What a step below FULL_TEST_AT rules out before the weight rises: a canary ten times worse."""
FULL_TEST_AT = 50
FIXED = (5, 25, 50, 100)
"""The steps when no traffic could be measured."""


@dataclass(frozen=True)
class Schedule:
    steps: tuple[int, ...]
    basis: str
    """What the steps rest on, a few words the history records: "measured 4.8 req/s", "no
    Prometheus"."""
    detail: str
    """What it gives: "steps 25, 50, 100; about 16 min of gates"."""

    @property
    def reason(self) -> str:
        return f"{self.basis}: {self.detail}"


def fixed(basis: str) -> Schedule:
    """The fixed steps, for a release whose traffic is not known (``basis`` says why)."""
    return Schedule(FIXED, basis, f"the fixed steps {_listed(FIXED)}")


def requests_to_rule_out(share: float, ratio: float, beta: float) -> float:
    """Expected canary requests for the early pass to rule out a share ``ratio`` times ``share``
    when the canary is as good as ``share`` (Wald: log(1/beta) over the information per request)."""
    worse = min(ratio * share, 0.999)
    information = share * math.log(share / worse) + (1 - share) * math.log((1 - share) / (1 - worse))
    return math.log(1 / beta) / information


def auto_schedule(
    rate: float | None, error_share: float | None, spec: GateSpec, max_first_weight: int
) -> Schedule:
    """The steps for a stable track serving ``rate`` requests/s with ``error_share`` of them
    errors (None: not measured), judged by ``spec`` (the canary's gate)."""
    if rate is None or not math.isfinite(rate) or rate <= 0:
        return fixed("no traffic measured" if rate is not None else "traffic not measured")
    settings = spec.sequential
    # A share that is no number (0/0 between the two queries) counts as none; a stable failing
    # half its requests or more is bounded there (the estimate stays finite; the gate decides).
    measured = error_share if error_share is not None and math.isfinite(error_share) else 0.0
    share = min(max(measured, settings.min_error_rate), 0.5)
    beta = settings.early_pass_error_probability
    gross = requests_to_rule_out(share, GROSS_RATIO, beta)
    # Against a stable serving as much as the canary, whose share is estimated too, the test
    # needs about twice what a known reference would (bench/release_schedules: 50 and 500 req/s).
    full = 2 * requests_to_rule_out(share, settings.min_ratio, beta)
    minimum = max(spec.min_duration, spec.interval * spec.failure_limit)
    # The gate's synthetic load (when its spec sets one) reaches the canary at every weight.
    load = spec.load.rate if spec.load is not None else 0.0

    def canary_rate(weight: int) -> float:
        return rate * weight / 100 + load

    allowed = [w for w in WEIGHTS if w <= max_first_weight] or [max_first_weight]
    first = next((w for w in allowed if canary_rate(w) * minimum >= gross), allowed[-1])
    steps = [first, *(w for w in (FULL_TEST_AT, 100) if w > first)]
    # The expected time: each step until its test rules out what it must, or its minimum.
    counted = seconds = 0.0
    for weight in steps:
        needed = full if weight >= FULL_TEST_AT else gross
        step = max(minimum, (needed - counted) / canary_rate(weight))
        counted += canary_rate(weight) * step
        seconds += step
    with_load = f" and the gate's load of {load:g} req/s" if load else ""
    return Schedule(
        tuple(steps),
        f"measured {rate:.3g} req/s",
        f"steps {_listed(steps)}{with_load}; about {math.ceil(seconds / 60)} min of gates",
    )


def accept_ratio(weight: int) -> float | None:
    """The ``accept_ratio`` of an auto schedule's gate at ``weight`` (None: the gate's own)."""
    return GROSS_RATIO if weight < FULL_TEST_AT else None


def _listed(steps: tuple[int, ...] | list[int]) -> str:
    return ", ".join(str(s) for s in steps)
