"""The contract every CRM adapter passes, the local file and the in-memory fake included:
mapping of each object, a malformed record skipped and reported, the cursor round trip,
deletion, outages keeping the last pipeline, refused credentials, rate limits honoured.

The vendors' worlds are loopback HTTP servers in their published API's shape, driven by the
real adapter code (tests/crm/fake_*.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from crm.base import CrmAuthError, CrmError, CrmUnavailable
from crm.writeback import QueuedCrmWithTasks, queued
from flows.cycle import CycleReport, sync_crm, withdraw_obsolete
from flows.ports import NoMetrics, NoReviewSurface, Services
from storage.crm_queue import CrmWriteQueue
from storage.db import make_engine, migrate
from storage.repos import Store
from tests.crm.account import NOW, T0, small_account
from tests.crm.worlds import FakeWorld, LocalWorld, World
from triggers.drafts import DraftStatus, NewDraft
from triggers.evaluate import build_views
from triggers.model import Activity, ActivityKind, ContactStatus, DealStatus, Direction

WORLDS: dict[str, Any] = {"fake": FakeWorld, "local": LocalWorld}
try:  # the vendors' worlds join as they are built
    from tests.crm.worlds_http import HTTP_WORLDS

    WORLDS.update(HTTP_WORLDS)
except ImportError:  # pragma: no cover - before the vendors exist
    pass
from tests.crm.worlds_close import CLOSE_WORLDS  # noqa: E402
from tests.crm.worlds_salesforce import SALESFORCE_WORLDS  # noqa: E402

WORLDS.update(SALESFORCE_WORLDS)
WORLDS.update(CLOSE_WORLDS)


@pytest.fixture(params=sorted(WORLDS))
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    made = WORLDS[request.param](tmp_path)
    running = getattr(made, "running", None)
    if running is None:
        made.load(small_account())
        yield made
        return
    with running():
        made.load(small_account())
        yield made


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    engine = make_engine(f"sqlite:///{tmp_path / 'contract.db'}")
    migrate(engine)
    yield Store(engine)
    engine.dispose()


def services(world: World, store: Store) -> Services:
    return cast(
        Services,
        SimpleNamespace(
            store=store, crm=world.adapter, review=NoReviewSurface(), metrics=NoMetrics()
        ),
    )


def sync(world: World, store: Store, now: Any = NOW, *, full: bool = False) -> CycleReport:
    report = CycleReport(now=now)
    sync_crm(services(world, store), now, report, full=full)
    return report


def test_each_object_maps_into_the_pipeline(world: World, store: Store) -> None:
    report = sync(world, store)
    assert report.sync_failed is None
    assert report.sync_problems == []
    pipeline = store.pipeline.load()
    owner = pipeline.owner("11")
    assert owner is not None
    assert (owner.name, owner.email) == ("Maya Chen", "maya@northwind.studio")
    jordan = pipeline.contact("21")
    assert jordan is not None
    assert (jordan.name, jordan.email, jordan.company) == (
        "Jordan Lee",
        "jordan@globex.example",
        "Globex",
    )
    deal = pipeline.deal("31")
    assert deal is not None
    assert (deal.title, deal.owner_id, deal.contact_ids) == (
        "Globex website rebuild",
        "11",
        ("21",),
    )
    assert deal.stage == "Proposal Sent"
    # From the vendor's stage history, never the time of the first sync.
    assert deal.stage_entered_at == T0 + timedelta(days=1)
    assert deal.status is DealStatus.OPEN
    assert deal.value == 18000
    won = pipeline.deal("33")
    assert won is not None
    assert won.status is DealStatus.WON
    facts = {(a.deal_id, a.kind, a.direction, a.at) for a in pipeline.activities}
    day = timedelta(days=1)
    assert facts >= {
        ("31", ActivityKind.EMAIL, Direction.OUT, T0 + day),
        ("31", ActivityKind.EMAIL, Direction.IN, T0 + 3 * day),
        ("32", ActivityKind.CALL, None, T0 + 4 * day),
        ("32", ActivityKind.MEETING, None, T0 + 5 * day),
        ("31", ActivityKind.NOTE, None, T0 + 6 * day),
        ("31", ActivityKind.PROPOSAL_SENT, None, T0 + day),
    }
    meeting = next(a for a in pipeline.activities if a.kind is ActivityKind.MEETING)
    assert meeting.scheduled_for == T0 + 9 * day
    call = next(a for a in pipeline.activities if a.kind is ActivityKind.CALL)
    assert call.body == "Discussed scope"
    reply = next(a for a in pipeline.activities if a.direction is Direction.IN)
    assert (reply.contact_id, reply.subject) == ("21", "Re: Proposal")


def test_a_malformed_record_is_reported_and_the_rest_syncs(world: World, store: Store) -> None:
    bad = world.add_malformed(NOW - timedelta(hours=1))
    report = sync(world, store)
    assert report.sync_failed is None
    problems = [p for p in report.sync_problems if p.record_id == bad]
    assert problems, report.sync_problems
    assert problems[0].collection == "deals"
    assert problems[0].field
    assert problems[0].problem
    assert f"[{bad}]" in str(problems[0])
    pipeline = store.pipeline.load()
    assert pipeline.deal(bad) is None
    assert {d.id for d in pipeline.deals} == {"31", "32", "33"}


def test_an_incremental_sync_after_a_change_returns_exactly_the_change(
    world: World, store: Store
) -> None:
    sync(world, store)
    world.served_deals()
    world.rename("32", "Initech audit, phase 2", NOW + timedelta(minutes=5))
    report = sync(world, store, NOW + timedelta(minutes=10))
    assert report.sync_failed is None
    deal = store.pipeline.load().deal("32")
    assert deal is not None
    assert deal.title == "Initech audit, phase 2"
    if world.incremental:
        # The adapter returns the one change; the vendor served it (and, at most, the record
        # at the cursor's bound again, which the watermark drops).
        assert report.synced_deals == 1
        assert report.changed_deals == 1
        assert world.served_deals() <= 2
        quiet = sync(world, store, NOW + timedelta(minutes=15))
        assert quiet.synced_deals == 0
        assert quiet.changed_deals == 0
        assert world.served_deals() <= 1


def test_a_deleted_deal_leaves_the_store_and_withdraws_its_draft(
    world: World, store: Store
) -> None:
    sync(world, store)
    draft = store.drafts.insert(
        NewDraft(
            deal_id="31",
            contact_id="21",
            to_address="jordan@globex.example",
            trigger="proposal_no_reply",
            rule="proposal_no_reply",
            angle=None,
            anchor_at=T0,
            due_at=NOW,
            send_at=NOW,
            reason="quiet",
            evidence=(),
            subject="Checking in",
            body="Hi",
            source="template",
        ),
        now=NOW,
    )
    assert draft is not None
    world.delete("31", NOW + timedelta(minutes=5))
    later = NOW + timedelta(minutes=10)
    report = CycleReport(now=later)
    changed = sync_crm(services(world, store), later, report)
    assert report.sync_failed is None
    # The cycle looks again at the deals the sync changed or removed: this one among them.
    assert "31" in changed
    pipeline = store.pipeline.load()
    assert pipeline.deal("31") is None
    assert all(a.deal_id != "31" for a in pipeline.activities)
    assert store.pipeline.deal_view("31") is None
    views = {v.deal.id: v for v in build_views(pipeline)}
    withdraw_obsolete(
        services(world, store), views, frozenset(), later, report, deal_ids=views.keys() | changed
    )
    after = store.drafts.get(draft.id)
    assert after is not None
    assert after.status is DraftStatus.WITHDRAWN


@pytest.mark.parametrize("fault", ["5xx", "timeout"])
def test_an_outage_is_crm_unavailable_and_keeps_the_last_pipeline(
    world: World, store: Store, fault: str
) -> None:
    if fault not in world.faults:
        pytest.skip(f"{world.name} has no {fault}")
    sync(world, store)
    before = store.pipeline.load()
    world.fault(fault)
    with pytest.raises(CrmError) as raised:
        world.adapter.fetch(NOW + timedelta(minutes=5), None)
    if world.name not in {"local"}:
        assert isinstance(raised.value, CrmUnavailable)
    world.fault(fault)
    report = sync(world, store, NOW + timedelta(minutes=10))
    assert report.sync_failed
    assert store.pipeline.load() == before


def test_refused_credentials_are_crm_auth_error(world: World, store: Store) -> None:
    if "401" not in world.faults:
        pytest.skip(f"{world.name} has no credentials")
    world.fault("401")
    with pytest.raises(CrmAuthError):
        world.adapter.fetch(NOW, None)


def test_a_rate_limit_is_waited_out_as_the_vendor_says(world: World, store: Store) -> None:
    if "429" not in world.faults:
        pytest.skip(f"{world.name} has no rate limit")
    world.fault("429")
    report = sync(world, store)
    assert report.sync_failed is None
    assert world.waits
    assert world.waits[0] == world.rate_limit_wait
    assert store.pipeline.load().deal("31") is not None


# ---------------------------------------------------------------------- write-backs

# The request that creates a logged follow-up, whose answer a test loses.
WRITE_LINES = {
    "hubspot": "POST /crm/objects/2026-09/emails$",
    "pipedrive": "POST /v1/notes$",
    "salesforce": "POST /services/data/v66.0/sobjects/Task/$",
    "close": "POST /api/v1/activity/email/$",
}


def queued_adapter(world: World, store: Store, clock: list[Any]) -> QueuedCrmWithTasks:
    adapter = queued(world.adapter, CrmWriteQueue(store.engine), clock=lambda: clock[0])
    assert isinstance(adapter, QueuedCrmWithTasks)
    return adapter


def sent_activity() -> Activity:
    return Activity(
        id="followup:sent:1",
        deal_id="31",
        kind=ActivityKind.EMAIL,
        at=NOW,
        contact_id="21",
        direction=Direction.OUT,
        subject="Following up on the proposal",
        body="Hi Jordan,\nany questions on the proposal?",
        message_id="<a1b2@followup.local>",
        from_address="maya@northwind.studio",
        to_addresses=("jordan@globex.example",),
    )


def test_write_backs_are_idempotent_under_replay_and_retry(world: World, store: Store) -> None:
    if world.name not in WRITE_LINES:
        pytest.skip(f"{world.name} keeps no write-backs (read-only file, in-memory fake)")
    sync(world, store)
    clock = [NOW]
    crm = queued_adapter(world, store, clock)
    # A sent follow-up, logged twice (a replay), its first create answered too late.
    world.lose_next_answer(WRITE_LINES[world.name])  # type: ignore[attr-defined]
    crm.log_activity(sent_activity())
    crm.log_activity(sent_activity())
    first = crm.flush(NOW)
    assert first.done == 0
    assert first.retrying  # kept, not lost
    world.api.settle()  # type: ignore[attr-defined] # the lost create did happen at the vendor
    clock[0] = NOW + timedelta(minutes=5)
    assert crm.flush(NOW + timedelta(minutes=5)).done == 1
    # The handoff's task and the opt-out, each replayed.
    task_id = crm.create_task("31", "11", "Reply from Jordan: call them", NOW + timedelta(hours=24))
    assert (
        crm.create_task("31", "11", "Reply from Jordan: call them", NOW + timedelta(hours=24))
        == task_id
    )
    crm.mark_do_not_contact("22")
    crm.mark_do_not_contact("22")
    assert crm.flush(NOW + timedelta(minutes=10)).done == 2
    assert crm.flush(NOW + timedelta(minutes=15)).done == 0
    writes = world.writes()  # type: ignore[attr-defined]
    assert writes == {"sent": 1, "task": 1, "do_not_contact": 1}
    report = sync(world, store, NOW + timedelta(minutes=20))
    assert report.sync_failed is None
    sam = store.pipeline.load().contact("22")
    assert sam is not None
    assert sam.status is ContactStatus.DO_NOT_CONTACT


def test_a_crm_outage_delays_write_backs_and_loses_none(world: World, store: Store) -> None:
    if world.name not in WRITE_LINES:
        pytest.skip(f"{world.name} keeps no write-backs")
    sync(world, store)
    crm = queued_adapter(world, store, [NOW])
    crm.log_activity(sent_activity())  # returns at once, whatever the CRM's state
    world.fault("5xx")
    down = crm.flush(NOW)
    assert down.done == 0
    assert down.retrying
    assert world.writes()["sent"] == 0  # type: ignore[attr-defined]
    world.api.faults.clear()  # type: ignore[attr-defined]
    assert crm.flush(NOW + timedelta(seconds=30)).done == 0  # not due yet: backing off
    assert crm.flush(NOW + timedelta(minutes=1)).done == 1
    assert world.writes()["sent"] == 1  # type: ignore[attr-defined]
