"""A probe that gets no answer says why, in words a user can act on: DNS failure, connection
refused, reset, TLS error and timeout, each against a real loopback target that fails that way.
The words are checked where users read them: the probe's detail, the evaluation's reason in the
progress line, the verdict, the report's table (where a failed connection has no response time)
and its JSON; and for Prometheus, the check's detail.

No traffic leaves 127.0.0.1: names resolve through ``LoopbackResolver`` (a name under ``.invalid``
fails as a resolver answers it; any other name fails the test)."""

from __future__ import annotations

import io
import json
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from gates.probes import probe_all
from gates.prometheus import PrometheusClient
from gates.spec import parse_spec
from rollout.cli import main
from tests.gates.servers import ClosingServer, LoopbackResolver, TlsServer, self_signed_certificate
from tests.support.app import FaultyApp, free_port

TIMEOUT = 0.5
DETAILS = {
    "refused": "connection refused",
    "reset": "connection reset by the server",
    "closed": "connection closed by the server without an answer",
    "tls": "TLS certificate rejected: self-signed certificate",
    "timeout": f"timed out after {TIMEOUT:g} s waiting for an answer",
    "dns": "DNS lookup failed: name or service not known",
}
KINDS = {
    "refused": "refused",
    "reset": "reset",
    "closed": "reset",
    "tls": "tls",
    "timeout": "timeout",
    "dns": "dns",
}


@pytest.fixture(autouse=True)
def resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackResolver]:
    guard = LoopbackResolver(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", guard)
    # A proxy from the environment would carry the requests off the machine (and change the errors).
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    yield guard
    assert guard.refused == [], f"looked up names off the machine: {guard.refused}"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    try:
        return self_signed_certificate(tmp_path_factory.mktemp("tls"))
    except FileNotFoundError as missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(str(missing))
        pytest.skip(str(missing))


@dataclass
class Target:
    url: str
    """Where a probe of this kind goes (path /health)."""
    stop: Callable[[], None]


@pytest.fixture
def target(request: pytest.FixtureRequest, certificate: tuple[Path, Path]) -> Iterator[Target]:
    """A loopback target failing the way ``request.param`` names."""
    kind: str = request.param
    if kind == "refused":
        yield Target(f"http://127.0.0.1:{free_port()}", lambda: None)
        return
    if kind == "dns":
        yield Target("http://gate-probe.invalid", lambda: None)
        return
    server: Any
    if kind in ("reset", "closed"):
        server = ClosingServer(reset=kind == "reset")
    elif kind == "tls":
        server = TlsServer(*certificate)
    else:
        server = FaultyApp()
        server.faults.latency = TIMEOUT + 1.0
    yield Target(server.url, server.stop)
    server.stop()


ALL = pytest.mark.parametrize("target", list(DETAILS), indirect=True, ids=list(DETAILS))


@ALL
def test_each_failure_has_its_own_words_and_no_response_time(
    target: Target, request: pytest.FixtureRequest
) -> None:
    kind = request.node.callspec.id
    url = f"{target.url}/health"
    result = probe_all(parse_spec({"probes": [{"url": url, "timeout": TIMEOUT}]}).probes)[0]
    assert (result.status, result.detail, result.error) == ("fail", DETAILS[kind], KINDS[kind])
    assert (result.http_status, result.response_time) == (None, None)


def test_the_words_tell_the_kinds_apart() -> None:
    # Distinct words per cause (the two closes are both resets, told apart by how they close).
    assert len(set(DETAILS.values())) == len(DETAILS)


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_the_tls_server_itself_works(certificate: tuple[Path, Path]) -> None:
    # So the TLS failure above is the certificate, not a broken server: without verification
    # (never the default) the same server answers.
    server = TlsServer(*certificate)
    try:
        spec = parse_spec({"probes": [{"url": f"{server.url}/health", "timeout": 2, "verify_tls": False}]})
        assert probe_all(spec.probes)[0].status == "pass"
    finally:
        server.stop()


def run_gate_cli(tmp_path: Path, url: str) -> tuple[int, str, str, Path]:
    spec = {
        "name": "kinds",
        "mode": "threshold",
        "interval": 1,
        "duration": 1,
        "failure_limit": 1,
        "probes": [{"url": url, "timeout": TIMEOUT}],
    }
    path = tmp_path / "gate.yaml"
    path.write_text(yaml.safe_dump(spec))
    report = tmp_path / "report.json"
    out, err = io.StringIO(), io.StringIO()
    code = main(["gate", "--spec", str(path), "--report", str(report)], out=out, err=err)
    return code, out.getvalue(), err.getvalue(), report


@ALL
def test_rollout_gate_names_the_failure_in_progress_verdict_and_report(
    target: Target, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    kind = request.node.callspec.id
    url = f"{target.url}/health"
    code, out, err, report = run_gate_cli(tmp_path, url)
    reason = f"probe {url}: {DETAILS[kind]}"
    assert code == 1, err
    # The progress line (plain: this is not a terminal), the verdict and the report's table.
    assert f"[1/2 +0.0s] fail         {reason}  (failed 1/1, inconclusive 0/3)\n" in err
    assert out == f"fail: {reason}; 1 consecutive failed evaluations (failure_limit 1)\n"
    markdown = report.with_suffix(".md").read_text()
    assert f"| probe {url} | - | max {TIMEOUT:g} s | fail | {DETAILS[kind]} |" in markdown
    probe = json.loads(report.read_text())["evaluations"][0]["probes"][0]
    assert (probe["error"], probe["response_time"], probe["http_status"], probe["detail"]) == (
        KINDS[kind],
        None,
        None,
        DETAILS[kind],
    )


@pytest.mark.parametrize("target", ["refused", "reset", "tls", "dns"], indirect=True, ids=str)
def test_prometheus_unreachable_says_why(target: Target, request: pytest.FixtureRequest) -> None:
    kind = request.node.callspec.id
    result = PrometheusClient(target.url, timeout=TIMEOUT).query("up")
    assert (result.outcome, result.detail) == (
        "error",
        f"Prometheus unreachable at {target.url}: {DETAILS[kind]}",
    )
