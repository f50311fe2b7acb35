"""The rest of the review surface without Slack: edit, snooze, pause, resume, deprioritize, the
queue's filters and compact view, and times in the contact's zone and the owner's. Each is the
twin of a Slack action and calls the same flow (`flows.review`, `flows.commands`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import typer

from cli._app import main_app
from cli.core import (
    EXIT_FAILED,
    EXIT_PARTIAL,
    EXIT_UNUSABLE_INPUT,
    ConfigOption,
    _application,
    _now,
    _user,
    console,
    err,
)
from triggers.drafts import Draft

# Above this many drafts, `queue` prints one line per draft unless --long is given.
COMPACT_ABOVE = 10


# --------------------------------------------------------------------------- times


def zones_for(application: Any, draft: Draft) -> tuple[str, str | None]:
    """The zone the draft arrives in (the contact's, else the owner's...) and the owner's own."""
    from triggers.windows import recipient_zone, zone_info

    pipeline = application.services.store.pipeline.load()
    deal = pipeline.deal(draft.deal_id)
    contact = pipeline.contact(draft.contact_id)
    owner = pipeline.owner(deal.owner_id) if deal else None
    window = application.services.policy.evaluation.send_window
    zone = recipient_zone(contact, owner, window)
    owner_zone = owner.timezone if owner is not None and owner.timezone else None
    if owner_zone is not None:
        try:
            zone_info(owner_zone)
        except ValueError:
            owner_zone = None
    return zone, owner_zone


def when(at: datetime, zone: str, owner_zone: str | None) -> str:
    """`Mon 23 Nov 09:00 Australia/Sydney (Sun 22 Nov 17:00 America/New_York for the owner,
    22:00 UTC)`."""
    from triggers.windows import zone_info

    local = at.astimezone(zone_info(zone))
    text = f"{local:%a %d %b %Y %H:%M} {zone}"
    extra = []
    if owner_zone and owner_zone != zone:
        owner_local = at.astimezone(zone_info(owner_zone))
        extra.append(f"{owner_local:%a %d %b %H:%M} {owner_zone} for the owner")
    if zone != "UTC":
        extra.append(f"{at.astimezone(zone_info('UTC')):%H:%M} UTC")
    return text + (f" ({', '.join(extra)})" if extra else "")


def arrival(application: Any, draft: Draft, at: datetime | None = None) -> str:
    zone, owner_zone = zones_for(application, draft)
    return when(at or draft.send_at, zone, owner_zone)


# --------------------------------------------------------------------------- queue


def filter_queue(
    application: Any, drafts: list[Draft], *, owner: str | None, rule: str | None
) -> list[Draft]:
    if owner is None and rule is None:
        return drafts
    pipeline = application.services.store.pipeline.load()
    wanted_owner = (owner or "").casefold()

    def owner_matches(draft: Draft) -> bool:
        deal = pipeline.deal(draft.deal_id)
        person = pipeline.owner(deal.owner_id) if deal else None
        if person is None:
            return False
        names = {person.id.casefold(), person.email.casefold(), person.name.casefold()}
        names.add(person.name.split(" ")[0].casefold() if person.name else "")
        return wanted_owner in names

    return [
        d
        for d in drafts
        if (rule is None or d.rule == rule or d.trigger == rule)
        and (owner is None or owner_matches(d))
    ]


def print_compact(drafts: list[Draft], application: Any, total: int) -> None:
    from rich.markup import escape

    titles = {d.id: d.title for d in application.services.store.pipeline.load().deals}
    shown = f"{len(drafts)} of {total}" if len(drafts) < total else str(total)
    console.print(f"[bold]Review queue: {shown} draft(s)[/]  (`followup show ID` for one)\n")
    for draft in drafts:
        title = titles.get(draft.deal_id, draft.deal_id)
        console.print(
            f"#{draft.id:<5} {draft.send_at:%d %b %H:%M}Z  {draft.rule or draft.trigger:<18} "
            f"{escape(title)} -> {escape(draft.to_address)}",
            highlight=False,
        )


# --------------------------------------------------------------------------- decisions


def _decided(decision: Any) -> None:
    (console if decision.ok else err).print(decision.message, markup=False, highlight=False)
    if not decision.ok:
        raise typer.Exit(EXIT_FAILED)


