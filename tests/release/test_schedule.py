"""`canary.steps: auto`: the weights a release walks, from the stable track's traffic
(gates/schedule.py), and what a release plans from a measurement (rollout/schedule.py). Pure and
offline: the measurement is a stand-in here; tests/e2e/test_canary_release.py reads a real
Prometheus."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from components.settings import StackSettings, parse_settings
from components.validation import ConfigError
from gates.schedule import FULL_TEST_AT, GROSS_RATIO, accept_ratio, requests_to_rule_out
from rollout.schedule import Traffic, plan_schedule
from tests.release import fixtures as fx

PROMETHEUS = "https://prometheus.staging.example.com"


def settings(
    canary: Mapping[str, Any] | None = None, gate: Mapping[str, Any] | None = None, **raw_extra: Any
) -> StackSettings:
    raw: dict[str, Any] = {
        k.removeprefix("flutter-app:"): v.get("objectValue", v["value"])
        for k, v in fx.base_config("staging").items()
    }
    raw["prometheusUrl"] = PROMETHEUS
    app: dict[str, Any] = {"image": f"{fx.IMAGE}:1.4.2"}
    app.update({"canary": canary} if canary else {})
    app.update({"gate": gate} if gate else {})
    raw["apps"] = {"flutter-app": app}
    raw.update(raw_extra)
    return parse_settings(raw, stack="staging")


class Measured:
    """A stand-in for Prometheus: the traffic it answers, and what it was asked."""

    def __init__(self, traffic: Traffic) -> None:
        self.traffic = traffic
        self.asked: list[tuple[str, dict[str, str], str | None]] = []

    def __call__(self, url: str, params: Mapping[str, str], token: str | None) -> Traffic:
        self.asked.append((url, dict(params), token))
        return self.traffic


def schedule_at(rate: float, **canary: Any) -> Any:
    return plan_schedule(settings(canary), "flutter-app", None, Measured(Traffic(rate, 0.005)))


def test_the_first_weight_rises_as_traffic_falls() -> None:
    assert schedule_at(500).steps == (5, 50, 100)
    assert schedule_at(5).steps == (25, 50, 100)
    assert schedule_at(1).steps == (25, 50, 100)
    # Never above maxFirstWeight: the share of users a total failure reaches first.
    assert schedule_at(5, maxFirstWeight=10).steps == (10, 50, 100)
    # Less traffic, longer gates, and the plan says how long.
    fast, slow = schedule_at(500), schedule_at(1)
    assert fast.reason.startswith("measured 500 req/s: steps 5, 50, 100; about ")
    minutes = [int(s.detail.split("about ")[1].split()[0]) for s in (fast, schedule_at(5), slow)]
    assert minutes == sorted(minutes) and minutes[0] < minutes[-1]


def test_the_gates_load_counts_as_canary_traffic() -> None:
    quiet = settings(gate={"url": "https://staging.example.com", "spec": {"load": {"rate": 5}}})
    schedule = plan_schedule(quiet, "flutter-app", None, Measured(Traffic(1.0, 0.005)))
    assert schedule is not None and schedule.steps[0] < schedule_at(1).steps[0]
    assert "and the gate's load of 5 req/s" in schedule.detail
    minutes = int(schedule.detail.split("about ")[1].split()[0])
    assert minutes < int(schedule_at(1).detail.split("about ")[1].split()[0])


@pytest.mark.parametrize("share", [None, float("nan"), 0.0, 0.5, 1.0, float("inf")])
def test_any_measured_error_share_gives_a_schedule(share: float | None) -> None:
    schedule = plan_schedule(settings(), "flutter-app", None, Measured(Traffic(5.0, share)))
    assert schedule is not None and schedule.steps[-1] == 100 and "about" in schedule.detail


def test_what_is_measured_and_with_which_token() -> None:
    measured = Measured(Traffic(5.0, 0.005))
    plan_schedule(settings(), "flutter-app", "a-token", measured)
    assert measured.asked == [
        (
            PROMETHEUS,
            {"namespace": "flutter-app-staging", "app": "flutter-app", "version": "stable"},
            "a-token",
        )
    ]


@pytest.mark.parametrize(
    ("traffic", "basis"),
    [
        (Traffic(None, None, "Prometheus unreachable"), "traffic not measured (Prometheus unreachable)"),
        (Traffic(0.0, None), "no traffic measured"),
    ],
)
def test_without_a_measurement_the_fixed_steps_and_why(traffic: Traffic, basis: str) -> None:
    schedule = plan_schedule(settings(), "flutter-app", None, Measured(traffic))
    assert schedule is not None and schedule.steps == (5, 25, 50, 100)
    assert schedule.reason == f"{basis}: the fixed steps 5, 25, 50, 100"


def test_without_prometheus_nothing_is_asked() -> None:
    measured = Measured(Traffic(5.0, 0.005))
    schedule = plan_schedule(settings(prometheusUrl=""), "flutter-app", None, measured)
    assert schedule is not None and schedule.steps == (5, 25, 50, 100)
    assert schedule.basis == "no Prometheus to measure the traffic (flutter-app:prometheusUrl)"
    assert measured.asked == []


def test_explicit_steps_are_not_scheduled() -> None:
    measured = Measured(Traffic(5.0, 0.005))
    assert plan_schedule(settings({"steps": [10, 100]}), "flutter-app", None, measured) is None
    assert measured.asked == []


def test_steps_below_the_full_test_rule_out_a_gross_failure_only() -> None:
    assert (
        accept_ratio(25) == GROSS_RATIO and accept_ratio(FULL_TEST_AT) is None and accept_ratio(100) is None
    )
    # Ruling out 10x takes far fewer requests than ruling out 3x (at 0.5 % errors, beta 1 %).
    assert requests_to_rule_out(0.005, GROSS_RATIO, 0.01) * 4 < requests_to_rule_out(0.005, 3, 0.01)


@pytest.mark.parametrize(
    ("canary", "expected"),
    [
        ({"steps": "fast"}, "expected auto or increasing weights"),
        ({"steps": [5, "x", 100]}, "expected auto or increasing weights"),
        ({"steps": [50, 25, 100]}, "expected auto or increasing weights ending at 100"),
        ({"maxFirstWeight": 0}, "maxFirstWeight"),
        ({"maxFirstWeight": 101}, "maxFirstWeight"),
    ],
)
def test_bad_steps_name_the_key(canary: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        settings(canary)
    assert expected in str(raised.value) and "canary" in str(raised.value)


def test_a_load_without_a_gate_url_is_refused_naming_the_key() -> None:
    # The gate would have no target to send it to (its spec parser refuses it too, later).
    with pytest.raises(ConfigError) as raised:
        settings(gate={"spec": {"load": {"rate": 5}}})
    assert "flutter-app:apps.flutter-app.gate.spec.load: needs gate.url" in str(raised.value)
