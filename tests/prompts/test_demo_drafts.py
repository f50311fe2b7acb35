"""The demo's drafts, reread as the prospect would read them (examples/pipeline.json).

Each draft mentions what was last said, pastes no CRM deal title into a sentence, does not
repeat the previous follow-up, writes the company without its legal suffix and greets by the
given name, and replies in the thread its recipient was on.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crm.local import load_pipeline_file
from prompts.base import DraftContext
from prompts.build import written_from
from prompts.context import deal_facts
from prompts.drafter import TemplateDrafter
from triggers.config import EvaluationConfig
from triggers.evaluate import build_views, evaluate
from triggers.threads import involves, recipient_thread

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pipeline.json"
AT = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
COMPETITORS = ("Acme Agency",)


def _drafts(at: datetime, shift_to: datetime | None = None) -> list[tuple[DraftContext, str, str]]:
    pipeline = load_pipeline_file(SAMPLE, shift_to=shift_to).pipeline
    views = {v.deal.id: v for v in build_views(pipeline)}
    drafter = TemplateDrafter()
    found = []
    for due in evaluate(pipeline, at, EvaluationConfig()):
        view = views[due.deal_id]
        contact = next(c for c in view.contacts if c.id == due.contact_id)
        context = DraftContext(
            view=view,
            contact=contact,
            rule=due.rule.value,
            angle=None,
            reason=due.reason,
            evidence=due.evidence,
            now=at,
            competitors=COMPETITORS,
        )
        result = drafter.draft(context)
        assert result.guardrail_failures == (), (due.deal_id, result.guardrail_failures)
        found.append((context, result.subject, result.body))
    return found


@pytest.fixture(scope="module")
def drafts() -> list[tuple[DraftContext, str, str]]:
    return _drafts(AT)


def test_twelve_drafts_none_pastes_a_crm_title_or_a_legal_suffix(
    drafts: list[tuple[DraftContext, str, str]],
) -> None:
    assert len(drafts) == 12
    for context, subject, body in drafts:
        title = context.view.deal.title
        assert title not in body, context.view.deal.id
        assert title not in subject, context.view.deal.id
        assert not re.search(r"\b(?:Pte Ltd|GmbH|Ltd|Inc|AG)\b", body), (context.view.deal.id, body)


def test_each_draft_mentions_what_was_last_said(
    drafts: list[tuple[DraftContext, str, str]],
) -> None:
    expected = {
        "d01": "400 PDFs as a separate line",  # Lena asked for it as its own line
        "d02": "walk you through",  # the nudge already asked whether it arrived
        "d04": "ballpark with an SEO migration plan outline",  # promised on the call
        "d05": "one-page scope",  # asked for before the board meeting
        "d06": "release freeze",
        "d07": "booking engine integration",  # to Hannah (her thread), not the legal one
        "d08": "internally",
        "d09": "Q-2026-041",
        "d12": "?",
    }
    bodies = {context.view.deal.id: body for context, _, body in drafts}
    for deal_id, phrase in expected.items():
        assert phrase.lower() in bodies[deal_id].lower(), (deal_id, bodies[deal_id])
    assert "10 December" not in bodies["d05"]  # Sam is in the US (no zone: the owner's NY)
    assert "December 10" in bodies["d05"]


def test_no_draft_repeats_the_previous_follow_up(
    drafts: list[tuple[DraftContext, str, str]],
) -> None:
    for context, _, body in drafts:
        facts = deal_facts(context)
        for earlier in facts.earlier_followups:
            assert "reached you" not in body
            sentences = [s.strip() for s in re.split(r"[.?!]\s", earlier) if len(s.split()) > 5]
            for sentence in sentences:
                assert sentence not in body, (context.view.deal.id, sentence)


def test_greetings_use_the_given_name_by_culture(
    drafts: list[tuple[DraftContext, str, str]],
) -> None:
    bodies = {context.view.deal.id: body for context, _, body in drafts}
    assert bodies["d09"].startswith("Hi Wei Ling,")  # Tan Wei Ling, Singapore
    assert "16 November" in bodies["d09"]  # day first in Singapore


def test_each_draft_goes_to_the_thread_its_recipient_was_on(
    drafts: list[tuple[DraftContext, str, str]],
) -> None:
    for context, subject, _ in drafts:
        thread = recipient_thread(context.view, context.contact)
        if thread is None:
            continue
        replied = next(a for a in context.view.activities if a.message_id == thread.in_reply_to)
        assert involves(replied, context.contact), context.view.deal.id
        assert subject.startswith("Re: "), (context.view.deal.id, subject)
    alpenrose = next(c for c in drafts if c[0].view.deal.id == "d07")
    assert alpenrose[0].contact.id == "c08"  # Hannah, not Stefan's legal thread
    thread = recipient_thread(alpenrose[0].view, alpenrose[0].contact)
    assert thread is not None
    assert thread.thread_id == "thr-d07-1"


def test_a_proposal_to_two_people_is_followed_up_with_both(
    drafts: list[tuple[DraftContext, str, str]],
) -> None:
    saltbush = next(c for c in drafts if c[0].view.deal.id == "d03")
    facts = deal_facts(saltbush[0])
    assert "mark.ellison@saltbushhealth.example" in facts.cc
    assert saltbush[2].startswith("Hi Priya, hi Mark,")
    assert any(line.startswith("Also on the thread (Cc)") for line in written_from(saltbush[0]))


def test_the_shifted_demo_moves_the_dates_inside_its_emails() -> None:
    later = AT + timedelta(days=17)
    pipeline = load_pipeline_file(SAMPLE, shift_to=later).pipeline
    quote = next(a for a in pipeline.activities if a.subject and "Q-2026-041" in a.subject)
    assert quote.body is not None
    assert "valid until Thursday 3 December" in quote.body  # was Monday 16 November
