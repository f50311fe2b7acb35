"""Cost and latency of each model call are kept with the draft, for `followup stats`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import openai

from crm.fake import FakeCrm
from flows.cycle import run_cycle
from flows.ports import NoReviewSurface, Policy, Services
from mail.fake import FakeMailbox
from prompts.drafter import LLMDrafter, TemplateDrafter
from storage.repos import Store
from tests.factories import proposal_pipeline
from tests.prompts.fake_openai import FakeOpenAI

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DRAFT = {
    "subject": "Re: Proposal: website rebuild",
    "body": "Hi Jordan,\n\nDid the proposal reach you? Happy to walk through it.\n\nBest,\nMaya",
    "facts_used": ["proposal sent"],
    "why_angle": "a plain check-in after a proposal",
}


def test_a_model_draft_records_tokens_and_milliseconds(
    store: Store, fake_openai: FakeOpenAI, openai_client: openai.OpenAI
) -> None:
    fake_openai.answer_json(DRAFT, prompt_tokens=400, completion_tokens=90)
    services = Services(
        store=store,
        crm=FakeCrm(proposal_pipeline()),
        mailbox=FakeMailbox(),
        drafter=LLMDrafter(openai_client, "fake-model-1", fallback=TemplateDrafter()),
        review=NoReviewSurface(),
        policy=Policy(),
    )
    [draft] = run_cycle(services, MONDAY).drafted
    assert (draft.source, draft.subject) == ("model", DRAFT["subject"])
    [usage] = store.drafts.model_usage(MONDAY - timedelta(days=1))
    assert (usage.model, usage.drafts, usage.calls) == ("fake-model-1", 1, 1)
    assert (usage.prompt_tokens, usage.completion_tokens) == (400, 90)
    assert usage.median_ms >= 0
    assert store.drafts.model_usage(MONDAY + timedelta(days=1)) == []
