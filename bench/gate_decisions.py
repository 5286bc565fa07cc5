"""Gate decisions benchmark (issues 8 and 14): the CD guide's method, Flagger, Argo Rollouts and
this project's gate, fed the same synthetic traces on a virtual clock. See bench/README.md.

    python -m bench.gate_decisions            # 200 seeds per case, writes bench/results/
    python -m bench.gate_decisions --seeds 5 --out /tmp/x --probe-targets 20   # a quick run
    python -m bench.gate_decisions --seeds 200 --seed-base 1000 --out /tmp/other  # other traces

Nothing sleeps: traces are counters scraped per pod (bench/traces.py) and every policy reads them
through what Prometheus would answer at the policy's own query times. ``ours`` is the real gate
engine (gates.runner.run_gate with a virtual clock and a fake Prometheus client that answers the
PromQL and the raw-sample fetches the gate sends); the others are re-implementations of their
documented default rules.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import traces
from bench.traces import CASES, LEVELS, Case, Trace
from gates.load import LoadStats
from gates.prometheus import SeriesResult
from gates.results import Decision, ProbeResult, QueryOutcome, QueryResult, Status
from gates.runner import GateRuntime, run_gate
from gates.sequential import Counts, Design, Reference, wald_expected_samples, weigh
from gates.spec import GateSpec, ProbeSpec, parse_spec, spec_to_data

POLICIES = (
    "guide",
    "flagger",
    "argo",
    "ours",
    "ours-load",
    "ours-threshold",
    "oracle-sprt",
    "oracle-mixture",
)
ORACLES = ("oracle-sprt", "oracle-mixture")
"""References, not policies: they are told the healthy error rate (error-rate cases only)."""
ALPHA = BETA = 0.01
DEFAULT_SEEDS = 200
RESULTS = Path(__file__).parent / "results"


@dataclass(frozen=True)
class Outcome:
    """What a policy did with one trace."""

    action: str
    """``rollback``, ``promote`` or ``none`` (undecided within the horizon)."""
    at: float
    """Seconds after the canary started receiving traffic."""


def is_ok(result: QueryResult) -> bool:
    return result.outcome is QueryOutcome.OK


# --- the CD guide ------------------------------------------------------------------------------
GUIDE_INTERVAL, GUIDE_WATCH = 30.0, 300.0
"""The guide: check every 30 s; any failed check (error rate > 5 %, average latency > 2 s) rolls
back at once. It gives no observation time or window: we watch 5 minutes (as ``ours`` and about
Flagger's analysis) over 1-minute windows, and a check without data is not a failed check (the
guide only defines failure by the thresholds)."""


def guide(trace: Trace) -> Outcome:
    for k in range(1, int(GUIDE_WATCH / GUIDE_INTERVAL) + 1):
        t = k * GUIDE_INTERVAL
        errors, latency = traces.error_ratio(trace, t), traces.latency_avg(trace, t)
        if (is_ok(errors) and errors.values[0] > 0.05) or (is_ok(latency) and latency.values[0] > 2.0):
            return Outcome("rollback", t)
    return Outcome("promote", GUIDE_WATCH)


# --- Flagger -----------------------------------------------------------------------------------
FLAGGER_INTERVAL, FLAGGER_THRESHOLD, FLAGGER_ITERATIONS = 60.0, 5, 5
"""Flagger's Istio tutorial: ``analysis: interval: 1m, threshold: 5, maxWeight: 50, stepWeight: 10``
(5 successful analyses to reach maxWeight, then promotion), metrics ``request-success-rate``
``thresholdRange.min: 99`` over ``interval: 1m`` and ``request-duration`` (P99)
``thresholdRange.max: 500`` ms over 1m (docs: fluxcd.io/flagger/usage/metrics). Failed checks are
cumulative and the canary is rolled back when they reach ``threshold``; "no values found" (no data,
NaN) and query errors halt advancement and count as failed checks (fluxcd/flagger#1689, #883,
#1582). The weight is held at 5 % here, so only the number of analyses matters; promotion is
counted at the 5th passing analysis (Flagger's extra promotion/finalising intervals are ignored,
in its favour)."""


def flagger_passes(trace: Trace, t: float) -> bool:
    """One Flagger analysis at ``t``: both metrics answered and within their thresholds."""
    errors, p99 = traces.error_ratio(trace, t), traces.latency_quantile(trace, 0.99, t)
    return is_ok(errors) and 1 - errors.values[0] >= 0.99 and is_ok(p99) and p99.values[0] <= 0.5


def flagger(trace: Trace) -> Outcome:
    failed = passed = 0
    for k in range(1, int(traces.HORIZON / FLAGGER_INTERVAL) + 1):
        t = k * FLAGGER_INTERVAL
        if flagger_passes(trace, t):
            passed += 1
            if passed >= FLAGGER_ITERATIONS:
                return Outcome("promote", t)
        else:
            failed += 1
            if failed >= FLAGGER_THRESHOLD:
                return Outcome("rollback", t)
    return Outcome("none", traces.HORIZON)


# --- Argo Rollouts -----------------------------------------------------------------------------
ARGO_INTERVAL, ARGO_ERROR_RETRY, ARGO_CONSECUTIVE_ERRORS, ARGO_COUNT = 60.0, 10.0, 4, 5
"""Argo Rollouts' defaults: failureLimit 0 (the metric fails when failed > 0: one failed
measurement), consecutiveErrorLimit 4 (``DefaultConsecutiveErrorLimit int32 = 4``: the metric errors,
and the rollout aborts, when consecutive errors exceed 4), an errored measurement is retried after
``DefaultErrorRetryInterval`` 10 s, else measurements every ``interval: 1m``, the first one when the
analysis starts. Empty results (and NaN) are measurement errors. Argo has no default metric: we
give it the same two as Flagger's tutorial (success rate >= 0.99 and P99 <= 0.5 s over 1m) so only
the decision rules differ, and ``count: 5`` to match Flagger's 5 analyses (every completed
measurement, errored ones included, counts towards ``count``)."""


def _argo_metric(
    measure: Callable[[float], QueryResult], good: Callable[[float], bool], start: float, horizon: float
) -> Outcome:
    t, errors = start, 0
    for count in range(1, 1001):
        if t > horizon:
            break
        result = measure(t)
        if not is_ok(result):
            errors += 1
            if errors > ARGO_CONSECUTIVE_ERRORS:
                return Outcome("rollback", t)
            step = ARGO_ERROR_RETRY
        else:
            errors = 0
            if not good(result.values[0]):
                return Outcome("rollback", t)
            step = ARGO_INTERVAL
        if count >= ARGO_COUNT:
            return Outcome("promote", t)
        t += step
    return Outcome("none", horizon)


def argo_analysis(
    trace: Trace,
    start: float = 0.0,
    horizon: float = traces.HORIZON,
    before: Callable[[float], None] = lambda _t: None,
) -> Outcome:
    """One Argo analysis of both metrics from ``start`` (``before(t)`` runs ahead of each
    measurement: bench/release_schedules generates its world up to ``t`` there)."""

    def measured(query: Callable[[Trace, float], QueryResult]) -> Callable[[float], QueryResult]:
        def measure(t: float) -> QueryResult:
            before(t)
            return query(trace, t)

        return measure

    metrics = [
        _argo_metric(measured(traces.error_ratio), lambda v: 1 - v >= 0.99, start, horizon),
        _argo_metric(
            measured(lambda tr, t: traces.latency_quantile(tr, 0.99, t)), lambda v: v <= 0.5, start, horizon
        ),
    ]
    rollbacks = [m.at for m in metrics if m.action == "rollback"]
    if rollbacks:
        return Outcome("rollback", min(rollbacks))
    if all(m.action == "promote" for m in metrics):
        return Outcome("promote", max(m.at for m in metrics))
    return Outcome("none", horizon)


# --- a reference, not a policy -----------------------------------------------------------------
ORACLE_INTERVAL = 10.0


def _last_scrapes(trace: Trace) -> Iterable[tuple[float, float, float]]:
    """(t, requests, errors) of the canary's last successful scrape, every ORACLE_INTERVAL s."""
    canary = trace.canary
    for k in range(int(traces.HORIZON / ORACLE_INTERVAL) + 1):
        t = k * ORACLE_INTERVAL
        seen = bisect.bisect_right(canary.times, t) - 1
        while seen >= 0 and not canary.present[seen]:
            seen -= 1
        if seen >= 0:
            yield t, canary.requests[seen], canary.errors[seen]


