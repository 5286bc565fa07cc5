"""Synthetic canary traffic and what Prometheus would answer about it, on a virtual clock.

A trace is the counters of each scrape target (pod) as Prometheus scraped them: the canary's one
pod and the stable's pods, each scraped every ``case.scrape`` seconds at its own phase (Prometheus
spreads targets over the interval), with requests by status code, a latency histogram and its sum.
Plus the faults of the case: a Prometheus outage (queries error, nothing is scraped), a no-data
window (the canary's scrapes fail, so its series go missing), a canary pod restart (its counters
start again from zero; what it served since its last scrape is lost, as in reality), an incident
shared by both tracks (a failing dependency: both answer 10 % 5xx for two minutes).

Queries are answered the way Prometheus 2.x computes them from the stored samples: ``rate()`` /
``increase()`` use the samples inside the range, correct counter resets and extrapolate to its
edges (extrapolatedRate: an edge closer than 1.1 average intervals is extrapolated to fully, else
by half an interval; never below a counter's zero), a range with fewer than two samples gives an
empty result, 0/0 is NaN (no data), and ``histogram_quantile`` interpolates linearly inside the
bucket. Raw samples (a range selector) are returned as stored.

Time 0 is the moment the canary starts receiving its share of traffic, which is also when every
policy starts watching. The canary's series appear at its first scrape (labelled counters exist
once the app has answered a request; its 5xx series is created at 0 with them); the stable's pods
have been running for a long time.

Seeds: the canary's random draws come from ``trace_seed(case, level, seed)`` in the same order as
the traces before issue 14 (the stable's draws of that time included, unused), so the canary
series of an unchanged case is the same as then; each stable pod has its own stream.
"""

from __future__ import annotations

import bisect
import functools
import math
import random
import zlib
from dataclasses import dataclass, field

from gates.prometheus import Series as PromSeries
from gates.prometheus import SeriesResult
from gates.results import QueryOutcome, QueryResult

SCRAPE = 15.0
"""Scrape interval (s): a common setting (Prometheus' own default is 1m; kube-prometheus uses 30s)."""
HORIZON = 1800.0
"""Seconds simulated; every policy decides before (``ours`` by max_duration + max_hold)."""
CANARY_WEIGHT = 0.05
HEALTHY_ERROR = 0.005
"""Error rate of a healthy release (and of the stable track)."""
INCIDENT_ERROR = 0.10
"""Error rate of both tracks during the shared incident (FAULT_WINDOW)."""
LATENCY_HEALTHY = (0.08, 0.5)
"""Per-request latency: lognormal (median s, sigma of log): mean 0.09 s, p99 0.26 s."""
LATENCY_REGRESSED = (2.0, 0.5)
"""The latency regression: mean 2.27 s (> the CD guide's 2 s), p99 6.4 s (> Flagger's 500 ms)."""
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""The app's histogram buckets (s), the same as tests/support/app.py; plus +Inf."""
LE_LABELS = (*(str(b) for b in BUCKETS), "+Inf")
FAULT_WINDOW = (60.0, 180.0)
"""The 2-minute Prometheus outage / no-data window / shared incident."""
FLAP_PERIOD, FLAP_BAD, FLAP_ERROR = 120.0, 30.0, 0.20
"""Flapping: 30 s at 20 % errors every 2 minutes (first burst at 30 s), healthy in between."""
RESTART_AT, RESTART_DOWN = 45.0, 10.0
"""The canary pod's restart: its process dies at 45 s and serves again, from zero, 10 s later."""
PAST = 360.0
"""Seconds of the stable's samples before time 0 (more than the gates' 5-minute lookback)."""
STABLE_REPLICAS = 6
"""Stable pods in the ``replicas`` case (the canary runs one, as components/ declares by default)."""
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
    scrape: float = SCRAPE
    stable_pods: int = 1
    restart: bool = False
    incident: bool = False

    def _incident_overlap(self, start: float, end: float) -> float:
        if not self.incident:
            return 0.0
        return max(0.0, min(end, FAULT_WINDOW[1]) - max(start, FAULT_WINDOW[0]))

    def error_mass(self, start: float, end: float) -> float:
        """Integral of the canary's error probability over [start, end)."""
        if not self.flapping:
            return self.error * (end - start) + (INCIDENT_ERROR - self.error) * self._incident_overlap(
                start, end
            )
        bad = 0.0
        first = math.floor((start - 30.0) / FLAP_PERIOD)
        for k in range(max(first, 0), math.floor((end - 30.0) / FLAP_PERIOD) + 1):
            lo = 30.0 + k * FLAP_PERIOD
            bad += max(0.0, min(end, lo + FLAP_BAD) - max(start, lo))
        return FLAP_ERROR * bad + HEALTHY_ERROR * (end - start - bad)

    def stable_error_mass(self, start: float, end: float) -> float:
        """Integral of the stable's error probability over [start, end)."""
        return HEALTHY_ERROR * (end - start) + (INCIDENT_ERROR - HEALTHY_ERROR) * self._incident_overlap(
            start, end
        )

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
    # Harder healthy traces (issue 14).
    Case("restart", bad=False, restart=True),
    Case("scrape30", bad=False, scrape=30.0),
    Case("incident", bad=False, incident=True),
    Case("replicas", bad=False, stable_pods=STABLE_REPLICAS),
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


