"""The labelled situations and the good/bad drafts, as the bench reads them (tests/data)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from prompts.build import guardrail_context, owner_tasks, prompt_warnings
from prompts.drafter import TemplateDrafter
from tests.prompts.situations import DRAFT_SAMPLES, build, coverage, situation, situations
from triggers.guardrails import check_draft
from triggers.people import common_company_name, format_day, given_name

SAMPLES = json.loads(DRAFT_SAMPLES.read_text(encoding="utf-8"))


def test_the_sets_are_big_enough() -> None:
    assert len(situations()) >= 60
    assert len(SAMPLES["bad"]) >= 100
    kinds = Counter(s["kind"] for s in SAMPLES["bad"])
    assert len(kinds) >= 12


def test_templates_mention_what_each_situation_needs_and_avoid_what_it_must_not() -> None:
    drafter = TemplateDrafter()
    met = items = 0
    for spec in situations():
        built = build(spec)
        result = drafter.draft(built.context)
        got, total, violations = coverage(spec, result.subject, result.body)
        met, items = met + got, items + total
        assert violations == [], (spec["id"], violations, result.body)
        assert result.guardrail_failures == (), (spec["id"], result.guardrail_failures)
        assert result.body.startswith(f"Hi {spec['greet']}"), (spec["id"], result.body)
        expected = spec.get("expect_thread")
        if expected:
            from triggers.threads import recipient_thread

            thread = recipient_thread(built.context.view, built.context.contact)
            assert thread is not None
            assert thread.in_reply_to == built.thread_message_id(expected), spec["id"]
    assert met / items >= 0.95


def test_guardrails_catch_the_bad_drafts_and_pass_the_good_ones() -> None:
    missed = []
    for sample in SAMPLES["bad"]:
        context = guardrail_context(build(situation(sample["situation"])).context)
        if not check_draft(sample["subject"], sample["body"], context):
            missed.append((sample["kind"], sample["body"]))
    alarms = []
    for sample in SAMPLES["good"]:
        context = guardrail_context(build(situation(sample["situation"])).context)
        failures = check_draft(sample["subject"], sample["body"], context)
        if failures:
            alarms.append((sample["situation"], [f.message for f in failures]))
    assert len(missed) <= 0.05 * len(SAMPLES["bad"]), missed
    assert len(alarms) <= 0.02 * len(SAMPLES["good"]), alarms


def test_a_promise_in_the_call_notes_becomes_a_task_for_the_owner() -> None:
    tasks = owner_tasks(build(situation("call_promise_ballpark-us")).context)
    assert tasks == (
        "Task: the call notes say we promised 'a ballpark with an SEO migration plan outline'; "
        "attach it or paste it into the draft before approving.",
    )


def test_the_injected_lead_email_is_flagged_for_the_reviewer() -> None:
    (warning,) = prompt_warnings(build(situation("lead_injection-de")).context)
    assert warning.startswith("Possible prompt injection in last inbound email:")
    assert "ops@evil-partner.example" in warning  # the full text, for the reviewer


@pytest.mark.parametrize(
    ("name", "zone", "given"),
    [
        ("Tan Wei Ling", "Asia/Singapore", "Wei Ling"),
        ("Priya Nair", "Asia/Singapore", "Priya"),
        ("Kim Min-jun", "Asia/Seoul", "Min-jun"),
        ("Tan Wei Ling", "Europe/London", "Tan"),  # no culture to go on: the first word
        ("Lena Hoffmann", "Europe/Berlin", "Lena"),
        ("Dr. Sam Whitfield", None, "Sam"),
        ("Lee, Jordan", "Asia/Singapore", "Jordan"),
    ],
)
def test_given_names_by_culture(name: str, zone: str | None, given: str) -> None:
    assert given_name(name, zone) == given


def test_company_common_names_and_local_dates() -> None:
    from datetime import date

    assert common_company_name("Vantage Freight Pte Ltd") == "Vantage Freight"
    assert common_company_name("Brightwater Logistik GmbH") == "Brightwater Logistik"
    assert common_company_name("Redwood Trail Outfitters, Inc.") == "Redwood Trail Outfitters"
    assert common_company_name("Marlow & Pike Publishing") == "Marlow & Pike Publishing"
    assert format_day(date(2026, 11, 16), "Asia/Singapore") == "16 November"
    assert format_day(date(2026, 11, 16), "America/New_York") == "November 16"
