"""CONTRACT tests of `rollout release`: the real Automation API against a stand-in `pulumi` CLI
(tests/release/fakecli), not against Pulumi. They pin each step's config write (one `config
set-all --path` per step, plus `config rm --path` at promotion) and `up --message`, that a failed
gate undoes traffic before exiting 1, and that refusals change nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.release import fixtures as fx
from tests.release.conftest import FakeCli
from tests.support.app import ScriptedServer

NEW = f"{fx.IMAGE}:1.5.0"
NEWER = f"{fx.IMAGE}:1.6.0"
OLD = f"{fx.IMAGE}:1.4.2"
APP = "flutter-app:apps.flutter-app"


def apps(fake: FakeCli, stack: str) -> Any:
    return fake.stack(stack)["config"]["flutter-app:apps"]["objectValue"]["flutter-app"]


def gate_fails(fake: FakeCli, stack: str, match: str) -> None:
    text = "health gate 'flutter-app-canary' fail: error rate 0.12 above max 0.05"
    fake.edit(stack, lambda s: s.__setitem__("up", [{"match": match, "fail": "gate", "text": text}]))


def test_canary_walks_every_weight_then_promotes(fake: FakeCli, webhook: ScriptedServer) -> None:
    result = fake.run(
        "release", "--stack", "staging", "--image", NEW, "--yes", env={"ROLLOUT_WEBHOOK_URL": webhook.url}
    )
    assert result.code == 0, result.err
    assert fake.up_messages() == [
        "release flutter-app 1.5.0: canary 5%",
        "release flutter-app 1.5.0: canary 25%",
        "release flutter-app 1.5.0: canary 50%",
        "release flutter-app 1.5.0: canary 100%",
        "release flutter-app 1.5.0: promote, stable track to 1.5.0",
        "release flutter-app 1.5.0: promote, traffic to the stable track",
        "release flutter-app 1.5.0: promoted, canary removed",
    ]
    writes = fake.writes()
    assert writes[0] == [
        "config", "set-all", "--stack", "staging", "--path",
        "--plaintext", f"{APP}.canary.image={NEW}", "--plaintext", f"{APP}.canary.weight=5",
    ]  # fmt: skip
    assert writes[2] == [
        "config",
        "set-all",
        "--stack",
        "staging",
        "--path",
        "--plaintext",
        f"{APP}.canary.weight=25",
    ]
    promotion = [w for w in writes if w[0] == "config"][-3:]
    assert promotion == [
        ["config", "set-all", "--stack", "staging", "--path", "--plaintext", f"{APP}.image={NEW}"],
        ["config", "set-all", "--stack", "staging", "--path", "--plaintext", f"{APP}.canary.weight=0"],
        ["config", "rm", f"{APP}.canary.image", "--stack", "staging", "--path"],
    ]
    # Every step is one config change and one up, so every step is in the stack's history.
    assert [w[0] for w in writes] == ["config", "up"] * 7
    assert apps(fake, "staging") == {"image": NEW, "canary": {"weight": 0}}
    history = fake.stack("staging")["history"]
    assert [h["message"] for h in history[:2]] == [
        "release flutter-app 1.5.0: promoted, canary removed",
        "release flutter-app 1.5.0: promote, traffic to the stable track",
    ]
    assert "[1/7] canary 5%" in result.err and "[7/7] promote: remove canary: done" in result.err
    assert [r.json()["status"] for r in webhook.received] == ["pass"]
    assert fx.FIREBASE_V7 not in result.out + result.err


def test_failed_canary_gate_undoes_traffic_first_then_exits_1(fake: FakeCli, webhook: ScriptedServer) -> None:
    gate_fails(fake, "staging", "canary 25%")
    result = fake.run(
        "release", "--stack", "staging", "--image", NEW, "--yes", env={"ROLLOUT_WEBHOOK_URL": webhook.url}
    )
    assert result.code == 1
    assert fake.up_messages() == [
        "release flutter-app 1.5.0: canary 5%",
        "release flutter-app 1.5.0: canary 25%",
        "release flutter-app 1.5.0: canary failed at 25%, weight set back to 0",
    ]
    assert fake.writes()[-2] == [
        "config",
        "set-all",
        "--stack",
        "staging",
        "--path",
        "--plaintext",
        f"{APP}.canary.weight=0",
    ]
    assert apps(fake, "staging") == {"image": OLD, "canary": {"image": NEW, "weight": 0}}
    assert (
        "FAILED: gate failed: health gate 'flutter-app-canary' fail: error rate 0.12 above max 0.05"
        in result.err
    )
    assert "evaluation 2 (+10.0 s): fail" in result.err  # the gate's report
    assert "traffic undone" in result.out
    (posted,) = [r.json() for r in webhook.received]
    assert posted["status"] == "fail" and posted["event"] == "release"
    assert "step 2/7 (canary 25%) failed" in posted["reason"] and "traffic undone" in posted["reason"]


def test_rollback_on_failure_then_redeploys_the_version_before_the_release(fake: FakeCli) -> None:
    gate_fails(fake, "staging", "canary 50%")
    before = fake.stack("staging")["config"]
    result = fake.run("release", "--stack", "staging", "--image", NEW, "--yes", "--rollback-on-failure")
    assert result.code == 1
    assert fake.up_messages()[-2:] == [
        "release flutter-app 1.5.0: canary failed at 50%, weight set back to 0",
        "rollback to version 1 (from 5)",
    ]
    assert fake.stack("staging")["config"] == before
    assert "rolled back to version 1" in result.out


def test_blue_green_deploys_to_idle_then_switches(fake: FakeCli) -> None:
    result = fake.run(
        "release", "--stack", "production", "--image", NEWER, "--yes", "--strategy", "blue-green"
    )
    assert result.code == 0, result.err
    assert fake.up_messages() == [
        "release flutter-app 1.6.0: deploy to idle colour green (preview)",
        "release flutter-app 1.6.0: switch live traffic to green",
    ]
    bg = f"{APP}.blueGreen"
    assert fake.writes()[0] == [
        "config", "set-all", "--stack", "production", "--path",
        "--plaintext", f"{bg}.blueImage={NEW}", "--plaintext", f"{bg}.greenImage={NEWER}",
        "--plaintext", f"{bg}.scaleDownIdle=false",
    ]  # fmt: skip
    assert apps(fake, "production") == {
        "image": NEWER,
        "blueGreen": {"active": "green", "blueImage": NEW, "greenImage": NEWER, "scaleDownIdle": False},
    }


def test_blue_green_live_gate_failure_switches_back(fake: FakeCli) -> None:
    gate_fails(fake, "production", "switch live traffic to green")
    result = fake.run("release", "--stack", "production", "--image", NEWER, "--yes")
    assert result.code == 1
    assert fake.up_messages()[-1] == "release flutter-app 1.6.0: switch live traffic back to blue"
    live = apps(fake, "production")
    assert live["blueGreen"]["active"] == "blue" and live["image"] == NEW
    assert live["blueGreen"]["greenImage"] == NEWER  # the new colour stays up for inspection


def test_rolling_is_one_step(fake: FakeCli) -> None:
    result = fake.run("release", "--stack", "dev", "--image", NEW)
    assert result.code == 0, result.err
    assert fake.writes() == [
        ["config", "set-all", "--stack", "dev", "--path", "--plaintext", f"{APP}.image={NEW}"],
        [
            "up",
            "--yes",
            "--skip-preview",
            "--message",
            "release flutter-app 1.5.0: rolling update",
            "--exec-kind",
            "auto.local",
            "--stack",
            "dev",
        ],
    ]


def test_dry_run_prints_steps_and_changes_nothing(fake: FakeCli) -> None:
    result = fake.run("release", "--stack", "staging", "--image", NEW, "--dry-run")
    assert result.code == 0
    assert "7. promote: remove canary: up --message" in result.out and fake.writes() == []


def test_a_bad_image_is_refused_before_the_cli_runs(fake: FakeCli) -> None:
    result = fake.run("release", "--stack", "dev", "--image", "not an image")
    assert result.code == 2 and "--image 'not an image': expected an image reference" in result.err
    assert fake.calls() == []


def test_refusals_change_nothing(fake: FakeCli) -> None:
    cases = [
        (("release", "--stack", "dev", "--image", NEW, "--strategy", "canary"), 2, "configured for rolling"),
        (("release", "--stack", "dev", "--image", NEW, "--app", "api"), 2, "no app 'api'"),
        (("release", "--stack", "staging", "--image", NEW), 2, "--yes"),  # staging asks; no terminal
        (("release", "--stack", "nope", "--image", NEW), 2, "stack 'nope' not found"),
    ]
    for argv, code, message in cases:
        result = fake.run(*argv)
        assert (result.code, message in result.err) == (code, True), (argv, result.err)
    assert fake.writes() == []


def test_already_live_image_is_a_no_op(fake: FakeCli) -> None:
    result = fake.run("release", "--stack", "dev", "--image", OLD)
    assert result.code == 0 and "nothing to release" in result.out and fake.writes() == []


def test_locked_stack_reverts_the_step_and_exits_1(fake: FakeCli) -> None:
    fake.edit("dev", lambda s: s.__setitem__("up", [{"match": "rolling", "fail": "locked"}]))
    before = fake.stack("dev")
    result = fake.run("release", "--stack", "dev", "--image", NEW)
    assert result.code == 1 and "locked by another update" in result.err
    assert fake.stack("dev")["config"] == before["config"]
    assert fake.stack("dev")["history"] == before["history"]
    restore = fake.writes()[-1]
    assert restore[:2] == ["config", "set-all"] and json.loads(restore[-1])["flutter-app:apps"][
        "objectValue"
    ] == {"flutter-app": {"image": OLD}}


def test_interrupted_step_puts_the_config_back_and_exits_130(
    fake: FakeCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CONTRACT test: Ctrl-C while a step's `up` runs (simulated in StackAccess.up)."""
    from rollout.stacks import StackAccess

    def interrupted(self: StackAccess, message: str, on_output: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(StackAccess, "up", interrupted)
    before = fake.stack("dev")
    result = fake.run("release", "--stack", "dev", "--image", NEW)
    assert result.code == 130
    assert (
        "interrupted during step 1/1 (rolling update): the config is back to before that step" in result.err
    )
    assert fake.stack("dev")["config"] == before["config"]
