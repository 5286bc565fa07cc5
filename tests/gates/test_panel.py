"""The live gate panel as a person sees it, drawn by rich into a width-fixed recording console:
elapsed and remaining time with what can end the gate sooner or later, the latest evaluation and
streaks, each item's latest value against its limit, the sequential evidence against the
thresholds where a test fails or passes early, and the verdict once it ends."""

from __future__ import annotations

import io

from rich.console import Console

from gates.decision import Streaks
from gates.panel import GatePanel
from gates.progress import Progress
from gates.results import (
    CheckResult,
    Decision,
    Evaluation,
    Failure,
    ProbeResult,
    SequentialResult,
    Status,
    Verdict,
)
from gates.spec import parse_spec

WIDTH = 200
SECRET = "tok-5e3cr3t-abc"
CANARY = {"namespace": "prod", "app": "web", "version": "canary"}
SPEC = parse_spec(
    {
        "name": "staging",
        "interval": 10,
        "duration": 300,
        "probes": [{"url": "https://ops:pw@app.example.com/health"}, {"url": "http://127.0.0.1:9/ready"}],
        "prometheus": {"url": "http://127.0.0.1:9090"},
        "checks": [
            {"name": "errors", "template": "error-rate", "params": CANARY},
            {"name": "slow", "template": "latency-p95", "params": CANARY, "max": 0.5},
            {"name": "cpu", "template": "cpu", "params": {"namespace": "prod", "app": "web"}, "max": 0.8},
        ],
    }
)
ERRORS = SequentialResult(
    check="errors",
    kind="error-rate",
    decision=Decision.CONTINUE,
    log_mixture=1.23,
    log_lr_closest=-2.1,
    reject_at=5.81,
    accept_at=-4.61,
    canary_requests=600,
    canary_bad=3,
    baseline_requests=12000,
    baseline_bad=24,
    reference_share=0.002,
    reference="baseline",
)


