"""Command-line values the commands share a check for."""

from __future__ import annotations

import argparse
import re

from gates.text import escape_hidden, hidden_problem


def shown_name(text: str) -> str:
    """A stack or app name: argparse type refusing one that would act on the terminal (an ESC
    sequence, a bidi override), as every message, plan and report repeats it."""
    if problem := hidden_problem(text):
        raise argparse.ArgumentTypeError(f"{problem}, got '{escape_hidden(text)}'")
    return text


# The Pulumi CLI's rule for a stack (pkg/backend/diy: tokens.IsName and at most 100 characters),
# for each part of [org/][project/]stack: checked here so a bad name is bad input, not an OS error
# from the stack file's path or a CLI failure half way through a command.
_STACK_PART = re.compile(r"[A-Za-z0-9_.-]{1,100}")


def stack_name(text: str) -> str:
    """``--stack``: a name the Pulumi CLI takes (argparse type)."""
    shown_name(text)
    parts = text.split("/")
    # '.' and '..' would name directories where the stack's file is looked for.
    if len(parts) > 3 or not all(_STACK_PART.fullmatch(part) and part.strip(".") for part in parts):
        shown = text if len(text) <= 100 else f"{text[:100]}... ({len(text)} characters)"
        raise argparse.ArgumentTypeError(
            f"'{shown}' is not a stack name: expected [org/][project/]stack, each part at most 100 "
            "characters of letters, digits, '-', '_' or '.' (the Pulumi CLI's rule), and not '.' or '..'"
        )
    return text
