"""What changes when one stack config replaces another: the diff a rollback, a recovery and an
interrupted release are shown, secrets always masked. Pure: no I/O."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from components.settings import PROJECT
from rollout.history import MASKED, ConfigEntry, ConfigMap


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

    A key present on one side only, as the project's declared default (from Pulumi.yaml, which
    `pulumi config --json` lists too), is not a difference.
    """
    defaults = project_defaults or {}

    def is_default(key: str, entry: ConfigEntry) -> bool:
        return not entry.secret and not entry.is_object and defaults.get(key) == entry.value

    added, changed, removed = [], [], []
    for key in sorted(set(current) | set(target)):
        before, after = current.get(key), target.get(key)
        if before is None and after is not None:
            if not is_default(key, after):
                added.append(KeyChange(key, None, after))
        elif after is None and before is not None:
            if not is_default(key, before):
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
