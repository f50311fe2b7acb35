"""Merging a CRM snapshot or change set into the store with set-based statements (issue 12).

What is stored carries a digest of the CRM's values (`sync_hash`); a deal also carries one of
itself plus its CRM activities (`tree_hash`). A merge reads the keys and digests of a table in
one query, compares them in Python, and writes only what differs: bulk `INSERT ... ON
CONFLICT DO UPDATE` in executemany batches (SQLite and PostgreSQL), bulk deletes for what the
CRM no longer has. An unchanged record costs a digest and a comparison; a snapshot whose deal
tree digest is unchanged does not read that deal's activities at all.

Activities followup recorded itself (origin other than `crm`) are never deleted or
overwritten by a merge. A deal the CRM no longer has keeps its row, marked removed, because
its drafts keep their history; its CRM activities go.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from hashlib import blake2b
from typing import Any

from sqlalchemy import Table, bindparam, delete, exists, select, update
from sqlalchemy.orm import Session

from storage.tables import ActivityRow, ContactRow, DealContactRow, DealRow, OwnerRow
from triggers.model import Activity, Contact, Deal, Deletions, Owner, Pipeline

log = logging.getLogger(__name__)

BATCH = 2000  # rows per executemany batch
CHUNK = 900  # ids per IN (...) list
NO_DELETIONS = Deletions()

OWNERS: Table = OwnerRow.__table__  # type: ignore[assignment]
CONTACTS: Table = ContactRow.__table__  # type: ignore[assignment]
DEALS: Table = DealRow.__table__  # type: ignore[assignment]
ACTIVITIES: Table = ActivityRow.__table__  # type: ignore[assignment]
DEAL_CONTACTS: Table = DealContactRow.__table__  # type: ignore[assignment]


def digest(values: Iterable[Any]) -> str:
    return blake2b(repr(tuple(values)).encode(), digest_size=8).hexdigest()


# --- the values of each record, as the tables hold them ------------------------------------


def owner_values(o: Owner) -> dict[str, Any]:
    return {
        "id": o.id,
        "name": o.name,
        "email": o.email,
        "timezone": o.timezone,
        "slack_user_id": o.slack_user_id,
        "extra": dict(o.extra),
    }


def contact_values(c: Contact) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "email": c.email,
        "alt_emails": list(c.alt_emails),
        "company": c.company,
        "timezone": c.timezone,
        "status": c.status.value,
        "extra": dict(c.extra),
    }


def deal_values(d: Deal) -> dict[str, Any]:
    return {
        "id": d.id,
        "title": d.title,
        "contact_ids": list(d.contact_ids),
        "owner_id": d.owner_id,
        "stage": d.stage,
        "stage_entered_at": d.stage_entered_at,
        "status": d.status.value,
        "source": d.source.value,
        "quote_expires_at": d.quote_expires_at,
        "value": d.value,
        "currency": d.currency,
        "extra": dict(d.extra),
    }


def activity_values(a: Activity) -> dict[str, Any]:
    return {
        "id": a.id,
        "deal_id": a.deal_id,
        "kind": a.kind.value,
        "at": a.at,
        "contact_id": a.contact_id,
        "direction": a.direction.value if a.direction else None,
        "subject": a.subject,
        "body": a.body,
        "scheduled_for": a.scheduled_for,
        "outcome": a.outcome,
        "thread_id": a.thread_id,
        "message_id": a.message_id,
        "in_reply_to": a.in_reply_to,
        "from_address": a.from_address,
        "to_addresses": list(a.to_addresses),
        "extra": dict(a.extra),
    }


def owner_digest(o: Owner) -> str:
    return digest((o.id, o.name, o.email, o.timezone, o.slack_user_id, o.extra))


def contact_digest(c: Contact) -> str:
    return digest(
        (c.id, c.name, c.email, c.alt_emails, c.company, c.timezone, c.status.value, c.extra)
    )


def deal_digest(d: Deal) -> str:
    return digest(
        (
            d.id,
            d.title,
            d.contact_ids,
            d.owner_id,
            d.stage,
            d.stage_entered_at.timestamp(),
            d.status.value,
            d.source.value,
            None if d.quote_expires_at is None else d.quote_expires_at.timestamp(),
            d.value,
            d.currency,
            d.extra,
        )
    )


def activity_digest(a: Activity) -> str:
    return digest(
        (
            a.id,
            a.deal_id,
            a.kind.value,
            a.at.timestamp(),
            a.contact_id,
            a.direction,
            a.subject,
            a.body,
            None if a.scheduled_for is None else a.scheduled_for.timestamp(),
            a.outcome,
            a.thread_id,
            a.message_id,
            a.in_reply_to,
            a.from_address,
            a.to_addresses,
            a.extra,
        )
    )


_MASK = (1 << 64) - 1


def tree_digest(deal_hash: str, activities_sum: int) -> str:
    """The deal's own digest combined with the sum of its CRM activities' digests: the same
    whatever order the activities come in, and it needs no list of them."""
    return f"{(int(deal_hash, 16) + activities_sum) & _MASK:016x}"


# --- statements -----------------------------------------------------------------------------


def chunks(items: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def dialect_insert(session: Session) -> Callable[..., Any]:
    """The dialect's INSERT with ON CONFLICT (imported when a merge writes, not at start)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


