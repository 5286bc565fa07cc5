"""Finding what an interrupted update left (rollout/leftovers.py says what each finding means),
refusing to start a release or a rollback on top of it, and repairing it: `rollout recover`.

Recovery, in order: drop a lock whose holder no longer runs (`pulumi cancel`); put the stack file
back to the config of the last succeeded update; `pulumi refresh` (the engine resolves pending
operations, and the state learns what the cluster holds); then deploy that config as a checked
step (rollout/steps.py: no provider replaced, no Namespace deleted), which undoes whatever the
interrupted step had half done; last, a preview that must plan no change.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from rollout.changes import ResourceChange
from rollout.configdiff import config_diff, project_defaults
from rollout.exit_codes import CommandError, ExitCode
from rollout.history import ConfigMap, HistoryEntry
from rollout.leftovers import Leftovers, pending_operations
from rollout.stacks import StackAccess, StackLockedError, read_project

if TYPE_CHECKING:
    from collections.abc import Sequence


def inspect(access: StackAccess, history: Sequence[HistoryEntry], config: ConfigMap) -> Leftovers:
    """What the stack holds beyond its last succeeded update. ``history`` is read with secrets
    (the config comparison needs their values), ``config`` is the stack's current config."""
    baseline = next((entry for entry in history if entry.succeeded_update), None)
    newest = next((entry for entry in history if entry.is_update), None)
    drift = None
    if baseline is not None:
        defaults = project_defaults(read_project(access.project_dir))
        drift = config_diff(baseline.config, config, project_defaults=defaults)
        # The file as the newest update ran it (a step whose gate failed) was deployed, if not
        # successfully: only a config that no update ever ran is a leftover.
        if (
            newest is not None
            and newest is not baseline
            and config_diff(newest.config, config, project_defaults=defaults).empty
        ):
            drift = None
    return Leftovers(
        stack=access.name,
        locks=tuple(access.locks()),
        pending=tuple(pending_operations(access.export())),
        drift=drift,
        in_progress=newest if newest is not None and newest.result == "in-progress" else None,
        baseline=baseline,
    )


def recover_hint(stack: str) -> str:
    return f"`rollout recover --stack {stack}` says what it will do, then repairs it (docs/operations.md)"


def refuse_leftovers(leftovers: Leftovers) -> None:
    """Raise before anything changes when an update runs, or one was cut short."""
    stack = leftovers.stack
    if leftovers.live_locks and not leftovers.stale_locks:
        lock = leftovers.live_locks[0]
        raise StackLockedError(
            f"stack {stack!r} is {lock.describe()}: an update may be running. Wait for it, or if it is "
            f"gone, {recover_hint(stack)}; this command changed nothing",
            ExitCode.FAILED,
        )
    if leftovers.interrupted:
        raise CommandError(
            "\n".join(
                [
                    f"stack {stack} was left by an interrupted update:",
                    *leftovers.lines(),
                    f"{recover_hint(stack)}; this command changed nothing",
                ]
            ),
            ExitCode.FAILED,
        )


def planned(access: StackAccess) -> list[ResourceChange]:
    """The changes a preview of the stack as it is plans."""
    with tempfile.TemporaryDirectory(prefix="rollout-plan-") as directory:
        return access.preview_plan(Path(directory) / "plan.json")
