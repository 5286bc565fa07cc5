"""Whole-release benchmark (issue 21): every step of a canary release walked on a virtual clock,
by this project's gate with fixed or traffic-aware steps, with and without the evidence carried
from step to step, and by Flagger's and Argo Rollouts' documented defaults. See bench/README.md.

    python -m bench.release_schedules                      # 100 seeds per case, writes bench/results/
    python -m bench.release_schedules --seeds 5 --out /tmp/x
    python -m bench.release_schedules --seeds 100 --seed-base 1000 --out /tmp/other

The world is bench/traces.py's (the same scrape model, error rates, latency histogram, incident
and 30-s-scrape cases), generated as far as the clock has reached, because the canary's share of
the traffic depends on what the policy decided so far: the canary pod serves ``level x weight``
requests/s, the stable pod the rest. The gate is the real engine (gates.runner.run_gate) reading
the world through bench.gate_decisions.FakePrometheus. Policies:

* ``fixed``: steps 5, 25, 50, 100, each gate counting from its own start (before issue 21);
* ``carry``: the same steps, each gate continuing the evidence of the steps before it;
* ``auto``: the steps gates.schedule.auto_schedule picks from the stable's measured traffic, the
  intermediate steps ruling out a gross failure (their ``accept_ratio``), evidence carried;
* ``flagger``: its tutorial's analysis (stepWeight 5 to maxWeight 50, interval 1m, threshold 5,
  request-success-rate >= 99 % and p99 <= 500 ms over 1m; no data counts as a failed check);
* ``argo``: setWeight 5, 25, 50, 100, each followed by its analysis with Argo's defaults (5
  measurements a minute apart, failureLimit 0, consecutiveErrorLimit 4), the same two metrics.

Each step of ``fixed``, ``carry`` and ``auto`` starts STEP_UP_S after its weight is set (the
`pulumi up` of the step, during which the new weight already serves); promotion is counted when
the last step's gate passes. Different policies move traffic at different times, so the same seed
draws different requests under each: the comparison is between distributions, not paired traces.
"""

from __future__ import annotations

import bisect
import math
import random
import sys
import time
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench import traces
from bench.gate_decisions import (
    FLAGGER_INTERVAL,
    FLAGGER_THRESHOLD,
    FakePrometheus,
    Outcome,
    VirtualClock,
    argo_analysis,
    default_spec,
    flagger_passes,
    healthy_probes,
    quantile,
    run_arguments,
    write_results,
)
from bench.traces import Case, Counters, Series
from gates.prometheus import SeriesResult
from gates.results import QueryResult, Status
from gates.runner import GateRuntime, run_gate
from gates.schedule import accept_ratio, auto_schedule
from gates.spec import GateSpec, parse_spec, spec_to_data

POLICIES = ("fixed", "carry", "auto", "flagger", "argo")
LEVELS = (1, 5, 50, 500)
"""Total requests/s the app serves."""
CASES: tuple[Case, ...] = (
    Case("healthy", bad=False),
    Case("scrape30", bad=False, scrape=30.0),
    Case("incident", bad=False, incident=True),
    Case("bad-2pct", bad=True, error=0.02),
    Case("bad-5pct", bad=True, error=0.05),
    Case("bad-20pct", bad=True, error=0.20),
    Case("latency", bad=True, latency=traces.LATENCY_REGRESSED),
    Case("total", bad=True, error=1.0),
)
FIXED_STEPS = (5, 25, 50, 100)
MAX_FIRST_WEIGHT = 25
"""``canary.maxFirstWeight``'s default."""
STEP_UP_S = 15.0
"""A weight step's `pulumi up` before its gate starts (bench/results/release_steps.md: 10-20 s)."""
HORIZON = 4 * 3600.0
"""A release still undecided then counts as neither promoted nor rolled back."""
FLAGGER_STEP, FLAGGER_MAX = 5, 50
ARGO_STEPS = (5, 25, 50, 100)
DEFAULT_SEEDS = 100


@dataclass
class Track:
    """One pod's counters, scraped at its own phase, grown as the clock advances."""

    series: Series
    counters: Counters
    phase: float
    scrape: float
    rng: random.Random
    served_until: float
    """The counters hold every request served before this time."""
    next_scrape: int = 0


