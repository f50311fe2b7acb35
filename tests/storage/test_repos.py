"""The store keeps what the product promises, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import inspect

from storage.repos import Store
from tests.factories import NOW, activity, contact, deal, owner, proposal_pipeline
from triggers.drafts import AuditEntry, DraftStatus, NewDraft, OutboxStatus, Pause
from triggers.model import ActivityKind, ContactStatus, Direction, Pipeline


def new_draft(**overrides: object) -> NewDraft:
    values: dict[str, object] = {
        "deal_id": "d1",
        "contact_id": "c1",
        "to_address": "jordan@globex.example",
        "trigger": "proposal_no_reply",
        "rule": "proposal_no_reply",
        "angle": None,
        "anchor_at": NOW - timedelta(days=4),
        "due_at": NOW - timedelta(days=1),
        "send_at": NOW,
        "reason": "Proposal sent Mon 16 Nov, no reply in 4 days",
        "evidence": ("Proposal sent Mon 16 Nov",),
        "subject": "Re: Proposal",
        "body": "Hi Jordan,\n\nAny thoughts on the proposal?\n\nMaya",
        "source": "template",
    }
    return NewDraft(**(values | overrides))  # type: ignore[arg-type]


def test_migrations_create_every_table(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert {
        "owners",
        "contacts",
        "deals",
        "activities",
        "drafts",
        "draft_events",
        "outbox",
        "suppressions",
        "pauses",
        "audit_log",
        "alembic_version",
    } <= tables


def test_pipeline_round_trips_as_domain_objects(store: Store) -> None:
    pipeline = proposal_pipeline()
    changed = store.pipeline.sync(pipeline, NOW)
    assert changed == {"d1"}
    loaded = store.pipeline.load()
    assert loaded.deals == pipeline.deals
    assert loaded.contacts == pipeline.contacts
    assert loaded.activities == pipeline.activities
    assert loaded.activities[0].at.tzinfo is not None
    assert loaded.activities[0].at == pipeline.activities[0].at


def test_activities_load_grouped_by_deal_each_in_time_order(store: Store) -> None:
    second = deal(id="d2", title="Globex support retainer")
    interleaved = (
        activity(ActivityKind.CALL, NOW - timedelta(days=3), id="x1", deal_id="d2"),
        activity(ActivityKind.CALL, NOW - timedelta(days=2), id="x2", deal_id="d1"),
        activity(ActivityKind.CALL, NOW - timedelta(days=4), id="x3", deal_id="d1"),
        activity(ActivityKind.CALL, NOW - timedelta(days=1), id="x4", deal_id="d2"),
    )
    store.pipeline.sync(Pipeline((owner(),), (contact(),), (deal(), second), interleaved), NOW)
    # What the evaluation's scan reads fastest, one deal's activities after another.
    assert [a.id for a in store.pipeline.load().activities] == ["x3", "x2", "x1", "x4"]


def test_resync_reports_only_what_changed(store: Store) -> None:
    pipeline = proposal_pipeline()
    store.pipeline.sync(pipeline, NOW)
    assert store.pipeline.sync(pipeline, NOW + timedelta(minutes=5)) == set()
    reply = activity(ActivityKind.EMAIL, NOW, id="a-reply", direction=Direction.IN)
    grown = replace(pipeline, activities=(*pipeline.activities, reply))
    assert store.pipeline.sync(grown, NOW + timedelta(minutes=10)) == {"d1"}
    assert store.pipeline.deals_changed_since(NOW + timedelta(minutes=5)) == {"d1"}


def test_followup_activities_survive_a_crm_sync(store: Store) -> None:
    store.pipeline.sync(proposal_pipeline(), NOW)
    sent = activity(ActivityKind.EMAIL, NOW, id="followup-sent-1", direction=Direction.OUT)
    assert store.pipeline.add_activity(sent, origin="followup", now=NOW)
    assert not store.pipeline.add_activity(sent, origin="followup", now=NOW)
    store.pipeline.sync(proposal_pipeline(), NOW + timedelta(hours=1))
    assert "followup-sent-1" in {a.id for a in store.pipeline.load().activities}


def test_one_open_draft_per_deal_and_one_per_anchor(store: Store) -> None:
    store.pipeline.sync(proposal_pipeline(), NOW)
    first = store.drafts.insert(new_draft(), now=NOW)
    assert first is not None
    assert first.status is DraftStatus.PENDING
    assert (
        store.drafts.insert(new_draft(trigger="stage_stale", rule="stage_stale"), now=NOW) is None
    )
    dismissed = store.drafts.transition(first.id, DraftStatus.DISMISSED, actor="maya", now=NOW)
    assert dismissed is not None
    # The same rule never fires twice for the same anchor, even once the first was dismissed.
    assert store.drafts.insert(new_draft(), now=NOW) is None
    later = store.drafts.insert(new_draft(anchor_at=NOW), now=NOW)
    assert later is not None


def test_a_decision_is_taken_once(store: Store) -> None:
    store.pipeline.sync(proposal_pipeline(), NOW)
    draft = store.drafts.insert(new_draft(), now=NOW)
    assert draft is not None
    approved = store.drafts.transition(draft.id, DraftStatus.APPROVED, actor="maya", now=NOW)
    assert approved is not None
    assert store.drafts.transition(draft.id, DraftStatus.APPROVED, actor="maya", now=NOW) is None
    assert store.drafts.transition(draft.id, DraftStatus.DISMISSED, actor="sam", now=NOW) is None
    history = [(e.from_status, e.to_status) for e in store.drafts.events(draft.id)]
    assert history == [(None, DraftStatus.PENDING), (DraftStatus.PENDING, DraftStatus.APPROVED)]


def test_concurrent_approvals_have_one_winner(store: Store) -> None:
    store.pipeline.sync(proposal_pipeline(), NOW)
    draft = store.drafts.insert(new_draft(), now=NOW)
    assert draft is not None
    results: list[object] = []
    barrier = threading.Barrier(8)

    def click() -> None:
        barrier.wait()
        try:
            results.append(
                store.drafts.transition(draft.id, DraftStatus.APPROVED, actor="m", now=NOW)
            )
        except Exception as error:  # SQLite may report "database is locked" under contention
            results.append(error)

    threads = [threading.Thread(target=click) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [r for r in results if r is not None and not isinstance(r, Exception)]
    assert len(winners) == 1


def test_edit_is_versioned_and_keeps_the_original(store: Store) -> None:
    store.pipeline.sync(proposal_pipeline(), NOW)
    draft = store.drafts.insert(new_draft(), now=NOW)
    assert draft is not None
    edited = store.drafts.edit(
        draft.id, subject="Quick question", body="Hi Jordan", expected_version=1, actor="m", now=NOW
    )
    assert edited is not None
    assert (edited.version, edited.subject, edited.original_subject) == (
        2,
        "Quick question",
        "Re: Proposal",
    )
    assert edited.edited
    stale = store.drafts.edit(
        draft.id, subject="x", body="y", expected_version=1, actor="m", now=NOW
    )
    assert stale is None


def test_outbox_row_is_unique_per_draft_and_claimed_once(store: Store) -> None:
    store.pipeline.sync(proposal_pipeline(), NOW)
    draft = store.drafts.insert(new_draft(), now=NOW)
    assert draft is not None
    args = {
        "draft_id": draft.id,
        "message_id": "<followup.1.v1@x>",
        "from_address": "maya@n.example",
        "to_address": "jordan@globex.example",
        "subject": "Re: Proposal",
        "body": "Hi",
        "in_reply_to": "<proposal-1@northwind.example>",
        "references": ["<proposal-1@northwind.example>"],
        "send_at": NOW,
    }
    assert store.outbox.enqueue(**args) is not None  # type: ignore[arg-type]
    assert store.outbox.enqueue(**args) is None  # type: ignore[arg-type]
    assert store.outbox.claim_due(NOW - timedelta(seconds=1)) == []
    claimed = store.outbox.claim_due(NOW, owner="worker-a")
    assert [row.status for row in claimed] == [OutboxStatus.SENDING]
    assert claimed[0].references == ("<proposal-1@northwind.example>",)
    assert claimed[0].owner_token == "worker-a"
    assert store.outbox.claim_due(NOW + timedelta(hours=1)) == []
    # Only the owner of the claim records its outcome.
    assert not store.outbox.finish(
        claimed[0].id, OutboxStatus.SENT, now=NOW, owner="worker-b", provider_id="p0"
    )
    assert store.outbox.finish(
        claimed[0].id, OutboxStatus.SENT, now=NOW, owner="worker-a", provider_id="p1"
    )
    assert not store.outbox.finish(
        claimed[0].id, OutboxStatus.SENT, now=NOW, owner="worker-a", provider_id="p2"
    )
    [row] = store.outbox.find()
    assert (row.status, row.provider_id, row.attempts) == (OutboxStatus.SENT, "p1", 1)


def test_suppression_by_address_and_domain(store: Store) -> None:
    assert store.suppressions.add("Jordan@Globex.example", reason="opt_out", now=NOW)
    assert not store.suppressions.add("jordan@globex.example", reason="opt_out", now=NOW)
    store.suppressions.add("initech.example", reason="manual", now=NOW)
    assert store.suppressions.is_suppressed("JORDAN@globex.example")
    assert store.suppressions.is_suppressed("peter@initech.example")
    assert not store.suppressions.is_suppressed("sam@globex.example")
    assert store.suppressions.values() == {"jordan@globex.example", "initech.example"}


def test_pauses_expire(store: Store) -> None:
    store.pipeline.sync(proposal_pipeline(), NOW)
    store.pauses.set(Pause("d1", NOW + timedelta(days=3), "paused", "maya", NOW))
    assert set(store.pauses.active(NOW)) == {"d1"}
    assert store.pauses.active(NOW + timedelta(days=4)) == {}
    assert store.pauses.clear("d1")
    assert not store.pauses.clear("d1")


def test_contact_status_and_audit(store: Store) -> None:
    store.pipeline.sync(proposal_pipeline(), NOW)
    store.pipeline.set_contact_status("c1", ContactStatus.DO_NOT_CONTACT, NOW)
    assert store.pipeline.load().contacts[0].status is ContactStatus.DO_NOT_CONTACT
    store.audit.add(AuditEntry(NOW, "slack:U9", "refused:approve", "draft:1", "not an approver"))
    assert store.audit.recent()[0].action == "refused:approve"


def test_naive_datetimes_are_refused(store: Store) -> None:
    naive = replace(deal(), stage_entered_at=NOW.replace(tzinfo=None))
    with pytest.raises(Exception, match="naive"):
        store.pipeline.sync(Pipeline((owner(),), (contact(),), (naive,), ()), NOW)


def test_one_deal_view_matches_the_whole_pipelines(store: Store) -> None:
    from triggers.evaluate import build_views

    reply = activity(ActivityKind.EMAIL, NOW, id="a-reply", direction=Direction.IN)
    store.pipeline.sync(proposal_pipeline(reply), NOW)
    [expected] = build_views(store.pipeline.load())
    assert store.pipeline.deal_view("d1") == expected
    assert store.pipeline.deal_view("nope") is None
