"""The PromQL behind every figure of the report. Pure: no I/O.

Series used, and the labels that select an app (``NS`` is the stack's namespace, ``APP`` the app):

* Health: ``up{namespace=NS, app=APP}`` — one series per scraped pod. The ``app`` label is the pods'
  ``app`` label (the Deployment selector), as Kubernetes service discovery's usual relabelling
  (``__meta_kubernetes_pod_label_app`` -> ``app``) gives it.
* Performance, from the app's own metrics (the ones the gate templates of ``gates.templates``
  read): ``http_requests_total{code}`` (throughput, 5xx error rate) and the
  ``http_request_duration_seconds`` histogram (average, p50/p95/p99), with the same selector,
  averaged over the report window.
* Resources per pod, from cAdvisor (kubelet) series: ``container_cpu_usage_seconds_total`` (rate
  over the window), ``container_memory_working_set_bytes`` and ``container_fs_usage_bytes`` (now),
  ``{namespace=NS, pod=~"<deployment>-<hash>-<id>", container=APP}`` — the app's container only,
  so an Istio sidecar or cAdvisor's pod-level aggregate is not counted. Where no cAdvisor series
  exists, the app's own ``process_cpu_seconds_total`` and ``process_resident_memory_bytes`` by pod
  (disk then has no source and shows as missing). Percentages are of the limits in the stack config.
* Deployment status, from kube-state-metrics: ``kube_deployment_spec_replicas``,
  ``kube_deployment_status_replicas_available`` and ``kube_deployment_status_replicas_ready``
  ``{namespace=NS, deployment=D}`` for each Deployment the app's strategy declares.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from gates.templates import render as template

WINDOW = re.compile(r"^([1-9][0-9]*)(s|m|h)$")
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600}
CHART_POINTS: Final = 240
"""Points per chart line (at most)."""


def window_seconds(window: str) -> int:
    """``"1h"`` -> 3600; ValueError for anything but a whole number of s, m or h."""
    match = WINDOW.match(window)
    if not match:
        raise ValueError(f"expected a duration such as 30s, 15m or 1h (got {window!r})")
    return int(match[1]) * _UNIT_SECONDS[match[2]]


def chart_step(window: int) -> int:
    """Seconds between chart points: at most CHART_POINTS points, never below 1 s."""
    return max(1, -(-window // CHART_POINTS))


def chart_rate_window(window: int) -> str:
    """The rate window of each chart point: 4 steps, at least a minute (several scrapes at the
    usual 15-30 s interval), never longer than the report window itself."""
    return f"{max(4 * chart_step(window), min(window, 60))}s"


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def pod_pattern(deployments: tuple[str, ...]) -> str:
    """Pods of these Deployments: ``<deployment>-<pod-template-hash>-<5 characters>``."""
    # Deployment names are RFC 1123 labels (a-z, 0-9, '-'): nothing to escape for RE2 or PromQL.
    names = "|".join(deployments)
    return f"({names})-[a-z0-9]{{1,10}}-[a-z0-9]{{5}}"


@dataclass(frozen=True)
class AppQueries:
    namespace: str
    app: str
    deployments: tuple[str, ...]
    window: str

    @property
    def _params(self) -> dict[str, str]:
        return {"namespace": self.namespace, "app": self.app, "window": self.window}

    @property
    def _app_selector(self) -> str:
        return f'namespace="{_quote(self.namespace)}",app="{_quote(self.app)}"'

    @property
    def _container_selector(self) -> str:
        return (
            f'namespace="{_quote(self.namespace)}",pod=~"{pod_pattern(self.deployments)}",'
            f'container="{_quote(self.app)}"'
        )

    # Health
    def healthy(self) -> str:
        return f"sum(up{{{self._app_selector}}})"

    def total(self) -> str:
        return f"count(up{{{self._app_selector}}})"

    def healthy_percent(self) -> str:
        return template("healthy-instances-percent", self._params)

    # Performance (over the window)
    def latency(self, which: str, window: str | None = None) -> str:
        """``which``: avg, p50, p95 or p99 (seconds)."""
        return template(f"latency-{which}", {**self._params, "window": window or self.window})

    def error_percent(self, window: str | None = None) -> str:
        return f"100 * ({template('error-rate', {**self._params, 'window': window or self.window})})"

    def throughput(self, window: str | None = None) -> str:
        return f"sum(rate(http_requests_total{{{self._app_selector}}}[{window or self.window}]))"

    # Resources per pod
    def cpu_cores(self) -> str:
        return f"sum by (pod) (rate(container_cpu_usage_seconds_total{{{self._container_selector}}}[{self.window}]))"

    def memory_bytes(self) -> str:
        return f"sum by (pod) (container_memory_working_set_bytes{{{self._container_selector}}})"

    def disk_bytes(self) -> str:
        return f"sum by (pod) (container_fs_usage_bytes{{{self._container_selector}}})"

    def process_cpu_cores(self) -> str:
        return f"sum by (pod) (rate(process_cpu_seconds_total{{{self._app_selector}}}[{self.window}]))"

    def process_memory_bytes(self) -> str:
        return f"sum by (pod) (process_resident_memory_bytes{{{self._app_selector}}})"

    # Deployments (kube-state-metrics); max: several kube-state-metrics replicas report the same.
    def replicas(self, series: str) -> str:
        names = "|".join(self.deployments)
        return f'max by (deployment) ({series}{{namespace="{_quote(self.namespace)}",deployment=~"{names}"}})'


REPLICA_SERIES: Final = {
    "desired": "kube_deployment_spec_replicas",
    "available": "kube_deployment_status_replicas_available",
    "ready": "kube_deployment_status_replicas_ready",
}
