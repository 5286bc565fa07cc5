"""`rollout history` as a person and a script see it: a rich table at a terminal, plain aligned
lines when stdout is not a terminal or NO_COLOR is set (the same cells either way)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import pytest

from rollout.cli import Console, build_parser
from rollout.commands import history
from rollout.history import HistoryEntry, parse_history_text
from rollout.services import Services
from tests.release import fixtures as fx


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@dataclass
class Access:
    entries: list[HistoryEntry]

    def history(self, *, show_secrets: bool) -> list[HistoryEntry]:
        assert not show_secrets
        return self.entries


ENTRIES = parse_history_text(fx.cli_json(fx.production_history(), show_secrets=False))


def show(out: io.StringIO, env: dict[str, str]) -> str:
    args = build_parser().parse_args(["history", "--stack", "production"])
    services = Services(open_stack=lambda _cwd, _name: Access(ENTRIES), env=env)  # type: ignore[arg-type,return-value]
    assert history.handle(args, Console(out, io.StringIO()), services) == 0
    return out.getvalue()


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # rich's width when it cannot ask the terminal
    monkeypatch.setenv("TERM", "xterm")  # rich reads colour support from the process environment
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)


def test_a_terminal_gets_a_drawn_table_with_every_cell() -> None:
    drawn = show(Terminal(), {})
    assert "\x1b[1;31mfailed" in drawn  # a failed update stands out in red
    text = re.sub(r"\x1b\[[0-9;]*m", "", drawn)
    lines = text.splitlines()
    assert lines[0].startswith("┏") and lines[-1].startswith("└")
    header = lines[1]
    assert [cell.strip() for cell in header.strip("┃").split("┃")] == list(history.HEADERS)
    body = [line for line in lines if line.startswith("│")]
    assert len(body) == len(ENTRIES)
    for line, cells in zip(body, history.rows(ENTRIES), strict=True):
        assert [cell.strip() for cell in line.strip("│").split("│")] == list(cells)
    assert "release flutter-app 1.5.0: switch live traffic to blue" in text


@pytest.mark.parametrize(
    ("out", "env"),
    [(io.StringIO(), {}), (Terminal(), {"NO_COLOR": "1"})],
    ids=["not a terminal", "NO_COLOR"],
)
def test_plain_lines_for_pipes_and_no_color(out: io.StringIO, env: dict[str, str]) -> None:
    lines = show(out, env).splitlines()
    assert lines == history.table(ENTRIES)
    assert lines[0].split()[:3] == ["VERSION", "KIND", "RESULT"]
    assert lines[2].split()[:3] == ["8", "update", "failed"]
    assert not any(ch in "".join(lines) for ch in "┃│┏\x1b")


def test_an_empty_no_color_is_not_set() -> None:
    assert show(Terminal(), {"NO_COLOR": ""}).startswith("┏")
