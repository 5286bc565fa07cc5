"""The report as Markdown or as one self-contained HTML page. Pure: no I/O.

Missing figures are written as "no data" (or the query's error), never as 0. Charts are linked
(Markdown: PNG files next to the report) or embedded (HTML: base64 ``data:`` URIs).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from components.report_thresholds import SEVERITY_ORDER, Thresholds
from rollout.monitoring.model import CHARTS, AppReport, Measure, StackReport

CHART_TITLES = {"latency": "Response time", "error-rate": "Error rate", "throughput": "Throughput"}
_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def seconds(value: float) -> str:
    return f"{value * 1000:.3g} ms" if abs(value) < 1 else f"{value:.3g} s"


def percent(value: float) -> str:
    return f"{value:.3g} %"


def per_second(value: float) -> str:
    return f"{value:.4g} req/s"


def cores(value: float) -> str:
    return f"{value:.3g} cores"


def count(value: float) -> str:
    return f"{value:g}"


def size(value: float) -> str:
    unit = 0
    while abs(value) >= 1024 and unit < len(_BYTE_UNITS) - 1:
        value /= 1024
        unit += 1
    return f"{value:.3g} {_BYTE_UNITS[unit]}"


def _time(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def threshold_lines(thresholds: Thresholds) -> list[str]:
    """One line per rule in force, e.g. "error rate above 5 %: critical"."""
    lines = []
    for rule in thresholds.rules.values():
        if not rule.levels:
            continue
        spec = rule.spec
        levels = ", ".join(
            f"{severity.value} {'below' if spec.direction == 'below' else 'above'} "
            f"{rule.levels[severity]:g}{' %' if spec.unit == '%' else ' ' + spec.unit}"
            for severity in SEVERITY_ORDER
            if severity in rule.levels
        )
        lines.append(f"{spec.title}{' (per pod)' if spec.per_pod else ''}: {levels}")
    return lines


Table = tuple[list[str], list[list[str]]]


def _tables(
    app: AppReport, show: Callable[[Measure, Callable[[float], str]], str], text: Callable[[str], str]
) -> dict[str, Table]:
    """The app's tables, cells already in the output format (``show`` a measure, ``text`` a name)."""
    h, p = app.health, app.performance
    tables: dict[str, Table] = {
        "Health": (
            ["healthy instances", "instances", "healthy"],
            [[show(h.healthy, count), show(h.total, count), show(h.percent, percent)]],
        ),
        "Performance": (
            ["average", "p50", "p95", "p99", "error rate (5xx)", "throughput"],
            [
                [
                    show(p.avg, seconds),
                    show(p.p50, seconds),
                    show(p.p95, seconds),
                    show(p.p99, seconds),
                    show(p.error_rate, percent),
                    show(p.throughput, per_second),
                ]
            ],
        ),
        "Resources": (
            ["pod", "CPU", "CPU of limit", "memory", "memory of limit", "disk"],
            [
                [
                    text(pod.pod),
                    show(pod.cpu_cores, cores),
                    show(pod.cpu_percent, percent),
                    show(pod.memory_bytes, size),
                    show(pod.memory_percent, percent),
                    show(pod.disk_bytes, size),
                ]
                for pod in app.resources.pods
            ],
        ),
        "Deployments": (
            ["deployment", "role", "configured", "desired", "available", "ready"],
            [
                [
                    text(d.name),
                    text(d.role or "-"),
                    str(d.configured),
                    show(d.desired, count),
                    show(d.available, count),
                    show(d.ready, count),
                ]
                for d in app.deployments
            ],
        ),
    }
    return tables


def _alert_rows(report: StackReport) -> list[list[str]]:
    rows = []
    for alert in report.alerts:
        spec = alert.spec
        unit = percent if spec.unit == "%" else seconds
        sign = ">" if spec.direction == "above" else "<"
        rows.append(
            [
                alert.severity.value,
                alert.app,
                alert.subject,
                spec.title,
                unit(alert.value),
                f"{sign} {unit(alert.limit)}",
            ]
        )
    return rows


ALERT_HEADER = ["severity", "app", "where", "what", "value", "limit"]


def _summary(report: StackReport) -> str:
    counts = {s: sum(1 for a in report.alerts if a.severity == s) for s in SEVERITY_ORDER}
    if not report.alerts:
        return "No alerts."
    return ", ".join(f"{n} {s.value}" for s, n in counts.items() if n) + "."


# Markdown


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return lines


def _md_show(measure: Measure, unit: Callable[[float], str]) -> str:
    return unit(measure.value) if measure.value is not None else f"_{measure.missing or 'no data'}_"


