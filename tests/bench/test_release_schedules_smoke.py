"""A quick run of the whole-release benchmark on a few cases: the rows have the shape issue 21
asks for, what applies to a case is filled and the rest null, and the runs are deterministic."""

from __future__ import annotations

from bench import release_schedules

FIGURES = {
    "traces",
    "promote_median_s",
    "rollback_rate",
    "false_rollback_rate",
    "detect_median_s",
    "bad_requests_median",
    "failed_user_requests_median",
}


def test_rows_have_the_results_shape() -> None:
    name, healthy = release_schedules.run_case(("healthy", 500, 2, 0))
    assert name == "healthy@500rps" and set(healthy) == set(release_schedules.POLICIES)
    for policy, row in healthy.items():
        assert set(row) == FIGURES, policy
        assert row["false_rollback_rate"] is not None and row["detect_median_s"] is None
    # Evidence carried across steps promotes sooner than each step starting afresh.
    assert healthy["carry"]["promote_median_s"] < healthy["fixed"]["promote_median_s"]
    name, total = release_schedules.run_case(("total", 50, 2, 0))
    for policy, row in total.items():
        assert row["rollback_rate"] == 1.0 and row["false_rollback_rate"] is None, policy
        assert row["failed_user_requests_median"] is not None and row["promote_median_s"] is None


def test_runs_are_deterministic() -> None:
    first = release_schedules.run_case(("bad-5pct", 50, 2, 0))
    assert release_schedules.run_case(("bad-5pct", 50, 2, 0)) == first
    assert release_schedules.run_case(("bad-5pct", 50, 2, 1000)) != first  # --seed-base: other traces
