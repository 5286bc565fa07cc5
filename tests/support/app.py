"""Real HTTP servers on 127.0.0.1 for gate tests.

* ``FaultyApp``: a tiny app with fault injection switchable at runtime (forced status, every Nth
  request a 500, added latency, dropped connections) that exports Prometheus metrics at /metrics:
  ``http_requests_total{code}``, the ``http_request_duration_seconds`` histogram and
  ``process_cpu_seconds_total``. ``start_traffic()`` keeps requests flowing so rates exist.
* ``ScriptedServer``: answers every request with a scripted status and body and records what it
  received (a fake Prometheus returning garbage, or a webhook receiver).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[_Server, threading.Thread]:
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


def start_users(url: str, stop: threading.Event, pause: float, max_requests: int) -> threading.Thread:
    """A thread sending GET ``url``/api every ``pause`` seconds until ``stop`` is set (bounded by
    ``max_requests``): the users whose requests the app's metrics count."""

    def run() -> None:
        with requests.Session() as session:
            for _ in range(max_requests):
                if stop.is_set():
                    return
                try:
                    session.get(f"{url}/api", timeout=5).close()
                except requests.RequestException:
                    session.close()
                stop.wait(pause)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@dataclass
class Faults:
    status: int | None = None
    """Answer every request with this status."""
    error_every: int = 0
    """Every Nth request answers 500 (0: never)."""
    latency: float = 0.0
    """Seconds added before answering."""
    drop: bool = False
    """Close the connection without answering."""
    paths: tuple[str, ...] = ()
    """Only requests to these path prefixes get the faults (empty: every path but /metrics)."""

    def apply_to(self, path: str) -> bool:
        return not self.paths or path.startswith(self.paths)


@dataclass
class _Metrics:
    codes: dict[str, int] = field(default_factory=dict)
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    total: float = 0.0
    count: int = 0
    requests: int = 0


class FaultyApp:
    def __init__(self) -> None:
        self.faults = Faults()
        self._metrics = _Metrics()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._traffic: threading.Thread | None = None
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/metrics":
                    self._answer(200, app.exposition(), "text/plain; version=0.0.4")
                    return
                started = time.perf_counter()
                faults = app.faults if app.faults.apply_to(self.path) else Faults()
                with app._lock:
                    app._metrics.requests += 1
                    number = app._metrics.requests
                if faults.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if faults.latency:
                    time.sleep(faults.latency)
                code = faults.status or (
                    500 if faults.error_every and number % faults.error_every == 0 else 200
                )
                app.observe(code, time.perf_counter() - started)
                self._answer(
                    code, b'{"status":"ok"}\n' if code < 400 else b'{"status":"error"}\n', "application/json"
                )

            def _answer(self, code: int, body: bytes, content_type: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server, self._thread = serve(Handler)
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def observe(self, code: int, seconds: float) -> None:
        with self._lock:
            m = self._metrics
            m.codes[str(code)] = m.codes.get(str(code), 0) + 1
            for index, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    m.buckets[index] += 1
            m.total += seconds
            m.count += 1

    def exposition(self) -> bytes:
        with self._lock:
            m = self._metrics
            lines = ["# TYPE http_requests_total counter"]
            lines += [f'http_requests_total{{code="{code}"}} {n}' for code, n in sorted(m.codes.items())]
            lines.append("# TYPE http_request_duration_seconds histogram")
            lines += [
                f'http_request_duration_seconds_bucket{{le="{bound}"}} {n}'
                for bound, n in zip(BUCKETS, m.buckets, strict=True)
            ]
            lines.append(f'http_request_duration_seconds_bucket{{le="+Inf"}} {m.count}')
            lines.append(f"http_request_duration_seconds_sum {m.total}")
            lines.append(f"http_request_duration_seconds_count {m.count}")
        lines.append("# TYPE process_cpu_seconds_total counter")
        lines.append(f"process_cpu_seconds_total {time.process_time()}")
        return ("\n".join(lines) + "\n").encode()

    def start_traffic(self, pause: float = 0.05, max_requests: int = 100_000) -> None:
        """Send requests to /api until stop() (bounded by ``max_requests``)."""
        self._traffic = start_users(self.url, self._stop, pause, max_requests)

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        if self._traffic is not None:
            self._traffic.join(timeout=10)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ScriptedServer:
    """Answers with ``respond(request) -> (status, body)``; records every request."""

    def __init__(self, respond: Callable[[Received], tuple[int, bytes]]) -> None:
        self.respond = respond
        self.received: list[Received] = []
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Received(
                    self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
                )
                server_self.received.append(request)
                status, body = server_self.respond(request)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = _handle
            do_POST = _handle

        self._server, self._thread = serve(Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def prometheus_answer(value: str | None, result_type: str = "vector") -> bytes:
    """A /api/v1/query success body with one sample ``value`` (None: empty result)."""
    if result_type == "scalar":
        result: Any = [time.time(), value]
    else:
        result = [] if value is None else [{"metric": {}, "value": [time.time(), value]}]
    return json.dumps({"status": "success", "data": {"resultType": result_type, "result": result}}).encode()
