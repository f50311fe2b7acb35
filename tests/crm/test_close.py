"""What is Close's own beyond the contract suite: cents, custom statuses, unsubscribed
addresses, the event log's overlap, and write-backs that a retry never doubles, against the
loopback organisation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from crm.base import CrmRequestError
from crm.close import CloseCrm
from crm.mapping import CrmMapping
from tests.crm.account import NOW, small_account
from tests.crm.fake_close import close_time
from tests.crm.worlds_close import CloseWorld
from triggers.model import Activity, ActivityKind, ContactStatus, DealStatus, Direction


@pytest.fixture
def world(tmp_path: Path) -> Iterator[CloseWorld]:
    made = CloseWorld(tmp_path)
    with made.running():
        made.load(small_account())
        yield made


def test_values_in_cents_custom_statuses_and_unsubscribed_addresses(world: CloseWorld) -> None:
    world.org.statuses.append({"id": "stat_hold", "label": "On Hold", "type": "active"})
    opp = world._opportunity("32")
    opp.update(status_id="stat_hold", status_label="On Hold", value=123456)
    contact = next(c for c in world.org.contacts if c["id"] == "21")
    contact["emails"] = [
        {"email": "jordan@globex.example", "is_unsubscribed": True},
        {"email": "j.lee@globex.example", "is_unsubscribed": False},
    ]
    pipeline = world.adapter.fetch(NOW).pipeline
    deal = pipeline.deal("32")
    assert deal is not None
    assert (deal.value, deal.currency, deal.status) == (1234.56, "USD", DealStatus.ON_HOLD)
    jordan = pipeline.contact("21")
    assert jordan is not None
    assert jordan.status is ContactStatus.DO_NOT_CONTACT
    assert jordan.alt_emails == ("j.lee@globex.example",)
    assert jordan.company == "Globex"
    assert deal.crm_url == "https://app.close.com/lead/lead_initech/"  # Open in CRM


def test_the_event_log_overlap_is_not_applied_twice(world: CloseWorld) -> None:
    first = world.adapter.fetch(NOW)
    world._at(NOW + timedelta(minutes=1))
    note = {
        "id": "acti_new",
        "lead_id": "lead_globex",
        "contact_id": "21",
        "note": "Asked for references",
        "date_created": close_time(NOW + timedelta(minutes=1)),
        "date_updated": close_time(NOW + timedelta(minutes=1)),
    }
    world.org.activities["note"].append(note)
    world.org.log_event("activity.note", note, "created")
    second = world.adapter.fetch(NOW + timedelta(minutes=3), first.cursor)
    assert [a.id for a in second.pipeline.activities] == ["acti_new"]
    assert second.pipeline.activities[0].deal_id == "31"
    # Three minutes later the same event is still inside the five-minute rescan.
    third = world.adapter.fetch(NOW + timedelta(minutes=6), second.cursor)
    assert third.pipeline.activities == ()
    assert third.deleted.activity_ids == frozenset()


def test_a_deleted_activity_and_contact_leave_with_the_change_set(world: CloseWorld) -> None:
    first = world.adapter.fetch(NOW)
    world._at(NOW + timedelta(minutes=1))
    world.org.log_event("activity.note", {"id": "45", "lead_id": "lead_globex"}, "deleted")
    result = world.adapter.fetch(NOW + timedelta(minutes=2), first.cursor)
    assert result.snapshot is False
    assert result.deleted.activity_ids == frozenset({"45"})


def test_a_sent_follow_up_is_logged_once_however_often_it_is_retried(world: CloseWorld) -> None:
    crm: CloseCrm = world.adapter
    sent = Activity(
        id="followup:9",
        deal_id="31",
        kind=ActivityKind.EMAIL,
        at=NOW,
        contact_id="21",
        direction=Direction.OUT,
        subject="Re: Proposal",
        body="Hi Jordan, any questions on the proposal?",
        from_address="maya@northwind.studio",
        to_addresses=("jordan@globex.example",),
    )
    world._at(NOW + timedelta(seconds=2))  # Close stamps the activity when it is logged
    crm.log_activity(sent)
    crm.log_activity(sent)
    logged = [a for a in world.org.activities["email"] if a.get("direction") == "outgoing"]
    logged = [a for a in logged if a.get("subject") == "Re: Proposal"]
    assert len(logged) == 1
    assert (logged[0]["lead_id"], logged[0]["status"], logged[0]["direction"]) == (
        "lead_globex",
        "sent",
        "outgoing",
    )


def test_opt_out_task_and_reply_status(world: CloseWorld) -> None:
    crm: CloseCrm = world.adapter
    crm.mark_do_not_contact("21")
    crm.mark_do_not_contact("21")
    assert world.org.unsubscribed == ["jordan@globex.example"]
    due = NOW + timedelta(hours=24)
    first = crm.create_task("31", "11", "Jordan replied: call back", due)
    assert crm.create_task("31", "11", "Jordan replied: call back", due) == first
    (task,) = world.org.tasks
    assert (task["_type"], task["lead_id"], task["assigned_to"], task["date"]) == (
        "lead",
        "lead_globex",
        "11",
        due.date().isoformat(),
    )
    crm.mapping = CrmMapping(reply_received_stage="closed won")
    crm.mark_reply_received("31")
    assert world._opportunity("31")["status_id"] == "stat_won"
    crm.mapping = CrmMapping(reply_received_stage="Replied")
    with pytest.raises(CrmRequestError, match="no opportunity status 'Replied'"):
        crm.mark_reply_received("31")


def test_an_incremental_sync_asks_for_pages_of_changes_not_one_request_per_record(
    world: CloseWorld,
) -> None:
    first = world.adapter.fetch(NOW)
    for deal_id in ("31", "32", "33"):
        world.rename(deal_id, f"Renamed {deal_id}", NOW + timedelta(minutes=1))
    world.api.requests.clear()
    later = world.adapter.fetch(NOW + timedelta(minutes=3), first.cursor)
    assert sorted(d.title for d in later.pipeline.deals) == [
        "Renamed 31",
        "Renamed 32",
        "Renamed 33",
    ]
    # Each keeps the time it entered its status, from the cursor, not from a lookup.
    entered = {d.id: d.stage_entered_at for d in first.pipeline.deals}
    assert {d.id: d.stage_entered_at for d in later.pipeline.deals} == entered
    lookups = [
        r.line
        for r in world.api.requests
        if "status_change" in r.path or "lead_id" in r.query or "/lead/" in r.path
    ]
    assert lookups == []


def test_an_event_updated_in_place_and_one_without_data_are_both_read(world: CloseWorld) -> None:
    first = world.adapter.fetch(NOW)
    world._at(NOW + timedelta(minutes=1))
    note = {
        "id": "acti_n1",
        "lead_id": "lead_globex",
        "contact_id": "21",
        "note": "First words",
        "date_created": close_time(NOW + timedelta(minutes=1)),
        "date_updated": close_time(NOW + timedelta(minutes=1)),
    }
    world.org.activities["note"].append(note)
    world.org.log_event("activity.note", note, "created")
    second = world.adapter.fetch(NOW + timedelta(minutes=2), first.cursor)
    assert [a.body for a in second.pipeline.activities] == ["First words"]
    # Close folds a quick second change into the same event: same id, later date_updated.
    event = world.org.events[-1]
    note["note"] = "Second words"
    event.update(date_updated=close_time(NOW + timedelta(minutes=3)), data=dict(note))
    # An event whose data a non-admin key is not shown (older than an hour): read the object.
    world._at(NOW + timedelta(minutes=3))
    contact = next(c for c in world.org.contacts if c["id"] == "22")
    contact["name"] = "Sam Park-Lee"
    world.org.log_event("contact", contact)
    world.org.events[-1]["data"] = {}
    third = world.adapter.fetch(NOW + timedelta(minutes=4), second.cursor)
    assert [a.body for a in third.pipeline.activities] == ["Second words"]
    assert [c.name for c in third.pipeline.contacts] == ["Sam Park-Lee"]


def test_a_long_list_is_read_in_windows_by_date_not_past_the_skip_cap(world: CloseWorld) -> None:
    world.org.max_skip = 1000  # Close answers 400 past its cap on `_skip`
    for n in range(2_500):
        at = NOW - timedelta(days=1) + timedelta(seconds=n // 3)  # three share each second
        world.org.activities["note"].append(
            {
                "id": f"acti_bulk{n}",
                "lead_id": "lead_globex",
                "contact_id": "21",
                "note": f"note {n}",
                "date_created": close_time(at),
                "date_updated": close_time(at),
            }
        )
    result = world.adapter.fetch(NOW)
    notes = [a for a in result.pipeline.activities if (a.body or "").startswith("note ")]
    assert len(notes) == 2_500
    assert len({a.id for a in notes}) == 2_500
