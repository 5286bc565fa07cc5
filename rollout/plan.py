"""Pure planning for rollback and release: which history entry to restore, and which steps a
release walks, each with what it may change. No I/O; every decision here is unit-tested over
history fixtures."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from components.app_settings import AppSettings
from components.settings import PROJECT
from gates.schedule import Schedule, fixed
from rollout.changes import Ownership
from rollout.history import HistoryEntry, short_image

# Resource roles (see ``owned``). A canary's routing: its Istio objects and the gates that exist
# at some weights only (the canary's above 0 %, the stable track's below 100 %).
ROUTING = ("virtual-service", "destination-rule", "http-route", "canary-gate", "stable-gate")
COLOURS = ("blue", "green")
SWITCH = ("live", "preview", "live-gate", "preview-gate")


class PlanError(ValueError):
    """The request cannot be planned (bad version, nothing to roll back to, ...): bad input."""


# -- rollback target ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RollbackTarget:
    current: HistoryEntry
    """The newest update: the one that decided what runs now (it may have failed)."""
    target: HistoryEntry
    skipped: tuple[int, ...] = ()
    """Newer succeeded updates ``--previous`` passed over: they ran the current update's config."""


def versions_text(versions: Sequence[int]) -> str:
    """``version 7`` or ``versions 10, 7``."""
    return f"version{'s' if len(versions) > 1 else ''} {', '.join(map(str, versions))}"


def _describe(entry: HistoryEntry) -> str:
    return f"version {entry.version} ({entry.kind}, {entry.result or 'no result'})"


def select_target(
    history: Sequence[HistoryEntry], *, previous: bool = False, to: int | None = None, force: bool = False
) -> RollbackTarget:
    """Pick the entry whose config a rollback restores.

    ``previous``: the newest succeeded update older than the current one, the current one being
    the newest update of any result (refreshes, previews and other kinds never count), passing
    over those that ran the config of a current update that succeeded: after `rollout recover` or
    a `pulumi up` that changed no config, restoring them would change nothing. After a failed
    update they are kept: the cluster may not be what their config says.
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
        skipped: list[int] = []
        while current.succeeded_update and older and older[0].config == current.config:
            skipped.append(older.pop(0).version)
        if not older:
            which = f"older than the current version {current.version}"
            if skipped:
                which += f" ran another config ({versions_text(skipped)} ran the same)"
            raise PlanError(f"no succeeded update {which}: nothing to roll back to")
        return RollbackTarget(current, older[0], tuple(skipped))
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
    """One config change plus one `pulumi up`; ``undo`` puts traffic back if its gate fails;
    ``ownership`` is what its preview may plan (rollout/changes.py), checked before it runs."""

    name: str
    message: str
    change: Change
    undo: Step | None = None
    ownership: Ownership = field(default_factory=Ownership)


def owned(app: str, owns: Sequence[str], keeps: Sequence[str] = ()) -> Ownership:
    """An app's resources by role, as the release components name them (``<app>-<role>``:
    components/workload.py, blue_green.py, canary.py, gating.py)."""
    return Ownership.of((f"{app}-{role}" for role in owns), (f"{app}-{role}" for role in keeps))


@dataclass(frozen=True)
class ReleasePlan:
    app: str
    strategy: str
    image: str
    previous_image: str
    steps: tuple[Step, ...]
    schedule: str = ""
    """How a canary's weights were chosen (``canary.steps: auto``), e.g. "measured 4.8 req/s:
    steps 25, 50, 100; about 16 min of gates"; empty when they are configured."""


RELEASE_STATE: tuple[tuple[str, ...], ...] = (
    ("image",),
    ("blueGreen", "active"),
    ("blueGreen", "blueImage"),
    ("blueGreen", "greenImage"),
    ("blueGreen", "scaleDownIdle"),
    ("canary", "image"),
    ("canary", "weight"),
)
"""The keys of an app that releases write: what runs, not how it is deployed."""
_UNSET: Final = object()


def _at(tree: Any, path: Sequence[str]) -> Any:
    for part in path:
        if not isinstance(tree, Mapping) or part not in tree:
            return _UNSET
        tree = tree[part]
    return tree


