"""`rollout rollback --stack STACK (--previous | --to VERSION) [--dry-run] [--yes] [--force]`:
restore the config a past update ran with, exactly, and `pulumi up` it.

``--previous`` targets the newest succeeded update older than the current one; ``--to`` a given
version, which must be a succeeded update unless ``--force``. The plan (target, its message and
commit, the config diff with secrets masked) is printed first; ``--dry-run`` stops there. Without a
`pulumi` CLI on PATH a dry run cannot read history: it says so (exit 2) with what the stack file
says runs now.
Staging and production ask for approval unless ``--yes``; without a terminal the command refuses.

The target's config is restored exactly (rollout/restore.py) and deployed as one checked step: its
preview may not replace the Kubernetes provider or delete a Namespace unless ``--force`` says so
too. The `up` message is ``rollback to version N (from M)``; the program's health gates run as
part of it. A stack left by an interrupted update is refused: `rollout recover` first.
"""

from __future__ import annotations

import argparse
import functools
from typing import TYPE_CHECKING, Any

from rollout.arguments import stack_name
from rollout.exit_codes import CommandError, ExitCode
from rollout.history import deployed_apps
from rollout.interaction import confirm, needs_approval
from rollout.offline.stackfile import file_config
from rollout.recovery import inspect, refuse_leftovers
from rollout.restore import execute, plan_lines, plan_rollback
from rollout.services import Services

if TYPE_CHECKING:
    from rollout.cli import Console


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rollback",
        help="redeploy the config of an earlier update from the stack's history",
        description="Restore the stack config recorded by an earlier update (secrets included) and run "
        "`pulumi up`. Prints the plan first; staging and production ask for approval unless --yes.",
    )
    parser.add_argument("--stack", required=True, type=stack_name, metavar="STACK", help="stack name")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--previous", action="store_true", help="the newest succeeded update older than the current one"
    )
    which.add_argument("--to", type=_version, metavar="VERSION", help="a version from `rollout history`")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    parser.add_argument("--yes", action="store_true", help="approve without asking")
    parser.add_argument(
        "--force",
        action="store_true",
        help="allow a --to version that is not a succeeded update, and a plan that replaces the Kubernetes "
        "provider or deletes a Namespace",
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
    with access.supervised(console.note):
        history = access.history(show_secrets=True)
        refuse_leftovers(inspect(access, history, access.config()))
        plan = plan_rollback(access, history, previous=args.previous, to=args.to, force=args.force)
        for line in plan_lines(args.stack, plan):
            console.print(line)
        if args.dry_run:
            console.note("dry run: nothing changed")
            return ExitCode.OK
        question = f"roll back {args.stack} ({plan.environment or 'unknown environment'}) to version {plan.target.version}?"
        approve = None
        if needs_approval(plan.environment, args.stack) and not args.yes:
            if not services.terminal.is_tty():
                confirm(services.terminal, console.ask, question)  # refuses: nobody to ask
            # Asked once the preview's changes are printed and checked: people approve what will happen.
            approve = functools.partial(confirm, services.terminal, console.ask, question)
        if not execute(access, plan, console, services, force=args.force, approve=approve):
            return ExitCode.FAILED
        console.print(f"{access.name}: {plan.message} succeeded")
        return ExitCode.OK
