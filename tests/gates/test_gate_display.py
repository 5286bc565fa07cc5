"""`rollout gate` as a person at a terminal and a script see it: the live panel when stdout and
stderr are terminals, plain parseable lines when either is not or NO_COLOR is set; and where the
report goes (only with --report; a path that cannot be written is refused before any probe)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from gates.spec import parse_spec
from rollout.cli import main
from rollout.commands.gate import describe_plan
from tests.gates.test_progress import LINE
from tests.support.app import FaultyApp, Received, ScriptedServer

Start = Callable[[Callable[[Received], tuple[int, bytes]]], ScriptedServer]

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def terminal_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")  # rich's width when it cannot ask the terminal
    monkeypatch.setenv("TERM", "xterm")
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


def spec_file(tmp_path: Path, app: FaultyApp | ScriptedServer) -> Path:
    path = tmp_path / "gate.yaml"
    spec = {
        "name": "shown",
        "mode": "threshold",
        "interval": 0.2,
        "duration": 0.4,
        "probes": [{"url": f"{app.url}/health", "timeout": 1}],
    }
    path.write_text(yaml.safe_dump(spec))
    return path


def run(argv: list[str], out: io.StringIO, err: io.StringIO) -> tuple[int, str, str]:
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_a_terminal_gets_the_live_panel(tmp_path: Path, app: FaultyApp) -> None:
    code, out, err = run(["gate", "--spec", str(spec_file(tmp_path, app))], Terminal(), Terminal())
    assert code == 0, err
    text = ANSI.sub("", err)
    assert "╭─ gate shown · threshold" in text
    assert "elapsed " in text and " · ended" in text
    assert re.search(r"│ probe http://127\.0\.0\.1:\d+/health +│ [\d.]+ s +│ max 1 s +│ pass +│", text)
    assert "PASS passed: 3 of 3 evaluations passed" in text
    # Passing evaluations live in the panel, not as lines; the verdict is on stdout as always.
    assert not any(LINE.match(line) for line in text.splitlines())
    assert out.startswith("pass: passed: 3 of 3 evaluations passed over 0.4 s")


def test_at_a_terminal_evaluations_that_did_not_pass_stay_above_the_panel(
    tmp_path: Path, app: FaultyApp
) -> None:
    app.faults.status = 503
    code, out, err = run(["gate", "--spec", str(spec_file(tmp_path, app))], Terminal(), Terminal())
    assert code == 1
    text = ANSI.sub("", err)
    reason = f"probe {app.url}/health: HTTP 503 (expected 2xx)"
    assert f"[1/3 +0.0s] fail         {reason}  (failed 1/2, inconclusive 0/3)" in text
    assert "╭─ gate shown · threshold" in text and "no answer" not in text
    assert re.search(
        r"│ probe http://127\.0\.0\.1:\d+/health +│ [\d.]+ s, HTTP 503 +│ max 1 s +│ fail +│", text
    )
    assert out == f"fail: {reason}; 2 consecutive failed evaluations (failure_limit 2)\n"


@pytest.mark.parametrize(
    ("case", "out_tty", "err_tty", "no_color"),
    [
        ("NO_COLOR at a terminal", True, True, "1"),
        ("stdout piped", False, True, ""),
        ("stderr piped", True, False, ""),
    ],
)
def test_plain_lines_otherwise(
    tmp_path: Path,
    app: FaultyApp,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    out_tty: bool,
    err_tty: bool,
    no_color: str,
) -> None:
    if no_color:
        monkeypatch.setenv("NO_COLOR", no_color)
    out = Terminal() if out_tty else io.StringIO()
    err = Terminal() if err_tty else io.StringIO()
    app.faults.status = 503
    code, _, text = run(["gate", "--spec", str(spec_file(tmp_path, app))], out, err)
    assert code == 1
    assert "\x1b" not in text and "╭" not in text, case
    progress = [LINE.match(line) for line in text.splitlines() if line.startswith("[")]
    assert [m and (m["index"], m["total"], m["status"]) for m in progress] == [
        ("1", "3", "fail"),
        ("2", "3", "fail"),
    ]
    assert all(
        m
        and m["reason"]
        == f"probe {app.url}/health: HTTP 503 (expected 2xx)  (failed {i}/2, inconclusive 0/3)"
        for i, m in enumerate(progress, 1)
    )


def test_without_report_nothing_is_written_and_it_says_so(
    tmp_path: Path, app: FaultyApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = spec_file(tmp_path, app)
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["gate", "--spec", str(spec)], io.StringIO(), io.StringIO())
    assert code == 0
    assert "no report file: --report FILE writes one (JSON, and Markdown next to it)\n" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gate.yaml"]


def test_a_report_path_that_cannot_be_written_is_refused_before_probing(
    tmp_path: Path, scripted: Start
) -> None:
    target = scripted(lambda _request: (200, b"ok"))
    spec = spec_file(tmp_path, target)
    directory = tmp_path / "reports"
    directory.mkdir()
    code, _, err = run(
        ["gate", "--spec", str(spec), "--report", str(directory)], io.StringIO(), io.StringIO()
    )
    assert (code, err) == (
        2,
        f"error: --report {directory}: is a directory; expected a regular file or a path where nothing is yet\n",
    )
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file where a directory would go")
    code, _, err = run(
        ["gate", "--spec", str(spec), "--report", str(blocker / "out" / "r.json")],
        io.StringIO(),
        io.StringIO(),
    )
    assert (code, err) == (
        2,
        f"error: --report {blocker / 'out' / 'r.json'}: {blocker} is a regular file; expected a directory\n",
    )
    assert target.received == []


def test_the_report_goes_to_the_file_and_markdown_next_to_it(tmp_path: Path, app: FaultyApp) -> None:
    report = tmp_path / "out" / "gate.json"
    code, _, err = run(
        ["gate", "--spec", str(spec_file(tmp_path, app)), "--report", str(report)],
        io.StringIO(),
        io.StringIO(),
    )
    assert code == 0
    assert f"wrote {report} and {tmp_path / 'out' / 'gate.md'}\n" in err
    assert report.read_text().startswith("{") and (tmp_path / "out" / "gate.md").read_text().startswith(
        "# Health gate"
    )


def test_the_first_line_says_what_can_make_the_gate_shorter_or_longer() -> None:
    prometheus = {"url": "http://127.0.0.1:9090"}
    canary = {"namespace": "prod", "app": "web", "version": "canary"}
    sequential = parse_spec(
        {"prometheus": prometheus, "checks": [{"name": "errors", "template": "error-rate", "params": canary}]}
    )
    assert describe_plan(sequential) == (
        "gate health-gate: every 10 s for 300 s, 0 probes, 1 checks, mode sequential; shorter when a test "
        "rejects or all accept (not before min_duration 60 s), longer while a test is undecided (up to "
        "max_duration 1200 s) or held inconclusive (up to max_hold 300 s more)"
    )
    probes_only = parse_spec({"probes": [{"url": "http://127.0.0.1:9/"}], "max_hold": 30})
    assert describe_plan(probes_only) == (
        "gate health-gate: every 10 s for 300 s, 1 probes, 0 checks, mode sequential; longer while held "
        "inconclusive (up to max_hold 30 s more)"
    )
    threshold = parse_spec({"mode": "threshold", "probes": [{"url": "http://127.0.0.1:9/"}]})
    assert (
        describe_plan(threshold)
        == "gate health-gate: every 10 s for 60 s, 1 probes, 0 checks, mode threshold"
    )


def test_the_documented_examples_are_in_the_format_they_describe() -> None:
    page = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    examples = re.findall(r"^ {4}(\[\d+/\d+ \+.*)$", page, flags=re.MULTILINE)
    assert len(examples) == 3
    assert all(LINE.match(example) for example in examples), examples
