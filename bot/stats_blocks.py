"""`/followup stats` as Block Kit: the figures of `followup stats`, laid out for a glance.

Pure, like `bot.render`: a `StatsReport` in, a `render.Reply` out. Cadence and rule names
come from our own configuration, but are escaped all the same (a rule name is free text in
`followup.toml`).
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.render import (
    FIELD_TEXT_MAX,
    HEADER_TEXT_MAX,
    SECTION_TEXT_MAX,
    Reply,
    clip,
    escape,
    rule_label,
)
from flows.cadences import CadenceStats, DraftStats, StepStats
from flows.commands import StatsReport
from triggers.drafts import ModelUsageSummary

__all__ = ["duration_text", "percent", "stats_reply"]

FIELDS_MAX = 10  # Slack's limit of fields in one section
# Enough for any real configuration; past these the reply says the rest is on the server,
# so the whole report always fits Slack's 50 blocks.
LINES_MAX = 40
CADENCES_MAX = 2 * FIELDS_MAX
NONE = "–"  # a rate with nothing to divide by


def percent(value: float | None) -> str:
    return NONE if value is None else f"{value:.0%}"


def duration_text(minutes: float | None) -> str:
    """`12 min`, `3 h 05 min`, `2 d 4 h`: a wait as people say it."""
    if minutes is None:
        return NONE
    whole = round(minutes)
    if whole < 60:
        return f"{whole} min"
    hours, rest = divmod(whole, 60)
    if hours < 48:
        return f"{hours} h {rest:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _md(text: str, limit: int = SECTION_TEXT_MAX) -> MarkdownTextObject:
    return MarkdownTextObject(text=clip(text, limit), verbatim=True)


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=_md(text))


def _more(shown: int, total: int, what: str) -> list[str]:
    if total <= shown:
        return []
    return [f"…and {total - shown} more {what}; `followup stats` on the server lists them all."]


def _titled_lines(title: str, lines: Sequence[str]) -> list[Block]:
    """A bold title over its lines, in as many sections as Slack's 3,000 characters need."""
    blocks: list[Block] = []
    chunk = f"*{title}*"
    for line in lines:
        line = clip(line, SECTION_TEXT_MAX // 2)
        if len(chunk) + len(line) + 1 > SECTION_TEXT_MAX:
            blocks.append(_section(chunk))
            chunk = line
        else:
            chunk = f"{chunk}\n{line}"
    blocks.append(_section(chunk))
    return blocks


def _fields(cells: Sequence[str]) -> list[Block]:
    return [
        SectionBlock(fields=[_md(cell, FIELD_TEXT_MAX) for cell in cells[i : i + FIELDS_MAX]])
        for i in range(0, len(cells), FIELDS_MAX)
    ]


def _step_line(step: StepStats) -> str:
    angle = f" ({escape(step.angle.replace('_', ' '))})" if step.angle else ""
    return (
        f"• {escape(step.cadence)} step {step.step}{angle}: *{percent(step.reply_rate)}*, "
        f"{step.replies} of {step.sent} replied"
    )


def _cadence_cell(cadence: CadenceStats) -> str:
    return "\n".join(
        [
            f"*{escape(cadence.cadence)}*: {cadence.enrolled} enrolled, {cadence.live} running",
            f"Positive replies: {percent(cadence.positive_reply_rate)}",
            f"Completion: {percent(cadence.completion_rate)}",
            f"Opt-outs: {percent(cadence.opt_out_rate)}",
        ]
    )


def _draft_line(drafts: DraftStats) -> str:
    return (
        f"• {escape(rule_label(drafts.trigger))}: {drafts.approved_unchanged} unchanged · "
        f"{drafts.approved_edited} edited · {drafts.dismissed} dismissed, "
        f"of {drafts.drafted} drafted"
    )


def _usage_line(usage: ModelUsageSummary) -> str:
    return (
        f"• {escape(usage.model)}: {usage.drafts} drafts, {usage.calls} calls, "
        f"{usage.prompt_tokens:,} tokens in / {usage.completion_tokens:,} out, "
        f"{usage.median_ms:.0f} ms median, {usage.p95_ms:.0f} ms p95"
    )


def stats_reply(report: StatsReport) -> Reply:
    """The metrics of the last `report.days` days, ephemeral."""
    figures = report.figures
    touches = sum(s.sent for s in figures.steps)
    replies = sum(s.replies for s in figures.steps)
    span = (
        f"{figures.since:%a %d %b %Y} to {figures.now:%a %d %b %Y} (UTC) · "
        f"{replies} replies to {touches} cadence touches"
    )
    title = clip(f"Stats: last {report.days} days", HEADER_TEXT_MAX)
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=title)),
        ContextBlock(elements=[_md(span)]),
    ]
    blocks += _titled_lines(
        "Reply rate per cadence step",
        [_step_line(s) for s in figures.steps[:LINES_MAX]]
        + _more(LINES_MAX, len(figures.steps), "steps")
        or ["No cadence touches yet."],
    )
    touches_before = figures.average_touches_before_reply
    blocks += _fields(
        [
            f"*Positive reply rate*\n{percent(figures.positive_reply_rate)}",
            f"*Re-engagement rate*\n{percent(figures.re_engagement_rate)}",
            "*Average touches before a reply*\n"
            + (NONE if touches_before is None else f"{touches_before:.1f}"),
            "*Median time from draft to decision*\n"
            + duration_text(figures.median_minutes_to_decision),
        ]
    )
    if figures.cadences:
        blocks.append(_section("*Per cadence*"))
        blocks += _fields([_cadence_cell(c) for c in figures.cadences[:CADENCES_MAX]])
        blocks += [
            ContextBlock(elements=[_md(line)])
            for line in _more(CADENCES_MAX, len(figures.cadences), "cadences")
        ]
    blocks.append(DividerBlock())
    blocks += _titled_lines(
        "Drafts per rule: approved unchanged · edited · dismissed",
        [_draft_line(d) for d in figures.drafts[:LINES_MAX]]
        + _more(LINES_MAX, len(figures.drafts), "rules")
        or ["No drafts yet."],
    )
    handoffs = figures.handoffs
    blocks.append(
        ContextBlock(
            elements=[
                _md(
                    f"Handoffs: {handoffs.total}, {handoffs.acted} acted on, routing accuracy "
                    f"{percent(handoffs.accuracy)}"
                )
            ]
        )
    )
    blocks += _titled_lines(
        "Model use",
        [_usage_line(u) for u in report.usage] or ["None: every draft came from a template."],
    )
    text = f"followup stats, last {report.days} days: {replies} replies to {touches} touches"
    return Reply(text, blocks)
