"""A hung model server costs a cycle a few timeouts, not two per draft (issue 16)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import openai
import pytest

from crm.fake import FakeCrm
from crm.local import load_pipeline_file
from flows.cycle import run_cycle
from flows.ports import Policy, Services
from mail.fake import FakeMailbox
from prompts.drafter import LLMDrafter, TemplateDrafter
from storage.repos import Store
from tests.flows.test_review_cycle import RecordingReview
from tests.prompts.fake_openai import FakeOpenAI

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pipeline.json"
AT = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@pytest.fixture
def hung_server() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    for _ in range(40):
        server.hang(5)
    try:
        yield server
    finally:
        server.close()


def test_the_breaker_stops_calling_a_hung_server_and_the_templates_write_the_rest(
    store: Store, hung_server: FakeOpenAI
) -> None:
    client = openai.OpenAI(api_key="sk-test", base_url=hung_server.base_url, max_retries=0)
    drafter = LLMDrafter(
        client, "fake-model-1", TemplateDrafter(), timeout=0.2, retry_backoff=0, breaker_after=3
    )
    services = Services(
        store=store,
        crm=FakeCrm(load_pipeline_file(SAMPLE).pipeline),
        mailbox=FakeMailbox(),
        drafter=drafter,
        review=RecordingReview(),
        policy=Policy(),
    )
    try:
        started = time.monotonic()
        report = run_cycle(services, AT, inbound=False)
        elapsed = time.monotonic() - started
    finally:
        client.close()
    assert len(report.drafted) == 12
    assert len(hung_server.requests) == 6  # 3 drafts x (1 call + 1 retry), then no more
    assert elapsed < 12  # 6 timeouts of 0.2 s, not 24 of 15 s
    assert report.model_fallbacks == {"timeout": 3, "breaker_open": 9}
    assert all(d.source == "template" for d in report.drafted)
    notices = {d.notice for d in report.drafted}
    assert "drafted from template: the model timed out after 0.2 s" in notices
    assert any(n and "not called again until the next cycle" in n for n in notices)
