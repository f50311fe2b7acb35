"""The digest chart, drawn with matplotlib's Agg canvas (no pyplot, no display, thread-safe):
the `ChartRenderer` that `app.py` passes to `flows.digest.weekly_digest`."""

from __future__ import annotations

import io

from flows.digest import ChartData


def render_replies_per_step(chart: ChartData) -> bytes:
    """Bars of replies per cadence step, each labelled with its reply rate; PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(7.0, 3.6), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(len(chart.labels)))
    bars = axes.bar(positions, chart.replies, color="#3b7dd8", width=0.6)
    for bar, sent, replies in zip(bars, chart.sent, chart.replies, strict=True):
        rate = f"{replies / sent:.0%} of {sent}" if sent else "no touches"
        axes.annotate(
            rate,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )
    axes.set_xticks(positions, chart.labels, rotation=20, ha="right", fontsize=8)
    axes.set_ylabel("replies")
    axes.set_title(chart.title, fontsize=10)
    top = max(chart.replies, default=0)
    axes.set_ylim(0, max(1, top) * 1.25)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.spines[["top", "right"]].set_visible(False)
    if not chart.labels:
        axes.text(0.5, 0.5, "no cadence touches this week", ha="center", transform=axes.transAxes)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