def _config_text(value: Any) -> str:
    # As `pulumi config set --path` takes a value and types it back (true/false, integers).
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def deployed_state(app_name: str, current: Mapping[str, Any], deployed: Mapping[str, Any]) -> Change:
    """The change that puts an app's release state (RELEASE_STATE) in the stack file back to what
    the last succeeded update deployed, leaving everything else as the file has it. Empty when they
    agree. A release starts from it: a stack file checked out fresh by CI, or edited by hand, holds
    images and colours no update deployed."""
    sets: dict[str, str] = {}
    removes: list[str] = []
    for path in RELEASE_STATE:
        have, want = _at(current, path), _at(deployed, path)
        if have == want:
            continue
        if want is _UNSET:
            removes.append(app_path(app_name, *path))
        else:
            sets[app_path(app_name, *path)] = _config_text(want)
    return Change(sets, tuple(removes))


def with_state(app: Mapping[str, Any], change: Change, app_name: str) -> dict[str, Any]:
    """``app``'s config (an ``apps`` entry) with ``change`` applied (pure)."""
    result = json.loads(json.dumps(app))
    prefix = app_path(app_name) + "."
    for key, text in change.set.items():
        *parents, leaf = key.removeprefix(prefix).split(".")
        node = result
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = _typed(text)
    for key in change.remove:
        *parents, leaf = key.removeprefix(prefix).split(".")
        node = _at(result, parents)
        if isinstance(node, dict):
            node.pop(leaf, None)
    return result