def _edit_text(subject: str, body: str) -> tuple[str, str]:
    """Open $EDITOR on `Subject: ...`, a blank line and the body; read both back."""
    import click

    text = click.edit(f"Subject: {subject}\n\n{body}\n", extension=".txt", require_save=True)
    if text is None:
        err.print("Not saved; nothing was changed.", markup=False)
        raise typer.Exit(EXIT_FAILED)
    head, _, rest = text.partition("\n")
    if not head.lower().startswith("subject:"):
        err.print("The first line must be `Subject: ...`; nothing was changed.", markup=False)
        raise typer.Exit(EXIT_UNUSABLE_INPUT)
    return head.split(":", 1)[1].strip(), rest.strip("\n")


@main_app.command()
def edit(
    draft_id: int,
    subject: Annotated[str | None, typer.Option(help="New subject (else $EDITOR opens)")] = None,
    body: Annotated[str | None, typer.Option(help="New body (else $EDITOR opens)")] = None,
    config: ConfigOption = None,
) -> None:
    """Edit a pending draft's subject and body: in $EDITOR, or with --subject/--body."""
    from flows.ports import Actor
    from flows.review import edit as edit_draft

    application = _application(config)
    draft = application.services.store.drafts.get(draft_id)
    if draft is None:
        err.print(f"There is no draft #{draft_id}.", markup=False)
        raise typer.Exit(EXIT_FAILED)
    if subject is None and body is None:
        subject, body = _edit_text(draft.subject, draft.body)
    decision = edit_draft(
        application.services,
        draft_id,
        Actor.operator(_user()),
        _now(),
        subject=draft.subject if subject is None else subject,
        body=draft.body if body is None else body,
        expected_version=draft.version,
    )
    if decision.ok and decision.draft is not None:
        console.print(
            f"Saved draft #{draft_id} (version {decision.draft.version}); "
            f"`followup approve {draft_id}` sends it.",
            markup=False,
        )
        return
    _decided(decision)


def _duration(text: str) -> Any:
    from triggers.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as error:
        err.print(f"error: {error}", markup=False)
        raise typer.Exit(EXIT_UNUSABLE_INPUT) from error


@main_app.command()
def snooze(
    draft_id: int,
    duration: Annotated[str, typer.Argument(help="How long: 1d, 3d, 1w, 72h")],
    config: ConfigOption = None,
) -> None:
    """Snooze a pending draft (and its deal) for a while, e.g. `followup snooze 4 3d`."""
    from flows.ports import Actor
    from flows.review import snooze as snooze_draft

    delta = _duration(duration)
    application = _application(config)
    _decided(snooze_draft(application.services, draft_id, Actor.operator(_user()), _now(), delta))


def _deal_id(application: Any, query: str) -> str:
    """A deal by id, title, company or contact name; several matches are listed."""
    from flows.commands import find_deals

    deals = find_deals(application.services.store.pipeline.load(), query)
    if not deals:
        err.print(f"No deal matches {query!r}.", markup=False)
        raise typer.Exit(EXIT_FAILED)
    exact = [d for d in deals if d.id == query]
    if len(deals) > 1 and not exact:
        err.print(f"{len(deals)} deals match {query!r}; name one by id:", markup=False)
        for deal in deals[:20]:
            err.print(f"  {deal.id}  {deal.title}", markup=False)
        raise typer.Exit(EXIT_FAILED)
    return (exact or deals)[0].id


