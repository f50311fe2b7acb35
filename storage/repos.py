"""Repositories: domain objects in and out; races decided by conditional updates.

Each method runs in its own transaction, so a caller never holds a session across I/O.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from storage.db import session_factory
from storage.sync import NO_DELETIONS, activity_values, merge, touch
from storage.tables import (
    ActivityRow,
    AuditRow,
    ContactRow,
    DealContactRow,
    DealRow,
    DraftEventRow,
    DraftRow,
    OutboxRow,
    OwnerRow,
    PauseRow,
    SuppressionRow,
    SyncStateRow,
)
from triggers.drafts import (
    TRANSITIONS,
    AuditEntry,
    Draft,
    DraftEvent,
    DraftStatus,
    ModelUsageSummary,
    NewDraft,
    OutboxMessage,
    OutboxStatus,
    Pause,
    Suppression,
)
from triggers.model import (
    Activity,
    ActivityKind,
    Contact,
    ContactStatus,
    Deal,
    DealSource,
    DealStatus,
    DealView,
    Deletions,
    Direction,
    Owner,
    Pipeline,
)


class Repository:
    """Base of every repository: each method runs in a transaction of its own."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session


# --- pipeline -------------------------------------------------------------------------------


def _owner(r: OwnerRow) -> Owner:
    return Owner(r.id, r.name, r.email, r.timezone, r.slack_user_id, dict(r.extra or {}))


def _contact(r: ContactRow) -> Contact:
    return Contact(
        id=r.id,
        name=r.name,
        email=r.email,
        company=r.company,
        timezone=r.timezone,
        status=ContactStatus(r.status),
        alt_emails=tuple(r.alt_emails or ()),
        extra=dict(r.extra or {}),
    )


def _deal(r: DealRow) -> Deal:
    return Deal(
        id=r.id,
        title=r.title,
        contact_ids=tuple(r.contact_ids or ()),
        owner_id=r.owner_id,
        stage=r.stage,
        stage_entered_at=r.stage_entered_at,
        status=DealStatus(r.status),
        source=DealSource(r.source),
        quote_expires_at=r.quote_expires_at,
        value=r.value,
        currency=r.currency,
        extra=dict(r.extra or {}),
    )


def _activity(r: ActivityRow) -> Activity:
    return Activity(
        id=r.id,
        deal_id=r.deal_id,
        kind=ActivityKind(r.kind),
        at=r.at,
        contact_id=r.contact_id,
        direction=Direction(r.direction) if r.direction else None,
        subject=r.subject,
        body=r.body,
        scheduled_for=r.scheduled_for,
        outcome=r.outcome,
        thread_id=r.thread_id,
        message_id=r.message_id,
        in_reply_to=r.in_reply_to,
        from_address=r.from_address,
        to_addresses=tuple(r.to_addresses or ()),
        extra=dict(r.extra or {}),
    )


