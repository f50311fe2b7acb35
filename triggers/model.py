"""The normalized pipeline (spec/pipeline-format.md) as frozen dataclasses.

Every CRM adapter maps into these; the rules read only these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from triggers.reading import Reading


class ContactStatus(StrEnum):
    ACTIVE = "active"
    DO_NOT_CONTACT = "do_not_contact"
    BOUNCED = "bounced"
    DECEASED = "deceased"


class DealStatus(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"
    ON_HOLD = "on_hold"
    DEPRIORITIZED = "deprioritized"
    PARKED = "parked"


class DealSource(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class ActivityKind(StrEnum):
    EMAIL = "email"
    CALL = "call"
    MEETING = "meeting"
    PROPOSAL_SENT = "proposal_sent"
    QUOTE_SENT = "quote_sent"
    NOTE = "note"
    TASK = "task"


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


@dataclass(frozen=True, slots=True)
class Owner:
    id: str
    name: str
    email: str
    timezone: str | None = None
    slack_user_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class Contact:
    id: str
    name: str
    email: str | None
    company: str | None = None
    timezone: str | None = None
    status: ContactStatus = ContactStatus.ACTIVE
    alt_emails: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every address this contact writes from, lower-cased."""
        found = [self.email, *self.alt_emails]
        return tuple(a.lower() for a in found if a)


@dataclass(frozen=True, slots=True)
class Deal:
    id: str
    title: str
    contact_ids: tuple[str, ...]
    owner_id: str
    stage: str
    stage_entered_at: datetime
    status: DealStatus = DealStatus.OPEN
    source: DealSource = DealSource.OUTBOUND
    quote_expires_at: datetime | None = None
    value: float | None = None
    currency: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def crm_url(self) -> str | None:
        """The deal's page in the CRM, when the adapter put one in `extra` (`url` or
        `crm_url`): Slack's "Open in CRM", `followup show`'s last line."""
        for key in ("url", "crm_url"):
            value = self.extra.get(key)
            if isinstance(value, str) and value.startswith(("https://", "http://")):
                return value if len(value) <= 3000 else None
        return None


@dataclass(frozen=True, slots=True)
class Activity:
    id: str
    deal_id: str
    kind: ActivityKind
    at: datetime
    contact_id: str | None = None
    direction: Direction | None = None
    subject: str | None = None
    body: str | None = None
    scheduled_for: datetime | None = None
    outcome: str | None = None
    thread_id: str | None = None
    message_id: str | None = None
    in_reply_to: str | None = None
    from_address: str | None = None
    to_addresses: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    # What reading/ understood of the message, when the inbox recorded it (None from a CRM).
    reading: Reading | None = field(default=None, compare=False, hash=False)

    @property
    def is_inbound_email(self) -> bool:
        return self.kind is ActivityKind.EMAIL and self.direction is Direction.IN


@dataclass(frozen=True, slots=True)
class Pipeline:
    owners: tuple[Owner, ...] = ()
    contacts: tuple[Contact, ...] = ()
    deals: tuple[Deal, ...] = ()
    activities: tuple[Activity, ...] = ()

    def owner(self, owner_id: str) -> Owner | None:
        return next((o for o in self.owners if o.id == owner_id), None)

    def contact(self, contact_id: str) -> Contact | None:
        return next((c for c in self.contacts if c.id == contact_id), None)

    def deal(self, deal_id: str) -> Deal | None:
        return next((d for d in self.deals if d.id == deal_id), None)

    def activities_by_deal(self) -> dict[str, list[Activity]]:
        grouped: dict[str, list[Activity]] = {}
        for activity in self.activities:
            grouped.setdefault(activity.deal_id, []).append(activity)
        return grouped


@dataclass(frozen=True, slots=True)
class Deletions:
    """What a CRM change set says it no longer has (a snapshot says it by leaving it out)."""

    owner_ids: frozenset[str] = frozenset()
    contact_ids: frozenset[str] = frozenset()
    deal_ids: frozenset[str] = frozenset()
    activity_ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class DealView:
    """One deal with everything a rule needs to decide on it: the unit of evaluation."""

    deal: Deal
    contacts: tuple[Contact, ...]
    owner: Owner | None
    activities: tuple[Activity, ...]


@dataclass(frozen=True, slots=True)
class RecordProblem:
    """One malformed record, reported and skipped while the valid rest loads: which vendor
    (or file), which object, which record, which field, and what is wrong, in plain words."""

    source: str
    collection: str
    record_id: str | None
    field: str | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.source}: {self.collection}"
        where += f"[{self.record_id}]" if self.record_id is not None else ""
        where += f".{self.field}" if self.field else ""
        return f"{where}: {self.problem}"
