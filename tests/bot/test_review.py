"""A draft in Slack as a founder lives it: posted, approved once, edited, dismissed, snoozed;
refused to strangers; over signed HTTP requests to the real Bolt app."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from slack_sdk.signature import Clock

from bot.ids import Action, Block
from crm.fake import FakeCrm
from tests.bot import payloads
from tests.bot.conftest import (
    ADMIN,
    MAYA,
    ON_EACH_DATABASE,
    SECRET,
    STRANGER,
    World,
    has_actions,
    texts,
)
from triggers.drafts import DraftStatus, OutboxStatus
from triggers.model import DealStatus


def test_a_new_draft_is_posted_with_who_why_the_draft_and_when_it_arrives(world: World) -> None:
    [draft] = world.cycle()
    channel, message = world.draft_message(draft.id)
    assert channel == "C0REVIEW"
    shown = texts(message["blocks"])
    assert "Follow-up: Globex website rebuild" in shown
    assert "Jordan Lee\nGlobex\njordan@globex.example" in shown  # who
    assert "proposal\n" in shown or "proposal ·" in shown  # stage
    assert "$18,000" in shown
    assert "<@U01MAYA>" in shown
    assert "*Why now* · Proposal, no reply" in shown
    assert "Proposal: “Proposal: website rebuild”" in shown  # the evidence
    assert f"*Subject:* {draft.subject}" in shown
    assert draft.body.strip()[:60] in shown
    # Arrival in the contact's zone and the owner's.
    assert "Arrives Mon 23 Nov 10:00 in Berlin (Mon 23 Nov 04:00 New York, owner's time)" in shown
    _, approve = payloads.find_element(message["blocks"], Action.DRAFT_APPROVE)
    assert approve["style"] == "primary"
    confirm = approve["confirm"]["text"]["text"]
    assert "Jordan Lee <jordan@globex.example>" in confirm
    assert "Mon 23 Nov 10:00 Berlin" in confirm
    _, dismiss = payloads.find_element(message["blocks"], Action.DRAFT_DISMISS)
    assert [o["text"]["text"] for o in dismiss["options"]] == [
        "Not now",
        "Deprioritize this deal",
        "Wrong moment",
        "Other",
    ]
    _, more = payloads.find_element(message["blocks"], Action.DRAFT_MORE)
    assert [o["text"]["text"] for o in more["options"]] == [
        "Snooze 1 day",
        "Snooze 3 days",
        "Snooze 1 week",
        "Pause deal",
    ]
    # Button values carry ids and a version, never the draft's text.
    assert json.loads(approve["value"]) == {"k": "draft", "d": draft.id, "v": 1}
    assert "Globex website rebuild" in message["text"]


@ON_EACH_DATABASE
def test_approve_sends_once_under_a_double_click(world: World) -> None:
    [draft] = world.cycle()
    channel, message = world.draft_message(draft.id)
    act = payloads.action(message["blocks"], Action.DRAFT_APPROVE)
    payload = payloads.block_actions(act, user=MAYA, channel=channel, message=message)
    statuses: list[int] = []

    def click() -> None:
        statuses.append(world.interact(payload).status_code)

    clicks = [threading.Thread(target=click) for _ in range(2)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join()
    assert statuses == [200, 200]
    assert len(world.services.store.outbox.find()) == 1
    assert world.deliver() == [draft.id]
    assert world.deliver() == []
    assert len(world.services.mailbox.sent) == 1  # type: ignore[attr-defined]
    _, message = world.draft_message(draft.id)
    shown = texts(message["blocks"])
    assert "*Sent* by <@U01MAYA> at 04:00 New York time, arrives 10:00 in Berlin" in shown
    assert not has_actions(message["blocks"])  # buttons gone
    assert world.fake.ephemerals() == []  # her own double click needs no explaining


@ON_EACH_DATABASE
def test_approve_sends_once_under_a_retried_request(world: World) -> None:
    [draft] = world.cycle()
    channel, message = world.draft_message(draft.id)
    act = payloads.action(message["blocks"], Action.DRAFT_APPROVE)
    body = payloads.interaction_body(
        payloads.block_actions(act, user=MAYA, channel=channel, message=message)
    )
    headers = payloads.signed_headers(
        body, SECRET, content_type="application/x-www-form-urlencoded"
    )
    first = world.http.post("/slack/events", content=body, headers=headers)
    retried = world.http.post(
        "/slack/events",
        content=body,
        headers=headers | {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    world.drain()
    assert (first.status_code, retried.status_code) == (200, 200)
    [row] = world.services.store.outbox.find()
    assert row.status is OutboxStatus.QUEUED
    world.deliver()
    assert len(world.services.mailbox.sent) == 1  # type: ignore[attr-defined]
    events = [e.to_status for e in world.services.store.drafts.events(draft.id)]
    assert events == [DraftStatus.PENDING, DraftStatus.APPROVED, DraftStatus.SENT]


def test_someone_else_approving_first_is_told_who_did(world: World) -> None:
    [draft] = world.cycle()
    channel, stale = world.draft_message(draft.id)
    world.click(draft.id, Action.DRAFT_APPROVE, user=ADMIN)
    act = payloads.action(stale["blocks"], Action.DRAFT_APPROVE)
    world.interact(payloads.block_actions(act, user=MAYA, channel=channel, message=stale))
    [note] = world.fake.ephemerals("U01MAYA")
    assert note["text"] == "This draft was already approved by @ada; nothing was changed."
    assert len(world.services.store.outbox.find()) == 1


def test_edit_then_send(world: World) -> None:
    [draft] = world.cycle()
    world.click(draft.id, Action.DRAFT_EDIT)
    [opened] = world.fake.calls("views.open")
    view = world.fake.view(next(iter(world.fake.state.views)))
    assert view["callback_id"] == "draft-edit-submit"
    assert view["submit"]["text"] == "Save & send"
    assert json.loads(view["private_metadata"]) == {"k": "draft", "d": draft.id, "v": 1}
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert inputs[Block.DRAFT_SUBJECT]["initial_value"] == draft.subject
    assert inputs[Block.DRAFT_BODY]["initial_value"] == draft.body.strip()
    assert inputs[Block.DRAFT_BODY]["max_length"] == 3000
    assert "Proposal, no reply" in texts(view["blocks"])  # the reason, for context
    assert opened.args["trigger_id"]
    new_body = "Hi Jordan,\n\nShort version: shall we go through it on a call?\n\nMaya"
    submitted = payloads.view_submission(
        view, {Block.DRAFT_SUBJECT: "Quick one", Block.DRAFT_BODY: new_body}, user=MAYA
    )
    response = world.interact(submitted)
    assert response.status_code == 200
    assert response.text == ""
    saved = world.services.store.drafts.get(draft.id)
    assert saved is not None
    assert (saved.status, saved.version, saved.subject) == (DraftStatus.APPROVED, 2, "Quick one")
    assert (saved.original_subject, saved.original_body) == (draft.subject, draft.body)  # kept
    world.deliver()
    [sent] = world.services.mailbox.sent  # type: ignore[attr-defined]
    assert (sent.subject, sent.body.strip()) == ("Quick one", new_body)
    _, message = world.draft_message(draft.id)
    assert "*Subject:* Quick one" in texts(message["blocks"])
    assert "edited" in texts(message["blocks"])


def test_an_edit_that_fails_the_guardrails_is_shown_with_send_anyway(world: World) -> None:
    """Issue 11 item 11: an edit that adds a link or a price went through without a word."""
    [draft] = world.cycle()
    world.click(draft.id, Action.DRAFT_EDIT)
    view = world.fake.view(next(iter(world.fake.state.views)))
    risky = "Hi Jordan,\n\nBook here: https://pay.example/now and get it for $9,999.\n\nMaya"
    response = world.interact(payloads.view_submission(view, {Block.DRAFT_BODY: risky}, user=MAYA))
    answer = response.json()
    assert answer["response_action"] == "update"
    shown = texts(answer["view"]["blocks"])
    assert "This edit does not pass the guardrails" in shown
    assert "pay.example" in shown
    inputs = {b["block_id"]: b["element"] for b in answer["view"]["blocks"] if b["type"] == "input"}
    assert inputs[Block.DRAFT_BODY]["initial_value"] == risky  # what they typed is kept
    assert inputs["draft-override"]["type"] == "checkboxes"
    unchanged = world.services.store.drafts.get(draft.id)
    assert unchanged is not None
    assert (unchanged.status, unchanged.version) == (DraftStatus.PENDING, 1)
    # "Send anyway": an explicit, audited choice
    again = dict(answer["view"], id=view["id"], hash=view.get("hash", ""))
    response = world.interact(
        payloads.view_submission(
            again, {Block.DRAFT_BODY: risky, "draft-override": "yes"}, user=MAYA
        )
    )
    assert response.text == ""
    sent = world.services.store.drafts.get(draft.id)
    assert sent is not None
    assert (sent.status, sent.version) == (DraftStatus.APPROVED, 2)
    [override] = [
        e for e in world.services.store.audit.recent(20) if e.action == "guardrails_overridden"
    ]
    assert override.actor == "slack:U01MAYA"
    assert "pay.example" in override.detail


def test_save_without_sending_keeps_the_modal_open_and_updates_the_message(world: World) -> None:
    [draft] = world.cycle()
    world.click(draft.id, Action.DRAFT_EDIT)
    view_id, view = next(iter(world.fake.state.views.items()))
    view = dict(
        view, state=payloads.typed_state(view, {Block.DRAFT_BODY: "Hi Jordan,\n\nShorter.\n\nMaya"})
    )
    act = payloads.action(view["blocks"], Action.DRAFT_EDIT_SAVE)
    world.interact(payloads.block_actions(act, user=MAYA, view=view))
    [update] = world.fake.calls("views.update")
    assert update.args["view_id"] == view_id
    assert update.args["hash"] == view["hash"]
    refreshed = world.fake.view(view_id)
    assert json.loads(refreshed["private_metadata"])["v"] == 2
    assert "Saved at 04:00 New York time." in texts(refreshed["blocks"])
    saved = world.services.store.drafts.get(draft.id)
    assert saved is not None
    assert saved.status is DraftStatus.PENDING
    assert saved.body.endswith("Maya")
    _, message = world.draft_message(draft.id)
    assert "Shorter." in texts(message["blocks"])
    assert (
        json.loads(payloads.find_element(message["blocks"], Action.DRAFT_APPROVE)[1]["value"])["v"]
        == 2
    )


@ON_EACH_DATABASE
def test_a_modal_submitted_after_the_draft_was_sent_is_an_error_not_a_second_send(
    world: World,
) -> None:
    [draft] = world.cycle()
    world.click(draft.id, Action.DRAFT_EDIT)
    view = next(iter(world.fake.state.views.values()))
    world.click(draft.id, Action.DRAFT_APPROVE)
    world.deliver()
    submitted = payloads.view_submission(view, {Block.DRAFT_BODY: "Hi Jordan, again"}, user=MAYA)
    response = world.interact(submitted)
    assert response.status_code == 200
    assert response.json() == {
        "response_action": "errors",
        "errors": {
            Block.DRAFT_BODY: "This draft was already sent (approved by you); nothing was changed."
        },
    }
    assert len(world.services.mailbox.sent) == 1  # type: ignore[attr-defined]
    assert len(world.services.store.outbox.find()) == 1
    saved = world.services.store.drafts.get(draft.id)
    assert saved is not None
    assert saved.body == draft.body


def test_dismiss_with_a_reason(world: World) -> None:
    [draft] = world.cycle()
    world.click(draft.id, Action.DRAFT_DISMISS, option="wrong_moment")
    saved = world.services.store.drafts.get(draft.id)
    assert saved is not None
    assert (saved.status, saved.decision_note) == (DraftStatus.DISMISSED, "wrong_moment")
    _, message = world.draft_message(draft.id)
    assert "*Dismissed* by <@U01MAYA> at 04:00 New York time: wrong moment" in texts(
        message["blocks"]
    )
    assert not has_actions(message["blocks"])


def test_dismiss_to_deprioritize_the_deal(world: World) -> None:
    [draft] = world.cycle()
    world.click(draft.id, Action.DRAFT_DISMISS, option="deprioritize")
    [deal] = world.services.store.pipeline.load().deals
    assert deal.status is DealStatus.DEPRIORITIZED


def test_snooze_from_the_overflow_menu(world: World) -> None:
    [draft] = world.cycle()
    world.click(draft.id, Action.DRAFT_MORE, option="snooze-3d")
    saved = world.services.store.drafts.get(draft.id)
    assert saved is not None
    assert saved.status is DraftStatus.SNOOZED
    pause = world.services.store.pauses.active(world.clock())["d1"]
    assert pause.until == world.clock() + timedelta(days=3)
    _, message = world.draft_message(draft.id)
    assert "*Snoozed* until Thu 26 Nov by <@U01MAYA> at 04:00 New York time" in texts(
        message["blocks"]
    )
    # Nothing new is drafted while it sleeps.
    world.now[0] += timedelta(days=1)
    assert world.cycle() == []


def test_pause_deal_from_the_overflow_menu(world: World) -> None:
    [draft] = world.cycle()
    world.click(draft.id, Action.DRAFT_MORE, option="pause-deal")
    saved = world.services.store.drafts.get(draft.id)
    assert saved is not None
    assert saved.status is DraftStatus.WITHDRAWN
    _, message = world.draft_message(draft.id)
    assert "*Withdrawn* by <@U01MAYA>: deal paused" in texts(message["blocks"])
    [note] = world.fake.ephemerals("U01MAYA")
    assert note["text"].startswith("Paused Globex website rebuild")


def test_an_unauthorized_user_is_refused_politely_and_nothing_changes(world: World) -> None:
    [draft] = world.cycle()
    for action, option in (
        (Action.DRAFT_APPROVE, None),
        (Action.DRAFT_DISMISS, "not_now"),
        (Action.DRAFT_MORE, "snooze-1d"),
        (Action.DRAFT_EDIT, None),
    ):
        assert world.click(draft.id, action, user=STRANGER, option=option).status_code == 200
    saved = world.services.store.drafts.get(draft.id)
    assert saved is not None
    assert saved.status is DraftStatus.PENDING
    assert saved.version == 1
    assert world.services.store.outbox.find() == []
    assert world.fake.calls("views.open") == []
    notes = world.fake.ephemerals("U0STRANGER")
    assert len(notes) == 4
    assert {n["channel"] for n in notes} == {"C0REVIEW"}
    assert all("Only the deal's owner or a followup admin" in n["text"] for n in notes)
    actions = sorted(
        e.action for e in world.services.store.audit.recent() if e.actor == "slack:U0STRANGER"
    )
    assert actions == ["refused:approve", "refused:dismiss", "refused:edit", "refused:snooze"]
    # The message still offers its actions to the people who may use them.
    _, message = world.draft_message(draft.id)
    assert has_actions(message["blocks"])


def test_an_admin_may_approve_any_draft(world: World) -> None:
    [draft] = world.cycle()
    world.click(draft.id, Action.DRAFT_APPROVE, user=ADMIN)
    _, message = world.draft_message(draft.id)
    # Ada is in London: her clock says 09:00.
    assert "*Approved* by <@U0ADMIN> at 09:00 London time" in texts(message["blocks"])


@pytest.mark.parametrize(
    ("secret", "age"),
    [("not-the-secret", 0), (SECRET, 10 * 60)],
    ids=["forged", "stale"],
)
def test_forged_and_stale_signatures_are_refused(world: World, secret: str, age: int) -> None:
    [draft] = world.cycle()
    channel, message = world.draft_message(draft.id)
    act = payloads.action(message["blocks"], Action.DRAFT_APPROVE)
    body = payloads.interaction_body(
        payloads.block_actions(act, user=MAYA, channel=channel, message=message)
    )
    response = world.post(
        body,
        content_type="application/x-www-form-urlencoded",
        secret=secret,
        timestamp=int(time.time()) - age,
    )
    assert response.status_code == 401
    unsigned = world.http.post(
        "/slack/events", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert unsigned.status_code == 401
    world.drain()
    assert world.services.store.outbox.find() == []


def test_the_signing_example_from_slacks_docs_is_accepted_by_the_same_check() -> None:
    from slack_sdk.signature import SignatureVerifier

    vector = payloads.corpus_signing_vector()
    verifier = SignatureVerifier(
        vector["signing_secret"], clock=_Frozen(vector["expected_valid_at_now"])
    )
    headers = vector["headers"]
    assert verifier.is_valid(
        vector["raw_body"], headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    signed = payloads.signed_headers(
        vector["raw_body"],
        vector["signing_secret"],
        timestamp=int(headers["X-Slack-Request-Timestamp"]),
        content_type=headers["Content-Type"],
    )
    assert signed["X-Slack-Signature"] == headers["X-Slack-Signature"]


class _Frozen(Clock):
    def __init__(self, at: int) -> None:
        self.at = at

    def now(self) -> float:
        return float(self.at)


def test_a_draft_made_obsolete_is_withdrawn_in_place_with_the_reason(world: World) -> None:
    [draft] = world.cycle()
    crm: FakeCrm = world.services.crm  # type: ignore[assignment]
    crm.pipeline = replace(
        crm.pipeline, deals=(replace(crm.pipeline.deals[0], status=DealStatus.WON),)
    )
    world.now[0] += timedelta(hours=1)
    world.cycle()
    _, message = world.draft_message(draft.id)
    assert "*Withdrawn*: deal is now won" in texts(message["blocks"])
    assert not has_actions(message["blocks"])


def test_a_send_refused_at_the_last_moment_says_why(world: World) -> None:
    [draft] = world.cycle()
    world.click(draft.id, Action.DRAFT_APPROVE)
    world.services.store.suppressions.add("globex.example", reason="manual", now=world.clock())
    world.deliver()
    _, message = world.draft_message(draft.id)
    assert "*Not sent*: globex.example is on the suppression list" in texts(message["blocks"]) or (
        "*Not sent*: jordan@globex.example is on the suppression list" in texts(message["blocks"])
    )