class PipelineRepo(Repository):
    def sync(
        self,
        pipeline: Pipeline,
        now: datetime,
        *,
        snapshot: bool = True,
        deleted: Deletions = NO_DELETIONS,
    ) -> set[str]:
        """Merge a CRM snapshot (`pipeline` is all the CRM has: what it lacks is deleted) or a
        change set (`snapshot=False`: upsert what is given, delete what `deleted` names) into
        the store; return the ids of deals whose data changed or that were removed.

        Set-based (`storage.sync`): an unchanged record costs a digest comparison, not a
        write. Activities followup itself recorded (sent drafts, inbox replies) are kept."""
        with self._tx() as session:
            return merge(session, pipeline, now, snapshot=snapshot, deleted=deleted)

    @staticmethod
    def _touch(session: Session, deal_ids: Iterable[str], now: datetime) -> None:
        touch(session, deal_ids, now)

    def add_activity(self, activity: Activity, *, origin: str, now: datetime) -> bool:
        """Record something followup did or saw; False when it was already recorded."""
        with self._tx() as session:
            if session.get(ActivityRow, activity.id) is not None:
                return False
            session.add(ActivityRow(**activity_values(activity), origin=origin))
            self._touch(session, [activity.deal_id], now)
            return True

    def set_contact_status(self, contact_id: str, status: ContactStatus, now: datetime) -> None:
        with self._tx() as session:
            session.execute(
                update(ContactRow).where(ContactRow.id == contact_id).values(status=status.value)
            )
            deal_ids = session.scalars(
                select(DealContactRow.deal_id).where(DealContactRow.contact_id == contact_id)
            )
            self._touch(session, list(deal_ids), now)

    def set_deal_status(self, deal_id: str, status: DealStatus, now: datetime) -> None:
        with self._tx() as session:
            session.execute(
                update(DealRow)
                .where(DealRow.id == deal_id)
                .values(status=status.value, changed_at=now, next_check_at=None)
            )

    def load(self) -> Pipeline:
        with self._tx() as session:
            return Pipeline(
                owners=tuple(
                    _owner(r) for r in session.scalars(select(OwnerRow).order_by(OwnerRow.id))
                ),
                contacts=tuple(
                    _contact(r) for r in session.scalars(select(ContactRow).order_by(ContactRow.id))
                ),
                deals=tuple(
                    _deal(r)
                    for r in session.scalars(
                        select(DealRow).where(DealRow.removed_at.is_(None)).order_by(DealRow.id)
                    )
                ),
                # Grouped by deal (each deal's in time order): the evaluation's scan then
                # finds one deal's facts after another instead of jumping about in memory.
                activities=tuple(
                    _activity(r)
                    for r in session.scalars(
                        select(ActivityRow).order_by(
                            ActivityRow.deal_id, ActivityRow.at, ActivityRow.id
                        )
                    )
                ),
            )

    def subset(self, deal_ids: Iterable[str]) -> Pipeline:
        """These deals with their contacts and owners, without activities: what a list of
        drafts shows, without loading the pipeline."""
        from storage.sync import chunks

        with self._tx() as session:
            deals = tuple(
                _deal(r)
                for batch in chunks(sorted(set(deal_ids)))
                for r in session.scalars(select(DealRow).where(DealRow.id.in_(batch)))
            )
            contact_ids = sorted({c for d in deals for c in d.contact_ids})
            owner_ids = sorted({d.owner_id for d in deals})
            contacts = tuple(
                _contact(r)
                for batch in chunks(contact_ids)
                for r in session.scalars(select(ContactRow).where(ContactRow.id.in_(batch)))
            )
            owners = tuple(
                _owner(r)
                for batch in chunks(owner_ids)
                for r in session.scalars(select(OwnerRow).where(OwnerRow.id.in_(batch)))
            )
        return Pipeline(owners=owners, contacts=contacts, deals=deals)

    def deal_view(self, deal_id: str) -> DealView | None:
        """One deal with its contacts, owner and activities, as `build_views` would give it,
        without loading the rest of the pipeline."""
        with self._tx() as session:
            row = session.get(DealRow, deal_id)
            if row is None or row.removed_at is not None:
                return None
            deal = _deal(row)
            contacts = {
                c.id: _contact(c)
                for c in session.scalars(
                    select(ContactRow).where(ContactRow.id.in_(deal.contact_ids))
                )
            }
            owner = session.get(OwnerRow, deal.owner_id)
            activities = session.scalars(
                select(ActivityRow)
                .where(ActivityRow.deal_id == deal_id)
                .order_by(ActivityRow.at, ActivityRow.id)
            )
            return DealView(
                deal=deal,
                contacts=tuple(contacts[c] for c in deal.contact_ids if c in contacts),
                owner=None if owner is None else _owner(owner),
                activities=tuple(_activity(a) for a in activities),
            )

    def deals_changed_since(self, since: datetime) -> set[str]:
        with self._tx() as session:
            return set(
                session.scalars(
                    select(DealRow.id).where(
                        DealRow.changed_at > since, DealRow.removed_at.is_(None)
                    )
                )
            )

    def counts(self) -> dict[str, int]:
        with self._tx() as session:
            return {
                name: session.scalar(select(func.count()).select_from(row).where(*where)) or 0
                for name, row, where in (
                    ("owners", OwnerRow, ()),
                    ("contacts", ContactRow, ()),
                    ("deals", DealRow, (DealRow.removed_at.is_(None),)),
                    ("activities", ActivityRow, ()),
                )
            }


