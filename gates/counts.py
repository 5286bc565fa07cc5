"""Exact counts from the raw samples of Prometheus counters, for the sequential tests.

Why not ``increase()``: it extrapolates the increase between the first and last sample of the
range to the range's edges, which overstates the evidence by up to 2x with two samples, so the
test had to divide by the worst case. The raw samples of a counter give the exact number of
requests between two scrapes instead, and they tell the gate three things ``increase()`` hides:

* **Resets.** A counter that went down restarted from zero (a pod restart keeps its series): the
  increase across the reset is the value after it, as ``increase()`` counts it, but never
  extrapolated. What the process served between its last scrape and its restart is lost to every
  query; the counts stay a lower bound of what happened, never more.
* **New series.** A series without a sample in the ``LOOKBACK`` before the gate started was
  created since (a new canary pod, or a 5xx series created at the first error): it counted from
  zero, so its first sample is already an increase. An older series counts from its last sample
  at or before the gate's start.
* **When each count was taken.** Each series is scraped at its own phase, so the canary's and the
  stable's latest samples are up to a scrape interval apart. When an error rate shared by both
  tracks changes (a dependency failing), the track scraped later shows it first, and comparing
  the two as they stand would blame the canary for it. So the counts are *aligned* (``align``):
  to decide that the canary is worse, the stable is counted up to a sample at or after the
  canary's last counted sample (the stable's counted time covers the canary's); to decide that it
  is not, the other way round.

``Ledger`` keeps the samples of one selector across evaluations: each fetch asks only for what is
new since the previous one (with an overlap for samples stored late), so a long gate does not
re-read its whole history every interval. Pure: no I/O (the runner fetches).
"""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gates.prometheus import Series

LOOKBACK = 300.0
"""Seconds before the gate's start in which a series must have a sample to count as existing
before it (Prometheus' own lookback delta: 5 minutes)."""
OVERLAP = 120.0
"""Each fetch re-reads this many seconds before the previous fetch's end: samples are stored when
their scrape completes, after their timestamp."""
STALE_AFTER = 3.0
"""A track whose newest sample is older than this many scrape intervals has no current data."""
STALE_DEFAULT = 90.0
"""The staleness limit (s) while no series has two samples to measure its scrape interval."""


def _key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


@dataclass
class SeriesLog:
    """One counter series: its samples, oldest first, and the running reset-corrected increase."""

    labels: Mapping[str, str]
    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    increase: list[float] = field(default_factory=list)
    """``increase[i]``: requests counted from sample 0 to sample i (resets corrected)."""

    def add(self, time: float, value: float) -> None:
        if self.times and time <= self.times[-1]:
            return  # already known (fetches overlap)
        step = 0.0
        if self.values:
            previous = self.values[-1]
            step = value - previous if value >= previous else value
        self.times.append(time)
        self.values.append(value)
        self.increase.append((self.increase[-1] if self.increase else 0.0) + step)

    def last_at_or_before(self, moment: float) -> int | None:
        index = bisect.bisect_right(self.times, moment) - 1
        return index if index >= 0 else None

    def first_at_or_after(self, moment: float) -> int | None:
        index = bisect.bisect_left(self.times, moment)
        return index if index < len(self.times) else None


@dataclass(frozen=True)
class Window:
    """Where a series' count starts (its base) and up to which sample it runs."""

    start: float
    """Where counting starts (Prometheus time): from each series' last sample at or before it."""
    start_after: float | None = None
    """Start instead at the first sample at or after this time when that is later (the other
    track's counts start there: see ``align``)."""
    end_before: float | None = None
    """Count up to the last sample at or before this time (None: the latest sample)."""
    end_after: float | None = None
    """Count up to the first sample at or after this time (it has one: see ``align``)."""


def series_count(log: SeriesLog, window: Window) -> float:
    """Requests counted by one series in ``window`` (0 when it has no sample to count)."""
    if not log.times:
        return 0.0
    base = log.last_at_or_before(window.start)
    if base is not None and window.start_after is not None and window.start_after > log.times[base]:
        base = log.first_at_or_after(window.start_after)
        if base is None:
            return 0.0
    if window.end_after is not None:
        end = log.first_at_or_after(window.end_after)
        end = len(log.times) - 1 if end is None else end
    elif window.end_before is not None:
        end = log.last_at_or_before(window.end_before)
        if end is None:
            return 0.0
    else:
        end = len(log.times) - 1
    if base is None:
        # No sample at or before the start: the series is new and counted from zero.
        return log.values[0] + log.increase[end]
    if end <= base:
        return 0.0
    return log.increase[end] - log.increase[base]


