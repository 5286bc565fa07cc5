"""Built-in PromQL templates for the checks every release needs, with the CD guide's thresholds
as defaults (response time 5 s, error rate 5 %, average response 2 s, CPU 80 %).

A template is parametrised by label matchers (``job``, ``namespace``, ``app``, ``version`` —
the release track: a colour, stable or canary) and a rate
``window``; the metric names are the ones the app exports (``http_requests_total{code}``, the
``http_request_duration_seconds`` histogram, ``process_cpu_seconds_total``) plus Prometheus's own
``up``. Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

LABEL_PARAMS = ("job", "namespace", "app", "version")
"""Parameters that become label matchers ``name="value"`` on every selector of a template."""
WINDOW_PARAM = "window"
DEFAULT_WINDOW = "1m"
_WINDOW = re.compile(r"^([0-9]+)(ms|s|m|h)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
MAX_WINDOW_SECONDS = 30 * 24 * 3600
"""The longest rate window, 30 days (720h): twice Prometheus's default retention, so no data is
beyond it by default, and far inside the durations Prometheus and Python's clocks can hold."""
_NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?$")


@dataclass(frozen=True)
class Template:
    """A named PromQL query with default limits."""

    name: str
    description: str
    build: Callable[[str, str, Mapping[str, str]], str]
    """``build(selector, window, params)`` -> PromQL (selector is the inside of ``{...}``)."""
    default_max: float | None = None
    default_min: float | None = None
    extra_params: tuple[str, ...] = ()

    @property
    def params(self) -> tuple[str, ...]:
        """Every parameter the template accepts."""
        return (*LABEL_PARAMS, WINDOW_PARAM, *self.extra_params)


def _join(*parts: str) -> str:
    return ",".join(part for part in parts if part)


def _error_rate(sel: str, window: str, _params: Mapping[str, str]) -> str:
    # `or vector(0)`: with no 5xx at all the numerator has no series, and the division would be
    # empty (no data) instead of 0. No traffic at all still gives no data, which is the truth.
    errors_sel = _join(sel, 'code=~"5.."')
    errors = f"sum(rate(http_requests_total{{{errors_sel}}}[{window}]))"
    total = f"sum(rate(http_requests_total{{{sel}}}[{window}]))"
    return f"({errors} or vector(0)) / {total}"


def _latency_avg(sel: str, window: str, _params: Mapping[str, str]) -> str:
    return (
        f"sum(rate(http_request_duration_seconds_sum{{{sel}}}[{window}]))"
        f" / sum(rate(http_request_duration_seconds_count{{{sel}}}[{window}]))"
    )


def _quantile(q: str) -> Callable[[str, str, Mapping[str, str]], str]:
    def build(sel: str, window: str, _params: Mapping[str, str]) -> str:
        return f"histogram_quantile({q}, sum by (le) (rate(http_request_duration_seconds_bucket{{{sel}}}[{window}])))"

    return build


def _cpu(sel: str, window: str, params: Mapping[str, str]) -> str:
    cores = params.get("cpu_limit", "1")
    return f"avg(rate(process_cpu_seconds_total{{{sel}}}[{window}])) / {cores}"


def _healthy(sel: str, _window: str, _params: Mapping[str, str]) -> str:
    return f"100 * sum(up{{{sel}}}) / count(up{{{sel}}})"


# Counts over a window (increase()), for checks of their own (e.g. a minimum of requests). The
# sequential tests do not use them: they read raw samples for exact counts (gates/counts.py).
# No traffic at all gives no data (no series); no 5xx at all gives 0 (`or vector(0)`), as in
# error-rate.
def _requests_increase(sel: str, window: str, _params: Mapping[str, str]) -> str:
    return f"sum(increase(http_requests_total{{{sel}}}[{window}]))"


def _errors_increase(sel: str, window: str, _params: Mapping[str, str]) -> str:
    errors_sel = _join(sel, 'code=~"5.."')
    return f"sum(increase(http_requests_total{{{errors_sel}}}[{window}])) or vector(0)"


