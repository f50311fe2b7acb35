"""A cycle reads only what can have changed (issue 12): the deals whose data changed, whose
drafts moved or whose next instant came; a deal the CRM dropped has its draft withdrawn."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from crm.fake import FakeCrm
from flows.cycle import run_cycle
from flows.ports import Actor, Policy, Services
from flows.review import dismiss
from mail.fake import FakeMailbox
from prompts.drafter import TemplateDrafter
from storage.repos import Store
from tests.factories import NOW, activity, contact, deal, owner
from triggers.drafts import Draft, DraftStatus
from triggers.model import ActivityKind, Direction, Pipeline

MAYA = Actor.slack("U01MAYA", "maya")


class RecordingReview:
    def __init__(self) -> None:
        self.published: list[Draft] = []
        self.updates: list[tuple[int, str]] = []

    def publish(self, draft: Draft, view: object) -> None:
        self.published.append(draft)

    def update(self, draft: Draft, view: object, outcome: str) -> None:
        self.updates.append((draft.id, outcome))


def pipeline(deals: int = 6) -> Pipeline:
    """Deal i had a proposal sent 1 + i days ago: d2.. are due at NOW (3 days, no reply),
    d0 and d1 fall due later."""
    contacts = tuple(
        contact(id=f"c{i}", name=f"P{i}", email=f"p{i}@globex{i}.example") for i in range(deals)
    )
    ds = tuple(deal(id=f"d{i}", contact_ids=(f"c{i}",)) for i in range(deals))
    proposals = tuple(
        activity(
            ActivityKind.PROPOSAL_SENT,
            NOW - timedelta(days=1 + i, hours=1),
            id=f"p{i}",
            deal_id=f"d{i}",
            contact_id=f"c{i}",
            subject="Proposal",
        )
        for i in range(deals)
    )
    return Pipeline((owner(),), contacts, ds, proposals)


@pytest.fixture
def services(store: Store) -> Services:
    return Services(
        store=store,
        crm=FakeCrm(pipeline()),
        mailbox=FakeMailbox(),
        drafter=TemplateDrafter(),
        review=RecordingReview(),
        policy=Policy(),
    )


def counting(store: Store) -> list[str]:
    seen: list[str] = []

    def record(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", record)
    return seen


def test_a_cycle_where_nothing_changed_evaluates_nothing(services: Services) -> None:
    first = run_cycle(services, NOW)
    assert sorted(d.deal_id for d in first.drafted) == ["d2", "d3", "d4", "d5"]
    seen = counting(services.store)
    again = run_cycle(services, NOW + timedelta(minutes=5))
    assert again.drafted == []
    assert again.changed_deals == 0
    # no activity is read, no deal written: the deals' next instants have not come
    assert not [s for s in seen if "FROM activities" in s and "origin" not in s]
    assert not [s for s in seen if s.startswith(("INSERT INTO deals", "UPDATE deals"))]


def test_time_passing_brings_the_next_deal_due(services: Services) -> None:
    run_cycle(services, NOW)
    later = run_cycle(services, NOW + timedelta(days=1, hours=1))
    assert [d.deal_id for d in later.drafted] == ["d1"]


def test_a_dismissed_draft_has_its_deal_evaluated_again(services: Services) -> None:
    first = run_cycle(services, NOW)
    draft = next(d for d in first.drafted if d.deal_id == "d2")
    assert dismiss(services, draft.id, MAYA, NOW, "not_now").ok
    # the same anchor never fires twice: the deal is evaluated, and nothing is drafted
    after = run_cycle(services, NOW + timedelta(minutes=5))
    assert after.drafted == []
    assert services.store.drafts.get(draft.id).status is DraftStatus.DISMISSED  # type: ignore[union-attr]


def test_a_deal_the_crm_dropped_has_its_draft_withdrawn(services: Services) -> None:
    first = run_cycle(services, NOW)
    draft = next(d for d in first.drafted if d.deal_id == "d3")
    crm = services.crm
    assert isinstance(crm, FakeCrm)
    whole = crm.pipeline
    crm.pipeline = replace(
        whole,
        deals=tuple(d for d in whole.deals if d.id != "d3"),
        activities=tuple(a for a in whole.activities if a.deal_id != "d3"),
    )
    after = run_cycle(services, NOW + timedelta(minutes=5))
    assert [(w.id, reason) for w, reason in after.withdrawn] == [
        (draft.id, "deal no longer in the pipeline")
    ]


def test_a_reply_in_the_crm_withdraws_only_that_deals_draft(services: Services) -> None:
    first = run_cycle(services, NOW)
    draft = next(d for d in first.drafted if d.deal_id == "d4")
    crm = services.crm
    assert isinstance(crm, FakeCrm)
    crm.add(
        activity(
            ActivityKind.EMAIL,
            NOW + timedelta(minutes=1),
            id="reply-4",
            deal_id="d4",
            contact_id="c4",
            direction=Direction.IN,
            from_address="p4@globex4.example",
            body="Yes, let's talk",
        )
    )
    after = run_cycle(services, NOW + timedelta(minutes=5))
    assert after.changed_deals == 1
    assert [w.id for w, _ in after.withdrawn] == [draft.id]


def test_a_changed_rule_configuration_evaluates_every_deal_again(
    services: Services, store: Store
) -> None:
    from triggers.config import EvaluationConfig, RuleConfig, RulesConfig

    run_cycle(services, NOW)  # d0 (proposal 1 day ago) and d1 (2 days) are not due at 72 h
    sooner = EvaluationConfig(
        rules=RulesConfig(proposal_no_reply=RuleConfig(after=timedelta(hours=36)))
    )
    services = replace(services, policy=replace(services.policy, evaluation=sooner))
    after = run_cycle(services, NOW + timedelta(minutes=5))
    assert [d.deal_id for d in after.drafted] == ["d1"]


def test_a_cleared_pause_is_seen_at_once(services: Services, store: Store) -> None:
    from triggers.drafts import Pause

    # d2 is paused before its proposal falls due: nothing drafted, next look at the pause's end
    store.pipeline.sync(pipeline(), NOW)
    store.pauses.set(Pause("d2", NOW + timedelta(days=30), "snoozed", "maya", NOW))
    first = run_cycle(services, NOW)
    assert "d2" not in {d.deal_id for d in first.drafted}
    assert store.pauses.clear("d2")
    again = run_cycle(services, NOW + timedelta(minutes=5))
    assert [d.deal_id for d in again.drafted] == ["d2"]