# --- drafts ---------------------------------------------------------------------------------


def _draft(r: DraftRow) -> Draft:
    return Draft(
        id=r.id,
        deal_id=r.deal_id,
        contact_id=r.contact_id,
        to_address=r.to_address,
        trigger=r.trigger,
        rule=r.rule,
        angle=r.angle,
        anchor_at=r.anchor_at,
        due_at=r.due_at,
        send_at=r.send_at,
        reason=r.reason,
        evidence=tuple(r.evidence or ()),
        subject=r.subject,
        body=r.body,
        original_subject=r.original_subject,
        original_body=r.original_body,
        source=r.source,
        status=DraftStatus(r.status),
        version=r.version,
        created_at=r.created_at,
        notice=r.notice,
        guardrail_failures=tuple(r.guardrail_failures or ()),
        decided_at=r.decided_at,
        decided_by=r.decided_by,
        decision_note=r.decision_note,
        slack_channel=r.slack_channel,
        slack_ts=r.slack_ts,
    )


class DraftRepo(Repository):
    def insert(self, new: NewDraft, *, now: datetime, actor: str = "followup") -> Draft | None:
        """Queue a draft; None when the deal already has an open draft, or this trigger already
        fired for this anchor (both decided by unique indexes, so two cycles cannot race)."""
        row = DraftRow(
            deal_id=new.deal_id,
            contact_id=new.contact_id,
            to_address=new.to_address,
            trigger=new.trigger,
            rule=new.rule,
            angle=new.angle,
            anchor_at=new.anchor_at,
            due_at=new.due_at,
            send_at=new.send_at,
            reason=new.reason,
            evidence=list(new.evidence),
            subject=new.subject,
            body=new.body,
            original_subject=new.subject,
            original_body=new.body,
            source=new.source,
            notice=new.notice,
            guardrail_failures=list(new.guardrail_failures),
            status=DraftStatus.PENDING.value,
            version=1,
            created_at=now,
        )
        if new.usage is not None:
            row.model_name = new.usage.model
            row.model_calls = new.usage.calls
            row.prompt_tokens = new.usage.prompt_tokens
            row.completion_tokens = new.usage.completion_tokens
            row.model_ms = new.usage.milliseconds
        try:
            with self._tx() as session:
                session.add(row)
                session.flush()
                session.add(
                    DraftEventRow(
                        draft_id=row.id,
                        at=now,
                        from_status=None,
                        to_status=row.status,
                        actor=actor,
                        note=new.reason,
                    )
                )
        except IntegrityError:
            return None
        return _draft(row)

    def get(self, draft_id: int) -> Draft | None:
        with self._tx() as session:
            row = session.get(DraftRow, draft_id)
            return None if row is None else _draft(row)

    def find(
        self, *, statuses: Sequence[DraftStatus] | None = None, deal_id: str | None = None
    ) -> list[Draft]:
        query = select(DraftRow).order_by(DraftRow.send_at, DraftRow.id)
        if statuses is not None:
            query = query.where(DraftRow.status.in_([s.value for s in statuses]))
        if deal_id is not None:
            query = query.where(DraftRow.deal_id == deal_id)
        with self._tx() as session:
            return [_draft(r) for r in session.scalars(query)]

    def transition(
        self,
        draft_id: int,
        to: DraftStatus,
        *,
        actor: str,
        now: datetime,
        note: str | None = None,
        expected_version: int | None = None,
        allowed_from: Iterable[DraftStatus] | None = None,
    ) -> Draft | None:
        """Move a draft to `to` if, at this instant, its status allows it (and its version is
        the one the actor saw). Exactly one of two racing callers wins; the other gets None."""
        sources = [s for s in (allowed_from or DraftStatus) if to in TRANSITIONS[s]]
        query = (
            update(DraftRow)
            .where(DraftRow.id == draft_id, DraftRow.status.in_([s.value for s in sources]))
            .values(status=to.value)
        )
        if (
            to is not DraftStatus.APPROVED
            and to is not DraftStatus.SENT
            and to is not DraftStatus.FAILED
        ):
            query = query.values(decided_at=now, decided_by=actor, decision_note=note)
        elif to is DraftStatus.APPROVED:
            query = query.values(decided_at=now, decided_by=actor)
        if expected_version is not None:
            query = query.where(DraftRow.version == expected_version)
        with self._tx() as session:
            before = session.scalar(select(DraftRow.status).where(DraftRow.id == draft_id))
            if session.execute(query).rowcount != 1:  # type: ignore[attr-defined]
                return None
            session.add(
                DraftEventRow(
                    draft_id=draft_id,
                    at=now,
                    from_status=before,
                    to_status=to.value,
                    actor=actor,
                    note=note,
                )
            )
            row = session.get(DraftRow, draft_id)
            assert row is not None
            session.refresh(row)
            return _draft(row)

    def edit(
        self,
        draft_id: int,
        *,
        subject: str,
        body: str,
        expected_version: int,
        actor: str,
        now: datetime,
    ) -> Draft | None:
        """Save an edit of a pending draft; None if it was decided or edited meanwhile."""
        with self._tx() as session:
            result = session.execute(
                update(DraftRow)
                .where(
                    DraftRow.id == draft_id,
                    DraftRow.status == DraftStatus.PENDING.value,
                    DraftRow.version == expected_version,
                )
                .values(subject=subject, body=body, version=DraftRow.version + 1)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            session.add(
                DraftEventRow(
                    draft_id=draft_id,
                    at=now,
                    from_status="pending",
                    to_status="pending",
                    actor=actor,
                    note="edited",
                )
            )
            row = session.get(DraftRow, draft_id)
            assert row is not None
            session.refresh(row)
            return _draft(row)

    def model_usage(self, since: datetime) -> list[ModelUsageSummary]:
        """Per model: drafts, calls, tokens and latency of drafts made since `since`."""
        query = select(
            DraftRow.model_name,
            DraftRow.model_calls,
            DraftRow.prompt_tokens,
            DraftRow.completion_tokens,
            DraftRow.model_ms,
        ).where(DraftRow.model_name.is_not(None), DraftRow.created_at >= since)
        per_model: dict[str, list[tuple[int, int, int, int]]] = {}
        with self._tx() as session:
            for name, calls, prompt, completion, ms in session.execute(query):
                per_model.setdefault(name or "", []).append((calls, prompt, completion, ms))
        summaries = []
        for name, rows in sorted(per_model.items()):
            latencies = sorted(ms for *_, ms in rows)
            summaries.append(
                ModelUsageSummary(
                    model=name,
                    drafts=len(rows),
                    calls=sum(r[0] for r in rows),
                    prompt_tokens=sum(r[1] for r in rows),
                    completion_tokens=sum(r[2] for r in rows),
                    median_ms=statistics.median(latencies),
                    p95_ms=latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))],
                )
            )
        return summaries

    def set_slack_message(self, draft_id: int, channel: str, ts: str) -> None:
        with self._tx() as session:
            session.execute(
                update(DraftRow)
                .where(DraftRow.id == draft_id)
                .values(slack_channel=channel, slack_ts=ts)
            )

    def events(self, draft_id: int) -> list[DraftEvent]:
        with self._tx() as session:
            rows = session.scalars(
                select(DraftEventRow)
                .where(DraftEventRow.draft_id == draft_id)
                .order_by(DraftEventRow.id)
            )
            return [
                DraftEvent(
                    r.draft_id,
                    r.at,
                    DraftStatus(r.from_status) if r.from_status else None,
                    DraftStatus(r.to_status),
                    r.actor,
                    r.note,
                )
                for r in rows
            ]


