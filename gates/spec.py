"""The gate spec: the user-facing YAML format shared by `rollout gate` and the HealthGate resource.

``parse_spec(data)`` validates a plain mapping and returns a frozen ``GateSpec``, or raises
``SpecError`` listing every problem with the field named as a path (``checks[1].max: ...``).
Secrets never live in the spec: it names the environment variables that hold them.
Pure: no I/O.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from credentials import credential_in_value, redact
from gates.templates import TEMPLATES, param_problem
from gates.templates import render as render_template
from gates.text import escape_hidden, hidden_problem

OnNoData = Literal["inconclusive", "fail", "pass"]
OnUndecided = Literal["pass", "fail"]
Mode = Literal["sequential", "threshold"]
SequentialKind = Literal["error-rate", "latency"]
ERROR_TEMPLATE = "error-rate"
LATENCY_QUANTILES: dict[str, float | None] = {
    "latency-p50": 0.5,
    "latency-p95": 0.95,
    "latency-p99": 0.99,
    "latency-avg": None,
}
"""Latency templates the sequential mode judges by the share of requests slower than ``max``:
the share a quantile check allows is 1 - q; an average has none (judged so only against a
baseline)."""
MIN_DURATION = 60.0
"""Sequential mode: the default ``min_duration`` (or ``duration`` if shorter)."""
MAX_DURATION_FACTOR = 4.0
"""Sequential mode: the default ``max_duration`` is this times ``duration`` (1200 s at the default
300 s: the shortest that rolls back 95 % of canaries at 10x the errors at 0.25 requests/s), at
most MAX_GATE_SECONDS."""
MAX_GATE_SECONDS = 86_400.0
"""The most any of a gate's times (interval, duration, min_duration, max_duration, max_hold) may
be: a day. A gate runs inside a deployment; longer is a typo, and far longer overflows the clock
arithmetic (a timestamp out of range) after the first evaluation."""
THRESHOLD_DURATION = 60.0
THRESHOLD_INCONCLUSIVE_LIMIT = 3
"""``mode: threshold`` defaults (the gate as it was before the sequential mode)."""
MAX_EVALUATIONS = 10_000
"""Upper bound on evaluations per gate (duration / interval), so every run is bounded."""
DEFAULT_RESPONSE_TIME = 5.0
"""The CD guide's response-time limit (s), the default `max_response_time` of a probe."""
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Fields whose value may be a credential pasted in the wrong place: never echoed in a message.
_UNECHOED = frozenset({"bearer_token_env", "url_env", "headers"})
_CHECK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# RFC 9110 5.1: a field name is a token.
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
# RFC 9110 5.5: visible characters, with spaces and tabs only between them. http.client sends
# latin-1, whose 0x80-0x9f are control characters and 0xa0 a space: "obs-text" starts at 0xa1.
_HEADER_VALUE_CHARACTER = re.compile(r"[\x21-\x7e\xa1-\xff \t]")
MAX_TIMEOUT = 300.0
"""Seconds: the longest wait for one request or query (the CD guide's API timeouts are far less)."""
MAX_NAME = 253


def _name_problem(name: str) -> str | None:
    """Why a gate's name cannot be shown in reports, logs and terminals (never repeating it)."""
    if not name.strip() or len(name) > MAX_NAME:
        return f"expected 1 to {MAX_NAME} characters"
    if problem := hidden_problem(name):
        return problem
    if credential_in_value(name):
        return "looks like a credential; a gate's name is shown in reports and notifications"
    return None


