"""Prometheus queries with an explicit outcome for everything that can go wrong: unreachable,
timed out, HTTP 4xx/5xx, malformed body, ``status: error``, an empty result and NaN. The bearer
token, if any, is sent and never appears in a message.

``query`` (``GET /api/v1/query``) gives the values a gate check compares; ``query_series`` (the
same endpoint) and ``query_range`` (``GET /api/v1/query_range``) keep each series' labels and, for
a range, its points, for reports and charts; ``query_samples`` (the same endpoint, a range
selector) gives each series' raw samples, for the sequential tests' exact counts."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from credentials import redact
from gates.failures import describe
from gates.results import QueryOutcome, QueryResult, fmt


def _error(detail: str) -> QueryResult:
    return QueryResult(QueryOutcome.ERROR, (), detail)


def _number(sample: Any) -> float:
    # A sample is [unix_time, "value"]; values are strings ("1.5", "NaN", "+Inf").
    if not (isinstance(sample, list) and len(sample) == 2 and isinstance(sample[1], str)):
        raise ValueError('sample is not [time, "value"]')
    return float(sample[1])


def _data(status_code: int, body: bytes) -> dict[str, Any] | QueryResult:
    """The ``data`` object of a successful answer, or the error it amounts to."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        if status_code >= 400:
            return _error(f"HTTP {status_code} from Prometheus")
        return _error("malformed response from Prometheus: not JSON")
    if not isinstance(document, dict):
        return _error("malformed response from Prometheus: not a JSON object")
    if document.get("status") == "error" or status_code >= 400:
        kind = document.get("errorType", "")
        message = str(document.get("error", "")).splitlines()[0][:300] if document.get("error") else ""
        what = f"HTTP {status_code}" if status_code >= 400 else "status error"
        return _error(
            f"Prometheus query error ({what}{', ' + str(kind) if kind else ''}){': ' + message if message else ''}"
        )
    if document.get("status") != "success" or not isinstance(document.get("data"), dict):
        return _error("malformed response from Prometheus: no status/data")
    data: dict[str, Any] = document["data"]
    return data


def parse_response(status_code: int, body: bytes) -> QueryResult:
    """Judge one HTTP answer of /api/v1/query."""
    data = _data(status_code, body)
    if isinstance(data, QueryResult):
        return data
    kind, result = data.get("resultType"), data.get("result")
    try:
        if kind == "scalar":
            values = [_number(result)]
        elif kind == "vector" and isinstance(result, list):
            values = [_number(series.get("value") if isinstance(series, dict) else None) for series in result]
        elif kind in ("matrix", "string"):
            return _error(f"query returned a {kind}; a check needs an instant vector or scalar")
        else:
            return _error("malformed response from Prometheus: unknown result type")
    except (ValueError, TypeError) as error:
        return _error(f"malformed response from Prometheus: {error}")
    if not values:
        return QueryResult(QueryOutcome.NO_DATA, (), "empty result")
    numbers = tuple(v for v in values if not math.isnan(v))
    if not numbers:
        return QueryResult(
            QueryOutcome.NO_DATA, (), "NaN (no samples in the window, e.g. 0/0 without traffic)"
        )
    return QueryResult(QueryOutcome.OK, numbers)


@dataclass(frozen=True)
class Series:
    """One labelled series: an instant vector's sample, or a range query's points."""

    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]
    """``(unix time, value)``, oldest first; NaN points dropped."""

    @property
    def last(self) -> float:
        return self.points[-1][1]


@dataclass(frozen=True)
class SeriesResult:
    outcome: QueryOutcome
    series: tuple[Series, ...] = field(default=())
    """Every series with at least one number (NaN-only series dropped)."""
    detail: str = ""
    """Why there is nothing (never contains credentials)."""


def _series_error(result: QueryResult) -> SeriesResult:
    return SeriesResult(result.outcome, (), result.detail)


def _labels(item: Any) -> dict[str, str]:
    metric = item.get("metric") if isinstance(item, dict) else None
    if not isinstance(metric, dict):
        raise ValueError("series without a metric object")
    return {str(key): str(value) for key, value in metric.items()}


def _point(sample: Any) -> tuple[float, float]:
    return float(sample[0]) if isinstance(sample, list) and sample else math.nan, _number(sample)


