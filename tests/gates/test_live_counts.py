"""The sequential tests against a real Prometheus on 127.0.0.1 (scraping every second): exact
counts from raw samples through the gate's client (new series counted from zero, a counter reset
corrected), a latency regression judged by the share of slow requests, and the gate's synthetic
load giving a canary without users evidence."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from gates.counts import Ledger, Window
from gates.prometheus import PrometheusClient
from gates.runner import Secrets, build_runtime, run_gate
from gates.spec import parse_spec
from tests.gates.test_live_prometheus import stable_and_canary, versioned
from tests.support.prometheus import Prometheus

pytestmark = pytest.mark.prometheus


class Exporter:
    """Serves ``http_requests_total`` with exactly the values a test sets, per ``code``."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                lines = ["# TYPE http_requests_total counter"]
                lines += [
                    f'http_requests_total{{code="{c}"}} {v}' for c, v in sorted(exporter.values.items())
                ]
                body = ("\n".join(lines) + "\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def exporter() -> Iterator[Exporter]:
    server = Exporter()
    yield server
    server.stop()


def test_exact_counts_from_raw_samples(prometheus: Prometheus, exporter: Exporter) -> None:
    job = f"counts-{os.getpid()}"
    exporter.values = {"200": 1000}
    prometheus.scrape(job, exporter.port)  # returns once 3 scrapes are stored
    start = time.time()
    try:
        time.sleep(1.5)
        exporter.values["200"] = 1030  # 30 served since the gate started
        time.sleep(2.5)
        exporter.values["500"] = 7  # a 5xx series created at the first errors: all 7 count
        time.sleep(2.5)
        exporter.values["200"] = 5  # the process restarted: 5 served since
        time.sleep(2.5)
        exporter.values["200"] = 12
        time.sleep(2.5)
        now = time.time()
        ledger = Ledger(start)
        answer = PrometheusClient(prometheus.url, timeout=5).query_samples(
            f'http_requests_total{{job="{job}"}}', *ledger.fetch_range(now)
        )
        ledger.merge(answer.series, now)
    finally:
        prometheus.forget(job)
    assert answer.outcome == "ok", answer.detail
    assert ledger.total(Window(start), (("code", "5*"),)) == 7
    # 30 before the restart, then 5 and 7 more; increase() would have extrapolated these.
    assert ledger.total(Window(start)) == 30 + 5 + 7 + 7
    assert ledger.scrape_interval() == pytest.approx(1.0, abs=0.2)


def test_sequential_latency_gate_fails_a_slow_canary(prometheus: Prometheus) -> None:
    job = f"slow-{os.getpid()}"
    with stable_and_canary(prometheus, job) as (stable, canary):
        canary.faults.latency = 0.4
        for app in (stable, canary):
            app.start_traffic()
        versioned(prometheus, job, {"stable": stable, "canary": canary})
        spec = parse_spec(
            {
                "interval": 1,
                "duration": 10,
                "prometheus": {"url": prometheus.url, "timeout": 2},
                "checks": [
                    {
                        "name": "p95",
                        "template": "latency-p95",
                        "params": {"job": job, "version": "canary"},
                        "max": 0.2,
                    }
                ],
            }
        )
        report = run_gate(spec, build_runtime(spec, Secrets()))
    assert report.verdict.status == "fail", report.verdict.reason
    # 0.2 s is no bucket bound: requests slower than the next one, 0.25 s, count.
    assert report.verdict.reason.startswith("check p95: slower than 0.25 s 100 % (")
    assert "vs stable 1 % (0 of" in report.verdict.reason and "at least 3x worse" in report.verdict.reason


def test_load_gives_a_quiet_canary_evidence(prometheus: Prometheus) -> None:
    job = f"quiet-{os.getpid()}"
    with stable_and_canary(prometheus, job) as (stable, canary):
        stable.start_traffic()
        canary.faults.error_every = 2  # half of whatever reaches it answers 500; no users do
        requests.get(
            f"{canary.url}/api", timeout=5
        ).close()  # its series exist (scraped) before the gate starts
        versioned(prometheus, job, {"stable": stable, "canary": canary})
        spec = parse_spec(
            {
                "interval": 1,
                "duration": 6,
                "max_duration": 12,
                "failure_limit": 100,  # the probe fails half the time too: judge the counts only
                "probes": [{"url": f"{canary.url}/health", "timeout": 2}],
                "load": {"rate": 20, "path": "/api"},
                "prometheus": {"url": prometheus.url, "timeout": 2},
                "checks": [
                    {"name": "errors", "template": "error-rate", "params": {"job": job, "version": "canary"}}
                ],
            }
        )
        report = run_gate(spec, build_runtime(spec, Secrets()))
    assert report.verdict.status == "fail", report.verdict.reason
    assert report.verdict.reason.startswith("check errors: error rate ")
    assert "at least 3x worse" in report.verdict.reason
    assert report.load is not None and report.load.answered.get("5xx", 0) > 0
    # More canary requests were counted than the gate's own probes (one an evaluation) sent.
    decided = report.evaluations[-1].sequential[0]
    assert decided.canary_requests > 3 * len(report.evaluations)
