"""The weekly digest: the week's cadence metrics in a few lines, and one chart (PNG) of
replies per step. The chart is drawn by a `ChartRenderer` the composition root passes in
(`cli.chart.render_replies_per_step`, matplotlib): flows import no plotting library.

`post_weekly_digest` posts it once per week to a `DigestSurface` (Slack: the text as Block Kit,
then the chart as a file). The week is claimed in the store before anything is posted, and each
part that reached Slack is recorded, so a restart, a second worker or a retry after an outage
never posts a week twice; a week whose slot was missed (the service was down, Slack was out) is
posted late, within `CATCH_UP`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from flows.cadences import Stats, cadence_store, stats
from flows.ports import NotPosted, Services
from storage.cadence_repos import DigestPost

__all__ = [
    "CATCH_UP",
    "ChartData",
    "ChartRenderer",
    "Digest",
    "DigestOutcome",
    "DigestSchedule",
    "DigestStatus",
    "DigestSurface",
    "chart_data",
    "digest_text",
    "post_weekly_digest",
    "weekly_digest",
]

# How late a missed week's digest is still posted; later than that, next week's is the news.
CATCH_UP = timedelta(days=1)
# How long one worker holds a week while posting it; after a crash, another takes over.
DIGEST_LEASE = timedelta(minutes=10)


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


# --------------------------------------------------------------------------- posting


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    """When and where the digest goes: `weekday` (0 = Monday) at `at`, in `timezone`."""

    weekday: int
    at: time
    timezone: str
    channel: str

    def slot(self, now: datetime, *, weeks_back: int = 0) -> tuple[str, datetime]:
        """The ISO week `now` falls in (`2026-W48`, in the schedule's zone), or the one
        `weeks_back` before it (counted on the calendar, so a daylight-saving change in between
        moves nothing), and the moment that week's digest is due."""
        zone = ZoneInfo(self.timezone)
        today = now.astimezone(zone).date() - timedelta(weeks=weeks_back)
        monday = today - timedelta(days=today.weekday())
        year, week, _ = monday.isocalendar()
        day = monday + timedelta(days=self.weekday)
        return f"{year}-W{week:02d}", datetime.combine(day, self.at, tzinfo=zone)


class DigestSurface(Protocol):
    """Where the digest appears. Both methods raise `NotPosted` when it did not get there."""

    def post_summary(self, digest: Digest, channel: str) -> str:
        """Post the digest's text; the message's id (Slack: its ts)."""

    def post_chart(self, digest: Digest, channel: str, png: bytes) -> str:
        """Share the chart; the file's id."""


class DigestStatus(StrEnum):
    POSTED = "posted"
    ALREADY_POSTED = "already posted"
    NOT_DUE = "not due"
    BUSY = "being posted by another worker"
    FAILED = "not posted"


@dataclass(frozen=True, slots=True)
class DigestOutcome:
    status: DigestStatus
    week: str
    due_at: datetime
    post: DigestPost | None = None
    digest: Digest | None = None
    error: str | None = None


def post_weekly_digest(
    services: Services,
    now: datetime,
    schedule: DigestSchedule,
    surface: DigestSurface,
    *,
    render: ChartRenderer | None = None,
    on_demand: bool = False,
) -> DigestOutcome:
    """Post this week's digest once: when its slot has come (up to `CATCH_UP` late), or at
    once `on_demand` (the CLI). A scheduled digest covers the 7 days before its slot, however
    late it is posted; an on-demand one the 7 days before `now`. What failed is kept for the
    next call."""
    week, due_at = schedule.slot(now)
    if not on_demand and now < due_at:
        # This week's slot is ahead; last week's may have been missed by less than CATCH_UP
        # (a Sunday evening slot, the service back on Monday).
        last_week, last_due = schedule.slot(now, weeks_back=1)
        if now < last_due + CATCH_UP:
            week, due_at = last_week, last_due
    digests = cadence_store(services).digests
    known = digests.get(week)
    if known is not None and known.posted_at is not None:
        return DigestOutcome(DigestStatus.ALREADY_POSTED, week, due_at, known)
    if not on_demand and not due_at <= now < due_at + CATCH_UP:
        return DigestOutcome(DigestStatus.NOT_DUE, week, due_at, known)
    claimed = digests.claim(week, channel=schedule.channel, now=now, lease=DIGEST_LEASE)
    if claimed is None:
        known = digests.get(week)
        if known is not None and known.posted_at is not None:
            return DigestOutcome(DigestStatus.ALREADY_POSTED, week, due_at, known)
        return DigestOutcome(DigestStatus.BUSY, week, due_at, known)
    # A retry finishes in the channel the week was started in.
    channel = claimed.channel or schedule.channel
    digest = weekly_digest(services, now if on_demand else due_at, render=render)
    try:
        if claimed.message_ts is None:
            digests.record(week, message_ts=surface.post_summary(digest, channel))
        if digest.png is not None and claimed.file_id is None:
            digests.record(week, file_id=surface.post_chart(digest, channel, digest.png))
    except NotPosted as error:
        digests.release(week, error=error.reason)
        return DigestOutcome(
            DigestStatus.FAILED, week, due_at, digests.get(week), digest, error.reason
        )
    digests.mark_posted(week, now=now)
    return DigestOutcome(DigestStatus.POSTED, week, due_at, digests.get(week), digest)