@dataclass
class World:
    """One release's traffic: the canary pod serves ``level x weight`` requests/s, the stable pod
    the rest, each request failing and taking the time the case says."""

    case: Case
    level: int
    seed: int
    weights: list[tuple[float, float]] = field(default_factory=lambda: [(-math.inf, 0.0)])
    """(from time, canary share of the traffic), in time order."""

    def __post_init__(self) -> None:
        base = traces.trace_seed(self.case.name, self.level, self.seed)
        canary_rng = random.Random(zlib.crc32(f"release|canary|{base}".encode()))
        stable_rng = random.Random(zlib.crc32(f"release|stable|{base}".encode()))
        scrape = self.case.scrape
        self.canary = Track(
            Series("canary-0"), Counters(), canary_rng.uniform(0, scrape), scrape, canary_rng, 0.0
        )
        # A pod that has served for days: large counters, its histogram filled as its latency says.
        start = float(stable_rng.randrange(10**6, 10**7))
        cdf = [*(traces.lognormal_cdf(b, *traces.LATENCY_HEALTHY) for b in traces.BUCKETS), 1.0]
        counters = Counters(
            start,
            float(round(start * traces.HEALTHY_ERROR)),
            start * 0.09,
            [float(round(start * c)) for c in cdf],
        )
        phase = stable_rng.uniform(0, scrape)
        first = math.ceil((-traces.PAST - phase) / scrape)
        self.stable = Track(
            Series("stable-0"), counters, phase, scrape, stable_rng, phase + (first - 1) * scrape
        )
        self.stable.next_scrape = first
        self.trace = traces.Trace(
            self.case, self.level, self.seed, self.canary.series, [self.stable.series], []
        )

    def set_weight(self, at: float, percent: float) -> None:
        self.advance(at)
        self.weights.append((at, percent / 100))

    def _pieces(self, start: float, end: float) -> Iterable[tuple[float, float, float]]:
        """(from, to, canary share) of [start, end) split where the weight changed."""
        index = bisect.bisect_right([t for t, _ in self.weights], start) - 1
        t = start
        while t < end:
            share = self.weights[index][1]
            upto = self.weights[index + 1][0] if index + 1 < len(self.weights) else math.inf
            piece_end = min(end, upto)
            if piece_end > t:
                yield t, piece_end, share
            t, index = piece_end, index + 1

    def _grow(self, track: Track, canary: bool, now: float) -> None:
        while True:
            at = track.phase + track.next_scrape * track.scrape
            if at > now:
                return
            for lo, hi, share in self._pieces(track.served_until, at):
                rate = self.level * (share if canary else 1 - share)
                mass = self.case.error_mass(lo, hi) if canary else self.case.stable_error_mass(lo, hi)
                latency = self.case.latency if canary else traces.LATENCY_HEALTHY
                traces.serve(track.rng, track.counters, rate, hi - lo, min(mass, hi - lo), latency)
            track.series.record(track.counters, at, True)
            track.served_until = at
            track.next_scrape += 1

    def advance(self, now: float) -> None:
        self._grow(self.canary, True, now)
        self._grow(self.stable, False, now)

    def canary_requests(self, until: float, bad_only: bool, errors_only: bool = False) -> float:
        """Expected canary requests served in [0, until): every one, the bad ones (5xx, or every
        request when latency regressed), or the 5xx ones."""
        regressed = self.case.latency != traces.LATENCY_HEALTHY
        total = 0.0
        for lo, hi, share in self._pieces(0.0, until):
            if errors_only or (bad_only and not regressed):
                total += self.level * share * min(self.case.error_mass(lo, hi), hi - lo)
            else:
                total += self.level * share * (hi - lo)
        return total


class OnlinePrometheus(FakePrometheus):
    """FakePrometheus over a world generated up to the clock's time before every answer."""

    def __init__(self, spec: GateSpec, world: World, clock: Callable[[], float]) -> None:
        super().__init__(spec, world.trace, clock)
        self.world = world

    def query(self, promql: str) -> QueryResult:
        self.world.advance(self.clock())
        return super().query(promql)

    def samples(self, selector: str, start: float, end: float) -> SeriesResult:
        self.world.advance(self.clock())
        return super().samples(selector, start, end)


def _gate(spec: GateSpec, world: World, start: float, carried: tuple[float, ...]) -> tuple[bool, float]:
    """Run one step's gate from ``start``: (passed, when it ended)."""
    clock = VirtualClock()
    clock.now = start
    prometheus = OnlinePrometheus(spec, world, lambda: clock.now)
    runtime = GateRuntime(
        probe=healthy_probes,
        query=prometheus.query,
        samples=prometheus.samples,
        monotonic=lambda: clock.now,
        sleep=clock.sleep,
        wall=lambda: datetime.fromtimestamp(clock.now, UTC),
        concurrent=False,
        carried=carried,
    )
    report = run_gate(spec, runtime)
    return report.verdict.status is Status.PASS, clock.now


