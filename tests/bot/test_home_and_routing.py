"""App Home (each person's own queue, with counts per rule and the same actions), drafts sent
to the owner's DM, and owners known to Slack only by their email."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from bot.ids import Action
from bot.surface import Destination
from storage.repos import Store
from tests.bot import payloads
from tests.bot.conftest import MAYA, World, build_world, has_actions, texts
from tests.bot.fake_slack import FakeSlack
from tests.factories import NOW, activity, contact, deal, owner
from triggers.drafts import DraftStatus
from triggers.model import ActivityKind, Pipeline


def test_app_home_shows_my_queue_with_counts_and_actions(world: World) -> None:
    [draft] = world.cycle()
    response = world.event(payloads.app_home_opened("U01MAYA"))
    assert response.status_code == 200
    home = world.fake.home("U01MAYA")
    shown = texts(home["blocks"])
    assert "*1 draft waits for you* · Proposal, no reply 1" in shown
    assert "*Globex website rebuild* · to Jordan Lee (Globex)" in shown
    _, approve = payloads.find_element(home["blocks"], Action.DRAFT_APPROVE)
    assert approve["confirm"]  # the same confirm dialog as in the channel
    # Approving from the Home tab: the channel message follows and Home refreshes.
    view = {"id": "VHOME", "type": "home", "blocks": home["blocks"], "hash": "h"}
    act = payloads.action(home["blocks"], Action.DRAFT_APPROVE)
    world.interact(payloads.block_actions(act, user=MAYA, view=view))
    saved = world.services.store.drafts.get(draft.id)
    assert saved is not None
    assert saved.status is DraftStatus.APPROVED
    assert "Nothing waits for you" in texts(world.fake.home("U01MAYA")["blocks"])
    _, message = world.draft_message(draft.id)
    assert "*Approved* by <@U01MAYA>" in texts(message["blocks"])


def test_app_home_of_someone_without_deals_is_friendly(world: World) -> None:
    world.cycle()
    world.event(payloads.app_home_opened("U0ADMIN"))
    assert "Nothing waits for you" in texts(world.fake.home("U0ADMIN")["blocks"])


def test_a_retried_home_event_is_harmless(world: World) -> None:
    world.cycle()
    event = payloads.app_home_opened("U01MAYA")
    world.event(event)
    world.event(event, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert len(world.fake.calls("views.publish")) == 2
    assert "1 draft waits for you" in texts(world.fake.home("U01MAYA")["blocks"])


def test_an_unauthorized_click_in_app_home_is_refused_in_a_modal(world: World) -> None:
    [draft] = world.cycle()
    world.event(payloads.app_home_opened("U01MAYA"))
    home = world.fake.home("U01MAYA")
    view = {"id": "VHOME", "type": "home", "blocks": home["blocks"], "hash": "h"}
    act = payloads.action(home["blocks"], Action.DRAFT_APPROVE)
    world.interact(payloads.block_actions(act, user=("U0STRANGER", "sam"), view=view))
    [opened] = world.fake.calls("views.open")
    assert "Only the deal's owner" in str(opened.args["view"])
    saved = world.services.store.drafts.get(draft.id)
    assert saved is not None
    assert saved.status is DraftStatus.PENDING


def email_owner_pipeline() -> Pipeline:
    """Lee owns the deal and has no slack_user_id in the CRM: Slack knows Lee's email."""
    lee = owner(
        id="u2", name="Lee Park", email="LEE@northwind.example", slack_user_id=None, timezone=None
    )
    proposal = activity(ActivityKind.PROPOSAL_SENT, NOW - timedelta(days=4), subject="Proposal")
    return Pipeline((lee,), (contact(),), (deal(owner_id="u2"),), (proposal,))


@pytest.fixture
def by_email(store: Store, fake: FakeSlack, served: Any) -> Iterator[World]:
    yield from build_world(store, fake, served, pipeline=email_owner_pipeline())()


def test_an_owner_matched_by_email_is_mentioned_and_may_approve(by_email: World) -> None:
    [draft] = by_email.cycle()
    [lookup] = by_email.fake.calls("users.lookupByEmail")
    assert lookup.args == {"email": "LEE@northwind.example"}
    _, message = by_email.draft_message(draft.id)
    assert "*Owner*\n<@U0LEE>" in texts(message["blocks"])
    by_email.click(draft.id, Action.DRAFT_APPROVE, user=("U0LEE", "lee"))
    saved = by_email.services.store.drafts.get(draft.id)
    assert saved is not None
    assert saved.status is DraftStatus.APPROVED
    _, message = by_email.draft_message(draft.id)
    # Lee's zone comes from Slack's profile: Tokyo, 18:00.
    assert "*Approved* by <@U0LEE> at 18:00 Tokyo time" in texts(message["blocks"])
    assert len(by_email.fake.calls("users.lookupByEmail")) == 1  # cached
    by_email.event(payloads.app_home_opened("U0LEE"))
    assert "Nothing waits for you" in texts(by_email.fake.home("U0LEE")["blocks"])


def test_someone_else_is_still_refused_on_an_email_matched_deal(by_email: World) -> None:
    [draft] = by_email.cycle()
    by_email.click(draft.id, Action.DRAFT_APPROVE, user=MAYA)
    saved = by_email.services.store.drafts.get(draft.id)
    assert saved is not None
    assert saved.status is DraftStatus.PENDING
    assert by_email.fake.ephemerals("U01MAYA")


@pytest.fixture
def dms(store: Store, fake: FakeSlack, served: Any) -> Iterator[World]:
    destination = Destination(review_channel="C0REVIEW", drafts_to="owner_dm")
    yield from build_world(store, fake, served, destination=destination)()


def test_drafts_go_to_the_owners_dm_when_configured(dms: World) -> None:
    [draft] = dms.cycle()
    [opened] = dms.fake.calls("conversations.open")
    assert opened.args == {"users": "U01MAYA"}
    channel, message = dms.draft_message(draft.id)
    assert channel == "D01MAYA"
    assert has_actions(message["blocks"])
    dms.click(draft.id, Action.DRAFT_DISMISS, option="not_now")
    _, message = dms.draft_message(draft.id)
    assert "*Dismissed*" in texts(message["blocks"])
