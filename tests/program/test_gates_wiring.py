"""Health gates wired into each release strategy, under the SDK's mock monitor: what each gate
checks, what re-runs it, and that traffic moves only after a gate (declared dependencies)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.validation import ConfigError
from gates.spec import parse_spec
from rollout.offline.engine import ProgramRun, Registration
from rollout.offline.render import clean
from tests.support.project import ROOT, edit_stack, run_stack

GATE = "pulumi-python:dynamic/gates:HealthGate"


def gates(run: ProgramRun) -> dict[str, Registration]:
    return {r.name: r for r in run.resources if r.type == GATE}


def urn_of(run: ProgramRun, name: str) -> str:
    return next(r.urn for r in run.resources if r.name == name)


def test_rolling_gate_probes_the_live_url_after_the_rollout() -> None:
    run = run_stack(ROOT, "dev")
    gate = gates(run)["flutter-app-live-gate"]
    spec = clean(gate.inputs["spec"])
    parse_spec(spec)  # the HealthGate provider will accept it
    assert spec["name"] == "flutter-app-live"
    assert spec["probes"] == [{"url": "https://dev.example.com/health", "max_response_time": 5}]
    assert "checks" not in spec  # dev has no Prometheus
    assert clean(gate.inputs["trigger"]) == {"image": "ghcr.io/example/flutter-app:1.4.2"}
    assert urn_of(run, "flutter-app-deployment") in gate.dependencies
    assert gate.parent.endswith("flutter-app:platform:Workload::flutter-app")


def test_blue_green_switch_waits_for_the_preview_gate() -> None:
    run = run_stack(ROOT, "production")
    found = gates(run)
    preview, live = found["flutter-app-preview-gate"], found["flutter-app-live-gate"]
    preview_spec, live_spec = clean(preview.inputs["spec"]), clean(live.inputs["spec"])
    assert preview_spec["probes"][0]["url"] == "https://preview.app.example.com/health"
    assert "checks" not in preview_spec
    assert live_spec["prometheus"] == {"url": "https://prometheus.example.com"}
    assert [(c["template"], c["max"], c["params"]["version"]) for c in live_spec["checks"]] == [
        ("error-rate", 0.05, "blue"),
        ("latency-avg", 2, "blue"),
        ("latency-p95", 5, "blue"),
    ]
    live_service = next(r for r in run.resources if r.name == "flutter-app-live")
    assert preview.urn in live_service.dependencies
    assert live_service.urn in live.dependencies
    assert urn_of(run, "flutter-app-green") in preview.dependencies


def set_canary(project: Path, **canary: Any) -> None:
    edit_stack(project, "staging", lambda c: c["flutter-app:apps"]["flutter-app"].update(canary=canary))


def test_canary_gate_after_each_weight_uses_the_canary_header(project: Path) -> None:
    set_canary(project, image="ghcr.io/example/flutter-app:1.5.0", weight=25)
    run = run_stack(project, "staging")
    gate = gates(run)["flutter-app-canary-gate"]
    spec = clean(gate.inputs["spec"])
    assert spec["probes"][0]["headers"] == {"canary": "true"}
    assert {c["params"]["version"] for c in spec["checks"]} == {"canary"}
    assert clean(gate.inputs["trigger"]) == {"image": "ghcr.io/example/flutter-app:1.5.0", "weight": 25}
    assert urn_of(run, "flutter-app-virtual-service") in gate.dependencies


def test_no_canary_gate_without_a_canary() -> None:
    assert sorted(gates(run_stack(ROOT, "staging"))) == ["flutter-app-stable-gate"]


def test_no_url_and_no_prometheus_means_no_gate_and_a_warning(project: Path) -> None:
    edit_stack(project, "test", lambda c: c["flutter-app:apps"]["flutter-app"].pop("gate"))
    run = run_stack(project, "test")
    assert not gates(run)
    assert any("no health gate for app flutter-app" in w for w in run.warnings)


def test_gate_spec_overrides_are_validated_naming_the_key(project: Path) -> None:
    edit_stack(
        project,
        "staging",
        lambda c: c["flutter-app:apps"]["flutter-app"]["gate"].update(spec={"interval": 0, "probes": []}),
    )
    with pytest.raises(ConfigError) as caught:
        run_stack(project, "staging")
    lines = [ln.strip() for ln in str(caught.value).splitlines()]
    assert (
        "- flutter-app:apps.flutter-app.gate.spec.probes: built from the app; set url / prometheusUrl instead"
        in lines
    )
    assert any(ln.startswith("- flutter-app:apps.flutter-app.gate.spec.interval: ") for ln in lines)


def test_gate_timing_from_config_reaches_the_gate(project: Path) -> None:
    edit_stack(
        project,
        "staging",
        lambda c: c["flutter-app:apps"]["flutter-app"]["gate"].update(spec={"interval": 15, "duration": 240}),
    )
    spec = clean(gates(run_stack(project, "staging"))["flutter-app-stable-gate"].inputs["spec"])
    assert (spec["interval"], spec["duration"]) == (15, 240)


def test_rolling_gate_checks_select_the_app_without_a_track(project: Path) -> None:
    # A rolling app's pods carry no `version` label: a version matcher would select nothing and
    # leave the gate without data.
    edit_stack(project, "test", lambda c: c.update({"flutter-app:prometheusUrl": "http://127.0.0.1:9090"}))
    spec = clean(gates(run_stack(project, "test"))["flutter-app-live-gate"].inputs["spec"])
    assert [c["params"] for c in spec["checks"]] == [
        {"namespace": "flutter-app-test", "app": "flutter-app"}
    ] * 3
    deployment = next(r for r in run_stack(project, "test").resources if r.name == "flutter-app-deployment")
    assert "version" not in deployment.inputs["spec"]["template"]["metadata"]["labels"]


def test_undo_at_weight_0_does_not_judge_the_failed_canary_again(project: Path) -> None:
    set_canary(project, image="ghcr.io/example/flutter-app:1.5.0", weight=0)
    assert sorted(gates(run_stack(project, "staging"))) == ["flutter-app-stable-gate"]


def test_promotion_gates_the_stable_track_when_traffic_returns_to_it(project: Path) -> None:
    new = "ghcr.io/example/flutter-app:1.5.0"

    def promote(weight: int) -> ProgramRun:
        edit_stack(
            project,
            "staging",
            lambda c: c["flutter-app:apps"]["flutter-app"].update(
                image=new, canary={"image": new, "weight": weight}
            ),
        )
        return run_stack(project, "staging")

    # Stable image set while the canary serves 100 %: the stable track serves nothing, no gate.
    assert sorted(gates(promote(100))) == ["flutter-app-canary-gate"]
    # Weight back to 0: the stable track (new image) is gated.
    stable = gates(promote(0))["flutter-app-stable-gate"]
    assert clean(stable.inputs["trigger"]) == {"image": new}


def test_only_the_canary_gate_compares_with_a_baseline(project: Path) -> None:
    live = clean(gates(run_stack(ROOT, "production"))["flutter-app-live-gate"].inputs["spec"])
    assert live["sequential"] == {"baseline_version": "blue"}  # itself: no baseline queries
    set_canary(project, image="ghcr.io/example/flutter-app:1.5.0", weight=5)
    canary = clean(gates(run_stack(project, "staging"))["flutter-app-canary-gate"].inputs["spec"])
    # The default baseline (version stable); below 50 % an auto schedule's step only rules out a
    # canary ten times worse before the weight rises (gates/schedule.py).
    assert canary["sequential"] == {"accept_ratio": 10.0}
    # Explicit steps are walked as written: every gate runs the full test.
    set_canary(project, image="ghcr.io/example/flutter-app:1.5.0", weight=5, steps=[5, 25, 50, 100])
    canary = clean(gates(run_stack(project, "staging"))["flutter-app-canary-gate"].inputs["spec"])
    assert "sequential" not in canary
