"""Issue 11 item 7: every person's reply ends in exactly one of: handed to a person, or a
recorded automatic action a person can see (suppressed, paused until a date)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flows.cadences import cadence_store
from flows.cycle import run_cycle
from flows.ports import Actor, Services
from flows.replies import done_handoff, inbox_lines, list_handoffs
from storage.repos import Store
from tests.flows.test_inbound import JORDAN, MONDAY, deliver, mail, make_services, pending
from triggers.drafts import DraftStatus


@pytest.fixture
def services(store: Store) -> Services:
    return make_services(store)


# Read as an opt-out by the reply classifier, as a plain reply by the inbox (no opt-out words
# it knows): before the fix the draft was withdrawn and nobody heard of it.
NOT_UNTIL_NEXT_WEEK = (
    "Danke. Wir kommen nächste Woche auf Sie zu. Bis dahin keine weiteren Mails bitte.\n"
)


def outcome(services: Services) -> tuple[int, bool]:
    handed = len(cadence_store(services).handoffs.find())
    suppressed = services.store.suppressions.is_suppressed(JORDAN)
    return handed, suppressed


def test_a_reply_read_as_an_opt_out_is_suppressed_or_handed_off_never_dropped(
    services: Services,
) -> None:
    draft = pending(services)
    deliver(services, mail(at=MONDAY + timedelta(hours=1), body=NOT_UNTIL_NEXT_WEEK))
    report = run_cycle(services, MONDAY + timedelta(hours=2))
    assert services.store.drafts.get(draft.id).status is DraftStatus.WITHDRAWN  # type: ignore[union-attr]
    handed, suppressed = outcome(services)
    assert (handed, suppressed) in ((1, False), (0, True))  # exactly one of the two
    if handed:
        [handoff] = list_handoffs(services)
        if handoff.intent == "opt_out":
            assert "Check first: it reads as an opt-out" in handoff.summary
    # `tick` says what it found and where it went
    [line] = inbox_lines(services, report.inbox)
    assert line.startswith(f"reply from {JORDAN}: ")
    assert ("handed to" in line) or ("suppressed" in line)


def test_handoffs_are_listed_until_someone_marks_them_done(services: Services) -> None:
    pending(services)
    deliver(services, mail(at=MONDAY + timedelta(hours=1), body="Sounds great, send the contract."))
    run_cycle(services, MONDAY + timedelta(hours=2))
    [handoff] = list_handoffs(services)
    stranger = Actor.slack("U0STRANGER")
    refused = done_handoff(services, handoff.id, stranger, MONDAY + timedelta(hours=3))
    assert not refused.ok
    assert list_handoffs(services) == [handoff]
    assert services.store.audit.recent()[0].action == "refused:handoff_done"
    done = done_handoff(services, handoff.id, Actor.operator("maya"), MONDAY + timedelta(hours=3))
    assert done.ok, done.message
    assert list_handoffs(services) == []
    [closed] = list_handoffs(services, include_done=True)
    assert (closed.acted_by, closed.action) == ("cli:maya", "done")
    again = done_handoff(services, handoff.id, Actor.operator("jonas"), MONDAY + timedelta(hours=4))
    assert not again.ok
    assert "Already marked done by cli:maya" in again.message