def intermediate(spec: GateSpec, accept_ratio: float) -> GateSpec:
    data = spec_to_data(spec)
    return parse_spec({**data, "sequential": {**data.get("sequential", {}), "accept_ratio": accept_ratio}})


def walk(world: World, steps: tuple[int, ...], carry: bool, auto: bool = False) -> Outcome:
    """Our release: each step's weight, its `pulumi up`, its gate; a failed gate undoes the
    traffic. ``auto``: the gates of an auto schedule (gates.schedule.accept_ratio)."""
    spec = default_spec()
    t, starts = 0.0, tuple[float, ...]()
    for weight in steps:
        world.set_weight(t, weight)
        start = t + STEP_UP_S
        ratio = accept_ratio(weight) if auto else None
        step_spec = intermediate(spec, ratio) if ratio is not None else spec
        passed, t = _gate(step_spec, world, start, starts if carry else ())
        # Carried evidence: the strata's edges, the first gate's start then each gate's end (the
        # HealthGate's `evidence` output in the state).
        starts = (*(starts or (start,)), t)
        if not passed:
            world.set_weight(t, 0)
            return Outcome("rollback", t)
        if t > HORIZON:
            return Outcome("none", HORIZON)
    return Outcome("promote", t)


def measured_stable(world: World) -> tuple[float | None, float | None]:
    """What the release plan reads before it starts: the stable's request rate and error share
    over the last 5 minutes (the gate's own 5m window), from the stable's scrapes."""
    world.advance(0.0)
    series = world.stable.series
    if len(series.times) < 2:
        return None, None
    lo = bisect.bisect_left(series.times, -300.0)
    span = series.times[-1] - series.times[lo]
    requests = series.corrected["requests"][-1] - series.corrected["requests"][lo]
    errors = series.corrected["errors"][-1] - series.corrected["errors"][lo]
    if span <= 0 or requests <= 0:
        return 0.0, None
    return requests / span, errors / requests


def auto(world: World) -> Outcome:
    rate, share = measured_stable(world)
    schedule = auto_schedule(rate, share, default_spec(), MAX_FIRST_WEIGHT)
    return walk(world, schedule.steps, carry=True, auto=True)


def flagger(world: World) -> Outcome:
    """Every interval one analysis: passed, the weight rises by stepWeight (promotion once it
    passes at maxWeight); failed (a threshold missed, or no data), the failed count rises and the
    canary is rolled back at ``threshold``."""
    weight, failed, t = FLAGGER_STEP, 0, 0.0
    world.set_weight(0.0, weight)
    while t < HORIZON:
        t += FLAGGER_INTERVAL
        world.advance(t)
        if flagger_passes(world.trace, t):
            if weight >= FLAGGER_MAX:
                return Outcome("promote", t)
            weight += FLAGGER_STEP
            world.set_weight(t, weight)
        else:
            failed += 1
            if failed >= FLAGGER_THRESHOLD:
                world.set_weight(t, 0)
                return Outcome("rollback", t)
    return Outcome("none", HORIZON)


def argo(world: World) -> Outcome:
    t = 0.0
    for weight in ARGO_STEPS:
        world.set_weight(t, weight)
        outcome = argo_analysis(world.trace, t, HORIZON, world.advance)
        if outcome.action == "rollback":
            world.set_weight(outcome.at, 0)
        if outcome.action != "promote":
            return outcome
        t = outcome.at
    return Outcome("promote", t)


RUNNERS: dict[str, Callable[[World], Outcome]] = {
    "fixed": lambda w: walk(w, FIXED_STEPS, carry=False),
    "carry": lambda w: walk(w, FIXED_STEPS, carry=True),
    "auto": auto,
    "flagger": flagger,
    "argo": argo,
}


