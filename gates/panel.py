"""The live panel `rollout gate` draws at a terminal (with rich): elapsed and remaining time and
what "remaining" means for this gate, the latest evaluation and the streaks, each probe's and
check's latest value against its limit, and each sequential test's evidence against the
thresholds where it fails or passes. The words come from gates/progress.py, as in the plain lines.

Every string goes in as ``rich.text.Text``, never as markup: a reason may hold brackets (a URL's
``[redacted]@``) that rich would read as style tags.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from credentials import mask
from gates.progress import (
    Progress,
    check_cells,
    current_end,
    evaluations_until,
    evidence_cells,
    extension,
    probe_cells,
    progress_line,
    remaining,
)
from gates.results import Status, Verdict
from gates.spec import GateSpec

_STYLE = {"pass": "green", "fail": "bold red", "inconclusive": "yellow"}
REFRESH_PER_SECOND = 2
"""Redraws a second: enough for a clock in seconds, cheap next to the gate's own work."""


class GatePanel:
    """The panel of one run, drawn afresh on every refresh (the clock moves between evaluations).
    ``update`` and ``finish`` are called from the gate's thread, rendering from Live's."""

    def __init__(
        self, spec: GateSpec, secrets: Iterable[str] = (), clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.spec = spec
        self._secrets = tuple(secrets)
        self._clock = clock
        self._started = clock()
        self._progress: Progress | None = None
        self._verdict: Verdict | None = None
        self._ended: float | None = None

    def update(self, progress: Progress) -> None:
        self._progress = progress

    def finish(self, verdict: Verdict) -> None:
        self._ended = self._clock() - self._started
        self._verdict = verdict

    def _text(self, text: str, style: str = "") -> Text:
        return Text(mask(text, self._secrets), style=style)

    def __rich__(self) -> RenderableType:
        try:
            return self._render()
        except Exception as error:  # a drawing bug must never stop a gate: say so and go on
            return self._text(f"gate {self.spec.name}: the panel cannot be drawn ({type(error).__name__})")

    def _render(self) -> RenderableType:
        spec, progress, verdict = self.spec, self._progress, self._verdict
        elapsed = self._ended if self._ended is not None else self._clock() - self._started
        parts: list[RenderableType] = [self._time(elapsed, progress)]
        if progress is None:
            parts.append(self._text("waiting for evaluation 1", "dim"))
        else:
            parts += [self._last(progress), self._items(progress)]
            if spec.sequential_mode and any(spec.sequential_kind(c) for c in spec.checks):
                parts.append(self._evidence(progress))
        if verdict is not None:
            status = verdict.status.value
            parts.append(
                Text.assemble(self._text(f"{status.upper()} ", _STYLE[status]), self._text(verdict.reason))
            )
        title = f"gate {spec.name} · {spec.mode}"
        return Panel(Group(*parts), title=self._text(title, "bold"), title_align="left", expand=True)

    def _time(self, elapsed: float, progress: Progress | None) -> Group:
        if self._verdict is not None:
            return Group(self._text(f"elapsed {elapsed:.0f} s · ended", "bold"))
        left, why = remaining(self.spec, progress, elapsed)
        return Group(self._text(f"elapsed {elapsed:.0f} s · {left}", "bold"), self._text(why, "dim"))

    def _last(self, progress: Progress) -> Group:
        spec, evaluation, streaks = self.spec, progress.evaluation, progress.streaks
        total = evaluations_until(spec, current_end(spec, progress))
        note = extension(spec, progress)
        status = evaluation.status.value
        head = Text.assemble(
            self._text(f"evaluation {evaluation.index} of {total} planned at +{evaluation.offset:.1f} s: "),
            self._text(status, _STYLE[status]),
            self._text(f" · {evaluation.reason}"),
        )
        streak = self._text(
            f"in a row: failed {streaks.failures} of failure_limit {spec.failure_limit}, inconclusive "
            f"{streaks.inconclusive} of inconclusive_limit {spec.inconclusive_limit}",
            "dim",
        )
        return Group(head, *([self._text(note, "dim")] if note else []), streak)

    def _items(self, progress: Progress) -> Table:
        evaluation = progress.evaluation
        table = Table("item", "latest", "limit", "status", title=None, expand=True, header_style="bold")
        results = {r.check: r for r in evaluation.sequential}
        rows = [probe_cells(p) for p in evaluation.probes]
        rows += [check_cells(self.spec, c, results.get(c.name)) for c in evaluation.checks]
        for item, latest, limit, status in rows:
            table.add_row(
                self._text(item), self._text(latest), self._text(limit), self._text(status, _STYLE[status])
            )
        return table

    def _evidence(self, progress: Progress) -> Table:
        spec, evaluation = self.spec, progress.evaluation
        table = Table(
            "sequential test",
            "decision",
            "canary",
            "reference",
            "toward fail",
            "toward early pass",
            expand=True,
            header_style="bold",
        )
        label = spec.sequential.baseline_version or "baseline"
        results = {r.check: r for r in evaluation.sequential}
        tests = {c.name for c in spec.checks if spec.sequential_kind(c)}
        for check in evaluation.checks:
            if check.name not in tests:
                continue
            result = results.get(check.name)
            if result is None:
                # No evidence weighed this evaluation (no data, a failed fetch): say why.
                table.add_row(
                    self._text(check.name), self._text("no evidence", "yellow"), self._text(check.detail)
                )
                continue
            cells = evidence_cells(result, label)
            style = {"reject": "bold red", "accept": "green"}.get(cells[1], "")
            table.add_row(*(self._text(cell, style if i == 1 else "") for i, cell in enumerate(cells)))
        return table


class LiveProgress:
    """`rollout gate` at a terminal: the panel redrawn in place, with log lines and the line of
    each evaluation that did not pass printed above it (they stay when the panel moves on)."""

    def __init__(self, spec: GateSpec, secrets: Iterable[str], stream: TextIO) -> None:
        self.spec = spec
        self._secrets = tuple(secrets)
        self.panel = GatePanel(spec, self._secrets)
        self._console = Console(file=stream, highlight=False)
        # Notes and updates come from the gate's thread and the webhook's; Live redraws from its own.
        self._lock = threading.Lock()
        self._live = Live(
            self.panel,
            console=self._console,
            refresh_per_second=REFRESH_PER_SECOND,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )

    def __enter__(self) -> LiveProgress:
        self._live.start()
        return self

    def __exit__(
        self, _kind: type[BaseException] | None, _error: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._live.stop()

    def note(self, line: str) -> None:
        with self._lock:
            self._console.print(Text(mask(line, self._secrets)))

    def update(self, progress: Progress) -> None:
        self.panel.update(progress)
        if progress.evaluation.status is not Status.PASS:
            self.note(progress_line(self.spec, progress))
        self._live.refresh()

    def finish(self, verdict: Verdict) -> None:
        self.panel.finish(verdict)
        self._live.refresh()
