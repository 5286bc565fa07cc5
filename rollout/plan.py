"""Pure planning for rollback and release: which history entry to restore, what config changes,
and which steps a release walks. No I/O; every decision here is unit-tested over history fixtures.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from components.app_settings import AppSettings
from components.settings import PROJECT
from rollout.history import MASKED, ConfigEntry, ConfigMap, HistoryEntry, short_image


class PlanError(ValueError):
    """The request cannot be planned (bad version, nothing to roll back to, ...): bad input."""


# -- rollback target ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RollbackTarget:
    current: HistoryEntry
    """The newest update: the one that decided what runs now (it may have failed)."""
    target: HistoryEntry


def _describe(entry: HistoryEntry) -> str:
    return f"version {entry.version} ({entry.kind}, {entry.result or 'no result'})"


def select_target(
    history: Sequence[HistoryEntry], *, previous: bool = False, to: int | None = None, force: bool = False
) -> RollbackTarget:
    """Pick the entry whose config a rollback restores.

    ``previous``: the newest succeeded update older than the current one, the current one being
    the newest update of any result (refreshes, previews and other kinds never count).
    ``to``: that version, which must be a succeeded update unless ``force``.
    """
    if previous == (to is not None):
        raise PlanError("give exactly one of --previous and --to VERSION")
    if not history:
        raise PlanError("the stack has no history: nothing to roll back to")
    ordered = sorted(history, key=lambda e: e.version, reverse=True)
    updates = [e for e in ordered if e.is_update]
    if not updates:
        raise PlanError(
            "the stack has never been updated (its history has no update): nothing to roll back to"
        )
    current = updates[0]
    if current.result == "in-progress" and not force:
        raise PlanError(
            f"version {current.version} is still in progress: wait for it to finish (or, if it "
            "was interrupted, `pulumi cancel` / `pulumi stack export|import` first)"
        )
    if previous:
        older = [e for e in updates if e.version < current.version and e.succeeded_update]
        if not older:
            raise PlanError(
                f"no succeeded update older than the current version {current.version}: nothing to roll back to"
            )
        return RollbackTarget(current, older[0])
    by_version = {e.version: e for e in ordered}
    assert to is not None
    if to not in by_version:
        known = ", ".join(str(v) for v in sorted(by_version)[-10:])
        raise PlanError(f"--to {to}: the stack has no version {to} (latest versions: {known})")
    target = by_version[to]
    if not target.succeeded_update and not force:
        raise PlanError(
            f"--to {to}: {_describe(target)} is not a succeeded update; only succeeded updates are "
            "rollback targets (use --force to restore its config anyway)"
        )
    return RollbackTarget(current, target)


# -- config diff --------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyChange:
    key: str
    before: ConfigEntry | None
    after: ConfigEntry | None


@dataclass(frozen=True)
class ConfigDiff:
    added: tuple[KeyChange, ...] = ()
    changed: tuple[KeyChange, ...] = ()
    removed: tuple[KeyChange, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)

    @property
    def writes(self) -> dict[str, ConfigEntry]:
        """Keys to write (added and changed), with the target's entries."""
        return {c.key: c.after for c in (*self.added, *self.changed) if c.after is not None}

    @property
    def removals(self) -> list[str]:
        return [c.key for c in self.removed]


def config_diff(
    current: ConfigMap, target: ConfigMap, *, project_defaults: Mapping[str, str] | None = None
) -> ConfigDiff:
    """What changes when ``target`` replaces ``current``.

    A key absent from the target but present now only as the project's declared default (from
    Pulumi.yaml, which `pulumi config --json` lists too) is not a difference.
    """
    defaults = project_defaults or {}
    added, changed, removed = [], [], []
    for key in sorted(set(current) | set(target)):
        before, after = current.get(key), target.get(key)
        if before is None and after is not None:
            added.append(KeyChange(key, None, after))
        elif after is None and before is not None:
            if not before.secret and not before.is_object and defaults.get(key) == before.value:
                continue
            removed.append(KeyChange(key, before, None))
        elif before is not None and after is not None and not before.same_as(after):
            changed.append(KeyChange(key, before, after))
    return ConfigDiff(tuple(added), tuple(changed), tuple(removed))


def unrestorable_keys(config: ConfigMap) -> list[str]:
    """Keys whose real value is not in hand (masked or undecryptable secrets)."""
    return sorted(key for key, entry in config.items() if not entry.restorable)


