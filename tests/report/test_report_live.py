"""`rollout report` against a real Prometheus scraping a scripted cluster (tests.support.kube_metrics):
pods serving set request rates, status codes and latencies, cAdvisor and kube-state-metrics series
with set values. Each figure of the report is compared with what was served.

One scenario for the module (Prometheus needs ~12 s of scrapes for a 10 s window):

* web (rolling): 4 pods, one down (75 % healthy); each up pod 9 req/s 200 + 1 req/s 500 (10 %
  errors), average 2.2 s; cAdvisor CPU 90 % / 84 % / 40 % of the 500m limit.
* api (blue/green, green live): 2 pods, 5 req/s each, no errors; process metrics only (no
  cAdvisor), so disk is missing.
* shop (canary at 25 %): 2 stable pods + 1 canary pod, 4 req/s each; the canary pod has an Istio
  sidecar whose CPU must not count.
* ghost (rolling): no series at all: every figure missing.
* noise: a namespace "other-<n>" with the same Deployment and pod names, never counted.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gates.prometheus import PrometheusClient
from rollout.cli import main
from rollout.monitoring.collect import collect
from rollout.monitoring.config import load_report_config
from rollout.monitoring.model import AppReport, Measure, StackReport
from tests.report.stack import STACK, write_project
from tests.support.app import Received, ScriptedServer
from tests.support.kube_metrics import Container, DeploymentState, KubeMetrics, PodTraffic
from tests.support.prometheus import Prometheus

pytestmark = pytest.mark.prometheus

WINDOW = "10s"
MiB = 1024 * 1024
WEB_PODS = ("web-7d4b9c8f6d-a1b2c", "web-7d4b9c8f6d-d3e4f", "web-7d4b9c8f6d-g5h6k", "web-7d4b9c8f6d-j7m8n")
WEB_LATENCY = {0.5: 0.2, 1.0: 0.4, 2.5: 0.8, 5.0: 0.98, 10.0: 1.0}
API_PODS = ("api-green-5f6c7d8e9f-aaaaa", "api-green-5f6c7d8e9f-bbbbb")
SHOP_STABLE = ("shop-stable-6b7c8d9e0f-ccccc", "shop-stable-6b7c8d9e0f-ddddd")
SHOP_CANARY = "shop-canary-7c8d9e0f1a-eeeee"


@dataclass
class Scenario:
    project: Path
    prometheus: Prometheus
    namespace: str
    report: StackReport

    def app(self, name: str) -> AppReport:
        return next(a for a in self.report.apps if a.name == name)


def _cluster(namespace: str) -> KubeMetrics:
    cluster = KubeMetrics()
    for index, pod in enumerate(WEB_PODS):
        cluster.pods[pod] = PodTraffic(
            "web", rps={"200": 9.0, "500": 1.0}, latency=WEB_LATENCY, avg_latency=2.2, down=index == 3
        )
    for pod, cpu in zip(WEB_PODS[:3], (0.45, 0.42, 0.2), strict=True):
        cluster.containers.append(Container(namespace, pod, "web", cpu, 300 * MiB, 10 * MiB))
    for pod in API_PODS:
        cluster.pods[pod] = PodTraffic(
            "api",
            "green",
            rps={"200": 5.0},
            latency={0.025: 0.5, 0.05: 1.0},
            avg_latency=0.03,
            process_cpu=0.1,
            process_memory=100 * MiB,
        )
    for pod, version in ((SHOP_STABLE[0], "stable"), (SHOP_STABLE[1], "stable"), (SHOP_CANARY, "canary")):
        cluster.pods[pod] = PodTraffic(
            "shop", version, rps={"200": 4.0}, latency={0.05: 0.5, 0.1: 1.0}, avg_latency=0.06
        )
        cluster.containers.append(
            Container(namespace, pod, "shop", 0.1 if version == "stable" else 0.2, 200 * MiB, 0)
        )
    cluster.containers.append(Container(namespace, SHOP_CANARY, "istio-proxy", 0.3, 50 * MiB, 0))
    cluster.deployments += [
        DeploymentState(namespace, "web", 4, 3, 3),
        DeploymentState(namespace, "api-blue", 2, 2, 2),
        DeploymentState(namespace, "api-green", 2, 2, 1),
        DeploymentState(namespace, "shop-stable", 2, 2, 2),
        DeploymentState(namespace, "shop-canary", 1, 1, 0),
    ]
    other = f"other-{namespace}"
    cluster.containers.append(Container(other, WEB_PODS[0], "web", 0.49, 500 * MiB, 1))
    cluster.deployments.append(DeploymentState(other, "web", 99, 99, 99))
    return cluster


def _wait_for_samples(
    prometheus: Prometheus, namespace: str, job: str, samples: int, timeout: float = 40
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = prometheus.query(f'min(count_over_time(up{{namespace="{namespace}"}}[1m]))')
        kube = prometheus.query(f'count_over_time(up{{job="{job}-kube"}}[1m])')
        if pods and kube and min(float(str(r["value"][1])) for r in (*pods, *kube)) >= samples:  # type: ignore[index]
            return
        time.sleep(0.5)
    raise RuntimeError(f"prometheus did not store {samples} scrapes of {namespace} in {timeout} s")


@pytest.fixture(scope="module")
def scenario(prometheus: Prometheus, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    namespace = f"report-{os.getpid()}"
    job = f"report-{os.getpid()}"
    cluster = _cluster(namespace)
    target_file = prometheus.targets / f"{job}.json"
    tmp = target_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(cluster.targets(job, namespace)))
    os.replace(tmp, target_file)
    try:
        project = write_project(
            tmp_path_factory.mktemp("report-project"), namespace=namespace, prometheusUrl=prometheus.url
        )
        _wait_for_samples(prometheus, namespace, job, samples=13)
        config = load_report_config(project, STACK)
        report = collect(PrometheusClient(prometheus.url, timeout=5), config, window=WINDOW)
        yield Scenario(project, prometheus, namespace, report)
    finally:
        target_file.unlink(missing_ok=True)
        cluster.stop()


def close(measure: Measure, expected: float, tolerance: float = 0.03) -> bool:
    return measure.value is not None and abs(measure.value - expected) <= tolerance * abs(expected)


def test_health_counts_up_instances(scenario: Scenario) -> None:
    web = scenario.app("web").health
    assert (web.healthy.value, web.total.value, web.percent.value) == (3.0, 4.0, 75.0)
    api = scenario.app("api").health
    assert (api.healthy.value, api.total.value, api.percent.value) == (2.0, 2.0, 100.0)
    assert scenario.app("shop").health.total.value == 3.0


def test_performance_matches_what_was_served(scenario: Scenario) -> None:
    web = scenario.app("web").performance
    assert close(web.throughput, 30.0)  # 3 up pods x (9 + 1) req/s
    assert close(web.error_rate, 10.0)
    assert close(web.avg, 2.2)
    # histogram_quantile's linear interpolation within the buckets set in WEB_LATENCY:
    assert close(web.p50, 1.0 + 1.5 * (0.5 - 0.4) / (0.8 - 0.4))  # 1.375 s
    assert close(web.p95, 2.5 + 2.5 * (0.95 - 0.8) / (0.98 - 0.8))  # 4.583 s
    assert close(web.p99, 5.0 + 5.0 * (0.99 - 0.98) / (1.0 - 0.98))  # 7.5 s
    api = scenario.app("api").performance
    assert close(api.throughput, 10.0)
    assert api.error_rate == Measure(0.0)  # traffic without any 5xx: a real zero
    assert close(api.avg, 0.03)
    assert close(api.p50, 0.025)
    assert close(scenario.app("shop").performance.throughput, 12.0)


def test_resources_per_pod_from_cadvisor_without_sidecars_or_other_namespaces(scenario: Scenario) -> None:
    web = scenario.app("web").resources
    assert web.source.startswith("cAdvisor")
    assert [p.pod for p in web.pods] == list(WEB_PODS[:3])
    first = web.pods[0]
    assert close(first.cpu_cores, 0.45) and close(first.cpu_percent, 90.0)
    assert close(first.memory_bytes, 300 * MiB) and close(first.memory_percent, 300 / 512 * 100)
    assert close(first.disk_bytes, 10 * MiB)
    shop = {p.pod: p for p in scenario.app("shop").resources.pods}
    assert set(shop) == {*SHOP_STABLE, SHOP_CANARY}
    assert close(shop[SHOP_CANARY].cpu_cores, 0.2)  # the istio-proxy's 0.3 cores are not the app's
    assert close(shop[SHOP_CANARY].memory_bytes, 200 * MiB)


def test_resources_fall_back_to_process_metrics(scenario: Scenario) -> None:
    api = scenario.app("api").resources
    assert api.source.startswith("process metrics")
    assert [p.pod for p in api.pods] == list(API_PODS)
    assert close(api.pods[0].cpu_cores, 0.1) and close(api.pods[0].cpu_percent, 20.0)
    assert close(api.pods[0].memory_bytes, 100 * MiB)
    assert api.pods[0].disk_bytes == Measure(None, "no data")


def test_deployment_status_per_deployment_with_release_state(scenario: Scenario) -> None:
    def rows(app: str) -> list[tuple[object, ...]]:
        return [
            (d.name, d.role, d.configured, d.desired.value, d.available.value, d.ready.value)
            for d in scenario.app(app).deployments
        ]

    assert rows("web") == [("web", "", 4, 4.0, 3.0, 3.0)]
    assert rows("api") == [
        ("api-blue", "blue: idle", 2, 2.0, 2.0, 2.0),
        ("api-green", "green: live", 2, 2.0, 2.0, 1.0),
    ]
    assert rows("shop") == [
        ("shop-stable", "stable: 75 % of traffic", 2, 2.0, 2.0, 2.0),
        ("shop-canary", "canary: 25 % of traffic", 1, 1.0, 1.0, 0.0),
    ]
    assert "active colour green" in scenario.app("api").release
    assert "weight 25 %" in scenario.app("shop").release


def test_missing_series_are_missing_never_zero(scenario: Scenario) -> None:
    ghost = scenario.app("ghost")
    measures = [
        ghost.health.healthy,
        ghost.health.total,
        ghost.health.percent,
        *(getattr(ghost.performance, f) for f in ("avg", "p50", "p95", "p99", "error_rate", "throughput")),
        *(m for d in ghost.deployments for m in (d.desired, d.available, d.ready)),
    ]
    assert all(m == Measure(None, "no data") for m in measures), measures
    assert ghost.resources.pods == () and ghost.resources.missing == "no data"
    panels = [p for charts in scenario.report.charts.values() for p in charts if p.app == "ghost"]
    assert len(panels) == 3 and all(p.lines == () and p.missing == "no data" for p in panels)
    assert not any(a.app == "ghost" for a in scenario.report.alerts)


def test_guide_alerts_fire_live(scenario: Scenario) -> None:
    fired = [(a.severity.value, a.app, a.rule, a.subject) for a in scenario.report.alerts]
    assert fired == [
        ("critical", "web", "errorRatePercent", "web"),
        ("critical", "web", "healthyInstancesPercent", "web"),
        ("warning", "web", "avgResponseSeconds", "web"),
        ("warning", "web", "cpuPercent", WEB_PODS[0]),
        ("warning", "web", "cpuPercent", WEB_PODS[1]),
    ]


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


PNG = b"\x89PNG\r\n\x1a\n"


def _decodes_as_png(data: bytes) -> None:
    from matplotlib import image

    assert data.startswith(PNG)
    pixels = image.imread(io.BytesIO(data), format="png")
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100


def test_markdown_report_with_charts_next_to_it(scenario: Scenario, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "prod.md"
    code, stdout, stderr = run(
        ["--cwd", str(scenario.project), "report", "--stack", STACK, "--window", WINDOW, "--out", str(out)]
    )
    assert code == 0, stderr
    assert stdout == ""
    text = out.read_text()
    for name in ("latency", "error-rate", "throughput"):
        image = out.with_name(f"prod-{name}.png")
        assert f"]({image.name})" in text
        _decodes_as_png(image.read_bytes())
    assert "## App `web` (rolling)" in text and "| critical | web | web | error rate |" in text
    ghost = text[text.index("## App `ghost`") : text.index("## Charts")]
    assert "_no data_" in ghost and "| 0 |" not in ghost.replace("| 2 |", "")
    assert "report reporttest: 2 critical, 3 warning alert(s)" in stderr


def test_html_report_embeds_the_charts(scenario: Scenario, tmp_path: Path) -> None:
    import base64
    import re

    out = tmp_path / "report.html"
    code, _, stderr = run(
        ["--cwd", str(scenario.project), "report", "--stack", STACK, "--window", WINDOW, "--out", str(out)]
    )
    assert code == 0, stderr
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 3
    for data in images:
        _decodes_as_png(base64.b64decode(data))
    assert not list(tmp_path.glob("*.png"))  # everything is in the page
    assert '<tr class="critical">' in page


def test_alerts_are_notified_with_repeats_collapsed(
    scenario: Scenario,
    scripted: Callable[[Callable[[Received], tuple[int, bytes]]], ScriptedServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver = scripted(lambda _request: (200, b"{}"))
    secret_url = f"{receiver.url}/hooks/T0KEN-SECRET"
    monkeypatch.setenv("ROLLOUT_REPORT_WEBHOOK_URL", secret_url)
    code, stdout, stderr = run(
        [
            "--cwd",
            str(scenario.project),
            "report",
            "--stack",
            STACK,
            "--window",
            WINDOW,
            "--fail-on",
            "critical",
        ]
    )
    assert code == 1  # --fail-on critical, and two critical alerts fired
    events = [r.json() for r in receiver.received]
    assert [(e["event"], e["severity"], e["cause"]) for e in events] == [
        ("alert", "critical", "web errorRatePercent"),
        ("alert", "critical", "web healthyInstancesPercent"),
        ("alert", "warning", "web avgResponseSeconds"),
        ("alert", "warning", "web cpuPercent"),
        ("summary", None, "summary"),
    ]
    assert events[-1]["collapsed"] == 1  # the second pod over its CPU limit
    assert events[-1]["message"] == "2 critical, 3 warning alert(s)"
    assert "notify: 5 sent, 1 collapsed, 0 failed" in stderr
    assert "T0KEN-SECRET" not in stdout + stderr