def summarise(case: Case, results: list[tuple[World, Outcome]]) -> dict[str, Any]:
    n = len(results)
    rollbacks = [o for _, o in results if o.action == "rollback"]
    ended = [(w, o.at if o.action != "none" else HORIZON) for w, o in results]
    row: dict[str, Any] = {
        "traces": n,
        "promote_median_s": quantile([o.at if o.action == "promote" else math.inf for _, o in results], 0.5),
        "rollback_rate": round(len(rollbacks) / n, 4),
        "false_rollback_rate": None if case.bad else round(len(rollbacks) / n, 4),
        "detect_median_s": None,
        "bad_requests_median": None,
        "failed_user_requests_median": None,
    }
    if case.bad:
        row["detect_median_s"] = quantile(
            [o.at if o.action == "rollback" else math.inf for _, o in results], 0.5
        )
        bad = sorted(w.canary_requests(at, bad_only=True) for w, at in ended)
        failed = sorted(w.canary_requests(at, bad_only=True, errors_only=True) for w, at in ended)
        row["bad_requests_median"] = round(bad[len(bad) // 2], 1)
        row["failed_user_requests_median"] = round(failed[len(failed) // 2], 1)
    return row


def case_name(case: Case, level: int) -> str:
    return f"{case.name}@{level}rps"


def run_case(args: tuple[str, int, int, int]) -> tuple[str, dict[str, dict[str, Any]]]:
    name, level, seeds, seed_base = args
    case = next(c for c in CASES if c.name == name)
    rows = {}
    for policy in POLICIES:
        results = []
        for seed in range(seed_base, seed_base + seeds):
            world = World(case, level, seed)
            results.append((world, RUNNERS[policy](world)))
        rows[policy] = summarise(case, results)
    return case_name(case, level), rows


def run(seeds: int, workers: int, seed_base: int = 0) -> dict[str, Any]:
    tasks = [(case.name, level, seeds, seed_base) for level in LEVELS for case in CASES]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            pairs = list(pool.map(run_case, tasks))
    else:
        pairs = [run_case(task) for task in tasks]
    policies = {policy: {name: rows[policy] for name, rows in pairs} for policy in POLICIES}
    healthy: dict[str, float] = {}
    for policy in POLICIES:
        kept = [r for r in policies[policy].values() if r["false_rollback_rate"] is not None]
        total = sum(r["traces"] for r in kept)
        healthy[policy] = round(sum(r["false_rollback_rate"] * r["traces"] for r in kept) / total, 4)
    spec = default_spec()
    return {
        "settings": {
            "seeds_per_case": seeds,
            "seed_base": seed_base,
            "levels_rps": list(LEVELS),
            "fixed_steps": list(FIXED_STEPS),
            "auto_schedules": {
                f"{level}rps": auto_schedule(level, traces.HEALTHY_ERROR, spec, MAX_FIRST_WEIGHT).reason
                for level in LEVELS
            },
            "step_up_s": STEP_UP_S,
            "healthy_error_rate": traces.HEALTHY_ERROR,
            "scrape_interval_s": traces.SCRAPE,
            "horizon_s": HORIZON,
        },
        "policies": policies,
        "false_rollback_rate_all_healthy": healthy,
    }


def _cell(value: Any) -> str:
    return "-" if value is None else f"{value:g}"


def _minutes(seconds: Any) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f}"


def markdown(document: dict[str, Any]) -> str:
    policies = document["policies"]
    settings = document["settings"]
    names = list(next(iter(policies.values())))
    header = "| case | " + " | ".join(POLICIES) + " |"
    rule = "|---|" + "---|" * len(POLICIES)
    lines = [
        "# Whole releases",
        "",
        f"{settings['seeds_per_case']} seeds per case (from seed {settings['seed_base']}); every step of a "
        f"canary release, a `pulumi up` of {settings['step_up_s']:g} s before each gate. Generated by "
        "`python -m bench.release_schedules` (see bench/README.md). `auto`'s steps: "
        + "; ".join(f"{k}: {v}" for k, v in settings["auto_schedules"].items())
        + ".",
        "",
        "## Healthy releases: median minutes to promote (false-rollback rate)",
        "",
        header,
        rule,
    ]
    for name in names:
        if policies[POLICIES[0]][name]["false_rollback_rate"] is None:
            continue
        cells = [
            f"{_minutes(policies[p][name]['promote_median_s'])} ({100 * policies[p][name]['false_rollback_rate']:.1f} %)"
            for p in POLICIES
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    overall = document["false_rollback_rate_all_healthy"]
    lines.append(
        "| **all healthy traces** | " + " | ".join(f"**{100 * overall[p]:.2f} %**" for p in POLICIES) + " |"
    )
    lines += [
        "",
        "## Bad releases: rolled back (median minutes to the rollback; median bad requests served, failed requests)",
        "",
        header,
        rule,
    ]
    for name in names:
        if policies[POLICIES[0]][name]["false_rollback_rate"] is not None:
            continue
        cells = []
        for p in POLICIES:
            r = policies[p][name]
            cells.append(
                f"{100 * r['rollback_rate']:.0f} % ({_minutes(r['detect_median_s'])}; "
                f"{_cell(r['bad_requests_median'])}, {_cell(r['failed_user_requests_median'])})"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = run_arguments(__doc__.splitlines()[0], DEFAULT_SEEDS).parse_args(argv)
    started = time.perf_counter()
    document = run(max(1, min(args.seeds, 10_000)), max(1, args.workers), max(0, args.seed_base))
    write_results(args.out, "release_schedules", document, markdown(document), started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
