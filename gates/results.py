"""The records a gate produces: probe and check results, evaluations and the verdict. Data only."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Status(StrEnum):
    """Outcome of one probe, one check, one evaluation or the whole gate."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class Decision(StrEnum):
    """Where a sequential test stands after an evaluation (gates/sequential.py)."""

    REJECT = "reject"
    """Enough evidence that the canary is worse: the gate fails now."""
    ACCEPT = "accept"
    """Enough evidence that it is not (``min_ratio`` times) worse: the gate may pass early."""
    CONTINUE = "continue"
    """Not enough evidence either way yet."""


class QueryOutcome(StrEnum):
    """What a Prometheus instant query gave: numbers, nothing, or an error."""

    OK = "ok"
    NO_DATA = "no-data"
    """Empty result, or only NaN (e.g. 0/0 when there was no traffic)."""
    ERROR = "error"
    """Unreachable, timed out, HTTP 4xx/5xx, malformed body or ``status: error``."""


class Failure(StrEnum):
    """Why a request got no HTTP answer."""

    DNS = "dns"
    """The host name did not resolve."""
    REFUSED = "refused"
    """Nothing accepted the connection (no listener on the port)."""
    RESET = "reset"
    """The connection was reset or closed before a complete answer."""
    TLS = "tls"
    """The TLS handshake failed (certificate rejected, protocol mismatch)."""
    TIMEOUT = "timeout"
    """No connection or no answer within the timeout."""
    OTHER = "other"
    """Anything else (an invalid URL, a proxy error)."""


@dataclass(frozen=True)
class QueryResult:
    outcome: QueryOutcome
    values: tuple[float, ...] = ()
    """One value per series (NaN series dropped); +Inf/-Inf are kept and compared as numbers."""
    detail: str = ""
    """Why there is no value (never contains credentials)."""


@dataclass(frozen=True)
class ProbeResult:
    url: str
    """The target, with any user:password removed."""
    status: Status
    limit: float
    """Maximum response time (s)."""
    http_status: int | None = None
    response_time: float | None = None
    detail: str = ""
    """One line: what was measured or what went wrong."""
    error: Failure | None = None
    """How the request failed when no HTTP answer came (then ``response_time`` is None)."""

    @property
    def label(self) -> str:
        return f"probe {self.url}"


@dataclass(frozen=True)
class CheckResult:
    name: str
    query: str
    status: Status
    value: float | None
    """The deciding value: the worst series against the limit."""
    max: float | None
    min: float | None
    detail: str = ""

    @property
    def label(self) -> str:
        return f"check {self.name}"


@dataclass(frozen=True)
class SequentialResult:
    """The state of one sequential test after an evaluation (its check is in ``checks`` too)."""

    check: str
    kind: str
    """``error-rate`` (bad: 5xx answers) or ``latency`` (bad: slower than ``slower_than``)."""
    decision: Decision
    log_mixture: float
    """Evidence that the canary is worse (log likelihood ratio); fails at ``reject_at``."""
    log_lr_closest: float
    """Evidence for the closest alternative; passes early at ``accept_at``."""
    reject_at: float
    accept_at: float
    canary_requests: float
    canary_bad: float
    baseline_requests: float | None
    baseline_bad: float | None
    reference_share: float
    reference: str
    """``baseline`` or ``acceptable``."""
    slower_than: float | None = None
    """Latency: the histogram bucket bound (s) above which a request counts as slow."""


@dataclass(frozen=True)
class Evaluation:
    """One round of probes and checks."""

    index: int
    """1-based."""
    offset: float
    """Seconds since the gate started."""
    started_at: str
    """ISO-8601 UTC."""
    status: Status
    reason: str
    """The item that decided the status, its value and limit (or "all within limits")."""
    probes: tuple[ProbeResult, ...] = ()
    checks: tuple[CheckResult, ...] = ()
    sequential: tuple[SequentialResult, ...] = ()
    """Sequential tests that had data this evaluation (``mode: sequential``)."""


@dataclass
class Verdict:
    status: Status
    reason: str
    """One line naming the deciding check, its value and its limit."""
    deciding: str = ""
    """Label of the deciding probe or check ("" when the gate passed)."""


@dataclass
class NotificationStats:
    sent: int = 0
    collapsed: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    """Short causes ("HTTP 500", "connection failed"); never the URL."""


def fmt(value: float | None) -> str:
    """A number for humans: 4 significant digits."""
    if value is None:
        return "none"
    return f"{value:.4g}"


def limit_text(maximum: float | None, minimum: float | None) -> str:
    """A check's limits for humans: ``max 0.5, min 0.1``."""
    parts = []
    if maximum is not None:
        parts.append(f"max {fmt(maximum)}")
    if minimum is not None:
        parts.append(f"min {fmt(minimum)}")
    return ", ".join(parts)
