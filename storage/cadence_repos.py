"""Repositories for cadences and handoffs: domain objects in and out; races decided by
conditional updates (an enrolment's `version`, a question's `open` status, a handoff's first
actor) and unique indexes (one live enrolment per contact, one handoff per reply, one open
question per enrolment)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from storage.cadence_tables import DigestRow, EnrolmentRow, HandoffRow, QuestionRow
from storage.db import session_factory
from storage.repos import Repository
from storage.tables import DraftEventRow, DraftRow, SuppressionRow
from triggers.cadence import (
    EndReason,
    Enrolment,
    EnrolmentStatus,
    OwnerQuestion,
    QuestionKind,
)
from triggers.handoff import Category, Handoff

_LIVE = [EnrolmentStatus.ACTIVE.value, EnrolmentStatus.PAUSED.value]
_PERSON_DECISIONS = ("approved", "dismissed", "snoozed")


# --- enrolments -----------------------------------------------------------------------------


def _enrolment_values(e: Enrolment) -> dict[str, Any]:
    return {
        "deal_id": e.deal_id,
        "contact_id": e.contact_id,
        "cadence": e.cadence,
        "status": e.status.value,
        "enrolled_at": e.enrolled_at,
        "enrolled_by": e.enrolled_by,
        "via": e.via,
        "next_index": e.next_index,
        "touches": e.touches,
        "last_touch_at": e.last_touch_at,
        "angles": list(e.angles),
        "pending_draft_id": e.pending_draft_id,
        "not_before": e.not_before,
        "paused_until": e.paused_until,
        "pause_reason": e.pause_reason,
        "awaiting_owner": e.awaiting_owner,
        "handled_until": e.handled_until,
        "acknowledged_until": e.acknowledged_until,
        "to_address": e.to_address,
        "replied_at": e.replied_at,
        "replied_step": e.replied_step,
        "reply_intent": e.reply_intent,
        "touches_before_reply": e.touches_before_reply,
        "ended_at": e.ended_at,
        "end_reason": e.end_reason.value if e.end_reason else None,
        "confirmation_pending": e.confirmation_pending,
    }


_ENROLMENTS = EnrolmentRow.__table__


def _enrolment(r: Any) -> Enrolment:
    """An enrolment from an ORM row or a Core row (read with `_rows`: no identity map)."""
    return Enrolment(
        id=r.id,
        deal_id=r.deal_id,
        contact_id=r.contact_id,
        cadence=r.cadence,
        status=EnrolmentStatus(r.status),
        enrolled_at=r.enrolled_at,
        enrolled_by=r.enrolled_by,
        via=r.via,
        next_index=r.next_index,
        touches=r.touches,
        last_touch_at=r.last_touch_at,
        angles=tuple(r.angles or ()),
        pending_draft_id=r.pending_draft_id,
        not_before=r.not_before,
        paused_until=r.paused_until,
        pause_reason=r.pause_reason,
        awaiting_owner=bool(r.awaiting_owner),
        handled_until=r.handled_until,
        acknowledged_until=r.acknowledged_until,
        to_address=r.to_address,
        replied_at=r.replied_at,
        replied_step=r.replied_step,
        reply_intent=r.reply_intent,
        touches_before_reply=r.touches_before_reply,
        ended_at=r.ended_at,
        end_reason=EndReason(r.end_reason) if r.end_reason else None,
        confirmation_pending=bool(r.confirmation_pending),
        version=r.version,
    )


class EnrolmentRepo(Repository):
    def insert(self, enrolment: Enrolment) -> Enrolment | None:
        """Store a new enrolment (its `id` and `version` are ignored); None when the contact is
        already in a cadence (the unique index decides, so two enrolments cannot race)."""
        row = EnrolmentRow(**_enrolment_values(enrolment), version=1)
        try:
            with self._tx() as session:
                session.add(row)
        except IntegrityError:
            return None
        return _enrolment(row)

    def _rows(self, query: Any) -> list[Enrolment]:
        with self._tx() as session:
            return [_enrolment(r) for r in session.execute(query.order_by(_ENROLMENTS.c.id))]

    def get(self, enrolment_id: int) -> Enrolment | None:
        found = self._rows(select(_ENROLMENTS).where(_ENROLMENTS.c.id == enrolment_id))
        return found[0] if found else None

    def live(self) -> list[Enrolment]:
        """Active and paused enrolments, oldest first."""
        return self._rows(select(_ENROLMENTS).where(_ENROLMENTS.c.status.in_(_LIVE)))

    def live_for_contact(self, contact_id: str) -> Enrolment | None:
        found = self._rows(
            select(_ENROLMENTS).where(
                _ENROLMENTS.c.contact_id == contact_id, _ENROLMENTS.c.status.in_(_LIVE)
            )
        )
        return found[0] if found else None

    def find(
        self,
        *,
        since: datetime | None = None,
        deal_id: str | None = None,
        contact_id: str | None = None,
    ) -> list[Enrolment]:
        query = select(_ENROLMENTS)
        if since is not None:
            query = query.where(_ENROLMENTS.c.enrolled_at >= since)
        if deal_id is not None:
            query = query.where(_ENROLMENTS.c.deal_id == deal_id)
        if contact_id is not None:
            query = query.where(_ENROLMENTS.c.contact_id == contact_id)
        return self._rows(query)

    def working(self) -> list[Enrolment]:
        """Live enrolments, and ended ones with an opt-out confirmation still to queue."""
        return self._rows(
            select(_ENROLMENTS).where(
                or_(_ENROLMENTS.c.status.in_(_LIVE), _ENROLMENTS.c.confirmation_pending.is_(True))
            )
        )

    def save(self, enrolment: Enrolment) -> Enrolment | None:
        """Write `enrolment` if the stored one is still the version it was read at; None when
        someone changed it meanwhile (read it again and decide again)."""
        with self._tx() as session:
            result = session.execute(
                update(EnrolmentRow)
                .where(EnrolmentRow.id == enrolment.id, EnrolmentRow.version == enrolment.version)
                .values(**_enrolment_values(enrolment), version=EnrolmentRow.version + 1)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
        return replace(enrolment, version=enrolment.version + 1)


# --- handoffs -------------------------------------------------------------------------------


def _handoff(r: HandoffRow) -> Handoff:
    return Handoff(
        id=r.id,
        deal_id=r.deal_id,
        contact_id=r.contact_id,
        enrolment_id=r.enrolment_id,
        source_key=r.source_key,
        received_at=r.received_at,
        intent=r.intent,
        sentiment=r.sentiment,
        category=Category(r.category),
        route_target=r.route_target,
        routed_to=r.routed_to,
        route_label=r.route_label,
        step=r.step,
        cadence=r.cadence,
        stage_before=r.stage_before,
        summary=r.summary,
        created_at=r.created_at,
        task_due_at=r.task_due_at,
        crm_task_id=r.crm_task_id,
        acted_by=r.acted_by,
        acted_at=r.acted_at,
        action=r.action,
    )


@dataclass(frozen=True, slots=True)
class HandoffDelivery:
    """Where a handoff stands with Slack: posted or not, and what came with it."""

    handoff: Handoff
    question_id: int | None
    posted_at: datetime | None
    attempts: int
    error: str | None
    reminder_id: str | None  # the Slack reminder scheduled when the CRM keeps no tasks
    refusals: int = 0  # attempts Slack refused (not outages)


def _delivery(r: HandoffRow) -> HandoffDelivery:
    return HandoffDelivery(
        handoff=_handoff(r),
        question_id=r.question_id,
        posted_at=r.posted_at,
        attempts=r.post_attempts,
        error=r.post_error,
        reminder_id=r.reminder_id,
        refusals=r.post_refusals,
    )


def _claimable(claimed_at: Any, now: datetime, lease: timedelta) -> Any:
    return or_(claimed_at.is_(None), claimed_at < now - lease)


class HandoffRepo(Repository):
    def insert(
        self,
        handoff: Handoff,
        *,
        question_id: int | None = None,
        claimed_at: datetime | None = None,
    ) -> tuple[Handoff, bool]:
        """Store a handoff (its `id` is ignored) as not posted yet, leased to its creator from
        `claimed_at`; for a reply already handed off, the stored one and False."""
        row = HandoffRow(
            deal_id=handoff.deal_id,
            contact_id=handoff.contact_id,
            enrolment_id=handoff.enrolment_id,
            source_key=handoff.source_key,
            received_at=handoff.received_at,
            intent=handoff.intent,
            sentiment=handoff.sentiment,
            category=handoff.category.value,
            route_target=handoff.route_target,
            routed_to=handoff.routed_to,
            route_label=handoff.route_label,
            step=handoff.step,
            cadence=handoff.cadence,
            stage_before=handoff.stage_before,
            summary=handoff.summary,
            created_at=handoff.created_at,
            task_due_at=handoff.task_due_at,
            crm_task_id=handoff.crm_task_id,
            question_id=question_id,
            post_claimed_at=claimed_at,
            post_attempts=0,
            post_refusals=0,
        )
        try:
            with self._tx() as session:
                session.add(row)
        except IntegrityError:
            with self._tx() as session:
                existing = session.scalars(
                    select(HandoffRow).where(
                        HandoffRow.deal_id == handoff.deal_id,
                        HandoffRow.source_key == handoff.source_key,
                    )
                ).one()
                return _handoff(existing), False
        return _handoff(row), True

    def get(self, handoff_id: int) -> Handoff | None:
        with self._tx() as session:
            row = session.get(HandoffRow, handoff_id)
            return None if row is None else _handoff(row)

    def find(
        self,
        *,
        since: datetime | None = None,
        deal_id: str | None = None,
        contact_id: str | None = None,
        source_key: str | None = None,
    ) -> list[Handoff]:
        query = select(HandoffRow).order_by(HandoffRow.received_at, HandoffRow.id)
        if source_key is not None:
            query = query.where(HandoffRow.source_key == source_key)
        if since is not None:
            query = query.where(HandoffRow.created_at >= since)
        if deal_id is not None:
            query = query.where(HandoffRow.deal_id == deal_id)
        if contact_id is not None:
            query = query.where(HandoffRow.contact_id == contact_id)
        with self._tx() as session:
            return [_handoff(r) for r in session.scalars(query)]

    def set_crm_task(self, handoff_id: int, task_id: str) -> None:
        with self._tx() as session:
            session.execute(
                update(HandoffRow).where(HandoffRow.id == handoff_id).values(crm_task_id=task_id)
            )

    def set_reminder(self, handoff_id: int, reminder_id: str) -> None:
        with self._tx() as session:
            session.execute(
                update(HandoffRow)
                .where(HandoffRow.id == handoff_id)
                .values(reminder_id=reminder_id)
            )

    def delivery(self, handoff_id: int) -> HandoffDelivery | None:
        with self._tx() as session:
            row = session.get(HandoffRow, handoff_id)
            return None if row is None else _delivery(row)

    def unposted(self, limit: int = 100, *, max_refusals: int = 5) -> list[HandoffDelivery]:
        """Handoffs not shown yet, oldest first; those Slack refused `max_refusals` times are
        left out (they are in the audit log), so they never hold up the ones behind them."""
        query = (
            select(HandoffRow)
            .where(HandoffRow.posted_at.is_(None), HandoffRow.post_refusals < max_refusals)
            .order_by(HandoffRow.id)
            .limit(limit)
        )
        with self._tx() as session:
            return [_delivery(r) for r in session.scalars(query)]

    def claim_post(self, handoff_id: int, *, now: datetime, lease: timedelta) -> bool:
        """Take the right to post a handoff not posted yet, unless another worker's lease on
        it is younger than `lease`."""
        with self._tx() as session:
            result = session.execute(
                update(HandoffRow)
                .where(
                    HandoffRow.id == handoff_id,
                    HandoffRow.posted_at.is_(None),
                    _claimable(HandoffRow.post_claimed_at, now, lease),
                )
                .values(post_claimed_at=now)
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def mark_posted(self, handoff_id: int, *, now: datetime) -> None:
        with self._tx() as session:
            session.execute(
                update(HandoffRow)
                .where(HandoffRow.id == handoff_id)
                .values(
                    posted_at=now,
                    post_claimed_at=None,
                    post_error=None,
                    post_attempts=HandoffRow.post_attempts + 1,
                )
            )

    def mark_unposted(self, handoff_id: int, *, error: str, refused: bool = False) -> int:
        """The attempt failed: the lease is given back, so the next pass tries again. A
        refusal (Slack said no to this handoff, not an outage) is counted; the count after
        this one is returned."""
        with self._tx() as session:
            session.execute(
                update(HandoffRow)
                .where(HandoffRow.id == handoff_id, HandoffRow.posted_at.is_(None))
                .values(
                    post_claimed_at=None,
                    post_error=error[:512],
                    post_attempts=HandoffRow.post_attempts + 1,
                    post_refusals=HandoffRow.post_refusals + (1 if refused else 0),
                )
            )
            row = session.get(HandoffRow, handoff_id)
            return 0 if row is None else row.post_refusals

    def record_action(
        self, handoff_id: int, *, actor: str, action: str, now: datetime
    ) -> Handoff | None:
        """Record who acted first on a handoff; None when someone already had."""
        with self._tx() as session:
            result = session.execute(
                update(HandoffRow)
                .where(HandoffRow.id == handoff_id, HandoffRow.acted_by.is_(None))
                .values(acted_by=actor, acted_at=now, action=action)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = session.get(HandoffRow, handoff_id)
            assert row is not None
            session.refresh(row)
            return _handoff(row)


# --- owner questions ------------------------------------------------------------------------


def _question(r: QuestionRow) -> OwnerQuestion:
    return OwnerQuestion(
        id=r.id,
        enrolment_id=r.enrolment_id,
        deal_id=r.deal_id,
        contact_id=r.contact_id,
        kind=QuestionKind(r.kind),
        text=r.text,
        proposed_until=r.proposed_until,
        created_at=r.created_at,
        status=r.status,
        answer=r.answer,
        answer_until=r.answer_until,
        answered_by=r.answered_by,
        answered_at=r.answered_at,
    )


class QuestionRepo(Repository):
    def ask(self, question: OwnerQuestion) -> tuple[OwnerQuestion, bool]:
        """Store an open question (its `id` is ignored). An enrolment has at most ONE open
        question: when it already has one, that one and False."""
        row = QuestionRow(
            enrolment_id=question.enrolment_id,
            deal_id=question.deal_id,
            contact_id=question.contact_id,
            kind=question.kind.value,
            text=question.text,
            proposed_until=question.proposed_until,
            status="open",
            created_at=question.created_at,
        )
        try:
            with self._tx() as session:
                session.add(row)
        except IntegrityError:
            existing = self.open_for(question.enrolment_id)
            assert existing is not None
            return existing, False
        return _question(row), True

    def get(self, question_id: int) -> OwnerQuestion | None:
        with self._tx() as session:
            row = session.get(QuestionRow, question_id)
            return None if row is None else _question(row)

    def open_for(self, enrolment_id: int) -> OwnerQuestion | None:
        query = select(QuestionRow).where(
            QuestionRow.enrolment_id == enrolment_id, QuestionRow.status == "open"
        )
        with self._tx() as session:
            row = session.scalars(query).first()
            return None if row is None else _question(row)

    def open(self) -> list[OwnerQuestion]:
        query = select(QuestionRow).where(QuestionRow.status == "open").order_by(QuestionRow.id)
        with self._tx() as session:
            return [_question(r) for r in session.scalars(query)]

    def answer(
        self,
        question_id: int,
        *,
        choice: str,
        until: date | None,
        actor: str,
        now: datetime,
    ) -> OwnerQuestion | None:
        """Record the answer if the question is still open; None when it was answered (or
        cancelled) meanwhile: a double click answers once."""
        with self._tx() as session:
            result = session.execute(
                update(QuestionRow)
                .where(QuestionRow.id == question_id, QuestionRow.status == "open")
                .values(
                    status="answered",
                    answer=choice,
                    answer_until=until,
                    answered_by=actor,
                    answered_at=now,
                )
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = session.get(QuestionRow, question_id)
            assert row is not None
            session.refresh(row)
            return _question(row)

    def cancel_open(self, enrolment_id: int, *, now: datetime, note: str = "cancelled") -> int:
        with self._tx() as session:
            result = session.execute(
                update(QuestionRow)
                .where(QuestionRow.enrolment_id == enrolment_id, QuestionRow.status == "open")
                .values(status="cancelled", answer=note, answered_at=now)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]


# --- facts for the metrics ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DraftFact:
    """One draft as the metrics see it."""

    id: int
    deal_id: str
    trigger: str
    rule: str | None
    contact_id: str
    angle: str | None
    status: str
    edited: bool
    approved: bool  # a person approved it (whatever happened after)
    created_at: datetime
    decided_at: datetime | None  # a person's first decision: approve, dismiss or snooze
    decision: str | None


class FactsRepo(Repository):
    def drafts(self, since: datetime | None = None) -> list[DraftFact]:
        """Drafts created since `since`, with a person's first decision on each."""
        query = select(DraftRow).order_by(DraftRow.id)
        if since is not None:
            query = query.where(DraftRow.created_at >= since)
        decisions = (
            select(DraftEventRow.draft_id, DraftEventRow.to_status, func.min(DraftEventRow.at))
            .where(DraftEventRow.to_status.in_(_PERSON_DECISIONS))
            .group_by(DraftEventRow.draft_id, DraftEventRow.to_status)
        )
        if since is not None:
            decisions = decisions.join(DraftRow, DraftRow.id == DraftEventRow.draft_id).where(
                DraftRow.created_at >= since
            )
        with self._tx() as session:
            first: dict[int, tuple[datetime, str]] = {}
            approved: set[int] = set()
            for draft_id, status, at in session.execute(decisions):
                if status == "approved":
                    approved.add(draft_id)
                known = first.get(draft_id)
                at_utc = at if at.tzinfo else at.replace(tzinfo=UTC)
                if known is None or at_utc < known[0]:
                    first[draft_id] = (at_utc, status)
            facts: list[DraftFact] = []
            for row in session.scalars(query):
                decided = first.get(row.id)
                facts.append(
                    DraftFact(
                        id=row.id,
                        deal_id=row.deal_id,
                        trigger=row.trigger,
                        rule=row.rule,
                        contact_id=row.contact_id,
                        angle=row.angle,
                        status=row.status,
                        edited=(row.subject, row.body) != (row.original_subject, row.original_body),
                        approved=row.id in approved,
                        created_at=row.created_at,
                        decided_at=decided[0] if decided else None,
                        decision=decided[1] if decided else None,
                    )
                )
            return facts

    def suppressions(self) -> dict[str, str]:
        """Every suppressed address or domain, with its reason (opt_out, hard_bounce, ...)."""
        with self._tx() as session:
            rows = session.execute(select(SuppressionRow.value, SuppressionRow.reason))
            return {value: reason for value, reason in rows}

    def last_sent_angles(self, contact_ids: Sequence[str] | None = None) -> dict[str, str]:
        """The angle of the latest sent draft with one, per contact."""
        query = (
            select(DraftRow.contact_id, DraftRow.angle)
            .where(DraftRow.status == "sent", DraftRow.angle.is_not(None))
            .order_by(DraftRow.id)
        )
        if contact_ids is not None:
            query = query.where(DraftRow.contact_id.in_(list(contact_ids)))
        with self._tx() as session:
            return {contact: angle for contact, angle in session.execute(query) if angle}


