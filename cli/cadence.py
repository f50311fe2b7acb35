"""Cadence commands: `followup enroll`, `followup stats`, and the owner's questions
(`followup questions`, `followup answer`) for those who review without Slack."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli._app import main_app
from cli.core import EXIT_FAILED, EXIT_UNUSABLE_INPUT, ConfigOption, _application, _now, _user
from cli.core import console as out
from cli.core import err as error_out

if TYPE_CHECKING:
    from triggers.edits import EditReport


@main_app.command()
def enroll(
    deal: Annotated[str, typer.Argument(help="The deal's id")],
    cadence: Annotated[
        str | None, typer.Option(help="Cadence name (default: the configured default)")
    ] = None,
    contact: Annotated[
        str | None, typer.Option(help="Contact id (default: the deal's first reachable contact)")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Put a deal's contact in a cadence: each step becomes a draft for review, and the cadence
    stops on any reply."""
    from flows.cadences import enroll as enroll_contact
    from flows.ports import Actor

    application = _application(config)
    result = enroll_contact(
        application.services, deal, contact, cadence, Actor.operator(_user()), _now()
    )
    (out if result.ok else error_out).print(result.message, markup=False, highlight=False)
    if not result.ok:
        raise typer.Exit(EXIT_FAILED)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


@main_app.command()
def stats(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    days: Annotated[int, typer.Option(help="Look back this many days")] = 30,
    chart: Annotated[
        Path | None, typer.Option(help="Also write the replies-per-step chart (PNG) here")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Cadence and review metrics: reply rate per step, positive replies, completion, opt-outs,
    re-engagement, touches before a reply, draft decisions per rule, time to decision,
    handoff accuracy."""
    from flows.cadences import stats as compute

    if days < 1:
        error_out.print("--days must be 1 or more.", markup=False)
        raise typer.Exit(EXIT_UNUSABLE_INPUT)
    from cli.failures import check_output

    check_output(chart, "--chart")
    application = _application(config)
    now = _now()
    figures = compute(application.services, now - timedelta(days=days), now=now)
    if chart is not None:
        from cli.chart import render_replies_per_step
        from flows.digest import chart_data

        chart.write_bytes(render_replies_per_step(chart_data(figures)))
    usage = application.services.store.drafts.model_usage(now - timedelta(days=days))
    edits = _edit_report(application, now - timedelta(days=days))
    if as_json:
        document = figures.to_json() | {"model_usage": [asdict(u) for u in usage]}
        document |= {
            "templates_edited": [
                asdict(t) | {"edit_or_dismiss_rate": round(t.edit_or_dismiss_rate, 3)}
                for t in edits.templates
            ],
            "template_suggestions": [asdict(s) | {"text_shown": str(s)} for s in edits.suggestions],
        }
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    lines = [f"Last {days} days", "", "Reply rate per cadence step:"]
    for step in figures.steps:
        angle = f" ({step.angle.replace('_', ' ')})" if step.angle else ""
        lines.append(
            f"  {step.cadence} step {step.step}{angle}: {step.replies} of {step.sent} "
            f"({_percent(step.reply_rate)})"
        )
    if not figures.steps:
        lines.append("  no cadence touches yet")
    lines.append("")
    for c in figures.cadences:
        lines.append(
            f"{c.cadence}: {c.enrolled} enrolled ({c.live} running), positive replies "
            f"{_percent(c.positive_reply_rate)}, completion {_percent(c.completion_rate)}, "
            f"opt-outs {_percent(c.opt_out_rate)}"
        )
    touches = figures.average_touches_before_reply
    lines += [
        f"Positive reply rate: {_percent(figures.positive_reply_rate)}",
        f"Re-engagement rate: {_percent(figures.re_engagement_rate)}",
        f"Average touches before a reply: {'-' if touches is None else f'{touches:.1f}'}",
        "",
        "Drafts per rule (approved unchanged / edited / dismissed of drafted):",
    ]
    for d in figures.drafts:
        lines.append(
            f"  {d.trigger}: {d.approved_unchanged} / {d.approved_edited} / {d.dismissed} "
            f"of {d.drafted}"
        )
    if not figures.drafts:
        lines.append("  no drafts yet")
    median = figures.median_minutes_to_decision
    handoffs = figures.handoffs
    lines += [
        f"Median time from draft to decision: {'-' if median is None else f'{median:.0f} min'}",
        f"Handoffs: {handoffs.total}, {handoffs.acted} acted on, routing accuracy "
        f"{_percent(handoffs.accuracy)}",
        "",
        "Model calls (drafts, calls, tokens in / out, median and p95 latency):",
    ]
    lines += [
        f"  {u.model}: {u.drafts} drafts, {u.calls} calls, {u.prompt_tokens} / "
        f"{u.completion_tokens} tokens, {u.median_ms:.0f} ms / {u.p95_ms:.0f} ms"
        for u in usage
    ] or ["  none: every draft came from a template"]
    lines += ["", "Templates by how often reviewers edit or dismiss them:"]
    lines += [
        f"  {t.template} ({t.source}): {t.edited} edited, {t.dismissed} dismissed, "
        f"{t.approved_unchanged} approved unchanged of {t.drafted} "
        f"({_percent(t.edit_or_dismiss_rate)} changed)"
        + (f", {t.fallbacks} model fallbacks" if t.fallbacks else "")
        for t in edits.templates
    ] or ["  no drafts yet"]
    lines += ["", "Template suggestions from the most common edits:"]
    lines += [f"  {s}" for s in edits.suggestions] or ["  none yet (an edit made twice shows here)"]
    out.print("\n".join(lines), markup=False, highlight=False)


def _edit_report(application: Any, since: datetime) -> EditReport:
    from triggers.edits import edit_report

    drafts = [d for d in application.services.store.drafts.find() if d.created_at >= since]
    return edit_report(drafts)


@main_app.command()
def questions(config: ConfigOption = None) -> None:
    """The owner's open questions about cadences (a "not now" to confirm, an ambiguous reply,
    a stale address)."""
    from flows.cadences import cadence_store

    application = _application(config)
    found = cadence_store(application.services).questions.open()
    if not found:
        out.print("No open questions.", markup=False)
        return
    for question in found:
        choices = ", ".join(c.value for c in question.choices)
        proposed = f" [suggested: {question.proposed_until}]" if question.proposed_until else ""
        head = f"#{question.id} ({question.deal_id}) {question.text}{proposed}"
        out.print(
            f"{head}\n    answers: {choices}",
            markup=False,
            highlight=False,
        )


@main_app.command()
def answer(
    question: Annotated[int, typer.Argument(help="The question's number")],
    choice: Annotated[str, typer.Argument(help="pause_until, keep_running or stop")],
    until: Annotated[
        str | None, typer.Option(help="Resume date for pause_until (YYYY-MM-DD)")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Answer an owner's question: pause the cadence until a date, keep it running, or stop it."""
    from flows.cadences import answer_question
    from flows.ports import Actor

    day: date | None = None
    if until is not None:
        try:
            day = date.fromisoformat(until)
        except ValueError as problem:
            error_out.print(f"--until {until!r} is not a date (YYYY-MM-DD).", markup=False)
            raise typer.Exit(EXIT_UNUSABLE_INPUT) from problem
    application = _application(config)
    result = answer_question(
        application.services, question, choice, Actor.operator(_user()), _now(), until=day
    )
    (out if result.ok else error_out).print(result.message, markup=False, highlight=False)
    if not result.ok:
        raise typer.Exit(EXIT_FAILED)
