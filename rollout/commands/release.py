"""`rollout release --stack STACK --image IMAGE [--app NAME] [--strategy S] [--dry-run] [--yes]
[--rollback-on-failure] [--scale-down-idle]`: walk a release through its strategy's steps.

Each step is one config change plus one `pulumi up` with a message such as
``release flutter-app 1.5.0: canary 25%``, so every step is in the stack's history; the program's
health gates run inside each `up`.

- rolling: set ``apps.<app>.image``, up.
- blue-green: the new image on the idle colour, up (gate on the preview Service); switch
  ``blueGreen.active`` (and ``image``), up (gate on the live Service); with ``--scale-down-idle``
  the old colour is then parked at zero replicas, up.
- canary: ``canary.image`` at the first weight, up; each next weight, up; promote (``image`` =
  canary image, weight 0, ``canary.image`` removed), up.

On a failed step traffic is undone first (canary weight back to 0 / colour switched back, up),
then the command stops with exit 1, the failing gate's message and a notification;
``--rollback-on-failure`` then also redeploys the config of the version the release started from.
``--strategy`` must match the app's configured strategy (exit 2 otherwise): a release never
changes how an app is deployed. Staging and production ask for approval unless ``--yes``.
``--dry-run`` without a `pulumi` CLI on PATH plans from the stack file (Pulumi.<stack>.yaml).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, get_args

from components.app_settings import AppSettings
from components.config_types import Strategy
from components.settings import DEFAULT_APP, PROJECT, StackSettings, parse_settings
from components.validation import ConfigError, parse_image
from gates.report import mask
from rollout.commands import rollback
from rollout.exit_codes import CommandError, ExitCode
from rollout.history import ENVIRONMENT_KEY, ConfigMap, secret_values
from rollout.interaction import confirm, needs_approval
from rollout.notifications import notify
from rollout.offline.stackfile import file_settings
from rollout.plan import PlanError, ReleasePlan, Step, plan_release, release_lines
from rollout.services import Services
from rollout.stacks import StackAccess, StackLockedError, UpFailedError, gate_report

if TYPE_CHECKING:
    from rollout.cli import Console


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "release",
        help="release an image through the app's strategy, one config change and `pulumi up` per step",
        description="Walk a release through its steps (rolling, blue-green or canary); a failed gate "
        "undoes traffic first and exits 1.",
    )
    parser.add_argument("--stack", required=True, metavar="STACK", help="stack name")
    parser.add_argument(
        "--image", required=True, metavar="IMAGE", help="REPOSITORY:TAG or REPOSITORY@sha256:DIGEST"
    )
    parser.add_argument(
        "--app", metavar="NAME", help=f"app to release (default: {DEFAULT_APP}, or the only app)"
    )
    parser.add_argument(
        "--strategy",
        choices=get_args(Strategy),
        help="assert the app's configured strategy (refused with exit 2 when it differs)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the steps and stop")
    parser.add_argument("--yes", action="store_true", help="approve without asking")
    parser.add_argument(
        "--rollback-on-failure",
        action="store_true",
        help="after undoing traffic on a failure, also redeploy the config of the version before the release",
    )
    parser.add_argument(
        "--scale-down-idle",
        action="store_true",
        help="blue-green: once the switch is confirmed, scale the old colour down to zero (one more step)",
    )
    parser.set_defaults(handler=handle)


def plain_settings(config: ConfigMap) -> dict[str, Any]:
    """The project's plain (non-secret) config as the program reads it, keys without the prefix."""
    prefix = f"{PROJECT}:"
    raw: dict[str, Any] = {}
    for key, entry in config.items():
        if not key.startswith(prefix) or entry.secret:
            continue
        raw[key.removeprefix(prefix)] = entry.object_value if entry.is_object else entry.value
    return raw


def _choose_app(apps: Mapping[str, AppSettings], name: str | None) -> str:
    if name is not None:
        if name not in apps:
            raise CommandError(
                f"--app {name}: the stack has no app {name!r} (apps: {', '.join(sorted(apps))})"
            )
        return name
    if DEFAULT_APP in apps:
        return DEFAULT_APP
    if len(apps) == 1:
        return next(iter(apps))
    raise CommandError(f"the stack has several apps; choose one with --app ({', '.join(sorted(apps))})")


def _run_step(access: StackAccess, step: Step, console: Console, secrets: list[str]) -> None:
    access.set_paths(step.change.set)
    access.remove_paths(step.change.remove)
    access.up(step.message, on_output=lambda line: console.note(mask(f"  | {line}", secrets)))


def _plan(args: argparse.Namespace, console: Console, settings: StackSettings) -> ReleasePlan | None:
    """The release plan, printed; None when the app already runs the image."""
    app_name = _choose_app(settings.apps, args.app)
    app = settings.apps[app_name]
    if app.image == args.image and not app.canary_running:
        console.print(f"{args.stack}: {app_name} already runs {args.image}; nothing to release")
        return None
    try:
        plan = plan_release(
            app_name, app, args.image, strategy=args.strategy, scale_down_idle=args.scale_down_idle
        )
    except PlanError as error:
        raise CommandError(f"stack {args.stack}: {error}") from None
    for line in release_lines(plan):
        console.print(line)
    return plan


def _offline_dry_run(args: argparse.Namespace, console: Console) -> ExitCode:
    """--dry-run without a `pulumi` CLI: the plan from the stack file's config."""
    _plan(args, console, file_settings(args.cwd, args.stack))
    console.note(
        f"dry run: planned from Pulumi.{args.stack}.yaml, the stack's config as `pulumi config set` "
        "writes it (no `pulumi` CLI on PATH, so the backend was not read: a config changed elsewhere, "
        "e.g. by a release in progress, is not seen); nothing changed"
    )
    return ExitCode.OK


