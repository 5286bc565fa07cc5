"""Stack access through the Pulumi Automation API (``pulumi.automation``), with errors translated
into messages a person can act on.

Reads run the CLI's JSON commands and parse them into typed records (rollout/history.py):
``stack history --json [--show-secrets]`` and ``config --show-secrets --json`` — the same argv
``Stack.history()`` and ``Stack.get_all_config()`` run, through the same ``PulumiCommand`` — because
those two SDK methods drop ``objectValue``. Writes use the SDK's own methods:
``set_all_config(path=True)`` (``config set-all --path --plaintext k=v``),
``set_all_config_json`` (``config set-all --json``: plain and object values restored as they
were), ``remove_config(path=True)``, ``remove_all_config``, ``preview(plan=...)`` (``--save-plan``)
and ``up(message=..., plan=...)`` (``--plan``). Secret strings are restored with ``config set KEY
--secret`` and the value on stdin, the one write the SDK cannot make without putting the value on
the command line. The CLI runs supervised (rollout/process.py): a signal reaches it only through
rollout, once.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto
from pulumi.automation import errors as auto_errors

from rollout.changes import PlanFormatError, ResourceChange, planned_changes
from rollout.engine_output import gate_failure, root_cause
from rollout.exit_codes import CommandError, ExitCode
from rollout.files import absent
from rollout.history import (
    ConfigEntry,
    HistoryEntry,
    HistoryFormatError,
    parse_config,
    parse_history,
)
from rollout.leftovers import LockHolder
from rollout.locks import file_backend_locks
from rollout.process import SupervisedPulumi, supervised
from rollout.yamlfile import YamlFileError, read_yaml

PASSPHRASE_HELP = (
    "set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) for a passphrase-encrypted stack, "
    "or make the stack's secrets provider (e.g. awskms://, Pulumi Cloud access with PULUMI_ACCESS_TOKEN) "
    "available to this shell"
)
HISTORY_PAGE_SIZE = 100
MAX_HISTORY_PAGES = 1000
"""History is read in pages of HISTORY_PAGE_SIZE, at most this many (100,000 entries)."""
_DECRYPT_TEXT = re.compile(r"decrypt|passphrase|secrets? (manager|provider)", re.IGNORECASE)


class StackLockedError(CommandError):
    """Another update holds the stack's lock."""


class DecryptionError(CommandError):
    """The CLI could not decrypt the stack's secrets."""