def _typed(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    return int(text) if text.isdigit() and not (len(text) > 1 and text.startswith("0")) else text


def plan_release(
    app_name: str,
    app: AppSettings,
    image: str,
    *,
    strategy: str | None = None,
    scale_down_idle: bool = False,
    start: Change | None = None,
    schedule: Schedule | None = None,
) -> ReleasePlan:
    """The steps that release ``image`` for one app, by the app's configured strategy. ``start``
    (deployed_state) is written with the first step. ``schedule``: the weights of a canary whose
    ``canary.steps`` is ``auto`` (rollout/schedule.py measures them; without it, the fixed steps).

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
    note = basis = ""
    if configured == "canary":
        if app.canary.steps == "auto":
            schedule = schedule or fixed("traffic not measured")
            weights, note, basis = schedule.steps, schedule.reason, schedule.basis
        else:
            weights = tuple(app.canary.steps)
        steps = _canary_steps(app_name, app, image, prefix, weights, basis)
    elif configured == "blue-green":
        steps = _blue_green_steps(app_name, app, image, prefix, scale_down_idle)
    else:
        steps = (
            Step(
                "rolling update",
                f"{prefix}: rolling update",
                Change({app_path(app_name, "image"): image}),
                ownership=owned(app_name, ("deployment", "live-gate")),
            ),
        )
    if start is not None and (start.set or start.remove):
        first = steps[0]
        merged = Change(
            {**start.set, **first.change.set},
            tuple(k for k in start.remove if k not in first.change.set) + first.change.remove,
        )
        steps = (replace(first, change=merged), *steps[1:])
    return ReleasePlan(app_name, configured, image, app.image, steps, note)


def _canary_steps(
    app_name: str, app: AppSettings, image: str, prefix: str, planned: Sequence[int], basis: str
) -> tuple[Step, ...]:
    if app.canary_running:
        raise PlanError(
            f"app {app_name} already runs a canary ({app.canary.image} at {app.canary.weight}%): "
            "promote it or roll it back before releasing another image"
        )
    weight = app_path(app_name, "canary", "weight")
    canary_image = app_path(app_name, "canary", "image")
    mirror = app.canary.mirror
    # With a mirror, the canary first runs at weight 0 on copies of the stable's requests; a
    # failure then removes the canary altogether (at weight 0 the copies would go on).
    weights: list[int] = [0, *planned] if mirror else list(planned)
    steps: list[Step] = []
    for index, percent in enumerate(weights):
        change = Change({canary_image: image, weight: str(percent)} if index == 0 else {weight: str(percent)})
        name = f"mirror {mirror}%" if mirror and index == 0 else f"canary {percent}%"
        undo = Step(
            "undo traffic",
            f"{prefix}: canary failed at {name.split()[-1]}"
            + (" (mirrored), canary removed" if mirror else ", weight set back to 0"),
            Change({weight: "0"}, (canary_image,)) if mirror else Change({weight: "0"}),
            ownership=owned(app_name, (*ROUTING, *(("canary",) if mirror else ())), keeps=("stable",)),
        )
        # The first step starts the canary's pods; every step moves the weights, gated.
        tracks = ("canary",) if index == 0 else ()
        steps.append(
            Step(
                name,
                f"{prefix}: {name}"
                + (" of the stable's requests, no user served" if name.startswith("mirror") else "")
                # The history records why these weights (the first step's message).
                + (f" (auto: {basis})" if basis and index == 0 else ""),
                change,
                undo,
                owned(app_name, (*tracks, *ROUTING), keeps=("stable", *(() if index == 0 else ("canary",)))),
            )
        )
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
                ownership=owned(app_name, ("stable", "stable-gate"), keeps=("canary",)),
            ),
            owned(app_name, ("stable", "stable-gate"), keeps=("canary",)),
        ),
        Step(
            "promote: traffic to stable",
            f"{prefix}: promote, traffic to the stable track",
            Change({weight: "0"}),
            Step(
                "undo promotion",
                f"{prefix}: stable track failed its gate, traffic back to the canary",
                Change({weight: "100"}),
                ownership=owned(app_name, ROUTING, keeps=("stable", "canary")),
            ),
            owned(app_name, ROUTING, keeps=("stable", "canary")),
        ),
        Step(
            "promote: remove canary",
            f"{prefix}: promoted, canary removed",
            Change(remove=(app_path(app_name, "canary", "image"),)),
            ownership=owned(app_name, ("canary", *ROUTING), keeps=("stable",)),
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
    # A switch moves the two Services' selectors (and re-runs the gates); no pod is touched.
    switch = owned(app_name, SWITCH, keeps=COLOURS)
    switch_back = Step(
        "switch back",
        f"{prefix}: switch live traffic back to {active}",
        Change({app_path(app_name, "blueGreen", "active"): active, app_path(app_name, "image"): app.image}),
        ownership=switch,
    )
    steps = [
        Step(
            f"deploy to idle colour {idle}",
            f"{prefix}: deploy to idle colour {idle} (preview)",
            Change(deploy),
            ownership=owned(app_name, (idle, "preview-gate"), keeps=(active,)),
        ),
        Step(
            f"switch to {idle}",
            f"{prefix}: switch live traffic to {idle}",
            Change({app_path(app_name, "blueGreen", "active"): idle, app_path(app_name, "image"): image}),
            switch_back,
            switch,
        ),
    ]
    if scale_down_idle:
        steps.append(
            Step(
                f"scale down {active}",
                f"{prefix}: release confirmed, scale down idle colour {active}",
                Change({app_path(app_name, "blueGreen", "scaleDownIdle"): "true"}),
                ownership=owned(app_name, (active,), keeps=(idle,)),
            )
        )
    return tuple(steps)


def steps_text(count: int) -> str:
    return f"{count} step{'' if count == 1 else 's'}"


def release_lines(plan: ReleasePlan) -> list[str]:
    lines = [
        f"release {plan.app}: {plan.previous_image} -> {plan.image} ({plan.strategy}, {steps_text(len(plan.steps))})"
    ]
    if plan.schedule:
        lines.append(f"  canary.steps auto: {plan.schedule}")
    for index, step in enumerate(plan.steps, 1):
        lines.append(f"  {index}. {step.name}: up --message {json.dumps(step.message)}")
        lines += [f"       {line}" for line in step.change.lines()]
        if step.undo is not None:
            lines.append(f"       on failure: {'; '.join(step.undo.change.lines())}, up")
    if any(step.name.startswith("mirror") for step in plan.steps):
        lines.append(
            "  note: the mirrored step copies requests to the canary and discards its answers: a request "
            "that writes (a POST, a payment) runs twice, once on each track"
        )
    return lines
