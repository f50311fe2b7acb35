"""/followup over signed HTTP: every reply ephemeral, deals found by what people call them,
several matches answered with a picker."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from storage.repos import Store
from tests.bot import payloads
from tests.bot.conftest import ADMIN, MAYA, STRANGER, World, build_world, texts
from tests.bot.fake_slack import FakeSlack
from tests.factories import NOW, activity, contact, deal, owner
from triggers.drafts import DraftStatus
from triggers.model import ActivityKind, ContactStatus, Pipeline


def test_help_is_answered_at_once_and_only_to_the_asker(world: World) -> None:
    response = world.command("help")
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert "`/followup snooze <deal> 3d`" in body["text"]
    assert world.fake.responses() == []  # nothing else was sent


def test_a_typo_gets_a_helpful_answer(world: World) -> None:
    body = world.command("snooze Globex").json()
    assert body["response_type"] == "ephemeral"
    assert "For how long? `/followup snooze &lt;deal&gt; 3d`" in body["text"]


def test_queue_lists_my_pending_drafts_with_links(world: World) -> None:
    world.cycle()
    [draft] = world.services.store.drafts.find()
    assert world.command("queue").status_code == 200
    reply = world.reply_to()
    assert reply["response_type"] == "ephemeral"
    shown = texts(reply["blocks"])
    assert "1 draft waits for your review" in shown
    assert (
        "*Globex website rebuild* → Jordan Lee · Proposal, no reply · arrives Mon 23 Nov 10:00 in Berlin"
        in shown
    )
    assert f"https://slack.com/archives/C0REVIEW/p{draft.slack_ts.replace('.', '')}" in shown  # type: ignore[union-attr]
    world.command("queue", user=ADMIN)
    assert "Nothing waits for your review" in world.reply_to()["text"]


def test_status_explains_every_rule(world: World) -> None:
    world.cycle()
    world.command("status globex")
    shown = texts(world.reply_to()["blocks"])
    assert "*Globex website rebuild* (dates in Europe/Berlin)" in shown
    assert "Draft #1 waits for review." in shown
    for label in (
        "Proposal, no reply",
        "Call, no next step",
        "Stage gone quiet",
        "Quote expired",
        "Lead went quiet",
    ):
        assert f"*{label}*" in shown
    assert "A draft for this deal is waiting for review" in shown


def test_why_tells_the_reason_and_the_evidence(world: World) -> None:
    world.cycle()
    world.command("why Jordan Lee")
    shown = texts(world.reply_to()["blocks"])
    assert "*Globex website rebuild*: draft #1 (waits for review), Proposal, no reply." in shown
    assert "*Why now:*" in shown
    assert "Proposal: “Proposal: website rebuild”" in shown


def test_pause_for_and_until_then_resume(world: World) -> None:
    [draft] = world.cycle()
    world.command("pause Globex for 2w")
    assert "Globex website rebuild is paused until" in world.reply_to()["text"]
    pause = world.services.store.pauses.active(world.clock())["d1"]
    assert pause.until == world.clock() + timedelta(weeks=2)
    saved = world.services.store.drafts.get(draft.id)
    assert saved is not None
    assert saved.status is DraftStatus.WITHDRAWN
    world.command("resume globex website rebuild")
    assert world.reply_to()["text"] == "Globex website rebuild is watched again."
    world.command("pause Globex until 2026-12-15")
    world.reply_to()
    pause = world.services.store.pauses.active(world.clock())["d1"]
    # The start of that day in the owner's zone (New York).
    assert pause.until is not None
    assert pause.until.astimezone(UTC) == datetime(2026, 12, 15, 5, 0, tzinfo=UTC)
    world.command("pause Globex until 2026-01-01")
    assert "has already begun" in world.reply_to()["text"]


def test_snooze_and_deprioritize_by_command(world: World) -> None:
    [draft] = world.cycle()
    world.command("snooze globex 3d")
    assert world.reply_to()["text"].startswith("Snoozed until Thu 26 Nov")
    saved = world.services.store.drafts.get(draft.id)
    assert saved is not None
    assert saved.status is DraftStatus.SNOOZED
    world.command("deprioritize Globex")
    assert world.reply_to()["text"] == "Globex website rebuild is deprioritized until resumed."
    assert (
        world.services.store.pauses.active(world.clock() + timedelta(days=400))["d1"].until is None
    )


def test_optout_by_command_withdraws_and_suppresses(world: World) -> None:
    [draft] = world.cycle()
    world.command("optout Jordan@Globex.example")
    assert world.reply_to()["text"] == "jordan@globex.example will not be written to again."
    assert world.services.store.suppressions.is_suppressed("jordan@globex.example")
    saved = world.services.store.drafts.get(draft.id)
    assert saved is not None
    assert saved.status is DraftStatus.WITHDRAWN
    _, message = world.draft_message(draft.id)
    assert "*Withdrawn* by <@U01MAYA>: contact opted out" in texts(message["blocks"])


def test_no_match_is_a_helpful_message(world: World) -> None:
    world.command("status Initech")
    assert world.reply_to()["text"] == (
        "No deal matches “Initech”. Try its title, the company, or the contact's name."
    )


def test_a_stranger_cannot_pause_someone_elses_deal(world: World) -> None:
    world.cycle()
    world.command("pause Globex", user=STRANGER)
    assert world.reply_to()["text"].startswith("Only the deal's owner or a followup admin")
    assert world.services.store.pauses.active(world.clock()) == {}


def two_globex_deals() -> Pipeline:
    maya = owner()
    first = deal()
    second = deal(id="d2", title="Globex support retainer", contact_ids=("c2",))
    people = (contact(), contact(id="c2", name="Pat Kim", email="pat@globex.example"))
    acts = (
        activity(ActivityKind.PROPOSAL_SENT, NOW - timedelta(days=4), subject="Proposal"),
        activity(
            ActivityKind.PROPOSAL_SENT,
            NOW - timedelta(days=4),
            id="a2",
            deal_id="d2",
            contact_id="c2",
        ),
    )
    return Pipeline((maya,), people, (first, second), acts)


@pytest.fixture
def two(store: Store, fake: FakeSlack, served: Any) -> Iterator[World]:
    yield from build_world(store, fake, served, pipeline=two_globex_deals())()


def test_several_matches_give_a_picker_and_the_pick_runs_the_command(two: World) -> None:
    two.cycle()
    two.command("snooze globex 1w")
    picker = two.reply_to()
    assert picker["response_type"] == "ephemeral"
    assert "2 deals match “globex”. Which one for `snooze`?" in texts(picker["blocks"])
    buttons = [e for b in picker["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["text"]["text"] for b in buttons] == [
        "Globex support retainer (Globex, Pat Kim)",
        "Globex website rebuild (Globex, Jordan Lee)",
    ]
    # The picker is an ephemeral message: its buttons come back with a response_url.
    message = {"ts": "1700000999.000100", "text": picker["text"], "blocks": picker["blocks"]}
    act = payloads.action(picker["blocks"], buttons[1]["action_id"])
    two.responses += 1
    payload = payloads.block_actions(
        act,
        user=MAYA,
        channel="C0REVIEW",
        message=message,
        ephemeral=True,
        response_url=two.fake.response_url(str(two.responses)),
    )
    assert two.interact(payload).status_code == 200
    answer = two.reply_to()
    assert answer["replace_original"] is True
    assert answer["text"].startswith("Snoozed until Mon 30 Nov")
    drafts = {d.deal_id: d.status for d in two.services.store.drafts.find()}
    assert drafts == {"d1": DraftStatus.SNOOZED, "d2": DraftStatus.PENDING}


def test_a_deal_is_found_by_contact_name_company_or_title(two: World) -> None:
    two.cycle()
    two.command("why pat kim")
    assert "*Globex support retainer*" in texts(two.reply_to()["blocks"])
    two.command("status “Globex website rebuild”")
    assert "*Globex website rebuild* (dates in" in texts(two.reply_to()["blocks"])


def test_an_opted_out_contact_shows_in_status_as_the_reason(two: World) -> None:
    store = two.services.store
    store.pipeline.sync(two_globex_deals(), NOW)
    store.pipeline.set_contact_status("c2", ContactStatus.DO_NOT_CONTACT, NOW)
    two.command("status retainer")
    assert "No contact can be written to" in texts(two.reply_to()["blocks"])