def _error_case(trace: Trace) -> bool:
    return trace.case.bad and trace.case.latency == traces.LATENCY_HEALTHY


def oracle_sprt(trace: Trace) -> Outcome:
    """Wald's SPRT told the true healthy and bad error rates (alpha = beta = 1 %), fed the exact
    canary counts of the last scrape (no extrapolation, no baseline to estimate) every 10 s like
    ``ours``: the best any gate reading Prometheus could do on this trace."""
    if not _error_case(trace):
        return Outcome("none", traces.HORIZON)
    p0, p1 = traces.HEALTHY_ERROR, trace.case.mean_error
    upper, lower = math.log((1 - BETA) / ALPHA), math.log(BETA / (1 - ALPHA))
    per_error, per_success = math.log(p1 / p0), math.log((1 - p1) / (1 - p0))
    for t, n, e in _last_scrapes(trace):
        llr = e * per_error + (n - e) * per_success
        if llr >= upper:
            return Outcome("rollback", t)
        if llr <= lower:
            return Outcome("promote", t)
    return Outcome("none", traces.HORIZON)


def oracle_mixture(trace: Trace) -> Outcome:
    """The gate's own test (gates/sequential.py, at the default spec's error probabilities)
    told only the healthy error rate, fed what ``oracle-sprt`` is fed: what ``ours`` would do if it
    knew the stable's rate and read the canary's counts the moment they are scraped. Between the
    two oracles: the price of not knowing the bad rate (and of the lower false-rollback
    probability); between this one and ``ours``: the price of reading two tracks from Prometheus."""
    if not _error_case(trace):
        return Outcome("none", traces.HORIZON)
    spec = default_spec()
    design = Design(spec.sequential.error_probability, spec.sequential.early_pass_error_probability)
    reference = Reference(spec.sequential.min_error_rate, traces.HEALTHY_ERROR)
    for t, n, e in _last_scrapes(trace):
        if n <= 0:
            continue
        counts = (Counts(n, e), None)
        decision = weigh(counts, counts, design, reference).decision
        if decision is Decision.REJECT:
            return Outcome("rollback", t)
        if decision is Decision.ACCEPT:
            return Outcome("promote", t)
    return Outcome("none", traces.HORIZON)


