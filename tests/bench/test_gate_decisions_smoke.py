"""A quick run of the gate decisions benchmark (few seeds, few probe targets): the results file
has the shape issue 8 asks for, and the run is deterministic."""

from __future__ import annotations

import json
from pathlib import Path

from bench import gate_decisions
from bench.traces import CASES, LEVELS

FIGURES = {"detect_median_s", "detect_p95_s", "bad_requests", "false_rollback_rate", "promote_median_s"}


def test_quick_run_writes_the_results_shape(tmp_path: Path) -> None:
    code = gate_decisions.main(
        ["--seeds", "3", "--workers", "1", "--probe-targets", "10", "--out", str(tmp_path)]
    )
    assert code == 0
    document = json.loads((tmp_path / "gate_decisions.json").read_text())
    cases = {f"{c.name}@{level}rps" for c in CASES for level in LEVELS}
    assert {"guide", "flagger", "argo", "ours"} <= set(document["policies"])
    for policy, rows in document["policies"].items():
        assert set(rows) == cases, policy
        for name, row in rows.items():
            assert set(row) >= FIGURES, (policy, name)
            if policy in gate_decisions.ORACLES:  # references for error-rate cases only
                continue
            bad = next(c for c in CASES if name.startswith(f"{c.name}@")).bad
            assert (row["false_rollback_rate"] is None) == bad
            assert (row["promote_median_s"] is None) == bad or row["promote_median_s"] is None
            assert row["bad_requests"] is None or bad
    assert set(document["sprt_floor_s"]) == cases
    assert document["sprt_floor_s"]["bad-2pct@50rps"] == 140.3
    assert document["sprt_floor_s"]["healthy@50rps"] is None
    probe = document["probe_overhead"]
    assert probe["targets"] == 10 and probe["concurrent_s"] < probe["serial_s"]
    assert (tmp_path / "gate_decisions.md").read_text().startswith("# Gate decisions")


def test_runs_are_deterministic() -> None:
    first = gate_decisions.run_case(("bad-5pct", 50, 2, 0))
    again = gate_decisions.run_case(("bad-5pct", 50, 2, 0))
    assert first == again
    other = gate_decisions.run_case(("bad-5pct", 50, 2, 1000))
    assert other != first  # --seed-base: other traces
