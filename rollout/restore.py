"""Restoring the config a recorded update ran with, exactly, and deploying it as one checked step:
the rollback that `rollout rollback`, `rollout release --rollback-on-failure` and `rollout
recover` share.

The target's config is restored as it was recorded: plain values as plain, secrets as secrets
with their real values (history is read with ``--show-secrets``), object values as objects, keys
absent from the target removed. A secret that comes back masked or undecryptable is never written
as a placeholder: planning refuses and nothing changes. The step may change any ordinary resource
(it restores a whole config) but never replaces the Kubernetes provider or deletes a Namespace
unless forced (rollout/changes.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from credentials import mask
from rollout.changes import Ownership
from rollout.configdiff import ConfigDiff, config_diff, diff_lines, project_defaults, unrestorable_keys
from rollout.exit_codes import CommandError, ExitCode
from rollout.history import ENVIRONMENT_KEY, ConfigMap, HistoryEntry, secret_values
from rollout.notifications import notify
from rollout.plan import PlanError, select_target, versions_text
from rollout.stacks import PASSPHRASE_HELP, StackAccess, StackLockedError, UpFailedError, read_project
from rollout.steps import revert_config, run_checked

if TYPE_CHECKING:
    from rollout.cli import Console
    from rollout.services import Services


@dataclass(frozen=True)
class RollbackPlan:
    current: HistoryEntry
    target: HistoryEntry
    diff: ConfigDiff
    environment: str | None
    secrets: list[str]
    current_config: ConfigMap
    message: str
    skipped: tuple[int, ...] = ()


def plan_rollback(
    access: StackAccess,
    history: Sequence[HistoryEntry],
    *,
    previous: bool,
    to: int | None,
    force: bool,
    message: str | None = None,
) -> RollbackPlan:
    """Decide from history (read with secrets) and the current config; CommandError (nothing
    changed) when it cannot. ``message`` overrides ``rollback to version N (from M)``."""
    try:
        chosen = select_target(history, previous=previous, to=to, force=force)
    except PlanError as error:
        raise CommandError(f"stack {access.name}: {error}") from None
    missing = unrestorable_keys(chosen.target.config)
    if missing:
        raise CommandError(
            f"version {chosen.target.version} has secret values that could not be read "
            f"({', '.join(missing)}); refusing to restore it, nothing was changed. To read them, "
            f"{PASSPHRASE_HELP}",
            ExitCode.BAD_INPUT,
        )
    current = access.config()
    defaults = project_defaults(read_project(access.project_dir))
    diff = config_diff(current, chosen.target.config, project_defaults=defaults)
    env_entry = current.get(ENVIRONMENT_KEY) or chosen.target.config.get(ENVIRONMENT_KEY)
    return RollbackPlan(
        chosen.current,
        chosen.target,
        diff,
        env_entry.value if env_entry else None,
        secret_values(current, chosen.target.config),
        current,
        message or f"rollback to version {chosen.target.version} (from {chosen.current.version})",
        chosen.skipped,
    )


def plan_lines(stack: str, plan: RollbackPlan) -> list[str]:
    target = plan.target
    lines = [
        f"rollback stack {stack}: version {plan.current.version} ({plan.current.result or 'no result'}) "
        f"-> config of version {target.version}",
        f"  target:  version {target.version}, {target.kind} {target.result}, started "
        f"{target.start_time:%Y-%m-%d %H:%M:%S} UTC",
        f"  message: {target.message.splitlines()[0] if target.message else '(none)'}",
        f"  commit:  {target.commit or '(not recorded)'}",
        f"  up:      --message {plan.message!r}",
        *(
            [f"  passed over: {versions_text(plan.skipped)} (ran the config that runs now)"]
            if plan.skipped
            else []
        ),
        *diff_lines(plan.diff),
    ]
    return [mask(line, plan.secrets) for line in lines]


def execute(
    access: StackAccess,
    plan: RollbackPlan,
    console: Console,
    services: Services,
    *,
    force: bool = False,
    event: str = "rollback",
    approve: Callable[[], None] | None = None,
) -> bool:
    """Restore the plan's config and deploy it as one checked step; notify either way. True when
    it succeeded; a refused step or a locked stack raises with the config put back."""
    operation = f"{event} {access.name}"
    ownership = Ownership(owns_everything=True, allow_guarded=force)
    try:
        run_checked(
            access,
            console,
            label=plan.message,
            message=plan.message,
            write=lambda: access.restore(plan.diff.writes, plan.diff.removals),
            before=plan.current_config,
            ownership=ownership,
            secrets=plan.secrets,
            approve=approve,
        )
    except StackLockedError:
        revert_config(access, plan.current_config)
        _notify(
            services,
            event,
            operation,
            False,
            "stack locked by another update; config left as it was",
            console,
        )
        raise
    except UpFailedError as error:
        reason = mask(error.reason, plan.secrets)
        console.note(f"{plan.message} failed: {reason}")
        _notify(services, event, operation, False, f"{plan.message} failed: {reason}", console)
        return False
    except CommandError as error:
        _notify(services, event, operation, False, mask(str(error), plan.secrets), console)
        raise
    _notify(services, event, operation, True, f"{plan.message} succeeded", console)
    return True


def _notify(services: Services, event: str, operation: str, ok: bool, text: str, console: Console) -> None:
    notify(
        services.env, event=event, operation=operation, ok=ok, text=text, log=console.note, post=services.post
    )
