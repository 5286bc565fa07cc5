"""PNG charts of latency, error rate and throughput over the report window: one image per chart,
one panel per app. matplotlib (Agg, no display) is imported only when charts are drawn, so
importing this module, or the CLI, stays cheap."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rollout.monitoring.model import CHARTS, Chart, StackReport
from rollout.monitoring.render import CHART_TITLES

if TYPE_CHECKING:
    from matplotlib.axes import Axes

Y_LABELS = {"latency": "seconds", "error-rate": "% of requests (5xx)", "throughput": "requests / s"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _when(unix: float) -> float:
    """Unix time as matplotlib's date number (days since its epoch)."""
    import matplotlib.dates as mdates

    return float(mdates.date2num(datetime.fromtimestamp(unix, UTC)))


def _panel(axes: Axes, panel: Chart, name: str, start: float, end: float) -> None:
    axes.set_title(f"{CHART_TITLES[name]}: {panel.app}", fontsize=10)
    axes.set_xlim(_when(start), _when(end))
    axes.set_ylabel(Y_LABELS[name], fontsize=8)
    axes.grid(True, alpha=0.3)
    if not panel.lines:
        # Missing is drawn as missing: an empty panel saying so, never a line at zero.
        axes.text(
            0.5,
            0.5,
            panel.missing or "no data",
            ha="center",
            va="center",
            transform=axes.transAxes,
            color="grey",
        )
        axes.set_yticks([])
        return
    for line in panel.lines:
        axes.plot(
            [_when(t) for t, _ in line.points],
            [v for _, v in line.points],
            label=line.label,
            linewidth=1.2,
            marker="." if len(line.points) < 3 else None,
        )
    highest = max(v for line in panel.lines for _, v in line.points)
    axes.set_ylim(bottom=0, top=highest * 1.15 if highest > 0 else 1)
    # Outside the plot, on the right: inside it would hide the lines it names.
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def draw(report: StackReport) -> dict[str, bytes]:
    """Chart name -> PNG bytes, for every chart of ``report``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    images: dict[str, bytes] = {}
    for name in CHARTS:
        panels = report.charts.get(name, ())
        if not panels:
            continue
        # A Figure of its own (not pyplot): no global state, nothing left open.
        height = 2.4 * len(panels) + 0.7
        figure = Figure(figsize=(9, height), dpi=90)
        # Fixed margins (in inches, as fractions): a layout engine would measure every label and
        # redraw the figure, doubling the time to draw it.
        figure.subplots_adjust(left=0.09, right=0.88, top=1 - 0.8 / height, bottom=0.4 / height, hspace=0.45)
        FigureCanvasAgg(figure)
        axes_list = figure.subplots(len(panels), 1, squeeze=False)[:, 0]
        for axes, panel in zip(axes_list, panels, strict=True):
            _panel(axes, panel, name, report.start, report.end)
            axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S", tz=UTC))
        figure.suptitle(
            f"{CHART_TITLES[name]}, stack {report.stack}, window {report.window} (times in UTC)", fontsize=11
        )
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        images[name] = buffer.getvalue()
    return images
