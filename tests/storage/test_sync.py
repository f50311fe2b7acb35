"""The set-based sync (issue 12): unchanged records cost no writes; what the CRM no longer has
goes; a change set merges only what it names. On SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import event, select

from storage.repos import Store
from storage.tables import DealRow
from tests.factories import NOW, activity, contact, deal, owner
from triggers.model import ActivityKind, Deletions, Direction, Pipeline


def pipeline_of(deals: int, per_deal: int = 3) -> Pipeline:
    owners = (owner(), owner(id="u2", name="Sam Ortiz", email="sam@northwind.example"))
    contacts = tuple(
        contact(id=f"c{i}", name=f"Person {i}", email=f"p{i}@globex.example") for i in range(deals)
    )
    ds = tuple(
        deal(id=f"d{i}", title=f"Deal {i}", contact_ids=(f"c{i}",), owner_id=owners[i % 2].id)
        for i in range(deals)
    )
    activities = tuple(
        activity(
            ActivityKind.EMAIL,
            NOW - timedelta(days=10 - j),
            id=f"a{i}-{j}",
            deal_id=f"d{i}",
            contact_id=f"c{i}",
            direction=Direction.OUT,
            subject=f"Note {j}",
        )
        for i in range(deals)
        for j in range(per_deal)
    )
    return Pipeline(owners, contacts, ds, activities)


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """Every SQL statement the store issues meanwhile (an executemany counts once)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.split(None, 1)[0].upper())

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", record)


WRITES = {"INSERT", "UPDATE", "DELETE"}


def test_an_unchanged_snapshot_writes_nothing(store: Store) -> None:
    pipeline = pipeline_of(30)
    assert store.pipeline.sync(pipeline, NOW) == {f"d{i}" for i in range(30)}
    with statements(store) as seen:
        assert store.pipeline.sync(pipeline, NOW + timedelta(minutes=5)) == set()
    assert not WRITES & set(seen), seen
    # one read per table, not one per record: owners, contacts, deals
    assert seen.count("SELECT") <= 3, seen


def test_a_changed_activity_rewrites_only_its_deal(store: Store) -> None:
    pipeline = pipeline_of(30)
    store.pipeline.sync(pipeline, NOW)
    later = NOW + timedelta(minutes=5)
    edited = [replace(a, subject="Edited") if a.id == "a7-1" else a for a in pipeline.activities]
    with statements(store) as seen:
        changed = store.pipeline.sync(replace(pipeline, activities=tuple(edited)), later)
    assert changed == {"d7"}
    assert sum(1 for s in seen if s in WRITES) <= 3, seen  # the upsert, a touch, the tree
    loaded = store.pipeline.load()
    assert next(a for a in loaded.activities if a.id == "a7-1").subject == "Edited"
    assert store.pipeline.deals_changed_since(NOW) == {"d7"}


def test_a_snapshot_deletes_what_the_crm_no_longer_has(store: Store) -> None:
    pipeline = pipeline_of(5)
    store.pipeline.sync(pipeline, NOW)
    ours = activity(ActivityKind.EMAIL, NOW, id="followup-sent", deal_id="d1", contact_id="c1")
    store.pipeline.add_activity(ours, origin="followup", now=NOW)
    smaller = Pipeline(
        owners=pipeline.owners[:1],  # u2 still owns deals that stay: kept
        contacts=tuple(c for c in pipeline.contacts if c.id != "c4"),
        deals=tuple(d for d in pipeline.deals if d.id not in ("d3", "d4")),
        activities=tuple(a for a in pipeline.activities if a.id not in ("a1-0", "a3-0")),
    )
    smaller = replace(smaller, activities=tuple(a for a in smaller.activities if a.deal_id < "d3"))
    changed = store.pipeline.sync(smaller, NOW + timedelta(hours=1))
    assert changed == {"d1", "d3", "d4"}
    loaded = store.pipeline.load()
    assert [d.id for d in loaded.deals] == ["d0", "d1", "d2"]
    assert "c4" not in {c.id for c in loaded.contacts}
    ids = {a.id for a in loaded.activities}
    assert "a1-0" not in ids
    assert not any(i.startswith("a3-") for i in ids)
    assert "followup-sent" in ids  # what followup recorded itself is kept
    assert {o.id for o in loaded.owners} == {"u1", "u2"}
    assert store.pipeline.deal_view("d3") is None
    # a removed deal that comes back is whole again
    assert "d3" in store.pipeline.sync(pipeline, NOW + timedelta(hours=2))
    view = store.pipeline.deal_view("d3")
    assert view is not None
    assert len(view.activities) == 3


def test_a_change_set_merges_only_what_it_names(store: Store) -> None:
    pipeline = pipeline_of(10)
    store.pipeline.sync(pipeline, NOW)
    later = NOW + timedelta(hours=1)
    renamed = replace(pipeline.deals[2], title="Renamed")
    new_note = activity(
        ActivityKind.NOTE, later, id="a5-new", deal_id="d5", contact_id="c5", body="Called"
    )
    changes = Pipeline(deals=(renamed,), activities=(new_note,))
    with statements(store) as seen:
        changed = store.pipeline.sync(
            changes,
            later,
            snapshot=False,
            deleted=Deletions(deal_ids=frozenset({"d9"}), activity_ids=frozenset({"a1-2"})),
        )
    assert changed == {"d1", "d2", "d5", "d9"}
    assert len(seen) < 25, seen
    loaded = store.pipeline.load()
    assert len(loaded.deals) == 9  # nothing else went: a change set is not a snapshot
    assert next(d for d in loaded.deals if d.id == "d2").title == "Renamed"
    assert "a5-new" in {a.id for a in loaded.activities}
    assert "a1-2" not in {a.id for a in loaded.activities}
    assert len(loaded.activities) == 10 * 3 + 1 - 1 - 3
    # the same change set again writes nothing
    with statements(store) as seen:
        assert store.pipeline.sync(changes, later, snapshot=False) == set()
    assert not WRITES & set(seen), seen
    # a later snapshot still finds the deals the change set touched intact
    assert store.pipeline.sync(
        replace(pipeline, deals=tuple(renamed if d.id == "d2" else d for d in pipeline.deals)),
        later,
    ) == {"d5", "d1", "d9"}


def test_a_contact_change_marks_its_deals_for_evaluation(store: Store) -> None:
    pipeline = pipeline_of(4)
    store.pipeline.sync(pipeline, NOW)
    with store.pipeline._tx() as session:
        for row in session.scalars(select(DealRow)):
            row.next_check_at = NOW + timedelta(days=30)
    bounced = replace(pipeline.contacts[3], email="new@globex.example")
    changed = store.pipeline.sync(
        Pipeline(contacts=(bounced,)), NOW + timedelta(hours=1), snapshot=False
    )
    assert changed == {"d3"}
    with store.pipeline._tx() as session:
        waiting = set(session.scalars(select(DealRow.id).where(DealRow.next_check_at.is_(None))))
    assert waiting == {"d3"}


def test_an_activity_moved_to_another_deal_is_kept(store: Store) -> None:
    pipeline = pipeline_of(3)
    store.pipeline.sync(pipeline, NOW)
    moved = [replace(a, deal_id="d2") if a.id == "a0-1" else a for a in pipeline.activities]
    changed = store.pipeline.sync(replace(pipeline, activities=tuple(moved)), NOW)
    assert changed == {"d0", "d2"}
    view = store.pipeline.deal_view("d2")
    assert view is not None
    assert "a0-1" in {a.id for a in view.activities}
