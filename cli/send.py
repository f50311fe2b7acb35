"""Approved messages before they leave: `cancel` one, or `resend` one that may already have
been sent (a person's answer to the question the outbox worker asks)."""

from __future__ import annotations

import typer

from cli._app import main_app
from cli.core import EXIT_FAILED, ConfigOption, _application, _now, _user, console, err


@main_app.command()
def cancel(draft_id: int, config: ConfigOption = None) -> None:
    """Stop an approved message that has not left yet (it is withdrawn, never sent)."""
    from flows.ports import Actor
    from flows.review import cancel as cancel_draft

    application = _application(config)
    decision = cancel_draft(application.services, draft_id, Actor.operator(_user()), _now())
    if not decision.ok:
        err.print(decision.message, markup=False, highlight=False)
        raise typer.Exit(EXIT_FAILED)
    console.print(decision.message, markup=False, highlight=False)


@main_app.command()
def resend(draft_id: int, config: ConfigOption = None) -> None:
    """Send a held message that "may already have been sent" (check your Sent mail first)."""
    from flows.delivery import deliver_due
    from flows.ports import Actor
    from flows.review import resend as resend_draft

    application = _application(config)
    now = _now()
    decision = resend_draft(application.services, draft_id, Actor.operator(_user()), now)
    if not decision.ok:
        err.print(decision.message, markup=False, highlight=False)
        raise typer.Exit(EXIT_FAILED)
    delivery = deliver_due(application.services, now, clock=_now)
    if draft_id in delivery.sent + delivery.recovered:
        console.print(f"Sent draft #{draft_id}.", markup=False)
        return
    console.print(f"{decision.message} `followup run` (or `followup tick`) sends it.", markup=False)
