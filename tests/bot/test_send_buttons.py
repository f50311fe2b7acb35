"""An approved message in Slack until it leaves: Cancel on the updated message, the answer to
"may already have been sent", and clicks that survive a kill between the ack and the
decision."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import text

from bot.ids import Action
from storage.repos import Store
from tests.bot import payloads
from tests.bot.conftest import (
    MAYA,
    ON_EACH_DATABASE,
    Delegate,
    Server,
    World,
    action_ids,
    build_world,
    texts,
)
from tests.bot.fake_slack import FakeSlack
from triggers.drafts import DraftStatus, OutboxStatus


@ON_EACH_DATABASE
def test_an_approved_message_is_cancelled_from_its_slack_message(world: World) -> None:
    [draft] = world.cycle()
    world.click(draft.id, Action.DRAFT_APPROVE)
    world.drain()
    _, message = world.draft_message(draft.id)
    shown = texts(message["blocks"])
    assert "*Approved* by <@U01MAYA>" in shown
    assert "*Subject:* Re: Proposal: website rebuild" in shown
    assert action_ids(message["blocks"]) == [Action.DRAFT_CANCEL]
    world.click(draft.id, Action.DRAFT_CANCEL)
    world.drain()
    assert world.services.store.drafts.get(draft.id).status is DraftStatus.WITHDRAWN  # type: ignore[union-attr]
    _, message = world.draft_message(draft.id)
    shown = texts(message["blocks"])
    assert "*Withdrawn* by <@U01MAYA>: cancelled by maya before sending" in shown
    assert action_ids(message["blocks"]) == []
    assert world.deliver() == []
    assert world.services.mailbox.sent == []  # type: ignore[attr-defined]


def test_a_held_message_asks_resend_or_not_and_resend_sends_it(world: World) -> None:
    [draft] = world.cycle()
    world.click(draft.id, Action.DRAFT_APPROVE)
    world.drain()
    store = world.services.store
    # A worker handed it to the mailbox and died; the mailbox's Sent folder does not have
    # it and cannot prove it did not leave: held for a person.
    [row] = store.outbox.claim_due(world.clock(), owner="dead", lease=timedelta(seconds=1))
    store.outbox.mark_handed(row.id, "dead", now=world.clock())
    world.services.mailbox.sent_copy_is_atomic = False  # type: ignore[attr-defined]
    world.now[0] += timedelta(minutes=1)
    assert world.deliver() == []
    _, message = world.draft_message(draft.id)
    shown = texts(message["blocks"])
    assert "*May already have been sent*" in shown
    assert action_ids(message["blocks"]) == [Action.DRAFT_RESEND, Action.DRAFT_CANCEL]
    world.click(draft.id, Action.DRAFT_RESEND)
    world.drain()
    assert world.deliver() == [draft.id]
    assert len(world.services.mailbox.sent) == 1  # type: ignore[attr-defined]
    assert store.outbox.for_draft(draft.id).status is OutboxStatus.SENT  # type: ignore[union-attr]


@pytest.fixture
def live(store: Store, fake: FakeSlack) -> Iterator[World]:
    """As `followup run --http` serves it: acked first, decided after the response."""
    delegate = Delegate()
    server = Server(delegate, lifespan="on")
    worlds = build_world(store, fake, (server, delegate), decide_before_response=False)()
    world = next(worlds)
    try:
        with server:
            yield world
            world.runtime.listeners.close()
    finally:
        worlds.close()


def stored_clicks(world: World) -> list[tuple[str, bool]]:
    with world.services.store.engine.connect() as connection:
        rows = connection.execute(text("SELECT kind, done_at FROM slack_clicks ORDER BY id"))
        return [(kind, done is not None) for kind, done in rows]


def test_a_click_is_stored_before_its_ack_and_marked_done_once_decided(live: World) -> None:
    world = live
    [draft] = world.cycle()
    assert world.click(draft.id, Action.DRAFT_APPROVE).status_code == 200
    deadline = time.monotonic() + 5
    while stored_clicks(world) != [("approve", True)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stored_clicks(world) == [("approve", True)]
    assert world.services.store.drafts.get(draft.id).status is DraftStatus.APPROVED  # type: ignore[union-attr]


def test_a_click_acked_before_a_kill_is_decided_at_the_next_start(world: World) -> None:
    [draft] = world.cycle()
    channel, message = world.draft_message(draft.id)
    act = payloads.action(message["blocks"], Action.DRAFT_APPROVE)
    body = payloads.block_actions(act, user=MAYA, channel=channel, message=message)
    # What a process killed after the ack leaves behind: the click, stored, not decided.
    world.services.store.clicks.add("approve", json.dumps(body), now=world.clock())
    assert world.services.store.drafts.get(draft.id).status is DraftStatus.PENDING  # type: ignore[union-attr]
    world.now[0] += timedelta(seconds=5)
    assert world.runtime.listeners.drain_clicks() == 1  # the restarted process, at start
    world.drain()
    assert world.services.store.drafts.get(draft.id).status is DraftStatus.APPROVED  # type: ignore[union-attr]
    assert stored_clicks(world) == [("approve", True)]
    assert world.runtime.listeners.drain_clicks() == 0
    assert world.deliver() == [draft.id]