# --- the weekly digest ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestPost:
    """One week's digest: which parts reached Slack (the message, then the chart)."""

    week: str
    channel: str | None
    message_ts: str | None
    file_id: str | None
    posted_at: datetime | None
    attempts: int
    error: str | None


def _digest(r: DigestRow) -> DigestPost:
    return DigestPost(
        week=r.week,
        channel=r.channel,
        message_ts=r.message_ts,
        file_id=r.file_id,
        posted_at=r.posted_at,
        attempts=r.attempts,
        error=r.error,
    )


class DigestRepo(Repository):
    def get(self, week: str) -> DigestPost | None:
        with self._tx() as session:
            row = session.get(DigestRow, week)
            return None if row is None else _digest(row)

    def claim(
        self, week: str, *, channel: str, now: datetime, lease: timedelta
    ) -> DigestPost | None:
        """The week's digest, leased to the caller to post; None when it is posted already or
        another worker's lease is younger than `lease`."""
        try:
            with self._tx() as session:
                session.add(DigestRow(week=week, channel=channel, claimed_at=now, attempts=0))
        except IntegrityError:
            with self._tx() as session:
                result = session.execute(
                    update(DigestRow)
                    .where(
                        DigestRow.week == week,
                        DigestRow.posted_at.is_(None),
                        _claimable(DigestRow.claimed_at, now, lease),
                    )
                    .values(claimed_at=now)
                )
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    return None
        return self.get(week)

    def record(
        self, week: str, *, message_ts: str | None = None, file_id: str | None = None
    ) -> None:
        """Keep what reached Slack, so a retry does not post it twice."""
        values = {
            key: value
            for key, value in (("message_ts", message_ts), ("file_id", file_id))
            if value is not None
        }
        with self._tx() as session:
            session.execute(update(DigestRow).where(DigestRow.week == week).values(**values))

    def mark_posted(self, week: str, *, now: datetime) -> None:
        with self._tx() as session:
            session.execute(
                update(DigestRow)
                .where(DigestRow.week == week)
                .values(posted_at=now, claimed_at=None, error=None, attempts=DigestRow.attempts + 1)
            )

    def release(self, week: str, *, error: str) -> None:
        with self._tx() as session:
            session.execute(
                update(DigestRow)
                .where(DigestRow.week == week, DigestRow.posted_at.is_(None))
                .values(claimed_at=None, error=error[:512], attempts=DigestRow.attempts + 1)
            )


class CadenceStore:
    """The cadence repositories over one engine (the same engine as `storage.repos.Store`)."""

    def __init__(self, engine: Engine) -> None:
        sessions = session_factory(engine)
        self.engine = engine
        self.enrolments = EnrolmentRepo(sessions)
        self.handoffs = HandoffRepo(sessions)
        self.questions = QuestionRepo(sessions)
        self.facts = FactsRepo(sessions)
        self.digests = DigestRepo(sessions)
