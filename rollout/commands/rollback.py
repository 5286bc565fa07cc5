"""`rollout rollback --stack STACK (--previous | --to VERSION) [--dry-run] [--yes] [--force]`:
restore the config a past update ran with, exactly, and `pulumi up` it.

``--previous`` targets the newest succeeded update older than the current one; ``--to`` a given
version, which must be a succeeded update unless ``--force``. The plan (target, its message and
commit, the config diff with secrets masked) is printed first; ``--dry-run`` stops there. Without a
`pulumi` CLI on PATH a dry run cannot read history: it says so (exit 2) with what the stack file
says runs now.
Staging and production ask for approval unless ``--yes``; without a terminal the command refuses.

The target's config is restored as it was recorded: plain values as plain, secrets as secrets
with their real values (history is read with ``--show-secrets``), object values as objects, keys
absent from the target removed. A secret that comes back masked or undecryptable is never written
as a placeholder: the command refuses and changes nothing. The `up` message is
``rollback to version N (from M)``; the program's health gates run as part of it.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gates.report import mask
from rollout.exit_codes import CommandError, ExitCode
from rollout.history import ENVIRONMENT_KEY, ConfigMap, HistoryEntry, deployed_apps, secret_values
from rollout.interaction import confirm, needs_approval
from rollout.notifications import notify
from rollout.offline.stackfile import file_config
from rollout.plan import (
    ConfigDiff,
    PlanError,
    config_diff,
    diff_lines,
    project_defaults,
    select_target,
    unrestorable_keys,
)
from rollout.services import Services
from rollout.stacks import PASSPHRASE_HELP, StackAccess, StackLockedError, UpFailedError, read_project

if TYPE_CHECKING:
    from rollout.cli import Console


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rollback",
        help="redeploy the config of an earlier update from the stack's history",
        description="Restore the stack config recorded by an earlier update (secrets included) and run "
        "`pulumi up`. Prints the plan first; staging and production ask for approval unless --yes.",
    )
    parser.add_argument("--stack", required=True, metavar="STACK", help="stack name")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--previous", action="store_true", help="the newest succeeded update older than the current one"
    )
    which.add_argument("--to", type=_version, metavar="VERSION", help="a version from `rollout history`")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    parser.add_argument("--yes", action="store_true", help="approve without asking")
    parser.add_argument(
        "--force", action="store_true", help="allow a --to version that is not a succeeded update"
    )
    parser.set_defaults(handler=handle)


def _version(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a version number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a version number (1 or more), got {text!r}")
    return value


@dataclass(frozen=True)
class RollbackPlan:
    current: HistoryEntry
    target: HistoryEntry
    diff: ConfigDiff
    environment: str | None
    secrets: list[str]
    current_config: ConfigMap

    @property
    def message(self) -> str:
        return f"rollback to version {self.target.version} (from {self.current.version})"


def plan_rollback(access: StackAccess, *, previous: bool, to: int | None, force: bool) -> RollbackPlan:
    """Read history and config and decide; CommandError (nothing changed) when it cannot."""
    history = access.history(show_secrets=True)
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
        *diff_lines(plan.diff),
    ]
    return [mask(line, plan.secrets) for line in lines]


def revert_config(access: StackAccess, before: ConfigMap) -> None:
    """Put the config back as ``before`` (used when the stack turned out to be locked)."""
    now = access.config()
    diff = config_diff(now, before)
    access.restore(diff.writes, diff.removals)


def execute(access: StackAccess, plan: RollbackPlan, console: Console, services: Services) -> ExitCode:
    """Restore the plan's config and run `up`; notify either way. Returns OK or FAILED."""
    operation = f"rollback {access.name}"
    access.restore(plan.diff.writes, plan.diff.removals)
    console.note(f"restored the config of version {plan.target.version}; running pulumi up")
    try:
        access.up(plan.message, on_output=lambda line: console.note(mask(f"  | {line}", plan.secrets)))
    except StackLockedError:
        revert_config(access, plan.current_config)
        notify(
            services.env,
            event="rollback",
            operation=operation,
            ok=False,
            text="stack locked by another update; config left as it was",
            log=console.note,
            post=services.post,
        )
        raise
    except UpFailedError as error:
        reason = mask(error.reason, plan.secrets)
        console.note(f"rollback to version {plan.target.version} failed: {reason}")
        notify(
            services.env,
            event="rollback",
            operation=operation,
            ok=False,
            text=f"{plan.message} failed: {reason}",
            log=console.note,
            post=services.post,
        )
        return ExitCode.FAILED
    notify(
        services.env,
        event="rollback",
        operation=operation,
        ok=True,
        text=f"{plan.message} succeeded",
        log=console.note,
        post=services.post,
    )
    console.print(f"{access.name}: {plan.message} succeeded")
    return ExitCode.OK


def _offline_dry_run(args: argparse.Namespace, console: Console) -> ExitCode:
    """--dry-run without a `pulumi` CLI: what the stack file says runs now, and why no plan."""
    which = "--previous" if args.previous else f"--to {args.to}"
    deployed = "; ".join(app.summary() for app in deployed_apps(file_config(args.cwd, args.stack))) or "-"
    console.print(f"rollback stack {args.stack} ({which}): cannot be planned here")
    console.print(f"  now, per Pulumi.{args.stack}.yaml: {deployed}")
    raise CommandError(
        "rollback needs the stack's history: the versions and the config each update ran with, "
        "which only the `pulumi` CLI reads from the stack's backend (`pulumi stack history`); no "
        "`pulumi` is on PATH here, and the stack file holds the current config only. Install the "
        "Pulumi CLI and log in to the stack's backend, then run this again; nothing was changed"
    )


def handle(args: argparse.Namespace, console: Console, services: Services | None = None) -> ExitCode:
    services = services or Services()
    if args.dry_run and not services.cli_available():
        return _offline_dry_run(args, console)
    access = services.open_stack(args.cwd, args.stack)
    plan = plan_rollback(access, previous=args.previous, to=args.to, force=args.force)
    for line in plan_lines(args.stack, plan):
        console.print(line)
    if args.dry_run:
        console.note("dry run: nothing changed")
        return ExitCode.OK
    if needs_approval(plan.environment, args.stack) and not args.yes:
        confirm(
            services.terminal,
            lambda q: print(q, end="", file=console.err, flush=True),
            f"roll back {args.stack} ({plan.environment or 'unknown environment'}) to version {plan.target.version}?",
        )
    return execute(access, plan, console, services)