# --- outbox ---------------------------------------------------------------------------------


def _outbox(r: OutboxRow) -> OutboxMessage:
    return OutboxMessage(
        id=r.id,
        draft_id=r.draft_id,
        message_id=r.message_id,
        from_address=r.from_address,
        to_address=r.to_address,
        subject=r.subject,
        body=r.body,
        in_reply_to=r.in_reply_to,
        references=tuple(r.references or ()),
        send_at=r.send_at,
        status=OutboxStatus(r.status),
        attempts=r.attempts,
        last_error=r.last_error,
        provider_id=r.provider_id,
        sent_at=r.sent_at,
    )


class OutboxRepo(Repository):
    def enqueue(
        self,
        *,
        draft_id: int,
        message_id: str,
        from_address: str,
        to_address: str,
        subject: str,
        body: str,
        in_reply_to: str | None,
        references: Sequence[str],
        send_at: datetime,
    ) -> OutboxMessage | None:
        """One row per draft (unique): a second enqueue of the same draft returns None."""
        row = OutboxRow(
            draft_id=draft_id,
            message_id=message_id,
            from_address=from_address,
            to_address=to_address,
            subject=subject,
            body=body,
            in_reply_to=in_reply_to,
            references=list(references),
            send_at=send_at,
            status=OutboxStatus.QUEUED.value,
            attempts=0,
        )
        try:
            with self._tx() as session:
                session.add(row)
        except IntegrityError:
            return None
        return _outbox(row)

    def claim_due(self, now: datetime, *, limit: int = 20) -> list[OutboxMessage]:
        """Claim queued rows whose time has come; each row is claimed by one worker only."""
        with self._tx() as session:
            query = (
                select(OutboxRow.id)
                .where(OutboxRow.status == OutboxStatus.QUEUED.value, OutboxRow.send_at <= now)
                .order_by(OutboxRow.send_at)
                .limit(limit)
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            claimed: list[OutboxMessage] = []
            for row_id in list(session.scalars(query)):
                result = session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id == row_id, OutboxRow.status == OutboxStatus.QUEUED.value)
                    .values(
                        status=OutboxStatus.SENDING.value,
                        claimed_at=now,
                        attempts=OutboxRow.attempts + 1,
                    )
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    row = session.get(OutboxRow, row_id)
                    assert row is not None
                    session.refresh(row)
                    claimed.append(_outbox(row))
            return claimed

    def stuck_sending(self, claimed_before: datetime) -> list[OutboxMessage]:
        with self._tx() as session:
            rows = session.scalars(
                select(OutboxRow).where(
                    OutboxRow.status == OutboxStatus.SENDING.value,
                    OutboxRow.claimed_at < claimed_before,
                )
            )
            return [_outbox(r) for r in rows]

    def finish(
        self,
        outbox_id: int,
        status: OutboxStatus,
        *,
        now: datetime,
        provider_id: str | None = None,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> bool:
        """Record the outcome of a claimed row; `retry_at` puts it back in the queue."""
        values: dict[str, Any] = {"status": status.value, "last_error": error}
        if status is OutboxStatus.SENT:
            values |= {"provider_id": provider_id, "sent_at": now}
        if retry_at is not None:
            values |= {"status": OutboxStatus.QUEUED.value, "send_at": retry_at}
        with self._tx() as session:
            result = session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == outbox_id, OutboxRow.status == OutboxStatus.SENDING.value)
                .values(**values)
            )
            return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]

    def cancel_for_draft(self, draft_id: int) -> bool:
        with self._tx() as session:
            result = session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.draft_id == draft_id, OutboxRow.status == OutboxStatus.QUEUED.value
                )
                .values(status=OutboxStatus.CANCELLED.value)
            )
            return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]

    def for_draft(self, draft_id: int) -> OutboxMessage | None:
        with self._tx() as session:
            row = session.scalar(select(OutboxRow).where(OutboxRow.draft_id == draft_id))
            return None if row is None else _outbox(row)

    def find(self, statuses: Sequence[OutboxStatus] | None = None) -> list[OutboxMessage]:
        query = select(OutboxRow).order_by(OutboxRow.id)
        if statuses is not None:
            query = query.where(OutboxRow.status.in_([s.value for s in statuses]))
        with self._tx() as session:
            return [_outbox(r) for r in session.scalars(query)]