class UpFailedError(Exception):
    """`pulumi up` failed; ``reason`` is the failing gate's message when a gate failed, else the
    engine's root cause (rollout/engine_output.py)."""

    def __init__(self, reason: str, gate_failed: bool, output: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.gate_failed = gate_failed
        self.output = output


def _command_text(error: auto_errors.CommandError) -> str:
    return str(error)


def translate(error: Exception, stack: str, action: str) -> CommandError:
    """A CommandError (message + exit code) for an Automation API failure."""
    if isinstance(error, auto_errors.StackNotFoundError):
        return CommandError(
            f"stack {stack!r} not found (create it with `pulumi stack init {stack}`, or check the "
            "backend you are logged in to)",
            ExitCode.BAD_INPUT,
        )
    if isinstance(error, auto_errors.ConcurrentUpdateError):
        return StackLockedError(
            f"stack {stack!r} is locked by another update; this command changed nothing. If an update "
            f"runs, wait for it; if it was cut short, `rollout recover --stack {stack}` says what it left "
            "and repairs it",
            ExitCode.FAILED,
        )
    text = _command_text(error) if isinstance(error, auto_errors.CommandError) else str(error)
    if isinstance(error, auto_errors.CommandError) and _DECRYPT_TEXT.search(text):
        return DecryptionError(
            f"{action}: the stack's secrets cannot be decrypted; {PASSPHRASE_HELP}", ExitCode.BAD_INPUT
        )
    if isinstance(error, FileNotFoundError):
        return CommandError(
            "the `pulumi` CLI was not found on PATH (install it: https://www.pulumi.com/docs/install/)",
            ExitCode.BAD_INPUT,
        )
    if isinstance(error, auto_errors.InvalidVersionError):
        return CommandError(f"unsupported pulumi CLI: {error}", ExitCode.BAD_INPUT)
    return CommandError(f"{action} failed: {root_cause(text)}", ExitCode.FAILED)


@dataclass
class StackAccess:
    """One selected stack of the project in ``project_dir``."""

    project_dir: Path
    name: str
    stack: auto.Stack

    def _run_json(self, args: list[str]) -> str:
        ws = self.stack.workspace
        assert isinstance(ws, auto.LocalWorkspace)
        env = dict(ws.env_vars or {})
        result = ws.pulumi_command.run([*args, "--stack", self.name], str(ws.work_dir), env)
        return result.stdout

    def history(self, *, show_secrets: bool) -> list[HistoryEntry]:
        """Every entry of the stack's history, all pages: a version number is a position in the
        whole history, so it names the same update however many come after it."""
        args = ["stack", "history", "--json", *(["--show-secrets"] if show_secrets else [])]
        raw: list[Any] = []
        for page in range(1, MAX_HISTORY_PAGES + 1):
            paged = [*args, "--page-size", str(HISTORY_PAGE_SIZE), "--page", str(page)]
            try:
                text = self._run_json(paged)
            except (auto_errors.CommandError, FileNotFoundError) as error:
                raise translate(error, self.name, "reading stack history") from None
            try:
                entries = json.loads(text) if text.strip() else None
            except json.JSONDecodeError as error:
                raise CommandError(
                    f"unexpected `pulumi stack history --json` output: not JSON ({error})", ExitCode.FAILED
                ) from None
            if entries is not None and not isinstance(entries, list):
                raise CommandError(
                    "unexpected `pulumi stack history --json` output: not a list", ExitCode.FAILED
                )
            raw += entries or []
            if len(entries or []) < HISTORY_PAGE_SIZE:
                break
        else:
            raise CommandError(
                f"stack {self.name} has more than {MAX_HISTORY_PAGES * HISTORY_PAGE_SIZE} history entries; "
                "rollout reads no further",
                ExitCode.FAILED,
            )
        try:
            return parse_history(raw)
        except HistoryFormatError as error:
            raise CommandError(
                f"unexpected `pulumi stack history --json` output: {error}", ExitCode.FAILED
            ) from None

    def config(self) -> dict[str, ConfigEntry]:
        """The current config with real secret values (as `pulumi config --show-secrets --json`)."""
        try:
            text = self._run_json(["config", "--show-secrets", "--json"])
        except (auto_errors.CommandError, FileNotFoundError) as error:
            raise translate(error, self.name, "reading stack config") from None
        try:
            return parse_config(json.loads(text) if text.strip() else {})
        except (HistoryFormatError, json.JSONDecodeError) as error:
            raise CommandError(
                f"unexpected `pulumi config --json` output: {error}", ExitCode.FAILED
            ) from None

    def set_paths(self, values: Mapping[str, str]) -> None:
        """Plain values at config paths, in one `config set-all --path` call."""
        if not values:
            return
        try:
            self.stack.set_all_config(
                {k: auto.ConfigValue(v, secret=False) for k, v in values.items()}, path=True
            )
        except auto_errors.CommandError as error:
            raise translate(error, self.name, "setting config") from None

    def remove_paths(self, keys: Sequence[str]) -> None:
        try:
            for key in keys:
                self.stack.remove_config(key, path=True)
        except auto_errors.CommandError as error:
            raise translate(error, self.name, "removing config") from None

    def restore(self, writes: Mapping[str, ConfigEntry], removals: Sequence[str]) -> None:
        """Write entries exactly as they were (plain, secret, object) and remove keys."""
        for key, entry in writes.items():
            # Never a placeholder: the caller checked, and this is the last line of defence.
            if not entry.restorable:
                raise CommandError(f"refusing to write {key}: its value is not available", ExitCode.BAD_INPUT)
        # Secret strings go through stdin, never on a command line other users could read;
        # everything else (plain values, objects) in one `config set-all --json`.
        piped = {k: e for k, e in writes.items() if e.secret and not e.is_object}
        rest = {k: e for k, e in writes.items() if k not in piped}
        try:
            if rest:
                self.stack.set_all_config_json(json.dumps({k: e.to_cli_json() for k, e in rest.items()}))
            if removals:
                self.stack.remove_all_config(list(removals))
        except auto_errors.CommandError as error:
            raise translate(error, self.name, "restoring config") from None
        for key, entry in piped.items():
            self._set_secret_from_stdin(key, entry.value or "")

    def _set_secret_from_stdin(self, key: str, value: str) -> None:
        """`pulumi config set --secret KEY` with the value on stdin (the CLI reads a non-terminal
        stdin to its end and drops one trailing newline, hence the newline added here)."""
        workspace = self.stack.workspace
        command = getattr(getattr(workspace, "pulumi_command", None), "command", "pulumi")
        argv = [command, "--non-interactive", "config", "set", key, "--secret", "--stack", self.name]
        env = {**os.environ, **getattr(workspace, "env_vars", {}), "PULUMI_AUTOMATION_API": "true"}
        try:
            result = subprocess.run(
                argv,
                input=value + "\n",
                capture_output=True,
                text=True,
                cwd=getattr(workspace, "work_dir", None),
                env=env,
                timeout=300,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise CommandError(
                f"stack {self.name}: setting secret {key} failed: {error}", ExitCode.FAILED
            ) from None
        if result.returncode != 0:
            detail = (
                (result.stderr or result.stdout).strip().replace(value, "[secret]")
                if value
                else result.stderr
            )
            raise CommandError(f"stack {self.name}: setting secret {key} failed: {detail}", ExitCode.FAILED)

    @property
    def command(self) -> SupervisedPulumi:
        command = self.stack.workspace.pulumi_command
        assert isinstance(command, SupervisedPulumi)
        return command

    def supervised(self, say: Callable[[str], Any]) -> contextlib.AbstractContextManager[None]:
        """SIGINT and SIGTERM handled while the block runs (rollout/process.py): a running CLI
        operation stops cleanly, then Interrupted is raised."""
        return supervised(self.command, say)

    def preview_plan(self, plan_path: Path) -> list[ResourceChange]:
        """`pulumi preview --save-plan PATH`: the changes the next `up --plan PATH` may make.
        CommandError (exit 1) with the engine's root cause when the preview fails."""
        try:
            self.stack.preview(plan=str(plan_path))
        except auto_errors.CommandError as error:
            raise translate(error, self.name, "pulumi preview") from None
        try:
            return planned_changes(json.loads(plan_path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError, PlanFormatError) as error:
            raise CommandError(f"reading the preview's plan {plan_path}: {error}", ExitCode.FAILED) from None

    def up(self, message: str, on_output: Callable[[str], Any], plan: Path | None = None) -> None:
        """`pulumi up --message [--plan PATH]`; UpFailedError names the failing gate when one
        failed, else the engine's root cause."""
        try:
            self.stack.up(message=message, on_output=on_output, plan=str(plan) if plan else None)
        except auto_errors.ConcurrentUpdateError as error:
            raise translate(error, self.name, "pulumi up") from None
        except auto_errors.CommandError as error:
            text = _command_text(error)
            gate = gate_failure(text)
            reason = f"gate failed: {gate}" if gate else f"pulumi up failed: {root_cause(text)}"
            raise UpFailedError(reason, gate is not None, text) from None

    def refresh(self) -> None:
        """`pulumi refresh` (resolving pending operations: pending creates are dropped from the
        state, the cluster then says what exists)."""
        try:
            self.stack.refresh(clear_pending_creates=True, message="recover: refresh")
        except auto_errors.CommandError as error:
            raise translate(error, self.name, "pulumi refresh") from None

    def cancel(self) -> None:
        """`pulumi cancel --yes`: drop the stack's lock (a file backend deletes its lock files)."""
        try:
            self.stack.cancel()
        except auto_errors.CommandError as error:
            raise translate(error, self.name, "pulumi cancel") from None

    def export(self) -> dict[str, Any]:
        """`pulumi stack export`: the state (secrets stay encrypted)."""
        try:
            text = self._run_json(["stack", "export"])
            state = json.loads(text) if text.strip() else {}
        except (auto_errors.CommandError, FileNotFoundError) as error:
            raise translate(error, self.name, "reading the stack's state") from None
        except json.JSONDecodeError as error:
            raise CommandError(f"unexpected `pulumi stack export` output: {error}", ExitCode.FAILED) from None
        return state if isinstance(state, dict) else {}

    def locks(self) -> list[LockHolder]:
        """The locks a file backend holds on this stack; [] for other backends (not readable here)."""
        ws = self.stack.workspace
        url = (ws.env_vars or {}).get("PULUMI_BACKEND_URL") or os.environ.get("PULUMI_BACKEND_URL")
        if not url:
            with contextlib.suppress(auto_errors.CommandError):
                url = ws.who_am_i().url
        return file_backend_locks(url or "", read_project(self.project_dir).get("name", ""), self.name)


StackOpener = Callable[[Path, str], StackAccess]


def open_stack(project_dir: Path, name: str) -> StackAccess:
    """Select ``name`` in the project at ``project_dir`` with the `pulumi` CLI on PATH."""
    if absent(project_dir / "Pulumi.yaml"):
        raise CommandError(f"{project_dir}: no Pulumi.yaml (run in the project directory or pass --cwd)")
    # The CLI's own messages name a neighbouring line of a bad file, or say it has no project or
    # stack when the file is a directory or a FIFO, and exit 1.
    for path in (project_dir / "Pulumi.yaml", project_dir / f"Pulumi.{name}.yaml"):
        if not absent(path):
            try:
                read_yaml(path)
            except YamlFileError as error:
                raise CommandError(str(error)) from None
    try:
        workspace = auto.LocalWorkspace(
            work_dir=str(project_dir.resolve()), pulumi_command=SupervisedPulumi()
        )
        stack = auto.Stack.select(name, workspace)
    except subprocess.CalledProcessError:
        raise CommandError("`pulumi version` failed: is the pulumi CLI installed correctly?") from None
    except (auto_errors.CommandError, auto_errors.InvalidVersionError, FileNotFoundError) as error:
        raise translate(error, name, "selecting the stack") from None
    return StackAccess(project_dir, name, stack)


def read_project(project_dir: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load((project_dir / "Pulumi.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}
