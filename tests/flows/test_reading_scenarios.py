"""Scenarios of issues 11 and 15: one reading of each inbound message, and what a person sees.

Each test fails on the code before reading/ (mail/parse.py plus prompts/classify.py)."""

from __future__ import annotations

import time
from datetime import date, timedelta

from flows.cycle import run_cycle
from flows.inbound import read_inbox
from flows.ports import Services
from tests.flows.test_inbound import (
    JORDAN,
    MONDAY,
    RecordingHandoffs,
    deliver,
    inbox_activities,
    mail,
    pending,
    services,  # noqa: F401 - the fixture
)
from triggers.drafts import DraftStatus
from triggers.reading import Intent, OptOut

GERMAN_LATER = (
    "Danke für Ihre Nachricht. Wir melden uns nächste Woche bei Ihnen; "
    "bis dahin bitte keine weiteren E-Mails.\n"
)


def test_a_german_not_now_is_handed_to_a_person_with_check_first_not_dropped(
    services: Services,  # noqa: F811
) -> None:
    """Issue 11, item 7: "we will get back to you next week; no more emails until then" was
    read as an opt-out, nobody was suppressed, the draft went, and no person was told."""
    surface = RecordingHandoffs()
    services.handoffs = surface
    draft = pending(services)
    deliver(services, mail(body=GERMAN_LATER))
    report = run_cycle(services, MONDAY + timedelta(minutes=5))
    assert services.store.suppressions.all() == []  # not surely an opt-out: nobody suppressed
    [reply] = inbox_activities(services.store)
    assert reply.reading is not None
    assert (reply.reading.kind, reply.reading.opt_out) == ("reply", OptOut.CHECK)
    assert report.handed_off == 1
    [summary] = surface.posted
    assert "Check first" in summary
    assert services.store.drafts.get(draft.id).status is DraftStatus.WITHDRAWN  # type: ignore[union-attr]


def test_a_bare_stop_reply_suppresses_the_contact(services: Services) -> None:  # noqa: F811
    """Issue 11, item 14: a bare "STOP" withdrew the draft but did not suppress the contact."""
    draft = pending(services)
    deliver(services, mail(body="STOP\n"))
    read_inbox(services, MONDAY + timedelta(minutes=5))
    [suppression] = services.store.suppressions.all()
    assert (suppression.value, suppression.reason) == (JORDAN, "opt_out")
    assert services.store.drafts.get(draft.id).status is DraftStatus.WITHDRAWN  # type: ignore[union-attr]


def test_a_huge_footer_paragraph_gets_its_verdict_in_bounded_time(
    services: Services,  # noqa: F811
) -> None:
    """Issue 11, item 14: the `_DISCLAIMER` pattern was quadratic in the paragraph (4 s extra at
    a 20 KB line, 59 s at 80 KB); one such reply made a tick take 107 s. This one is 80 KB."""
    footer = "This message is confidential. " * 2700 + "If you are not the intended recipient"
    body = "Sounds good, let's talk Tuesday.\n\n" + footer + "\n"
    deliver(services, mail(body=body))
    started = time.perf_counter()
    read_inbox(services, MONDAY + timedelta(minutes=5))
    assert time.perf_counter() - started < 5
    [reply] = inbox_activities(services.store)
    assert reply.reading is not None
    assert reply.reading.intent is Intent.MEETING_REQUEST


def test_the_reading_is_stored_with_the_activity_and_read_back(
    services: Services,  # noqa: F811
) -> None:
    """Issue 15: `Reading` is stored, and the cadences and handoffs read it back."""
    deliver(
        services,
        mail(
            body="I am out of the office until Friday 27 November inclusive.\n",
            headers="Auto-Submitted: auto-replied\r\n",
        ),
    )
    read_inbox(services, MONDAY + timedelta(minutes=5))
    [note] = inbox_activities(services.store)
    assert note.reading is not None
    assert note.reading.kind == "auto_reply"
    assert note.reading.return_date == date(2026, 11, 30)  # the Monday after the last day away
