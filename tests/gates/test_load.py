"""The gate's synthetic load (spec ``load``, gates/load.py) against real servers on 127.0.0.1:
only to the gate's own targets, with their headers, at its rate, bounded in flight, stopped with
the gate."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from gates.report import to_json, to_markdown
from gates.runner import Secrets, build_runtime, run_gate
from gates.spec import SpecError, parse_spec
from tests.support.app import Received, ScriptedServer

Start = Callable[[Callable[[Received], tuple[int, bytes]]], ScriptedServer]


def gate(target: ScriptedServer, **load: Any) -> Any:
    spec = parse_spec(
        {
            "mode": "threshold",
            "interval": 0.5,
            "duration": 2,
            "probes": [{"url": f"{target.url}/health", "headers": {"canary": "true"}, "timeout": 2}],
            "load": load,
        }
    )
    return run_gate(spec, build_runtime(spec, Secrets()))


def test_load_goes_to_the_gate_targets_with_their_headers_and_stops_with_the_gate(scripted: Start) -> None:
    target = scripted(
        lambda request: (
            500 if request.path.startswith("/api") and len(target.received) % 5 == 0 else 200,
            b"{}",
        )
    )
    report = gate(target, rate=20, path="/api/items?page=1")
    loaded = [r for r in target.received if r.path == "/api/items?page=1"]
    # ~2.5 s of gate at 20/s (the schedule starts with the gate and stops with it).
    assert 35 <= len(loaded) <= 55, len(loaded)
    assert all(r.headers.get("canary") == "true" for r in loaded)
    assert report.load is not None and report.load.sent == len(loaded)
    assert sum(report.load.answered.values()) + report.load.failed == report.load.sent
    assert report.load.answered.get("5xx", 0) > 0  # counted, never judged: the probes passed
    assert report.verdict.status == "pass"
    time.sleep(0.5)
    assert len([r for r in target.received if r.path == "/api/items?page=1"]) == len(loaded)
    assert '"load": {' in to_json(report)
    assert "- Load: 20 requests/s to 1 target(s): " in to_markdown(report)


def test_load_never_has_more_requests_in_flight_than_allowed(scripted: Start) -> None:
    lock = threading.Lock()
    in_flight, most = 0, 0

    def slow(_request: Received) -> tuple[int, bytes]:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        time.sleep(0.3)
        with lock:
            in_flight -= 1
        return 200, b"{}"

    target = scripted(slow)
    report = gate(target, rate=40, concurrency=2)
    assert most <= 2 + 1  # the gate's own probe may overlap the load's two requests
    assert report.load is not None and report.load.skipped > 0


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"load": {"rate": 5}},
            "load: needs at least one probe: the load goes only to the gate's own targets",
        ),
        (
            {"load": {"rate": 0}, "probes": [{"url": "http://a"}]},
            "load.rate: Input should be greater than 0, got 0",
        ),
        (
            {"load": {"rate": 500}, "probes": [{"url": "http://a"}]},
            "load.rate: Input should be less than or equal to 50, got 500",
        ),
        (
            {"load": {"rate": 5, "path": "http://elsewhere/api"}, "probes": [{"url": "http://a"}]},
            "load.path: expected a path such as /api/items (no host, no fragment, no spaces), got 'http://elsewhere/api'",
        ),
        (
            {"load": {"rate": 5, "url": "http://b"}, "probes": [{"url": "http://a"}]},
            "load.url: unknown field; expected one of rate, path, concurrency",
        ),
    ],
)
def test_bad_load_settings_name_the_field(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse_spec({"checks": [], **data} if "probes" in data else data)
    found = [str(p) for p in raised.value.problems]
    assert any(p.startswith(expected) for p in found), found
