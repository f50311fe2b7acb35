"""Decisions give way to Slack's requests in flight, for a bounded time; work a request waits
for goes first. As served, a click is decided promptly and the Edit modal opens at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from bot.ids import Action
from bot.traffic import GIVE_WAY, DecisionQueue, Traffic
from storage.repos import Store
from tests.bot.conftest import STRANGER, Delegate, Server, World, action_ids, build_world
from tests.bot.fake_slack import FakeSlack
from triggers.drafts import DraftStatus


def test_a_decision_waits_for_the_request_in_flight_then_runs() -> None:
    traffic = Traffic(settle=0.01)
    queue = DecisionQueue(traffic)
    ran = threading.Event()
    try:
        with traffic.request():
            done = queue.submit(ran.set, give_way=5.0)
            assert not ran.wait(0.2)  # the ack's turn: nothing decided meanwhile
        done.result(timeout=2)  # quiet again: decided at once, not after the 5 s
        assert ran.is_set()
    finally:
        queue.shutdown()


def test_giving_way_is_bounded_under_endless_traffic() -> None:
    traffic = Traffic()
    queue = DecisionQueue(traffic)
    try:
        with traffic.request():
            started = time.monotonic()
            queue.submit(lambda: None, give_way=0.2).result(timeout=2)
            assert 0.15 < time.monotonic() - started < 1.5
    finally:
        queue.shutdown()


def test_work_a_request_waits_for_goes_before_the_decisions_queued() -> None:
    traffic = Traffic()
    queue = DecisionQueue(traffic)
    order: list[str] = []
    try:
        with traffic.request():
            deferred = [
                queue.submit(lambda: order.append("d1"), give_way=5.0),
                queue.submit(lambda: order.append("d2"), give_way=5.0),
            ]
            queue.submit(lambda: order.append("answer"), give_way=0.0).result(timeout=1)
            assert order == ["answer"]
        for future in deferred:
            future.result(timeout=2)
        assert order == ["answer", "d1", "d2"]
    finally:
        queue.shutdown()


def test_a_failed_decision_reaches_its_future_and_the_worker_goes_on() -> None:
    queue = DecisionQueue(Traffic())
    try:

        def boom() -> None:
            raise RuntimeError("storage is gone")

        failed = queue.submit(boom, give_way=0.0)
        assert isinstance(failed.exception(timeout=2), RuntimeError)
        assert queue.submit(lambda: 42, give_way=0.0).result(timeout=2) == 42
    finally:
        queue.shutdown()


# --------------------------------------------------------------------------- as it is served


@pytest.fixture
def served_live(store: Store, fake: FakeSlack) -> Iterator[World]:
    """As `followup run` serves it: uvicorn with the lifespan protocol on (bot.http.serve),
    every click acked first and decided after the response."""
    delegate = Delegate()
    server = Server(delegate, lifespan="on")
    worlds = build_world(store, fake, (server, delegate), decide_before_response=False)()
    world = next(worlds)  # the app is plugged in before uvicorn starts its lifespan
    try:
        with server:
            yield world
            world.runtime.listeners.close()
    finally:
        worlds.close()


def test_a_click_is_decided_promptly_while_the_lifespan_is_open(served_live: World) -> None:
    world = served_live
    [draft] = world.cycle()
    clicked = time.monotonic()
    assert world.click(draft.id, Action.DRAFT_APPROVE).status_code == 200
    world.fake.wait_for(lambda: updated(world), timeout=5)
    # Bolt's lifespan handler stays open until shutdown; it is no request in flight.
    assert time.monotonic() - clicked < GIVE_WAY / 3
    assert world.services.store.drafts.get(draft.id).status is DraftStatus.APPROVED  # type: ignore[union-attr]
    assert action_ids(world.draft_message(draft.id)[1]["blocks"]) == ["draft-cancel"]


def updated(world: World) -> bool:
    """Whether Slack has updated a message (called with the fake's lock held)."""
    return any(c.method == "chat.update" and c.status == 200 for c in world.fake.state.calls)


def test_the_edit_modal_opens_while_a_slow_decision_holds_the_worker(served_live: World) -> None:
    world = served_live
    [draft] = world.cycle()
    # A stranger's click is refused in an ephemeral note, which Slack rate-limits: the one
    # decision worker sits out the Retry-After.
    world.fake.fail("chat.postEphemeral", retry_after=2)
    world.click(draft.id, Action.DRAFT_APPROVE, user=STRANGER)
    world.fake.wait_for(
        lambda: any(c.method == "chat.postEphemeral" for c in world.fake.state.calls), timeout=3
    )
    clicked = time.monotonic()
    assert world.click(draft.id, Action.DRAFT_EDIT).status_code == 200
    world.fake.wait_for(
        lambda: any(c.method == "views.open" and c.status == 200 for c in world.fake.state.calls),
        timeout=3,
    )
    assert time.monotonic() - clicked < 1.0  # well within the trigger_id's 3 s
    assert len(world.fake.calls("views.open")) == 1
    assert [view["callback_id"] for view in world.fake.state.views.values()] == [
        "draft-edit-submit"
    ]
    world.fake.wait_for(lambda: bool(world.fake.state.ephemerals), timeout=5)
    assert world.fake.ephemerals("U0STRANGER")[0]["text"].startswith("Only the deal's owner")