def lognormal_cdf(x: float, median: float, sigma: float) -> float:
    return 0.5 * (1 + math.erf((math.log(x) - math.log(median)) / (sigma * math.sqrt(2))))


@functools.cache
def _bucket_probabilities(median: float, sigma: float) -> list[float]:
    cdf = [lognormal_cdf(b, median, sigma) for b in BUCKETS]
    probabilities = [cdf[0]] + [cdf[i] - cdf[i - 1] for i in range(1, len(cdf))]
    return [*probabilities, 1 - cdf[-1]]


@dataclass
class Series:
    """One scrape target (pod): its counters at each of its scrapes (index k: ``times[k]``), as
    scraped (a restart resets them), and reset-corrected totals for window queries. Grown one
    scrape at a time (``record``), so a trace can be generated as far as a clock has reached."""

    pod: str
    times: list[float] = field(default_factory=list)
    present: list[bool] = field(default_factory=list)
    """Whether scrape k succeeded (a missing sample otherwise)."""
    requests: list[float] = field(default_factory=list)
    errors: list[float] = field(default_factory=list)
    buckets: list[list[float]] = field(default_factory=list)
    """Cumulative per ``le`` (BUCKETS then +Inf)."""
    latency_sum: list[float] = field(default_factory=list)
    corrected: dict[str, list[float]] = field(default_factory=dict)
    """What rate()/increase() count up to scrape k, resets corrected (``requests``, ``errors``,
    ``sum``, ``le<i>``), over present samples only."""
    points: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = field(default_factory=dict)
    """Raw samples per series labels (``code``, or ``le``), present scrapes only."""
    point_times: list[float] = field(default_factory=list)
    _last: dict[str, float] = field(default_factory=dict)
    """Each column's value at the last present scrape (for the reset-corrected totals)."""

    def record(self, counters: Counters, time: float, present: bool) -> None:
        """Append one scrape of ``counters`` at ``time`` (``present``: it succeeded)."""
        self.times.append(time)
        self.present.append(present)
        self.requests.append(counters.requests)
        self.errors.append(counters.errors)
        self.buckets.append(list(counters.buckets))
        self.latency_sum.append(counters.latency_sum)
        columns = {
            "requests": counters.requests,
            "errors": counters.errors,
            "sum": counters.latency_sum,
            **{f"le{i}": counters.buckets[i] for i in range(len(LE_LABELS))},
        }
        for name, value in columns.items():
            out = self.corrected.setdefault(name, [])
            total = out[-1] if out else 0.0
            if present:
                previous = self._last.get(name)
                if previous is not None:
                    total += value - previous if value >= previous else value
                self._last[name] = value
            out.append(total)
        if not present:
            return
        self.point_times.append(time)
        pod = ("pod", self.pod)
        self.points.setdefault((("code", "200"), pod), []).append((time, counters.requests - counters.errors))
        self.points.setdefault((("code", "500"), pod), []).append((time, counters.errors))
        for i, le in enumerate(LE_LABELS):
            self.points.setdefault((("le", le), pod), []).append((time, counters.buckets[i]))


@dataclass
class Trace:
    case: Case
    level: int
    seed: int
    canary: Series
    stable: list[Series]
    bad_served: list[float]
    """Bad canary requests served up to each canary scrape time (5xx; every request if latency
    regressed)."""

    @property
    def times(self) -> list[float]:
        return self.canary.times

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
        rate = (self.bad_served[-1] - self.bad_served[-2]) / self.case.scrape
        return prev_v + rate * (t - prev_t)


def trace_seed(case: str, level: int, seed: int) -> int:
    return zlib.crc32(f"{case}|{level}|{seed}".encode())


