"""Volume controls: a backlog spread over cycles (oldest due first), a per-mailbox daily cap
and spacing between sends, and what they hold back shown to the operator."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crm.local import LocalCrm
from flows.cycle import run_cycle
from flows.delivery import deliver_due
from flows.ports import Actor, Policy, Services
from flows.review import approve
from flows.volume import SendLimits, held_messages
from mail.fake import FakeMailbox
from prompts.drafter import TemplateDrafter
from storage.repos import Store

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pipeline.json"
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
OPERATOR = Actor.operator("test")


class Review:
    def publish(self, draft: object, view: object) -> None:
        return None

    def update(self, draft: object, view: object, outcome: str) -> None:
        return None


def services_for(store: Store, policy: Policy) -> Services:
    return Services(
        store=store,
        crm=LocalCrm(SAMPLE),
        mailbox=FakeMailbox(),
        drafter=TemplateDrafter(),
        review=Review(),
        policy=policy,
    )


@pytest.fixture
def fresh(tmp_path: Path) -> Store:
    from storage.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'volume.db'}")
    migrate(engine)
    return Store(engine)


def test_max_new_drafts_per_cycle_takes_the_oldest_due_and_leaves_the_rest(
    store: Store, fresh: Store
) -> None:
    unlimited = run_cycle(services_for(fresh, Policy()), NOW)
    expected = sorted(unlimited.drafted, key=lambda d: (d.due_at, d.deal_id))
    services = services_for(store, Policy(max_new_drafts_per_cycle=4))
    first = run_cycle(services, NOW)
    assert [d.deal_id for d in first.drafted] == [d.deal_id for d in expected[:4]]
    assert first.deferred == len(expected) - 4
    second = run_cycle(services, NOW + timedelta(minutes=5))
    assert [d.deal_id for d in second.drafted] == [d.deal_id for d in expected[4:8]]


def test_the_daily_cap_and_spacing_hold_messages_per_mailbox(store: Store) -> None:
    services = services_for(
        store, Policy(send_limits=SendLimits(daily_cap=2, spacing=timedelta(minutes=2)))
    )
    drafts = run_cycle(services, NOW).drafted
    for draft in drafts:
        assert approve(services, draft.id, OPERATOR, NOW).ok
    rows = {r.draft_id: r for r in store.outbox.find()}
    mailboxes = Counter(r.from_address for r in rows.values())
    assert len(mailboxes) == 2  # the sample's two owners, each their own mailbox
    start = max(r.send_at for r in rows.values())  # every window is open by then

    first = deliver_due(services, start)
    assert len(first.sent) == 2  # one per mailbox; the rest wait for the spacing
    assert {why for _, why in first.held} == {"spacing sends 0:02:00 apart"}
    assert len(held_messages(services)) == len(drafts) - 2

    assert deliver_due(services, start + timedelta(minutes=1)).sent == []  # still too soon
    second = deliver_due(services, start + timedelta(minutes=2))
    assert len(second.sent) == 2
    third = deliver_due(services, start + timedelta(minutes=4))
    assert third.sent == []
    assert all("daily cap of 2 reached" in why for _, why in third.held)
    held = held_messages(services)
    assert len(held) == len(drafts) - 4
    assert all(r.send_at >= start + timedelta(days=1) for r in held)  # after the oldest ages out

    assert all(r.attempts == 0 for r in held)  # being held is not a failed attempt

    next_day = deliver_due(services, start + timedelta(days=1, minutes=1))
    assert len(next_day.sent) == 2
    assert len(services.mailbox.sent) == 6  # type: ignore[attr-defined]
