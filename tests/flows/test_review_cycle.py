"""The review loop as a founder lives it: a draft appears, is approved once, leaves once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from crm.fake import FakeCrm
from flows.cycle import run_cycle
from flows.delivery import deliver_due
from flows.ports import Actor, Policy, Services
from flows.review import Outcome, approve, dismiss, edit, opt_out, pause, resume, snooze
from mail.base import PermanentMailError, TransientMailError
from mail.fake import FakeMailbox, WorkerDied
from prompts.base import VoiceSettings
from prompts.drafter import TemplateDrafter
from storage.repos import Store
from tests.factories import NOW, activity, proposal_pipeline
from triggers.drafts import Draft, DraftStatus, OutboxStatus
from triggers.model import ActivityKind, DealStatus, Direction

MAYA = Actor.slack("U01MAYA", "maya")  # the deal's owner
STRANGER = Actor.slack("U0STRANGER", "sam")
ADMIN = Actor.slack("U0ADMIN", "ada")
# Monday 10:00 in Berlin: inside Jordan's send window.
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class RecordingReview:
    def __init__(self) -> None:
        self.published: list[Draft] = []
        self.updates: list[tuple[int, str]] = []

    def publish(self, draft: Draft, view: object) -> None:
        self.published.append(draft)

    def update(self, draft: Draft, view: object, outcome: str) -> None:
        self.updates.append((draft.id, outcome))


@pytest.fixture
def services(store: Store) -> Services:
    return Services(
        store=store,
        crm=FakeCrm(proposal_pipeline()),
        mailbox=FakeMailbox(),
        drafter=TemplateDrafter(),
        review=RecordingReview(),
        policy=Policy(admins=frozenset({"U0ADMIN"})),  # Message-IDs take the owner's domain
    )


def queued(services: Services, at: datetime = MONDAY) -> Draft:
    report = run_cycle(services, at)
    [draft] = report.drafted
    return draft


def test_a_due_rule_becomes_one_draft_with_its_reason(services: Services) -> None:
    report = run_cycle(services, MONDAY)
    [draft] = report.drafted
    assert draft.rule == "proposal_no_reply"
    assert draft.to_address == "jordan@globex.example"
    assert "no reply" in draft.reason
    assert draft.body.startswith("Hi Jordan")
    assert services.review.published == [draft]  # type: ignore[attr-defined]
    # The next cycle finds the pending draft and queues nothing more.
    assert run_cycle(services, MONDAY + timedelta(minutes=5)).drafted == []


def test_approve_sends_once_in_thread_and_logs_a_touch(services: Services) -> None:
    draft = queued(services)
    decision = approve(services, draft.id, MAYA, MONDAY)
    assert decision.ok
    assert decision.send_at == MONDAY  # inside the window: leaves at once
    again = approve(services, draft.id, MAYA, MONDAY)
    assert again.outcome is Outcome.ALREADY_DECIDED
    assert deliver_due(services, MONDAY).sent == [draft.id]
    assert deliver_due(services, MONDAY + timedelta(minutes=1)).sent == []
    [message] = services.mailbox.sent  # type: ignore[attr-defined]
    assert message.to_address == "jordan@globex.example"
    assert message.in_reply_to == "<proposal-1@northwind.example>" or message.in_reply_to is None
    # Unique, at the owner's domain, naming neither the tool nor the draft.
    assert message.message_id.endswith("@northwind.example>")
    assert "followup" not in message.message_id
    assert f".{draft.id}." not in message.message_id
    assert services.store.drafts.get(draft.id).status is DraftStatus.SENT  # type: ignore[union-attr]
    sent = [
        a for a in services.store.pipeline.load().activities if a.id == f"followup-sent-{draft.id}"
    ]
    assert sent[0].direction is Direction.OUT
    assert services.crm.logged == sent  # type: ignore[attr-defined]
    # A sent draft is a touch, and the anchor already fired: nothing new is due.
    assert run_cycle(services, MONDAY + timedelta(days=1)).drafted == []


def test_outside_the_window_an_approval_waits_for_the_opening(services: Services) -> None:
    draft = queued(services)
    saturday_night = NOW + timedelta(days=1, hours=7)
    decision = approve(services, draft.id, MAYA, saturday_night)
    assert decision.send_at is not None
    assert decision.send_at.astimezone().isoformat()  # aware
    assert deliver_due(services, saturday_night).sent == []
    assert deliver_due(services, decision.send_at).sent == [draft.id]


def test_only_the_owner_and_admins_may_decide(services: Services) -> None:
    draft = queued(services)
    refused = approve(services, draft.id, STRANGER, MONDAY)
    assert refused.outcome is Outcome.FORBIDDEN
    assert services.store.drafts.get(draft.id).status is DraftStatus.PENDING  # type: ignore[union-attr]
    assert services.store.audit.recent()[0].action == "refused:approve"
    assert dismiss(services, draft.id, STRANGER, MONDAY, "not_now").outcome is Outcome.FORBIDDEN
    assert approve(services, draft.id, ADMIN, MONDAY).ok


def test_a_crash_after_sending_is_recovered_without_a_second_send(services: Services) -> None:
    draft = queued(services)
    approve(services, draft.id, MAYA, MONDAY)
    services.mailbox.die_after_next_send = True  # type: ignore[attr-defined]
    with pytest.raises(WorkerDied):
        deliver_due(services, MONDAY)
    [row] = services.store.outbox.find()
    assert row.status is OutboxStatus.SENDING
    # Another worker, later: the message is found among sent mail and recorded, not resent.
    report = deliver_due(services, MONDAY + timedelta(minutes=10))
    assert report.recovered == [draft.id]
    assert len(services.mailbox.sent) == 1  # type: ignore[attr-defined]
    assert services.store.drafts.get(draft.id).status is DraftStatus.SENT  # type: ignore[union-attr]


def test_a_crash_before_sending_is_retried_once(services: Services) -> None:
    draft = queued(services)
    approve(services, draft.id, MAYA, MONDAY)
    services.store.outbox.claim_due(MONDAY)  # a worker claimed it, then died
    assert deliver_due(services, MONDAY + timedelta(minutes=1)).sent == []  # claim still fresh
    # Recovery: the message is not among sent mail, so it is requeued and sent, once.
    report = deliver_due(services, MONDAY + timedelta(minutes=10))
    assert report.sent == [draft.id]
    assert deliver_due(services, MONDAY + timedelta(minutes=20)).sent == []
    assert len(services.mailbox.sent) == 1  # type: ignore[attr-defined]


def test_transient_failures_back_off_and_permanent_ones_surface(services: Services) -> None:
    draft = queued(services)
    approve(services, draft.id, MAYA, MONDAY)
    services.mailbox.failures.append(TransientMailError("421 try later"))  # type: ignore[attr-defined]
    report = deliver_due(services, MONDAY)
    assert report.retrying == [(draft.id, "421 try later")]
    assert deliver_due(services, MONDAY + timedelta(seconds=30)).sent == []
    services.mailbox.failures.append(PermanentMailError("550 no such user"))  # type: ignore[attr-defined]
    report = deliver_due(services, MONDAY + timedelta(minutes=2))
    assert report.failed == [(draft.id, "550 no such user")]
    assert services.store.drafts.get(draft.id).status is DraftStatus.FAILED  # type: ignore[union-attr]
    assert (draft.id, "Send failed: 550 no such user") in services.review.updates  # type: ignore[attr-defined]
    assert services.mailbox.sent == []  # type: ignore[attr-defined]


def test_a_reply_after_approval_stops_the_send(services: Services) -> None:
    draft = queued(services, at=NOW)
    approve(services, draft.id, MAYA, NOW + timedelta(days=1))  # Saturday: waits for Monday
    reply = activity(
        ActivityKind.EMAIL,
        NOW + timedelta(days=1, hours=2),
        id="a-reply",
        direction=Direction.IN,
        from_address="jordan@globex.example",
    )
    services.crm.add(reply)  # type: ignore[attr-defined]
    run_cycle(services, NOW + timedelta(days=1, hours=3))
    # The cycle withdraws the waiting message at once, and its Slack message says so.
    assert services.store.drafts.get(draft.id).status is DraftStatus.WITHDRAWN  # type: ignore[union-attr]
    [(_, outcome)] = [u for u in services.review.updates if u[0] == draft.id]  # type: ignore[attr-defined]
    assert outcome.startswith("Withdrawn before sending: reply arrived")
    report = deliver_due(services, MONDAY)
    assert report.sent == []
    assert services.mailbox.sent == []  # type: ignore[attr-defined]


def test_a_pending_draft_is_withdrawn_when_the_deal_closes(services: Services) -> None:
    draft = queued(services)
    crm: FakeCrm = services.crm  # type: ignore[assignment]
    crm.pipeline = replace(
        crm.pipeline, deals=(replace(crm.pipeline.deals[0], status=DealStatus.WON),)
    )
    report = run_cycle(services, MONDAY + timedelta(hours=1))
    assert [(d.id, reason) for d, reason in report.withdrawn] == [(draft.id, "deal is now won")]
    assert (draft.id, "Withdrawn: deal is now won") in services.review.updates  # type: ignore[attr-defined]


def test_opt_out_withdraws_and_cancels_everything_to_that_address(services: Services) -> None:
    draft = queued(services, at=NOW)
    approve(services, draft.id, MAYA, NOW + timedelta(days=1))
    decision = opt_out(services, "Jordan@Globex.example", MAYA, NOW + timedelta(days=1, hours=1))
    assert decision.ok
    assert deliver_due(services, MONDAY).sent == []
    assert services.store.drafts.get(draft.id).status is DraftStatus.WITHDRAWN  # type: ignore[union-attr]
    assert services.crm.do_not_contact == ["c1"]  # type: ignore[attr-defined]
    assert run_cycle(services, MONDAY + timedelta(days=7)).drafted == []


def test_edit_then_approve_sends_the_edited_text(services: Services) -> None:
    draft = queued(services)
    saved = edit(
        services,
        draft.id,
        MAYA,
        MONDAY,
        subject="Quick one",
        body="Hi Jordan,\n\nShort version?\n\nMaya",
        expected_version=1,
    )
    assert saved.ok
    stale = edit(services, draft.id, MAYA, MONDAY, subject="x", body="y", expected_version=1)
    assert stale.outcome is Outcome.ALREADY_DECIDED
    assert approve(services, draft.id, MAYA, MONDAY, expected_version=2).ok
    deliver_due(services, MONDAY)
    [message] = services.mailbox.sent  # type: ignore[attr-defined]
    assert (message.subject, message.body.strip()) == (
        "Quick one",
        "Hi Jordan,\n\nShort version?\n\nMaya",
    )
    late = edit(services, draft.id, MAYA, MONDAY, subject="z", body="z", expected_version=2)
    assert late.outcome is Outcome.ALREADY_DECIDED
    assert "already sent" in late.message


def test_snooze_pause_and_resume(services: Services) -> None:
    draft = queued(services)
    assert snooze(services, draft.id, MAYA, MONDAY, timedelta(days=3)).ok
    assert run_cycle(services, MONDAY + timedelta(days=1)).drafted == []
    assert pause(services, "d1", MAYA, MONDAY, until=None).ok
    assert run_cycle(services, MONDAY + timedelta(days=30)).drafted == []
    assert resume(services, "d1", MAYA, MONDAY + timedelta(days=30)).ok


def test_a_crm_outage_delays_and_drops_nothing(services: Services) -> None:
    run_cycle(services, NOW)
    services.crm.down = True  # type: ignore[attr-defined]
    report = run_cycle(services, MONDAY)
    assert report.sync_failed == "fake CRM is down"
    assert len(services.store.drafts.find(statuses=[DraftStatus.PENDING])) == 1


def test_recovery_waits_when_sent_mail_cannot_be_checked(services: Services) -> None:
    draft = queued(services)
    approve(services, draft.id, MAYA, MONDAY)
    # A worker claimed it and handed it to the mailbox, then died.
    [claimed] = services.store.outbox.claim_due(MONDAY, owner="dead")
    services.store.outbox.mark_handed(claimed.id, "dead", now=MONDAY)

    def unreachable(message_id: str) -> None:
        raise TransientMailError("IMAP unreachable")

    services.mailbox.find_sent = unreachable  # type: ignore[method-assign]
    report = deliver_due(services, MONDAY + timedelta(minutes=10))
    assert (report.sent, report.recovered) == ([], [])
    [row] = services.store.outbox.find()
    assert row.status is OutboxStatus.SENDING  # neither resent nor given up


def test_after_a_hard_bounce_the_alternate_address_takes_over(services: Services) -> None:
    crm: FakeCrm = services.crm  # type: ignore[assignment]
    [jordan] = crm.pipeline.contacts
    crm.pipeline = replace(
        crm.pipeline, contacts=(replace(jordan, alt_emails=("j.lee@globex-mail.example",)),)
    )
    services.store.suppressions.add("jordan@globex.example", reason="hard_bounce", now=NOW)
    draft = queued(services)
    assert draft.to_address == "j.lee@globex-mail.example"
    services.store.suppressions.add("j.lee@globex-mail.example", reason="hard_bounce", now=NOW)
    assert run_cycle(services, MONDAY + timedelta(hours=1)).withdrawn[0][1] == (
        "j.lee@globex-mail.example is on the suppression list"
    )


def test_the_draft_is_signed_in_its_owners_voice(services: Services) -> None:
    maya_voice = VoiceSettings(signature="Maya Chen, founder of Northwind", sign_off="Cheers,")
    services.policy = replace(services.policy, owner_voices={"u1": maya_voice})
    draft = queued(services)
    assert draft.body.rstrip().endswith("Cheers,\nMaya Chen, founder of Northwind")
