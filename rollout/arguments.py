"""Command-line values the commands share a check for."""

from __future__ import annotations

import argparse

from gates.text import escape_hidden, hidden_problem


def shown_name(text: str) -> str:
    """A stack or app name: argparse type refusing one that would act on the terminal (an ESC
    sequence, a bidi override), as every message, plan and report repeats it."""
    if problem := hidden_problem(text):
        raise argparse.ArgumentTypeError(f"{problem}, got '{escape_hidden(text)}'")
    return text
