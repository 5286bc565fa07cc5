"""Fixtures shared by the gate and HealthGate tests (imported by their conftest.py files)."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.app import FaultyApp, Received, ScriptedServer
from tests.support.prometheus import BINARY, Prometheus

_jobs = itertools.count(1)


@pytest.fixture
def app() -> Iterator[FaultyApp]:
    """A fresh test app on a random loopback port."""
    server = FaultyApp()
    yield server
    server.stop()


@pytest.fixture
def scripted() -> Iterator[Callable[[Callable[[Received], tuple[int, bytes]]], ScriptedServer]]:
    """Start ScriptedServers (fake Prometheus, webhook receiver); all stopped afterwards."""
    servers: list[ScriptedServer] = []

    def start(respond: Callable[[Received], tuple[int, bytes]]) -> ScriptedServer:
        servers.append(ScriptedServer(respond))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """A real Prometheus scraping every second; missing binary: fail in CI, skip elsewhere."""
    if shutil.which(BINARY) is None:
        message = "the `prometheus` binary is not installed (Debian package `prometheus`)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    server = Prometheus(tmp_path_factory.mktemp("prometheus"))
    yield server
    server.stop()


@pytest.fixture
def monitored_app(app: FaultyApp, prometheus: Prometheus) -> Iterator[tuple[FaultyApp, str]]:
    """The test app with steady traffic, scraped by Prometheus under its own job name."""
    job = f"app-{os.getpid()}-{next(_jobs)}"
    app.start_traffic()
    prometheus.scrape(job, app.port)
    yield app, job
    prometheus.forget(job)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
