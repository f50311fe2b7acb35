"""Repositories: domain objects in and out; races decided by conditional updates.

Each method runs in its own transaction, so a caller never holds a session across I/O.
"""

from __future__ import annotations

import secrets
import statistics
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from observe import metrics
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
    SlackClickRow,
    SuppressionRow,
    SyncStateRow,
)
from triggers.drafts import (
    TRANSITIONS,
    AuditEntry,
    Draft,
    DraftEvent,
    DraftingNotes,
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
from triggers.reading import Reading


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
        reading=Reading.from_json(r.reading) if r.reading else None,
    )


# A deal the CRM no longer has stays as a row (its drafts point at it) and leaves the pipeline.
_REMOVED = DealRow.removed_at.is_not(None)


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
            reading = activity.reading.to_json() if activity.reading else None
            session.add(ActivityRow(**activity_values(activity), origin=origin, reading=reading))
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
                        select(ActivityRow)
                        .where(ActivityRow.deal_id.not_in(select(DealRow.id).where(_REMOVED)))
                        .order_by(ActivityRow.deal_id, ActivityRow.at, ActivityRow.id)
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
        drafting=DraftingNotes.from_json(r.drafting),
    )


def _transition_in(
    session: Session,
    draft_id: int,
    to: DraftStatus,
    *,
    actor: str,
    now: datetime,
    note: str | None = None,
    expected_version: int | None = None,
    allowed_from: Iterable[DraftStatus] | None = None,
) -> Draft | None:
    """`DraftRepo.transition` inside the caller's transaction, so that a draft's change and
    what goes with it (its outbox row, its sent activity) commit together or not at all."""
    sources = [s for s in (allowed_from or DraftStatus) if to in TRANSITIONS[s]]
    query = (
        update(DraftRow)
        .where(DraftRow.id == draft_id, DraftRow.status.in_([s.value for s in sources]))
        .values(status=to.value)
    )
    if to not in (DraftStatus.APPROVED, DraftStatus.SENT, DraftStatus.FAILED):
        query = query.values(decided_at=now, decided_by=actor, decision_note=note)
    elif to is DraftStatus.APPROVED:
        query = query.values(decided_at=now, decided_by=actor)
    if expected_version is not None:
        query = query.where(DraftRow.version == expected_version)
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
            drafting=new.drafting.as_json() if new.drafting else None,
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
        metrics.draft_event("created", new.rule)
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
        with self._tx() as session:
            moved = _transition_in(
                session,
                draft_id,
                to,
                actor=actor,
                now=now,
                note=note,
                expected_version=expected_version,
                allowed_from=allowed_from,
            )
        if moved is not None:
            metrics.draft_event(moved.status.value, moved.rule)
        return moved

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
            edited = _draft(row)
        metrics.draft_event("edited", edited.rule)
        return edited

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
        owner_token=r.owner_token,
        lease_until=r.lease_until,
        handed_at=r.handed_at,
    )


def _audit_row(entry: AuditEntry) -> AuditRow:
    return AuditRow(
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        subject=entry.subject,
        detail=entry.detail,
    )


@dataclass(frozen=True, slots=True)
class OutgoingRow:
    """What an approval puts in the outbox: the message exactly as it will leave."""

    message_id: str
    from_address: str
    to_address: str
    subject: str
    body: str
    in_reply_to: str | None
    references: Sequence[str]
    send_at: datetime


@dataclass(frozen=True, slots=True)
class SendState:
    """A draft whose status does not match its outbox row (see `OutboxRepo.mismatched`)."""

    draft: Draft
    row: OutboxMessage | None


# A row claimed under the lease rules of an older version carries no lease: it counts as
# expired this long after it was claimed.
LEGACY_CLAIM = timedelta(minutes=5)

_OUTCOMES = {
    OutboxStatus.SENT: "sent",
    OutboxStatus.FAILED: "failed",
    OutboxStatus.CANCELLED: "refused",
}


