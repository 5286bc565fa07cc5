"""`rollout release --stack STACK --image IMAGE [--app NAME] [--strategy S] [--dry-run] [--yes]
[--rollback-on-failure] [--scale-down-idle]`: walk a release through its strategy's steps.

Each step is one config change plus one `pulumi up` with a message such as
``release flutter-app 1.5.0: canary 25%``, so every step is in the stack's history; the program's
health gates run inside each `up`. Each step is previewed first and runs only if its plan changes
what the step owns, then runs exactly that plan (rollout/steps.py). A stack that an interrupted
update left, or whose file holds release changes no update deployed, is refused before anything
changes (rollout/recovery.py); SIGINT and SIGTERM stop `pulumi` cleanly and put the step's config
back.

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
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, get_args

from components.app_settings import AppSettings
from components.config_types import Strategy
from components.plain_text import text_problem
from components.settings import DEFAULT_APP, PROJECT, StackSettings, parse_settings
from components.validation import IMAGE_EXPECTED, ConfigError, check_dns1035_label, parse_image, show
from credentials import mask
from gates.schedule import Schedule
from rollout.arguments import shown_name, stack_name
from rollout.engine_output import gate_report
from rollout.exit_codes import CommandError, ExitCode
from rollout.history import ENVIRONMENT_KEY, ConfigMap, secret_values
from rollout.interaction import confirm, needs_approval
from rollout.notifications import notify
from rollout.offline.stackfile import file_settings
from rollout.plan import (
    Change,
    PlanError,
    ReleasePlan,
    Step,
    deployed_state,
    plan_release,
    release_lines,
    steps_text,
    with_state,
)
from rollout.process import Interrupted
from rollout.recovery import inspect, refuse_leftovers
from rollout.restore import execute, plan_lines, plan_rollback
from rollout.schedule import TOKEN_ENV, plan_schedule
from rollout.services import Services
from rollout.stacks import StackAccess, StackLockedError, UpFailedError
from rollout.steps import revert_config, run_checked

if TYPE_CHECKING:
    from rollout.cli import Console


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "release",
        help="release an image through the app's strategy, one config change and `pulumi up` per step",
        description="Walk a release through its steps (rolling, blue-green or canary); a failed gate "
        "undoes traffic first and exits 1.",
    )
    parser.add_argument("--stack", required=True, type=stack_name, metavar="STACK", help="stack name")
    parser.add_argument(
        "--image", required=True, metavar="IMAGE", help="REPOSITORY:TAG or REPOSITORY@sha256:DIGEST"
    )
    parser.add_argument(
        "--app",
        type=shown_name,
        metavar="NAME",
        help=f"app to release (default: {DEFAULT_APP}, or the only app)",
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


def _settings(raw: dict[str, Any], stack: str, secrets: list[str]) -> StackSettings:
    try:
        return parse_settings(raw, stack=stack)
    except ConfigError as error:
        raise CommandError(mask(str(error), secrets)) from None


def _app_config(raw: Mapping[str, Any], app: str) -> dict[str, Any]:
    apps = raw.get("apps")
    if isinstance(apps, str):  # history may keep an object as its JSON text
        apps = json.loads(apps)
    found = apps.get(app) if isinstance(apps, Mapping) else None
    return dict(found) if isinstance(found, Mapping) else {}


def _plan(
    args: argparse.Namespace,
    console: Console,
    settings: StackSettings,
    start: Change | None = None,
    schedule: Schedule | None = None,
) -> ReleasePlan | None:
    """The release plan, printed; None when the app already runs the image."""
    app_name = _choose_app(settings.apps, args.app)
    app = settings.apps[app_name]
    if app.image == args.image and not app.canary_running:
        console.print(f"{args.stack}: {app_name} already runs {args.image}; nothing to release")
        return None
    try:
        plan = plan_release(
            app_name,
            app,
            args.image,
            strategy=args.strategy,
            scale_down_idle=args.scale_down_idle,
            start=start,
            schedule=schedule,
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


_SHOWN_CHARS = 100


def _check_option(option: str, value: str, parse: Callable[[str], object], expected: str) -> None:
    """Refuse (exit 2) a value the config key it becomes would refuse, with the same checks
    (components/plain_text.py, then the key's own); the message repeats neither a credential nor
    more than the first _SHOWN_CHARS characters of a long value."""
    if problem := text_problem(value):
        raise CommandError(f"{option}: {problem}; expected {expected}")
    try:
        parse(value)
    except ValueError as error:
        shown = show(value[:_SHOWN_CHARS])
        if len(value) > _SHOWN_CHARS:
            shown += f" (the first {_SHOWN_CHARS} of {len(value)} characters)"
        raise CommandError(f"{option} {shown}: {error}") from None


def handle(args: argparse.Namespace, console: Console, services: Services | None = None) -> ExitCode:
    services = services or Services()
    _check_option("--image", args.image, parse_image, IMAGE_EXPECTED)
    if args.app is not None:
        _check_option("--app", args.app, check_dns1035_label, "the name of an app in the stack's `apps`")
    if args.dry_run and not services.cli_available():
        return _offline_dry_run(args, console)
    access = services.open_stack(args.cwd, args.stack)
    with access.supervised(console.note):
        config = access.config()
        secrets = secret_values(config)
        settings = _settings(plain_settings(config), args.stack, secrets)
        app_name = _choose_app(settings.apps, args.app)
        history = access.history(show_secrets=True)
        refuse_leftovers(inspect(access, history, config))
        # What the last succeeded update deployed decides what runs, not the stack file (a fresh
        # CI checkout holds the committed images): the release starts from it.
        baseline = next((e for e in history if e.succeeded_update), None)
        start = None
        if baseline is not None:
            raw = plain_settings(config)
            current = _app_config(raw, app_name)
            start = deployed_state(app_name, current, _app_config(plain_settings(baseline.config), app_name))
            if start.set or start.remove:
                console.note(
                    f"the stack file's release state of {app_name} is not what version {baseline.version} "
                    "deployed; the release starts from version "
                    f"{baseline.version}'s: {'; '.join(start.lines())}"
                )
                raw["apps"] = {**raw.get("apps", {}), app_name: with_state(current, start, app_name)}
                settings = _settings(raw, args.stack, secrets)
        schedule = None
        app = settings.apps[app_name]
        # Measured only for a release that will be planned (a running canary is refused).
        if app.image != args.image and not app.canary_running:
            # The gates' own token (secret config), else the one `rollout report` uses.
            token = config.get(f"{PROJECT}:prometheusToken")
            token_value = (token.value if token else None) or services.env.get(TOKEN_ENV) or None
            schedule = plan_schedule(settings, app_name, token_value, services.measure_traffic)
        plan = _plan(args, console, settings, start, schedule)
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
                console.ask,
                f"release {args.image} to {args.stack} ({environment or 'unknown environment'})?",
            )
        version = baseline.version if baseline else None
        return Walk(access, plan, console, services, args, secrets, version).run(config)


@dataclass
class Walk:
    """One release walked step by step (see the module docstring)."""

    access: StackAccess
    plan: ReleasePlan
    console: Console
    services: Services
    args: argparse.Namespace
    secrets: list[str]
    start_version: int | None

    @property
    def operation(self) -> str:
        return f"release {self.plan.app} {self.plan.image} to {self.access.name}"

    def step(self, step: Step, before: ConfigMap, label: str) -> None:
        def write() -> None:
            self.access.set_paths(step.change.set)
            self.access.remove_paths(step.change.remove)

        run_checked(
            self.access,
            self.console,
            label=label,
            message=step.message,
            write=write,
            before=before,
            ownership=step.ownership,
            secrets=self.secrets,
        )

    def run(self, config: ConfigMap) -> ExitCode:
        total = len(self.plan.steps)
        before = config
        for index, step in enumerate(self.plan.steps, 1):
            label = f"[{index}/{total}] {step.name}"
            self.console.note(f"{label}: up --message {step.message!r}")
            try:
                self.step(step, before, label)
            except StackLockedError:
                revert_config(self.access, before)
                self._notify(False, f"step {index}/{total} ({step.name}): stack locked by another update")
                raise
            except UpFailedError as error:
                return self._failed(index, step, error)
            except CommandError as error:
                # Refused, or its preview failed: the config is back, nothing of this step ran.
                where = (
                    "nothing of the release ran"
                    if index == 1
                    else f"steps 1-{index - 1} ran: traffic is as step {index - 1} left it"
                )
                self._notify(
                    False, f"step {index}/{total} ({step.name}) not run: {mask(str(error), self.secrets)}"
                )
                raise CommandError(
                    f"{error}\nThe release stopped before step {index}/{total}: {where}.", error.code
                ) from None
            except Interrupted as interrupted:
                # The step's config is written but its `up` was stopped: put the config back so the
                # next `pulumi up` does not deploy half a release, then say what state the stack is in.
                revert_config(self.access, before)
                self.console.note(
                    f"{interrupted.signal}: interrupted during step {index}/{total} ({step.name}). `pulumi` stopped "
                    "cleanly and released the stack's lock; the config is back to before that step. Resources "
                    "the step had already changed stay so until the next update: "
                    f"`rollout recover --stack {self.access.name}` returns the stack to its last succeeded update, "
                    "then `rollout release` runs the step again"
                )
                self._notify(
                    False, f"interrupted ({interrupted.signal}) during step {index}/{total} ({step.name})"
                )
                raise
            self.console.note(f"{label}: done")
            if index < total:
                before = self.access.config()
        self._notify(True, f"{steps_text(total)} succeeded ({self.plan.strategy})")
        self.console.print(
            f"{self.access.name}: released {self.plan.app} {self.plan.image} ({self.plan.strategy}, {steps_text(total)})"
        )
        return ExitCode.OK

    def _notify(self, ok: bool, text: str) -> None:
        notify(
            self.services.env,
            event="release",
            operation=self.operation,
            ok=ok,
            text=text,
            log=self.console.note,
            post=self.services.post,
        )

    def _failed(self, index: int, step: Step, error: UpFailedError) -> ExitCode:
        total = len(self.plan.steps)
        reason = mask(error.reason, self.secrets)
        self.console.note(f"[{index}/{total}] {step.name}: FAILED: {reason}")
        for line in gate_report(error.output):
            self.console.note(mask(f"    {line}", self.secrets))
        outcome = [f"step {index}/{total} ({step.name}) failed: {reason}"]
        if step.undo is not None:
            self.console.note(f"undoing traffic: {step.undo.name}: up --message {step.undo.message!r}")
            try:
                self.step(step.undo, self.access.config(), f"undo: {step.undo.name}")
                outcome.append(f"traffic undone ({step.undo.name})")
                self.console.note("traffic undone")
            except (UpFailedError, CommandError) as undo_error:
                text = mask(str(undo_error), self.secrets)
                outcome.append(f"UNDOING TRAFFIC FAILED: {text}")
                self.console.note(f"undoing traffic failed: {text}")
        if self.args.rollback_on_failure:
            outcome.append(self._history_rollback())
        message = "; ".join(outcome)
        self._notify(False, message)
        self.console.print(
            f"{self.access.name}: release of {self.plan.app} {self.plan.image} failed: {message}"
        )
        return ExitCode.FAILED

    def _history_rollback(self) -> str:
        version = self.start_version
        if version is None:
            self.console.note("no succeeded update before the release: nothing to roll back to")
            return "no earlier version to roll back to"
        self.console.note(f"rolling back to version {version}, the last good version before the release")
        try:
            history = self.access.history(show_secrets=True)
            plan = plan_rollback(self.access, history, previous=False, to=version, force=False)
            for line in plan_lines(self.access.name, plan):
                self.console.note(line)
            ok = execute(self.access, plan, self.console, self.services)
        except CommandError as error:
            self.console.note(f"rollback failed: {error}")
            return f"rollback to version {version} failed: {error}"
        return f"rolled back to version {version}" if ok else f"rollback to version {version} failed"
