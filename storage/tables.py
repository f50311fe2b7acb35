"""SQLAlchemy 2 typed table models. Alembic migrations in `storage/migrations` create them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, TypeDecorator, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which drops offsets) as well."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; times are always aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class OwnerRow(Base):
    __tablename__ = "owners"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    email: Mapped[str] = mapped_column(String(320))
    timezone: Mapped[str | None] = mapped_column(String(64))
    slack_user_id: Mapped[str | None] = mapped_column(String(32))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # A digest of the CRM's values: sync compares it instead of every column (issue 12).
    sync_hash: Mapped[str | None] = mapped_column(String(32))


class ContactRow(Base):
    __tablename__ = "contacts"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    alt_emails: Mapped[list[Any]] = mapped_column(default=list)
    company: Mapped[str | None] = mapped_column(String(256))
    timezone: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), default="active")
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sync_hash: Mapped[str | None] = mapped_column(String(32))


class DealRow(Base):
    __tablename__ = "deals"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    title: Mapped[str] = mapped_column(String(512))
    contact_ids: Mapped[list[Any]] = mapped_column(default=list)
    owner_id: Mapped[str] = mapped_column(ForeignKey("owners.id"), index=True)
    stage: Mapped[str] = mapped_column(String(128))
    stage_entered_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(32), default="open")
    source: Mapped[str] = mapped_column(String(32), default="outbound")
    quote_expires_at: Mapped[datetime | None]
    value: Mapped[float | None]
    currency: Mapped[str | None] = mapped_column(String(8))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # When the deal or any of its activities last changed: drives incremental evaluation.
    changed_at: Mapped[datetime]
    # Digests of the deal's CRM values, and of those plus its CRM activities (issue 12).
    sync_hash: Mapped[str | None] = mapped_column(String(32))
    tree_hash: Mapped[str | None] = mapped_column(String(32))
    # When the cycle must evaluate the deal again: NULL as soon as its data changes, else
    # the next instant its verdict can change by time alone (far future when none).
    next_check_at: Mapped[datetime | None] = mapped_column(index=True)
    # Set when the CRM no longer has the deal; the row stays for its drafts' history.
    removed_at: Mapped[datetime | None]


class DealContactRow(Base):
    """Which deals name a contact: the deals a contact's change touches."""

    __tablename__ = "deal_contacts"
    deal_id: Mapped[str] = mapped_column(ForeignKey("deals.id"), primary_key=True)
    contact_id: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)


class ActivityRow(Base):
    __tablename__ = "activities"
    id: Mapped[str] = mapped_column(String(256), primary_key=True)
    deal_id: Mapped[str] = mapped_column(ForeignKey("deals.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    contact_id: Mapped[str | None] = mapped_column(String(128))
    direction: Mapped[str | None] = mapped_column(String(8))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    scheduled_for: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(256))
    thread_id: Mapped[str | None] = mapped_column(String(512))
    message_id: Mapped[str | None] = mapped_column(String(512), index=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(512))
    from_address: Mapped[str | None] = mapped_column(String(320))
    to_addresses: Mapped[list[Any]] = mapped_column(default=list)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Where it came from: the CRM sync, followup itself (a sent draft), or the inbox.
    origin: Mapped[str] = mapped_column(String(16), default="crm")
    sync_hash: Mapped[str | None] = mapped_column(String(32))
    # What reading/ understood of an inbound message (triggers.reading.Reading, as JSON).
    reading: Mapped[dict[str, Any] | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_activities_origin_at", "origin", "at"),)


class DraftRow(Base):
    __tablename__ = "drafts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deal_id: Mapped[str] = mapped_column(ForeignKey("deals.id"), index=True)
    contact_id: Mapped[str] = mapped_column(String(128))
    to_address: Mapped[str] = mapped_column(String(320))
    # What caused it: a rule name, or "cadence:<name>:<step>"; never NULL, so that the
    # unique index below holds (NULLs are distinct in unique indexes).
    trigger: Mapped[str] = mapped_column(String(128))
    rule: Mapped[str | None] = mapped_column(String(64))
    angle: Mapped[str | None] = mapped_column(String(64))
    anchor_at: Mapped[datetime]
    due_at: Mapped[datetime]
    send_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    original_subject: Mapped[str] = mapped_column(Text)
    original_body: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    notice: Mapped[str | None] = mapped_column(Text)
    guardrail_failures: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decision_note: Mapped[str | None] = mapped_column(Text)
    slack_channel: Mapped[str | None] = mapped_column(String(32))
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    # What the draft was written from (cc, written_from, facts_used, why_angle, warnings).
    drafting: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # Cost and latency of the model calls behind this draft (none for a template draft).
    model_name: Mapped[str | None] = mapped_column(String(128))
    model_calls: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    model_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        # One open draft per deal (DESIGN rule 4), enforced by the database itself.
        Index(
            "uq_drafts_one_open_per_deal",
            "deal_id",
            unique=True,
            sqlite_where=text("status IN ('pending', 'approved')"),
            postgresql_where=text("status IN ('pending', 'approved')"),
        ),
        # The same rule never fires twice for the same anchor.
        Index(
            "uq_drafts_trigger_anchor", "deal_id", "contact_id", "trigger", "anchor_at", unique=True
        ),
    )


class DraftEventRow(Base):
    __tablename__ = "draft_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id"), index=True)
    at: Mapped[datetime]
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)


class OutboxRow(Base):
    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id"), unique=True)
    message_id: Mapped[str] = mapped_column(String(512), unique=True)
    from_address: Mapped[str] = mapped_column(String(320))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    in_reply_to: Mapped[str | None] = mapped_column(String(512))
    references: Mapped[list[Any]] = mapped_column(default=list)
    send_at: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(512))
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    # The worker that claimed the row, and until when its claim holds (it renews it while
    # sending); when the claimed attempt was handed to the mailbox (None: not yet).
    owner_token: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    handed_at: Mapped[datetime | None]


class SuppressionRow(Base):
    __tablename__ = "suppressions"
    value: Mapped[str] = mapped_column(String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


class PauseRow(Base):
    __tablename__ = "pauses"
    deal_id: Mapped[str] = mapped_column(ForeignKey("deals.id"), primary_key=True)
    until: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


class AuditRow(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(256))
    detail: Mapped[str] = mapped_column(Text, default="")


class SyncStateRow(Base):
    __tablename__ = "sync_state"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class SlackClickRow(Base):
    """A Slack click, stored before it is acknowledged and marked done once decided: a click
    acknowledged but not decided when the process died is decided at the next start."""

    __tablename__ = "slack_clicks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    done_at: Mapped[datetime | None]

    __table_args__ = (
        Index(
            "ix_slack_clicks_open",
            "id",
            sqlite_where=text("done_at IS NULL"),
            postgresql_where=text("done_at IS NULL"),
        ),
    )


class InboundSeenRow(Base):
    """Every inbound message a mailbox has handed over, by its identity in that mailbox (a
    file name and content digest, an IMAP folder/UIDVALIDITY/UID, a Gmail or Graph id): what
    was read is known by identity, never by name order or arrival time."""

    __tablename__ = "inbound_seen"
    mailbox: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    seen_at: Mapped[datetime]