@dataclass
class Counters:
    requests: float = 0.0
    errors: float = 0.0
    latency_sum: float = 0.0
    buckets: list[float] = field(default_factory=lambda: [0.0] * len(LE_LABELS))


def serve(
    rng: random.Random,
    counters: Counters,
    rate: float,
    span: float,
    error_mass: float,
    latency: tuple[float, float],
) -> tuple[int, int]:
    """Draw the requests of one interval into ``counters``: (requests, errors)."""
    n_err = _poisson(rng, rate * error_mass)
    n_ok = _poisson(rng, rate * span - rate * error_mass)
    n = n_err + n_ok
    counters.requests += n
    counters.errors += n_err
    remaining, left = n, 1.0
    running = 0.0
    for index, p in enumerate(_bucket_probabilities(*latency)):
        if index < len(BUCKETS):
            k = _binomial(rng, remaining, p / left) if left > 0 else 0
            remaining -= k
            left -= p
        else:
            k = remaining
        running += k
        counters.buckets[index] += running
    if n:
        median, sigma = latency
        mean = median * math.exp(sigma**2 / 2)
        sd = mean * math.sqrt(math.exp(sigma**2) - 1)
        counters.latency_sum += max(0.0, n * mean + rng.gauss(0.0, sd * math.sqrt(n)))
    return n, n_err


def scrape_times(phase: float, scrape: float, since: float = 0.0) -> list[float]:
    first = math.ceil((since - phase) / scrape)
    return [phase + scrape * k for k in range(first, math.floor((HORIZON - phase) / scrape) + 2)]


def _canary(case: Case, level: int, seed: int, load: float) -> tuple[Series, list[float]]:
    rng = random.Random(trace_seed(case.name, level, seed))
    # The gate's synthetic load: requests like any other canary request (its error rate and
    # latency), from its own stream so the users' requests are the same as without it.
    load_rng = random.Random(zlib.crc32(f"{case.name}|{level}|{seed}|load".encode()))

    def users_and_load(into: Counters, start: float, end: float) -> tuple[int, int]:
        served = serve(rng, into, rate, end - start, case.error_mass(start, end), case.latency)
        if load > 0:
            serve(load_rng, into, load, end - start, case.error_mass(start, end), case.latency)
        return served

    times = scrape_times(rng.uniform(0.0, case.scrape), case.scrape)
    rate, legacy_stable_rate = level * CANARY_WEIGHT, level * (1 - CANARY_WEIGHT)
    rng.randrange(10**6, 10**7)  # the stable's start value before issue 14 (keeps the stream)
    series, counters = Series("canary-0"), Counters()
    bad, bad_served, previous = 0.0, [], 0.0
    regressed = case.latency != LATENCY_HEALTHY
    crash, back = RESTART_AT, RESTART_AT + RESTART_DOWN
    for time in times:
        if case.restart and previous < back and time > crash:
            # The process dies at `crash` (what it served since its last scrape is lost) and
            # serves again, counting from zero, at `back`; scrapes in between fail.
            n = n_err = 0
            if previous < crash:
                n, n_err = users_and_load(counters, previous, crash)
            if time >= back:
                counters = Counters()
                after = users_and_load(counters, back, time)
                n, n_err = n + after[0], n_err + after[1]
        else:
            n, n_err = users_and_load(counters, previous, time)
        bad += n if regressed else n_err
        _poisson(rng, legacy_stable_rate * HEALTHY_ERROR * (time - previous))  # as before issue 14
        _poisson(rng, legacy_stable_rate * (1 - HEALTHY_ERROR) * (time - previous))
        down = case.outage and FAULT_WINDOW[0] <= time < FAULT_WINDOW[1]
        missing = case.no_data and FAULT_WINDOW[0] <= time < FAULT_WINDOW[1]
        restarting = case.restart and crash <= time < back
        series.record(counters, time, not (down or missing or restarting))
        bad_served.append(bad)
        previous = time
    return series, bad_served


