"""The plain progress lines of `rollout gate`: one per evaluation, in a stable format scripts can
parse (docs/cli.md, `rollout gate`), whose count is against the evaluations planned within
``duration`` and says so whenever it counts further (time held inconclusive, an undecided test
watched up to ``max_duration``); never a total that silently includes ``max_hold`` or
``max_duration``. Runs on a virtual clock with the sequential tests' fake Prometheus."""

from __future__ import annotations

import re
from typing import Any

from gates.progress import Progress, progress_line
from gates.runner import GateRuntime, run_gate
from gates.spec import parse_spec
from tests.gates.test_gate_units import VirtualClock, ok
from tests.gates.test_sequential import World, gate_spec

# The documented shape of a line: [N/TOTAL +SECONDSs(, NOTE)] STATUS REASON
LINE = re.compile(
    r"^\[(?P<index>\d+)/(?P<total>\d+) \+(?P<offset>\d+\.\d)s(?:, (?P<note>[^\]]+))?\] "
    r"(?P<status>pass|fail|inconclusive) +(?P<reason>.+)$"
)


def lines_of(world: World, **overrides: Any) -> tuple[Any, list[dict[str, str]]]:
    spec = gate_spec(**overrides)
    seen: list[Progress] = []
    run_gate(spec, world.runtime(on_progress=seen.append))
    parsed = []
    for progress in seen:
        line = progress_line(spec, progress)
        match = LINE.match(line)
        assert match is not None, f"not in the documented format: {line}"
        parsed.append(match.groupdict())
    return spec, parsed


def test_an_undecided_test_past_the_duration_is_said_with_the_count() -> None:
    # One canary request a minute: undecided at 300 s, so the gate watches up to max_duration.
    spec, lines = lines_of(World(canary_error=0.005, canary_rate=1 / 60), max_duration=600)
    assert spec.max_evaluations == 91  # (max_duration + max_hold) / interval + 1: never shown
    within = [line for line in lines if float(line["offset"]) <= 300]
    past = [line for line in lines if float(line["offset"]) > 300]
    assert [(line["index"], line["total"], line["note"]) for line in within[:2]] == [
        ("1", "31", None),
        ("2", "31", None),
    ]
    assert {(line["total"], line["note"]) for line in within} == {("31", None)}
    assert past and {(line["total"], line["note"]) for line in past} == {
        ("61", "past duration 300 s, watching undecided errors, latency up to max_duration 600 s")
    }
    assert (past[0]["index"], past[-1]["index"]) == ("32", "61")


def test_time_held_inconclusive_is_said_with_the_count() -> None:
    # Prometheus down from 20 s to 140 s: each inconclusive evaluation adds its interval.
    _, lines = lines_of(World(canary_error=0.005, down=(20, 140), canary_rate=0.01), max_duration=300)
    first_held = next(line for line in lines if line["note"])
    assert (first_held["index"], first_held["total"], first_held["offset"], first_held["note"]) == (
        "3",
        "32",
        "20.0",
        "+10 s held inconclusive, max_hold 300 s",
    )
    assert first_held["status"] == "inconclusive"
    assert first_held["reason"].startswith("check errors: Prometheus unreachable")
    last = lines[-1]
    assert (last["index"], last["total"], last["note"]) == (
        "44",
        "44",
        "+130 s held inconclusive, max_hold 300 s",
    )
    # Before anything was held the count is the duration's alone.
    assert [(line["total"], line["note"]) for line in lines[:2]] == [("31", None), ("31", None)]


def test_threshold_mode_counts_to_the_duration() -> None:
    spec = parse_spec(
        {
            "mode": "threshold",
            "interval": 10,
            "duration": 40,
            "prometheus": {"url": "http://127.0.0.1:9090"},
            "checks": [{"name": "err", "query": "q", "max": 0.05}],
        }
    )
    clock = VirtualClock()
    seen: list[Progress] = []
    answers = iter([ok(0.01), ok(0.2), ok(0.01), ok(0.01), ok(0.01)])
    runtime = GateRuntime(
        query=lambda _q: next(answers),
        monotonic=lambda: clock.now,
        sleep=clock.sleep,
        on_progress=seen.append,
    )
    run_gate(spec, runtime)
    assert [progress_line(spec, p) for p in seen] == [
        "[1/5 +0.0s] pass         all 0 probes and 1 checks within limits",
        "[2/5 +10.0s] fail         check err: 0.2 > max 0.05  (failed 1/2, inconclusive 0/3)",
        "[3/5 +20.0s] pass         all 0 probes and 1 checks within limits",
        "[4/5 +30.0s] pass         all 0 probes and 1 checks within limits",
        "[5/5 +40.0s] pass         all 0 probes and 1 checks within limits",
    ]