def parse_series_response(status_code: int, body: bytes, *, range_query: bool) -> SeriesResult:
    """Judge one answer of /api/v1/query (an instant vector) or /api/v1/query_range (a matrix)."""
    data = _data(status_code, body)
    if isinstance(data, QueryResult):
        return _series_error(data)
    kind, result = data.get("resultType"), data.get("result")
    expected = "matrix" if range_query else "vector"
    if kind == "scalar" and not range_query:
        try:
            items: list[tuple[dict[str, str], list[tuple[float, float]]]] = [({}, [_point(result)])]
        except (ValueError, TypeError) as error:
            return _series_error(_error(f"malformed response from Prometheus: {error}"))
    elif kind != expected or not isinstance(result, list):
        return _series_error(_error(f"query returned a {kind}; expected a {expected}"))
    else:
        try:
            items = [
                (
                    _labels(item),
                    [_point(s) for s in item.get("values", ())]
                    if range_query
                    else [_point(item.get("value"))],
                )
                for item in result
            ]
        except (ValueError, TypeError, AttributeError) as error:
            return _series_error(_error(f"malformed response from Prometheus: {error}"))
    series = tuple(
        Series(labels, tuple(p for p in points if not math.isnan(p[1])))
        for labels, points in items
        if any(not math.isnan(p[1]) for p in points)
    )
    if not series:
        detail = "empty result" if not items else "NaN (no samples in the window, e.g. 0/0 without traffic)"
        return SeriesResult(QueryOutcome.NO_DATA, (), detail)
    return SeriesResult(QueryOutcome.OK, series)


class PrometheusClient:
    """Instant queries against one Prometheus. ``token`` is a bearer token (secret)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        token: str | None = None,
        verify_tls: bool = True,
        session: requests.Session | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.display_url = redact(self.url)
        self.timeout = timeout
        self.verify_tls = verify_tls
        self._token = token
        # No shared Session by default: checks are queried from several threads at once.
        self._get = session.get if session is not None else requests.get

    def __repr__(self) -> str:
        return f"PrometheusClient({self.display_url!r})"

    def _fetch(self, path: str, params: dict[str, str]) -> tuple[int, bytes] | QueryResult:
        """The status and body of ``GET path``, or the error that prevented an answer."""
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            response = self._get(
                f"{self.url}{path}",
                params={**params, "timeout": f"{fmt(self.timeout)}s"},
                headers=headers,
                timeout=(self.timeout, self.timeout),
                verify=self.verify_tls,
                allow_redirects=False,
            )
            body = response.content
        except requests.Timeout:
            return _error(f"Prometheus at {self.display_url} timed out after {fmt(self.timeout)} s")
        except requests.ConnectionError as error:
            cause = describe(error, self.timeout).detail
            return _error(f"Prometheus unreachable at {self.display_url}: {cause}")
        except requests.RequestException as error:
            return _error(f"Prometheus request failed ({type(error).__name__})")
        if response.status_code in (401, 403):
            return _error(f"HTTP {response.status_code} from Prometheus: check the bearer token")
        return int(response.status_code), body

    def query(self, promql: str) -> QueryResult:
        answer = self._fetch("/api/v1/query", {"query": promql})
        if isinstance(answer, QueryResult):
            return answer
        return parse_response(*answer)

    def query_series(self, promql: str, *, at: float | None = None) -> SeriesResult:
        """An instant query keeping each series' labels (``at``: unix time, default now)."""
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        answer = self._fetch("/api/v1/query", params)
        if isinstance(answer, QueryResult):
            return _series_error(answer)
        return parse_series_response(*answer, range_query=False)

    def query_samples(self, selector: str, start: float, end: float) -> SeriesResult:
        """The raw samples of the series ``selector`` matches in (start, end] (unix times): the
        range selector ``selector[N s]`` queried at ``end`` (a matrix, one point per scrape)."""
        span = max(1, math.ceil(end - start - 1e-6))
        answer = self._fetch("/api/v1/query", {"query": f"{selector}[{span}s]", "time": f"{end:.3f}"})
        if isinstance(answer, QueryResult):
            return _series_error(answer)
        return parse_series_response(*answer, range_query=True)

    def query_range(self, promql: str, *, start: float, end: float, step: float) -> SeriesResult:
        """A range query from ``start`` to ``end`` (unix times) every ``step`` seconds."""
        answer = self._fetch(
            "/api/v1/query_range",
            {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"},
        )
        if isinstance(answer, QueryResult):
            return _series_error(answer)
        return parse_series_response(*answer, range_query=True)
