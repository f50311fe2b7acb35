"""A realistic deal to draft for, shaped like spec/pipeline-format.md's example."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from prompts.base import DraftContext, VoiceSettings
from triggers.model import (
    Activity,
    ActivityKind,
    Contact,
    Deal,
    DealView,
    Direction,
    Owner,
)

NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)  # a Saturday

OWNER = Owner(
    id="u1",
    name="Maya Chen",
    email="maya@northwind.studio",
    timezone="America/New_York",
    slack_user_id="U01MAYA",
)
CONTACT = Contact(
    id="c1",
    name="Jordan Lee",
    email="jordan@globex.example",
    company="Globex",
    timezone="Europe/Berlin",
    alt_emails=("j.lee@globex-mail.example",),
)
DEAL = Deal(
    id="d1",
    title="Globex website rebuild",
    contact_ids=("c1",),
    owner_id="u1",
    stage="proposal",
    stage_entered_at=datetime(2026, 11, 10, 15, 0, tzinfo=UTC),
    value=18000,
    currency="USD",
    quote_expires_at=datetime(2026, 11, 20, 0, 0, tzinfo=UTC),
)
CALL = Activity(
    id="a0",
    deal_id="d1",
    contact_id="c1",
    kind=ActivityKind.CALL,
    at=datetime(2026, 11, 17, 10, 0, tzinfo=UTC),
    body="Walked through scope. They are also talking to Acme Agency. Budget around 20k.",
    outcome="positive",
)
PROPOSAL = Activity(
    id="a1",
    deal_id="d1",
    contact_id="c1",
    kind=ActivityKind.PROPOSAL_SENT,
    at=datetime(2026, 11, 17, 14, 0, tzinfo=UTC),
    subject="Proposal: website rebuild",
)
INBOUND = Activity(
    id="a2",
    deal_id="d1",
    contact_id="c1",
    kind=ActivityKind.EMAIL,
    direction=Direction.IN,
    at=datetime(2026, 11, 18, 8, 12, tzinfo=UTC),
    subject="Re: Proposal: website rebuild",
    body="Thanks, we will review it internally and compare it with Acme Agency's offer.",
)
COMPETITORS = ("Acme Agency", "Initech")
DEFAULT_VOICE = VoiceSettings()


def make_view(*activities: Activity, **deal_changes: Any) -> DealView:
    deal = replace(DEAL, **deal_changes) if deal_changes else DEAL
    return DealView(
        deal=deal,
        contacts=(CONTACT,),
        owner=OWNER,
        activities=activities or (CALL, PROPOSAL, INBOUND),
    )


def make_context(
    *,
    rule: str | None = "proposal_no_reply",
    angle: str | None = None,
    view: DealView | None = None,
    contact: Contact = CONTACT,
    angles_used: tuple[str, ...] = (),
    voice: VoiceSettings = DEFAULT_VOICE,
    competitors: tuple[str, ...] = COMPETITORS,
    reason: str = "The proposal went out 4 days ago and Jordan has not replied.",
    evidence: tuple[str, ...] = ("proposal_sent 2026-11-17: Proposal: website rebuild",),
) -> DraftContext:
    return DraftContext(
        view=view or make_view(),
        contact=contact,
        rule=rule,
        angle=angle,
        reason=reason,
        evidence=evidence,
        now=NOW,
        angles_used=angles_used,
        voice=voice,
        competitors=competitors,
    )