def handle(args: argparse.Namespace, console: Console, services: Services | None = None) -> ExitCode:
    services = services or Services()
    try:
        parse_image(args.image)
    except ValueError as error:
        raise CommandError(f"--image {args.image!r}: {error}") from None
    if args.dry_run and not services.cli_available():
        return _offline_dry_run(args, console)
    access = services.open_stack(args.cwd, args.stack)
    config = access.config()
    secrets = secret_values(config)
    try:
        settings = parse_settings(plain_settings(config), stack=args.stack)
    except ConfigError as error:
        raise CommandError(mask(str(error), secrets)) from None
    plan = _plan(args, console, settings)
    if plan is None:
        return ExitCode.OK
    if args.dry_run:
        console.note("dry run: nothing changed")
        return ExitCode.OK
    env_entry = config.get(ENVIRONMENT_KEY)
    environment = env_entry.value if env_entry else None
    if needs_approval(environment, args.stack) and not args.yes:
        confirm(
            services.terminal,
            lambda q: print(q, end="", file=console.err, flush=True),
            f"release {args.image} to {args.stack} ({environment or 'unknown environment'})?",
        )
    start = next((e for e in access.history(show_secrets=False) if e.succeeded_update), None)
    return walk(access, plan, console, services, args, secrets, start.version if start else None, config)


def walk(
    access: StackAccess,
    plan: ReleasePlan,
    console: Console,
    services: Services,
    args: argparse.Namespace,
    secrets: list[str],
    start_version: int | None,
    config: ConfigMap,
) -> ExitCode:
    operation = f"release {plan.app} {plan.image} to {access.name}"
    total = len(plan.steps)
    before = config
    for index, step in enumerate(plan.steps, 1):
        console.note(f"[{index}/{total}] {step.name}: up --message {step.message!r}")
        try:
            _run_step(access, step, console, secrets)
        except StackLockedError:
            rollback.revert_config(access, before)
            notify(
                services.env,
                event="release",
                operation=operation,
                ok=False,
                text=f"step {index}/{total} ({step.name}): stack locked by another update",
                log=console.note,
                post=services.post,
            )
            raise
        except UpFailedError as error:
            return _failed(access, plan, console, services, args, secrets, start_version, index, step, error)
        except KeyboardInterrupt:
            # The step's config is written but its `up` was cancelled: put the config back so the
            # next `pulumi up` does not deploy half a release, then say what may have been applied.
            rollback.revert_config(access, before)
            console.note(
                f"interrupted during step {index}/{total} ({step.name}): the config is back to before "
                "that step; resources it had already changed stay until the next `pulumi up` "
                f"(`pulumi up --stack {access.name}` converges them; `rollout history` shows the steps run). "
                "If that `pulumi up` finds the stack locked, the interrupted update did not release its "
                f"lock: `pulumi cancel --stack {access.name}` releases it"
            )
            raise
        console.note(f"[{index}/{total}] {step.name}: done")
        if index < total:
            before = access.config()
    notify(
        services.env,
        event="release",
        operation=operation,
        ok=True,
        text=f"{total} steps succeeded ({plan.strategy})",
        log=console.note,
        post=services.post,
    )
    console.print(f"{access.name}: released {plan.app} {plan.image} ({plan.strategy}, {total} steps)")
    return ExitCode.OK


def _failed(
    access: StackAccess,
    plan: ReleasePlan,
    console: Console,
    services: Services,
    args: argparse.Namespace,
    secrets: list[str],
    start_version: int | None,
    index: int,
    step: Step,
    error: UpFailedError,
) -> ExitCode:
    total = len(plan.steps)
    reason = mask(error.reason, secrets)
    console.note(f"[{index}/{total}] {step.name}: FAILED: {reason}")
    for line in gate_report(error.output):
        console.note(mask(f"    {line}", secrets))
    outcome = [f"step {index}/{total} ({step.name}) failed: {reason}"]
    if step.undo is not None:
        console.note(f"undoing traffic: {step.undo.name}: up --message {step.undo.message!r}")
        try:
            _run_step(access, step.undo, console, secrets)
            outcome.append(f"traffic undone ({step.undo.name})")
            console.note("traffic undone")
        except (UpFailedError, CommandError) as undo_error:
            text = mask(str(undo_error), secrets)
            outcome.append(f"UNDOING TRAFFIC FAILED: {text}")
            console.note(f"undoing traffic failed: {text}")
    if args.rollback_on_failure:
        outcome.append(_history_rollback(access, console, services, start_version))
    message = "; ".join(outcome)
    notify(
        services.env,
        event="release",
        operation=f"release {plan.app} {plan.image} to {access.name}",
        ok=False,
        text=message,
        log=console.note,
        post=services.post,
    )
    console.print(f"{access.name}: release of {plan.app} {plan.image} failed: {message}")
    return ExitCode.FAILED


def _history_rollback(
    access: StackAccess, console: Console, services: Services, start_version: int | None
) -> str:
    if start_version is None:
        console.note("no succeeded update before the release: nothing to roll back to")
        return "no earlier version to roll back to"
    console.note(f"rolling back to version {start_version}, the last good version before the release")
    try:
        plan = rollback.plan_rollback(access, previous=False, to=start_version, force=False)
        for line in rollback.plan_lines(access.name, plan):
            console.note(line)
        code = rollback.execute(access, plan, console, services)
    except CommandError as error:
        console.note(f"rollback failed: {error}")
        return f"rollback to version {start_version} failed: {error}"
    return (
        f"rolled back to version {start_version}"
        if code == ExitCode.OK
        else f"rollback to version {start_version} failed"
    )
