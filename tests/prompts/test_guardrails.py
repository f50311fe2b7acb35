from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prompts.build import guardrail_context
from tests.prompts.factories import make_context
from triggers.guardrails import (
    Check,
    GuardrailContext,
    check_competitors,
    check_draft,
    find_placeholders,
    first_name,
)

CONTEXT = GuardrailContext(
    contact_name="Jordan Lee",
    trusted_text=("Maya Chen\nNorthwind Studio · https://northwind.studio/book",),
    untrusted_text=(
        "Re: Proposal: website rebuild",
        "Budget around 20k. Call me on Tuesday. Our site is www.globex.example. "
        "We compare it with Acme Agency. Deadline 12/15.",
        "Sam Ortiz (sam.ortiz@globex.example) handles procurement.",
    ),
    known_dates=(date(2026, 11, 17), date(2026, 11, 20)),
    known_amounts=(18000.0,),
    competitors=("Acme Agency", "Initech", "Hooli"),
    max_words=60,
    max_subject_chars=60,
)
GOOD_BODY = "Hi Jordan,\n\nHappy to walk you through the proposal this week.\n\nBest,\nMaya"


def checks(subject: str, body: str, context: GuardrailContext = CONTEXT) -> list[Check]:
    return [failure.check for failure in check_draft(subject, body, context)]


def test_a_clean_draft_passes() -> None:
    assert check_draft("Re: Proposal: website rebuild", GOOD_BODY, CONTEXT) == ()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # competitors: word boundary, case-insensitive, even when the lead named them first
        ("Hi Jordan, unlike Acme Agency we ship weekly.", [Check.COMPETITOR]),
        ("Hi Jordan, unlike ACME   agency we ship weekly.", [Check.COMPETITOR]),
        ("Hi Jordan, initech's approach differs.", [Check.COMPETITOR]),
        ("Hi Jordan, our Initechnology stack is fine.", []),
        ("Hi Jordan, we Hoolie-proofed it.", []),
        # links: only from the trusted context (the signature), never from the lead's text
        ("Hi Jordan, book here: https://northwind.studio/book", []),
        ("Hi Jordan, book here: northwind.studio/book.", []),
        ("Hi Jordan, see https://evil.example/x", [Check.LINK]),
        ("Hi Jordan, see www.globex.example", [Check.LINK]),
        ("Hi Jordan, details at pricing.io", [Check.LINK]),
        # e-mail addresses from anywhere in the context are fine; invented ones are not
        ("Hi Jordan, I'll copy sam.ortiz@globex.example.", []),
        ("Hi Jordan, write to billing@northwind.studio.", [Check.EMAIL_ADDRESS]),
        # prices and figures: only those in the context
        ("Hi Jordan, the total stays at $18,000.", []),
        ("Hi Jordan, the total stays at 18k USD.", []),
        ("Hi Jordan, you mentioned a budget of €20k.", []),
        ("Hi Jordan, we can do it for $15,000.", [Check.PRICE]),
        ("Hi Jordan, I can offer 10% off.", [Check.PRICE]),
        ("Hi Jordan, that's EUR 990 a month.", [Check.PRICE]),
        ("Hi Jordan, we ship 24/7 and call in 15 minutes.", []),
        # dates and weekdays: only those in the context
        ("Hi Jordan, the quote expired on November 20.", []),
        ("Hi Jordan, since the call on Nov 17th.", []),
        ("Hi Jordan, shall we talk on Tuesday?", []),
        ("Hi Jordan, before the 12/15 deadline.", []),
        ("Hi Jordan, I'm free on December 3.", [Check.DATE]),
        ("Hi Jordan, how about Thursday?", [Check.DATE]),
        ("Hi Jordan, by 2026-12-01 at the latest.", [Check.DATE]),
        ("Hi Jordan, see you on 4 January 2027.", [Check.DATE]),
        # attachments: drafts carry none
        ("Hi Jordan, I've attached the case study.", [Check.ATTACHMENT]),
        ("Hi Jordan, please find enclosed our deck.", [Check.ATTACHMENT]),
        # placeholders
        ("Hi Jordan, as discussed with {{ owner }}.", [Check.PLACEHOLDER]),
        ("Hi Jordan, {company} will love it.", [Check.PLACEHOLDER]),
        ("Hi Jordan, [Company Name] will love it.", [Check.PLACEHOLDER]),
        ("Hi Jordan, <insert benefit> here.", [Check.PLACEHOLDER]),
        ("Hi Jordan, TODO add a line.", [Check.PLACEHOLDER]),
        ("Hi Jordan, best regards, %SENDER_NAME%.", [Check.PLACEHOLDER]),
        # greeting
        ("Hi there, quick one on the proposal.", [Check.GREETING]),
        ("Hi Jordon, quick one on the proposal.", [Check.GREETING]),
        ("Hello Sam, quick one on the proposal.", [Check.GREETING]),
        ("Following up on the proposal.", [Check.GREETING]),
        ("Dear Mr. Lee, following up on the proposal.", []),
        ("Jordan, quick one on the proposal.", []),
        ("Good morning Jordan! Quick one on the proposal.", []),
    ],
)
def test_each_check(body: str, expected: list[Check]) -> None:
    assert checks("Quick follow-up", body) == expected