def show_value(entry: ConfigEntry | None) -> str:
    if entry is None:
        return "(unset)"
    if entry.secret:
        return MASKED
    if entry.is_object:
        return json.dumps(entry.object_value, sort_keys=True, separators=(",", ":"))
    return json.dumps(entry.value)


def _leaves(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_leaves(item, f"{prefix}.{key}"))
        return out
    if isinstance(value, list) and value and any(isinstance(v, Mapping | list) for v in value):
        out = {}
        for index, item in enumerate(value):
            out.update(_leaves(item, f"{prefix}[{index}]"))
        return out
    return {prefix: value}


def describe_change(change: KeyChange) -> list[str]:
    """Lines describing one change; objects diffed leaf by leaf, secrets always masked."""
    before, after = change.before, change.after
    both_plain_objects = (
        before is not None
        and after is not None
        and before.is_object
        and after.is_object
        and not (before.secret or after.secret)
    )
    if both_plain_objects:
        assert before is not None and after is not None
        old, new = _leaves(before.object_value, change.key), _leaves(after.object_value, change.key)
        lines = []
        for leaf in sorted(set(old) | set(new)):
            if old.get(leaf, _MISSING) != new.get(leaf, _MISSING):
                lines.append(f"{leaf}: {_leaf(old.get(leaf, _MISSING))} -> {_leaf(new.get(leaf, _MISSING))}")
        return lines or [f"{change.key}: {show_value(before)} -> {show_value(after)}"]
    if before is None:
        return [f"{change.key} = {show_value(after)}{' (secret)' if after and after.secret else ''}"]
    if after is None:
        return [f"{change.key} (was {show_value(before)})"]
    if before.secret != after.secret:
        # Either side secret: mask both, a value on its way into a secret is one too.
        note = " (becomes secret)" if after.secret else " (becomes plain)"
        return [f"{change.key}: {MASKED} -> {MASKED}{note}"]
    return [f"{change.key}: {show_value(before)} -> {show_value(after)}"]


_MISSING: Final = object()


def _leaf(value: Any) -> str:
    return "(unset)" if value is _MISSING else json.dumps(value)


def diff_lines(diff: ConfigDiff) -> list[str]:
    if diff.empty:
        return ["  config: no changes (the target's config is the current config)"]
    lines = []
    for title, changes in (("added", diff.added), ("changed", diff.changed), ("removed", diff.removed)):
        if changes:
            lines.append(f"  {title}:")
            lines += [f"    {line}" for change in changes for line in describe_change(change)]
    return lines


def project_defaults(project: Mapping[str, Any], name: str = PROJECT) -> dict[str, str]:
    """Declared defaults of Pulumi.yaml's ``config:``, as `pulumi config --json` shows them."""
    declared = project.get("config")
    out: dict[str, str] = {}
    if not isinstance(declared, Mapping):
        return out
    for key, spec in declared.items():
        if isinstance(spec, Mapping) and "default" in spec:
            default = spec["default"]
            text = json.dumps(default) if not isinstance(default, str) else default
            if isinstance(default, bool):
                text = "true" if default else "false"
            out[key if ":" in str(key) else f"{name}:{key}"] = text
    return out


# -- release steps ------------------------------------------------------------------------------


def app_path(app: str, *parts: str) -> str:
    """A `config set --path` key inside ``flutter-app:apps``: ``flutter-app:apps.web.canary.weight``."""
    return ".".join([f"{PROJECT}:apps", app, *parts])


@dataclass(frozen=True)
class Change:
    """One config change: values set by path (plain), keys removed by path."""

    set: Mapping[str, str] = field(default_factory=dict)
    remove: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        return [f"set {k} = {v}" for k, v in self.set.items()] + [f"remove {k}" for k in self.remove]


@dataclass(frozen=True)
class Step:
    """One config change plus one `pulumi up`; ``undo`` puts traffic back if its gate fails."""

    name: str
    message: str
    change: Change
    undo: Step | None = None


@dataclass(frozen=True)
class ReleasePlan:
    app: str
    strategy: str
    image: str
    previous_image: str
    steps: tuple[Step, ...]


