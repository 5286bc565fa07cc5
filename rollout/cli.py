"""The `rollout` command line: argument parsing, exit codes and error reporting.

Each command lives in ``rollout/commands/<name>.py`` with ``register(subparsers)``; its handler
takes the parsed arguments and a Console and returns an ExitCode.
"""

from __future__ import annotations

import argparse
import re
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from credentials import redact
from gates.text import escape_hidden
from rollout.commands import gate, history, recover, release, render, report, rollback
from rollout.exit_codes import CommandError, ExitCode

COMMANDS = (render, gate, release, rollback, recover, history, report)


@dataclass
class Console:
    """Where a command writes: results to ``out``, progress and diagnostics to ``err``. Every line
    is redacted on its way out (credentials/): whatever a message repeats, a credential in it is
    not shown; and its control and format characters are escaped (gates/text.py): whatever a
    message repeats, it cannot recolour, clear or reorder the terminal."""

    out: TextIO
    err: TextIO

    def print(self, text: str = "") -> None:
        print(_shown(text), file=self.out, flush=True)

    def note(self, text: str) -> None:
        print(_shown(text), file=self.err, flush=True)

    def ask(self, question: str) -> None:
        """``question`` on ``err``, the answer to follow on the same line."""
        print(_shown(question), end="", file=self.err, flush=True)


def _shown(text: str) -> str:
    return escape_hidden(redact(text), keep="\n\t")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse exits 2 on bad arguments, which is the contract's code for bad input too.
        self.print_usage(sys.stderr)
        raise CommandError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rollout", description="Render, gate, release and roll back the flutter-app stacks."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    parser.add_argument(
        "--cwd", type=Path, default=Path("."), metavar="DIR", help="the Pulumi project directory (default: .)"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def _attach_dash_values(argv: Sequence[str]) -> list[str]:
    """``--window -1s`` as ``--window=-1s``: argparse takes a value that starts with '-' for an
    option and says only "expected one argument"; attached, the option's own check names the value
    and what it expects. No valid command line changes meaning."""
    joined: list[str] = []
    skip = False
    for index, token in enumerate(argv):
        if skip:
            skip = False
            continue
        following = argv[index + 1] if index + 1 < len(argv) else ""
        if token.startswith("--") and "=" not in token and re.match(r"^-[0-9.]", following):
            joined.append(f"{token}={following}")
            skip = True
        else:
            joined.append(token)
    return joined


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    console = Console(out or sys.stdout, err or sys.stderr)
    argv = _attach_dash_values(list(argv if argv is not None else sys.argv[1:]))
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        return int(args.handler(args, console))
    except CommandError as error:
        console.note(f"error: {error}")
        return int(error.code)
    except KeyboardInterrupt:
        console.note("interrupted")
        return int(ExitCode.INTERRUPTED)
    except Exception as error:  # the last line of defence: a message, never a bare traceback
        if debug:
            console.note(traceback.format_exc().rstrip("\n"))
        console.note(
            f"error: {type(error).__name__}: {error}" + ("" if debug else " (run with --debug for details)")
        )
        return int(ExitCode.FAILED)
