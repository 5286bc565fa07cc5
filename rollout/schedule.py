"""`canary.steps: auto` when a release starts: the stable track's traffic over the last five
minutes, read from the Prometheus the stack's gates read with the gates' own query templates,
and the weights it gives (gates/schedule.py). Without Prometheus, or without an answer, the
fixed steps, and the plan says why."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from components.gating import CANARY_HEADERS, GateContext, GateTarget, gate_spec
from components.settings import PROJECT, StackSettings
from gates.prometheus import PrometheusClient
from gates.results import QueryOutcome
from gates.schedule import Schedule, auto_schedule, fixed
from gates.spec import GateSpec, parse_spec
from gates.templates import render

TOKEN_ENV = "ROLLOUT_PROMETHEUS_TOKEN"
"""The bearer token `rollout` sends to Prometheus (`rollout report` and this measurement)."""
WINDOW_S = 300
TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Traffic:
    rate: float | None
    """Requests/s the stable track served (None: no answer)."""
    error_share: float | None
    problem: str = ""
    """Why there is no answer."""


Measure = Callable[[str, Mapping[str, str], str | None], Traffic]
"""(Prometheus URL, the stable track's label parameters, token) -> its traffic."""


def measure_stable(url: str, params: Mapping[str, str], token: str | None) -> Traffic:
    client = PrometheusClient(url, timeout=TIMEOUT_S, token=token)
    window = {**params, "window": f"{WINDOW_S}s"}
    requests = client.query(render("requests-increase", window))
    if requests.outcome is not QueryOutcome.OK:
        return Traffic(None, None, requests.detail)
    errors = client.query(render("error-rate", window))
    share = errors.values[0] if errors.outcome is QueryOutcome.OK else None
    return Traffic(requests.values[0] / WINDOW_S, share)


def _canary_spec(settings: StackSettings, app_name: str) -> GateSpec | None:
    app = settings.apps[app_name]
    context = GateContext(settings.namespace_name, settings.prometheus_url)
    data = gate_spec(app_name, app, context, GateTarget("canary", app.gate.url, "canary", CANARY_HEADERS))
    return parse_spec(data) if data is not None else None


def plan_schedule(
    settings: StackSettings, app_name: str, token: str | None, measure: Measure = measure_stable
) -> Schedule | None:
    """The auto schedule of ``app_name`` (None: its steps are configured, or it is no canary).
    ``token``: the bearer token the gates send to Prometheus, if any."""
    app = settings.apps[app_name]
    if app.strategy != "canary" or app.canary.steps != "auto":
        return None
    spec = _canary_spec(settings, app_name)
    if spec is None or not spec.checks or not settings.prometheus_url:
        return fixed(f"no Prometheus to measure the traffic ({PROJECT}:prometheusUrl)")
    params = {"namespace": settings.namespace_name, "app": app_name, "version": "stable"}
    traffic = measure(settings.prometheus_url, params, token)
    if traffic.rate is None:
        return fixed(f"traffic not measured ({traffic.problem})")
    return auto_schedule(traffic.rate, traffic.error_share, spec, app.canary.max_first_weight)