class _Model(BaseModel):
    # strict: YAML `"10"` is not a number and `yes` is not a string; extra: typos are errors;
    # no inf/nan: `.inf` seconds would make a gate that never ends (or an overflow).
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class ProbeSpec(_Model):
    """One HTTP target probed every evaluation; it passes on a 2xx answer within its limit."""

    url: str
    """http(s) URL to GET (redirects are not followed: a 3xx is not healthy)."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Request headers, e.g. ``canary: "true"`` to reach the canary subset."""
    timeout: float = Field(default=10.0, gt=0, le=MAX_TIMEOUT)
    """Seconds before the request is abandoned (the CD guide's API timeout in staging/production)."""
    max_response_time: float | None = Field(default=None, gt=0)
    """Slowest acceptable answer in seconds; default: 5 s (the CD guide), or ``timeout`` if lower."""
    verify_tls: bool = True
    """Verify https certificates (turn off only for self-signed test endpoints)."""

    @property
    def response_limit(self) -> float:
        """The effective maximum response time in seconds."""
        if self.max_response_time is not None:
            return self.max_response_time
        return min(DEFAULT_RESPONSE_TIME, self.timeout)


class PrometheusSpec(_Model):
    """Where the checks' queries go."""

    url: str
    """Base URL of the Prometheus HTTP API, e.g. http://prometheus.monitoring:9090."""
    timeout: float = Field(default=5.0, gt=0, le=MAX_TIMEOUT)
    """Seconds per query (sent to Prometheus as its own evaluation timeout too)."""
    bearer_token_env: str | None = None
    """Name of an environment variable holding a bearer token (the token itself never goes here)."""
    verify_tls: bool = True


class CheckSpec(_Model):
    """One Prometheus check: a query (free PromQL or a template) and its limits."""

    name: str
    query: str | None = None
    """Free PromQL; its result must be a single number (or a vector, judged by its worst series)."""
    template: str | None = None
    """A built-in template instead of ``query``: see gates/templates.py."""
    params: dict[str, str | int | float] = Field(default_factory=dict)
    """Template parameters: job, namespace, app, window (default 1m) and template extras."""
    max: float | None = None
    """Fail when the value is above this."""
    min: float | None = None
    """Fail when the value is below this."""

    @property
    def promql(self) -> str:
        """The query sent to Prometheus."""
        if self.template is not None:
            return render_template(self.template, self.string_params)
        assert self.query is not None
        return self.query

    @property
    def string_params(self) -> dict[str, str]:
        return {key: str(value) for key, value in self.params.items()}

    @property
    def limits(self) -> tuple[float | None, float | None]:
        """(max, min) as applied: the template's defaults when neither is given."""
        if self.max is None and self.min is None and self.template in TEMPLATES:
            template = TEMPLATES[self.template]
            return template.default_max, template.default_min
        return self.max, self.min


class NotifySpec(_Model):
    """A webhook told about failing evaluations and the verdict. Its URL is a secret: the spec only
    names the environment variable (or the HealthGate reads secret stack config)."""

    kind: Literal["slack", "json"] = "json"
    """``slack``: Slack-compatible ``{"text": ...}``; ``json``: a structured event."""
    url_env: str = "GATE_WEBHOOK_URL"
    """Name of the environment variable holding the webhook URL."""
    timeout: float = Field(default=5.0, gt=0, le=60)