def to_markdown(
    report: StackReport, thresholds: Thresholds, chart_files: Mapping[str, str] | None = None
) -> str:
    """``chart_files``: chart name -> file name (relative to the report) to link."""
    lines = [
        f"# Deployment report: stack `{report.stack}`",
        "",
        f"Namespace `{report.namespace}` · Prometheus {report.prometheus} · window {report.window} "
        f"({_time(report.start)} to {_time(report.end)}) · generated {report.generated_at}",
        "",
        "## Alerts",
        "",
        _summary(report),
        "",
    ]
    if report.alerts:
        lines += [*_md_table(ALERT_HEADER, _alert_rows(report)), ""]
    lines += ["Thresholds: " + "; ".join(threshold_lines(thresholds)) + ".", ""]
    for app in report.apps:
        lines += [f"## App `{app.name}` ({app.strategy})", "", f"Release: {app.release}", ""]
        for title, (header, rows) in _tables(app, _md_show, str).items():
            heading = f"### {title}"
            if title == "Resources":
                heading += f" — source: {app.resources.source}"
            lines += [heading, ""]
            if rows:
                lines += [*_md_table(header, rows), ""]
            else:
                lines += [f"_{app.resources.missing or 'no data'}_", ""]
    lines += ["## Charts", ""]
    if chart_files:
        for name in CHARTS:
            if name in chart_files:
                lines += [f"![{CHART_TITLES[name]}]({chart_files[name]})", ""]
    else:
        lines += ["_Charts are written next to the report with `--out FILE`._", ""]
    lines += ["## Queries", ""]
    lines += _md_table(["figure", "PromQL"], [[label, f"`{q}`"] for label, q in report.queries.items()])
    return "\n".join(lines) + "\n"


# HTML

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.2em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: left; }
th { background: #f3f3f3; }
.missing { color: #888; font-style: italic; }
.critical { background: #fde2e2; }
.warning { background: #fff4d6; }
img { max-width: 100%; }
code { font-size: 90%; }
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _html_show(measure: Measure, unit: Callable[[float], str]) -> str:
    if measure.value is not None:
        return _e(unit(measure.value))
    return f'<span class="missing">{_e(measure.missing or "no data")}</span>'


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]], row_class: Sequence[str] = ()) -> str:
    """Cells are already HTML; ``row_class`` gives each row a CSS class (e.g. its severity)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        attribute = f' class="{_e(row_class[i])}"' if i < len(row_class) else ""
        body.append(f"<tr{attribute}>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def to_html(report: StackReport, thresholds: Thresholds, charts: Mapping[str, bytes]) -> str:
    """``charts``: chart name -> PNG bytes, embedded as data URIs."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Deployment report: {_e(report.stack)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Deployment report: stack <code>{_e(report.stack)}</code></h1>",
        f"<p>Namespace <code>{_e(report.namespace)}</code> · Prometheus {_e(report.prometheus)} · window "
        f"{_e(report.window)} ({_e(_time(report.start))} to {_e(_time(report.end))}) · generated "
        f"{_e(report.generated_at)}</p>",
        "<h2>Alerts</h2>",
        f"<p>{_e(_summary(report))}</p>",
    ]
    if report.alerts:
        rows = [[_e(c) for c in row] for row in _alert_rows(report)]
        parts.append(_html_table(ALERT_HEADER, rows, [a.severity.value for a in report.alerts]))
    parts.append("<p>Thresholds: " + _e("; ".join(threshold_lines(thresholds))) + ".</p>")
    for app in report.apps:
        parts += [
            f"<h2>App <code>{_e(app.name)}</code> ({_e(app.strategy)})</h2>",
            f"<p>Release: {_e(app.release)}</p>",
        ]
        for title, (header, rows) in _tables(app, _html_show, _e).items():
            heading = title if title != "Resources" else f"{title} — source: {app.resources.source}"
            parts.append(f"<h3>{_e(heading)}</h3>")
            if rows:
                parts.append(_html_table(header, rows))
            else:
                parts.append(f'<p class="missing">{_e(app.resources.missing or "no data")}</p>')
    parts.append("<h2>Charts</h2>")
    for name in CHARTS:
        if name in charts:
            data = base64.b64encode(charts[name]).decode("ascii")
            parts.append(
                f'<figure><img alt="{_e(CHART_TITLES[name])}" src="data:image/png;base64,{data}">'
                f"<figcaption>{_e(CHART_TITLES[name])}</figcaption></figure>"
            )
    parts.append("<h2>Queries</h2>")
    parts.append(
        _html_table(
            ["figure", "PromQL"],
            [[_e(label), f"<code>{_e(q)}</code>"] for label, q in report.queries.items()],
        )
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
