"""A scripted "cluster" for report tests: one HTTP server on 127.0.0.1 whose metrics a real
Prometheus scrapes, with values the test sets.

* ``/pods/<pod>/metrics``: the app metrics of one pod (what the app exports, like ``FaultyApp``):
  ``http_requests_total{code}``, the ``http_request_duration_seconds`` histogram,
  ``process_cpu_seconds_total`` and ``process_resident_memory_bytes``. Counters grow linearly with
  wall-clock time at the rates set, so Prometheus's ``rate()`` gives those rates back. A pod set
  ``down`` answers 503 (its scrape fails: ``up == 0``).
* ``/kube/metrics``: kube-state-metrics series (``kube_deployment_spec_replicas``,
  ``kube_deployment_status_replicas_available``, ``kube_deployment_status_replicas_ready``
  ``{namespace, deployment}``) and cAdvisor series (``container_cpu_usage_seconds_total``,
  ``container_memory_working_set_bytes``, ``container_fs_usage_bytes`` ``{namespace, pod,
  container}``), as the kubelet exports them: with the pod-level aggregate (``container=""``) and
  the pause container (``container="POD"``) beside the real containers.

``targets(job, namespace)`` gives the file-based service discovery groups that make Prometheus
scrape every pod with the labels Kubernetes service discovery gives (``namespace``, ``pod``,
``app``, ``version``), and the kube endpoint as a separate job.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.app import BUCKETS, serve


@dataclass
class PodTraffic:
    """What one pod serves: requests per second by status code, and their response times."""

    app: str
    version: str = ""
    rps: dict[str, float] = field(default_factory=dict)
    """Status code -> requests per second."""
    latency: dict[float, float] = field(default_factory=dict)
    """Bucket upper bound -> cumulative fraction of requests at most that long (1.0 at the last)."""
    avg_latency: float = 0.0
    """Seconds; the histogram's _sum grows at avg_latency * requests per second."""
    process_cpu: float | None = None
    """Cores (process_cpu_seconds_total rate); None: not exported."""
    process_memory: float | None = None
    """Bytes (process_resident_memory_bytes); None: not exported."""
    down: bool = False


@dataclass
class Container:
    namespace: str
    pod: str
    container: str
    cpu: float
    """Cores used (the counter's rate)."""
    memory: float
    """Working set bytes."""
    disk: float
    """Filesystem bytes."""


@dataclass
class DeploymentState:
    namespace: str
    name: str
    desired: int
    available: int
    ready: int


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _fraction(latency: dict[float, float], bound: float) -> float:
    """Cumulative fraction at ``bound``: the largest set bound not above it."""
    below = [fraction for le, fraction in latency.items() if le <= bound]
    return max(below) if below else 0.0


class KubeMetrics:
    def __init__(self) -> None:
        self.started = time.time()
        self.pods: dict[str, PodTraffic] = {}
        self.containers: list[Container] = []
        self.deployments: list[DeploymentState] = []
        self._lock = threading.Lock()
        metrics = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body = metrics.exposition(self.path)
                code = 200 if body is not None else 503
                data = body if body is not None else b"unavailable\n"
                self.send_response(code)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server, self._thread = serve(Handler)
        self.port = int(self._server.server_address[1])
        self.address = f"127.0.0.1:{self.port}"

    def exposition(self, path: str) -> bytes | None:
        elapsed = time.time() - self.started
        with self._lock:
            if path == "/kube/metrics":
                return self._kube(elapsed)
            parts = path.strip("/").split("/")
            if len(parts) == 3 and parts[0] == "pods" and parts[2] == "metrics" and parts[1] in self.pods:
                pod = self.pods[parts[1]]
                return None if pod.down else self._pod(pod, elapsed)
        return None

    def _pod(self, pod: PodTraffic, elapsed: float) -> bytes:
        lines = ["# TYPE http_requests_total counter"]
        lines += [
            f"http_requests_total{_labels(code=code)} {rate * elapsed:.6f}"
            for code, rate in sorted(pod.rps.items())
        ]
        total = sum(pod.rps.values()) * elapsed
        lines.append("# TYPE http_request_duration_seconds histogram")
        lines += [
            f"http_request_duration_seconds_bucket{_labels(le=str(b))} {total * _fraction(pod.latency, b):.6f}"
            for b in BUCKETS
        ]
        lines.append(f'http_request_duration_seconds_bucket{{le="+Inf"}} {total:.6f}')
        lines.append(f"http_request_duration_seconds_sum {total * pod.avg_latency:.6f}")
        lines.append(f"http_request_duration_seconds_count {total:.6f}")
        if pod.process_cpu is not None:
            lines += [
                "# TYPE process_cpu_seconds_total counter",
                f"process_cpu_seconds_total {pod.process_cpu * elapsed:.6f}",
            ]
        if pod.process_memory is not None:
            lines += [
                "# TYPE process_resident_memory_bytes gauge",
                f"process_resident_memory_bytes {pod.process_memory:.0f}",
            ]
        return ("\n".join(lines) + "\n").encode()

    def _kube(self, elapsed: float) -> bytes:
        lines = []
        for series, attribute in (
            ("kube_deployment_spec_replicas", "desired"),
            ("kube_deployment_status_replicas_available", "available"),
            ("kube_deployment_status_replicas_ready", "ready"),
        ):
            lines.append(f"# TYPE {series} gauge")
            lines += [
                f"{series}{_labels(namespace=d.namespace, deployment=d.name)} {getattr(d, attribute)}"
                for d in self.deployments
            ]
        # cAdvisor: each container, plus the pod aggregate (container="") and the pause container.
        pods: dict[tuple[str, str], list[Container]] = {}
        for c in self.containers:
            pods.setdefault((c.namespace, c.pod), []).append(c)
        rows: list[Container] = []
        for (namespace, pod), containers in pods.items():
            rows += containers
            rows.append(
                Container(
                    namespace,
                    pod,
                    "",
                    sum(c.cpu for c in containers),
                    sum(c.memory for c in containers),
                    sum(c.disk for c in containers),
                )
            )
            rows.append(Container(namespace, pod, "POD", 0.001, 1_000_000, 0))
        for series, kind, value in (
            ("container_cpu_usage_seconds_total", "counter", lambda c: c.cpu * elapsed),
            ("container_memory_working_set_bytes", "gauge", lambda c: c.memory),
            ("container_fs_usage_bytes", "gauge", lambda c: c.disk),
        ):
            lines.append(f"# TYPE {series} {kind}")
            lines += [
                f"{series}{_labels(namespace=c.namespace, pod=c.pod, container=c.container)} {value(c):.6f}"
                for c in rows
            ]
        return ("\n".join(lines) + "\n").encode()

    def targets(self, job: str, namespace: str) -> list[dict[str, Any]]:
        """File-SD target groups: each pod (labelled as Kubernetes SD would) and the kube endpoint."""
        groups: list[dict[str, Any]] = [
            {
                "targets": [self.address],
                "labels": {
                    "job": job,
                    "namespace": namespace,
                    "pod": name,
                    "app": pod.app,
                    **({"version": pod.version} if pod.version else {}),
                    "__metrics_path__": f"/pods/{name}/metrics",
                },
            }
            for name, pod in self.pods.items()
        ]
        groups.append(
            {"targets": [self.address], "labels": {"job": f"{job}-kube", "__metrics_path__": "/kube/metrics"}}
        )
        return groups

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
