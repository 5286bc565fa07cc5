"""The gate spec: the user-facing YAML format shared by `rollout gate` and the HealthGate resource.

``parse_spec(data)`` validates a plain mapping and returns a frozen ``GateSpec``, or raises
``SpecError`` listing every problem with the field named as a path (``checks[1].max: ...``).
Secrets never live in the spec: it names the environment variables that hold them.
Pure: no I/O.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gates.templates import TEMPLATES, param_problem
from gates.templates import render as render_template

OnNoData = Literal["inconclusive", "fail", "pass"]
MAX_EVALUATIONS = 10_000
"""Upper bound on evaluations per gate (duration / interval), so every run is bounded."""
DEFAULT_RESPONSE_TIME = 5.0
"""The CD guide's response-time limit (s), the default `max_response_time` of a probe."""
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CHECK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class _Model(BaseModel):
    # strict: YAML `"10"` is not a number and `yes` is not a string; extra: typos are errors.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ProbeSpec(_Model):
    """One HTTP target probed every evaluation; it passes on a 2xx answer within its limit."""

    url: str
    """http(s) URL to GET (redirects are not followed: a 3xx is not healthy)."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Request headers, e.g. ``canary: "true"`` to reach the canary subset."""
    timeout: float = Field(default=10.0, gt=0, le=300)
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
    timeout: float = Field(default=5.0, gt=0, le=300)
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


class GateSpec(_Model):
    """A health gate: evaluate every ``interval`` seconds for ``duration`` seconds."""

    name: str = "health-gate"
    """Shown in progress, reports and alerts."""
    interval: float = Field(default=10.0, gt=0)
    duration: float = Field(default=60.0, gt=0)
    failure_limit: int = Field(default=2, ge=1)
    """Consecutive failed evaluations that fail the gate."""
    inconclusive_limit: int = Field(default=3, ge=1)
    """Consecutive inconclusive evaluations that fail the gate."""
    on_no_data: OnNoData = "inconclusive"
    """What a check with no data (empty result or NaN) counts as."""
    probes: list[ProbeSpec] = Field(default_factory=list)
    prometheus: PrometheusSpec | None = None
    checks: list[CheckSpec] = Field(default_factory=list)
    notify: NotifySpec | None = None

    @property
    def max_evaluations(self) -> int:
        """Evaluations at 0, interval, 2*interval, ... up to duration."""
        return math.floor(self.duration / self.interval + 1e-9) + 1


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
    "probes": ProbeSpec,
    "prometheus": PrometheusSpec,
    "checks": CheckSpec,
    "notify": NotifySpec,
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
    if error["type"] != "missing" and isinstance(value, str | int | float | bool) and value is not None:
        message += f", got {value!r}"
    return message


def _url_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"expected an http:// or https:// URL with a host, got {url!r}"
    return None


def _semantic_problems(spec: GateSpec) -> list[Problem]:
    problems: list[Problem] = []
    if spec.duration < spec.interval:
        problems.append(
            Problem("duration", f"must be at least interval ({spec.interval:g}), got {spec.duration:g}")
        )
    elif spec.max_evaluations > MAX_EVALUATIONS:
        problems.append(
            Problem("interval", f"duration / interval allows at most {MAX_EVALUATIONS} evaluations")
        )
    if not spec.probes and not spec.checks:
        problems.append(Problem("(spec)", "a gate needs at least one probe or one check"))
    for index, probe in enumerate(spec.probes):
        where = f"probes[{index}]"
        if problem := _url_problem(probe.url):
            problems.append(Problem(f"{where}.url", problem))
        if probe.max_response_time is not None and probe.max_response_time > probe.timeout:
            problems.append(
                Problem(
                    f"{where}.max_response_time",
                    f"must not exceed timeout ({probe.timeout:g}), got {probe.max_response_time:g}",
                )
            )
    if spec.prometheus is not None:
        if problem := _url_problem(spec.prometheus.url):
            problems.append(Problem("prometheus.url", problem))
        env = spec.prometheus.bearer_token_env
        if env is not None and not _ENV_NAME.match(env):
            problems.append(
                Problem("prometheus.bearer_token_env", f"expected an environment variable name, got {env!r}")
            )
    if spec.checks and spec.prometheus is None:
        problems.append(Problem("prometheus", "required when there are checks"))
    if spec.notify is not None and not _ENV_NAME.match(spec.notify.url_env):
        problems.append(
            Problem("notify.url_env", f"expected an environment variable name, got {spec.notify.url_env!r}")
        )
    seen: set[str] = set()
    for index, check in enumerate(spec.checks):
        problems += _check_problems(f"checks[{index}]", check, seen)
    return problems


def _check_problems(where: str, check: CheckSpec, seen: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    if not _CHECK_NAME.match(check.name):
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
    """The spec as plain data (what the HealthGate stores as its ``spec`` input/output)."""
    return spec.model_dump(mode="json", exclude_defaults=True)
