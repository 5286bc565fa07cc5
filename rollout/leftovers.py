"""What an interrupted update leaves behind, found before any command changes a stack, and said
exactly. Pure: the facts come from rollout/stacks.py (lock files, `pulumi stack export`, history,
config).

A `pulumi up` killed outright (kill -9, a runner that vanished) leaves up to four things:

- the stack's **lock**, held by a process that no longer runs (a file backend keeps it as a file
  naming the process: its PID, host and start time);
- **pending operations** in the state: resources the engine had started to create, update or
  delete, whose outcome it never learnt;
- a **stack file that differs** from the config of the last succeeded update: the step's config
  change was written, its `up` never completed, so what the file says is not what runs;
- on a service backend, an update still listed **in progress**.

Each finding says what it means; `rollout recover` repairs all of them (docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rollout.configdiff import ConfigDiff, KeyChange, describe_change
from rollout.history import HistoryEntry


@dataclass(frozen=True)
class LockHolder:
    """A lock on the stack and the process that took it."""

    pid: int
    host: str
    user: str
    since: datetime | None
    alive: bool | None
    """True: that process still runs; False: it does not (same host, PID gone or reused);
    None: it ran on another host, so this machine cannot tell."""
    source: str

    def describe(self) -> str:
        when = f" at {self.since:%Y-%m-%d %H:%M:%S} UTC" if self.since else ""
        state = {True: "which still runs", False: "which no longer runs", None: "on another host"}[self.alive]
        return f"locked by pid {self.pid} ({self.user}@{self.host}){when}, {state} ({self.source})"


@dataclass(frozen=True)
class PendingOperation:
    urn: str
    operation: str
    """creating, updating, deleting, reading or importing (the state's words)."""

    def describe(self) -> str:
        return f"{self.urn.rsplit('::', 1)[-1]} ({self.urn.split('::')[-2].rsplit('$', 1)[-1]}): {self.operation}"


def pending_operations(state: Any) -> list[PendingOperation]:
    """The pending operations of a `pulumi stack export` document."""
    deployment = state.get("deployment") if isinstance(state, dict) else None
    pending = deployment.get("pending_operations") if isinstance(deployment, dict) else None
    found = []
    for item in pending if isinstance(pending, list) else []:
        resource = item.get("resource") if isinstance(item, dict) else None
        urn = resource.get("urn") if isinstance(resource, dict) else None
        if isinstance(urn, str):
            found.append(PendingOperation(urn, str(item.get("type", "unknown"))))
    return found


@dataclass(frozen=True)
class Leftovers:
    """What the stack was left with; ``baseline`` is the last succeeded update, if any."""

    stack: str
    locks: tuple[LockHolder, ...] = ()
    pending: tuple[PendingOperation, ...] = ()
    drift: ConfigDiff | None = None
    """From the baseline's config to the stack file's; None when there is no baseline or the file
    is what the newest update ran (deployed, if not successfully)."""
    in_progress: HistoryEntry | None = None
    baseline: HistoryEntry | None = None

    @property
    def stale_locks(self) -> tuple[LockHolder, ...]:
        return tuple(lock for lock in self.locks if lock.alive is False)

    @property
    def live_locks(self) -> tuple[LockHolder, ...]:
        return tuple(lock for lock in self.locks if lock.alive is not False)

    @property
    def interrupted(self) -> bool:
        """An update was cut short: a lock whose holder is gone, pending operations, or one still
        listed in progress while no process holds the lock."""
        return bool(self.stale_locks or self.pending or (self.in_progress and not self.live_locks))

    @property
    def drifted(self) -> bool:
        return self.drift is not None and not self.drift.empty

    @property
    def clean(self) -> bool:
        return not (self.locks or self.pending or self.in_progress or self.drifted)

    def lines(self) -> list[str]:
        """Each finding, and what it means, for people."""
        lines = []
        for lock in self.locks:
            meaning = (
                "an update is running now"
                if lock.alive
                else "an update was cut short and left its lock"
                if lock.alive is False
                else "this machine cannot tell whether that update still runs"
            )
            lines.append(f"  - the stack is {lock.describe()}: {meaning}")
        if self.in_progress is not None:
            lines.append(
                f"  - version {self.in_progress.version} ({self.in_progress.message or 'no message'}) is still "
                "listed in progress"
            )
        if self.pending:
            lines.append(
                f"  - {len(self.pending)} pending operation(s) in the state: the engine started them and never "
                "learnt their outcome"
            )
            lines += [f"      {op.describe()}" for op in self.pending]
        if self.drift is not None and not self.drift.empty:
            version = f"version {self.baseline.version}" if self.baseline else "the last update"
            lines.append(
                f"  - Pulumi.{self.stack}.yaml differs from the config {version} deployed (deployed -> "
                "file): a step's config written and its update never completed, or a change not deployed yet"
            )
            lines += [f"      {line}" for change in _changes(self.drift) for line in describe_change(change)]
        return lines


def _changes(diff: ConfigDiff) -> Sequence[KeyChange]:
    return [*diff.added, *diff.changed, *diff.removed]