@dataclass
class Ledger:
    """The samples of one selector (one metric of one track), merged across fetches."""

    start: float
    """Where counting starts (Prometheus time): the gate's start, or an earlier step's."""
    boundaries: tuple[float, ...] = ()
    """When carrying evidence: where each later stratum starts (the end of the gate after which the
    weight moved), oldest first. The counts between two are one stratum (gates/sequential.py)."""
    series: dict[tuple[tuple[str, str], ...], SeriesLog] = field(default_factory=dict)
    fetched_until: float | None = None
    _selected: dict[tuple[tuple[str, str], ...], list[SeriesLog]] = field(default_factory=dict, repr=False)
    _interval: tuple[float | None] | None = field(default=None, repr=False)

    def fetch_range(self, now: float) -> tuple[float, float]:
        """The (start, end) of the next fetch: since the lookback before the gate, then since the
        previous fetch (minus the overlap)."""
        if self.fetched_until is None:
            return self.start - LOOKBACK, now
        return max(self.start - LOOKBACK, self.fetched_until - OVERLAP), now

    def merge(self, series: Iterable[Series], until: float) -> None:
        for item in series:
            key = _key(item.labels)
            log = self.series.get(key)
            if log is None:
                log = self.series[key] = SeriesLog(dict(item.labels))
                self._selected.clear()
            points = item.points
            # Fetches overlap: skip what is known (a series' samples only ever arrive in order).
            first = bisect.bisect_right(points, (log.times[-1], math.inf)) if log.times else 0
            for time, value in points[first:]:
                if math.isfinite(value):
                    log.add(time, value)
        self.fetched_until = until
        self._interval = None

    def newest(self) -> float | None:
        """The time of the newest sample of any series (None: no sample yet)."""
        return max((log.times[-1] for log in self.series.values() if log.times), default=None)

    def scrape_interval(self) -> float | None:
        """The median gap between consecutive samples of a series (None: not measurable yet)."""
        if self._interval is None:
            gaps = [b - a for log in self.series.values() for a, b in itertools.pairwise(log.times[-4:])]
            self._interval = (statistics.median(gaps) if gaps else None,)
        return self._interval[0]

    def _stale_after(self) -> float:
        interval = self.scrape_interval()
        return STALE_DEFAULT if interval is None else STALE_AFTER * interval

    def stale(self, now: float) -> float | None:
        """Seconds since the newest sample when that is longer than ``STALE_AFTER`` scrape
        intervals (the track stopped being scraped or serving), else None."""
        newest = self.newest()
        if newest is None:
            return None
        age = now - newest
        return age if age > self._stale_after() else None

    def live(self, now: float) -> list[SeriesLog]:
        """Series with a current sample (not stale on their own), for alignment."""
        limit = self._stale_after()
        return [log for log in self.series.values() if log.times and now - log.times[-1] <= limit]

    def total(self, window: Window, match: tuple[tuple[str, str], ...] = ()) -> float:
        """Requests counted over every series (or those whose labels match ``match``: pairs of
        label name and value, a value ending in ``*`` being a prefix)."""
        selected = self._selected.get(match)
        if selected is None:
            selected = [log for log in self.series.values() if _matches(log.labels, match)]
            self._selected[match] = selected
        return sum(series_count(log, window) for log in selected)

    def label_values(self, name: str) -> set[str]:
        return {log.labels[name] for log in self.series.values() if name in log.labels}


def _matches(labels: Mapping[str, str], match: tuple[tuple[str, str], ...]) -> bool:
    for name, wanted in match:
        value = labels.get(name, "")
        if wanted.endswith("*"):
            if not value.startswith(wanted[:-1]):
                return False
        elif value != wanted:
            return False
    return True


@dataclass(frozen=True)
class Alignment:
    """The windows of both tracks for one decision."""

    canary: Window
    baseline: Window


def _bases(ledger: Ledger, start: float) -> float | None:
    """The latest of the series' base samples (the last at or before ``start``)."""
    found = [
        log.times[i] for log in ledger.series.values() if (i := log.last_at_or_before(start)) is not None
    ]
    return max(found) if found else None


def strata(canary: Ledger, baseline: Ledger) -> list[Alignment]:
    """The closed strata of carried evidence: from the counting start to the first boundary,
    then boundary to boundary; counted as ``align`` counts to reject (the canary's window inside
    the baseline's, so a change of error rate at an edge is never blamed on the canary)."""
    edges = [canary.start, *canary.boundaries]
    found = []
    for a, b in itertools.pairwise(edges):
        ends = [log.times[i] for log in canary.series.values() if (i := log.last_at_or_before(b)) is not None]
        cut = min(ends) if ends else b
        found.append(Alignment(Window(a, _bases(baseline, a), end_before=cut), Window(a, end_after=cut)))
    return found


def align(canary: Ledger, baseline: Ledger, now: float) -> tuple[Alignment, Alignment]:
    """(to reject, to accept): for rejecting, the canary's window inside the baseline's: counted
    from its first sample at or after the baseline's latest base sample, up to the oldest of the
    baseline's latest samples, and the baseline up to a sample at or after that; for accepting,
    the other way round. Each pod is scraped at its own phase: without this, a track would count
    a few seconds the other does not, and an error rate changing then (an incident starting or
    ending, both tracks failing) would look like a difference between them. Stale series are left
    out of the cut (a deleted pod would hold it back forever) and counted to their end. With
    carried evidence, from the last boundary (the current stratum)."""
    start = canary.boundaries[-1] if canary.boundaries else canary.start
    base_latest = [log.times[-1] for log in baseline.live(now)]
    canary_latest = [log.times[-1] for log in canary.live(now)]
    base_start, canary_start = _bases(baseline, start), _bases(canary, start)
    if base_latest:
        cut = min(base_latest)
        reject = Alignment(Window(start, base_start, end_before=cut), Window(start, end_after=cut))
    else:
        reject = Alignment(Window(start, base_start), Window(start))
    if canary_latest:
        cut = min(canary_latest)
        accept = Alignment(Window(start), Window(start, canary_start, end_before=cut))
    else:
        accept = Alignment(Window(start), Window(start, canary_start))
    return reject, accept
