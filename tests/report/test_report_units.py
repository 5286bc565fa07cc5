"""Pure parts of `rollout report` (alert thresholds and their boundaries, config, rendering,
notification collapsing) and the command's failures: bad arguments and config (exit 2), an
unreachable Prometheus (exit 1), and a scripted Prometheus that knows no series (all missing)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from components.report_thresholds import DEFAULT_THRESHOLDS, Severity, ThresholdsError, parse_thresholds
from rollout.cli import main
from rollout.monitoring.alerts import breached
from rollout.monitoring.notify import notify
from rollout.monitoring.queries import chart_rate_window, chart_step, pod_pattern, window_seconds
from tests.report.stack import STACK, write_project
from tests.support.app import Received, ScriptedServer, free_port

Start = Callable[[Callable[[Received], tuple[int, bytes]]], ScriptedServer]


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


# Alert boundaries: a value at a limit does not fire; just past it does.


@pytest.mark.parametrize(
    ("rule", "at", "past", "severity"),
    [
        ("healthyInstancesPercent", 90.0, 89.99, Severity.CRITICAL),
        ("avgResponseSeconds", 2.0, 2.001, Severity.WARNING),
        ("errorRatePercent", 5.0, 5.001, Severity.CRITICAL),
        ("cpuPercent", 80.0, 80.01, Severity.WARNING),
    ],
)
def test_guide_defaults_fire_just_past_their_threshold(
    rule: str, at: float, past: float, severity: Severity
) -> None:
    thresholds = DEFAULT_THRESHOLDS[rule]
    assert breached(thresholds, at) is None
    assert breached(thresholds, past) == (severity, at)
    assert breached(thresholds, None) is None  # missing data never fires


def test_two_levels_pick_the_most_severe_breached() -> None:
    rules = parse_thresholds(
        {
            "errorRatePercent": {"warning": 2, "critical": 5},
            "healthyInstancesPercent": {"warning": 95, "critical": 80},
        }
    )
    error_rate, healthy = rules["errorRatePercent"], rules["healthyInstancesPercent"]
    assert [breached(error_rate, v) for v in (2.0, 2.01, 5.0, 5.01)] == [
        None,
        (Severity.WARNING, 2.0),
        (Severity.WARNING, 2.0),
        (Severity.CRITICAL, 5.0),
    ]
    assert [breached(healthy, v) for v in (95.0, 94.9, 80.0, 79.9)] == [
        None,
        (Severity.WARNING, 95.0),
        (Severity.WARNING, 95.0),
        (Severity.CRITICAL, 80.0),
    ]
    # Rules not given keep the guide's defaults; {} turns a rule off.
    assert rules["cpuPercent"].levels == {Severity.WARNING: 80.0}
    assert parse_thresholds({"cpuPercent": {}})["cpuPercent"].levels == {}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"cpuPercnt": {"warning": 1}}, "flutter-app:reportThresholds.cpuPercnt: unknown rule"),
        ({"cpuPercent": {"warn": 1}}, "flutter-app:reportThresholds.cpuPercent.warn: unknown level"),
        (
            {"cpuPercent": {"warning": "high"}},
            'cpuPercent.warning: expected a number, 0 or more (got "high")',
        ),
        ({"cpuPercent": {"warning": 120}}, "cpuPercent.warning: a percentage is at most 100"),
        ({"errorRatePercent": {"warning": 5, "critical": 2}}, "warning (5) must be below critical (2)"),
        (
            {"healthyInstancesPercent": {"warning": 80, "critical": 90}},
            "warning (80) must be above critical (90)",
        ),
        ({"cpuPercent": 80}, "flutter-app:reportThresholds.cpuPercent: expected an object"),
        ("[1, 2]", "flutter-app:reportThresholds: expected an object"),
    ],
)
def test_bad_thresholds_name_the_key(value: Any, problem: str) -> None:
    with pytest.raises(ThresholdsError) as error:
        parse_thresholds(value)
    assert problem in str(error.value)


def test_windows_steps_and_pod_patterns() -> None:
    assert [window_seconds(w) for w in ("30s", "15m", "1h")] == [30, 900, 3600]
    for bad in ("0s", "1d", "1h30m", "10"):
        with pytest.raises(ValueError):
            window_seconds(bad)
    assert (chart_step(3600), chart_rate_window(3600)) == (15, "60s")
    assert (chart_step(10), chart_rate_window(10)) == (1, "10s")
    assert pod_pattern(("api-blue", "api-green")) == "(api-blue|api-green)-[a-z0-9]{1,10}-[a-z0-9]{5}"


def test_notifications_collapse_repeats_of_a_rule() -> None:
    from rollout.monitoring.alerts import Alert

    sent: list[dict[str, Any]] = []

    class Response:
        status_code = 200

        def close(self) -> None:
            pass

    def post(url: str, json: dict[str, Any], **_: Any) -> Response:
        sent.append(json)
        return Response()

    alerts = [
        Alert(Severity.CRITICAL, "errorRatePercent", "web", "web", 9.0, 5.0),
        Alert(Severity.WARNING, "cpuPercent", "web", "web-a-11111", 90.0, 80.0),
        Alert(Severity.WARNING, "cpuPercent", "web", "web-a-22222", 85.0, 80.0),
        Alert(Severity.WARNING, "cpuPercent", "web", "web-a-33333", 81.0, 80.0),
    ]
    stats = notify(alerts, stack="prod", url="http://hook.invalid/secret", kind="slack", post=post)
    assert (stats.sent, stats.collapsed, stats.failed) == (3, 2, 0)
    assert sent[1]["text"].startswith(
        ":warning: deployment report *stack prod* *warning*: web pod web-a-11111: CPU"
    )
    assert sent[-1]["text"].endswith("1 critical, 3 warning alert(s) (2 repeated alerts collapsed)")
    assert notify([], stack="prod", url="http://hook.invalid/", post=post).sent == 0


# The command


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    for extra, message in (
        (["--window", "1d"], "expected a duration such as 30s, 15m or 1h"),
        (["--prometheus", "localhost:9090"], "expected an http(s) URL"),
        (["--format", "pdf"], "invalid choice: 'pdf'"),
    ):
        code, _, stderr = run(["--cwd", str(project), "report", "--stack", STACK, *extra])
        assert code == 2 and message in stderr, stderr


def test_missing_prometheus_url_says_how_to_set_it(tmp_path: Path) -> None:
    code, _, stderr = run(["--cwd", str(write_project(tmp_path)), "report", "--stack", STACK])
    assert code == 2
    assert "no Prometheus URL for stack 'reporttest': pass --prometheus URL" in stderr
    assert "pulumi config set prometheusUrl URL --stack reporttest" in stderr


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        (
            {"reportThresholds": {"cpuPercent": {"warning": 101}}},
            "flutter-app:reportThresholds.cpuPercent.warning",
        ),
        # Named by the settings model where it declares prometheusUrl, by the report otherwise.
        ({"prometheusUrl": "prometheus:9090"}, "flutter-app:prometheusUrl: "),
        ({"prometheusUrl": {"secure": "AAABAxyz"}}, "flutter-app:prometheusUrl: is set as a secret"),
        ({"apps": {"web": {"image": "x", "replicas": 0}}}, "flutter-app:apps.web.replicas"),
    ],
)
def test_bad_stack_config_exits_2_naming_the_key(
    tmp_path: Path, config: dict[str, Any], problem: str
) -> None:
    code, _, stderr = run(["--cwd", str(write_project(tmp_path, **config)), "report", "--stack", STACK])
    assert code == 2 and problem in stderr, stderr
    assert "Traceback" not in stderr


def test_unreachable_prometheus_exits_1_with_a_clear_message(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    project = write_project(tmp_path, prometheusUrl=dead)
    code, stdout, stderr = run(
        ["--cwd", str(project), "report", "--stack", STACK, "--out", str(tmp_path / "r.md")]
    )
    assert code == 1
    assert f"error: cannot build the report: Prometheus unreachable at {dead}: connection refused" in stderr
    assert stdout == "" and not (tmp_path / "r.md").exists()


def test_no_series_at_all_is_reported_as_missing_and_the_token_stays_secret(
    tmp_path: Path, scripted: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scripted Prometheus that answers `vector(1)` and knows no series."""

    def respond(request: Received) -> tuple[int, bytes]:
        query = parse_qs(urlsplit(request.path).query)["query"][0]
        kind = "matrix" if "query_range" in request.path else "vector"
        result = [{"metric": {}, "value": [1.0, "1"]}] if query == "vector(1)" else []
        return 200, json.dumps({"status": "success", "data": {"resultType": kind, "result": result}}).encode()

    server = scripted(respond)
    token = "s3cr3t-t0ken"
    monkeypatch.setenv("ROLLOUT_PROMETHEUS_TOKEN", token)
    project = write_project(
        tmp_path, apps={"web": {"image": "ghcr.io/example/web:1.0.0", "strategy": "rolling"}}
    )
    code, stdout, stderr = run(
        ["--cwd", str(project), "report", "--stack", STACK, "--prometheus", server.url, "--window", "5m"]
    )
    assert code == 0, stderr
    assert all(r.headers["Authorization"] == f"Bearer {token}" for r in server.received)
    assert token not in stdout + stderr
    assert "No alerts." in stdout
    health = stdout[stdout.index("### Health") : stdout.index("### Performance")]
    assert "| _no data_ | _no data_ | _no data_ |" in health
    assert "| web | - | 6 | _no data_ | _no data_ | _no data_ |" in stdout  # production's 6 replicas
    assert "Charts are written next to the report with `--out FILE`" in stdout
    assert "report reporttest: 0 critical, 0 warning alert(s)" in stderr


def test_the_cli_does_not_import_the_report_machinery() -> None:
    import subprocess
    import sys

    code = (
        "import sys, rollout.cli; "
        "print(sorted(m for m in sys.modules if m.startswith(('matplotlib', 'rollout.monitoring'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
