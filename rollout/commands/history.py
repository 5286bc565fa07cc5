"""`rollout history --stack STACK [--json] [--limit N]`: the stack's updates newest first —
version, kind, result, start time, duration, message, git commit, and what each deployed (images,
canary weight, active colour), as a table (drawn with rich at a terminal; plain aligned lines when
stdout is not a terminal or NO_COLOR is set) or JSON. Reads history without ``--show-secrets``: no
passphrase is needed and no secret value is ever read."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TextIO

from rollout.arguments import stack_name
from rollout.exit_codes import ExitCode
from rollout.history import HistoryEntry, deployed_apps, entry_to_json
from rollout.services import Services

if TYPE_CHECKING:
    from rollout.cli import Console


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "history",
        help="list a stack's updates and what each deployed",
        description="List the stack's updates (pulumi stack history), newest first, with the images, "
        "canary weights and active colours each deployed.",
    )
    parser.add_argument("--stack", required=True, type=stack_name, metavar="STACK", help="stack name")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--limit", type=_positive, metavar="N", help="show the newest N entries only")
    parser.set_defaults(handler=handle)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def format_duration(duration: timedelta | None) -> str:
    if duration is None:
        return "-"
    seconds = int(duration.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


HEADERS = ("VERSION", "KIND", "RESULT", "STARTED (UTC)", "DURATION", "COMMIT", "DEPLOYED", "MESSAGE")
_RESULT_STYLE = {"succeeded": "green", "failed": "bold red", "in-progress": "yellow"}


def rows(entries: list[HistoryEntry]) -> list[tuple[str, ...]]:
    """One row of cells per entry, in HEADERS' order."""
    return [
        (
            str(e.version),
            e.kind,
            e.result or "-",
            e.start_time.strftime("%Y-%m-%d %H:%M:%S"),
            format_duration(e.duration),
            (e.commit or "-")[:10],
            "; ".join(app.summary() for app in deployed_apps(e.config)) or "-",
            e.message.splitlines()[0] if e.message else "",
        )
        for e in entries
    ]


def table(entries: list[HistoryEntry]) -> list[str]:
    """Plain lines, columns aligned with spaces: for pipes, files and scripts (`awk '{print $1}'`)."""
    cells = rows(entries)
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(HEADERS)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return lines


def fancy(out: TextIO, env: Mapping[str, str]) -> bool:
    """A rich table for a person at a terminal; plain lines for a pipe or with NO_COLOR set
    (no-color.org: present and not empty)."""
    return out.isatty() and not env.get("NO_COLOR")


def print_rich_table(entries: list[HistoryEntry], out: TextIO) -> None:
    # Imported here: only an interactive `rollout history` needs rich.
    from rich.console import Console as RichConsole
    from rich.table import Table

    grid = Table(*HEADERS, header_style="bold", show_lines=False)
    for cells in rows(entries):
        style = _RESULT_STYLE.get(cells[2], "")
        grid.add_row(*cells[:2], f"[{style}]{cells[2]}[/]" if style else cells[2], *cells[3:])
    RichConsole(file=out, highlight=False).print(grid)


def handle(args: argparse.Namespace, console: Console, services: Services | None = None) -> ExitCode:
    services = services or Services()
    access = services.open_stack(args.cwd, args.stack)
    entries = access.history(show_secrets=False)
    if args.limit:
        entries = entries[: args.limit]
    if args.json:
        console.print(json.dumps([entry_to_json(e) for e in entries], indent=2))
    elif not entries:
        console.note(f"stack {args.stack} has no history yet")
    elif fancy(console.out, services.env):
        print_rich_table(entries, console.out)
    else:
        for line in table(entries):
            console.print(line)
    return ExitCode.OK
