"""Drafts, their lifecycle, and the other review-side facts the store keeps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class DraftStatus(StrEnum):
    PENDING = "pending"  # waiting for a person
    APPROVED = "approved"  # a person approved; an outbox row will send it
    SENT = "sent"
    DISMISSED = "dismissed"
    SNOOZED = "snoozed"
    WITHDRAWN = "withdrawn"  # made obsolete before review (reply, deal closed, opt-out)
    FAILED = "failed"  # sending failed permanently, or the send-time check refused it


# The one message that may go to a contact who just opted out: the confirmation they asked for.
OPT_OUT_CONFIRMATION_TRIGGER = "opt_out_confirmation"

OPEN_STATUSES = frozenset({DraftStatus.PENDING, DraftStatus.APPROVED})

# Which status may follow which: every change is a conditional update from one of these.
TRANSITIONS: dict[DraftStatus, frozenset[DraftStatus]] = {
    DraftStatus.PENDING: frozenset(
        {DraftStatus.APPROVED, DraftStatus.DISMISSED, DraftStatus.SNOOZED, DraftStatus.WITHDRAWN}
    ),
    DraftStatus.APPROVED: frozenset({DraftStatus.SENT, DraftStatus.FAILED, DraftStatus.WITHDRAWN}),
    DraftStatus.SENT: frozenset(),
    DraftStatus.DISMISSED: frozenset(),
    DraftStatus.SNOOZED: frozenset(),
    DraftStatus.WITHDRAWN: frozenset(),
    DraftStatus.FAILED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class DraftingNotes:
    """What a draft was written from, shown to the reviewer beside it."""

    written_from: tuple[str, ...] = ()  # the evidence: last message, call notes, offer...
    cc: tuple[str, ...] = ()  # the others on the recipient's thread
    facts_used: tuple[str, ...] = ()
    why_angle: str = ""
    warnings: tuple[str, ...] = ()  # suspected injection (with the text), tasks for the owner

    def as_json(self) -> dict[str, object]:
        return {
            "written_from": list(self.written_from),
            "cc": list(self.cc),
            "facts_used": list(self.facts_used),
            "why_angle": self.why_angle,
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_json(cls, data: dict[str, object] | None) -> DraftingNotes | None:
        if not data:
            return None

        def strings(key: str) -> tuple[str, ...]:
            value = data.get(key)
            return tuple(str(v) for v in value) if isinstance(value, list) else ()

        return cls(
            written_from=strings("written_from"),
            cc=strings("cc"),
            facts_used=strings("facts_used"),
            why_angle=str(data.get("why_angle") or ""),
            warnings=strings("warnings"),
        )


@dataclass(frozen=True, slots=True)
class Draft:
    id: int
    deal_id: str
    contact_id: str
    to_address: str
    trigger: str  # a rule name, or "cadence:<name>:<step>"
    rule: str | None
    angle: str | None
    anchor_at: datetime
    due_at: datetime
    send_at: datetime
    reason: str
    evidence: tuple[str, ...]
    subject: str
    body: str
    original_subject: str
    original_body: str
    source: str  # "template" or "model"
    status: DraftStatus
    version: int
    created_at: datetime
    notice: str | None = None
    guardrail_failures: tuple[str, ...] = ()
    decided_at: datetime | None = None
    decided_by: str | None = None
    decision_note: str | None = None
    slack_channel: str | None = None
    slack_ts: str | None = None
    drafting: DraftingNotes | None = None

    @property
    def edited(self) -> bool:
        return (self.subject, self.body) != (self.original_subject, self.original_body)


@dataclass(frozen=True, slots=True)
class NewDraft:
    """A draft about to be queued: everything but what the store assigns."""

    deal_id: str
    contact_id: str
    to_address: str
    trigger: str  # a rule name, or "cadence:<name>:<step>"
    rule: str | None
    angle: str | None
    anchor_at: datetime
    due_at: datetime
    send_at: datetime
    reason: str
    evidence: tuple[str, ...]
    subject: str
    body: str
    source: str
    notice: str | None = None
    guardrail_failures: tuple[str, ...] = ()
    usage: ModelCost | None = None
    drafting: DraftingNotes | None = None


@dataclass(frozen=True, slots=True)
class ModelCost:
    """What the model calls behind one draft cost: tokens and milliseconds, summed."""

    model: str
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    milliseconds: int = 0


@dataclass(frozen=True, slots=True)
class ModelUsageSummary:
    model: str
    drafts: int
    calls: int
    prompt_tokens: int
    completion_tokens: int
    median_ms: float
    p95_ms: float


@dataclass(frozen=True, slots=True)
class DraftEvent:
    draft_id: int
    at: datetime
    from_status: DraftStatus | None
    to_status: DraftStatus
    actor: str
    note: str | None = None


class OutboxStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    # Unknown whether it left (the connection dropped after the message was handed over, and
    # it is not among sent mail): a person decides whether to send it again.
    HELD = "held"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: int
    draft_id: int
    message_id: str
    from_address: str
    to_address: str
    subject: str
    body: str
    in_reply_to: str | None
    references: tuple[str, ...]
    send_at: datetime
    status: OutboxStatus
    attempts: int
    last_error: str | None = None
    provider_id: str | None = None
    sent_at: datetime | None = None
    owner_token: str | None = None
    lease_until: datetime | None = None
    handed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Suppression:
    value: str  # an address or a domain, lower-cased
    reason: str  # opt_out, hard_bounce, complaint, deceased, manual
    created_at: datetime
    source: str = "followup"


@dataclass(frozen=True, slots=True)
class Pause:
    deal_id: str
    until: datetime | None  # None: until resumed
    reason: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    subject: str
    detail: str = ""