# --- suppression, pauses, audit, sync state ---------------------------------------------------


class SuppressionRepo(Repository):
    def add(self, value: str, *, reason: str, now: datetime, source: str = "followup") -> bool:
        key = value.strip().lower()
        with self._tx() as session:
            if session.get(SuppressionRow, key) is not None:
                return False
            session.add(SuppressionRow(value=key, reason=reason, source=source, created_at=now))
            return True

    def all(self) -> list[Suppression]:
        with self._tx() as session:
            return [
                Suppression(r.value, r.reason, r.created_at, r.source)
                for r in session.scalars(select(SuppressionRow).order_by(SuppressionRow.value))
            ]

    def values(self) -> frozenset[str]:
        with self._tx() as session:
            return frozenset(session.scalars(select(SuppressionRow.value)))

    def is_suppressed(self, address: str) -> bool:
        address = address.strip().lower()
        domain = address.rpartition("@")[2]
        with self._tx() as session:
            found = session.scalar(
                select(func.count())
                .select_from(SuppressionRow)
                .where(or_(SuppressionRow.value == address, SuppressionRow.value == domain))
            )
            return bool(found)


def _evaluate_again(session: Session, deal_id: str) -> None:
    """A pause set or lifted changes when the deal can be due: the next cycle looks again."""
    session.execute(update(DealRow).where(DealRow.id == deal_id).values(next_check_at=None))


