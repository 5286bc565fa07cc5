"""Synthetic load: while a gate runs, GET requests at a bounded rate to the gate's own probe
targets, with their headers (the canary header reaches the canary), so that a quiet service still
produces evidence for the sequential tests. Flagger's load tester does the same for its analyses.

Bounded every way: the rate (``load.rate``, at most 50/s), the requests in flight
(``load.concurrency``; a tick with all of them busy is skipped, never queued), each request's
timeout (the probe's), and the total (``max_requests``: the rate times the longest the gate can
run). Started when the gate starts and stopped when it ends (``stop()`` waits for the requests in
flight, each bounded by its timeout). Only to the targets the spec names; answers are counted,
never judged: the gate's checks judge the service through its metrics.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import requests

from gates.probes import USER_AGENT
from gates.spec import LoadSpec, ProbeSpec


@dataclass
class LoadStats:
    """What the load generator did (for the report)."""

    rate: float
    targets: int
    sent: int = 0
    answered: dict[str, int] = field(default_factory=dict)
    """Answers by status class (``2xx``, ``4xx``, ``5xx``, ...)."""
    failed: int = 0
    """Requests that got no answer (timeout, connection refused or dropped)."""
    skipped: int = 0
    """Ticks skipped because every allowed request was still in flight."""


class Load(Protocol):
    def stop(self) -> LoadStats: ...


def load_targets(load: LoadSpec, probes: Sequence[ProbeSpec]) -> list[ProbeSpec]:
    """The probes with the load's ``path`` in place of theirs (same scheme, host and headers)."""
    if load.path is None:
        return list(probes)
    targets = []
    for probe in probes:
        parts, wanted = urlsplit(probe.url), urlsplit(load.path)
        url = urlunsplit((parts.scheme, parts.netloc, wanted.path, wanted.query, ""))
        targets.append(probe.model_copy(update={"url": url}))
    return targets


class LoadGenerator:
    """Sends ``load.rate`` requests per second, round-robin over ``targets``, until ``stop()``."""

    def __init__(
        self,
        load: LoadSpec,
        targets: Sequence[ProbeSpec],
        max_requests: int,
        get: Callable[..., requests.Response] = requests.get,
    ) -> None:
        self._load, self._targets, self._max = load, list(targets), max(0, max_requests)
        self._get = get
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._in_flight = 0
        self.stats = LoadStats(load.rate, len(self._targets))
        self._pool = ThreadPoolExecutor(max_workers=load.concurrency, thread_name_prefix="gate-load")
        self._thread = threading.Thread(target=self._run, name="gate-load", daemon=True)
        self._thread.start()

    def _send(self, target: ProbeSpec) -> None:
        try:
            response = self._get(
                target.url,
                headers={"User-Agent": USER_AGENT, **target.headers},
                timeout=(target.timeout, target.timeout),
                verify=target.verify_tls,
                allow_redirects=False,
            )
            response.close()
            kind = f"{response.status_code // 100}xx"
            with self._lock:
                self.stats.answered[kind] = self.stats.answered.get(kind, 0) + 1
        except Exception:  # no answer (timeout, refused, dropped, ...): counted, never raised
            with self._lock:
                self.stats.failed += 1
        finally:
            with self._lock:
                self._in_flight -= 1

    def _run(self) -> None:
        period = 1.0 / self._load.rate
        start = time.monotonic()
        for tick in range(self._max):
            # Ticks on a fixed schedule: a slow answer never makes the rate drift up afterwards.
            if self._stop.wait(max(0.0, start + tick * period - time.monotonic())):
                return
            with self._lock:
                busy = self._in_flight >= self._load.concurrency
                if not busy:
                    self._in_flight += 1
                    self.stats.sent += 1
                else:
                    self.stats.skipped += 1
            if not busy:
                self._pool.submit(self._send, self._targets[tick % len(self._targets)])

    def stop(self) -> LoadStats:
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            return LoadStats(
                self.stats.rate,
                self.stats.targets,
                self.stats.sent,
                dict(self.stats.answered),
                self.stats.failed,
                self.stats.skipped,
            )


def start_load(load: LoadSpec, probes: Sequence[ProbeSpec], max_seconds: float) -> Load:
    """Start the real load generator for a gate that runs at most ``max_seconds``."""
    return LoadGenerator(load, load_targets(load, probes), max_requests=int(load.rate * max_seconds) + 1)
