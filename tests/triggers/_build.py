"""Tiny builders for the rule tests: one deal, its contacts and activities, times in UTC.

The week used throughout: Mon 16 Nov 2026 .. Sun 22 Nov 2026. Jordan (c1) lives in
Europe/Berlin (UTC+1 in November), the owner Maya in America/New_York.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from triggers.model import (
    Activity,
    ActivityKind,
    Contact,
    ContactStatus,
    Deal,
    DealSource,
    DealStatus,
    DealView,
    Direction,
    Owner,
    Pipeline,
)

H = timedelta(hours=1)
D = timedelta(days=1)
S = timedelta(seconds=1)

_ids = count(1)


def utc(text: str) -> datetime:
    """`"2026-11-17 14:00"` -> an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


MON = utc("2026-11-16 10:00")
TUE = utc("2026-11-17 14:00")  # the proposal of the example
FRI = utc("2026-11-20 14:00")

JORDAN = "jordan@globex.example"
JORDAN_ALT = "j.lee@globex-mail.example"


def owner(**overrides: Any) -> Owner:
    values: dict[str, Any] = {
        "id": "u1",
        "name": "Maya Chen",
        "email": "maya@northwind.example",
        "timezone": "America/New_York",
    }
    return Owner(**(values | overrides))


def contact(**overrides: Any) -> Contact:
    values: dict[str, Any] = {
        "id": "c1",
        "name": "Jordan Lee",
        "email": JORDAN,
        "alt_emails": (JORDAN_ALT,),
        "timezone": "Europe/Berlin",
        "status": ContactStatus.ACTIVE,
    }
    return Contact(**(values | overrides))


def deal(**overrides: Any) -> Deal:
    values: dict[str, Any] = {
        "id": "d1",
        "title": "Globex website rebuild",
        "contact_ids": ("c1",),
        "owner_id": "u1",
        "stage": "proposal",
        "stage_entered_at": utc("2026-11-10 15:00"),
        "status": DealStatus.OPEN,
        "source": DealSource.OUTBOUND,
    }
    return Deal(**(values | overrides))


def _activity(kind: ActivityKind, at: datetime, **overrides: Any) -> Activity:
    values: dict[str, Any] = {
        "id": f"a{next(_ids)}",
        "deal_id": "d1",
        "contact_id": "c1",
        "kind": kind,
        "at": at,
    }
    return Activity(**(values | overrides))


def inbound(at: datetime, **overrides: Any) -> Activity:
    """An email from Jordan."""
    values: dict[str, Any] = {"direction": Direction.IN, "from_address": JORDAN}
    return _activity(ActivityKind.EMAIL, at, **(values | overrides))


def outbound(at: datetime, **overrides: Any) -> Activity:
    """An email to Jordan (a touch)."""
    values: dict[str, Any] = {"direction": Direction.OUT, "to_addresses": (JORDAN,)}
    return _activity(ActivityKind.EMAIL, at, **(values | overrides))


def proposal(at: datetime, **overrides: Any) -> Activity:
    values: dict[str, Any] = {"subject": "Proposal: website rebuild"}
    return _activity(ActivityKind.PROPOSAL_SENT, at, **(values | overrides))


def quote(at: datetime, **overrides: Any) -> Activity:
    return _activity(ActivityKind.QUOTE_SENT, at, **overrides)


def call(at: datetime, **overrides: Any) -> Activity:
    values: dict[str, Any] = {"body": "Discussed scope; they want a phased plan."}
    return _activity(ActivityKind.CALL, at, **(values | overrides))


def meeting(booked: datetime, held: datetime | None, **overrides: Any) -> Activity:
    return _activity(ActivityKind.MEETING, booked, scheduled_for=held, **overrides)


def note(at: datetime, **overrides: Any) -> Activity:
    return _activity(ActivityKind.NOTE, at, **overrides)


def view(
    *activities: Activity,
    deal_: Deal | None = None,
    contacts: tuple[Contact, ...] | None = None,
    owner_: Owner | None = None,
    **deal_overrides: Any,
) -> DealView:
    the_deal = deal_ if deal_ is not None else deal(**deal_overrides)
    return DealView(
        deal=the_deal,
        contacts=contacts if contacts is not None else (contact(),),
        owner=owner_ if owner_ is not None else owner(),
        activities=tuple(replace_deal(a, the_deal.id) for a in activities),
    )


def replace_deal(activity: Activity, deal_id: str) -> Activity:
    if activity.deal_id == deal_id:
        return activity
    from dataclasses import replace

    return replace(activity, deal_id=deal_id)


def pipeline(*views: DealView) -> Pipeline:
    owners: dict[str, Owner] = {}
    contacts: dict[str, Contact] = {}
    for v in views:
        if v.owner is not None:
            owners[v.owner.id] = v.owner
        for c in v.contacts:
            contacts[c.id] = c
    return Pipeline(
        owners=tuple(owners.values()),
        contacts=tuple(contacts.values()),
        deals=tuple(v.deal for v in views),
        activities=tuple(a for v in views for a in v.activities),
    )
