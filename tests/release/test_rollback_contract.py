"""CONTRACT tests of `rollout rollback` and `rollout history`: the real Automation API against a
stand-in `pulumi` CLI (tests/release/fakecli), not against Pulumi. They pin the exact calls made —
config writes with secrets passed as secrets with their real values, never a placeholder, the
`up` message — and that every refusal changes nothing."""

from __future__ import annotations

import io
import json

import pytest

from rollout.cli import main
from tests.release import fixtures as fx
from tests.release.conftest import FakeCli
from tests.support.app import ScriptedServer

SECRETS = (fx.FIREBASE_V5, fx.FIREBASE_V7, fx.DB_PASSWORD)


def no_placeholder_written(fake: FakeCli) -> None:
    for argv in fake.writes():
        text = json.dumps(argv)
        assert "[secret]" not in text and "ERROR_UNABLE_TO_DECRYPT" not in text


def test_previous_restores_the_last_good_config_exactly(fake: FakeCli, webhook: ScriptedServer) -> None:
    before = fake.stack("production")["config"]
    result = fake.run(
        "rollback", "--stack", "production", "--previous", "--yes", env={"ROLLOUT_WEBHOOK_URL": webhook.url}
    )
    assert result.code == 0, result.err
    argvs = fake.argvs()
    assert argvs[0] == ["version"]
    assert argvs[1] == ["stack", "select", "--stack", "production"]
    assert ["stack", "history", "--json", "--show-secrets", "--stack", "production"] in argvs
    assert ["config", "--show-secrets", "--json", "--stack", "production"] in argvs
    writes = fake.writes()
    # Versions 8 -> 7: apps and featureBeta differ, secrets are equal, nothing to remove.
    assert [w[:4] for w in writes] == [
        ["config", "set-all", "--stack", "production"],
        ["up", "--yes", "--skip-preview", "--message"],
    ]
    sent = json.loads(writes[0][writes[0].index("--json") + 1])
    target = fx.production_config(7)
    assert sent == {
        "flutter-app:apps": target["flutter-app:apps"],
        "flutter-app:featureBeta": {"value": "false", "secret": False},
    }
    assert writes[1] == [
        "up", "--yes", "--skip-preview", "--message", "rollback to version 7 (from 8)",
        "--exec-kind", "auto.local", "--stack", "production",
    ]  # fmt: skip
    after = fake.stack("production")
    assert after["config"] == target and after["config"] != before
    assert after["history"][0]["message"] == "rollback to version 7 (from 8)"
    assert "rollback to version 7 (from 8)" in result.out
    assert "target:  version 7" in result.out and "commit:  " + "7" * 40 in result.out
    assert not any(secret in result.out + result.err for secret in SECRETS)
    (posted,) = [r.json() for r in webhook.received]
    assert posted == {
        "event": "rollback",
        "operation": "rollback production",
        "status": "pass",
        "reason": "rollback to version 7 (from 8) succeeded",
    }
    no_placeholder_written(fake)


def test_to_restores_secrets_as_secrets_and_removes_absent_keys(fake: FakeCli) -> None:
    result = fake.run("rollback", "--stack", "production", "--to", "5", "--yes")
    assert result.code == 0, result.err
    set_all, rm_all, set_secret, up = fake.writes()
    sent = json.loads(set_all[set_all.index("--json") + 1])
    # Secret strings travel on stdin, never on a command line: `config set KEY --secret`.
    assert "flutter-app:firebaseApiKey" not in sent
    assert set_secret == ["config", "set", "flutter-app:firebaseApiKey", "--secret", "--stack", "production"]
    assert not any(fx.FIREBASE_V5 in arg for argv in fake.argvs() for arg in argv)
    assert sent["flutter-app:apps"]["objectValue"] == {"flutter-app": {"image": f"{fx.IMAGE}:1.4.2"}}
    assert sent["flutter-app:logLevel"] == {"value": "warning", "secret": False}
    assert rm_all == ["config", "rm-all", "--stack", "production", "flutter-app:databasePassword"]
    assert up[4] == "rollback to version 5 (from 8)"
    assert fake.stack("production")["config"] == fx.production_config(5)
    # The plan masks every secret; the diff names the keys.
    assert "flutter-app:firebaseApiKey: [secret] -> [secret]" in result.out
    assert "flutter-app:databasePassword (was [secret])" in result.out
    assert not any(secret in result.out + result.err for secret in SECRETS)
    no_placeholder_written(fake)


def test_dry_run_prints_the_plan_and_changes_nothing(fake: FakeCli) -> None:
    result = fake.run("rollback", "--stack", "production", "--to", "5", "--dry-run")
    assert result.code == 0
    assert fake.writes() == []
    assert "removed:" in result.out and "dry run" in result.err
    assert fake.stack("production")["config"] == fx.production_config(8)


def test_production_without_terminal_or_yes_refuses(fake: FakeCli) -> None:
    result = fake.run("rollback", "--stack", "production", "--previous", tty=False)
    assert result.code == 2
    assert "--yes" in result.err and fake.writes() == []


def test_production_asks_and_a_no_changes_nothing(fake: FakeCli) -> None:
    result = fake.run("rollback", "--stack", "production", "--previous", tty=True, answer="n\n")
    assert result.code == 2 and "[y/N]" in result.err and "not approved" in result.err
    assert fake.writes() == []
    result = fake.run("rollback", "--stack", "production", "--previous", tty=True, answer="yes\n")
    assert result.code == 0 and fake.up_messages() == ["rollback to version 7 (from 8)"]