class Writer:
    """Bulk upserts in executemany batches, on the session's dialect."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._insert = dialect_insert(session)

    def upsert(self, table: Table, rows: list[dict[str, Any]], keep: Sequence[str] = ()) -> None:
        """Insert `rows`, or update every given column of those already stored except `keep`
        (set only on insert)."""
        if not rows:
            return
        statement = self._insert(table)
        columns = [c for c in rows[0] if c != "id" and c not in keep]
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.id], set_={c: statement.excluded[c] for c in columns}
        )
        for batch in chunks(rows, BATCH):
            self.session.execute(statement, batch)

    def insert_ignore(self, table: Table, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        statement = self._insert(table).on_conflict_do_nothing()
        for batch in chunks(rows, BATCH):
            self.session.execute(statement, batch)


class Buffer:
    """Rows waiting for one upsert batch; written as soon as a batch is full, so memory holds a
    batch of rows rather than every changed record."""

    def __init__(self, writer: Writer, table: Table, keep: Sequence[str] = ()) -> None:
        self.writer, self.table, self.keep = writer, table, keep
        self.rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        self.writer.upsert(self.table, self.rows, self.keep)
        self.rows = []


def _stored(session: Session, columns: Sequence[Any], ids: Iterable[str] | None) -> Iterator[Any]:
    """Rows of `columns` (the first is the key), all of them or those of `ids`."""
    if ids is None:
        yield from session.execute(select(*columns))
        return
    for batch in chunks(ids):
        yield from session.execute(select(*columns).where(columns[0].in_(batch)))


# --- the merge ------------------------------------------------------------------------------


def merge(
    session: Session,
    pipeline: Pipeline,
    now: datetime,
    *,
    snapshot: bool = True,
    deleted: Deletions = NO_DELETIONS,
) -> set[str]:
    """Merge a snapshot (`pipeline` is all the CRM has) or a change set (upsert what is given,
    delete what `deleted` names); return the ids of deals whose data changed or that were
    removed."""
    writer = Writer(session)
    changed: set[str] = set()  # deals whose data changed (or were removed)
    written: set[str] = set()  # deals whose row the upsert wrote (already marked changed)

    # owners
    given_owners = {o.id for o in pipeline.owners}
    wanted = None if snapshot else given_owners | {d.owner_id for d in pipeline.deals}
    stored_owners = dict(_stored(session, (OWNERS.c.id, OWNERS.c.sync_hash), wanted))
    changed_owners: list[str] = []
    buffer = Buffer(writer, OWNERS)
    for owner in pipeline.owners:
        hashed = owner_digest(owner)
        if stored_owners.get(owner.id, "") != hashed:
            if owner.id in stored_owners:
                changed_owners.append(owner.id)
            buffer.add(owner_values(owner) | {"sync_hash": hashed})
    buffer.flush()
    gone_owners = set(stored_owners) - given_owners if snapshot else set(deleted.owner_ids)
    known_owners = set(stored_owners) | given_owners
    del stored_owners

    # contacts
    given_contacts = {c.id for c in pipeline.contacts}
    wanted = None if snapshot else given_contacts
    stored_contacts = dict(_stored(session, (CONTACTS.c.id, CONTACTS.c.sync_hash), wanted))
    changed_contacts: list[str] = []
    buffer = Buffer(writer, CONTACTS)
    for contact in pipeline.contacts:
        hashed = contact_digest(contact)
        if stored_contacts.get(contact.id, "") != hashed:
            if contact.id in stored_contacts:
                changed_contacts.append(contact.id)
            buffer.add(contact_values(contact) | {"sync_hash": hashed})
    buffer.flush()
    gone_contacts = (
        set(stored_contacts) - given_contacts
        if snapshot
        else set(deleted.contact_ids) - given_contacts
    )
    del stored_contacts, given_contacts

    # deals: (own digest, tree digest) of what is stored; removed ones as never stored
    given_deals = {d.id for d in pipeline.deals}
    wanted = (
        None
        if snapshot
        else given_deals | deleted.deal_ids | {a.deal_id for a in pipeline.activities}
    )
    stored_deals: dict[str, tuple[str | None, str | None]] = {}
    removed_deals: set[str] = set()
    for deal_id, hashed, stored_tree, removed in _stored(
        session, (DEALS.c.id, DEALS.c.sync_hash, DEALS.c.tree_hash, DEALS.c.removed_at), wanted
    ):
        if removed is None:
            stored_deals[deal_id] = (hashed, stored_tree)
        else:
            removed_deals.add(deal_id)
    # each activity's digest (in pipeline order) and their sum per deal: a snapshot compares
    # whole trees first, and holds an int per activity rather than a structure
    activities = pipeline.activities
    digests = [activity_digest(a) for a in activities]
    sums: dict[str, int] = {}
    for activity, hashed_activity in zip(activities, digests, strict=True):
        sums[activity.deal_id] = sums.get(activity.deal_id, 0) + int(hashed_activity, 16)
    compare: set[str] = set()  # deals whose activities are compared one by one
    trees: dict[str, str] = {}  # deal -> its new tree digest, when it is to be stored
    buffer = Buffer(writer, DEALS)
    linked: list[Deal] = []
    relinked: list[str] = []
    for deal in pipeline.deals:
        if deal.owner_id not in known_owners:
            log.warning("deal %s names unknown owner %s; skipped", deal.id, deal.owner_id)
            given_deals.discard(deal.id)
            continue
        hashed = deal_digest(deal)
        before = stored_deals.get(deal.id)
        tree: str | None = None
        if snapshot:
            tree = tree_digest(hashed, sums.get(deal.id, 0))
            if before is None or before[1] != tree:
                compare.add(deal.id)
                trees[deal.id] = tree
        if before is None or before[0] != hashed:
            buffer.add(
                deal_values(deal)
                | {
                    "sync_hash": hashed,
                    "tree_hash": tree,
                    "changed_at": now,
                    "next_check_at": None,
                    "removed_at": None,
                }
            )
            written.add(deal.id)
            trees.pop(deal.id, None)
            linked.append(deal)
            if before is not None or deal.id in removed_deals:
                relinked.append(deal.id)
    buffer.flush()
    if not snapshot:
        compare = {a.deal_id for a in pipeline.activities}
    # which contacts each written deal names (a deal stored for the first time has none yet)
    for batch in chunks(relinked):
        session.execute(delete(DEAL_CONTACTS).where(DEAL_CONTACTS.c.deal_id.in_(batch)))
    writer.insert_ignore(
        DEAL_CONTACTS,
        [
            {"deal_id": deal.id, "contact_id": contact_id}
            for deal in linked
            for contact_id in dict.fromkeys(deal.contact_ids)
        ],
    )
    del linked
    # only deals stored before can have stored activities to compare with
    probe = [d for d in compare if d in stored_deals or d in removed_deals]
    gone_deals = (
        set(stored_deals) - given_deals if snapshot else deleted.deal_ids & stored_deals.keys()
    )
    known_deals = (stored_deals.keys() | given_deals) - gone_deals
    del stored_deals

    # activities, on the deals to compare
    del sums
    stored_activities: dict[str, tuple[str | None, str, str]] = {}
    if snapshot:
        by_deal_columns = (
            ACTIVITIES.c.deal_id,
            ACTIVITIES.c.id,
            ACTIVITIES.c.sync_hash,
            ACTIVITIES.c.origin,
        )
        for deal_id, activity_id, hashed, origin in _stored(session, by_deal_columns, probe):
            stored_activities[activity_id] = (hashed, origin, deal_id)
        # an activity that moved to another deal is still present
        present = {a.id for a in activities if a.id in stored_activities}
    else:
        present = {a.id for a in activities}
        by_id_columns = (
            ACTIVITIES.c.id,
            ACTIVITIES.c.sync_hash,
            ACTIVITIES.c.origin,
            ACTIVITIES.c.deal_id,
        )
        for activity_id, hashed, origin, deal_id in _stored(session, by_id_columns, present):
            stored_activities[activity_id] = (hashed, origin, deal_id)
    buffer = Buffer(writer, ACTIVITIES, keep=("origin",))
    for activity, hashed_activity in zip(activities, digests, strict=True):
        if activity.deal_id not in compare:
            continue  # its deal's tree is unchanged
        if activity.deal_id not in known_deals:
            log.warning("activity %s names unknown deal %s; skipped", activity.id, activity.deal_id)
            continue
        before_activity = stored_activities.get(activity.id)
        if before_activity is None or before_activity[0] != hashed_activity:
            buffer.add(activity_values(activity) | {"sync_hash": hashed_activity, "origin": "crm"})
            changed.add(activity.deal_id)
            if before_activity is not None:
                changed.add(before_activity[2])  # it may have moved from another deal
    buffer.flush()
    del digests
    if snapshot:
        gone_activities = [
            activity_id
            for activity_id, (_, origin, _deal) in stored_activities.items()
            if origin == "crm" and activity_id not in present
        ]
    else:
        gone_activities = sorted(deleted.activity_ids - present)
    del stored_activities, present
    for batch in chunks(gone_activities):
        changed.update(
            session.scalars(
                select(ACTIVITIES.c.deal_id).where(
                    ACTIVITIES.c.id.in_(batch), ACTIVITIES.c.origin == "crm"
                )
            )
        )
        session.execute(
            delete(ACTIVITIES).where(ACTIVITIES.c.id.in_(batch), ACTIVITIES.c.origin == "crm")
        )

    # deals the CRM no longer has: marked removed; their CRM activities and links go
    for batch in chunks(sorted(gone_deals)):
        session.execute(
            delete(ACTIVITIES).where(ACTIVITIES.c.deal_id.in_(batch), ACTIVITIES.c.origin == "crm")
        )
        session.execute(delete(DEAL_CONTACTS).where(DEAL_CONTACTS.c.deal_id.in_(batch)))
        session.execute(
            update(DEALS)
            .where(DEALS.c.id.in_(batch))
            .values(removed_at=now, tree_hash=None, changed_at=now, next_check_at=None)
        )

    # deals a changed or removed contact or owner touches
    for batch in chunks([*changed_contacts, *sorted(gone_contacts)]):
        changed.update(
            session.scalars(
                select(DEAL_CONTACTS.c.deal_id).where(DEAL_CONTACTS.c.contact_id.in_(batch))
            )
        )
    for batch in chunks([*changed_owners, *sorted(gone_owners)]):
        changed.update(
            session.scalars(
                select(DEALS.c.id).where(DEALS.c.owner_id.in_(batch), DEALS.c.removed_at.is_(None))
            )
        )
    for batch in chunks(sorted(gone_contacts)):
        session.execute(delete(CONTACTS).where(CONTACTS.c.id.in_(batch)))
    for batch in chunks(sorted(gone_owners)):
        # an owner a stored deal (a removed one too) still names stays
        session.execute(
            delete(OWNERS).where(
                OWNERS.c.id.in_(batch), ~exists().where(DEALS.c.owner_id == OWNERS.c.id)
            )
        )

    # deals changed other than by their own row are evaluated again; a tree compared one
    # activity at a time is stored; a change set leaves the tree unknown
    touch(session, changed - written - gone_deals, now)
    if trees:
        statement = (
            update(DEALS).where(DEALS.c.id == bindparam("key")).values(tree_hash=bindparam("tree"))
        )
        for batch in chunks([{"key": k, "tree": v} for k, v in trees.items()], BATCH):
            session.execute(statement, batch)
    if not snapshot:
        for batch in chunks(sorted((changed | written) - gone_deals)):
            session.execute(update(DEALS).where(DEALS.c.id.in_(batch)).values(tree_hash=None))
    return changed | written | gone_deals


def touch(session: Session, deal_ids: Iterable[str], now: datetime) -> None:
    """Mark deals changed: the next cycle evaluates them."""
    for batch in chunks(sorted(deal_ids)):
        session.execute(
            update(DEALS).where(DEALS.c.id.in_(batch)).values(changed_at=now, next_check_at=None)
        )
