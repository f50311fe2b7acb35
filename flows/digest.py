"""The weekly digest: the week's cadence metrics in a few lines, and one chart (PNG) of
replies per step. The chart is drawn by a `ChartRenderer` the composition root passes in
(`cli.chart.render_replies_per_step`, matplotlib): flows import no plotting library."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from flows.cadences import Stats, stats
from flows.ports import Services

__all__ = ["ChartData", "ChartRenderer", "Digest", "chart_data", "digest_text", "weekly_digest"]


@dataclass(frozen=True, slots=True)
class ChartData:
    title: str
    labels: tuple[str, ...]  # one per cadence step: "default 2 · value"
    sent: tuple[int, ...]
    replies: tuple[int, ...]


class ChartRenderer(Protocol):
    def __call__(self, chart: ChartData) -> bytes:
        """The chart as PNG bytes."""


@dataclass(frozen=True, slots=True)
class Digest:
    since: datetime
    now: datetime
    text: str
    chart: ChartData
    png: bytes | None  # None when no renderer was given


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def chart_data(figures: Stats) -> ChartData:
    labels = tuple(
        f"{s.cadence} {s.step}" + (f" · {s.angle.replace('_', ' ')}" if s.angle else "")
        for s in figures.steps
    )
    return ChartData(
        title=f"Replies per cadence step, week of {figures.since:%d %b %Y}",
        labels=labels,
        sent=tuple(s.sent for s in figures.steps),
        replies=tuple(s.replies for s in figures.steps),
    )


def digest_text(figures: Stats) -> str:
    """The digest's text: plain, a line per metric (Slack escaping is the bot's)."""
    replies = sum(s.replies for s in figures.steps)
    touches = sum(s.sent for s in figures.steps)
    lines = [
        f"Cadences, {figures.since:%a %d %b} to {figures.now:%a %d %b}: "
        f"{replies} replies to {touches} touches",
        f"Positive reply rate: {_percent(figures.positive_reply_rate)}",
    ]
    best = max(
        (s for s in figures.steps if s.reply_rate is not None and s.sent >= 1),
        key=lambda s: (s.reply_rate or 0.0, s.sent),
        default=None,
    )
    if best is not None and best.replies:
        angle = f" ({best.angle.replace('_', ' ')})" if best.angle else ""
        lines.append(
            f"Best step: {best.cadence} step {best.step}{angle}, "
            f"{_percent(best.reply_rate)} of {best.sent}"
        )
    for cadence in figures.cadences:
        lines.append(
            f"{cadence.cadence}: {cadence.enrolled} enrolled, completion "
            f"{_percent(cadence.completion_rate)}, opt-outs {_percent(cadence.opt_out_rate)}"
        )
    if figures.re_engagement_rate is not None:
        lines.append(f"Re-engagement rate: {_percent(figures.re_engagement_rate)}")
    if figures.average_touches_before_reply is not None:
        lines.append(f"Average touches before a reply: {figures.average_touches_before_reply:.1f}")
    if figures.median_minutes_to_decision is not None:
        lines.append(
            f"Median time from draft to decision: {figures.median_minutes_to_decision:.0f} min"
        )
    handoffs = figures.handoffs
    if handoffs.total:
        lines.append(
            f"Handoffs: {handoffs.total}, {handoffs.acted} acted on, routing accuracy "
            f"{_percent(handoffs.accuracy)}"
        )
    return "\n".join(lines)


def weekly_digest(
    services: Services,
    now: datetime,
    *,
    render: ChartRenderer | None = None,
    days: int = 7,
) -> Digest:
    """The digest for the `days` before `now`; `render` draws the PNG."""
    since = now - timedelta(days=days)
    figures = stats(services, since, now=now)
    chart = chart_data(figures)
    return Digest(since, now, digest_text(figures), chart, render(chart) if render else None)