class SequentialSpec(_Model):
    """The sequential tests of ``mode: sequential`` (gates/sequential.py): every ``error-rate``
    check, and every latency check with a ``max`` (an average only against a baseline), is judged
    from request counts over the gate's elapsed time, and decides as soon as the evidence is
    sufficient."""

    error_probability: float = Field(default=0.003, gt=0, le=0.2)
    """P(rollback | the canary is as good as its reference), per check (alpha). 0.3 %: the
    benchmark's healthy releases are rolled back in under 0.1 % of traces (bench/README.md)."""
    early_pass_error_probability: float = Field(default=0.01, gt=0, le=0.2)
    """P(early pass | the canary is ``min_ratio`` times worse), per check (beta)."""
    min_ratio: float = Field(default=3.0, gt=1, le=100)
    """The smallest error-rate ratio (canary / reference) that must be caught; the test mixes
    min_ratio, 3x, 9x and 27x that."""
    accept_ratio: float | None = Field(default=None, gt=1, le=1000)
    """The ratio the early pass rules out (at ``early_pass_error_probability``); None:
    ``min_ratio``. Larger passes on less evidence: an intermediate canary step only rules out a
    gross failure before more traffic moves, the evidence carried to the last step, which rules
    out ``min_ratio``. Rejection is unchanged (at least ``min_ratio`` worse)."""
    baseline_version: str | None = "stable"
    """``version`` label of the baseline track: a check selecting ``version: canary`` is compared
    with the same selector at ``version: <baseline_version>``. None: no comparison."""
    acceptable_error_rate: float = Field(default=0.01, gt=0, lt=1)
    """The reference error rate when there is no baseline (or it has no data): 1 %, as Flagger's
    tutorial's request-success-rate >= 99 %."""
    min_error_rate: float = Field(default=0.001, gt=0, lt=1)
    """Baseline error rates below this count as this (errors so rare do not matter)."""
    min_slow_share: float = Field(default=0.01, gt=0, lt=1)
    """Latency checks: baseline shares of requests slower than the limit below this count as
    this (1 %: a p99 within the limit)."""


class LoadSpec(_Model):
    """Synthetic load the gate sends while it runs (gates/load.py): GET requests to its own probe
    targets, with their headers (the canary header reaches the canary), so that a quiet service
    produces evidence. Point it at requests real users make: a health endpoint that never fails
    dilutes the canary's error rate instead."""

    rate: float = Field(gt=0, le=50)
    """Requests per second in total, round-robin over the probe targets."""
    path: str | None = None
    """Path (and query) requested on each probe's host instead of the probe's own path."""
    concurrency: int = Field(default=4, ge=1, le=32)
    """Requests in flight at most (a tick finding them all busy is skipped, never queued)."""


