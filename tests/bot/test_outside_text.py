"""Text from a CRM or a prospect is data: it pings nobody, links nowhere, and a message
never exceeds what Slack accepts, whatever the pipeline holds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from bot.ids import Action, Block
from storage.repos import Store
from tests.bot.conftest import MAYA, World, build_world, texts
from tests.bot.fake_slack import FakeSlack
from tests.factories import NOW, activity, contact, deal, owner
from triggers.drafts import DraftStatus, NewDraft
from triggers.model import ActivityKind, Direction, Pipeline

EVIL_NAME = "<!channel> Jordan"
EVIL_COMPANY = "<https://evil.example|click> & Co"
EVIL_TITLE = "@here rebuild <!everyone>"
EVIL_REPLY = "Sure <!here>, see <https://evil.example|our terms> and <@U0ADMIN>"


def hostile_pipeline() -> Pipeline:
    proposal = activity(
        ActivityKind.PROPOSAL_SENT,
        NOW - timedelta(days=6),
        subject="Proposal <!subteam^S0ALL>",
        message_id="<proposal-1@northwind.example>",
    )
    # An older inbound message: its text is quoted as evidence of "their last message".
    said = activity(
        ActivityKind.EMAIL,
        NOW - timedelta(days=7),
        id="a-said",
        direction=Direction.IN,
        from_address="jordan@globex.example",
        body=EVIL_REPLY,
    )
    return Pipeline(
        (owner(),),
        (contact(name=EVIL_NAME, company=EVIL_COMPANY),),
        (deal(title=EVIL_TITLE),),
        (said, proposal),
    )


@pytest.fixture
def hostile(store: Store, fake: FakeSlack, served: Any) -> Iterator[World]:
    yield from build_world(store, fake, served, pipeline=hostile_pipeline())()


def mrkdwn_objects(node: object) -> Iterator[dict[str, object]]:
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            yield node
        for value in node.values():
            yield from mrkdwn_objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from mrkdwn_objects(value)


def assert_inert(text: str) -> None:
    for dangerous in (
        "<!channel>",
        "<!here>",
        "<!everyone>",
        "<!subteam",
        "<https://evil",
        "<@U0ADMIN>",
    ):
        assert dangerous not in text, dangerous


def test_a_hostile_contact_pings_nobody_and_links_nowhere(hostile: World) -> None:
    [draft] = hostile.cycle()
    call = hostile.fake.calls("chat.postMessage")[0]
    raw = json.dumps(call.args)
    assert_inert(json.loads(raw)["text"])
    for obj in mrkdwn_objects(call.args["blocks"]):
        assert obj["verbatim"] is True
        assert_inert(str(obj["text"]))
    shown = texts(call.args["blocks"])
    assert "&lt;!channel&gt; Jordan" in shown
    assert "&lt;https://evil.example|click&gt; &amp; Co" in shown
    assert "@\u2060here rebuild" in shown  # a bare @here is broken, invisibly
    assert "&lt;!here&gt;" in shown  # the quoted reply, escaped
    # plain_text is never parsed by Slack: the title in the header stays readable as typed.
    header = next(b for b in call.args["blocks"] if b["type"] == "header")
    assert header["text"]["type"] == "plain_text"
    # The confirm dialog names the recipient in plain text.
    assert draft.to_address in raw


def test_a_hostile_contact_stays_inert_after_a_decision_and_in_the_modal(hostile: World) -> None:
    [draft] = hostile.cycle()
    hostile.click(draft.id, Action.DRAFT_EDIT)
    view = next(iter(hostile.fake.state.views.values()))
    for obj in mrkdwn_objects(view["blocks"]):
        assert_inert(str(obj["text"]))
    hostile.click(draft.id, Action.DRAFT_DISMISS, option="other")
    update = hostile.fake.calls("chat.update")[-1]
    assert_inert(update.args["text"])
    for obj in mrkdwn_objects(update.args["blocks"]):
        assert_inert(str(obj["text"]))


def test_a_hostile_deal_is_inert_in_command_replies(hostile: World) -> None:
    hostile.cycle()
    hostile.command("status rebuild")
    reply = hostile.reply_to()
    assert reply["response_type"] == "ephemeral"
    assert_inert(reply["text"])
    for obj in mrkdwn_objects(reply["blocks"]):
        assert_inert(str(obj["text"]))
    assert "@\u2060here rebuild" in texts(reply["blocks"])


def test_a_message_over_slacks_limits_is_cut_to_fit(world: World) -> None:
    [draft] = world.cycle()
    paragraph = "We could start with the discovery workshop and then move on. " * 8
    body = "\n\n".join(f"{i}. {paragraph}" for i in range(60))  # ~30,000 characters
    store = world.services.store
    huge = NewDraft(
        deal_id="d1",
        contact_id="c1",
        to_address="jordan@globex.example",
        trigger="proposal_no_reply",
        rule=None,  # not a rule draft, so it does not collide with the first one's anchor
        angle=None,
        anchor_at=NOW,
        due_at=NOW,
        send_at=world.clock(),
        reason="R" * 5000,
        evidence=tuple(f"Line {i}: " + "e" * 900 for i in range(40)),
        subject="S" * 2000,
        body=body,
        source="model",
        notice="N" * 4000,
        guardrail_failures=tuple(f"check {i} failed" for i in range(80)),
    )
    # One open draft per deal: free the deal first.
    store.drafts.transition(draft.id, DraftStatus.DISMISSED, actor="test", now=world.clock())
    big = store.drafts.insert(huge, now=world.clock())
    assert big is not None
    world.surface.publish(big, None)  # type: ignore[arg-type]
    world.drain()
    call = world.fake.calls("chat.postMessage")[-1]
    blocks = call.args["blocks"]
    assert len(blocks) <= 50
    for block in blocks:
        text = block.get("text") or {}
        assert len(text.get("text", "")) <= 3000
        for element in block.get("elements", []):
            assert (
                len(element.get("text", "")) <= 3000
                if isinstance(element.get("text"), str)
                else True
            )
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
    shown = texts(blocks)
    assert "*Edit* to see all." in shown
    body_block = next(
        b
        for b in blocks
        if b.get("text", {}).get("type") == "plain_text" and b["type"] == "section"
    )
    # Cut at a paragraph boundary, well inside Slack's limit.
    assert body_block["text"]["text"].endswith("move on.")
    assert len(body_block["text"]["text"]) <= 1200
    assert "(and 75 more)" in shown
    assert len(call.args["text"]) <= 3000
    # Edit: the body is longer than Slack's text boxes hold (5 x 3,000): a polite refusal.
    world.click(big.id, Action.DRAFT_EDIT)
    assert world.fake.calls("views.open") == []
    [note] = world.fake.ephemerals("U01MAYA")
    assert "longer than Slack's text boxes hold" in note["text"]


def test_a_long_body_is_edited_in_several_boxes_and_joined_back(world: World) -> None:
    [draft] = world.cycle()
    paragraph = "Here is a longer paragraph about the rollout plan and its milestones. " * 10
    body = "\n\n".join(f"{i}. {paragraph.strip()}" for i in range(12))  # ~8,500 characters
    saved = world.services.store.drafts.edit(
        draft.id,
        subject=draft.subject,
        body=body,
        expected_version=1,
        actor="test",
        now=world.clock(),
    )
    assert saved is not None
    world.surface.update(saved, None, "Edited")
    world.drain()
    world.click(draft.id, Action.DRAFT_EDIT)
    view = next(iter(world.fake.state.views.values()))
    boxes = [
        b
        for b in view["blocks"]
        if b["type"] == "input" and b["block_id"].startswith(Block.DRAFT_BODY)
    ]
    assert len(boxes) == 3
    assert all(
        len(b["element"]["initial_value"]) <= b["element"]["max_length"] == 3000 for b in boxes
    )
    from tests.bot import payloads

    response = world.interact(payloads.view_submission(view, {}, user=MAYA))
    assert response.status_code == 200
    assert response.text == ""
    sent = world.services.store.drafts.get(draft.id)
    assert sent is not None
    assert sent.status is DraftStatus.APPROVED
    assert sent.body == body  # unchanged text: no new version, approved as it was
    assert sent.version == 2


def test_a_hostile_deal_is_inert_in_ephemeral_notes(hostile: World) -> None:
    [draft] = hostile.cycle()
    hostile.click(draft.id, Action.DRAFT_MORE, option="pause-deal")
    [note] = hostile.fake.ephemerals("U01MAYA")
    assert_inert(note["text"])
    assert "&lt;!everyone&gt;" in note["text"]
