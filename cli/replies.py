"""Replies and suppressions without Slack: `followup handoffs` (the replies routed to people,
sentiment first), `followup handoffs done ID`, `followup optout EMAIL` and `followup suppress`
(the suppression list; `--lift EMAIL` undoes one a person made by mistake)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cli._app import main_app
from cli.core import EXIT_FAILED, ConfigOption, _application, _now, _user
from cli.core import console as out
from cli.core import err as error_out

handoffs_app = typer.Typer(
    help="The replies routed to people, sentiment first; `done ID` records who acted.",
    invoke_without_command=True,
)
main_app.add_typer(handoffs_app, name="handoffs")


@handoffs_app.callback()
def handoffs(
    ctx: typer.Context,
    show_all: Annotated[bool, typer.Option("--all", help="Also those already acted on")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array")] = False,
    config: ConfigOption = None,
) -> None:
    """The replies handed to a person and not yet acted on (with --all, every handoff)."""
    if ctx.invoked_subcommand is not None:
        return
    from flows.replies import list_handoffs

    application = _application(config)
    found = list_handoffs(application.services, include_done=show_all)
    if as_json:
        rows = [
            {
                "id": h.id,
                "deal_id": h.deal_id,
                "contact_id": h.contact_id,
                "sentiment": h.sentiment,
                "intent": h.intent,
                "routed_to": h.routed_to,
                "route": h.route_label,
                "received_at": h.received_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "summary": h.summary,
                "acted_by": h.acted_by,
                "action": h.action,
            }
            for h in found
        ]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not found:
        out.print("No replies waiting for a person.", markup=False)
        return
    for handoff in found:
        lines = handoff.summary.splitlines() or [handoff.intent]
        state = (
            f"done ({handoff.action} by {handoff.acted_by})"
            if handoff.acted_at is not None
            else f"open: `followup handoffs done {handoff.id}` once you acted"
        )
        out.print(f"#{handoff.id}  {lines[0]}", markup=False, highlight=False)
        for line in lines[1:]:
            out.print(f"     {line}", markup=False, highlight=False)
        out.print(
            f"     deal {handoff.deal_id}, received {handoff.received_at:%a %d %b %H:%M} UTC; "
            f"{state}",
            markup=False,
            highlight=False,
        )


@handoffs_app.command("done")
def handoffs_done(
    handoff_id: Annotated[int, typer.Argument(help="The handoff's number (#ID)")],
    action: Annotated[
        str, typer.Option(help="What you did: replied, booked, called, closed...")
    ] = "done",
    config: ConfigOption = None,
) -> None:
    """Record that you acted on a handoff (routing accuracy counts who did)."""
    from flows.ports import Actor
    from flows.replies import done_handoff

    application = _application(config)
    result = done_handoff(
        application.services, handoff_id, Actor.operator(_user()), _now(), action=action
    )
    (out if result.ok else error_out).print(result.message, markup=False, highlight=False)
    if not result.ok:
        raise typer.Exit(EXIT_FAILED)


@main_app.command()
def optout(
    email: Annotated[str, typer.Argument(help="The address never to write to again")],
    config: ConfigOption = None,
) -> None:
    """Suppress an address at once: its contact becomes do-not-contact, its open drafts are
    withdrawn and its queued messages cancelled. Audited; `followup suppress --lift` undoes it."""
    from flows.ports import Actor
    from flows.replies import person_opt_out

    application = _application(config)
    decision = person_opt_out(
        application.services, email, Actor.operator(_user()), _now(), source="cli"
    )
    (out if decision.ok else error_out).print(decision.message, markup=False, highlight=False)
    if not decision.ok:
        raise typer.Exit(EXIT_FAILED)


@main_app.command()
def suppress(
    lift: Annotated[
        str | None,
        typer.Option(
            "--lift",
            metavar="EMAIL",
            help="Lift a suppression a person made by mistake (never a prospect's own "
            "opt-out or a hard bounce)",
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """The addresses and domains followup never writes to, with why and since when."""
    from flows.ports import Actor
    from flows.replies import lift_suppression

    application = _application(config)
    services = application.services
    if lift is not None:
        decision = lift_suppression(services, lift, Actor.operator(_user()), _now())
        (out if decision.ok else error_out).print(decision.message, markup=False, highlight=False)
        if not decision.ok:
            raise typer.Exit(EXIT_FAILED)
        return
    found = services.store.suppressions.all()
    if not found:
        out.print("Nothing is suppressed.", markup=False)
        return
    for item in found:
        out.print(
            f"{item.value}  {item.reason.replace('_', ' ')} via {item.source}, "
            f"since {item.created_at:%Y-%m-%d %H:%M} UTC",
            markup=False,
            highlight=False,
        )
