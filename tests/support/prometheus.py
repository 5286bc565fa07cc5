"""A real Prometheus server (Debian package ``prometheus``) on 127.0.0.1 that scrapes test apps
every second. Apps are added at runtime through file-based service discovery, one job each, so
tests never see each other's metrics."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import requests

from tests.support.app import free_port

BINARY = "prometheus"


class Prometheus:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.targets = workdir / "targets"
        self.targets.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = workdir / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: apps\n    file_sd_configs:\n"
            f"      - files: ['{self.targets}/*.json']\n        refresh_interval: 1s\n"
        )
        self.log = (workdir / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                shutil.which(BINARY) or BINARY,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"prometheus exited: {(self.workdir / 'prometheus.log').read_text()[-2000:]}"
                )
            try:
                if requests.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("prometheus did not become ready in 30 s")

    def query(self, promql: str) -> list[dict[str, object]]:
        response = requests.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        response.raise_for_status()
        result: list[dict[str, object]] = response.json()["data"]["result"]
        return result

    def scrape(
        self, job: str, port: int, samples: int = 3, timeout: float = 20, labels: dict[str, str] | None = None
    ) -> None:
        """Start scraping 127.0.0.1:port as ``job`` (its series also get ``labels``, e.g. the
        namespace, app and version a PodMonitor would attach); return once ``samples`` scrapes
        are stored."""
        path = self.targets / f"{job}.json"
        tmp = path.with_suffix(".tmp")
        target = {"targets": [f"127.0.0.1:{port}"], "labels": {**(labels or {}), "job": job}}
        tmp.write_text(json.dumps([target]))
        os.replace(tmp, path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.query(f'count_over_time(up{{job="{job}"}}[1m])')
            if result and float(str(result[0]["value"][1])) >= samples:  # type: ignore[index]
                return
            time.sleep(0.25)
        raise RuntimeError(f"prometheus did not scrape {job} {samples} times in {timeout} s")

    def forget(self, job: str) -> None:
        (self.targets / f"{job}.json").unlink(missing_ok=True)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()