class OutboxRepo(Repository):
    """The outbox. A row is claimed by one worker (its owner token) for a lease the worker
    renews; every later change of a claimed row names the owner, so a worker whose lease ran
    out (and was taken over) changes nothing. A draft, its row and its sent activity change
    in one transaction."""

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
        """One row per draft (unique): a second enqueue of the same draft returns None. Only
        for repairs: an approval enqueues with `approve`."""
        row = self._row(
            draft_id,
            OutgoingRow(
                message_id,
                from_address,
                to_address,
                subject,
                body,
                in_reply_to,
                references,
                send_at,
            ),
        )
        try:
            with self._tx() as session:
                session.add(row)
        except IntegrityError:
            return None
        return _outbox(row)

    @staticmethod
    def _row(draft_id: int, message: OutgoingRow) -> OutboxRow:
        return OutboxRow(
            draft_id=draft_id,
            message_id=message.message_id,
            from_address=message.from_address,
            to_address=message.to_address,
            subject=message.subject,
            body=message.body,
            in_reply_to=message.in_reply_to,
            references=list(message.references),
            send_at=message.send_at,
            status=OutboxStatus.QUEUED.value,
            attempts=0,
        )

    def approve(
        self,
        draft_id: int,
        message: OutgoingRow,
        *,
        version: int,
        actor: str,
        now: datetime,
        audit: AuditEntry,
    ) -> Draft | None:
        """Approve version `version` of a pending draft and queue its message, in ONE
        transaction: either both are stored or neither. None when the draft was decided or
        edited meanwhile (or already has a row)."""
        try:
            with self._tx() as session:
                approved = _transition_in(
                    session,
                    draft_id,
                    DraftStatus.APPROVED,
                    actor=actor,
                    now=now,
                    expected_version=version,
                    allowed_from=[DraftStatus.PENDING],
                )
                if approved is None:
                    return None
                session.add(self._row(draft_id, message))
                session.add(_audit_row(audit))
                session.flush()
                return approved
        except IntegrityError:
            return None

    def claim_due(
        self,
        now: datetime,
        *,
        limit: int = 1,
        owner: str | None = None,
        lease: timedelta = timedelta(minutes=2),
    ) -> list[OutboxMessage]:
        """Claim up to `limit` queued rows whose time has come, for `owner` until now + lease;
        each row is claimed by one worker only."""
        owner = owner or secrets.token_hex(8)
        with self._tx() as session:
            query = (
                select(OutboxRow.id)
                .where(OutboxRow.status == OutboxStatus.QUEUED.value, OutboxRow.send_at <= now)
                .order_by(OutboxRow.send_at, OutboxRow.id)
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
                        owner_token=owner,
                        lease_until=now + lease,
                        handed_at=None,
                        attempts=OutboxRow.attempts + 1,
                    )
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    row = session.get(OutboxRow, row_id)
                    assert row is not None
                    session.refresh(row)
                    claimed.append(_outbox(row))
            return claimed

    def expired(self, now: datetime) -> list[OutboxMessage]:
        """Rows being sent whose owner's lease ran out (it died, or lost touch for a lease)."""
        with self._tx() as session:
            rows = session.scalars(
                select(OutboxRow).where(
                    OutboxRow.status == OutboxStatus.SENDING.value,
                    or_(
                        OutboxRow.lease_until < now,
                        and_(
                            OutboxRow.lease_until.is_(None),
                            OutboxRow.claimed_at < now - LEGACY_CLAIM,
                        ),
                    ),
                )
            )
            return [_outbox(r) for r in rows]

    def take_over(
        self, row: OutboxMessage, owner: str, *, now: datetime, lease: timedelta
    ) -> OutboxMessage | None:
        """Take an expired row over for `owner`; None when someone else did first (or its
        owner renewed the lease meanwhile)."""
        with self._tx() as session:
            query = update(OutboxRow).where(
                OutboxRow.id == row.id, OutboxRow.status == OutboxStatus.SENDING.value
            )
            if row.owner_token is None:
                query = query.where(OutboxRow.owner_token.is_(None))
            else:
                query = query.where(OutboxRow.owner_token == row.owner_token)
            if row.lease_until is not None:
                query = query.where(OutboxRow.lease_until == row.lease_until)
            result = session.execute(query.values(owner_token=owner, lease_until=now + lease))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            taken = session.get(OutboxRow, row.id)
            assert taken is not None
            session.refresh(taken)
            return _outbox(taken)

    def _owned(self, row_id: int, owner: str) -> Any:
        return update(OutboxRow).where(
            OutboxRow.id == row_id,
            OutboxRow.status == OutboxStatus.SENDING.value,
            OutboxRow.owner_token == owner,
        )

    def renew(self, row_id: int, owner: str, *, until: datetime) -> bool:
        """Extend `owner`'s lease; False when it is no longer theirs."""
        with self._tx() as session:
            result = session.execute(self._owned(row_id, owner).values(lease_until=until))
            return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]

    def mark_handed(self, row_id: int, owner: str, *, now: datetime) -> bool:
        """Record, before the mailbox is called, that this attempt is being handed over: from
        here a crash leaves it unknown whether the message left."""
        with self._tx() as session:
            result = session.execute(self._owned(row_id, owner).values(handed_at=now))
            return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]

    def finish(
        self,
        outbox_id: int,
        status: OutboxStatus,
        *,
        now: datetime,
        owner: str,
        provider_id: str | None = None,
        error: str | None = None,
        retry_at: datetime | None = None,
        held: bool = False,
    ) -> bool:
        """Record the outcome of a row `owner` holds; `retry_at` puts it back in the queue.
        False (and nothing changed) when the row is not `owner`'s any more. `held`: it was not
        tried (the send limits), so the claim does not count as an attempt."""
        values: dict[str, Any] = {"status": status.value, "last_error": error}
        if held:
            values["attempts"] = OutboxRow.attempts - 1
        if status is OutboxStatus.SENT:
            values |= {"provider_id": provider_id, "sent_at": now}
        if retry_at is not None:
            values |= {"status": OutboxStatus.QUEUED.value, "send_at": retry_at}
        values |= {"owner_token": None, "lease_until": None}
        with self._tx() as session:
            result = session.execute(self._owned(outbox_id, owner).values(**values))
            done: bool = result.rowcount == 1  # type: ignore[attr-defined]
        if done:
            outcome = "held" if held else _OUTCOMES.get(status)
            if outcome is not None:
                metrics.message_event(outcome)
        return done

    def record_sent(
        self,
        row: OutboxMessage,
        *,
        owner: str,
        now: datetime,
        provider_id: str,
        activity: Activity,
        audit: AuditEntry,
    ) -> Draft | None:
        """The message left: the row is sent, the draft is sent and its touch is recorded, in
        ONE transaction. None when the row is not `owner`'s any more (nothing changed)."""
        with self._tx() as session:
            result = session.execute(
                self._owned(row.id, owner).values(
                    status=OutboxStatus.SENT.value,
                    provider_id=provider_id,
                    sent_at=now,
                    last_error=None,
                    owner_token=None,
                    lease_until=None,
                )
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            sent = _transition_in(
                session,
                row.draft_id,
                DraftStatus.SENT,
                actor="followup",
                now=now,
                allowed_from=[DraftStatus.APPROVED],
            )
            if sent is None:  # an older version left the draft elsewhere; the row says sent
                row_draft = session.get(DraftRow, row.draft_id)
                sent = None if row_draft is None else _draft(row_draft)
            self._add_activity(session, activity, now)
            session.add(_audit_row(audit))
        metrics.message_event("sent")
        if sent is not None:
            metrics.draft_event(sent.status.value, sent.rule)
        return sent

    @staticmethod
    def _add_activity(session: Session, activity: Activity, now: datetime) -> None:
        if session.get(ActivityRow, activity.id) is None:
            session.add(ActivityRow(**activity_values(activity), origin="followup"))
            session.execute(
                update(DealRow).where(DealRow.id == activity.deal_id).values(changed_at=now)
            )

    def close(
        self,
        row: OutboxMessage,
        status: OutboxStatus,
        *,
        owner: str | None,
        now: datetime,
        error: str,
        draft_to: DraftStatus,
        actor: str,
        note: str,
        audit: AuditEntry | None = None,
    ) -> Draft | None:
        """End a row without sending (refused at send time, failed, cancelled) and move its
        draft on, in ONE transaction. `owner`: the worker holding the row; None for a person
        acting on a row no worker holds (queued or held). None when the row was not in that
        state any more (a worker claimed it, it was sent): nothing changed."""
        with self._tx() as session:
            if owner is not None:
                query = self._owned(row.id, owner)
            else:
                query = update(OutboxRow).where(
                    OutboxRow.id == row.id,
                    OutboxRow.status.in_([OutboxStatus.QUEUED.value, OutboxStatus.HELD.value]),
                )
            result = session.execute(
                query.values(status=status.value, last_error=error, owner_token=None)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            moved = _transition_in(
                session,
                row.draft_id,
                draft_to,
                actor=actor,
                now=now,
                note=note,
                allowed_from=[DraftStatus.APPROVED],
            )
            if audit is not None:
                session.add(_audit_row(audit))
            if moved is None:
                current = session.get(DraftRow, row.draft_id)
                return None if current is None else _draft(current)
        outcome = _OUTCOMES.get(status)
        if outcome is not None:
            metrics.message_event(outcome)
        metrics.draft_event(moved.status.value, moved.rule)
        return moved

    def hold(self, row: OutboxMessage, *, owner: str, now: datetime, reason: str) -> bool:
        """It is unknown whether the message left: keep it out of the queue until a person
        decides (`resend`, or cancel)."""
        with self._tx() as session:
            result = session.execute(
                self._owned(row.id, owner).values(
                    status=OutboxStatus.HELD.value, last_error=reason, owner_token=None
                )
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                session.add(
                    _audit_row(AuditEntry(now, "followup", "held", f"draft:{row.draft_id}", reason))
                )
            return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]

    def claim_held(
        self, row: OutboxMessage, owner: str, *, now: datetime, lease: timedelta
    ) -> OutboxMessage | None:
        """Take a held row (found among sent mail after all) to record it; None if a person
        decided meanwhile."""
        with self._tx() as session:
            result = session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == row.id, OutboxRow.status == OutboxStatus.HELD.value)
                .values(
                    status=OutboxStatus.SENDING.value, owner_token=owner, lease_until=now + lease
                )
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            taken = session.get(OutboxRow, row.id)
            assert taken is not None
            session.refresh(taken)
            return _outbox(taken)

    def resend(self, draft_id: int, *, actor: str, now: datetime) -> OutboxMessage | None:
        """A person decided a held message should go (again): back in the queue, due now."""
        with self._tx() as session:
            result = session.execute(
                update(OutboxRow)
                .where(OutboxRow.draft_id == draft_id, OutboxRow.status == OutboxStatus.HELD.value)
                .values(status=OutboxStatus.QUEUED.value, send_at=now)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            session.add(_audit_row(AuditEntry(now, actor, "resend", f"draft:{draft_id}")))
            row = session.scalar(select(OutboxRow).where(OutboxRow.draft_id == draft_id))
            assert row is not None
            return _outbox(row)

    def reschedule(self, draft_id: int, send_at: datetime, *, reason: str) -> bool:
        """Move a queued row's time (a pause, a snooze, an out-of-office holds it)."""
        with self._tx() as session:
            result = session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.draft_id == draft_id, OutboxRow.status == OutboxStatus.QUEUED.value
                )
                .values(send_at=send_at, last_error=reason)
            )
            return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]

    def cancel_for_draft(self, draft_id: int) -> bool:
        with self._tx() as session:
            result = session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.draft_id == draft_id,
                    OutboxRow.status.in_([OutboxStatus.QUEUED.value, OutboxStatus.HELD.value]),
                )
                .values(status=OutboxStatus.CANCELLED.value)
            )
            return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]

    def mismatched(self) -> list[SendState]:
        """Approved drafts with no open row (none at all, or one that is sent, failed or
        cancelled), and sent rows whose draft is not sent: what a crash in an older version,
        or a manual edit of the database, can leave behind."""
        open_rows = [OutboxStatus.QUEUED.value, OutboxStatus.SENDING.value, OutboxStatus.HELD.value]
        with self._tx() as session:
            approved = session.execute(
                select(DraftRow, OutboxRow)
                .outerjoin(OutboxRow, OutboxRow.draft_id == DraftRow.id)
                .where(
                    DraftRow.status == DraftStatus.APPROVED.value,
                    or_(OutboxRow.id.is_(None), OutboxRow.status.not_in(open_rows)),
                )
                .order_by(DraftRow.id)
            )
            found = [SendState(_draft(d), None if o is None else _outbox(o)) for d, o in approved]
            sent_rows = session.execute(
                select(DraftRow, OutboxRow)
                .join(OutboxRow, OutboxRow.draft_id == DraftRow.id)
                .where(
                    OutboxRow.status == OutboxStatus.SENT.value,
                    DraftRow.status != DraftStatus.SENT.value,
                    DraftRow.status != DraftStatus.APPROVED.value,
                )
                .order_by(DraftRow.id)
            )
            found += [SendState(_draft(d), _outbox(o)) for d, o in sent_rows]
            return found

    def for_draft(self, draft_id: int) -> OutboxMessage | None:
        with self._tx() as session:
            row = session.scalar(select(OutboxRow).where(OutboxRow.draft_id == draft_id))
            return None if row is None else _outbox(row)

    def sent_times(self, from_address: str, since: datetime) -> list[datetime]:
        """When mail from `from_address` left since `since` (the send cap counts these)."""
        query = select(OutboxRow.sent_at).where(
            OutboxRow.status == OutboxStatus.SENT.value,
            func.lower(OutboxRow.from_address) == from_address.lower(),
            OutboxRow.sent_at >= since,
        )
        with self._tx() as session:
            return sorted(t for t in session.scalars(query) if t is not None)

    def find(self, statuses: Sequence[OutboxStatus] | None = None) -> list[OutboxMessage]:
        query = select(OutboxRow).order_by(OutboxRow.id)
        if statuses is not None:
            query = query.where(OutboxRow.status.in_([s.value for s in statuses]))
        with self._tx() as session:
            return [_outbox(r) for r in session.scalars(query)]