@main_app.command()
def pause(
    deal: Annotated[str, typer.Argument(help="Deal id, title, company or contact name")],
    how_long: Annotated[
        list[str] | None,
        typer.Argument(help="`for 2w` or `until 2026-12-15`; nothing: until resumed"),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Pause a deal: no follow-up until resumed, `for 2w`, or `until 2026-12-15`."""
    from flows.commands import pause_until_day
    from flows.ports import Actor
    from flows.review import pause as pause_deal

    words = [w.lower() for w in how_long or []]
    until: datetime | None = None
    day: date | None = None
    now = _now()
    if words[:1] == ["for"] and len(words) == 2:
        until = now + _duration(words[1])
    elif words[:1] == ["until"] and len(words) == 2:
        try:
            day = date.fromisoformat(words[1])
        except ValueError as error:
            err.print(f"error: {words[1]!r} is not a date such as 2026-12-15", markup=False)
            raise typer.Exit(EXIT_UNUSABLE_INPUT) from error
    elif words:
        err.print("error: say `for 2w` or `until 2026-12-15` (or nothing)", markup=False)
        raise typer.Exit(EXIT_UNUSABLE_INPUT)
    application = _application(config)
    deal_id = _deal_id(application, deal)
    actor = Actor.operator(_user())
    if day is not None:
        _decided(pause_until_day(application.services, deal_id, actor, now, day))
    else:
        _decided(pause_deal(application.services, deal_id, actor, now, until=until))


@main_app.command()
def resume(
    deal: Annotated[str, typer.Argument(help="Deal id, title, company or contact name")],
    config: ConfigOption = None,
) -> None:
    """Resume a paused, snoozed or deprioritized deal."""
    from flows.ports import Actor
    from flows.review import resume as resume_deal

    application = _application(config)
    deal_id = _deal_id(application, deal)
    _decided(resume_deal(application.services, deal_id, Actor.operator(_user()), _now()))


@main_app.command()
def deprioritize(
    deal: Annotated[str, typer.Argument(help="Deal id, title, company or contact name")],
    config: ConfigOption = None,
) -> None:
    """No more follow-ups on a deal until `followup resume`; a pending draft is withdrawn."""
    from flows.commands import deprioritize_deal
    from flows.ports import Actor

    application = _application(config)
    deal_id = _deal_id(application, deal)
    _decided(deprioritize_deal(application.services, deal_id, Actor.operator(_user()), _now()))


# --------------------------------------------------------------------------- tick


def tick_status(application: Any, report: Any, delivery: Any) -> int:
    """Say what `tick` could not do, and the exit status: 0 all done, 1 a message could not be
    sent or a draft not posted, 2 nothing to evaluate (the first sync failed), 3 the CRM sync
    failed and the last synced pipeline was evaluated."""
    status = 0
    store = application.services.store
    if report.sync_failed:
        if not store.pipeline.counts()["deals"]:
            err.print(
                f"error: CRM sync failed and nothing was synced before, so there is nothing to "
                f"evaluate: {report.sync_failed} (check PIPELINE_FILE / CRM_PROVIDER)",
                markup=False,
            )
            return EXIT_UNUSABLE_INPUT
        err.print(
            f"CRM sync failed, evaluating the last synced pipeline: {report.sync_failed}",
            markup=False,
        )
        status = EXIT_PARTIAL
    not_sent = delivery.failed + delivery.refused + delivery.retrying
    if delivery.failed or delivery.retrying:
        err.print(
            f"{len(delivery.failed) + len(delivery.retrying)} message(s) could not be sent: "
            + "; ".join(f"#{d}: {why}" for d, why in (delivery.failed + delivery.retrying)[:5]),
            markup=False,
        )
        status = EXIT_FAILED
    elif not_sent:
        err.print(
            "; ".join(f"#{d} not sent: {why}" for d, why in delivery.refused[:5]), markup=False
        )
    if application.settings.slack_configured:
        unposted = [
            d.id
            for d in report.drafted
            if (current := store.drafts.get(d.id)) is not None and not current.slack_ts
        ]
        if unposted:
            err.print(
                f"{len(unposted)} draft(s) could not be posted to Slack yet "
                f"({', '.join(f'#{i}' for i in unposted[:10])}); `followup run` posts them later",
                markup=False,
            )
            status = EXIT_FAILED
    return status


def print_held(application: Any) -> None:
    """Approved messages the send cap or spacing holds back, and until when."""
    from flows.volume import held_messages

    held = held_messages(application.services)
    if not held:
        return
    console.print(f"\n[bold]Held back: {len(held)} approved message(s)[/]")
    for row in held[:20]:
        why = (row.last_error or "").removeprefix("held: ")
        console.print(
            f"#{row.draft_id:<5} to {row.to_address}: leaves {row.send_at:%a %d %b %H:%M} UTC "
            f"({why})",
            markup=False,
            highlight=False,
        )


@main_app.command()
def why(
    deal: Annotated[str, typer.Argument(help="Deal id, title, company or contact name")],
    config: ConfigOption = None,
) -> None:
    """Every rule for one stored deal as the service sees it now (with its drafts, pauses and
    suppressions): the twin of `/followup why` and `/followup status`."""
    from cli.check import render_explanation
    from flows.commands import explain, latest_draft

    application = _application(config)
    deal_id = _deal_id(application, deal)
    explanation = explain(application.services, deal_id, _now())
    if explanation is None:  # pragma: no cover - _deal_id found it a moment ago
        err.print(f"There is no deal {deal_id!r}.", markup=False)
        raise typer.Exit(EXIT_FAILED)
    for part in render_explanation(explanation):
        console.print(part)
    draft = latest_draft(application.services, deal_id)
    if draft is not None:
        console.print(
            f"Latest draft: #{draft.id} ({draft.status.value}), `followup show {draft.id}`",
            markup=False,
        )
