"""Prometheus instant queries (``GET /api/v1/query``) with an explicit outcome for everything that
can go wrong: unreachable, timed out, HTTP 4xx/5xx, malformed body, ``status: error``, an empty
result and NaN. The bearer token, if any, is sent and never appears in a message."""

from __future__ import annotations

import json
import math
from typing import Any

import requests

from gates.results import QueryOutcome, QueryResult, fmt, redact_url


def _error(detail: str) -> QueryResult:
    return QueryResult(QueryOutcome.ERROR, (), detail)


def _number(sample: Any) -> float:
    # A sample is [unix_time, "value"]; values are strings ("1.5", "NaN", "+Inf").
    if not (isinstance(sample, list) and len(sample) == 2 and isinstance(sample[1], str)):
        raise ValueError('sample is not [time, "value"]')
    return float(sample[1])


def parse_response(status_code: int, body: bytes) -> QueryResult:
    """Judge one HTTP answer of /api/v1/query."""
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
    data = document["data"]
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
        self.display_url = redact_url(self.url)
        self.timeout = timeout
        self.verify_tls = verify_tls
        self._token = token
        # No shared Session by default: checks are queried from several threads at once.
        self._get = session.get if session is not None else requests.get

    def __repr__(self) -> str:
        return f"PrometheusClient({self.display_url!r})"

    def query(self, promql: str) -> QueryResult:
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            response = self._get(
                f"{self.url}/api/v1/query",
                params={"query": promql, "timeout": f"{fmt(self.timeout)}s"},
                headers=headers,
                timeout=(self.timeout, self.timeout),
                verify=self.verify_tls,
                allow_redirects=False,
            )
            body = response.content
        except requests.Timeout:
            return _error(f"Prometheus at {self.display_url} timed out after {fmt(self.timeout)} s")
        except requests.ConnectionError as error:
            cause = "connection refused" if "refused" in str(error).lower() else "connection failed"
            return _error(f"Prometheus unreachable at {self.display_url}: {cause}")
        except requests.RequestException as error:
            return _error(f"Prometheus request failed ({type(error).__name__})")
        if response.status_code in (401, 403):
            return _error(f"HTTP {response.status_code} from Prometheus: check the bearer token")
        return parse_response(response.status_code, body)