class ClickRepo(Repository):
    """Slack clicks between their arrival and their decision (see SlackClickRow)."""

    def add(self, kind: str, body: str, *, now: datetime) -> int:
        with self._tx() as session:
            row = SlackClickRow(kind=kind, body=body, received_at=now)
            session.add(row)
            session.flush()
            return row.id

    def done(self, click_id: int, *, now: datetime) -> None:
        with self._tx() as session:
            session.execute(
                update(SlackClickRow)
                .where(SlackClickRow.id == click_id, SlackClickRow.done_at.is_(None))
                .values(done_at=now)
            )

    def undecided(self, *, received_before: datetime) -> list[tuple[int, str, str]]:
        """(id, kind, body) of the clicks stored before `received_before` and not decided."""
        with self._tx() as session:
            rows = session.scalars(
                select(SlackClickRow)
                .where(SlackClickRow.done_at.is_(None), SlackClickRow.received_at < received_before)
                .order_by(SlackClickRow.id)
            )
            return [(r.id, r.kind, r.body) for r in rows]


# --- suppression, pauses, audit, sync state ---------------------------------------------------


class SuppressionRepo(Repository):
    def add(self, value: str, *, reason: str, now: datetime, source: str = "followup") -> bool:
        key = value.strip().lower()
        with self._tx() as session:
            if session.get(SuppressionRow, key) is not None:
                return False
            session.add(SuppressionRow(value=key, reason=reason, source=source, created_at=now))
            return True

    def get(self, value: str) -> Suppression | None:
        with self._tx() as session:
            r = session.get(SuppressionRow, value.strip().lower())
            return None if r is None else Suppression(r.value, r.reason, r.created_at, r.source)

    def lift(self, value: str) -> bool:
        """Remove one suppression (`flows.replies.lift_suppression` decides whether it may)."""
        with self._tx() as session:
            result = session.execute(
                delete(SuppressionRow).where(SuppressionRow.value == value.strip().lower())
            )
            return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]

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

    def setdefault(self, key: str, value: str) -> str:
        """The stored value of `key`, storing `value` first when there is none; two callers
        racing both get the one that was stored."""
        found = self.get(key)
        if found is not None:
            return found
        try:
            with self._tx() as session:
                session.add(SyncStateRow(key=key, value=value))
        except IntegrityError:
            pass
        stored = self.get(key)
        assert stored is not None
        return stored


class Store:
    """Every repository over one engine."""

    def __init__(self, engine: Engine) -> None:
        sessions = session_factory(engine)
        self.engine = engine
        self.pipeline = PipelineRepo(sessions)
        self.drafts = DraftRepo(sessions)
        self.outbox = OutboxRepo(sessions)
        self.clicks = ClickRepo(sessions)
        self.suppressions = SuppressionRepo(sessions)
        self.pauses = PauseRepo(sessions)
        self.audit = AuditRepo(sessions)
        self.sync_state = SyncStateRepo(sessions)
        from storage.evaluation import EvaluationRepo  # it builds on this module
        from storage.inbound_repos import InboundSeenRepo  # here: it imports this module

        self.evaluation = EvaluationRepo(sessions)
        self.inbound_seen = InboundSeenRepo(sessions)
