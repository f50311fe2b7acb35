"""render.py is pure: every surface from data, within Slack's limits, outside text inert."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.models.blocks import InputBlock, PlainTextInputElement

from bot import render
from bot.ids import More
from bot.refs import DismissRef, DraftRef, MoreRef, PickRef, RefError
from tests.factories import contact, deal, owner
from triggers.command import Command, Verb
from triggers.drafts import Draft, DraftStatus
from triggers.model import DealView

AT = datetime(2026, 11, 23, 14, 2, tzinfo=UTC)


def a_draft(**overrides: object) -> Draft:
    values: dict[str, object] = {
        "id": 7,
        "deal_id": "d1",
        "contact_id": "c1",
        "to_address": "jordan@globex.example",
        "trigger": "proposal_no_reply",
        "rule": "proposal_no_reply",
        "angle": None,
        "anchor_at": AT - timedelta(days=4),
        "due_at": AT,
        "send_at": AT,
        "reason": "Proposal sent Thu 19 Nov, no reply in 4 days",
        "evidence": ("Proposal sent: Thu 19 Nov 2026 15:00 CET",),
        "subject": "Re: Proposal",
        "body": "Hi Jordan,\n\nAny thoughts?\n\nMaya",
        "original_subject": "Re: Proposal",
        "original_body": "Hi Jordan,\n\nAny thoughts?\n\nMaya",
        "source": "template",
        "status": DraftStatus.PENDING,
        "version": 1,
        "created_at": AT,
    }
    return Draft(**(values | overrides))  # type: ignore[arg-type]


def a_card(draft: Draft | None = None, **overrides: object) -> render.DraftCard:
    view = DealView(deal(), (contact(),), owner(), ())
    values: dict[str, object] = {
        "draft": draft or a_draft(),
        "view": view,
        "recipient_zone": "Europe/Berlin",
        "owner_zone": "America/New_York",
        "owner_slack_id": "U01MAYA",
        "decider_zone": "America/New_York",
    }
    return render.DraftCard(**(values | overrides))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<https://evil.example|click>", "&lt;https://evil.example|click&gt;"),
        ("AT&T", "AT&amp;T"),
        ("ping @here now", "ping @\u2060here now"),
        ("@Everyone", "@\u2060Everyone"),
        ("maya@channel.example", "maya@channel.example"),
        ("(@channel)", "(@\u2060channel)"),
        ("", ""),
    ],
)
def test_escape(raw: str, escaped: str) -> None:
    assert render.escape(raw) == escaped


@given(st.text(max_size=300))
def test_escaped_text_never_opens_a_slack_control_sequence(text: str) -> None:
    out = render.escape(text)
    assert "<" not in out
    assert ">" not in out
    assert not re.search(r"(?<![\w.+-])@(channel|here|everyone)\b", out, re.IGNORECASE)


@given(st.text(min_size=0, max_size=400), st.integers(min_value=5, max_value=200))
def test_clip_escaped_fits_and_never_splits_an_entity(text: str, limit: int) -> None:
    out = render.clip_escaped(text, limit)
    assert len(out) <= limit
    body = out.removesuffix("…")
    assert not body.endswith(("&", "&a", "&am", "&amp", "&l", "&lt", "&g", "&gt"))


def test_cut_body_prefers_paragraphs_then_sentences_then_words() -> None:
    paragraphs = "First paragraph here.\n\n" + "Second one is much longer. " * 20
    text, cut = render.cut_body(paragraphs, 200)
    assert cut
    assert text == "First paragraph here." or text.endswith(".")
    sentences = "This is one sentence. " * 40
    text, cut = render.cut_body(sentences, 300)
    assert cut
    assert text.endswith("sentence.")
    assert len(text) <= 300
    words = "word " * 200
    text, cut = render.cut_body(words, 101)
    assert cut
    assert text.endswith("word")
    assert render.cut_body("short", 100) == ("short", False)


@given(st.text(alphabet=st.sampled_from("ab \n."), max_size=20000))
def test_split_for_inputs_fits_every_box(body: str) -> None:
    parts = render.split_for_inputs(body, 3000)
    assert all(len(p) <= 3000 for p in parts)
    assert "".join("".join(parts).split()) == "".join(body.split())


def test_names_of_zones_and_money() -> None:
    assert render.city("America/Argentina/Buenos_Aires") == "Buenos Aires"
    assert render.zone_time(AT, "America/New_York") == "09:02 New York time"
    assert render.zone_time(AT, "UTC") == "14:02 UTC"
    assert render.money(18000.0, "USD") == "$18,000"
    assert render.money(1234.5, "CHF") == "1,234.50 CHF"
    assert render.money(None, "USD") == ""
    assert render.rule_label("cadence:trial:2") == "Cadence trial, step 2"
    assert render.actor_mention("slack:U01MAYA") == "<@U01MAYA>"
    assert render.actor_mention("slack:<!channel>") == "slack:&lt;!channel&gt;"
    assert render.actor_mention("cli:maya") == "maya (command line)"


def test_the_issue_s_example_outcome_line() -> None:
    draft = a_draft(status=DraftStatus.SENT, decided_by="slack:U01MAYA", decided_at=AT)
    line = render.headline(a_card(draft, arrival=AT + timedelta(seconds=30)))
    assert (
        line == ":outbox_tray: *Sent* by <@U01MAYA> at 09:02 New York time, arrives 15:02 in Berlin"
    )


@pytest.mark.parametrize(
    ("status", "note", "outcome", "expected"),
    [
        (
            DraftStatus.APPROVED,
            None,
            None,
            "*Approved* by <@U01MAYA> at 09:02 New York time, arrives Mon 23 Nov 15:02 in Berlin",
        ),
        (
            DraftStatus.DISMISSED,
            "not_now",
            None,
            "*Dismissed* by <@U01MAYA> at 09:02 New York time: not now",
        ),
        (
            DraftStatus.WITHDRAWN,
            "reply arrived Mon 23 Nov 08:12 UTC",
            None,
            "*Withdrawn* by <@U01MAYA>: reply arrived",
        ),
        (DraftStatus.FAILED, "not sent: deal is now lost", None, "*Not sent*: deal is now lost"),
        (DraftStatus.FAILED, None, "Send failed: 550 no such user", "*Not sent*: Send failed: 550"),
    ],
)
def test_outcome_lines(
    status: DraftStatus, note: str | None, outcome: str | None, expected: str
) -> None:
    draft = a_draft(status=status, decided_by="slack:U01MAYA", decided_at=AT, decision_note=note)
    message = render.draft_message(a_card(draft, outcome=outcome))
    assert expected in message.blocks_json()[0]["text"]["text"]
    assert not any(b["type"] == "actions" for b in message.blocks_json())


def test_a_withdrawal_by_followup_names_nobody() -> None:
    draft = a_draft(
        status=DraftStatus.WITHDRAWN,
        decided_by="followup",
        decided_at=AT,
        decision_note="deal is now won",
    )
    assert (
        render.headline(a_card(draft)) == ":leftwards_arrow_with_hook: *Withdrawn*: deal is now won"
    )


def test_a_draft_without_its_deal_still_renders() -> None:
    message = render.draft_message(a_card(view=None, owner_slack_id=None))
    assert "deal d1" in message.text


def test_open_in_crm_appears_only_with_a_url() -> None:
    with_url = render.draft_actions(a_card(crm_url="https://crm.example/deals/1")).to_dict()
    overflow = with_url["elements"][3]["options"]
    assert overflow[-1]["url"] == "https://crm.example/deals/1"
    without = render.draft_actions(a_card()).to_dict()
    assert len(without["elements"][3]["options"]) == 4


def test_our_own_limits_are_checked() -> None:
    blocks = [render._context("x") for _ in range(51)]
    with pytest.raises(render.SurfaceLimitError):
        render.check_message(render.Message("t", list(blocks)))
    too_long = InputBlock(
        block_id="b",
        label="Body",
        element=PlainTextInputElement(action_id="a", initial_value="x" * 11, max_length=10),
    )
    with pytest.raises(render.SurfaceLimitError):
        render.check_message(render.Message("t", [too_long]))


def test_home_shows_at_most_twenty_drafts_and_counts_them_all() -> None:
    cards = [
        a_card(a_draft(id=i, trigger="stage_stale" if i % 3 else "quote_expired"))
        for i in range(1, 31)
    ]
    view = render.home_view(cards).to_dict()
    assert len(view["blocks"]) <= 100
    text = str(view)
    assert "30 drafts wait for you" in text
    assert "Quote expired 10, Stage gone quiet 20" in text
    assert "…and 10 more" in text


def test_the_picker_carries_the_command_in_its_buttons() -> None:
    command = Command(Verb.PAUSE, deal="globex", duration=timedelta(weeks=2))
    reply = render.picker_reply(
        command, "globex", [render.Choice(f"d{i}", f"Deal {i}") for i in range(12)]
    )
    payload = reply.payload()
    buttons = payload["blocks"][1]["elements"]
    assert len(buttons) == 10
    assert PickRef.decode(buttons[0]["value"]) == PickRef(Verb.PAUSE, "d0", 14 * 24 * 60, None)
    assert payload["response_type"] == "ephemeral"


def test_refs_round_trip_and_refuse_garbage() -> None:
    assert DraftRef.decode(DraftRef(3, 2).encode()) == DraftRef(3, 2)
    assert DismissRef.decode(DismissRef(3, 2, "other").encode()).reason == "other"
    assert MoreRef.decode(MoreRef(3, 2, More.SNOOZE_1W).encode()).choice is More.SNOOZE_1W
    for bad in (
        "",
        "null",
        "{}",
        '{"k":"draft","d":0,"v":1}',
        '{"k":"draft","d":"1","v":1}',
        '{"k":"dismiss","d":1,"v":1,"r":"x"}',
        '{"k":"draft","d":true,"v":1}',
    ):
        with pytest.raises(RefError):
            DraftRef.decode(bad) if "dismiss" not in bad else DismissRef.decode(bad)
    assert len(DismissRef(10**9, 10**6, "wrong_moment").encode()) <= 150
    with pytest.raises(RefError):
        PickRef(Verb.WHY, "x" * 200).encode()


def test_an_edit_modal_never_shows_more_than_it_may_hold() -> None:
    card = a_card(a_draft(subject="S" * 400, body="b" * 2999))
    view = render.edit_modal(card).to_dict()
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert [len(i["element"]["initial_value"]) for i in inputs] == [250, 2999]
    with pytest.raises(render.SurfaceLimitError):
        render.edit_modal(replace(card, draft=a_draft(body="word " * 4000)))
