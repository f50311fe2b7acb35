"""Learning from the reviewer: which templates get edited or dismissed, and suggestions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from triggers.drafts import Draft, DraftStatus
from triggers.edits import edit_report

AT = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
BODY = (
    "Hi Lena,\n\nI hope the proposal gave you what you needed. "
    "I'm also happy to walk you through it on a short call. Would that help?\n\nBest,\nMaya"
)


def draft(n: int, rule: str = "proposal_no_reply", **changes: object) -> Draft:
    base = Draft(
        id=n,
        deal_id=f"d{n}",
        contact_id="c1",
        to_address="lena@example.com",
        trigger=rule,
        rule=rule,
        angle=None,
        anchor_at=AT,
        due_at=AT,
        send_at=AT,
        reason="r",
        evidence=(),
        subject="Re: Proposal",
        body=BODY,
        original_subject="Re: Proposal",
        original_body=BODY,
        source="template",
        status=DraftStatus.SENT,
        version=1,
        created_at=AT,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_most_edited_template_comes_first_with_the_repeated_edit_as_a_suggestion() -> None:
    trimmed = BODY.replace(" Would that help?", " Does Thursday work?")
    drafts = [
        draft(1, body=trimmed),
        draft(2, body=trimmed),
        draft(3),
        draft(4, rule="quote_expired"),
        draft(5, rule="quote_expired", status=DraftStatus.DISMISSED),
        draft(
            6, rule="stage_stale", notice="drafted from template: the model timed out after 10 s"
        ),
    ]
    report = edit_report(drafts)
    first = report.templates[0]
    assert (first.template, first.edited, first.approved_unchanged, first.drafted) == (
        "proposal_no_reply",
        2,
        1,
        3,
    )
    quote = next(t for t in report.templates if t.template == "quote_expired")
    assert (quote.dismissed, quote.approved_unchanged) == (1, 1)
    stale = next(t for t in report.templates if t.template == "stage_stale")
    assert stale.fallbacks == 1
    texts = [str(s) for s in report.suggestions]
    assert (
        "proposal_no_reply: reviewers deleted 'Would that help?' in 2 of 2 edited drafts; "
        "consider taking it out of proposal_no_reply.j2"
    ) in texts
    assert any("reviewers added 'Does Thursday work?'" in t for t in texts)


def test_one_off_edits_are_not_suggestions() -> None:
    report = edit_report([draft(1, body=BODY.replace("Would that help?", "Free Tuesday?"))])
    assert report.suggestions == ()