class GateSpec(_Model):
    """A health gate: evaluate every ``interval`` seconds for ``duration`` seconds.

    ``mode: sequential`` (the default) judges ``error-rate`` and latency checks with sequential
    tests on counts, passes early no sooner than ``min_duration``, keeps watching an undecided test
    after ``duration`` up to ``max_duration`` (then ``on_undecided``), and holds through
    inconclusive evaluations (Prometheus down, no data) for up to ``max_hold`` seconds, extending
    the gate by the time held; ``mode: threshold`` is the gate as it was before: every check
    against its limit each evaluation, ``failure_limit`` / ``inconclusive_limit`` consecutive
    evaluations, default duration 60 s and inconclusive_limit 3.
    """

    name: str = "health-gate"
    """Shown in progress, reports and alerts."""
    interval: float = Field(default=10.0, gt=0, le=MAX_GATE_SECONDS)
    duration: float = Field(default=300.0, gt=0, le=MAX_GATE_SECONDS)
    """Seconds to observe (default 300; 60 in ``mode: threshold``). The gate ends earlier when a
    sequential test decides, later by the time held inconclusive (sequential mode)."""
    failure_limit: int = Field(default=2, ge=1)
    """Consecutive failed evaluations that fail the gate (a sequential ``reject`` fails it at once)."""
    inconclusive_limit: int = Field(default=THRESHOLD_INCONCLUSIVE_LIMIT, ge=1)
    """Consecutive inconclusive evaluations that fail the gate (verdict inconclusive). Default: 3
    in ``mode: threshold``; ``max_hold / interval`` (rounded up) in ``mode: sequential``."""
    on_no_data: OnNoData = "inconclusive"
    """What a check with no data (empty result or NaN) counts as."""
    probes: list[ProbeSpec] = Field(default_factory=list)
    prometheus: PrometheusSpec | None = None
    checks: list[CheckSpec] = Field(default_factory=list)
    notify: NotifySpec | None = None
    mode: Mode = "sequential"
    """``sequential`` (default) or ``threshold`` (see the class docstring)."""
    sequential: SequentialSpec = Field(default_factory=SequentialSpec)
    max_hold: float = Field(default=300.0, ge=0, le=MAX_GATE_SECONDS)
    """Sequential mode: the longest the gate holds through inconclusive evaluations, in total
    (the duration is extended by the time held, up to this) and in a row (then it gives up with
    verdict inconclusive: it never passes without evidence)."""
    min_duration: float = Field(default=MIN_DURATION, ge=0, le=MAX_GATE_SECONDS)
    """Sequential mode: the gate never passes early before this many seconds, however strong the
    evidence: a failure that starts later (a burst, a leak) needs time to show. Default: 60, or
    ``duration`` if shorter."""
    max_duration: float = Field(default=MAX_DURATION_FACTOR * 300.0, gt=0, le=MAX_GATE_SECONDS)
    """Sequential mode: when ``duration`` ends with a sequential test still undecided, the gate
    keeps watching until every test decides, up to this many seconds (extended by the time held
    too). Default: 4 x ``duration`` (1200 s), at most a day."""
    on_undecided: OnUndecided = "pass"
    """Sequential mode: the verdict at ``max_duration`` when a test is still undecided (the reason
    says so and gives the evidence)."""
    load: LoadSpec | None = None
    """Synthetic load while the gate runs (default: none)."""
    allow_link_local: bool = False
    """Allow probe and Prometheus URLs at link-local addresses (169.254.0.0/16, fe80::/10): off,
    because that is where a cloud's instance metadata, and its credentials, are served."""

    @model_validator(mode="before")
    @classmethod
    def _mode_defaults(cls, data: Any) -> Any:
        # Defaults that depend on the mode; explicit values always win.
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        mode = data.get("mode", "sequential")
        if mode == "threshold":
            data.setdefault("duration", THRESHOLD_DURATION)
        duration = data.get("duration", 300.0)
        if _number(duration) and math.isfinite(duration):
            data.setdefault("max_duration", min(MAX_DURATION_FACTOR * duration, MAX_GATE_SECONDS))
            data.setdefault("min_duration", min(MIN_DURATION, duration))
        if mode == "sequential" and "inconclusive_limit" not in data:
            interval, hold = data.get("interval", 10.0), data.get("max_hold", 300.0)
            valid = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (interval, hold))
            if valid and interval > 0 and hold >= 0 and math.isfinite(hold / interval):
                data["inconclusive_limit"] = max(1, min(MAX_EVALUATIONS, math.ceil(hold / interval - 1e-9)))
        return data

    @property
    def sequential_mode(self) -> bool:
        return self.mode == "sequential"

    @property
    def max_evaluations(self) -> int:
        """Evaluations at 0, interval, 2*interval, ... up to duration (in sequential mode up to
        ``max_duration`` plus ``max_hold``, the longest the gate can watch)."""
        span = self.max_duration + self.max_hold if self.sequential_mode else self.duration
        ratio = span / self.interval
        # Finite inputs can still overflow (1e308 / 1e-300); such a gate is over the bound anyway.
        return math.floor(ratio + 1e-9) + 1 if math.isfinite(ratio) else MAX_EVALUATIONS + 1

    def baseline_params(self, check: CheckSpec) -> dict[str, str] | None:
        """The check's template parameters selecting its baseline track, or None when it has none
        (no ``version`` selected, no ``baseline_version``, or the check selects the baseline)."""
        base = self.sequential.baseline_version
        params = check.string_params
        if base is None or "version" not in params or params["version"] == base:
            return None
        return {**params, "version": base}

    def sequential_kind(self, check: CheckSpec) -> SequentialKind | None:
        """Which sequential test judges ``check`` (None: its limits, each evaluation)."""
        if not self.sequential_mode or check.template is None:
            return None
        if check.template == ERROR_TEMPLATE:
            return "error-rate"
        if check.template in LATENCY_QUANTILES and check.limits[0] is not None:
            if LATENCY_QUANTILES[check.template] is None and self.baseline_params(check) is None:
                return None
            return "latency"
        return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Problem:
    """One invalid field: its path and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class SpecError(ValueError):
    """An invalid gate spec, with every problem found (each names its field)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = [f"invalid gate spec ({count} problem{'s' if count != 1 else ''}):"]
        lines += [f"  - {problem}" for problem in self.problems]
        super().__init__("\n".join(lines))


