"""What a cycle reads and writes to evaluate only what can have changed (issue 12).

Each deal carries `next_check_at`: NULL once its data changes (sync, an activity, a status),
else the next instant its verdict can change by time alone. A cycle evaluates the deals whose
`next_check_at` is NULL or has come, plus those whose drafts moved (found in `draft_events`
after the last cycle's watermark), and stores each one's next instant. A changed evaluation
configuration, or a suppression taken back, has every deal evaluated again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update

from observe import metrics
from storage.repos import Repository, _activity, _contact, _deal, _draft, _owner
from storage.sync import BATCH, chunks, dialect_insert, touch
from storage.tables import (
    ActivityRow,
    ContactRow,
    DealContactRow,
    DealRow,
    DraftEventRow,
    DraftRow,
    OwnerRow,
    SuppressionRow,
    SyncStateRow,
)
from triggers.drafts import Draft, DraftStatus, NewDraft
from triggers.model import Activity, Contact, Deal, Owner, Pipeline

# the row converters, applied to Core rows (same attribute names as the ORM rows)
_deal_of: Callable[[Any], Deal] = _deal
_activity_of: Callable[[Any], Activity] = _activity
_contact_of: Callable[[Any], Contact] = _contact
_owner_of: Callable[[Any], Owner] = _owner

# "Nothing but new data changes this deal's verdict."
NEVER = datetime(9999, 12, 31, tzinfo=UTC)
# Past this share of the deals, one pass over the tables beats lists of ids.
WHOLE_TABLE = 0.25

_EVENTS_KEY = "cycle:draft_events"
_CONFIG_KEY = "cycle:evaluation_config"
_SUPPRESSIONS_KEY = "cycle:suppressions"


@dataclass(frozen=True, slots=True)
class DraftFact:
    """What the rules' history needs of a draft."""

    deal_id: str
    status: DraftStatus
    rule: str | None
    anchor_at: datetime
    decided_at: datetime | None


@dataclass(frozen=True, slots=True)
class Work:
    """The deals a cycle evaluates, as a pipeline of just those (with their contacts and
    every owner), and the `changed_at` each had when read."""

    pipeline: Pipeline
    seen: dict[str, datetime]
    events_mark: int


