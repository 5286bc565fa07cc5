"""What an interrupted update leaves, as rollout says it (rollout/leftovers.py, rollout/recovery.py),
and history read over every page (rollout/stacks.py). The e2e tests produce each situation with
the real engine; these pin the reasoning on every combination."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rollout.configdiff import config_diff
from rollout.exit_codes import CommandError
from rollout.history import ConfigEntry
from rollout.leftovers import Leftovers, LockHolder, pending_operations
from rollout.locks import file_backend_locks
from rollout.recovery import refuse_leftovers
from rollout.stacks import HISTORY_PAGE_SIZE, StackAccess, StackLockedError

SINCE = datetime(2026, 12, 5, 10, 49, 24, tzinfo=UTC)


def lock(alive: bool | None) -> LockHolder:
    return LockHolder(4242, "ci-runner", "root", SINCE, alive, "locks/x.json")


def apps(image: str, active: str = "blue") -> dict[str, ConfigEntry]:
    value = {"flutter-app": {"image": image, "blueGreen": {"active": active}}}
    return {"flutter-app:apps": ConfigEntry(json.dumps(value), object_value=value, is_object=True)}


def test_a_lock_whose_holder_is_gone_is_an_interrupted_update() -> None:
    found = Leftovers("prod", locks=(lock(False),))
    assert found.interrupted and not found.clean
    with pytest.raises(CommandError) as refused:
        refuse_leftovers(found)
    text = str(refused.value)
    assert "left by an interrupted update" in text and "pid 4242 (root@ci-runner)" in text
    assert "which no longer runs" in text and "`rollout recover --stack prod`" in text
    assert "this command changed nothing" in text


def test_a_running_update_is_waited_for_not_recovered() -> None:
    for alive in (True, None):
        with pytest.raises(StackLockedError, match="an update may be running"):
            refuse_leftovers(Leftovers("prod", locks=(lock(alive),)))


def test_a_stack_file_no_update_ran_is_said_and_left_to_the_commands() -> None:
    drift = config_diff(apps("repo:1.4.2"), apps("repo:1.5.0", active="green"))
    found = Leftovers("prod", drift=drift)
    assert found.drifted and not found.interrupted and not found.clean
    refuse_leftovers(found)  # a release starts from what was deployed; a rollback replaces it all
    text = "\n".join(found.lines())
    assert 'flutter-app:apps.flutter-app.image: "repo:1.4.2" -> "repo:1.5.0"' in text
    assert 'flutter-app:apps.flutter-app.blueGreen.active: "blue" -> "green"' in text


def test_pending_operations_are_read_from_the_exported_state() -> None:
    urn = "urn:pulumi:prod::flutter-app::parent$pulumi-python:dynamic/gates:HealthGate::flutter-app-live-gate"
    state: dict[str, Any] = {
        "deployment": {"pending_operations": [{"resource": {"urn": urn}, "type": "updating"}]}
    }
    (pending,) = pending_operations(state)
    assert pending.describe() == "flutter-app-live-gate (pulumi-python:dynamic/gates:HealthGate): updating"
    assert pending_operations({"deployment": {}}) == [] == pending_operations({})
    assert Leftovers("prod", pending=(pending,)).interrupted


def test_file_backend_locks_name_their_holder_and_whether_it_runs(tmp_path: Path) -> None:
    directory = tmp_path / ".pulumi" / "locks" / "organization" / "flutter-app" / "prod"
    directory.mkdir(parents=True)
    (directory / "a.json").write_text(
        json.dumps(
            {"pid": 2**22 + 17, "username": "root", "hostname": "elsewhere", "timestamp": SINCE.isoformat()}
        )
    )
    (directory / "b.json").write_text("not json")
    (holder,) = file_backend_locks(f"file://{tmp_path}", "flutter-app", "prod")
    assert (holder.pid, holder.host, holder.alive) == (2**22 + 17, "elsewhere", None)
    assert file_backend_locks("s3://bucket", "flutter-app", "prod") == []


def test_history_is_read_over_every_page() -> None:
    entries = [
        {
            "version": 0,
            "kind": "update",
            "result": "succeeded",
            "startTime": "2026-12-05T10:00:00Z",
            "message": f"m{i}",
        }
        for i in range(HISTORY_PAGE_SIZE * 2 + 5)
    ]
    asked: list[list[str]] = []

    class Paged(StackAccess):
        def _run_json(self, args: list[str]) -> str:
            asked.append(args)
            size, page = int(args[args.index("--page-size") + 1]), int(args[args.index("--page") + 1])
            return json.dumps(entries[(page - 1) * size : page * size])

    history = Paged(Path("."), "prod", None).history(show_secrets=False)  # type: ignore[arg-type]
    assert len(asked) == 3 and len(history) == len(entries)
    # A file backend numbers nothing: every entry counts from the oldest, 1, over all pages.
    assert [e.version for e in history] == list(range(len(entries), 0, -1))
    assert [e.message for e in history] == [e["message"] for e in entries]