_NESTED: dict[str, type[BaseModel]] = {
    "sequential": SequentialSpec,
    "probes": ProbeSpec,
    "prometheus": PrometheusSpec,
    "checks": CheckSpec,
    "notify": NotifySpec,
    "load": LoadSpec,
}


def _path(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(spec)"


def _known_fields(loc: Sequence[int | str]) -> list[str]:
    model: type[BaseModel] = GateSpec
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        nested = _NESTED.get(part)
        if nested is None:
            return []
        model = nested
    return list(model.model_fields)


def _message(error: Mapping[str, Any]) -> str:
    loc = error["loc"]
    if error["type"] == "extra_forbidden":
        if tuple(loc[-2:]) == ("notify", "url"):
            return (
                "webhook URLs are secrets and never go in the spec; put it in the environment "
                "variable named by notify.url_env (default GATE_WEBHOOK_URL) or in the stack's "
                "secret config gateWebhookUrl"
            )
        known = _known_fields(loc)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        hint = (
            f"; did you mean '{close[0]}'?"
            if close
            else (f"; expected one of {', '.join(known)}" if known else "")
        )
        return f"unknown field{hint}"
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    echo = not _UNECHOED & {str(part) for part in loc}
    if echo and error["type"] != "missing" and isinstance(value, str | int | float | bool):
        message += f", got {value!r}"
    return message


def _url_problem(url: str, allow_link_local: bool = False) -> str | None:
    expected = f"expected an http:// or https:// URL with a host, got {redact(url)!r}"
    if any(c.isspace() or not c.isprintable() for c in url):
        return f"{expected} (it contains whitespace or control characters)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        # urlsplit's own words: "Invalid IPv6 URL", "Port out of range 0-65535", ...
        return f"{expected} ({str(error).lower()})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return expected
    if port == 0:
        return f"{expected} (port 0)"
    # User info is the target's basic auth: used, and shown as [redacted] (a HealthGate's spec
    # never has it: stack config refuses it, components/plain_text.py). Anything else that is a
    # credential (a token in the query, say) would be sent to every log on the way: refused.
    without_user_info = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    if kind := credential_in_value(without_user_info):
        return f"expected a URL that needs no credential; it holds {kind} (not shown): a spec is stored in plain text"
    if not allow_link_local and link_local(parts.hostname):
        return (
            f"{expected}: {parts.hostname} is a link-local address (169.254.0.0/16, fe80::/10), where a "
            "cloud's instance metadata and its credentials live; set allow_link_local: true if you mean it"
        )
    return None


def link_local(host: str) -> bool:
    """Whether ``host`` is a link-local IP address (169.254.0.0/16, fe80::/10)."""
    try:
        return ipaddress.ip_address(host).is_link_local
    except ValueError:
        return False


_NOT_AN_ENV_NAME = (
    "expected the NAME of an environment variable (letters, digits, '_'; the value is not shown: "
    "if it is the credential itself, put it in that variable and rotate it)"
)


def _semantic_problems(spec: GateSpec) -> list[Problem]:
    problems: list[Problem] = []
    if spec.duration < spec.interval:
        problems.append(
            Problem("duration", f"must be at least interval ({spec.interval:g}), got {spec.duration:g}")
        )
    elif spec.max_duration < spec.duration:
        problems.append(
            Problem(
                "max_duration", f"must be at least duration ({spec.duration:g}), got {spec.max_duration:g}"
            )
        )
    elif spec.min_duration > spec.duration:
        problems.append(
            Problem(
                "min_duration", f"must not exceed duration ({spec.duration:g}), got {spec.min_duration:g}"
            )
        )
    elif spec.max_evaluations > MAX_EVALUATIONS:
        problems.append(
            Problem("interval", f"duration / interval allows at most {MAX_EVALUATIONS} evaluations")
        )
    if not spec.probes and not spec.checks:
        problems.append(Problem("(spec)", "a gate needs at least one probe or one check"))
    if problem := _name_problem(spec.name):
        problems.append(Problem("name", problem))
    for index, probe in enumerate(spec.probes):
        where = f"probes[{index}]"
        if problem := _url_problem(probe.url, spec.allow_link_local):
            problems.append(Problem(f"{where}.url", problem))
        problems += _header_problems(f"{where}.headers", probe.headers)
        if probe.max_response_time is not None and probe.max_response_time > probe.timeout:
            problems.append(
                Problem(
                    f"{where}.max_response_time",
                    f"must not exceed timeout ({probe.timeout:g}), got {probe.max_response_time:g}",
                )
            )
    if spec.prometheus is not None:
        if problem := _url_problem(spec.prometheus.url, spec.allow_link_local):
            problems.append(Problem("prometheus.url", problem))
        env = spec.prometheus.bearer_token_env
        if env is not None and (not _ENV_NAME.fullmatch(env) or credential_in_value(env)):
            problems.append(Problem("prometheus.bearer_token_env", _NOT_AN_ENV_NAME))
    sequential = spec.sequential
    if sequential.acceptable_error_rate * sequential.min_ratio >= 1:
        problems.append(
            Problem(
                "sequential.acceptable_error_rate",
                f"times min_ratio ({sequential.min_ratio:g}) must be below 1, got "
                f"{sequential.acceptable_error_rate:g}",
            )
        )
    if sequential.accept_ratio is not None and sequential.accept_ratio < sequential.min_ratio:
        problems.append(
            Problem(
                "sequential.accept_ratio",
                f"must be at least min_ratio ({sequential.min_ratio:g}), got {sequential.accept_ratio:g}",
            )
        )
    if sequential.baseline_version is not None and not sequential.baseline_version.strip():
        problems.append(Problem("sequential.baseline_version", "must not be empty (use null for none)"))
    if spec.checks and spec.prometheus is None:
        problems.append(Problem("prometheus", "required when there are checks"))
    if spec.load is not None:
        problems += _load_problems(spec.load, spec.probes)
    if spec.notify is not None and not _ENV_NAME.fullmatch(spec.notify.url_env):
        problems.append(Problem("notify.url_env", _NOT_AN_ENV_NAME))
    seen: set[str] = set()
    for index, check in enumerate(spec.checks):
        problems += _check_problems(f"checks[{index}]", check, seen)
    return problems


def _header_problems(where: str, headers: Mapping[str, str]) -> list[Problem]:
    # A header is where a pasted credential sits: values are never echoed, only what is wrong with
    # them; a name is, unless it looks like a credential itself. Caught here, not by requests at
    # the first probe, which then fails every probe of the gate.
    problems = []
    for name, value in headers.items():
        if _HEADER_NAME.fullmatch(name) is None:
            expected = (
                "expected a header name of letters, digits and !#$%&'*+-.^_`|~ (RFC 9110 token characters)"
            )
            if credential_in_value(name):
                problems.append(Problem(where, f"{expected}; one is not shown: it looks like a credential"))
            else:
                shown = escape_hidden(name[:64]) + ("..." if len(name) > 64 else "")
                problems.append(Problem(f"{where}.{shown}", f'{expected}, got "{shown}"'))
            continue
        if problem := _header_value_problem(value):
            problems.append(Problem(f"{where}.{name}", problem))
    return problems


def _header_value_problem(value: str) -> str | None:
    expected = (
        "expected visible ASCII or latin-1 characters, spaces and tabs only between them "
        "(RFC 9110; the value is not shown)"
    )
    if value != value.strip(" \t"):
        return f"starts or ends with a space or tab; {expected}"
    odd = dict.fromkeys(f"U+{ord(c):04X}" for c in value if not _HEADER_VALUE_CHARACTER.fullmatch(c))
    if odd:
        return f"contains {', '.join(list(odd)[:5])}, which a header cannot carry; {expected}"
    return None


def _load_problems(load: LoadSpec, probes: Sequence[ProbeSpec]) -> list[Problem]:
    problems = []
    if not probes:
        problems.append(
            Problem("load", "needs at least one probe: the load goes only to the gate's own targets")
        )
    path = load.path
    if path is not None and (not path.startswith("/") or "#" in path or any(c.isspace() for c in path)):
        problems.append(
            Problem(
                "load.path",
                f"expected a path such as /api/items (no host, no fragment, no spaces), got {path!r}",
            )
        )
    return problems


def _check_problems(where: str, check: CheckSpec, seen: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    if not _CHECK_NAME.fullmatch(check.name):
        problems.append(
            Problem(f"{where}.name", f"expected letters, digits, '.', '_' or '-', got {check.name!r}")
        )
    elif check.name in seen:
        problems.append(Problem(f"{where}.name", f"duplicate check name {check.name!r}"))
    seen.add(check.name)
    if (check.query is None) == (check.template is None):
        problems.append(Problem(where, "set exactly one of query and template"))
    if check.query is not None and not check.query.strip():
        problems.append(Problem(f"{where}.query", "must not be empty"))
    if check.template is not None:
        template = TEMPLATES.get(check.template)
        if template is None:
            problems.append(
                Problem(
                    f"{where}.template",
                    f"unknown template {check.template!r}; expected one of {', '.join(TEMPLATES)}",
                )
            )
        else:
            for key, value in check.string_params.items():
                if problem := param_problem(template, key, value):
                    problems.append(Problem(f"{where}.params.{key}", problem))
    elif check.params:
        problems.append(Problem(f"{where}.params", "only allowed with a template"))
    for bound in ("max", "min"):
        value = getattr(check, bound)
        if value is not None and not math.isfinite(value):
            problems.append(Problem(f"{where}.{bound}", f"must be a finite number, got {value}"))
    maximum, minimum = check.limits
    if maximum is None and minimum is None and (check.query is not None or check.template in TEMPLATES):
        problems.append(Problem(where, "set max, min or both"))
    if maximum is not None and minimum is not None and minimum > maximum:
        problems.append(Problem(f"{where}.min", f"must not exceed max ({maximum:g}), got {minimum:g}"))
    return problems


def parse_spec(data: Any) -> GateSpec:
    """Validate ``data`` (e.g. loaded YAML); raise SpecError naming every bad field."""
    if not isinstance(data, Mapping):
        raise SpecError(
            [Problem("(spec)", f"expected a mapping of gate settings, got {type(data).__name__}")]
        )
    try:
        spec = GateSpec.model_validate(dict(data))
    except ValidationError as error:
        raise SpecError([Problem(_path(e["loc"]), _message(e)) for e in error.errors()]) from None
    problems = _semantic_problems(spec)
    if problems:
        raise SpecError(problems)
    return spec


def spec_to_data(spec: GateSpec) -> dict[str, Any]:
    """The spec as plain data (what the HealthGate stores as its ``spec`` input/output), without
    the defaults, including the ones the mode derives (so equal specs give equal data)."""
    data = spec.model_dump(mode="json", exclude_defaults=True)
    derived_keys = ("duration", "inconclusive_limit", "max_duration", "min_duration")
    plain = {k: v for k, v in data.items() if k not in derived_keys}
    # The duration first: the other derived defaults follow from it.
    if GateSpec.model_validate(plain).duration != spec.duration:
        plain["duration"] = spec.duration
    derived = GateSpec.model_validate(plain)
    for key in derived_keys[1:]:
        if getattr(derived, key) != getattr(spec, key):
            plain[key] = getattr(spec, key)
    return plain
