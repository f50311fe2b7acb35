"""Tables for cadences and handoffs (migration 0002; delivery of handoffs and the weekly digest,
0004). Same `Base` as `storage.tables`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy import text as sql
from sqlalchemy.orm import Mapped, mapped_column

from storage.tables import Base

LIVE = "status IN ('active', 'paused')"


class EnrolmentRow(Base):
    """One contact in one cadence on one deal, and where it stands."""

    __tablename__ = "cadence_enrolments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deal_id: Mapped[str] = mapped_column(ForeignKey("deals.id"), index=True)
    contact_id: Mapped[str] = mapped_column(String(128), index=True)
    cadence: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    enrolled_at: Mapped[datetime]
    enrolled_by: Mapped[str] = mapped_column(String(128))
    via: Mapped[str] = mapped_column(String(32))
    next_index: Mapped[int] = mapped_column(Integer, default=0)
    touches: Mapped[int] = mapped_column(Integer, default=0)
    last_touch_at: Mapped[datetime | None]
    angles: Mapped[list[Any]] = mapped_column(default=list)
    pending_draft_id: Mapped[int | None] = mapped_column(ForeignKey("drafts.id"))
    not_before: Mapped[datetime | None]
    paused_until: Mapped[datetime | None]
    pause_reason: Mapped[str | None] = mapped_column(String(32))
    awaiting_owner: Mapped[bool] = mapped_column(Boolean, default=False)
    handled_until: Mapped[datetime | None]
    acknowledged_until: Mapped[datetime | None]
    to_address: Mapped[str | None] = mapped_column(String(320))
    replied_at: Mapped[datetime | None]
    replied_step: Mapped[int | None] = mapped_column(Integer)
    reply_intent: Mapped[str | None] = mapped_column(String(32))
    touches_before_reply: Mapped[int | None] = mapped_column(Integer)
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(32))
    confirmation_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        # One contact is in at most one cadence at a time, enforced by the database itself.
        Index(
            "uq_cadence_enrolments_one_live_per_contact",
            "contact_id",
            unique=True,
            sqlite_where=sql(LIVE),
            postgresql_where=sql(LIVE),
        ),
    )


class HandoffRow(Base):
    """A reply handed to a person: intent, route, and who acted (handoff accuracy)."""

    __tablename__ = "cadence_handoffs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deal_id: Mapped[str] = mapped_column(ForeignKey("deals.id"), index=True)
    contact_id: Mapped[str | None] = mapped_column(String(128), index=True)
    enrolment_id: Mapped[int | None] = mapped_column(ForeignKey("cadence_enrolments.id"))
    source_key: Mapped[str] = mapped_column(String(512))
    received_at: Mapped[datetime]
    intent: Mapped[str] = mapped_column(String(32))
    sentiment: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32))
    route_target: Mapped[str] = mapped_column(String(64))
    routed_to: Mapped[str | None] = mapped_column(String(32))
    route_label: Mapped[str] = mapped_column(String(256))
    step: Mapped[int | None] = mapped_column(Integer)
    cadence: Mapped[str | None] = mapped_column(String(64))
    stage_before: Mapped[str] = mapped_column(String(128))
    summary: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)
    task_due_at: Mapped[datetime | None]
    crm_task_id: Mapped[str | None] = mapped_column(String(128))
    acted_by: Mapped[str | None] = mapped_column(String(128))
    acted_at: Mapped[datetime | None]
    action: Mapped[str | None] = mapped_column(String(64))
    # Delivery to Slack (0004). NULL `posted_at`: not shown yet (an outage); posted later, in
    # order. `post_claimed_at` is a lease, so two workers never post the same handoff at once.
    question_id: Mapped[int | None] = mapped_column(Integer)
    posted_at: Mapped[datetime | None]
    post_claimed_at: Mapped[datetime | None]
    post_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Slack said no to this handoff itself (not an outage); past a few, it stops being retried.
    post_refusals: Mapped[int] = mapped_column(Integer, default=0)
    post_error: Mapped[str | None] = mapped_column(String(512))
    reminder_id: Mapped[str | None] = mapped_column(String(128))  # a Slack scheduled message

    __table_args__ = (
        # One handoff per reply, however many times the reply is seen.
        Index("uq_cadence_handoffs_deal_source", "deal_id", "source_key", unique=True),
        Index(
            "ix_cadence_handoffs_unposted",
            "id",
            sqlite_where=sql("posted_at IS NULL"),
            postgresql_where=sql("posted_at IS NULL"),
        ),
    )


class QuestionRow(Base):
    """ONE open question to the owner per enrolment (pause until / keep running / stop)."""

    __tablename__ = "cadence_questions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("cadence_enrolments.id"), index=True)
    deal_id: Mapped[str] = mapped_column(ForeignKey("deals.id"))
    contact_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    proposed_until: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    answer: Mapped[str | None] = mapped_column(String(32))
    answer_until: Mapped[date | None] = mapped_column(Date)
    answered_by: Mapped[str | None] = mapped_column(String(128))
    answered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    __table_args__ = (
        Index(
            "uq_cadence_questions_one_open",
            "enrolment_id",
            unique=True,
            sqlite_where=sql("status = 'open'"),
            postgresql_where=sql("status = 'open'"),
        ),
    )


class DigestRow(Base):
    """The weekly digest of one week (`2026-W48`): claimed by one worker, posted once."""

    __tablename__ = "cadence_digests"
    week: Mapped[str] = mapped_column(String(16), primary_key=True)
    channel: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    message_ts: Mapped[str | None] = mapped_column(String(32))
    file_id: Mapped[str | None] = mapped_column(String(64))
    posted_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(512))
