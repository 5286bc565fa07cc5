"""The gate report: every evaluation with every probe and check (value, limit, status), the
verdict and its one-line reason, start and end times; as JSON and as Markdown.

Reports hold no secret by construction (the spec has none, URLs lose any ``user:password@``, and
credentials are never put into results); ``mask()`` is applied on top with the run's secrets.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from credentials import mask, redact
from gates.load import LoadStats
from gates.results import Evaluation, NotificationStats, Verdict, fmt, limit_text
from gates.spec import GateSpec

SCHEMA_VERSION = 2


@dataclass
class GateReport:
    spec: GateSpec
    started_at: str
    ended_at: str
    verdict: Verdict
    evaluations: list[Evaluation] = field(default_factory=list)
    notifications: NotificationStats | None = None
    load: LoadStats | None = None
    """What the synthetic load sent (``load`` in the spec)."""
    counted_since: str | None = None
    """When the sequential tests' counts start, if before ``started_at``: evidence carried from
    an earlier step judging the same canary."""

    @property
    def passed(self) -> bool:
        return self.verdict.status.value == "pass"

    def to_dict(self) -> dict[str, Any]:
        spec = self.spec
        return {
            "schema": SCHEMA_VERSION,
            "gate": spec.name,
            "verdict": self.verdict.status.value,
            "reason": self.verdict.reason,
            "deciding": self.verdict.deciding,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "counted_since": self.counted_since,
            "settings": {
                "interval": spec.interval,
                "duration": spec.duration,
                "failure_limit": spec.failure_limit,
                "inconclusive_limit": spec.inconclusive_limit,
                "on_no_data": spec.on_no_data,
                "mode": spec.mode,
                "max_hold": spec.max_hold if spec.sequential_mode else None,
                "min_duration": spec.min_duration if spec.sequential_mode else None,
                "max_duration": spec.max_duration if spec.sequential_mode else None,
                "on_undecided": spec.on_undecided if spec.sequential_mode else None,
                "load": spec.load.model_dump() if spec.load is not None else None,
                "sequential": spec.sequential.model_dump() if spec.sequential_mode else None,
                "probes": [
                    # Header names only: a header value may be a credential.
                    {
                        "url": redact(p.url),
                        "headers": sorted(p.headers),
                        "timeout": p.timeout,
                        "max_response_time": p.response_limit,
                    }
                    for p in spec.probes
                ],
                "prometheus": redact(spec.prometheus.url) if spec.prometheus else None,
                "checks": [
                    {
                        "name": c.name,
                        "query": c.promql,
                        "max": c.limits[0],
                        "min": c.limits[1],
                        # sequential: judged from counted requests, not from `query` and limits
                        "decision": "sequential" if spec.sequential_kind(c) else "threshold",
                    }
                    for c in spec.checks
                ],
            },
            "evaluations": [
                {
                    "index": e.index,
                    "offset": round(e.offset, 3),
                    "started_at": e.started_at,
                    "status": e.status.value,
                    "reason": e.reason,
                    "probes": [{**asdict(p), "status": p.status.value} for p in e.probes],
                    "checks": [{**asdict(c), "status": c.status.value} for c in e.checks],
                    "sequential": [{**asdict(r), "decision": r.decision.value} for r in e.sequential],
                }
                for e in self.evaluations
            ],
            "notifications": asdict(self.notifications) if self.notifications else None,
            "load": asdict(self.load) if self.load else None,
        }


def _finite(value: Any) -> Any:
    # JSON has no Inf/NaN; histogram_quantile gives +Inf when every sample is in the top bucket.
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def to_json(report: GateReport, secrets: Iterable[str | None] = ()) -> str:
    document = _finite(report.to_dict())
    return mask(json.dumps(document, indent=2, allow_nan=False, default=str), secrets) + "\n"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(report: GateReport, secrets: Iterable[str | None] = ()) -> str:
    spec = report.spec
    lines = [
        f"# Health gate `{spec.name}`: **{report.verdict.status.value.upper()}**",
        "",
        f"**Reason:** {report.verdict.reason}",
        "",
        f"- Started: {report.started_at}",
        f"- Ended: {report.ended_at}",
        f"- Every {fmt(spec.interval)} s for {fmt(spec.duration)} s; failure_limit {spec.failure_limit}, "
        f"inconclusive_limit {spec.inconclusive_limit}, on_no_data {spec.on_no_data}",
        f"- Mode: {spec.mode}"
        + (
            f" (error probabilities {fmt(spec.sequential.error_probability)} / "
            f"{fmt(spec.sequential.early_pass_error_probability)}, min_ratio "
            f"{fmt(spec.sequential.min_ratio)}, max_hold {fmt(spec.max_hold)} s, min_duration "
            f"{fmt(spec.min_duration)} s, max_duration "
            f"{fmt(spec.max_duration)} s, on_undecided {spec.on_undecided})"
            if spec.sequential_mode
            else ""
        ),
        f"- Evaluations: {len(report.evaluations)}",
    ]
    if report.counted_since is not None:
        lines.append(
            f"- Evidence carried from an earlier step of this release: requests counted since "
            f"{report.counted_since}"
        )
    if report.load is not None:
        load = report.load
        answers = ", ".join(f"{count} {kind}" for kind, count in sorted(load.answered.items())) or "no answer"
        lines.append(
            f"- Load: {fmt(load.rate)} requests/s to {load.targets} target(s): {load.sent} sent "
            f"({answers}; {load.failed} without answer), {load.skipped} ticks skipped"
        )
    if report.notifications is not None:
        n = report.notifications
        lines.append(f"- Notifications: {n.sent} sent, {n.collapsed} collapsed, {n.failed} failed")
    for e in report.evaluations:
        lines += [
            "",
            f"## Evaluation {e.index} (+{e.offset:.1f} s, {e.started_at}): {e.status.value}",
            "",
            _cell(e.reason),
            "",
            "| item | value | limit | status | detail |",
            "|---|---|---|---|---|",
        ]
        for p in e.probes:
            value = f"{fmt(p.response_time)} s" if p.response_time is not None else "-"
            lines.append(
                f"| probe {_cell(p.url)} | {value} | max {fmt(p.limit)} s | {p.status.value} | {_cell(p.detail)} |"
            )
        for c in e.checks:
            lines.append(
                f"| check {_cell(c.name)} | {fmt(c.value) if c.value is not None else '-'} | "
                f"{limit_text(c.max, c.min)} | {c.status.value} | {_cell(c.detail)} |"
            )
    return mask("\n".join(lines) + "\n", secrets)
