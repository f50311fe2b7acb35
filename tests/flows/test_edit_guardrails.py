"""Issue 11 item 11: a person's edit passes the same guardrails as a draft; a failure is
refused with the reasons unless the editor chooses "Send anyway", which is audited."""

from __future__ import annotations

import pytest

from flows.cycle import run_cycle
from flows.ports import Actor, Services
from flows.review import Outcome, edit
from prompts.edit_check import DraftGuardrails
from storage.repos import Store
from tests.flows.test_inbound import MONDAY, make_services

MAYA = Actor.operator("maya")


@pytest.fixture
def services(store: Store) -> Services:
    services = make_services(store)
    services.guardrails = DraftGuardrails()
    return services


def test_an_edit_adding_a_link_and_a_price_is_refused_with_the_reasons(services: Services) -> None:
    [draft] = run_cycle(services, MONDAY).drafted
    body = "Hi Jordan,\n\nSign up at https://pay.example/now, only $9,999 this week.\n\nMaya"
    refused = edit(
        services, draft.id, MAYA, MONDAY, subject=draft.subject, body=body, expected_version=1
    )
    assert refused.outcome is Outcome.GUARDRAILS
    assert "pay.example" in refused.message
    assert "9,999" in refused.message
    assert services.store.drafts.get(draft.id).version == 1  # type: ignore[union-attr]
    anyway = edit(
        services,
        draft.id,
        MAYA,
        MONDAY,
        subject=draft.subject,
        body=body,
        expected_version=1,
        send_anyway=True,
    )
    assert anyway.ok
    assert services.store.drafts.get(draft.id).body == body  # type: ignore[union-attr]
    [entry] = [e for e in services.store.audit.recent() if e.action == "guardrails_overridden"]
    assert (entry.actor, entry.subject) == ("cli:maya", f"draft:{draft.id}")


def test_an_edit_within_the_guardrails_saves_as_before(services: Services) -> None:
    [draft] = run_cycle(services, MONDAY).drafted
    body = draft.body.replace("Hi Jordan", "Hello Jordan")
    saved = edit(
        services, draft.id, MAYA, MONDAY, subject=draft.subject, body=body, expected_version=1
    )
    assert saved.ok, saved.message
