"""Exact counts from raw counter samples (gates/counts.py): pure, no Prometheus."""

from __future__ import annotations

import pytest

from gates.counts import LOOKBACK, OVERLAP, Ledger, Window, align, series_count, strata
from gates.prometheus import Series


def ledger(start: float, *series: tuple[dict[str, str], list[tuple[float, float]]]) -> Ledger:
    found = Ledger(start)
    found.merge([Series(labels, tuple(points)) for labels, points in series], until=1e9)
    return found


def test_an_old_series_counts_from_its_last_sample_at_or_before_the_start() -> None:
    # Scraped every 15 s since long before the gate started at 100 (value 1000 at 95).
    old = ledger(100, ({"code": "200"}, [(80, 900), (95, 1000), (110, 1030), (125, 1075)]))
    assert old.total(Window(100)) == 75
    assert old.total(Window(100, end_before=120)) == 30  # up to the sample at 110
    assert old.total(Window(100, end_after=111)) == 75  # up to the first sample at or after 111


def test_a_new_series_counts_from_zero() -> None:
    # No sample in the lookback before the start: created since, so its first value already
    # counts (increase() would drop it, and a lazily created 5xx series' first errors with it).
    new = ledger(100, ({"code": "500"}, [(104, 3), (119, 5)]))
    assert new.total(Window(100)) == 5
    assert new.total(Window(100, end_before=110)) == 3


def test_a_counter_reset_is_corrected_never_overstated() -> None:
    # A pod restart: 1000 -> (scrape missed) -> 20. What it served before dying and after its last
    # scrape is lost to every query; the count is what the samples prove: 30 + 20.
    restarted = ledger(100, ({"code": "200"}, [(95, 1000), (110, 1030), (140, 20), (155, 50)]))
    assert restarted.total(Window(100)) == 30 + 20 + 30


def test_codes_select_errors_and_buckets_by_label() -> None:
    both = ledger(
        0,
        ({"code": "200", "pod": "a"}, [(-5, 100), (5, 190)]),
        ({"code": "503", "pod": "a"}, [(-5, 1), (5, 11)]),
        ({"code": "500", "pod": "b"}, [(7, 4)]),
    )
    assert both.total(Window(0)) == 90 + 10 + 4
    assert both.total(Window(0), (("code", "5*"),)) == 14


def test_fetches_ask_only_for_what_is_new_and_overlapping_samples_count_once() -> None:
    found = Ledger(1000)
    assert found.fetch_range(1010) == (1000 - LOOKBACK, 1010)
    found.merge([Series({"code": "200"}, ((995, 10), (1005, 20)))], until=1010)
    assert found.fetch_range(1200) == (1010 - OVERLAP, 1200)
    # The next answer repeats the sample at 1005 (the overlap) and brings two new ones.
    found.merge([Series({"code": "200"}, ((1005, 20), (1020, 35), (1035, 40)))], until=1200)
    assert found.total(Window(1000)) == 30


def test_staleness_follows_the_scrape_interval() -> None:
    found = ledger(0, ({"code": "200"}, [(-30, 1), (-15, 2), (0, 3), (15, 4)]))
    assert found.scrape_interval() == 15
    assert found.stale(15 + 45) is None
    assert found.stale(15 + 46) == pytest.approx(46)


def test_alignment_never_counts_the_canary_past_the_baseline_when_rejecting() -> None:
    # Canary scraped at 25, the stable last at 20: to reject, the canary counts up to its sample
    # at or before 20 (10), the stable up to a sample at or after that; to accept, the stable
    # counts up to the canary's latest sample (25) at the most.
    canary = ledger(0, ({"code": "200"}, [(10, 10), (25, 25)]))
    stable = ledger(0, ({"code": "200"}, [(-10, 0), (5, 150), (20, 300)]))
    to_reject, to_accept = align(canary, stable, now=26)
    assert series_count(next(iter(canary.series.values())), to_reject.canary) == 10
    assert stable.total(to_reject.baseline) == 300
    assert canary.total(to_accept.canary) == 25
    assert stable.total(to_accept.baseline) == 300
    # A stable pod that stopped being scraped (deleted) does not hold the cut back forever.
    gone = ledger(
        0,
        ({"code": "200", "pod": "old"}, [(-10, 0), (5, 50)]),
        ({"code": "200", "pod": "new"}, [(-8, 0), (18, 90), (33, 200)]),
    )
    late = ledger(0, ({"code": "200"}, [(10, 10), (25, 25), (40, 40), (55, 55)]))
    to_reject, _ = align(late, gone, now=60)
    assert to_reject.canary.end_before == 33
    assert late.total(to_reject.canary) == 25


def test_alignment_starts_each_track_inside_the_other_where_it_must() -> None:
    # The gate starts at 100; the canary's base sample is at 88, the stable's at 98. An incident
    # between 88 and 98 (both tracks failing) is in the canary's count only if it starts at 88:
    # to reject, it starts at its first sample at or after 98 (103); to accept, the stable's
    # starts at or after the canary's base (88: unchanged).
    canary = ledger(100, ({"code": "500"}, [(73, 0), (88, 0), (103, 40), (118, 42)]))
    stable = ledger(100, ({"code": "500"}, [(83, 0), (98, 60), (113, 61), (128, 62)]))
    to_reject, to_accept = align(canary, stable, now=130)
    assert canary.total(to_reject.canary) == 2  # 103 -> 118: after the incident
    assert stable.total(to_reject.baseline) == 2
    assert canary.total(to_accept.canary) == 42  # from 88: the incident counted for both ...
    assert stable.total(to_accept.baseline) == 1  # ... but the stable's own base is already 98
    assert to_accept.baseline.start_after == 88


def test_strata_count_each_step_with_the_canary_inside_the_stable() -> None:
    # Carried evidence from 0, a later step from 60: the closed stratum [0, 60), then align's.
    canary = Ledger(0, (60.0,))
    stable = Ledger(0, (60.0,))
    canary.merge([Series({"code": "200"}, ((-5, 0), (10, 10), (25, 25), (55, 55), (70, 200)))], until=1e9)
    stable.merge([Series({"code": "200"}, ((-2, 0), (13, 100), (58, 500), (73, 600)))], until=1e9)
    [closed] = strata(canary, stable)
    assert canary.total(closed.canary) == 45  # 10 -> 55: after the stable's base (-2), before 60
    assert stable.total(closed.baseline) == 500  # -2 -> 58, the first at or after the canary's end
    to_reject, to_accept = align(canary, stable, now=75)
    # The current stratum starts at 60: to reject, the canary from its first sample after the
    # stable's base (58), which is 70, its latest: nothing yet; to accept, the canary from 55.
    assert canary.total(to_reject.canary) == 0 and stable.total(to_reject.baseline) == 100
    assert canary.total(to_accept.canary) == 145 and stable.total(to_accept.baseline) == 0
