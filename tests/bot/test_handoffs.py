"""Handoffs and owner questions in Slack: the real Bolt app, signed clicks, the fake Web API."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2

from app import build
from bot.handoffs import SlackHandoffSurface, answer_action_id
from crm.fake import FakeCrm
from flows.cadences import (
    MAX_POST_REFUSALS,
    InboundReply,
    cadence_store,
    enroll,
    handle_reply_for_cadence,
    post_unposted_handoffs,
)
from flows.cycle import CycleReport, sync_crm
from flows.ports import Actor, NoHandoffSurface
from flows.review import deal_view
from tests.bot import payloads
from tests.bot.conftest import MAYA, STRANGER, World, has_actions, texts
from tests.bot.fake_slack import FakeSlack
from tests.bot.test_runtime import settings_for
from tests.factories import proposal_pipeline
from tests.reading.helpers import classify_reply
from triggers.cadence import Choice, EnrolmentStatus, OwnerQuestion, QuestionKind
from triggers.handoff import Handoff, RoutingConfig

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
    [row] = [b for b in message["blocks"] if b["type"] == "actions"]  # only "Done"
    assert [e["action_id"] for e in row["elements"]] == ["handoff-done"]


def _press_done(world: World, channel: str, ts: str, user: tuple[str, str]) -> None:
    message = world.fake.message(channel, ts)
    act = payloads.action(message["blocks"], "handoff-done")
    world.responses += 1
    world.interact(
        payloads.block_actions(
            act,
            user=user,
            channel=channel,
            message=message,
            response_url=world.fake.response_url(str(world.responses)),
        )
    )


def test_done_on_a_handoff_records_who_acted_and_says_so(world: World) -> None:
    """Issue 11 item 7: a handoff's "Done" records who acted (record_handoff_action had no
    caller); only the person it is for, the owner or an admin may press it."""
    outcome = _reply(world, "Sounds great, can we set up a call next week?")
    [handoff] = outcome.handoffs
    channel, ts, _ = _only_post(world)
    store = cadence_store(world.services)
    _press_done(world, channel, ts, STRANGER)
    assert store.handoffs.get(handoff.id).acted_by is None  # type: ignore[union-attr]
    [refusal] = world.fake.ephemerals("U0STRANGER")
    assert "Only the person it was routed to" in refusal["text"]
    _press_done(world, channel, ts, MAYA)
    acted = store.handoffs.get(handoff.id)
    assert acted is not None
    assert (acted.acted_by, acted.action) == ("U01MAYA", "done")
    updated = world.fake.message(channel, ts)
    assert not has_actions(updated["blocks"])
    assert "Done by <@U01MAYA>" in texts(updated["blocks"])


def test_opt_out_words_the_rules_did_not_read_as_one_are_flagged_for_a_person(
    world: World,
) -> None:
    _reply(world, "Honestly, this feels like spam to me.")
    _, _, message = _only_post(world)
    lines = texts(message["blocks"]).splitlines()
    assert lines[0].startswith("<@U01MAYA> *Frustration*")  # sentiment still first
    assert lines[1].startswith("Check first: it uses words of an opt-out")
    assert "/followup optout" in lines[1]


def test_a_plain_reply_carries_no_opt_out_check(world: World) -> None:
    _reply(world, "Our meeting was cancelled, sorry. Can we find another slot next week?")
    _, _, message = _only_post(world)
    assert "Check first" not in texts(message["blocks"])


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


def _replies(world: World, *said: str) -> list[Handoff]:
    """Jordan replies once per text, an hour apart: the first stops the cadence, each is
    handed off."""
    start = world.clock()
    sync_crm(world.services, start, CycleReport(start))
    assert enroll(world.services, "d1", None, None, OWNER, start).ok
    handoffs: list[Handoff] = []
    for n, text in enumerate(said, start=1):
        at = start + timedelta(hours=n)
        world.now[0] = at
        reply = InboundReply(
            "jordan@globex.example", at, text, f"<r{n}@globex.example>", "d1", "c1"
        )
        outcome = handle_reply_for_cadence(
            world.services, reply, classify_reply(text, received_at=at), at
        )
        [handoff] = outcome.handoffs
        handoffs.append(handoff)
    return handoffs


SAID = (
    "Sounds great, can we set up a call next week?",
    "Also, could you send the security questionnaire?",
    "And please loop in our CFO, Dana Whitfield.",
)


def test_handoffs_survive_a_slack_outage_posted_once_each_in_order(world: World) -> None:
    world.fake.fail("chat.postMessage", status=503, times=10_000, retry_after=None)
    handoffs = _replies(world, *SAID)
    ids = [h.id for h in handoffs]
    store = cadence_store(world.services)
    assert [d.handoff.id for d in store.handoffs.unposted()] == ids  # kept, none lost
    assert world.fake.calls("chat.postMessage", ok_only=True) == []
    first = store.handoffs.delivery(ids[0])
    assert first is not None
    assert first.posted_at is None
    assert first.error is not None
    assert "internal_error" in first.error

    # Slack is still down: the pass stops at the first failure, the order is kept.
    during = post_unposted_handoffs(world.services, world.clock() + timedelta(minutes=1))
    assert (during.posted, during.failed) == ([], ids[:1])

    world.fake.recover("chat.postMessage")
    after = post_unposted_handoffs(world.services, world.clock() + timedelta(minutes=2))
    assert after.posted == ids
    posts = world.fake.calls("chat.postMessage", ok_only=True)
    assert [str(c.args["channel"]) for c in posts] == ["D01MAYA"] * 3
    shown = [texts(world.fake.message("D01MAYA", ts)["blocks"]) for ts in _timestamps(world)]
    for message, said in zip(shown, SAID, strict=True):
        assert message.startswith("<@U01MAYA> ")
        assert said.split(",")[0] in message  # each reply's own handoff, in order

    again = post_unposted_handoffs(world.services, world.clock() + timedelta(minutes=3))
    assert (again.posted, again.failed) == ([], [])
    assert len(world.fake.calls("chat.postMessage", ok_only=True)) == 3  # nothing twice
    assert store.handoffs.unposted() == []
    audit = world.services.store.audit.recent(100)
    kept = sorted(e.subject for e in audit if e.action == "handoff_unposted")
    assert kept == sorted(f"handoff:{n}" for n in ids)  # said once each, not on every retry


def _timestamps(world: World) -> list[str]:
    return [str(ts) for (channel, ts) in world.fake.state.messages if channel == "D01MAYA"]


def test_a_refused_handoff_does_not_hold_up_the_others(world: World) -> None:
    world.fake.fail("chat.postMessage", status=503, times=10_000, retry_after=None)
    handoffs = _replies(world, *SAID[:2])
    world.fake.recover("chat.postMessage")
    store = cadence_store(world.services)
    # Slack refuses the first (a 4xx: not an outage), and the pass goes on to the next.
    world.fake.fail("chat.postMessage", status=400, times=1, retry_after=None)
    report = post_unposted_handoffs(world.services, world.clock() + timedelta(minutes=1))
    assert report.failed == [handoffs[0].id]
    assert report.posted == [handoffs[1].id]
    assert [d.handoff.id for d in store.handoffs.unposted()] == [handoffs[0].id]
    later = post_unposted_handoffs(world.services, world.clock() + timedelta(minutes=2))
    assert later.posted == [handoffs[0].id]
    assert len(world.fake.calls("chat.postMessage", ok_only=True)) == 2


def test_a_handoff_slack_keeps_refusing_is_given_up_and_said_so(world: World) -> None:
    world.fake.fail("chat.postMessage", status=503, times=10_000, retry_after=None)
    [refused] = _replies(world, SAID[0])
    world.fake.recover("chat.postMessage")
    world.fake.fail("chat.postMessage", status=400, times=MAX_POST_REFUSALS, retry_after=None)
    store = cadence_store(world.services)
    for minute in range(1, MAX_POST_REFUSALS + 1):
        report = post_unposted_handoffs(world.services, world.clock() + timedelta(minutes=minute))
        assert report.failed == [refused.id]
    # Given up: no more calls for it, and the audit log says why.
    assert store.handoffs.unposted() == []
    later = post_unposted_handoffs(world.services, world.clock() + timedelta(minutes=30))
    assert (later.posted, later.failed) == ([], [])
    assert world.fake.calls("chat.postMessage", ok_only=True) == []
    audit = world.services.store.audit.recent(100)
    [given_up] = [e for e in audit if e.action == "handoff_not_posted"]
    assert given_up.subject == "deal:d1"


def test_a_revoked_token_is_waited_out_not_given_up(world: World) -> None:
    world.fake.fail("chat.postMessage", status=503, times=10_000, retry_after=None)
    [handoff] = _replies(world, SAID[0])
    # An admin takes a while to reinstall the app: every call is refused alike meanwhile.
    world.fake.fail(
        "chat.postMessage", status=200, times=10_000, retry_after=None, error="token_revoked"
    )
    store = cadence_store(world.services)
    for minute in range(1, 3 * MAX_POST_REFUSALS):
        post_unposted_handoffs(world.services, world.clock() + timedelta(minutes=minute))
    assert [d.handoff.id for d in store.handoffs.unposted()] == [handoff.id]  # kept
    world.fake.recover("chat.postMessage")
    after = post_unposted_handoffs(world.services, world.clock() + timedelta(hours=1))
    assert after.posted == [handoff.id]
    assert len(_timestamps(world)) == 1  # one message reached Maya


def test_without_crm_tasks_the_routed_person_gets_a_slack_reminder(world: World) -> None:
    world.fake.clock = lambda: world.clock().timestamp()
    world.services.policy = replace(
        world.services.policy, routing=RoutingConfig(roles={"account_executive": "U0LEE"})
    )
    [handoff] = _replies(world, SAID[0])
    assert handoff.routed_to == "U0LEE"
    assert handoff.crm_task_id is None
    [reminder] = world.fake.scheduled()
    assert reminder["channel"] == "D0LEE"  # the routed person's DM, not the owner's
    assert handoff.task_due_at is not None
    assert reminder["post_at"] == int(handoff.task_due_at.timestamp())
    assert handoff.task_due_at == world.clock() + timedelta(hours=24)
    shown = texts(reminder["blocks"])
    assert shown.startswith("<@U0LEE> Reminder: Handoff: Warm interest: Jordan Lee (Globex)")
    delivery = cadence_store(world.services).handoffs.delivery(handoff.id)
    assert delivery is not None
    assert delivery.reminder_id == reminder["id"]
    assert delivery.posted_at is not None


class TaskCrm(FakeCrm):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.tasks: list[tuple[str, str, str, datetime]] = []

    def create_task(self, deal_id: str, owner_id: str, title: str, due_at: datetime) -> str:
        self.tasks.append((deal_id, owner_id, title, due_at))
        return "T-1"


def test_a_crm_that_keeps_tasks_gets_the_task_and_slack_no_reminder(world: World) -> None:
    crm = TaskCrm(proposal_pipeline())
    world.services.crm = crm
    [handoff] = _replies(world, SAID[0])
    assert handoff.crm_task_id == "T-1"
    assert len(crm.tasks) == 1
    assert world.fake.scheduled() == []
    assert world.fake.calls("chat.scheduleMessage") == []


def test_a_reminder_lost_to_the_outage_is_scheduled_with_the_late_post(world: World) -> None:
    world.fake.clock = lambda: world.clock().timestamp()
    for method in ("chat.postMessage", "chat.scheduleMessage"):
        world.fake.fail(method, status=503, times=10_000, retry_after=None)
    [handoff] = _replies(world, SAID[0])
    assert world.fake.scheduled() == []
    for method in ("chat.postMessage", "chat.scheduleMessage"):
        world.fake.recover(method)
    later = world.clock() + timedelta(hours=1)
    assert post_unposted_handoffs(world.services, later).posted == [handoff.id]
    [reminder] = world.fake.scheduled()
    assert handoff.task_due_at is not None
    assert reminder["post_at"] == int(handoff.task_due_at.timestamp())  # still the due time
    delivery = cadence_store(world.services).handoffs.delivery(handoff.id)
    assert delivery is not None
    assert delivery.reminder_id == reminder["id"]