def evaluation(
    index: int, offset: float, *, reason: str = "probe http://127.0.0.1:9/ready: connection refused"
) -> Evaluation:
    return Evaluation(
        index,
        offset,
        "2025-01-01T00:00:00Z",
        Status.FAIL,
        reason,
        (
            ProbeResult(
                "https://[redacted]@app.example.com/health", Status.PASS, 5.0, 200, 0.012, "HTTP 200"
            ),
            ProbeResult(
                "http://127.0.0.1:9/ready",
                Status.FAIL,
                5.0,
                None,
                None,
                "connection refused",
                Failure.REFUSED,
            ),
        ),
        (
            CheckResult("errors", "q", Status.PASS, 0.005, None, None, "error rate 0.5 % ..."),
            CheckResult(
                "slow", "q", Status.INCONCLUSIVE, None, None, None, "no data (no canary requests scraped yet)"
            ),
            CheckResult("cpu", "q", Status.PASS, 0.12, 0.8, None, "0.12 <= max 0.8"),
        ),
        (ERRORS,),
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def draw(panel: GatePanel) -> str:
    console = Console(record=True, width=WIDTH, file=io.StringIO(), color_system=None)
    console.print(panel)
    return console.export_text()


def lines(text: str) -> list[str]:
    """The panel's lines without its frame."""
    return [line.strip().strip("│").strip() for line in text.splitlines()]


def rows(text: str) -> list[list[str]]:
    """The cells of every table row inside the panel."""
    found = []
    for line in lines(text):
        if line.startswith("│") and line.endswith("│"):
            found.append([cell.strip() for cell in line.strip("│").split("│")])
    return found


def test_before_the_first_evaluation_it_says_what_remaining_means() -> None:
    clock = Clock()
    panel = GatePanel(SPEC, clock=clock)
    clock.now += 4
    text = lines(draw(panel))
    assert text[0].startswith("╭─ gate staging · sequential")
    assert text[1:4] == [
        "elapsed 4 s · remaining 296 s to duration 300 s",
        "sooner when a test rejects, or all accept after min_duration 60 s; a test undecided then keeps it up to "
        "max_duration 1200 s; inconclusive evaluations add up to max_hold 300 s",
        "waiting for evaluation 1",
    ]


def test_latest_values_against_limits_and_the_sequential_evidence() -> None:
    clock = Clock()
    panel = GatePanel(SPEC, clock=clock)
    panel.update(Progress(evaluation(3, 20.0), Streaks(1, 0), 0.0, ("errors", "slow")))
    clock.now += 25
    text = draw(panel)
    assert lines(text)[1] == "elapsed 25 s · remaining 275 s to duration 300 s"
    assert (
        "evaluation 3 of 31 planned at +20.0 s: fail · probe http://127.0.0.1:9/ready: connection refused"
        in lines(text)
    )
    assert "in a row: failed 1 of failure_limit 2, inconclusive 0 of inconclusive_limit 30" in lines(text)
    table = rows(text)
    assert table[:5] == [
        ["probe https://[redacted]@app.example.com/health", "0.012 s", "max 5 s", "pass"],
        ["probe http://127.0.0.1:9/ready", "no answer (refused)", "max 5 s", "fail"],
        ["check errors", "0.5 % 5xx", "< 3x stable 0.2 %", "pass"],
        ["check slow", "-", "sequential", "inconclusive"],
        ["check cpu", "0.12", "max 0.8", "pass"],
    ]
    assert table[5:] == [
        [
            "errors",
            "continue",
            "3 of 600 5xx",
            "stable 0.2 % (24 of 12000)",
            "21 % (1.23/5.81)",
            "46 % (-2.10/-4.61)",
        ],
        ["slow", "no evidence", "no data (no canary requests scraped yet)", "", "", ""],
    ]


def test_past_the_duration_remaining_is_up_to_max_duration_and_says_why() -> None:
    clock = Clock()
    panel = GatePanel(SPEC, clock=clock)
    panel.update(Progress(evaluation(35, 340.0), Streaks(), 20.0, ("errors",)))
    clock.now += 345
    text = lines(draw(panel))
    assert text[1:3] == [
        "elapsed 345 s · remaining at most 875 s to max_duration 1200 s + 20 s held",
        "watching errors: ends when decided; still undecided at max_duration, the verdict is on_undecided (pass)",
    ]
    assert (
        "evaluation 35 of 123 planned at +340.0 s: fail · probe http://127.0.0.1:9/ready: connection refused"
        in text
    )
    assert (
        "past duration 300 s, watching undecided errors up to max_duration 1200 s; +20 s held inconclusive, "
        "max_hold 300 s" in text
    )


def test_the_ended_panel_shows_the_verdict_and_stops_the_clock() -> None:
    clock = Clock()
    panel = GatePanel(SPEC, clock=clock)
    panel.update(Progress(evaluation(2, 10.0), Streaks(2, 0)))
    clock.now += 12
    panel.finish(
        Verdict(Status.FAIL, "probe http://127.0.0.1:9/ready: connection refused; 2 consecutive failed", "")
    )
    clock.now += 60
    text = lines(draw(panel))
    assert text[1] == "elapsed 12 s · ended"
    assert "FAIL probe http://127.0.0.1:9/ready: connection refused; 2 consecutive failed" in text


def test_secrets_are_masked_and_brackets_are_not_markup() -> None:
    clock = Clock()
    panel = GatePanel(SPEC, [SECRET], clock=clock)
    panel.update(Progress(evaluation(1, 0.0, reason=f"check cpu: [bold]{SECRET}[/bold]"), Streaks(1, 0)))
    text = draw(panel)
    assert SECRET not in text
    assert "check cpu: [bold][secret][/bold]" in text  # shown as written, not styled
    assert "https://[redacted]@app.example.com/health" in text


def test_threshold_mode_ends_at_the_duration_or_a_streak() -> None:
    spec = parse_spec(
        {
            "mode": "threshold",
            "interval": 10,
            "probes": [{"url": "http://127.0.0.1:9/ready"}],
            "failure_limit": 3,
        }
    )
    clock = Clock()
    panel = GatePanel(spec, clock=clock)
    clock.now += 20
    text = lines(draw(panel))
    assert text[0].startswith("╭─ gate health-gate · threshold")
    assert text[1:3] == [
        "elapsed 20 s · remaining 40 s to duration 60 s",
        "sooner after failure_limit 3 failed or inconclusive_limit 3 inconclusive evaluations in a row",
    ]


def test_a_narrow_terminal_wraps_without_losing_the_values() -> None:
    clock = Clock()
    panel = GatePanel(SPEC, clock=clock)
    panel.update(Progress(evaluation(3, 20.0), Streaks(1, 0), 0.0, ("errors", "slow")))
    console = Console(record=True, width=80, file=io.StringIO(), color_system=None)
    console.print(panel)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "no answer" in text and "(refused)" in text and "0.012 s" in text
