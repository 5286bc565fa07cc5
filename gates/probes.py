"""HTTP probes: every target concurrently, each with its own headers, timeout and response-time
limit; a probe passes on a 2xx answer within its limit. A target that is down, slow or erroring
fails (it is the thing under test), it is never inconclusive."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import requests

from credentials import redact
from gates.failures import describe
from gates.results import Failure, ProbeResult, Status, fmt
from gates.spec import ProbeSpec

MAX_WORKERS = 64
"""Probes in flight at once. 16 took 1.5 s for 200 targets answering in 100 ms (13 rounds); with
64 it is 4 rounds and the rest is requests' own CPU cost (~3 ms a call): 0.8 s (bench/README.md)."""
USER_AGENT = "flutter-app-health-gate/1"


def probe_once(probe: ProbeSpec, session: requests.Session | None = None) -> ProbeResult:
    """GET ``probe.url`` once and judge the answer."""
    url = redact(probe.url)
    limit = probe.response_limit
    get = session.get if session is not None else requests.get
    try:
        response = get(
            probe.url,
            headers={"User-Agent": USER_AGENT, **probe.headers},
            timeout=(probe.timeout, probe.timeout),
            verify=probe.verify_tls,
            allow_redirects=False,
        )
        response.close()
    except requests.RequestException as error:
        # No answer, so no response time: the time until the failure (e.g. the timeout) would
        # read as one in the report and in "closest to its limit".
        failed = describe(error, probe.timeout)
        return ProbeResult(url, Status.FAIL, limit, None, None, failed.detail, failed.failure)
    # `elapsed` is time to the response headers; the body is not needed for a health check.
    elapsed = response.elapsed.total_seconds()
    code = response.status_code
    if not 200 <= code < 300:
        return ProbeResult(url, Status.FAIL, limit, code, elapsed, f"HTTP {code} (expected 2xx)")
    if elapsed > limit:
        return ProbeResult(
            url, Status.FAIL, limit, code, elapsed, f"response time {fmt(elapsed)} s > max {fmt(limit)} s"
        )
    return ProbeResult(url, Status.PASS, limit, code, elapsed, f"HTTP {code} in {fmt(elapsed)} s")


def probe_all(probes: Sequence[ProbeSpec]) -> list[ProbeResult]:
    """Probe every target concurrently; results in the order of ``probes``."""
    if not probes:
        return []
    pool = ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(probes)), thread_name_prefix="probe")
    try:
        futures = [pool.submit(probe_once, probe) for probe in probes]
        results: list[ProbeResult] = []
        for probe, future in zip(probes, futures, strict=True):
            # requests' timeout bounds connect and each read; this bounds the whole call.
            try:
                results.append(future.result(timeout=2 * probe.timeout + 1))
            except FutureTimeout:
                results.append(
                    ProbeResult(
                        redact(probe.url),
                        Status.FAIL,
                        probe.response_limit,
                        None,
                        None,
                        f"timed out after {fmt(probe.timeout)} s (the call did not return)",
                        Failure.TIMEOUT,
                    )
                )
        return results
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
