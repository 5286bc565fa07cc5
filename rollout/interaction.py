"""Asking a person for approval: injectable input and terminal check, refusing without a terminal.

Staging and production always ask before changing anything unless ``--yes`` is given; with no
terminal to ask on (CI, a pipe) and no ``--yes`` the command refuses with exit 2 rather than
guess.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from rollout.exit_codes import CommandError, ExitCode

ALWAYS_ASK = frozenset({"staging", "production"})


@dataclass
class Terminal:
    """Where answers come from; ``is_tty`` says whether a person can answer."""

    stdin: TextIO
    is_tty: Callable[[], bool]

    @classmethod
    def from_process(cls) -> Terminal:
        return cls(sys.stdin, lambda: sys.stdin is not None and sys.stdin.isatty())


def needs_approval(environment: str | None, stack: str) -> bool:
    """Staging and production (by the stack's environment, or its name) always ask."""
    return (environment in ALWAYS_ASK) or (stack in ALWAYS_ASK)


def confirm(terminal: Terminal, ask: Callable[[str], None], question: str, *, flag: str = "--yes") -> None:
    """Ask ``question``; CommandError (exit 2) when there is no terminal or the answer is not yes."""
    if not terminal.is_tty():
        raise CommandError(
            f"approval needed and there is no terminal to ask on; re-run with {flag} to approve "
            "non-interactively. Nothing was changed",
            ExitCode.BAD_INPUT,
        )
    ask(f"{question} [y/N] ")
    answer = terminal.stdin.readline()
    if answer.strip().lower() not in ("y", "yes"):
        raise CommandError("not approved; nothing was changed", ExitCode.BAD_INPUT)
