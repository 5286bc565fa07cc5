"""Run the report's queries against Prometheus and assemble the report, alerts included.

Every instant query is evaluated at the same moment (the end of the window), the chart range
queries cover the window; queries run concurrently on a bounded pool. A query that errors shows
its error in the report; one that returns nothing shows "no data"; neither ever becomes 0.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from components.report_thresholds import Thresholds
from gates.prometheus import PrometheusClient, SeriesResult
from gates.results import QueryOutcome
from rollout.monitoring.alerts import Alert, check, sort_alerts
from rollout.monitoring.config import AppTarget, ReportConfig
from rollout.monitoring.model import (
    NO_DATA,
    AppReport,
    Chart,
    ChartLine,
    DeploymentStatus,
    Health,
    Measure,
    Performance,
    PodResources,
    Resources,
    StackReport,
)
from rollout.monitoring.queries import (
    REPLICA_SERIES,
    AppQueries,
    chart_rate_window,
    chart_step,
    window_seconds,
)

MAX_WORKERS = 8


class PrometheusUnavailable(Exception):
    """Prometheus cannot answer at all (unreachable, timing out, refusing the token)."""


@dataclass(frozen=True)
class _Query:
    key: tuple[str, str]
    """(app, figure)."""
    promql: str
    label: str
    """For the report's list of queries ("" for chart queries)."""
    range_query: bool = False


def _measure(result: SeriesResult) -> Measure:
    if result.outcome is QueryOutcome.OK:
        return Measure(result.series[0].last)
    if result.outcome is QueryOutcome.NO_DATA:
        return NO_DATA
    return Measure(None, f"error: {result.detail}")


def _by_label(result: SeriesResult, label: str) -> dict[str, float]:
    if result.outcome is not QueryOutcome.OK:
        return {}
    return {s.labels[label]: s.last for s in result.series if label in s.labels}


def _missing(result: SeriesResult) -> Measure:
    return NO_DATA if result.outcome is not QueryOutcome.ERROR else Measure(None, f"error: {result.detail}")


def _pick(values: dict[str, float], key: str, result: SeriesResult) -> Measure:
    return Measure(values[key]) if key in values else _missing(result)


def _percent(part: Measure, whole: float) -> Measure:
    if part.value is None:
        return part
    return Measure(100.0 * part.value / whole) if whole > 0 else Measure(None, "no limit set")


PERFORMANCE = ("avg", "p50", "p95", "p99", "error_rate", "throughput")
RESOURCES = ("cpu", "memory", "disk", "process_cpu", "process_memory")
CHART_LINES = {
    "latency": (("avg", "average"), ("p50", "p50"), ("p95", "p95"), ("p99", "p99")),
    "error-rate": (("error_rate", "5xx %"),),
    "throughput": (("throughput", "requests/s"),),
}


def _plan(app: AppTarget, q: AppQueries, chart_window: str) -> list[_Query]:
    name = app.name
    plan = [
        _Query((name, "healthy"), q.healthy(), f"{name}: healthy instances"),
        _Query((name, "total"), q.total(), f"{name}: instances"),
        _Query((name, "healthy_percent"), q.healthy_percent(), f"{name}: healthy %"),
        *(
            _Query((name, w), q.latency(w), f"{name}: {w} response time (s)")
            for w in ("avg", "p50", "p95", "p99")
        ),
        _Query((name, "error_rate"), q.error_percent(), f"{name}: error rate (%)"),
        _Query((name, "throughput"), q.throughput(), f"{name}: throughput (requests/s)"),
        _Query((name, "cpu"), q.cpu_cores(), f"{name}: CPU (cores) by pod, cAdvisor"),
        _Query((name, "memory"), q.memory_bytes(), f"{name}: memory (bytes) by pod, cAdvisor"),
        _Query((name, "disk"), q.disk_bytes(), f"{name}: disk (bytes) by pod, cAdvisor"),
        _Query((name, "process_cpu"), q.process_cpu_cores(), f"{name}: CPU (cores) by pod, process metrics"),
        _Query(
            (name, "process_memory"),
            q.process_memory_bytes(),
            f"{name}: memory (bytes) by pod, process metrics",
        ),
        *(
            _Query((name, f"replicas_{kind}"), q.replicas(series), f"{name}: {kind} replicas")
            for kind, series in REPLICA_SERIES.items()
        ),
    ]
    for w in ("avg", "p50", "p95", "p99"):
        plan.append(_Query((name, f"chart_{w}"), q.latency(w, chart_window), "", range_query=True))
    plan.append(_Query((name, "chart_error_rate"), q.error_percent(chart_window), "", range_query=True))
    plan.append(_Query((name, "chart_throughput"), q.throughput(chart_window), "", range_query=True))
    return plan


def _resources(app: AppTarget, r: dict[str, SeriesResult]) -> Resources:
    cpu, memory, disk = r["cpu"], r["memory"], r["disk"]
    source = "cAdvisor (container_* series)"
    if all(x.outcome is not QueryOutcome.OK for x in (cpu, memory, disk)) and any(
        r[k].outcome is QueryOutcome.OK for k in ("process_cpu", "process_memory")
    ):
        cpu, memory = r["process_cpu"], r["process_memory"]
        disk = SeriesResult(QueryOutcome.NO_DATA, (), "no disk series among process metrics")
        source = "process metrics (process_* series; no disk figures)"
    cores, mem, fs = (_by_label(x, "pod") for x in (cpu, memory, disk))
    pods = sorted(set(cores) | set(mem) | set(fs))
    if not pods:
        errors = [x.detail for x in (cpu, memory, disk) if x.outcome is QueryOutcome.ERROR]
        return Resources("none", (), f"error: {errors[0]}" if errors else "no data")
    rows = []
    for pod in pods:
        cpu_m, mem_m = _pick(cores, pod, cpu), _pick(mem, pod, memory)
        rows.append(
            PodResources(
                pod=pod,
                cpu_cores=cpu_m,
                cpu_percent=_percent(cpu_m, app.cpu_limit_cores),
                memory_bytes=mem_m,
                memory_percent=_percent(mem_m, app.memory_limit_bytes),
                disk_bytes=_pick(fs, pod, disk),
            )
        )
    return Resources(source, tuple(rows))


