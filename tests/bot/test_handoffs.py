"""Handoffs and owner questions in Slack: the real Bolt app, signed clicks, the fake Web API."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2

from app import build
from bot.handoffs import SlackHandoffSurface, answer_action_id
from flows.cadences import InboundReply, cadence_store, enroll, handle_reply_for_cadence
from flows.cycle import CycleReport, sync_crm
from flows.ports import Actor, NoHandoffSurface
from flows.review import deal_view
from prompts.classify import classify_reply
from tests.bot import payloads
from tests.bot.conftest import MAYA, STRANGER, World, has_actions, texts
from tests.bot.fake_slack import FakeSlack
from tests.bot.test_runtime import settings_for
from triggers.cadence import Choice, EnrolmentStatus, OwnerQuestion, QuestionKind

OWNER = Actor.slack("U01MAYA", "maya")


def _reply(world: World, text: str) -> Any:
    now = world.clock()
    sync_crm(world.services, now, CycleReport(now))
    enrolled = enroll(world.services, "d1", None, None, OWNER, now)
    assert enrolled.ok, enrolled.message
    at = now + timedelta(hours=2)
    world.now[0] = at
    reply = InboundReply("jordan@globex.example", at, text, "<r1@globex.example>", "d1", "c1")
    return handle_reply_for_cadence(world.services, reply, classify_reply(text, received_at=at), at)


def _only_post(world: World) -> tuple[str, str, dict[str, Any]]:
    """The one message posted: its channel, ts and content."""
    assert len(world.fake.calls("chat.postMessage", ok_only=True)) == 1
    return world.fake.only_message()


def _click(
    world: World,
    channel: str,
    ts: str,
    choice: Choice,
    user: tuple[str, str],
    message: dict[str, Any] | None = None,
) -> httpx2.Response:
    """A click on the message as it is in Slack now (or as a stale client still shows it)."""
    message = message or world.fake.message(channel, ts)
    act = payloads.action(message["blocks"], answer_action_id(choice))
    world.responses += 1
    payload = payloads.block_actions(
        act,
        user=user,
        channel=channel,
        message=message,
        response_url=world.fake.response_url(str(world.responses)),
    )
    return world.interact(payload)


def test_slack_is_the_handoff_surface(world: World) -> None:
    assert isinstance(world.services.handoffs, SlackHandoffSurface)


def test_a_handoff_is_one_message_sentiment_first_with_the_mention(world: World) -> None:
    outcome = _reply(world, "Sounds great <!channel> @here, can we set up a call next week?")
    [handoff] = outcome.handoffs
    assert handoff.routed_to == "U01MAYA"  # no account executive configured: the owner
    channel, _, message = _only_post(world)
    assert channel != "C0REVIEW"  # a DM to the routed person
    [opened] = world.fake.calls("conversations.open", ok_only=True)
    assert "U01MAYA" in str(opened.args["users"])
    shown = texts(message["blocks"])
    assert shown.startswith("<@U01MAYA> *Warm interest*: Jordan Lee (Globex) replied")
    assert "&lt;!channel&gt;" in shown
    assert "<!channel>" not in shown
    assert "@here" not in shown  # broken with a word joiner
    assert "Stage before the reply: proposal" in shown
    assert not has_actions(message["blocks"])


def test_a_question_is_answered_once_by_the_owner_and_never_by_a_stranger(
    world: World,
) -> None:
    outcome = _reply(world, "Let's talk next quarter.")
    [question] = outcome.questions
    assert question.kind is QuestionKind.PAUSE_KEEP_STOP
    channel, ts, message = _only_post(world)
    assert has_actions(message["blocks"])
    for element in message["blocks"][-1]["elements"]:
        assert "next quarter" not in element["value"]  # ids only, never text
    store = cadence_store(world.services)

    _click(world, channel, ts, Choice.KEEP_RUNNING, STRANGER)
    still = store.questions.get(question.id)
    assert still is not None
    assert still.status == "open"
    [refusal] = world.fake.ephemerals("U0STRANGER")
    assert "Only the deal's owner" in refusal["text"]
    assert has_actions(world.fake.message(channel, ts)["blocks"])

    shown = world.fake.message(channel, ts)
    _click(world, channel, ts, Choice.KEEP_RUNNING, MAYA, shown)
    _click(world, channel, ts, Choice.KEEP_RUNNING, MAYA, shown)  # a double click
    _click(world, channel, ts, Choice.STOP, MAYA, shown)  # a stale client: still no change
    answered = store.questions.get(question.id)
    assert answered is not None
    assert (answered.status, answered.answer, answered.answered_by) == (
        "answered",
        "keep_running",
        "slack:U01MAYA",
    )
    enrolment = store.enrolments.get(question.enrolment_id)
    assert enrolment is not None
    assert enrolment.status is EnrolmentStatus.ACTIVE
    audit = [e for e in world.services.store.audit.recent(50) if e.action == "cadence_answer"]
    assert len(audit) == 1
    [late] = world.fake.ephemerals("U01MAYA")  # only the different, later answer hears why
    assert "already answered" in late["text"]
    updated = world.fake.message(channel, ts)
    assert not has_actions(updated["blocks"])
    assert "Answered: kept running, by <@U01MAYA>" in texts(updated["blocks"])


def test_build_wires_the_slack_handoff_surface(tmp_path: Path, fake: FakeSlack) -> None:
    application = build(settings_for(tmp_path, fake))
    handoffs = application.services.handoffs
    assert isinstance(handoffs, SlackHandoffSurface)
    assert handoffs.review_channel == "C0REVIEW"
    assert isinstance(build(settings_for(tmp_path, None)).services.handoffs, NoHandoffSurface)


def test_a_question_without_a_handoff_goes_to_the_owner(world: World) -> None:
    sync_crm(world.services, world.clock(), CycleReport(world.clock()))
    view = deal_view(world.services, "d1")
    assert view is not None
    question = OwnerQuestion(
        id=7,
        enrolment_id=1,
        deal_id="d1",
        contact_id="c1",
        kind=QuestionKind.STALE_ADDRESS,
        text="Jordan <jordan@globex.example> may have moved on: keep running or stop?",
        proposed_until=None,
        created_at=world.clock(),
    )
    world.services.handoffs.ask_owner(question, view)
    _, _, message = _only_post(world)
    shown = texts(message["blocks"])
    assert shown.startswith("<@U01MAYA> Jordan &lt;jordan@globex.example&gt; may have moved on")
    buttons = [e["action_id"] for e in message["blocks"][-1]["elements"]]
    assert buttons == [answer_action_id(Choice.KEEP_RUNNING), answer_action_id(Choice.STOP)]
