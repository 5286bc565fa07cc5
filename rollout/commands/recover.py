"""`rollout recover --stack STACK [--dry-run] [--yes] [--force]`: repair what an interrupted
update left — a stale lock, pending operations, a stack file that is not what was deployed, a
half-done step — and bring the stack back to its last succeeded update (rollout/recovery.py).

It says what it found and what it will do first; ``--dry-run`` stops there. Staging and
production ask for approval unless ``--yes``. A lock whose holder still runs is never dropped; one
taken on another host (this machine cannot tell whether it runs) only with ``--force``. Exit 0 when
the final preview plans no change, 1 when something could not be repaired (said how).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from credentials import mask
from rollout.arguments import stack_name
from rollout.configdiff import diff_lines
from rollout.exit_codes import CommandError, ExitCode
from rollout.history import ENVIRONMENT_KEY, secret_values
from rollout.interaction import confirm, needs_approval
from rollout.leftovers import LockHolder
from rollout.recovery import inspect, planned
from rollout.restore import RollbackPlan, execute, plan_rollback
from rollout.services import Services

if TYPE_CHECKING:
    from rollout.cli import Console


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "recover",
        help="repair what an interrupted update left and return to the last succeeded update",
        description="Find what an interrupted release or rollback left (a stale lock, pending operations, "
        "a stack file that differs from what was deployed), say it, and repair it: drop the stale lock, put "
        "the config back to the last succeeded update, refresh, deploy that config as a checked step, and "
        "show a preview that plans no change.",
    )
    parser.add_argument("--stack", required=True, type=stack_name, metavar="STACK", help="stack name")
    parser.add_argument("--dry-run", action="store_true", help="say what was found and what would be done")
    parser.add_argument("--yes", action="store_true", help="approve without asking")
    parser.add_argument(
        "--force", action="store_true", help="also drop a lock taken on another host (this one cannot tell)"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, console: Console, services: Services | None = None) -> ExitCode:
    services = services or Services()
    access = services.open_stack(args.cwd, args.stack)
    with access.supervised(console.note):
        history = access.history(show_secrets=True)
        config = access.config()
        found = inspect(access, history, config)
        baseline = found.baseline
        secrets = secret_values(config, *([baseline.config] if baseline else []))
        newest = next((entry for entry in history if entry.is_update), None)
        if found.clean:
            changes = planned(access)
            unfinished = changes and baseline is not None and newest is not None and newest is not baseline
            if not unfinished:
                console.print(
                    f"stack {args.stack}: nothing was left by an interrupted update; a preview plans "
                    f"{len(changes)} change(s)"
                )
                for change in changes:
                    console.print(f"    {change.describe()}")
                return ExitCode.OK
            # A step stopped cleanly (SIGTERM, Ctrl-C, a failed gate without its undo) put the
            # config back, but what it had applied before stopping is still in the cluster.
            assert newest is not None and baseline is not None
            console.print(
                f"stack {args.stack}: the newest update, version {newest.version} ({newest.result}), "
                f"did not complete and the cluster is not as version {baseline.version} left it: a "
                f"preview plans {len(changes)} change(s)"
            )
            for change in changes:
                console.print(f"    {change.describe()}")
        else:
            console.print(f"stack {args.stack}: an interrupted update left")
            for line in found.lines():
                console.print(mask(line, secrets))
        running = [lock for lock in found.locks if lock.alive]
        if running:
            raise CommandError(
                f"stack {args.stack} is {running[0].describe()}: an update runs; wait for it to finish. "
                "Nothing was changed",
                ExitCode.FAILED,
            )
        elsewhere = [lock for lock in found.locks if lock.alive is None]
        if elsewhere and not args.force:
            raise CommandError(
                f"stack {args.stack} is {elsewhere[0].describe()}; if no update runs there, re-run with "
                "--force to drop the lock. Nothing was changed",
                ExitCode.FAILED,
            )
        plan = None
        if baseline is not None:
            plan = plan_rollback(
                access,
                history,
                previous=False,
                to=baseline.version,
                force=True,
                message=f"recover: back to version {baseline.version} after an interrupted update",
            )
        _say_actions(console, args.stack, found.locks, bool(found.pending or found.interrupted), plan)
        if args.dry_run:
            console.note("dry run: nothing changed")
            return ExitCode.OK
        entry = config.get(ENVIRONMENT_KEY)
        environment = entry.value if entry else None
        if needs_approval(environment, args.stack) and not args.yes:
            confirm(
                services.terminal,
                lambda q: print(q, end="", file=console.err, flush=True),
                f"recover {args.stack} ({environment or 'unknown environment'})?",
            )
        if found.locks:
            access.cancel()
            console.note("lock dropped (`pulumi cancel`)")
        if plan is not None and not plan.diff.empty:
            access.restore(plan.diff.writes, plan.diff.removals)
            console.note(f"config back to version {plan.target.version}'s")
            plan = plan_rollback(
                access, history, previous=False, to=plan.target.version, force=True, message=plan.message
            )
        if found.pending or found.interrupted:
            access.refresh()
            console.note("refreshed: pending operations resolved, the state reads what the cluster holds")
        if plan is not None and not execute(access, plan, console, services, event="recover"):
            console.print(
                f"{args.stack}: recovery could not deploy version {plan.target.version}'s config (above)"
            )
            return ExitCode.FAILED
        left = planned(access)
        if left:
            console.print(
                f"{args.stack}: a preview still plans {len(left)} change(s); `pulumi up` applies them:"
            )
            for change in left:
                console.print(f"    {change.describe()}")
            return ExitCode.FAILED
        where = f"version {baseline.version} deployed it" if baseline else "the refresh found it"
        console.print(f"{args.stack}: recovered; the preview plans no change: the stack is as {where}")
        return ExitCode.OK


def _say_actions(
    console: Console, stack: str, locks: tuple[LockHolder, ...], refresh: bool, plan: RollbackPlan | None
) -> None:
    steps = []
    if locks:
        steps.append("drop the lock (`pulumi cancel`)")
    if plan is not None and not plan.diff.empty:
        steps.append(f"put Pulumi.{stack}.yaml back to version {plan.target.version}'s config")
    if refresh:
        steps.append("`pulumi refresh`: resolve pending operations, read what the cluster holds")
    if plan is not None:
        steps.append(f"deploy version {plan.target.version}'s config as a checked step, then preview")
    else:
        steps.append("preview (no succeeded update to go back to)")
    console.print("recover will:")
    for index, step in enumerate(steps, 1):
        console.print(f"  {index}. {step}")
    if plan is not None:
        for line in diff_lines(plan.diff):
            console.print(mask(line, plan.secrets))
