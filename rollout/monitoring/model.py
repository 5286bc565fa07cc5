"""What a monitoring report holds. Data only: a figure is a number or the reason it is missing,
never a zero standing in for "no data"."""

from __future__ import annotations

from dataclasses import dataclass, field

from rollout.monitoring.alerts import Alert


@dataclass(frozen=True)
class Measure:
    """One figure: ``value``, or ``missing`` saying why there is none ("no data", "error: ...")."""

    value: float | None
    missing: str = ""

    @staticmethod
    def no_data(detail: str = "no data") -> Measure:
        return Measure(None, detail)

    @property
    def ok(self) -> bool:
        return self.value is not None


NO_DATA = Measure(None, "no data")


@dataclass(frozen=True)
class Health:
    healthy: Measure
    """Instances whose scrape succeeded (``up == 1``)."""
    total: Measure
    percent: Measure


@dataclass(frozen=True)
class Performance:
    avg: Measure
    """Seconds."""
    p50: Measure
    p95: Measure
    p99: Measure
    error_rate: Measure
    """Percent of requests answered 5xx."""
    throughput: Measure
    """Requests per second."""


@dataclass(frozen=True)
class PodResources:
    pod: str
    cpu_cores: Measure
    cpu_percent: Measure
    """Of the container's CPU limit in the stack config."""
    memory_bytes: Measure
    memory_percent: Measure
    disk_bytes: Measure


@dataclass(frozen=True)
class Resources:
    source: str
    """Which series the figures come from (cAdvisor, process metrics or none)."""
    pods: tuple[PodResources, ...]
    missing: str = ""
    """Why there are no pods (when ``pods`` is empty)."""


@dataclass(frozen=True)
class DeploymentStatus:
    name: str
    role: str
    """live / idle (blue/green), stable / canary with their weight, or "" (rolling)."""
    configured: int
    """Replicas the stack config asks for."""
    desired: Measure
    available: Measure
    ready: Measure


@dataclass(frozen=True)
class ChartLine:
    label: str
    points: tuple[tuple[float, float], ...]
    """(unix time, value)."""


@dataclass(frozen=True)
class Chart:
    """One app's panel of one chart: its lines, or why there are none."""

    app: str
    lines: tuple[ChartLine, ...]
    missing: str = ""


@dataclass(frozen=True)
class AppReport:
    name: str
    strategy: str
    release: str
    """The release state from the stack config: active colour, canary weight or image."""
    health: Health
    performance: Performance
    resources: Resources
    deployments: tuple[DeploymentStatus, ...]


CHARTS = ("latency", "error-rate", "throughput")
"""Chart names; files are ``<stem>-<name>.png``."""


@dataclass(frozen=True)
class StackReport:
    stack: str
    namespace: str
    prometheus: str
    """The Prometheus URL without credentials."""
    window: str
    generated_at: str
    """ISO-8601 UTC."""
    start: float
    end: float
    apps: tuple[AppReport, ...]
    charts: dict[str, tuple[Chart, ...]] = field(default_factory=dict)
    """Chart name -> one panel per app."""
    alerts: tuple[Alert, ...] = ()
    queries: dict[str, str] = field(default_factory=dict)
    """Label -> PromQL of every query the figures come from (for the appendix)."""