# --- this project's gate -----------------------------------------------------------------------
GATE_PARAMS = {"namespace": "production", "app": "flutter-app", "version": "canary"}


def default_spec(mode: str | None = None) -> GateSpec:
    """The gate components/gating.py declares after a canary step: the CD guide's checks on the
    canary track (error rate 5 %, average latency 2 s, p95 5 s), every other field at its default.
    ``mode`` None: the current default (sequential); ``threshold``: the gate before issue 8."""
    data: dict[str, Any] = {
        "name": "flutter-app-canary",
        "prometheus": {"url": "http://prometheus.invalid:9090"},
        "checks": [
            {"name": f"{t}-canary", "template": t, "params": GATE_PARAMS, "max": limit}
            for t, limit in (("error-rate", 0.05), ("latency-avg", 2.0), ("latency-p95", 5.0))
        ],
    }
    if mode is not None:
        data["mode"] = mode
    return parse_spec(data)


_VERSION = re.compile(r'version="([^"]*)"')


class FakePrometheus:
    """Answers what the gate asks about a trace, at the virtual clock's time: the PromQL of its
    threshold checks, and raw samples of the canary's and the stable's series."""

    def __init__(self, spec: GateSpec, trace: Trace, clock: Callable[[], float]) -> None:
        self.trace, self.clock = trace, clock
        self.fixed: dict[str, Callable[[float], QueryResult]] = {}
        for check in spec.checks:
            if check.template == "error-rate":
                self.fixed[check.promql] = lambda t: traces.error_ratio(trace, t)
            elif check.template == "latency-avg":
                self.fixed[check.promql] = lambda t: traces.latency_avg(trace, t)
            elif check.template == "latency-p95":
                self.fixed[check.promql] = lambda t: traces.latency_quantile(trace, 0.95, t)

    def query(self, promql: str) -> QueryResult:
        if promql not in self.fixed:
            raise ValueError(f"unexpected query {promql}")
        return self.fixed[promql](self.clock())

    def samples(self, selector: str, start: float, end: float) -> SeriesResult:
        version = _VERSION.search(selector)
        if version is None or version.group(1) not in ("canary", "stable"):
            raise ValueError(f"unexpected selector {selector}")
        metric = "requests" if selector.startswith("http_requests_total{") else "buckets"
        return traces.raw_samples(self.trace, version.group(1) == "stable", metric, start, end, self.clock())


class VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


LOAD_RATE = 5.0
"""``ours-load``: the synthetic load's rate (requests/s to the canary; a quarter of the 20/s of
Flagger's tutorial load tester, ``hey -q 10 -c 2``)."""


def load_spec() -> GateSpec:
    """``ours-load``: the default canary gate with a probe (as components/gating.py declares when
    the app has a gate URL) and a ``load`` section sending LOAD_RATE requests/s through it."""
    data = spec_to_data(default_spec())
    probe = {"url": "http://flutter-app.invalid/health", "headers": {"canary": "true"}}
    return parse_spec({**data, "probes": [probe], "load": {"rate": LOAD_RATE, "path": "/"}})


class _NoLoad:
    """The load is in the trace already (traces.make_trace(load=...))."""

    def stop(self) -> LoadStats:
        return LoadStats(LOAD_RATE, 1)


def healthy_probes(probes: Sequence[ProbeSpec]) -> list[ProbeResult]:
    # Probes are left out of the comparison (a canary with errors in a share of its requests
    # passes /health): they always pass here.
    return [ProbeResult(p.url, Status.PASS, p.response_limit, 200, 0.01, "HTTP 200") for p in probes]


def gate(spec: GateSpec, trace: Trace) -> Outcome:
    """The real gate engine on a virtual clock."""
    clock = VirtualClock()
    prometheus = FakePrometheus(spec, trace, lambda: clock.now)
    runtime = GateRuntime(
        probe=healthy_probes,
        query=prometheus.query,
        samples=prometheus.samples,
        start_load=lambda _load, _probes, _seconds: _NoLoad(),
        monotonic=lambda: clock.now,
        sleep=clock.sleep,
        wall=lambda: datetime.fromtimestamp(clock.now, UTC),
        concurrent=False,
    )
    report = run_gate(spec, runtime)
    at = report.evaluations[-1].offset if report.evaluations else clock.now
    return Outcome("promote" if report.verdict.status is Status.PASS else "rollback", at)


# --- running and summarising ---------------------------------------------------------------------


def case_name(case: Case, level: int) -> str:
    return f"{case.name}@{level}rps"


def quantile(values: list[float], q: float) -> float | None:
    """Nearest-rank quantile; None when it falls on a trace the policy never decided (inf)."""
    ordered = sorted(values)
    value = ordered[max(0, math.ceil(q * len(ordered)) - 1)]
    return None if math.isinf(value) else round(value, 1)