def plan_release(
    app_name: str, app: AppSettings, image: str, *, strategy: str | None = None, scale_down_idle: bool = False
) -> ReleasePlan:
    """The steps that release ``image`` for one app, by the app's configured strategy.

    ``strategy``, when given, must equal the configured one: a release never changes how an app is
    deployed (that is a reviewed config change of its own).
    """
    configured = app.strategy
    if strategy is not None and strategy != configured:
        raise PlanError(
            f"--strategy {strategy}: app {app_name} is configured for {configured} "
            f"({PROJECT}:apps.{app_name}.strategy, or the environment's default); a release uses the "
            "configured strategy, change the config to switch strategies"
        )
    prefix = f"release {app_name} {short_image(image)}"
    if configured == "canary":
        steps = _canary_steps(app_name, app, image, prefix)
    elif configured == "blue-green":
        steps = _blue_green_steps(app_name, app, image, prefix, scale_down_idle)
    else:
        steps = (
            Step("rolling update", f"{prefix}: rolling update", Change({app_path(app_name, "image"): image})),
        )
    return ReleasePlan(app_name, configured, image, app.image, steps)


def _canary_steps(app_name: str, app: AppSettings, image: str, prefix: str) -> tuple[Step, ...]:
    if app.canary_running:
        raise PlanError(
            f"app {app_name} already runs a canary ({app.canary.image} at {app.canary.weight}%): "
            "promote it or roll it back before releasing another image"
        )
    weight = app_path(app_name, "canary", "weight")
    steps: list[Step] = []
    for index, percent in enumerate(app.canary.steps):
        change = Change(
            {app_path(app_name, "canary", "image"): image, weight: str(percent)}
            if index == 0
            else {weight: str(percent)}
        )
        undo = Step(
            "undo traffic",
            f"{prefix}: canary failed at {percent}%, weight set back to 0",
            Change({weight: "0"}),
        )
        steps.append(Step(f"canary {percent}%", f"{prefix}: canary {percent}%", change, undo))
    # Promotion in three `up`s, each moving one thing, so traffic never reaches pods that are
    # not ready: the stable track takes the image while the canary still serves 100 %, then the
    # weight goes back to stable (gated there), then the canary's pods go.
    image_key = app_path(app_name, "image")
    steps += [
        Step(
            "promote: stable image",
            f"{prefix}: promote, stable track to {short_image(image)}",
            Change({image_key: image}),
            Step(
                "undo promotion",
                f"{prefix}: promotion failed, stable image back to {short_image(app.image)}",
                Change({image_key: app.image}),
            ),
        ),
        Step(
            "promote: traffic to stable",
            f"{prefix}: promote, traffic to the stable track",
            Change({weight: "0"}),
            Step(
                "undo promotion",
                f"{prefix}: stable track failed its gate, traffic back to the canary",
                Change({weight: "100"}),
            ),
        ),
        Step(
            "promote: remove canary",
            f"{prefix}: promoted, canary removed",
            Change(remove=(app_path(app_name, "canary", "image"),)),
        ),
    ]
    return tuple(steps)


def _blue_green_steps(
    app_name: str, app: AppSettings, image: str, prefix: str, scale_down_idle: bool
) -> tuple[Step, ...]:
    active, idle = app.blue_green.active, app.blue_green.idle
    active_image = app.colour_image(active)
    deploy = {
        # Pin the live colour's image so that changing `image` at the switch never touches it.
        app_path(app_name, "blueGreen", f"{active}Image"): active_image,
        app_path(app_name, "blueGreen", f"{idle}Image"): image,
        app_path(app_name, "blueGreen", "scaleDownIdle"): "false",
    }
    switch_back = Step(
        "switch back",
        f"{prefix}: switch live traffic back to {active}",
        Change({app_path(app_name, "blueGreen", "active"): active, app_path(app_name, "image"): app.image}),
    )
    steps = [
        Step(
            f"deploy to idle colour {idle}",
            f"{prefix}: deploy to idle colour {idle} (preview)",
            Change(deploy),
        ),
        Step(
            f"switch to {idle}",
            f"{prefix}: switch live traffic to {idle}",
            Change({app_path(app_name, "blueGreen", "active"): idle, app_path(app_name, "image"): image}),
            switch_back,
        ),
    ]
    if scale_down_idle:
        steps.append(
            Step(
                f"scale down {active}",
                f"{prefix}: release confirmed, scale down idle colour {active}",
                Change({app_path(app_name, "blueGreen", "scaleDownIdle"): "true"}),
            )
        )
    return tuple(steps)


def release_lines(plan: ReleasePlan) -> list[str]:
    lines = [
        f"release {plan.app}: {plan.previous_image} -> {plan.image} ({plan.strategy}, {len(plan.steps)} steps)"
    ]
    for index, step in enumerate(plan.steps, 1):
        lines.append(f"  {index}. {step.name}: up --message {json.dumps(step.message)}")
        lines += [f"       {line}" for line in step.change.lines()]
        if step.undo is not None:
            lines.append(f"       on failure: {'; '.join(step.undo.change.lines())}, up")
    return lines
