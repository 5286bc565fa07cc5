"""The sequential tests: decide from *counts* as soon as the evidence is sufficient, at a chosen
error probability, instead of comparing one window's ratio or quantile with a limit.

Why (bench/README.md has the figures): a 1-minute error ratio at 0.25 canary requests/s is 0 or
>= 6.7 % with nothing in between, so a fixed limit either never fires or fires on one unlucky
error; and re-testing the same limit every interval multiplies the false alarms. A sequential
probability ratio test (Wald, 1945) accumulates the evidence over the gate's whole elapsed time
and stops when it is enough either way, with both error probabilities bounded.

One test serves both kinds of check, on a *share of bad requests*:

* ``error-rate``: the share of requests answered 5xx;
* ``latency-*`` (``mode: sequential``): the share of requests slower than the check's ``max``,
  counted from the latency histogram's buckets (at the smallest bucket bound at or above ``max``,
  so that a canary is never blamed for requests within its limit).

For each, per check:

* **With a baseline** (the check selects ``version: <canary>`` and the spec names the baseline's
  ``version``, default ``stable``): a *conditional* test. Given the bad requests of canary and
  baseline together, each is the canary's with probability ``pi = n_c p_c / (n_c p_c + n_b p_b)``;
  with equal shares ``pi0 = n_c / (n_c + n_b)`` is known from the request counts alone, so the
  baseline's (unknown) share cancels out, even while it changes (both tracks failing together is
  not the canary's fault). H0: the canary is no worse than the baseline; H1(R): its share is R
  times the baseline's. Baseline shares below the check's floor count as the floor (bad requests
  that rare do not matter; it only makes the test slower).
* **Without baseline data**: a Bernoulli test of the canary's own share p. H0: p <= the check's
  acceptable share; H1(R): p = R x that.

The alternatives are a small grid R = min_ratio x 3^k (k = 0..3), mixed with equal weights: the
mixture likelihood ratio is a non-negative martingale under H0, so by Ville's inequality it
exceeds 1/alpha with probability at most alpha *however often it is looked at* (every interval,
irregularly, through an outage). The gate fails when it does (``reject``). It passes early when the
likelihood ratio of the closest alternative (R = min_ratio) falls below beta (``accept``: the
canary is not ``min_ratio`` times worse, with error probability beta); otherwise it continues.

Counts are exact (gates/counts.py): raw counter samples, resets corrected, new series counted from
zero, and the two tracks aligned in time differently for each decision. Pure: no I/O.

**Strata.** ``pi0`` is the canary's share of the requests only while the weight stays put. Evidence
carried across a canary's steps spans several weights, and pooling it would compare a canary
whose traffic grew *during* a dependency incident (both tracks failing) with a stable whose
requests mostly came before it: Simpson's paradox, a false rollback. So each step is a stratum
with its own ``pi0``, and the log likelihood ratios of the strata add up (independent counts, the
same alternatives): still one test, still a martingale under H0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from gates.results import Decision

GRID_STEP = 3.0
GRID_SIZE = 4


@dataclass(frozen=True)
class Counts:
    """What one track served over the counted time."""

    requests: float
    bad: float
    """Errors, or requests slower than the limit."""


@dataclass(frozen=True)
class Design:
    """The test's settings (from the gate spec's ``sequential`` block)."""

    alpha: float = 0.01
    """P(fail | the canary is as good as the reference)."""
    beta: float = 0.01
    """P(early pass | the canary is ``min_ratio`` times worse)."""
    min_ratio: float = 3.0
    accept_ratio: float | None = None
    """The ratio the early pass rules out (None: ``min_ratio``). Larger passes on less evidence:
    a canary step that only has to rule out a gross failure before more traffic moves to it."""

    @property
    def ruled_out(self) -> float:
        """The alternative the early pass must rule out."""
        return self.min_ratio if self.accept_ratio is None else max(self.accept_ratio, self.min_ratio)

    @property
    def ratios(self) -> tuple[float, ...]:
        """The alternatives mixed: min_ratio, 3x, 9x, 27x that."""
        return tuple(self.min_ratio * GRID_STEP**k for k in range(GRID_SIZE))

    @property
    def reject_at(self) -> float:
        """log(1/alpha): the mixture's log likelihood ratio at which the gate fails."""
        return math.log(1 / self.alpha)

    @property
    def accept_at(self) -> float:
        """log(beta): the closest alternative's log likelihood ratio at which the gate passes."""
        return math.log(self.beta)


@dataclass(frozen=True)
class Reference:
    """What the canary's share is compared with, for one kind of check."""

    floor: float
    """Baseline shares below this count as this."""
    acceptable: float
    """The reference share when there is no baseline."""