def _deployments(app: AppTarget, r: dict[str, SeriesResult]) -> tuple[DeploymentStatus, ...]:
    results = {kind: r[f"replicas_{kind}"] for kind in REPLICA_SERIES}
    values = {kind: _by_label(result, "deployment") for kind, result in results.items()}
    return tuple(
        DeploymentStatus(
            name=d.name,
            role=d.role,
            configured=d.configured,
            desired=_pick(values["desired"], d.name, results["desired"]),
            available=_pick(values["available"], d.name, results["available"]),
            ready=_pick(values["ready"], d.name, results["ready"]),
        )
        for d in app.deployments
    )


def _chart(app: str, lines: tuple[tuple[str, str], ...], r: dict[str, SeriesResult]) -> Chart:
    drawn: list[ChartLine] = []
    reasons: list[str] = []
    for figure, label in lines:
        result = r[f"chart_{figure}"]
        if result.outcome is QueryOutcome.OK:
            drawn.append(ChartLine(label, result.series[0].points))
        else:
            reasons.append("no data" if result.outcome is QueryOutcome.NO_DATA else f"error: {result.detail}")
    return Chart(app, tuple(drawn), "" if drawn else (reasons[0] if reasons else "no data"))


def _app_report(app: AppTarget, r: dict[str, SeriesResult]) -> AppReport:
    return AppReport(
        name=app.name,
        strategy=app.strategy,
        release=app.release,
        health=Health(_measure(r["healthy"]), _measure(r["total"]), _measure(r["healthy_percent"])),
        performance=Performance(*(_measure(r[k]) for k in PERFORMANCE)),
        resources=_resources(app, r),
        deployments=_deployments(app, r),
    )


def report_alerts(apps: tuple[AppReport, ...], thresholds: Thresholds) -> tuple[Alert, ...]:
    """Every alert the figures raise under ``thresholds`` (missing figures raise none)."""
    found: list[Alert | None] = []
    for app in apps:
        perf = app.performance
        found += [
            check(thresholds, "healthyInstancesPercent", app.name, app.name, app.health.percent.value),
            check(thresholds, "avgResponseSeconds", app.name, app.name, perf.avg.value),
            check(thresholds, "p95ResponseSeconds", app.name, app.name, perf.p95.value),
            check(thresholds, "errorRatePercent", app.name, app.name, perf.error_rate.value),
        ]
        for pod in app.resources.pods:
            found.append(check(thresholds, "cpuPercent", app.name, pod.pod, pod.cpu_percent.value))
            found.append(check(thresholds, "memoryPercent", app.name, pod.pod, pod.memory_percent.value))
    return tuple(sort_alerts([a for a in found if a is not None]))


def collect(
    client: PrometheusClient,
    config: ReportConfig,
    *,
    window: str,
    now: Callable[[], float] = time.time,
    workers: int = MAX_WORKERS,
) -> StackReport:
    """Query everything the report shows; PrometheusUnavailable when Prometheus cannot answer."""
    seconds = window_seconds(window)
    end = now()
    start = end - seconds
    probe = client.query_series("vector(1)", at=end)
    if probe.outcome is QueryOutcome.ERROR:
        raise PrometheusUnavailable(probe.detail)
    step, chart_window = chart_step(seconds), chart_rate_window(seconds)
    plan: list[_Query] = []
    for app in config.apps:
        queries = AppQueries(config.namespace, app.name, tuple(d.name for d in app.deployments), window)
        plan += _plan(app, queries, chart_window)

    def run(query: _Query) -> SeriesResult:
        if query.range_query:
            return client.query_range(query.promql, start=start, end=end, step=step)
        return client.query_series(query.promql, at=end)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = dict(zip((q.key for q in plan), pool.map(run, plan), strict=True))
    unreachable = [
        r for r in results.values() if r.outcome is QueryOutcome.ERROR and "unreachable" in r.detail
    ]
    if unreachable and len(unreachable) == len(results):
        raise PrometheusUnavailable(unreachable[0].detail)

    apps = []
    charts: dict[str, list[Chart]] = {name: [] for name in CHART_LINES}
    for app in config.apps:
        mine = {figure: result for (owner, figure), result in results.items() if owner == app.name}
        apps.append(_app_report(app, mine))
        for name, lines in CHART_LINES.items():
            charts[name].append(_chart(app.name, lines, mine))
    report = StackReport(
        stack=config.stack,
        namespace=config.namespace,
        prometheus=client.display_url,
        window=window,
        generated_at=datetime.fromtimestamp(end, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        start=start,
        end=end,
        apps=tuple(apps),
        charts={name: tuple(panels) for name, panels in charts.items()},
        queries={q.label: q.promql for q in plan if q.label},
    )
    return replace(report, alerts=report_alerts(report.apps, config.thresholds))