def _stable_pod(case: Case, level: int, seed: int, pod: int) -> Series:
    rng = random.Random(zlib.crc32(f"{case.name}|{level}|{seed}|stable|{pod}".encode()))
    # Scraped long before the canary started: samples from PAST seconds before time 0.
    times = scrape_times(rng.uniform(0.0, case.scrape), case.scrape, since=-PAST)
    rate = level * (1 - CANARY_WEIGHT) / case.stable_pods
    # A pod that has served for days: large counters, its histogram filled as its latency says.
    start = float(rng.randrange(10**6, 10**7) // case.stable_pods)
    cdf = [*(lognormal_cdf(b, *LATENCY_HEALTHY) for b in BUCKETS), 1.0]
    counters = Counters(
        start, float(round(start * HEALTHY_ERROR)), start * 0.09, [float(round(start * c)) for c in cdf]
    )
    series, previous = Series(f"stable-{pod}"), times[0] - case.scrape
    for time in times:
        serve(rng, counters, rate, time - previous, case.stable_error_mass(previous, time), LATENCY_HEALTHY)
        down = case.outage and FAULT_WINDOW[0] <= time < FAULT_WINDOW[1]
        series.record(counters, time, not down)
        previous = time
    return series


def make_trace(case: Case, level: int, seed: int, load: float = 0.0) -> Trace:
    """A deterministic trace of ``case`` at ``level`` total requests/s (plus ``load`` requests/s
    of a gate's synthetic load on the canary; ``bad_served`` counts users' requests only)."""
    canary, bad_served = _canary(case, level, seed, load)
    stable = [_stable_pod(case, level, seed, pod) for pod in range(case.stable_pods)]
    return Trace(case, level, seed, canary, stable, bad_served)


# --- what Prometheus answers -------------------------------------------------------------------


def _window(series: Series, t: float, width: float) -> list[int]:
    start = t - width
    lo = bisect.bisect_right(series.times, start)
    hi = bisect.bisect_right(series.times, t)
    return [k for k in range(lo, hi) if series.present[k]]


ERROR = QueryResult(QueryOutcome.ERROR, (), "Prometheus unreachable (simulated outage)")
EMPTY = QueryResult(QueryOutcome.NO_DATA, (), "empty result")
NAN = QueryResult(QueryOutcome.NO_DATA, (), "NaN (no samples in the window, e.g. 0/0 without traffic)")


def ok(value: float) -> QueryResult:
    return QueryResult(QueryOutcome.OK, (value,))


def _delta(series: Series, column: str, window: list[int]) -> float:
    values = series.corrected[column]
    return values[window[-1]] - values[window[0]]


def error_ratio(trace: Trace, t: float, width: float = 60.0) -> QueryResult:
    """The canary's 5xx ratio over the window (the error-rate template; Flagger's is 1 - this)."""
    if trace.prometheus_down(t):
        return ERROR
    window = _window(trace.canary, t, width)
    if len(window) < 2:
        return EMPTY
    total = _delta(trace.canary, "requests", window)
    if total <= 0:
        return NAN
    return ok(_delta(trace.canary, "errors", window) / total)


def latency_avg(trace: Trace, t: float, width: float = 60.0) -> QueryResult:
    if trace.prometheus_down(t):
        return ERROR
    window = _window(trace.canary, t, width)
    if len(window) < 2:
        return EMPTY
    total = _delta(trace.canary, "requests", window)
    if total <= 0:
        return NAN
    return ok(_delta(trace.canary, "sum", window) / total)


def latency_quantile(trace: Trace, q: float, t: float, width: float = 60.0) -> QueryResult:
    """``histogram_quantile(q, sum by (le) (rate(bucket[width])))``."""
    if trace.prometheus_down(t):
        return ERROR
    window = _window(trace.canary, t, width)
    if len(window) < 2:
        return EMPTY
    counts = [_delta(trace.canary, f"le{i}", window) for i in range(len(LE_LABELS))]
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


def raw_samples(
    trace: Trace, stable: bool, metric: str, start: float, end: float, now: float
) -> SeriesResult:
    """The raw samples of every series of a track's ``metric`` (``requests`` or ``buckets``) in
    (start, min(end, now)], as a range selector answers."""
    if trace.prometheus_down(now):
        return SeriesResult(QueryOutcome.ERROR, (), ERROR.detail)
    found: list[PromSeries] = []
    end = min(end, now)
    for series in trace.stable if stable else [trace.canary]:
        lo = bisect.bisect_right(series.point_times, start)
        hi = bisect.bisect_right(series.point_times, end)
        if lo >= hi:
            continue
        for labels, points in series.points.items():
            if (labels[0][0] == "code") == (metric == "requests"):
                found.append(PromSeries(dict(labels), tuple(points[lo:hi])))
    if not found:
        return SeriesResult(QueryOutcome.NO_DATA, (), "empty result")
    return SeriesResult(QueryOutcome.OK, tuple(found))
