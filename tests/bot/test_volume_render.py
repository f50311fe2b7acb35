"""`[slack] mention_owner` and the summary of many new drafts, as Slack would show them."""

from __future__ import annotations

import json
from dataclasses import replace

from bot import render
from tests.bot.test_render import a_card, a_draft


def test_the_owner_is_pinged_only_when_mention_owner_is_on() -> None:
    on = json.dumps(render.draft_message(a_card()).blocks_json())
    off = json.dumps(render.draft_message(a_card(mention_owner=False)).blocks_json())
    assert "<@U01MAYA>" in on
    assert "<@" not in off
    assert "Maya" in off  # named instead


def test_a_batch_summary_counts_per_rule_and_names_the_first_drafts() -> None:
    cards = [
        a_card(replace(a_draft(), id=i, trigger="stage_stale" if i % 3 else "proposal_no_reply"))
        for i in range(1, 31)
    ]
    message = render.batch_summary(cards, 5, held=7)
    text = "\n".join(b["text"]["text"] for b in message.blocks_json())
    assert message.text == "30 new drafts to review"
    assert "30 new drafts to review" in text
    assert f"{render.rule_label('stage_stale')} 20" in text
    assert f"{render.rule_label('proposal_no_reply')} 10" in text
    assert text.count("• #") == 5
    assert "the other 25 wait" in text
    assert "7 approved message(s) are held back by the send limits" in text
    assert "<@" not in text  # one message, no pings