@dataclass(frozen=True)
class Evidence:
    decision: Decision
    log_mixture: float
    """log of the mixture likelihood ratio (evidence that the canary is worse)."""
    log_lr_closest: float
    """log likelihood ratio of the alternative the early pass rules out (``Design.ruled_out``)."""
    canary_share: float
    reference_share: float
    reference: str
    """``baseline`` or ``acceptable``."""


def _log_mean_exp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values) / len(values))


def _bad(counts: Counts) -> float:
    return min(max(counts.bad, 0.0), counts.requests)


def _llrs(
    canary: Counts, baseline: Counts | None, ratios: Sequence[float], reference: Reference
) -> list[float]:
    """The log likelihood ratio of each alternative (``baseline`` None: against ``acceptable``)."""
    bad = _bad(canary)
    if baseline is not None:
        base_bad = max(_bad(baseline), reference.floor * baseline.requests)
        pi0 = canary.requests / (canary.requests + baseline.requests)
        llrs = []
        for ratio in ratios:
            pi1 = ratio * pi0 / (ratio * pi0 + 1 - pi0)
            llrs.append(bad * math.log(pi1 / pi0) + base_bad * math.log((1 - pi1) / (1 - pi0)))
        return llrs
    p0 = reference.acceptable
    llrs = []
    for ratio in ratios:
        p1 = min(ratio * p0, 0.999)
        llrs.append(bad * math.log(p1 / p0) + (canary.requests - bad) * math.log((1 - p1) / (1 - p0)))
    return llrs


def usable(counts: Counts | None) -> bool:
    return counts is not None and counts.requests > 0 and math.isfinite(counts.requests)


def pooled(counts: Sequence[Counts]) -> Counts:
    """Counts added up (a display of several strata; the test itself never pools them)."""
    return Counts(sum(c.requests for c in counts), sum(_bad(c) for c in counts))


def weigh(
    to_reject: tuple[Counts, Counts | None],
    to_accept: tuple[Counts, Counts | None],
    design: Design,
    reference: Reference,
    earlier: Sequence[tuple[Counts, Counts]] = (),
) -> Evidence:
    """The evidence so far. ``to_reject`` and ``to_accept`` are the (canary, baseline) counts
    aligned for each decision (gates/counts.align), with baseline None when there is no baseline
    track (then the canary is compared with ``reference.acceptable``). A baseline whose counts at
    one alignment are not usable yet gives no evidence for that decision: the canary is never
    compared with the acceptable share instead while a baseline exists. ``earlier``: the closed
    strata of carried evidence (with a baseline), added to both decisions. The canary must have
    requests counted (its latest counts; the caller treats less as no data)."""
    latest = pooled([*(c for c, _ in earlier), to_accept[0]])
    if not usable(latest):
        raise ValueError("no canary requests counted")
    compare = to_reject[1] is not None or to_accept[1] is not None

    def llrs(pair: tuple[Counts, Counts | None], ratios: Sequence[float]) -> list[float] | None:
        strata = [(c, b if compare else None) for c, b in (*earlier, pair)]
        summed: list[float] | None = None
        for canary, baseline in strata:
            if not usable(canary) or (compare and not usable(baseline)):
                continue
            found = _llrs(canary, baseline, ratios, reference)
            summed = found if summed is None else [a + b for a, b in zip(summed, found, strict=True)]
        return summed

    rejecting, accepting = llrs(to_reject, design.ratios), llrs(to_accept, (design.ruled_out,))
    mixture = _log_mean_exp(rejecting) if rejecting is not None else 0.0
    closest = accepting[0] if accepting is not None else 0.0
    if mixture >= design.reject_at:
        decision = Decision.REJECT
    elif closest <= design.accept_at:
        decision = Decision.ACCEPT
    else:
        decision = Decision.CONTINUE
    if compare:
        current = next((b for b in (to_accept[1], to_reject[1]) if b is not None and usable(b)), None)
        shown = pooled([*(b for _, b in earlier), *([current] if current is not None else [])])
        share = _bad(shown) / shown.requests if usable(shown) else 0.0
        reference_share, kind = max(share, reference.floor), "baseline"
    else:
        reference_share, kind = reference.acceptable, "acceptable"
    return Evidence(decision, mixture, closest, _bad(latest) / latest.requests, reference_share, kind)


def wald_expected_samples(p0: float, p1: float, alpha: float, beta: float) -> float:
    """Wald's approximation of the expected number of Bernoulli observations an SPRT of
    H0: p = p0 against H1: p = p1 needs when H1 is true (the statistical floor of detection)."""
    kl = p1 * math.log(p1 / p0) + (1 - p1) * math.log((1 - p1) / (1 - p0))
    a, b = math.log((1 - beta) / alpha), math.log(beta / (1 - alpha))
    return ((1 - beta) * a + beta * b) / kl