def summarise(case: Case, trace_list: list[Trace], outcomes: list[Outcome]) -> dict[str, Any]:
    n = len(outcomes)
    rollbacks = [o for o in outcomes if o.action == "rollback"]
    row: dict[str, Any] = {
        "detect_median_s": None,
        "detect_p95_s": None,
        "bad_requests": None,
        "false_rollback_rate": None,
        "promote_median_s": None,
        "rollback_rate": round(len(rollbacks) / n, 4),
        "traces": n,
    }
    if case.bad:
        detect = [o.at if o.action == "rollback" else math.inf for o in outcomes]
        row["detect_median_s"] = quantile(detect, 0.5)
        row["detect_p95_s"] = quantile(detect, 0.95)
        served = sorted(
            t.bad_until(o.at if o.action == "rollback" else traces.HORIZON)
            for t, o in zip(trace_list, outcomes, strict=True)
        )
        row["bad_requests"] = round(served[len(served) // 2], 1)
    else:
        row["false_rollback_rate"] = round(len(rollbacks) / n, 4)
        promote = [o.at if o.action == "promote" else math.inf for o in outcomes]
        row["promote_median_s"] = quantile(promote, 0.5)
    return row


def sprt_floor(case: Case, level: int) -> float | None:
    """Expected seconds a Wald SPRT needs to tell the case's error rate from the healthy one at
    alpha = beta = 0.01, given the canary's request rate (None: not an error-rate case)."""
    if not case.bad or case.latency != traces.LATENCY_HEALTHY:
        return None
    samples = wald_expected_samples(traces.HEALTHY_ERROR, case.mean_error, ALPHA, BETA)
    return round(samples / (level * traces.CANARY_WEIGHT), 1)


def run_case(args: tuple[str, int, int, int]) -> tuple[str, dict[str, dict[str, Any]]]:
    """Every policy on every seed of one case at one traffic level."""
    name, level, seeds, seed_base = args
    case = next(c for c in CASES if c.name == name)
    specs = {"ours": default_spec(), "ours-load": load_spec(), "ours-threshold": default_spec("threshold")}
    seed_range = range(seed_base, seed_base + seeds)
    trace_list = [traces.make_trace(case, level, seed) for seed in seed_range]
    loaded = {seed: traces.make_trace(case, level, seed, load=LOAD_RATE) for seed in seed_range}
    runners: dict[str, Callable[[Trace], Outcome]] = {
        "guide": guide,
        "flagger": flagger,
        "argo": argo_analysis,
        "ours": lambda t: gate(specs["ours"], t),
        "ours-load": lambda t: gate(specs["ours-load"], loaded[t.seed]),
        "ours-threshold": lambda t: gate(specs["ours-threshold"], t),
        "oracle-sprt": oracle_sprt,
        "oracle-mixture": oracle_mixture,
    }
    rows = {}
    for policy in POLICIES:
        # bad_requests of ours-load: the users' requests its trace served (the same as the others').
        used = [loaded[t.seed] for t in trace_list] if policy == "ours-load" else trace_list
        rows[policy] = summarise(case, used, [runners[policy](t) for t in trace_list])
    if sprt_floor(case, level) is None:  # the oracles only know error-rate cases
        for oracle in ORACLES:
            rows[oracle] = {key: None for key in rows[oracle]}
    return case_name(case, level), rows


def run(seeds: int, workers: int, seed_base: int = 0) -> dict[str, Any]:
    tasks = [(case.name, level, seeds, seed_base) for level in LEVELS for case in CASES]
    results: dict[str, dict[str, dict[str, Any]]] = {}
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            pairs: Iterable[tuple[str, dict[str, dict[str, Any]]]] = list(pool.map(run_case, tasks))
    else:
        pairs = [run_case(task) for task in tasks]
    for name, rows in pairs:
        results[name] = rows
    policies = {policy: {name: rows[policy] for name, rows in results.items()} for policy in POLICIES}
    floors = {case_name(c, level): sprt_floor(c, level) for level in LEVELS for c in CASES}
    healthy: dict[str, float] = {}
    for policy in POLICIES:
        kept = [r for r in policies[policy].values() if r["false_rollback_rate"] is not None]
        total = sum(r["traces"] for r in kept)
        if total:
            healthy[policy] = round(sum(r["false_rollback_rate"] * r["traces"] for r in kept) / total, 4)
    return {
        "settings": {
            "seeds_per_case": seeds,
            "seed_base": seed_base,
            "levels_rps": list(LEVELS),
            "canary_weight": traces.CANARY_WEIGHT,
            "healthy_error_rate": traces.HEALTHY_ERROR,
            "scrape_interval_s": traces.SCRAPE,
            "scrape_interval_s_by_case": {c.name: c.scrape for c in CASES if c.scrape != traces.SCRAPE},
            "stable_pods_by_case": {c.name: c.stable_pods for c in CASES if c.stable_pods != 1},
            "horizon_s": traces.HORIZON,
            "alpha": ALPHA,
            "beta": BETA,
        },
        "policies": policies,
        "sprt_floor_s": floors,
        "false_rollback_rate_all_healthy": healthy,
    }


def _cell(value: Any, suffix: str = "") -> str:
    return "-" if value is None else f"{value:g}{suffix}"


def markdown(document: dict[str, Any]) -> str:
    policies = document["policies"]
    floors = document["sprt_floor_s"]
    names = list(next(iter(policies.values())))
    lines = [
        "# Gate decisions",
        "",
        f"{document['settings']['seeds_per_case']} seeds per case (from seed "
        f"{document['settings']['seed_base']}); canary at "
        f"{100 * traces.CANARY_WEIGHT:g} % of the traffic level; scrape every {traces.SCRAPE:g} s. "
        "Generated by `python -m bench.gate_decisions` (see bench/README.md).",
        "",
        "## Bad releases: detection median / p95 (s), median bad requests served",
        "",
        "| case | SPRT floor (s) | " + " | ".join(POLICIES) + " |",
        "|---|---|" + "---|" * len(POLICIES),
    ]
    for name in names:
        first = policies[POLICIES[0]][name]
        if first["false_rollback_rate"] is not None:
            continue
        cells = []
        for policy in POLICIES:
            r = policies[policy][name]
            cells.append(
                f"{_cell(r['detect_median_s'])} / {_cell(r['detect_p95_s'])} ({_cell(r['bad_requests'])})"
            )
        lines.append(f"| {name} | {_cell(floors[name])} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Healthy releases: false-rollback rate, median time to promote (s)",
        "",
        "| case | " + " | ".join(POLICIES) + " |",
        "|---|" + "---|" * len(POLICIES),
    ]
    for name in names:
        if policies[POLICIES[0]][name]["false_rollback_rate"] is None:
            continue
        cells = []
        for p in POLICIES:
            row = policies[p][name]
            rate = row["false_rollback_rate"]
            cells.append("-" if rate is None else f"{100 * rate:.1f} %, {_cell(row['promote_median_s'])}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    overall = document["false_rollback_rate_all_healthy"]
    lines.append(
        "| **all healthy traces** | "
        + " | ".join(f"**{100 * overall[p]:.2f} %**" if p in overall else "-" for p in POLICIES)
        + " |"
    )
    probe = document.get("probe_overhead")
    if probe:
        lines += [
            "",
            "## Probe overhead",
            "",
            f"{probe['targets']} HTTP targets on 127.0.0.1 answering in {probe['delay_s'] * 1000:g} ms: "
            f"concurrent (gates/probes.py) {probe['concurrent_s']:.3f} s, serial {probe['serial_s']:.2f} s "
            f"(ratio {probe['ratio']:.1f}x).",
        ]
    return "\n".join(lines) + "\n"


def run_arguments(description: str, default_seeds: int) -> argparse.ArgumentParser:
    """The options every seeded benchmark takes (this one and bench/release_schedules)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seeds", type=int, default=default_seeds, help="seeds per case and level")
    parser.add_argument(
        "--seed-base", type=int, default=0, help="first seed (0: the committed results' traces)"
    )
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for the results")
    return parser


def write_results(out: Path, stem: str, document: dict[str, Any], text: str, started: float) -> None:
    """``document`` with its wall time as OUT/STEM.json, ``text`` as OUT/STEM.md, and the text printed."""
    wall = time.perf_counter() - started
    document["wall_time_s"] = round(wall, 1)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(document, indent=2) + "\n")
    (out / f"{stem}.md").write_text(text)
    print(text)
    print(f"wrote {out / f'{stem}.json'} and {stem}.md; wall time {wall:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = run_arguments(__doc__.splitlines()[0], DEFAULT_SEEDS)
    parser.add_argument(
        "--probe-targets", type=int, default=200, help="targets of the probe benchmark (0: skip it)"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    document = run(max(1, min(args.seeds, 10_000)), max(1, args.workers), max(0, args.seed_base))
    if args.probe_targets > 0:
        from bench.probe_overhead import measure

        document["probe_overhead"] = measure(min(args.probe_targets, 1000))
    write_results(args.out, "gate_decisions", document, markdown(document), started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
