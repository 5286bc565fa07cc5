"""Stack access through the Pulumi Automation API (``pulumi.automation``), with errors translated
into messages a person can act on.

Reads run the CLI's JSON commands and parse them into typed records (rollout/history.py):
``stack history --json [--show-secrets]`` and ``config --show-secrets --json`` — the same argv
``Stack.history()`` and ``Stack.get_all_config()`` run, through the same ``PulumiCommand`` — because
those two SDK methods drop ``objectValue``. Writes use the SDK's own methods:
``set_all_config(path=True)`` (``config set-all --path --plaintext k=v``),
``set_all_config_json`` (``config set-all --json``: plain and object values restored as they
were), ``remove_config(path=True)``, ``remove_all_config`` and ``up(message=...)``. Secret strings
are restored with ``config set KEY --secret`` and the value on stdin, the one write the SDK cannot
make without putting the value on the command line.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto
from pulumi.automation import errors as auto_errors

from rollout.exit_codes import CommandError, ExitCode
from rollout.history import ConfigEntry, HistoryEntry, HistoryFormatError, parse_config, parse_history_text

PASSPHRASE_HELP = (
    "set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) for a passphrase-encrypted stack, "
    "or make the stack's secrets provider (e.g. awskms://, Pulumi Cloud access with PULUMI_ACCESS_TOKEN) "
    "available to this shell"
)
_DECRYPT_TEXT = re.compile(r"decrypt|passphrase|secrets? (manager|provider)", re.IGNORECASE)
_GATE_LINE = re.compile(r"GateFailedError:\s*(?P<message>.+)")
_ERROR_LINE = re.compile(r"^\s*error:\s*(?P<message>.+)", re.IGNORECASE)


class StackLockedError(CommandError):
    """Another update holds the stack's lock."""


class DecryptionError(CommandError):
    """The CLI could not decrypt the stack's secrets."""


class UpFailedError(Exception):
    """`pulumi up` failed; ``reason`` is the failing gate's message when a gate failed."""

    def __init__(self, reason: str, gate_failed: bool, output: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.gate_failed = gate_failed
        self.output = output


def _command_text(error: auto_errors.CommandError) -> str:
    return str(error)


def gate_failure(text: str) -> str | None:
    """The first line of the failing gate's message in `pulumi up` output, if a gate failed."""
    for line in text.splitlines():
        match = _GATE_LINE.search(line)
        if match:
            return match["message"].strip()
    return None


def gate_report(text: str, limit: int = 40) -> list[str]:
    """The failing gate's message: its first line and the indented evaluation lines under it."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = _GATE_LINE.search(line)
        if match:
            block = [match["message"].strip()]
            for follow in lines[index + 1 : index + limit]:
                if not follow.startswith("  ") or not follow.strip():
                    break
                block.append(follow.rstrip())
            return block
    return []


def _first_error(text: str) -> str:
    for line in text.splitlines():
        match = _ERROR_LINE.match(line)
        if match:
            return match["message"].strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


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
            f"stack {stack!r} is locked by another update in progress; nothing was changed. Wait for it "
            "to finish (or, if it died, run `pulumi cancel`) and try again",
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
    return CommandError(f"{action} failed: {_first_error(text)}", ExitCode.FAILED)


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
        args = ["stack", "history", "--json", *(["--show-secrets"] if show_secrets else [])]
        try:
            text = self._run_json(args)
        except (auto_errors.CommandError, FileNotFoundError) as error:
            raise translate(error, self.name, "reading stack history") from None
        try:
            return parse_history_text(text)
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

    def up(self, message: str, on_output: Callable[[str], Any]) -> None:
        """`pulumi up --message`; UpFailedError names the failing gate when one failed.

        Ctrl-C reaches `pulumi` too (the terminal signals the whole foreground job): the CLI then
        finishes the operations in flight, records the update as cancelled and releases the
        stack's lock. So the first Ctrl-C waits for that before raising KeyboardInterrupt; a second
        one interrupts at once, leaving the lock behind, as a second Ctrl-C does to `pulumi`.
        """
        with _graceful_interrupt(on_output) as interrupted:
            try:
                self._up(message, on_output)
            except UpFailedError:
                if not interrupted():
                    raise
            if interrupted():
                raise KeyboardInterrupt

    def _up(self, message: str, on_output: Callable[[str], Any]) -> None:
        try:
            self.stack.up(message=message, on_output=on_output)
        except auto_errors.ConcurrentUpdateError as error:
            raise translate(error, self.name, "pulumi up") from None
        except auto_errors.CommandError as error:
            text = _command_text(error)
            gate = gate_failure(text)
            reason = f"gate failed: {gate}" if gate else f"pulumi up failed: {_first_error(text)}"
            raise UpFailedError(reason, gate is not None, text) from None


@contextmanager
def _graceful_interrupt(say: Callable[[str], Any]) -> Iterator[Callable[[], bool]]:
    """Record the first SIGINT instead of raising, so a running `pulumi` can stop cleanly; raise
    KeyboardInterrupt on the second. Only the main thread can handle signals."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    seen = threading.Event()

    def handler(_signum: int, _frame: object) -> None:
        if seen.is_set():
            raise KeyboardInterrupt
        seen.set()
        say("interrupt: waiting for `pulumi` to stop cleanly (Ctrl-C again to stop at once)")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield seen.is_set
    finally:
        signal.signal(signal.SIGINT, previous)


StackOpener = Callable[[Path, str], StackAccess]


def open_stack(project_dir: Path, name: str) -> StackAccess:
    """Select ``name`` in the project at ``project_dir`` with the `pulumi` CLI on PATH."""
    if not (project_dir / "Pulumi.yaml").is_file():
        raise CommandError(f"{project_dir}: no Pulumi.yaml (run in the project directory or pass --cwd)")
    try:
        workspace = auto.LocalWorkspace(work_dir=str(project_dir.resolve()))
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