class EvaluationRepo(Repository):
    def _state(self, session: Any, key: str) -> str | None:
        row = session.get(SyncStateRow, key)
        return None if row is None else str(row.value)

    def prepare(self, now: datetime, *, config_key: str) -> int:
        """Mark for evaluation what changed outside the deals' own data since the last cycle:
        drafts that moved, the evaluation configuration, suppressions taken back. Returns the
        draft event watermark this cycle reads up to."""
        with self._tx() as session:
            mark = session.scalar(select(func.max(DraftEventRow.id))) or 0
            previous = self._state(session, _EVENTS_KEY)
            if previous is not None and int(previous) < mark:
                moved = session.scalars(
                    select(DraftRow.deal_id)
                    .join(DraftEventRow, DraftEventRow.draft_id == DraftRow.id)
                    .where(DraftEventRow.id > int(previous), DraftEventRow.id <= mark)
                    .distinct()
                )
                touch(session, set(moved), now)
            suppressions = session.scalar(select(func.count()).select_from(SuppressionRow)) or 0
            everything = self._state(session, _CONFIG_KEY) != config_key
            known = self._state(session, _SUPPRESSIONS_KEY)
            # a new suppression only ever stops drafts (checked where drafts are made and
            # sent); one taken back can make a deal due that was not
            everything |= known is not None and int(known) > suppressions
            if everything:
                session.execute(update(DealRow).values(next_check_at=None))
            session.merge(SyncStateRow(key=_CONFIG_KEY, value=config_key))
            session.merge(SyncStateRow(key=_SUPPRESSIONS_KEY, value=str(suppressions)))
            return mark

    def work(self, now: datetime, events_mark: int, *, batch: int | None = None) -> Iterator[Work]:
        """The deals to evaluate as of `now`, with their contacts, owners and activities, in
        pieces of at most `batch` deals (all at once when None): memory holds one piece."""
        deals_t: Any = DealRow.__table__
        live = deals_t.c.removed_at.is_(None)
        due = or_(deals_t.c.next_check_at.is_(None), deals_t.c.next_check_at <= now)
        with self._tx() as session:
            ids = list(
                session.scalars(select(deals_t.c.id).where(live, due).order_by(deals_t.c.id))
            )
            total = session.scalar(select(func.count()).select_from(deals_t).where(live)) or 0
            owners = tuple(_owner_of(r) for r in session.execute(select(OwnerRow.__table__)))
        if not ids:
            yield Work(Pipeline(owners=owners), {}, events_mark)
            return
        size = batch or len(ids)
        for start in range(0, len(ids), size):
            yield self._piece(ids[start : start + size], owners, total, events_mark)

    def _piece(
        self,
        ids: list[str],
        owners: tuple[Any, ...],
        total: int,
        events_mark: int,
    ) -> Work:
        deals_t: Any = DealRow.__table__
        contacts_t: Any = ContactRow.__table__
        activities_t: Any = ActivityRow.__table__
        ordered = (activities_t.c.deal_id, activities_t.c.at, activities_t.c.id)
        # Core rows, not ORM instances: the cycle only reads them
        with self._tx() as session:
            if total and len(ids) > WHOLE_TABLE * total:
                first, last = ids[0], ids[-1]
                wanted = set(ids)
                rows = [
                    r
                    for r in session.execute(
                        select(deals_t).where(deals_t.c.id >= first, deals_t.c.id <= last)
                    )
                    if r.id in wanted and r.removed_at is None
                ]
                activities = tuple(
                    _activity_of(r)
                    for r in session.execute(
                        select(activities_t)
                        .where(activities_t.c.deal_id >= first, activities_t.c.deal_id <= last)
                        .order_by(*ordered)
                    )
                    if r.deal_id in wanted
                )
            else:
                rows = [
                    r
                    for chunk in chunks(ids)
                    for r in session.execute(
                        select(deals_t).where(
                            deals_t.c.id.in_(chunk), deals_t.c.removed_at.is_(None)
                        )
                    )
                ]
                activities = tuple(
                    _activity_of(r)
                    for chunk in chunks(ids)
                    for r in session.execute(
                        select(activities_t)
                        .where(activities_t.c.deal_id.in_(chunk))
                        .order_by(*ordered)
                    )
                )
            deals = tuple(_deal_of(r) for r in sorted(rows, key=lambda r: r.id))
            seen = {r.id: r.changed_at for r in rows}
            del rows
            contact_ids = sorted({c for d in deals for c in d.contact_ids})
            contacts = tuple(
                _contact_of(r)
                for chunk in chunks(contact_ids)
                for r in session.execute(select(contacts_t).where(contacts_t.c.id.in_(chunk)))
            )
        return Work(Pipeline(owners, contacts, deals, activities), seen, events_mark)

    def changed(self) -> set[str]:
        """The deals whose data changed since they were last evaluated."""
        deals_t: Any = DealRow.__table__
        query = select(deals_t.c.id).where(
            deals_t.c.removed_at.is_(None), deals_t.c.next_check_at.is_(None)
        )
        with self._tx() as session:
            return set(session.scalars(query))

    def pipeline_of(self, deal_ids: Iterable[str]) -> Pipeline:
        """These deals (removed ones left out) with their contacts, owners and activities."""
        ids = sorted(set(deal_ids))
        with self._tx() as session:
            owners = tuple(_owner_of(r) for r in session.execute(select(OwnerRow.__table__)))
        if not ids:
            return Pipeline(owners=owners)
        return self._piece(ids, owners, 0, 0).pipeline

    def history(self, deal_ids: Iterable[str] | None) -> list[DraftFact]:
        """The drafts' facts the rules need, for these deals (None: every deal)."""
        columns = (
            DraftRow.deal_id,
            DraftRow.status,
            DraftRow.rule,
            DraftRow.anchor_at,
            DraftRow.decided_at,
        )
        with self._tx() as session:
            if deal_ids is None:
                found = session.execute(select(*columns))
                return [DraftFact(d, DraftStatus(s), r, a, t) for d, s, r, a, t in found]
            facts: list[DraftFact] = []
            for batch in chunks(sorted(deal_ids)):
                found = session.execute(select(*columns).where(DraftRow.deal_id.in_(batch)))
                facts += [DraftFact(d, DraftStatus(s), r, a, t) for d, s, r, a, t in found]
            return facts

    def pending_drafts(self, deal_ids: Iterable[str]) -> list[Draft]:
        """The pending drafts of these deals, by send time."""
        found: list[Draft] = []
        with self._tx() as session:
            for batch in chunks(sorted(deal_ids)):
                query = select(DraftRow).where(
                    DraftRow.deal_id.in_(batch), DraftRow.status == DraftStatus.PENDING.value
                )
                found += [_draft(r) for r in session.scalars(query)]
        return sorted(found, key=lambda d: (d.send_at, d.id))

    def pending_recipients(self) -> list[tuple[str, str]]:
        """(deal id, address) of every pending draft: cheap enough to hold against the
        suppression list each cycle."""
        query = select(DraftRow.deal_id, DraftRow.to_address).where(
            DraftRow.status == DraftStatus.PENDING.value
        )
        with self._tx() as session:
            return [(d, a) for d, a in session.execute(query)]

    def deals_of_contacts(self, contact_ids: Iterable[str]) -> set[str]:
        found: set[str] = set()
        with self._tx() as session:
            for batch in chunks(sorted(contact_ids)):
                found.update(
                    session.scalars(
                        select(DealContactRow.deal_id).where(DealContactRow.contact_id.in_(batch))
                    )
                )
        return found

    def insert_drafts(self, news: Sequence[NewDraft], *, now: datetime) -> list[Draft]:
        """Queue many drafts in one transaction; a draft the unique indexes refuse (another
        cycle queued one for the deal first, or its anchor already fired) is left out."""
        if not news:
            return []
        rows = [_draft_values(new, now) for new in news]
        queued: list[Draft] = []
        with self._tx() as session:
            insert = dialect_insert(session)
            table: Any = DraftRow.__table__
            statement = (
                insert(table).on_conflict_do_nothing().returning(table.c.id, table.c.deal_id)
            )
            by_deal = {row["deal_id"]: row for row in rows}
            events: list[dict[str, Any]] = []
            for batch in chunks(rows, BATCH):
                for draft_id, deal_id in session.execute(statement, batch):
                    values = by_deal[deal_id]
                    queued.append(_draft(DraftRow(id=draft_id, **values)))
                    events.append(
                        {
                            "draft_id": draft_id,
                            "at": now,
                            "from_status": None,
                            "to_status": DraftStatus.PENDING.value,
                            "actor": "followup",
                            "note": values["reason"],
                        }
                    )
            event_table: Any = DraftEventRow.__table__
            for batch in chunks(events, BATCH):
                session.execute(event_table.insert(), batch)
        for draft in queued:
            metrics.draft_event("created", draft.rule)
        return queued

    def schedule(self, checks: Iterable[tuple[str, datetime | None, datetime]]) -> None:
        """Store each evaluated deal's next instant to look again (None: the next cycle),
        unless its data changed meanwhile (`changed_at` no longer the one read)."""
        rows = [{"key": deal_id, "next": moment, "seen": seen} for deal_id, moment, seen in checks]
        if not rows:
            return
        statement = (
            update(DealRow.__table__)  # type: ignore[arg-type]
            .where(
                DealRow.__table__.c.id == bindparam("key"),
                DealRow.__table__.c.changed_at == bindparam("seen"),
            )
            .values(next_check_at=bindparam("next"))
        )
        with self._tx() as session:
            for batch in chunks(rows, BATCH):
                session.execute(statement, batch)

    def finish(self, events_mark: int, own: Iterable[int], now: datetime) -> None:
        """Advance the draft event watermark past this cycle; drafts that moved meanwhile by
        someone else's hand (an approval, a dismissal) have their deals evaluated next."""
        own_ids = set(own)
        with self._tx() as session:
            moved = session.execute(
                select(DraftRow.id, DraftRow.deal_id)
                .join(DraftEventRow, DraftEventRow.draft_id == DraftRow.id)
                .where(DraftEventRow.id > events_mark)
            )
            touch(session, {deal for draft, deal in moved if draft not in own_ids}, now)
            end = session.scalar(select(func.max(DraftEventRow.id))) or 0
            session.merge(SyncStateRow(key=_EVENTS_KEY, value=str(max(end, events_mark))))

    def recent_inbox(self, since: datetime) -> Pipeline:
        """The deals with a reply the inbox found since `since`, with their activities: all
        that handing replies off reads."""
        with self._tx() as session:
            deal_ids = set(
                session.scalars(
                    select(ActivityRow.deal_id).where(
                        ActivityRow.origin == "inbox", ActivityRow.at >= since
                    )
                )
            )
            activities = tuple(
                _activity(r)
                for batch in chunks(sorted(deal_ids))
                for r in session.scalars(
                    select(ActivityRow)
                    .where(ActivityRow.deal_id.in_(batch))
                    .order_by(ActivityRow.deal_id, ActivityRow.at, ActivityRow.id)
                )
            )
        return Pipeline(activities=activities)


def _draft_values(new: NewDraft, now: datetime) -> dict[str, Any]:
    usage = new.usage
    return {
        "deal_id": new.deal_id,
        "contact_id": new.contact_id,
        "to_address": new.to_address,
        "trigger": new.trigger,
        "rule": new.rule,
        "angle": new.angle,
        "anchor_at": new.anchor_at,
        "due_at": new.due_at,
        "send_at": new.send_at,
        "reason": new.reason,
        "evidence": list(new.evidence),
        "subject": new.subject,
        "body": new.body,
        "original_subject": new.subject,
        "original_body": new.body,
        "source": new.source,
        "notice": new.notice,
        "guardrail_failures": list(new.guardrail_failures),
        "drafting": new.drafting.as_json() if new.drafting else None,
        "status": DraftStatus.PENDING.value,
        "version": 1,
        "created_at": now,
        "model_name": usage.model if usage else None,
        "model_calls": usage.calls if usage else 0,
        "prompt_tokens": usage.prompt_tokens if usage else 0,
        "completion_tokens": usage.completion_tokens if usage else 0,
        "model_ms": usage.milliseconds if usage else 0,
    }