class PauseRepo(Repository):
    def set(self, pause: Pause) -> None:
        with self._tx() as session:
            session.merge(
                PauseRow(
                    deal_id=pause.deal_id,
                    until=pause.until,
                    reason=pause.reason,
                    created_by=pause.created_by,
                    created_at=pause.created_at,
                )
            )
            _evaluate_again(session, pause.deal_id)

    def clear(self, deal_id: str) -> bool:
        with self._tx() as session:
            result = session.execute(delete(PauseRow).where(PauseRow.deal_id == deal_id))
            _evaluate_again(session, deal_id)
            return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]

    def active(self, now: datetime) -> dict[str, Pause]:
        with self._tx() as session:
            rows = session.scalars(
                select(PauseRow).where(or_(PauseRow.until.is_(None), PauseRow.until > now))
            )
            return {
                r.deal_id: Pause(r.deal_id, r.until, r.reason, r.created_by, r.created_at)
                for r in rows
            }


class AuditRepo(Repository):
    def add(self, entry: AuditEntry) -> None:
        with self._tx() as session:
            session.add(
                AuditRow(
                    at=entry.at,
                    actor=entry.actor,
                    action=entry.action,
                    subject=entry.subject,
                    detail=entry.detail,
                )
            )

    def recent(self, limit: int = 50) -> list[AuditEntry]:
        with self._tx() as session:
            rows = session.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(limit))
            return [AuditEntry(r.at, r.actor, r.action, r.subject, r.detail) for r in rows]


class SyncStateRepo(Repository):
    def get(self, key: str) -> str | None:
        with self._tx() as session:
            row = session.get(SyncStateRow, key)
            return None if row is None else row.value

    def set(self, key: str, value: str) -> None:
        with self._tx() as session:
            session.merge(SyncStateRow(key=key, value=value))


class Store:
    """Every repository over one engine."""

    def __init__(self, engine: Engine) -> None:
        sessions = session_factory(engine)
        self.engine = engine
        self.pipeline = PipelineRepo(sessions)
        self.drafts = DraftRepo(sessions)
        self.outbox = OutboxRepo(sessions)
        self.suppressions = SuppressionRepo(sessions)
        self.pauses = PauseRepo(sessions)
        self.audit = AuditRepo(sessions)
        self.sync_state = SyncStateRepo(sessions)
        from storage.evaluation import EvaluationRepo  # it builds on this module

        self.evaluation = EvaluationRepo(sessions)
