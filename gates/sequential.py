"""The sequential error test: decide from request and error *counts* as soon as the evidence is
sufficient, at a chosen error probability, instead of comparing one window's ratio with a limit.

Why (bench/README.md has the figures): a 1-minute error ratio at 0.25 canary requests/s is 0 or
>= 6.7 % with nothing in between, so a fixed limit either never fires or fires on one unlucky
error; and re-testing the same limit every interval multiplies the false alarms. A sequential
probability ratio test (Wald, 1945) accumulates the evidence over the gate's whole elapsed time
and stops when it is enough either way, with both error probabilities bounded.

The test, per ``error-rate`` check in ``mode: sequential``:

* **With a baseline** (the check selects ``version: <canary>`` and the spec names the baseline's
  ``version``, default ``stable``): a *conditional* test. Given the errors of canary and baseline
  together, each error is the canary's with probability ``pi = n_c p_c / (n_c p_c + n_b p_b)``;
  with equal error rates ``pi0 = n_c / (n_c + n_b)`` is known from the request counts alone, so the
  baseline's (unknown) error rate cancels out. H0: the canary is no worse than the baseline;
  H1(R): its error rate is R times the baseline's. Baseline error rates below ``min_error_rate``
  count as ``min_error_rate`` (errors that rare do not matter; it only makes the test slower).
* **Without baseline data**: a Bernoulli test of the canary's own error rate p. H0: p <=
  ``acceptable_error_rate``; H1(R): p = R x ``acceptable_error_rate``.

The alternatives are a small grid R = min_ratio x 3^k (k = 0..3), mixed with equal weights: the
mixture likelihood ratio is a non-negative martingale under H0, so by Ville's inequality it
exceeds 1/alpha with probability at most alpha *however often it is looked at* (every interval,
irregularly, through an outage). The gate fails when it does (``reject``). It passes early when the
likelihood ratio of the closest alternative (R = min_ratio) falls below beta (``accept``: the
canary is not ``min_ratio`` times worse, with error probability beta); otherwise it continues
until the gate's duration ends.

Counts come from Prometheus ``increase()`` over the gate's elapsed time, which extrapolates the
increase between the first and last sample in the window to the whole window. That would
overstate the evidence (by up to 2x with only two samples), so counts are divided by the largest
factor the extrapolation can have given the number of samples (``extrapolation_bound``): the test
only ever uses as much evidence as was actually scraped. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from gates.results import Decision

GRID_STEP = 3.0
GRID_SIZE = 4
EXTRAPOLATION_LIMIT = 1.1
"""Prometheus extrapolates increase()/rate() to a window edge only if the edge is closer than 1.1
average sample intervals to the first/last sample (else by half an interval)."""


@dataclass(frozen=True)
class Counts:
    """What Prometheus reported for one track over the window."""

    requests: float
    """increase() of the request counter (extrapolated to the window)."""
    errors: float
    """increase() of the 5xx counter."""
    samples: float
    """Scrapes of the request counter inside the window (fewest over its series)."""


@dataclass(frozen=True)
class Design:
    """The test's settings (from the gate spec's ``sequential`` block)."""

    alpha: float = 0.01
    """P(fail | the canary is as good as the reference)."""
    beta: float = 0.01
    """P(early pass | the canary is ``min_ratio`` times worse)."""
    min_ratio: float = 3.0
    acceptable_error_rate: float = 0.01
    min_error_rate: float = 0.001

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
class Evidence:
    decision: Decision
    log_mixture: float
    """log of the mixture likelihood ratio (evidence that the canary is worse)."""
    log_lr_closest: float
    """log likelihood ratio of the closest alternative (R = min_ratio)."""
    canary_rate: float
    reference_rate: float
    reference: str
    """``baseline`` or ``acceptable_error_rate``."""
    scale: float
    """The extrapolation bound the counts were divided by."""


def extrapolation_bound(samples: float) -> float:
    """The largest factor increase() can scale up the increase seen between the first and last of
    ``samples`` samples: each window edge adds at most 1.1 average intervals, so with n samples
    (n - 1 intervals) the factor is at most 1 + 2 * 1.1 / (n - 1). Infinite below 2 samples."""
    if samples < 2:
        return math.inf
    return 1 + 2 * EXTRAPOLATION_LIMIT / (samples - 1)


def _log_mean_exp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values) / len(values))


def _decide(llrs: Sequence[float], design: Design) -> tuple[Decision, float]:
    mixture = _log_mean_exp(llrs)
    if mixture >= design.reject_at:
        return Decision.REJECT, mixture
    if llrs[0] <= design.accept_at:
        return Decision.ACCEPT, mixture
    return Decision.CONTINUE, mixture


def weigh(canary: Counts, baseline: Counts | None, design: Design) -> Evidence:
    """The evidence so far. ``canary.requests`` must be > 0 and ``canary.samples`` >= 2 (the caller
    treats anything less as no data); a ``baseline`` without requests is ignored."""
    if canary.requests <= 0 or canary.samples < 2:
        raise ValueError("no canary requests in the window")
    canary_errors = min(max(canary.errors, 0.0), canary.requests)
    canary_rate = canary_errors / canary.requests
    usable = baseline is not None and baseline.requests > 0 and baseline.samples >= 2
    if usable:
        assert baseline is not None
        scale = max(extrapolation_bound(canary.samples), extrapolation_bound(baseline.samples))
        base_errors = min(max(baseline.errors, 0.0), baseline.requests)
        reference_rate = max(base_errors / baseline.requests, design.min_error_rate)
        base_errors = max(base_errors, design.min_error_rate * baseline.requests)
        pi0 = canary.requests / (canary.requests + baseline.requests)
        llrs = []
        for ratio in design.ratios:
            pi1 = ratio * pi0 / (ratio * pi0 + 1 - pi0)
            llr = canary_errors * math.log(pi1 / pi0) + base_errors * math.log((1 - pi1) / (1 - pi0))
            llrs.append(llr / scale)
        reference = "baseline"
    else:
        scale = extrapolation_bound(canary.samples)
        p0 = design.acceptable_error_rate
        reference_rate = p0
        llrs = []
        for ratio in design.ratios:
            p1 = min(ratio * p0, 0.999)
            llr = canary_errors * math.log(p1 / p0) + (canary.requests - canary_errors) * math.log(
                (1 - p1) / (1 - p0)
            )
            llrs.append(llr / scale)
        reference = "acceptable_error_rate"
    decision, mixture = _decide(llrs, design)
    return Evidence(decision, mixture, llrs[0], canary_rate, reference_rate, reference, scale)


def wald_expected_samples(p0: float, p1: float, alpha: float, beta: float) -> float:
    """Wald's approximation of the expected number of Bernoulli observations an SPRT of
    H0: p = p0 against H1: p = p1 needs when H1 is true (the statistical floor of detection)."""
    kl = p1 * math.log(p1 / p0) + (1 - p1) * math.log((1 - p1) / (1 - p0))
    a, b = math.log((1 - beta) / alpha), math.log(beta / (1 - alpha))
    return ((1 - beta) * a + beta * b) / kl