def test_length_limits() -> None:
    long_body = "Hi Jordan,\n" + "word " * 80
    assert checks("Quick follow-up", long_body) == [Check.LENGTH]
    assert checks("", GOOD_BODY) == [Check.LENGTH]
    assert checks("s" * 61, GOOD_BODY) == [Check.LENGTH]
    assert Check.LENGTH in checks("Quick follow-up", "")


def test_failures_read_as_sentences_for_the_reviewer() -> None:
    failures = check_draft("Quick follow-up", "Hi Jordan, Acme Agency charges $9,000.", CONTEXT)
    messages = [str(f) for f in failures]
    assert messages == [
        "names the competitor 'Acme Agency'; competitors are never written",
        "mentions the price or figure '$9,000', which is not in the context",
    ]


def test_subject_is_checked_too() -> None:
    assert checks("Acme Agency vs us, {{x}}", GOOD_BODY) == [Check.COMPETITOR, Check.PLACEHOLDER]


def test_attachment_allowed_when_the_draft_carries_one() -> None:
    context = GuardrailContext(contact_name="Jordan Lee", attachments=("deck.pdf",))
    assert checks("Deck", "Hi Jordan, I've attached the deck.", context) == []


def test_contact_without_usable_name_skips_the_greeting_check() -> None:
    context = GuardrailContext(contact_name="info@globex.example")
    assert checks("Hello", "Hi there, following up.", context) == []


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("Jordan Lee", "Jordan"),
        ("Dr. Ana María Silva", "Ana"),
        ("Lee, Jordan", "Jordan"),
        ("Jean-Luc Picard", "Jean-Luc"),
        ("jordan@globex.example", ""),
        ("", ""),
    ],
)
def test_first_name(name: str, first: str) -> None:
    assert first_name(name) == first


def test_a_competitor_in_the_leads_text_is_read_but_never_written() -> None:
    context = guardrail_context(make_context())
    assert any("Acme Agency" in text for text in context.untrusted_text)
    failures = check_draft("Re: proposal", "Hi Jordan, happy to compare with Acme Agency.", context)
    assert [f.check for f in failures] == [Check.COMPETITOR]


def test_guardrail_context_from_a_draft_context() -> None:
    context = guardrail_context(make_context())
    assert context.contact_name == "Jordan Lee"
    assert 18000.0 in context.known_amounts
    assert date(2026, 11, 17) in context.known_dates
    assert date(2026, 11, 20) in context.known_dates  # quote expiry
    assert "Maya" not in context.untrusted_text
    assert context.competitors == ("Acme Agency", "Initech")


_plain_words = st.lists(
    st.sampled_from(["happy", "to", "help", "the", "proposal", "scope", "call", "team", "next"]),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(words=_plain_words)
def test_plain_prose_greeting_the_contact_always_passes(words: list[str]) -> None:
    body = "Hi Jordan,\n\n" + " ".join(words) + ".\n\nMaya"
    assert check_draft("Following up", body, CONTEXT) == ()


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(CONTEXT.competitors),
    flip=st.lists(st.booleans(), min_size=12, max_size=12),
    before=st.sampled_from(["", "vs ", "(", "like "]),
    after=st.sampled_from(["", ".", "'s", ")", ", honestly"]),
)
def test_competitors_are_found_in_any_case(
    name: str, flip: list[bool], before: str, after: str
) -> None:
    cased = "".join(c.upper() if f else c.lower() for c, f in zip(name, flip * 2, strict=False))
    assert check_competitors(f"We beat {before}{cased}{after} often", CONTEXT.competitors) == (
        name,
    )


@settings(max_examples=100, deadline=None)
@given(subject=st.text(max_size=120), body=st.text(max_size=600))
def test_never_raises_on_arbitrary_text(subject: str, body: str) -> None:
    failures = check_draft(subject, body, CONTEXT)
    assert all(f.message for f in failures)


def test_find_placeholders_ignores_real_prose() -> None:
    assert find_placeholders("Hi Jordan, see you soon (hopefully) - Maya") == ()
