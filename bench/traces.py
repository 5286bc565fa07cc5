"""Synthetic canary traffic and what Prometheus would answer about it, on a virtual clock.

A trace is the counters of the canary track (requests, 5xx, a latency histogram and its sum) and of
the stable track (requests, 5xx) as Prometheus scraped them every ``SCRAPE`` seconds, plus the
faults of the case: a Prometheus outage (queries error, no scrapes) or a no-data window (the
canary's scrapes fail, so its series go missing). Queries are answered the way Prometheus 2.x
computes them from the stored samples: ``rate()``/``increase()`` use the samples inside the range
and extrapolate to its edges (extrapolatedRate: an edge closer than 1.1 average intervals is
extrapolated to fully, else by half an interval; never below a counter's zero), a range with fewer
than two samples gives an empty result, 0/0 is NaN (no data), and ``histogram_quantile``
interpolates linearly inside the bucket.

Time 0 is the moment the canary starts receiving its share of traffic, which is also when every
policy starts watching. The canary's series appear at its first scrape (labelled counters exist
once the app has answered a request; its 5xx series is created at 0 with them).
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass, field

from gates.results import QueryOutcome, QueryResult

SCRAPE = 15.0
"""Scrape interval (s): a common setting (Prometheus' own default is 1m; kube-prometheus uses 30s)."""
HORIZON = 900.0
"""Seconds simulated; every policy decides well before (the slowest, Flagger, by ~540 s)."""
CANARY_WEIGHT = 0.05
HEALTHY_ERROR = 0.005
"""Error rate of a healthy release (and of the stable track)."""
LATENCY_HEALTHY = (0.08, 0.5)
"""Per-request latency: lognormal (median s, sigma of log): mean 0.09 s, p99 0.26 s."""
LATENCY_REGRESSED = (2.0, 0.5)
"""The latency regression: mean 2.27 s (> the CD guide's 2 s), p99 6.4 s (> Flagger's 500 ms)."""
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""The app's histogram buckets (s), the same as tests/support/app.py; plus +Inf."""
FAULT_WINDOW = (60.0, 180.0)
"""The 2-minute Prometheus outage / no-data window."""
FLAP_PERIOD, FLAP_BAD, FLAP_ERROR = 120.0, 30.0, 0.20
"""Flapping: 30 s at 20 % errors every 2 minutes (first burst at 30 s), healthy in between."""
LEVELS = (5, 50, 500)
"""Total requests/s; the canary sees CANARY_WEIGHT of it (0.25, 2.5, 25 req/s)."""


@dataclass(frozen=True)
class Case:
    name: str
    bad: bool
    """A release that should be rolled back."""
    error: float = HEALTHY_ERROR
    latency: tuple[float, float] = LATENCY_HEALTHY
    outage: bool = False
    no_data: bool = False
    flapping: bool = False

    def error_mass(self, start: float, end: float) -> float:
        """Integral of the canary's error probability over [start, end)."""
        if not self.flapping:
            return self.error * (end - start)
        bad = 0.0
        first = math.floor((start - 30.0) / FLAP_PERIOD)
        for k in range(max(first, 0), math.floor((end - 30.0) / FLAP_PERIOD) + 1):
            lo = 30.0 + k * FLAP_PERIOD
            bad += max(0.0, min(end, lo + FLAP_BAD) - max(start, lo))
        return FLAP_ERROR * bad + HEALTHY_ERROR * (end - start - bad)

    @property
    def mean_error(self) -> float:
        """Time-averaged error rate (the flapping release's 'bad' rate for the SPRT floor)."""
        if not self.flapping:
            return self.error
        return (FLAP_BAD * FLAP_ERROR + (FLAP_PERIOD - FLAP_BAD) * HEALTHY_ERROR) / FLAP_PERIOD


CASES: tuple[Case, ...] = (
    Case("healthy", bad=False),
    Case("bad-2pct", bad=True, error=0.02),
    Case("bad-5pct", bad=True, error=0.05),
    Case("bad-20pct", bad=True, error=0.20),
    Case("latency", bad=True, latency=LATENCY_REGRESSED),
    Case("outage", bad=False, outage=True),
    Case("nodata", bad=False, no_data=True),
    Case("flapping", bad=True, flapping=True),
)


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit and k < 1000:
        k += 1
        product *= rng.random()
    return k


def _binomial(rng: random.Random, n: int, p: float) -> int:
    if n <= 0 or p <= 0:
        return 0
    if p >= 1:
        return n
    mean = n * p
    variance = mean * (1 - p)
    if variance > 9:
        return min(n, max(0, round(rng.gauss(mean, math.sqrt(variance)))))
    if n <= 64:
        return sum(1 for _ in range(n) if rng.random() < p)
    return min(n, _poisson(rng, mean))


def _lognormal_cdf(x: float, median: float, sigma: float) -> float:
    return 0.5 * (1 + math.erf((math.log(x) - math.log(median)) / (sigma * math.sqrt(2))))


def _bucket_probabilities(median: float, sigma: float) -> list[float]:
    cdf = [_lognormal_cdf(b, median, sigma) for b in BUCKETS]
    probabilities = [cdf[0]] + [cdf[i] - cdf[i - 1] for i in range(1, len(cdf))]
    return [*probabilities, 1 - cdf[-1]]


@dataclass
class Track:
    """Cumulative counters at each scrape (index k: time ``times[k]``)."""

    requests: list[float] = field(default_factory=list)
    errors: list[float] = field(default_factory=list)
    buckets: list[list[float]] = field(default_factory=list)
    """Cumulative per ``le`` (BUCKETS then +Inf), canary only."""
    latency_sum: list[float] = field(default_factory=list)
    present: list[bool] = field(default_factory=list)


@dataclass
class Trace:
    case: Case
    level: int
    seed: int
    times: list[float]
    canary: Track
    stable: Track
    bad_served: list[float]
    """Bad canary requests served up to each scrape time (5xx; every request if latency regressed)."""

    @property
    def canary_rate(self) -> float:
        return self.level * CANARY_WEIGHT

    def prometheus_down(self, t: float) -> bool:
        return self.case.outage and FAULT_WINDOW[0] <= t < FAULT_WINDOW[1]

    def bad_until(self, t: float) -> float:
        """Bad canary requests served in [0, t] (linear between scrapes)."""
        if t <= 0:
            return 0.0
        prev_t, prev_v = 0.0, 0.0
        for time, value in zip(self.times, self.bad_served, strict=True):
            if t <= time:
                return prev_v + (value - prev_v) * (t - prev_t) / (time - prev_t)
            prev_t, prev_v = time, value
        rate = (self.bad_served[-1] - self.bad_served[-2]) / SCRAPE
        return prev_v + rate * (t - prev_t)


def trace_seed(case: str, level: int, seed: int) -> int:
    return zlib.crc32(f"{case}|{level}|{seed}".encode())


def make_trace(case: Case, level: int, seed: int) -> Trace:
    """A deterministic trace of ``case`` at ``level`` total requests/s."""
    rng = random.Random(trace_seed(case.name, level, seed))
    phase = rng.uniform(0.0, SCRAPE)
    count = math.floor((HORIZON - phase) / SCRAPE) + 2
    times = [phase + SCRAPE * k for k in range(count)]
    canary_rate, stable_rate = level * CANARY_WEIGHT, level * (1 - CANARY_WEIGHT)
    probabilities = _bucket_probabilities(*case.latency)
    median, sigma = case.latency
    mean_latency = median * math.exp(sigma**2 / 2)
    sd_latency = mean_latency * math.sqrt(math.exp(sigma**2) - 1)
    canary, stable = Track(), Track()
    requests = errors = bad = lat_sum = 0.0
    s_requests = s_errors = float(rng.randrange(10**6, 10**7))
    s_errors = round(s_errors * HEALTHY_ERROR)
    cumulative = [0.0] * (len(BUCKETS) + 1)
    bad_served: list[float] = []
    previous = 0.0
    for time in times:
        span = time - previous
        n_err = _poisson(rng, canary_rate * case.error_mass(previous, time))
        n_ok = _poisson(rng, canary_rate * span - canary_rate * case.error_mass(previous, time))
        n = n_err + n_ok
        requests += n
        errors += n_err
        bad += n if case.latency != LATENCY_HEALTHY else n_err
        remaining, left = n, 1.0
        per_bucket = []
        for p in probabilities[:-1]:
            k = _binomial(rng, remaining, p / left) if left > 0 else 0
            per_bucket.append(k)
            remaining -= k
            left -= p
        per_bucket.append(remaining)
        running = 0.0
        new_cumulative = []
        for index, k in enumerate(per_bucket):
            running += k
            new_cumulative.append(cumulative[index] + running)
        cumulative = new_cumulative
        if n:
            lat_sum += max(0.0, n * mean_latency + rng.gauss(0.0, sd_latency * math.sqrt(n)))
        s_n_err = _poisson(rng, stable_rate * HEALTHY_ERROR * span)
        s_requests += s_n_err + _poisson(rng, stable_rate * (1 - HEALTHY_ERROR) * span)
        s_errors += s_n_err
        down = case.outage and FAULT_WINDOW[0] <= time < FAULT_WINDOW[1]
        missing = case.no_data and FAULT_WINDOW[0] <= time < FAULT_WINDOW[1]
        canary.requests.append(requests)
        canary.errors.append(errors)
        canary.buckets.append(cumulative)
        canary.latency_sum.append(lat_sum)
        canary.present.append(not (down or missing))
        stable.requests.append(s_requests)
        stable.errors.append(s_errors)
        stable.present.append(not down)
        bad_served.append(bad)
        previous = time
    return Trace(case, level, seed, times, canary, stable, bad_served)


# --- what Prometheus answers -------------------------------------------------------------------


def _window(trace: Trace, track: Track, t: float, width: float) -> list[int]:
    start = t - width
    return [k for k, time in enumerate(trace.times) if start < time <= t and track.present[k]]


def _extrapolated(trace: Trace, values: list[float], window: list[int], t: float, width: float) -> float:
    """Prometheus' increase() of a counter over (t - width, t] from the samples in ``window``."""
    first, last = window[0], window[-1]
    first_t, last_t = trace.times[first], trace.times[last]
    result = values[last] - values[first]
    sampled = last_t - first_t
    average = sampled / (len(window) - 1)
    to_start, to_end = first_t - (t - width), t - last_t
    if result > 0 and values[first] >= 0:
        to_start = min(to_start, sampled * values[first] / result)
    threshold = average * 1.1
    extended = sampled
    extended += to_start if to_start < threshold else average / 2
    extended += to_end if to_end < threshold else average / 2
    return result * extended / sampled


ERROR = QueryResult(QueryOutcome.ERROR, (), "Prometheus unreachable (simulated outage)")
EMPTY = QueryResult(QueryOutcome.NO_DATA, (), "empty result")
NAN = QueryResult(QueryOutcome.NO_DATA, (), "NaN (no samples in the window, e.g. 0/0 without traffic)")


def ok(value: float) -> QueryResult:
    return QueryResult(QueryOutcome.OK, (value,))


def increase(trace: Trace, stable: bool, what: str, t: float, width: float) -> QueryResult:
    """``sum(increase(<requests|errors>[width]))`` of one track (errors: ``or vector(0)``)."""
    if trace.prometheus_down(t):
        return ERROR
    track = trace.stable if stable else trace.canary
    window = _window(trace, track, t, width)
    if len(window) < 2:
        return ok(0.0) if what == "errors" else EMPTY
    values = track.requests if what == "requests" else track.errors
    return ok(_extrapolated(trace, values, window, t, width))


def samples(trace: Trace, stable: bool, t: float, width: float) -> QueryResult:
    """``min(count_over_time(requests[width]))``."""
    if trace.prometheus_down(t):
        return ERROR
    track = trace.stable if stable else trace.canary
    window = _window(trace, track, t, width)
    return ok(float(len(window))) if window else EMPTY


def error_ratio(trace: Trace, t: float, width: float = 60.0) -> QueryResult:
    """The canary's 5xx ratio over the window (the error-rate template; Flagger's is 1 - this)."""
    if trace.prometheus_down(t):
        return ERROR
    window = _window(trace, trace.canary, t, width)
    if len(window) < 2:
        return EMPTY
    first, last = window[0], window[-1]
    total = trace.canary.requests[last] - trace.canary.requests[first]
    if total <= 0:
        return NAN
    return ok((trace.canary.errors[last] - trace.canary.errors[first]) / total)


def latency_avg(trace: Trace, t: float, width: float = 60.0) -> QueryResult:
    if trace.prometheus_down(t):
        return ERROR
    c = trace.canary
    window = _window(trace, c, t, width)
    if len(window) < 2:
        return EMPTY
    first, last = window[0], window[-1]
    total = c.requests[last] - c.requests[first]
    if total <= 0:
        return NAN
    return ok((c.latency_sum[last] - c.latency_sum[first]) / total)


def latency_quantile(trace: Trace, q: float, t: float, width: float = 60.0) -> QueryResult:
    """``histogram_quantile(q, sum by (le) (rate(bucket[width])))``."""
    if trace.prometheus_down(t):
        return ERROR
    c = trace.canary
    window = _window(trace, c, t, width)
    if len(window) < 2:
        return EMPTY
    first, last = window[0], window[-1]
    counts = [c.buckets[last][i] - c.buckets[first][i] for i in range(len(BUCKETS) + 1)]
    total = counts[-1]
    if total <= 0:
        return NAN
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, cumulative in zip(BUCKETS, counts, strict=False):
        if cumulative >= rank:
            inside = cumulative - below
            return ok(lower + (bound - lower) * ((rank - below) / inside if inside else 1.0))
        lower, below = bound, cumulative
    return ok(BUCKETS[-1])  # in the +Inf bucket: the highest finite bound, as Prometheus does
