"""Probe overhead (issue 8): one evaluation over N HTTP targets on 127.0.0.1 that each answer in
100 ms, through the gate's real concurrent path (gates.probes.probe_all), against probing them one
after another (gates.probes.probe_once in a loop).

    python -m bench.probe_overhead [--targets 200]

The targets are N distinct URLs on one threaded loopback server (one thread per connection, a
listen backlog large enough for all of them) in its own process, so that the server neither is
the bottleneck nor competes with the gate for the interpreter lock.
"""

from __future__ import annotations

import argparse
import multiprocessing
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gates.probes import probe_all, probe_once
from gates.spec import ProbeSpec

DELAY = 0.1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024


class _Slow(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        time.sleep(DELAY)
        body = b'{"status":"ok"}\n'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _serve(port: multiprocessing.SimpleQueue[int], stop: Any) -> None:
    server = _Server(("127.0.0.1", 0), _Slow)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    port.put(int(server.server_address[1]))
    stop.wait(600)  # bounded: the parent sets it when done
    server.shutdown()
    server.server_close()


@contextmanager
def slow_server() -> Iterator[str]:
    """A loopback server (own process) answering every GET after DELAY seconds; yields its URL."""
    context = multiprocessing.get_context("spawn")
    port: multiprocessing.SimpleQueue[int] = context.SimpleQueue()
    stop = context.Event()
    process = context.Process(target=_serve, args=(port, stop), daemon=True)
    process.start()
    try:
        yield f"http://127.0.0.1:{port.get()}"
    finally:
        stop.set()
        process.join(timeout=10)
        if process.is_alive():
            process.terminate()
            process.join(timeout=5)


def measure(targets: int = 200) -> dict[str, Any]:
    """Seconds for one concurrent evaluation and for serial probing of ``targets`` targets."""
    with slow_server() as base:
        probes = [ProbeSpec(url=f"{base}/target/{i}", timeout=5.0) for i in range(targets)]
        probe_all(probes[:4])  # warm up (imports, first connections)
        started = time.perf_counter()
        concurrent = probe_all(probes)
        concurrent_s = time.perf_counter() - started
        started = time.perf_counter()
        serial = [probe_once(p) for p in probes]
        serial_s = time.perf_counter() - started
    passed = sum(r.status == "pass" for r in concurrent) + sum(r.status == "pass" for r in serial)
    return {
        "targets": targets,
        "delay_s": DELAY,
        "concurrent_s": round(concurrent_s, 3),
        "serial_s": round(serial_s, 3),
        "ratio": round(serial_s / concurrent_s, 1),
        "all_passed": passed == 2 * targets,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="probe overhead: concurrent vs serial")
    parser.add_argument("--targets", type=int, default=200)
    args = parser.parse_args(argv)
    print(measure(max(1, min(args.targets, 1000))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