def _request_samples(sel: str, window: str, _params: Mapping[str, str]) -> str:
    # Scrapes of the request counter inside the window (the fewest of its series): how much data
    # an increase() over the window rests on.
    return f"min(count_over_time(http_requests_total{{{sel}}}[{window}]))"


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template("error-rate", "fraction of requests answered 5xx", _error_rate, default_max=0.05),
        Template("latency-avg", "average response time (s)", _latency_avg, default_max=2.0),
        Template("latency-p50", "median response time (s)", _quantile("0.5"), default_max=5.0),
        Template("latency-p95", "95th percentile response time (s)", _quantile("0.95"), default_max=5.0),
        Template("latency-p99", "99th percentile response time (s)", _quantile("0.99"), default_max=5.0),
        Template(
            "cpu",
            "average CPU use per instance, as a fraction of `cpu_limit` cores (default 1)",
            _cpu,
            default_max=0.8,
            extra_params=("cpu_limit",),
        ),
        # The CD guide gives no figure; 80 % tolerates one unavailable pod of six (maxUnavailable 1).
        Template("healthy-instances-percent", "percentage of scrape targets up", _healthy, default_min=80.0),
        Template("requests-increase", "requests counted in the window (increase())", _requests_increase),
        Template("errors-increase", "5xx answers counted in the window (increase())", _errors_increase),
        Template(
            "request-samples",
            "scrapes of the request counter in the window (fewest per series)",
            _request_samples,
        ),
    )
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def window_seconds(text: str) -> float | None:
    """The seconds of a Prometheus duration such as 30s, 1m or 5m; None when it is not one."""
    match = _WINDOW.fullmatch(text)
    if match is None:
        return None
    digits = match[1].lstrip("0") or "0"
    # Beyond any bound, and int() of thousands of digits would raise instead of answering.
    if len(digits) > 15:
        return math.inf
    return int(digits) * _UNIT_SECONDS[match[2]]


def window_problem(text: str) -> str | None:
    """Why ``text`` is not a window above zero and within MAX_WINDOW_SECONDS (None when it is)."""
    seconds = window_seconds(text)
    if not seconds:
        return f"expected a Prometheus duration above zero such as 30s, 1m or 5m, got {text!r}"
    if seconds > MAX_WINDOW_SECONDS:
        return f"expected at most {MAX_WINDOW_SECONDS // 3600}h ({MAX_WINDOW_SECONDS // 86400} days), got {text!r}"
    return None


def param_problem(template: Template, key: str, value: str) -> str | None:
    """Why ``key: value`` is not a valid parameter of ``template`` (None when it is)."""
    if key not in template.params:
        return (
            f"unknown parameter of template '{template.name}'; expected one of {', '.join(template.params)}"
        )
    if key == WINDOW_PARAM:
        return window_problem(value)
    if key == "cpu_limit" and not (_NUMBER.fullmatch(value) and float(value) > 0):
        return f"expected a positive number of cores, got {value!r}"
    return None


def _matchers(params: Mapping[str, str]) -> str:
    return ",".join(f'{label}="{_escape(params[label])}"' for label in LABEL_PARAMS if label in params)


def render(name: str, params: Mapping[str, str]) -> str:
    """The PromQL of template ``name`` with ``params`` (validated by the spec beforehand)."""
    template = TEMPLATES[name]
    for key, value in params.items():
        problem = param_problem(template, key, value)
        if problem:
            raise ValueError(f"{key}: {problem}")
    return template.build(_matchers(params), params.get(WINDOW_PARAM, DEFAULT_WINDOW), params)


REQUESTS_METRIC = "http_requests_total"
"""The request counter (label ``code``) the sequential error test counts."""
BUCKETS_METRIC = "http_request_duration_seconds_bucket"
"""The latency histogram's buckets (label ``le``) the sequential latency test counts."""


def selector(metric: str, params: Mapping[str, str]) -> str:
    """``metric{label="value",...}`` for the label parameters among ``params``: the series whose
    raw samples the sequential tests read (gates/counts.py)."""
    return f"{metric}{{{_matchers(params)}}}"
