"""Small builders for pipelines in tests: realistic defaults, override what matters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from triggers.model import (
    Activity,
    ActivityKind,
    Contact,
    ContactStatus,
    Deal,
    DealSource,
    DealStatus,
    Direction,
    Owner,
    Pipeline,
)

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # a Friday, 15:00 UTC


def owner(**overrides: Any) -> Owner:
    values: dict[str, Any] = {
        "id": "u1",
        "name": "Maya Chen",
        "email": "maya@northwind.example",
        "timezone": "America/New_York",
        "slack_user_id": "U01MAYA",
    }
    return Owner(**(values | overrides))


def contact(**overrides: Any) -> Contact:
    values: dict[str, Any] = {
        "id": "c1",
        "name": "Jordan Lee",
        "email": "jordan@globex.example",
        "company": "Globex",
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
        "stage_entered_at": NOW - timedelta(days=5),
        "status": DealStatus.OPEN,
        "source": DealSource.OUTBOUND,
        "value": 18000.0,
        "currency": "USD",
    }
    return Deal(**(values | overrides))


def activity(kind: ActivityKind, at: datetime, **overrides: Any) -> Activity:
    values: dict[str, Any] = {
        "id": f"a-{kind.value}-{at:%Y%m%d%H%M}",
        "deal_id": "d1",
        "contact_id": "c1",
        "kind": kind,
        "at": at,
    }
    if kind is ActivityKind.EMAIL:
        values["direction"] = Direction.OUT
    return Activity(**(values | overrides))


def proposal_pipeline(*extra: Activity, sent_days_ago: float = 4) -> Pipeline:
    """One deal with a proposal sent `sent_days_ago` days before NOW, no reply."""
    proposal = activity(
        ActivityKind.PROPOSAL_SENT,
        NOW - timedelta(days=sent_days_ago),
        subject="Proposal: website rebuild",
        message_id="<proposal-1@northwind.example>",
    )
    return Pipeline((owner(),), (contact(),), (deal(),), (proposal, *extra))
