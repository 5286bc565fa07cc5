"""Health gates of a release: which gate runs where, built from the app's settings.

A gate spec here is the same data a `rollout gate --spec` file holds: probes of the app's URL and
the CD guide's Prometheus checks (error rate, average and p95 latency) on the track under test.
The HealthGate resource runs it during `pulumi up` (never in preview); the release components
order it with ``depends_on`` so traffic moves only after a gate has passed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi

from components.app_settings import AppSettings
from components.health_gate import HealthGate, HealthGateArgs
from components.urls import join

if TYPE_CHECKING:
    from components.workload import WorkloadArgs

CANARY_HEADERS = {"canary": "true"}
# The CD guide's thresholds: error rate 5 %, average response 2 s, response time 5 s.
GUIDE_CHECKS: tuple[tuple[str, float], ...] = (
    ("error-rate", 0.05),
    ("latency-avg", 2.0),
    ("latency-p95", 5.0),
)
MAX_RESPONSE_TIME_S = 5.0


@dataclass(frozen=True)
class GateContext:
    """Where gates look, known before any resource exists (specs are validated at declaration)."""

    namespace: str
    prometheus_url: str
    """Empty: no Prometheus checks, probes only."""


@dataclass(frozen=True)
class GateTarget:
    """What one gate looks at: a URL to probe (optional) and the pods' `version` label."""

    role: str
    """Names the gate: live, preview, stable or canary."""
    url: str | None
    track: str | None
    """The pods' `version` label (a colour, stable or canary) selecting their metrics; None for a
    rolling app, whose pods carry no `version` label."""
    headers: Mapping[str, str] | None = None
    metrics: bool = True
    """Add the Prometheus checks. Off for the blue/green preview: only the gate's own probes
    reach the idle colour, so its rates say nothing, and a switch must not change the spec."""
    accept_ratio: float | None = None
    """The sequential tests' ``accept_ratio`` unless the app's gate spec sets one."""


def gate_spec(
    app_name: str, app: AppSettings, context: GateContext, target: GateTarget
) -> dict[str, Any] | None:
    """The gate spec for ``target``, or None when there is nothing to observe (no URL, no Prometheus)."""
    spec: dict[str, Any] = {"name": f"{app_name}-{target.role}", **app.gate.spec}
    if target.url:
        probe: dict[str, Any] = {
            "url": join(target.url, app.gate.probe_path),
            "max_response_time": MAX_RESPONSE_TIME_S,
        }
        if target.headers:
            probe["headers"] = dict(target.headers)
        spec["probes"] = [probe]
    if context.prometheus_url and target.metrics:
        params = {"namespace": context.namespace, "app": app_name}
        if target.track:
            params["version"] = target.track
        spec["prometheus"] = {"url": context.prometheus_url}
        if target.track and target.track != "canary":
            # Only a canary has a baseline running beside it (the stable track); elsewhere the
            # error rate is judged against the acceptable rate. A baseline equal to the track under
            # test means "none" (null would not survive Pulumi's serialization of the inputs).
            spec["sequential"] = {"baseline_version": target.track, **spec.get("sequential", {})}
        if target.accept_ratio is not None:
            spec["sequential"] = {"accept_ratio": target.accept_ratio, **spec.get("sequential", {})}
        spec["checks"] = [
            {
                "name": f"{template}-{target.track or 'live'}",
                "template": template,
                "params": params,
                "max": limit,
            }
            for template, limit in GUIDE_CHECKS
        ]
    return spec if "probes" in spec or "checks" in spec else None


def declare_gate(
    parent: pulumi.ComponentResource,
    name: str,
    args: WorkloadArgs,
    target: GateTarget,
    trigger: Mapping[str, Any],
    depends_on: Sequence[pulumi.Resource],
) -> HealthGate | None:
    """A HealthGate child of ``parent`` on ``target`` that runs after ``depends_on``; re-runs when
    ``trigger`` changes. None when there is nothing to observe."""
    spec = gate_spec(args.pod.app_name, args.app, args.gates, target)
    if spec is None:
        return None
    return HealthGate(
        f"{name}-{target.role}-gate",
        HealthGateArgs(spec=spec, trigger=dict(trigger)),
        pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )
