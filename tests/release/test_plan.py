"""Pure tests of history parsing, rollback target selection, config diff and release step planning,
over fixtures in the exact JSON shape `pulumi stack history --json` prints."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from components.app_settings import AppSettings
from components.settings import parse_settings
from gates.schedule import Schedule
from rollout.configdiff import config_diff, diff_lines, project_defaults, unrestorable_keys
from rollout.history import (
    MASKED,
    UNDECRYPTABLE,
    HistoryFormatError,
    deployed_apps,
    entry_to_json,
    parse_config,
    parse_history_text,
    secret_values,
)
from rollout.plan import (
    Change,
    PlanError,
    app_path,
    deployed_state,
    plan_release,
    release_lines,
    select_target,
    with_state,
)
from tests.release import fixtures as fx


def history(show_secrets: bool = True, entries: list | None = None) -> list:
    return parse_history_text(fx.cli_json(entries or fx.production_history(), show_secrets=show_secrets))


# -- parsing ------------------------------------------------------------------------------------


def test_literal_cli_output_parses_with_objects_masked_secrets_and_in_progress() -> None:
    entries = parse_history_text(fx.LITERAL_MASKED)
    assert [e.version for e in entries] == [2, 1]
    newest = entries[0]
    assert newest.start_time == datetime(2026, 11, 20, 10, 15, 3, tzinfo=UTC)
    assert newest.duration == timedelta(seconds=102)
    assert newest.commit == "1b5949891b3cefcb9974752b24a5ecef0acc86c8"
    apps = newest.config["flutter-app:apps"]
    assert apps.is_object and apps.object_value["flutter-app"]["canary"]["weight"] == 25
    key = newest.config["flutter-app:firebaseApiKey"]
    assert key.secret and key.value is None and key.masked and not key.restorable
    assert newest.resource_changes == {"same": 11, "update": 2}
    oldest = entries[1]
    assert oldest.result == "in-progress" and oldest.end_time is None and oldest.duration is None
    assert oldest.commit is None and oldest.resource_changes is None


def test_history_is_sorted_newest_first_and_kinds_kept() -> None:
    entries = history()
    assert [(e.version, e.kind, e.result) for e in entries] == [
        (9, "refresh", "succeeded"),
        (8, "update", "failed"),
        (7, "update", "succeeded"),
        (6, "preview", "succeeded"),
        (5, "update", "succeeded"),
        (4, "update", "failed"),
    ]


def test_with_and_without_show_secrets() -> None:
    shown, masked = history(True)[2], history(False)[2]
    assert shown.config["flutter-app:firebaseApiKey"].value == fx.FIREBASE_V7
    assert shown.config["flutter-app:firebaseApiKey"].restorable
    assert masked.config["flutter-app:firebaseApiKey"].masked
    # Plain and object values are there either way.
    assert masked.config["flutter-app:apps"].object_value == shown.config["flutter-app:apps"].object_value
    assert masked.config["flutter-app:apiTimeoutSeconds"].value == "10"


def test_sdk_placeholder_and_undecryptable_values_are_not_restorable() -> None:
    config = parse_config(
        {
            "p:a": {"value": MASKED, "secret": True},
            "p:b": {"value": UNDECRYPTABLE, "secret": True},
            "p:c": {"value": "[secret]", "secret": False},
        }
    )
    assert unrestorable_keys(config) == ["p:a", "p:b"]
    assert config["p:c"].restorable  # a plain string that happens to read [secret] is a value


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        '[{"kind": "update", "startTime": "2026-11-20T10:15:03.000Z"}]',
        '[{"version": 1, "kind": "update", "startTime": "yesterday"}]',
        "not json",
    ],
)
def test_malformed_history_is_rejected(text: str) -> None:
    with pytest.raises(HistoryFormatError):
        parse_history_text(text)


def test_self_managed_backends_versions_are_numbered_by_position() -> None:
    """A file:// or s3:// backend reports every entry as version 0 (seen under the real CLI in the
    sandbox); the entries are numbered as Pulumi Cloud numbers them, oldest = 1."""
    raw = json.loads(fx.cli_json(fx.production_history(), show_secrets=False))
    listed = sorted(raw, key=lambda e: e["version"], reverse=True)  # the CLI lists newest first
    entries = parse_history_text(json.dumps([{**e, "version": 0} for e in listed]))
    assert [e.version for e in entries] == list(range(len(listed), 0, -1))
    assert [(e.kind, e.message) for e in entries] == [(e["kind"], e.get("message", "")) for e in listed]


def test_empty_history_output_is_an_empty_list() -> None:
    assert parse_history_text("[]") == [] == parse_history_text("")


def test_deployed_apps_apply_environment_strategy_defaults() -> None:
    entries = {e.version: e for e in history(False)}
    (v8,) = deployed_apps(entries[8].config)
    assert (v8.strategy, v8.image, v8.active) == ("blue-green", f"{fx.IMAGE}:1.5.0", "blue")
    assert v8.colour_images == {"blue": f"{fx.IMAGE}:1.5.0", "green": f"{fx.IMAGE}:1.4.3"}
    assert v8.summary() == "flutter-app 1.5.0 bg:blue (idle 1.4.3)"
    (staging,) = deployed_apps(parse_history_text(fx.LITERAL_MASKED)[0].config)
    assert (staging.strategy, staging.canary_image, staging.canary_weight) == (
        "canary",
        f"{fx.IMAGE}:1.5.0",
        25,
    )
    assert staging.summary() == "flutter-app 1.4.2 canary 1.5.0@25%"


def test_history_json_record_has_no_config_values() -> None:
    record = entry_to_json(history(True)[2])
    assert record["version"] == 7 and record["commit"] == "7" * 40 and record["durationSeconds"] == 109
    assert record["startTime"] == "2026-11-19T16:02:11Z"
    assert fx.FIREBASE_V7 not in json.dumps(record)
    assert record["apps"][0]["active"] == "green"


# -- rollback target ----------------------------------------------------------------------------


def test_previous_skips_refresh_preview_and_failed_entries() -> None:
    chosen = select_target(history(), previous=True)
    assert chosen.current.version == 8  # the newest update, failed: it decided what runs now
    assert chosen.target.version == 7


def test_previous_after_a_succeeded_update_is_the_one_before() -> None:
    entries = [e for e in history() if e.version <= 7]
    chosen = select_target(entries, previous=True)
    assert (chosen.current.version, chosen.target.version) == (7, 5)


def test_previous_passes_over_updates_that_ran_the_config_of_a_succeeded_current_one() -> None:
    # `rollout recover` (10) and a no-op `pulumi up` (11) redeployed version 7's config: going
    # "back" to them would change nothing, so --previous restores what ran before 7.
    recovered = [
        fx.entry(11, "update", "succeeded", "no-op", fx.production_config(7),
                 start="2026-11-22T09:00:00.000Z", end="2026-11-22T09:01:00.000Z"),
        fx.entry(10, "update", "succeeded", "recover: back to version 7", fx.production_config(7),
                 start="2026-11-21T09:00:00.000Z", end="2026-11-21T09:01:00.000Z"),
        *fx.production_history(),
    ]  # fmt: skip
    chosen = select_target(history(entries=recovered), previous=True)
    assert (chosen.current.version, chosen.target.version, chosen.skipped) == (11, 5, (10, 7))
    with pytest.raises(PlanError, match=r"ran another config \(versions 10, 7 ran the same\)"):
        select_target(history(entries=recovered[:2] + fx.production_history()[2:3]), previous=True)


def test_previous_after_a_failed_update_keeps_the_last_succeeded_one_whatever_its_config() -> None:
    # The failed update (8) may have left the cluster half way: 7's config is what to redeploy.
    failed = [
        fx.entry(8, "update", "failed", "switch", fx.production_config(7),
                 start="2026-11-20T10:15:03.000Z", end="2026-11-20T10:17:45.000Z"),
        *fx.production_history()[2:],
    ]  # fmt: skip
    chosen = select_target(history(entries=failed), previous=True)
    assert (chosen.target.version, chosen.skipped) == (7, ())


def test_to_must_be_a_succeeded_update_unless_forced() -> None:
    assert select_target(history(), to=5).target.version == 5
    for version in (4, 6, 9):  # failed update, preview, refresh
        with pytest.raises(PlanError, match="not a succeeded update"):
            select_target(history(), to=version)
        assert select_target(history(), to=version, force=True).target.version == version


def test_to_unknown_version() -> None:
    with pytest.raises(PlanError, match="no version 42"):
        select_target(history(), to=42)


def test_nothing_to_roll_back_to() -> None:
    with pytest.raises(PlanError, match="no history"):
        select_target([], previous=True)
    only_refresh = [e for e in history() if e.kind == "refresh"]
    with pytest.raises(PlanError, match="never been updated"):
        select_target(only_refresh, previous=True)
    oldest = [e for e in history() if e.version <= 5]
    with pytest.raises(PlanError, match="no succeeded update older"):
        select_target(oldest, previous=True)


def test_an_update_in_progress_blocks_rollback() -> None:
    entries = history(entries=fx.in_progress_history())
    with pytest.raises(PlanError, match="in progress"):
        select_target(entries, previous=True)
    with pytest.raises(PlanError, match="in progress"):
        select_target(entries, to=7)
    forced = select_target(entries, to=7, force=True)
    assert (forced.current.version, forced.target.version) == (10, 7)


def test_exactly_one_selector() -> None:
    with pytest.raises(PlanError):
        select_target(history(), previous=True, to=5)
    with pytest.raises(PlanError):
        select_target(history())


# -- config diff --------------------------------------------------------------------------------


def test_diff_added_changed_removed_with_secrets_masked() -> None:
    entries = {e.version: e for e in history()}
    diff = config_diff(entries[7].config, entries[5].config)
    assert [c.key for c in diff.added] == []
    assert [c.key for c in diff.changed] == [
        "flutter-app:apps",
        "flutter-app:firebaseApiKey",
        "flutter-app:logLevel",
    ]
    assert diff.removals == ["flutter-app:databasePassword"]
    text = "\n".join(diff_lines(diff))
    assert fx.FIREBASE_V5 not in text and fx.FIREBASE_V7 not in text and fx.DB_PASSWORD not in text
    assert "flutter-app:firebaseApiKey: [secret] -> [secret]" in text
    assert 'flutter-app:apps.flutter-app.blueGreen.active: "green" -> (unset)' in text
    assert (
        'flutter-app:apps.flutter-app.image: "ghcr.io/example/flutter-app:1.4.3" -> "ghcr.io/example/flutter-app:1.4.2"'
        in text
    )
    assert 'flutter-app:logLevel: "error" -> "warning"' in text
    assert "flutter-app:databasePassword (was [secret])" in text
    # Writes carry the target's real entries: secrets as secrets, objects as objects.
    writes = diff.writes
    assert (
        writes["flutter-app:firebaseApiKey"].secret
        and writes["flutter-app:firebaseApiKey"].value == fx.FIREBASE_V5
    )
    assert writes["flutter-app:apps"].is_object


def test_diff_of_identical_configs_is_empty() -> None:
    entries = {e.version: e for e in history()}
    diff = config_diff(entries[8].config, entries[9].config)
    assert diff.empty and diff_lines(diff) == [
        "  config: no changes (the target's config is the current config)"
    ]


def test_secretness_change_is_a_change() -> None:
    current = parse_config({"p:k": {"value": "v", "secret": False}})
    target = parse_config({"p:k": {"value": "v", "secret": True}})
    diff = config_diff(current, target)
    assert [c.key for c in diff.changed] == ["p:k"]
    assert diff_lines(diff)[-1].endswith("p:k: [secret] -> [secret] (becomes secret)")


def test_object_and_string_with_same_json_differ() -> None:
    current = parse_config({"p:k": {"value": '["a"]', "secret": False}})
    target = parse_config({"p:k": {"value": '["a"]', "objectValue": ["a"], "secret": False}})
    assert [c.key for c in config_diff(current, target).changed] == ["p:k"]


def test_project_defaults_are_not_removals() -> None:
    defaults = project_defaults(
        {"config": {"namespace": {"type": "string", "default": ""}, "databasePort": {"default": 5432}}}
    )
    assert defaults == {"flutter-app:namespace": "", "flutter-app:databasePort": "5432"}
    current = parse_config({"flutter-app:namespace": {"value": "", "secret": False}})
    assert config_diff(current, {}, project_defaults=defaults).empty
    assert config_diff(current, {}).removals == ["flutter-app:namespace"]


def test_secret_values_collected_for_masking() -> None:
    entries = {e.version: e for e in history()}
    values = secret_values(entries[7].config, entries[5].config)
    assert set(values) == {fx.FIREBASE_V5, fx.FIREBASE_V7, fx.DB_PASSWORD}


# -- release steps ------------------------------------------------------------------------------


def app_settings(environment: str, app: dict) -> AppSettings:
    raw = {
        k.removeprefix("flutter-app:"): v.get("objectValue", v["value"])
        for k, v in fx.base_config(environment).items()
    }
    raw["apps"] = {"flutter-app": app}
    return parse_settings(raw, stack=environment).apps["flutter-app"]


NEW = f"{fx.IMAGE}:1.5.0"
OLD = f"{fx.IMAGE}:1.4.2"


def test_canary_steps_walk_each_weight_then_promote_in_three_steps() -> None:
    app = app_settings("staging", {"image": OLD})
    plan = plan_release("flutter-app", app, NEW)
    assert plan.strategy == "canary"
    # canary.steps auto (the default) without a measurement: the fixed steps, and the history says so.
    assert plan.schedule == "traffic not measured: the fixed steps 5, 25, 50, 100"
    assert [s.message for s in plan.steps] == [
        "release flutter-app 1.5.0: canary 5% (auto: traffic not measured)",
        "release flutter-app 1.5.0: canary 25%",
        "release flutter-app 1.5.0: canary 50%",
        "release flutter-app 1.5.0: canary 100%",
        "release flutter-app 1.5.0: promote, stable track to 1.5.0",
        "release flutter-app 1.5.0: promote, traffic to the stable track",
        "release flutter-app 1.5.0: promoted, canary removed",
    ]
    weight = app_path("flutter-app", "canary", "weight")
    image = app_path("flutter-app", "image")
    assert dict(plan.steps[0].change.set) == {app_path("flutter-app", "canary", "image"): NEW, weight: "5"}
    assert dict(plan.steps[1].change.set) == {weight: "25"}
    for step in plan.steps[:4]:
        assert step.undo is not None and dict(step.undo.change.set) == {weight: "0"}
        assert "weight set back to 0" in step.undo.message
    # Promotion moves one thing per `up`: stable image (canary still at 100 %), traffic, canary pods.
    stable_image, traffic, removal = plan.steps[4:]
    assert dict(stable_image.change.set) == {image: NEW} and not stable_image.change.remove
    assert stable_image.undo is not None and dict(stable_image.undo.change.set) == {image: OLD}
    assert dict(traffic.change.set) == {weight: "0"}
    assert traffic.undo is not None and dict(traffic.undo.change.set) == {weight: "100"}
    assert not removal.change.set and removal.change.remove == ("flutter-app:apps.flutter-app.canary.image",)
    assert removal.undo is None


def test_a_measured_schedule_gives_the_weights_and_is_recorded() -> None:
    app = app_settings("staging", {"image": OLD})
    measured = Schedule((25, 50, 100), "measured 5 req/s", "steps 25, 50, 100; about 16 min of gates")
    plan = plan_release("flutter-app", app, NEW, schedule=measured)
    assert [s.name for s in plan.steps][:3] == ["canary 25%", "canary 50%", "canary 100%"]
    assert plan.steps[0].message == "release flutter-app 1.5.0: canary 25% (auto: measured 5 req/s)"
    assert (
        release_lines(plan)[1]
        == "  canary.steps auto: measured 5 req/s: steps 25, 50, 100; about 16 min of gates"
    )
    # Explicit steps are walked as written, whatever was measured.
    explicit = app_settings("staging", {"image": OLD, "canary": {"steps": [10, 100]}})
    plan = plan_release("flutter-app", explicit, NEW, schedule=measured)
    assert plan.schedule == "" and [s.name for s in plan.steps][:2] == ["canary 10%", "canary 100%"]


def test_canary_custom_steps() -> None:
    app = app_settings("staging", {"image": OLD, "canary": {"steps": [10, 100]}})
    plan = plan_release("flutter-app", app, NEW)
    assert [s.name for s in plan.steps] == [
        "canary 10%",
        "canary 100%",
        "promote: stable image",
        "promote: traffic to stable",
        "promote: remove canary",
    ]


def test_canary_already_running_is_refused() -> None:
    app = app_settings("staging", {"image": OLD, "canary": {"image": f"{fx.IMAGE}:1.4.9", "weight": 25}})
    with pytest.raises(PlanError, match="already runs a canary"):
        plan_release("flutter-app", app, NEW)


def test_blue_green_deploys_to_idle_then_switches() -> None:
    app = app_settings("production", {"image": OLD})
    plan = plan_release("flutter-app", app, NEW, scale_down_idle=True)
    assert [s.message for s in plan.steps] == [
        "release flutter-app 1.5.0: deploy to idle colour green (preview)",
        "release flutter-app 1.5.0: switch live traffic to green",
        "release flutter-app 1.5.0: release confirmed, scale down idle colour blue",
    ]
    bg = "flutter-app:apps.flutter-app.blueGreen"
    assert dict(plan.steps[0].change.set) == {
        f"{bg}.blueImage": OLD,  # the live colour pinned, so changing `image` never touches it
        f"{bg}.greenImage": NEW,
        f"{bg}.scaleDownIdle": "false",
    }
    assert plan.steps[0].undo is None  # the preview gate failing leaves live traffic untouched
    assert dict(plan.steps[1].change.set) == {
        f"{bg}.active": "green",
        "flutter-app:apps.flutter-app.image": NEW,
    }
    undo = plan.steps[1].undo
    assert undo is not None and dict(undo.change.set) == {
        f"{bg}.active": "blue",
        "flutter-app:apps.flutter-app.image": OLD,
    }
    assert dict(plan.steps[2].change.set) == {f"{bg}.scaleDownIdle": "true"}


def test_blue_green_from_green() -> None:
    app = app_settings("production", {"image": OLD, "blueGreen": {"active": "green"}})
    plan = plan_release("flutter-app", app, NEW)
    assert [s.name for s in plan.steps] == ["deploy to idle colour blue", "switch to blue"]


def test_rolling_is_one_step_and_strategy_must_match() -> None:
    app = app_settings("dev", {"image": OLD})
    plan = plan_release("flutter-app", app, f"{fx.IMAGE}@sha256:" + "a" * 64, strategy="rolling")
    assert [s.message for s in plan.steps] == ["release flutter-app @sha256:aaaaaaaaaaaa: rolling update"]
    with pytest.raises(PlanError, match="configured for rolling"):
        plan_release("flutter-app", app, NEW, strategy="canary")
    text = "\n".join(release_lines(plan))
    assert "(rolling, 1 step)" in text and "set flutter-app:apps.flutter-app.image" in text


# -- a release starts from what was deployed -----------------------------------------------------


def test_the_release_state_of_an_app_goes_back_to_what_was_deployed() -> None:
    committed = {"image": OLD, "replicas": 4, "blueGreen": {"active": "blue"}, "canary": {"weight": 0}}
    deployed = {
        "image": NEW,
        "replicas": 2,
        "blueGreen": {"active": "green", "greenImage": NEW, "scaleDownIdle": True},
    }
    start = deployed_state("web", committed, deployed)
    assert start.set == {
        "flutter-app:apps.web.image": NEW,
        "flutter-app:apps.web.blueGreen.active": "green",
        "flutter-app:apps.web.blueGreen.greenImage": NEW,
        "flutter-app:apps.web.blueGreen.scaleDownIdle": "true",
    }
    assert start.remove == ("flutter-app:apps.web.canary.weight",)
    # Only release state moves: how the app is deployed (replicas) stays as the file says.
    assert with_state(committed, start, "web") == {
        "image": NEW,
        "replicas": 4,
        "blueGreen": {"active": "green", "greenImage": NEW, "scaleDownIdle": True},
        "canary": {},
    }
    assert deployed_state("web", deployed, deployed) == Change()


def test_the_first_step_writes_the_deployed_state_with_its_own_change() -> None:
    app = app_settings("production", {"image": OLD, "blueGreen": {"active": "green"}})
    start = Change(
        {app_path("flutter-app", "blueGreen", "active"): "green"},
        (app_path("flutter-app", "canary", "image"),),
    )
    plan = plan_release("flutter-app", app, NEW, start=start)
    first = plan.steps[0].change
    assert first.set[app_path("flutter-app", "blueGreen", "active")] == "green"
    assert first.set[app_path("flutter-app", "blueGreen", "blueImage")] == NEW  # idle is blue
    assert first.remove == (app_path("flutter-app", "canary", "image"),)
    assert plan.steps[1].change == plan_release("flutter-app", app, NEW).steps[1].change