def test_through_main_stdin_is_no_terminal(fake: FakeCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # a pipe, as in CI: never taken as approval
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["--cwd", str(fake.project), "rollback", "--stack", "production", "--previous"], out=out, err=err
    )
    assert code == 2 and "no terminal" in err.getvalue() and fake.writes() == []


def test_undecryptable_secret_refuses_and_changes_nothing(fake: FakeCli) -> None:
    fake.edit(
        "production", lambda s: s["history"][2].__setitem__("undecryptable", ["flutter-app:firebaseApiKey"])
    )
    result = fake.run("rollback", "--stack", "production", "--previous", "--yes")
    assert result.code == 2
    assert "flutter-app:firebaseApiKey" in result.err and "PULUMI_CONFIG_PASSPHRASE" in result.err
    assert "nothing was changed" in result.err
    assert fake.writes() == []


def test_without_passphrase_refuses_and_says_how(fake: FakeCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    result = fake.run("rollback", "--stack", "production", "--previous", "--yes")
    assert result.code == 2
    assert "cannot be decrypted" in result.err and "PULUMI_CONFIG_PASSPHRASE" in result.err
    assert fake.writes() == []
    # Every call the CLI got is recorded with the environment it ran in.
    assert all("PULUMI_CONFIG_PASSPHRASE" not in c["env"] for c in fake.calls())


def test_locked_stack_reports_and_leaves_config_as_it_was(fake: FakeCli, webhook: ScriptedServer) -> None:
    fake.edit("production", lambda s: s.__setitem__("up", [{"match": "rollback", "fail": "locked"}]))
    before = fake.stack("production")
    result = fake.run(
        "rollback", "--stack", "production", "--to", "5", "--yes", env={"ROLLOUT_WEBHOOK_URL": webhook.url}
    )
    assert result.code == 1
    assert "locked by another update" in result.err
    after = fake.stack("production")
    assert after["config"] == before["config"] and after["history"] == before["history"]
    assert [r.json()["status"] for r in webhook.received] == ["fail"]
    no_placeholder_written(fake)


def test_failed_gate_during_rollback_exits_1_and_notifies(fake: FakeCli, webhook: ScriptedServer) -> None:
    fake.edit(
        "production",
        lambda s: s.__setitem__(
            "up",
            [
                {
                    "match": "rollback",
                    "fail": "gate",
                    "text": "health gate 'flutter-app-live' fail: error rate 0.12 above max 0.05",
                }
            ],
        ),
    )
    result = fake.run(
        "rollback", "--stack", "production", "--previous", "--yes", env={"ROLLOUT_WEBHOOK_URL": webhook.url}
    )
    assert result.code == 1
    assert "gate failed: health gate 'flutter-app-live' fail: error rate 0.12 above max 0.05" in result.err
    (posted,) = [r.json() for r in webhook.received]
    assert posted["status"] == "fail" and "error rate 0.12" in posted["reason"]


def test_webhook_down_never_changes_the_exit_code(fake: FakeCli) -> None:
    result = fake.run(
        "rollback",
        "--stack",
        "production",
        "--previous",
        "--yes",
        env={"ROLLOUT_WEBHOOK_URL": "http://127.0.0.1:9/hook"},
    )
    assert result.code == 0
    assert "webhook delivery failed (connection failed)" in result.err
    assert "127.0.0.1:9" not in result.err  # the URL is a secret


def test_missing_stack_and_empty_history(fake: FakeCli) -> None:
    result = fake.run("rollback", "--stack", "nope", "--previous", "--yes")
    assert result.code == 2 and "stack 'nope' not found" in result.err
    result = fake.run("rollback", "--stack", "empty", "--previous", "--yes")
    assert result.code == 2 and "no history" in result.err
    assert fake.writes() == []


def test_to_a_failed_update_needs_force(fake: FakeCli) -> None:
    result = fake.run("rollback", "--stack", "production", "--to", "4", "--yes")
    assert result.code == 2 and "--force" in result.err and fake.writes() == []
    result = fake.run("rollback", "--stack", "production", "--to", "4", "--yes", "--force")
    assert result.code == 0 and fake.up_messages() == ["rollback to version 4 (from 8)"]


def test_dev_needs_no_approval(fake: FakeCli) -> None:
    fake.run("release", "--stack", "dev", "--image", f"{fx.IMAGE}:1.5.0")
    fake.reset_calls()
    result = fake.run("rollback", "--stack", "dev", "--previous", tty=False)
    assert result.code == 0, result.err
    assert fake.up_messages() == ["rollback to version 1 (from 2)"]


def test_history_table_and_json_need_no_passphrase(fake: FakeCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    result = fake.run("history", "--stack", "production")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == [
        "VERSION",
        "KIND",
        "RESULT",
        "STARTED",
        "(UTC)",
        "DURATION",
        "COMMIT",
        "DEPLOYED",
        "MESSAGE",
    ]
    assert lines[1].split()[:3] == ["9", "refresh", "succeeded"]
    assert "flutter-app 1.5.0 bg:blue (idle 1.4.3)" in lines[2] and "2m42s" in lines[2]
    assert ["stack", "history", "--json", "--stack", "production"] in fake.argvs()
    result = fake.run("history", "--stack", "production", "--json", "--limit", "2")
    records = json.loads(result.out)
    assert [r["version"] for r in records] == [9, 8]
    assert records[1]["apps"][0]["images"] == {"blue": f"{fx.IMAGE}:1.5.0", "green": f"{fx.IMAGE}:1.4.3"}
    assert records[1]["commit"] == "8" * 40 and records[1]["result"] == "failed"
