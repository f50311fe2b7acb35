"""The inbox as the truth: replies stop drafting, out-of-offices are notes, bounces and
opt-outs suppress, hand-sent mail is a touch; reading twice records once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from crm.fake import FakeCrm
from flows.cycle import run_cycle
from flows.inbound import read_inbox
from flows.ports import Policy, Services
from mail.base import InboundBatch, InboundMessage, TransientMailError
from mail.fake import FakeMailbox
from prompts.drafter import TemplateDrafter
from storage.repos import Store
from tests.conftest import CORPORA
from tests.factories import NOW, contact, proposal_pipeline
from triggers.drafts import Draft, DraftStatus
from triggers.handoff import Handoff
from triggers.model import Activity, ActivityKind, ContactStatus, Direction, Pipeline

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # inside Jordan's send window
JORDAN = "jordan@globex.example"
MAYA = "maya@northwind.example"


class RecordingReview:
    def __init__(self) -> None:
        self.updates: list[tuple[int, str]] = []

    def publish(self, draft: Draft, view: object) -> None:
        return None

    def update(self, draft: Draft, view: object, outcome: str) -> None:
        self.updates.append((draft.id, outcome))


def make_services(store: Store, pipeline: Pipeline | None = None) -> Services:
    pipeline = pipeline or proposal_pipeline()
    store.pipeline.sync(pipeline, NOW - timedelta(days=10))  # as the last CRM sync left it
    return Services(
        store=store,
        crm=FakeCrm(pipeline),
        mailbox=FakeMailbox(),
        drafter=TemplateDrafter(),
        review=RecordingReview(),
        policy=Policy(message_id_domain="northwind.example"),
    )


@pytest.fixture
def services(store: Store) -> Services:
    return make_services(store)


def deliver(services: Services, raw: bytes, folder: str = "inbox") -> None:
    mailbox: FakeMailbox = services.mailbox  # type: ignore[assignment]
    n = len(mailbox.inbox)
    mailbox.inbox.append(InboundMessage(raw=raw, folder=folder, provider_id=f"m{n}"))  # type: ignore[arg-type]


def mail(
    *,
    sender: str = f"Jordan Lee <{JORDAN}>",
    to: str = f"Maya Chen <{MAYA}>",
    subject: str = "Re: Proposal: website rebuild",
    at: datetime = MONDAY,
    message_id: str = "<Reply-1@globex.example>",
    in_reply_to: str | None = "<proposal-1@northwind.example>",
    body: str = "Looks good, let's talk Tuesday.\n\nOn Mon, Maya Chen wrote:\n> Any questions?\n",
    headers: str = "",
) -> bytes:
    thread = f"In-Reply-To: {in_reply_to}\r\nReferences: {in_reply_to}\r\n" if in_reply_to else ""
    text = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {format_datetime(at)}\r\n"
        f"Message-ID: {message_id}\r\n{thread}{headers}"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body.replace("\n", "\r\n")
    )
    return text.encode()


def inbox_activities(store: Store) -> list[Activity]:
    return [a for a in store.pipeline.load().activities if a.id.startswith("mail-")]


def pending(services: Services) -> Draft:
    [draft] = run_cycle(services, MONDAY).drafted
    return draft


def with_contact(**overrides: object) -> Pipeline:
    pipeline = proposal_pipeline()
    return replace(pipeline, contacts=(contact(**overrides),))


def corpus(relative: str) -> bytes:
    path = Path(CORPORA) / relative
    if not path.exists():
        pytest.skip(f"corpus file {relative} not available")
    return path.read_bytes()


# --- replies ------------------------------------------------------------------------------------


def test_a_reply_found_in_the_inbox_stops_drafting_though_the_crm_never_logged_it(
    services: Services,
) -> None:
    draft = pending(services)
    deliver(services, mail(at=MONDAY + timedelta(hours=1)))
    report = run_cycle(services, MONDAY + timedelta(hours=2))
    assert report.inbound == 1
    [reply] = inbox_activities(services.store)
    assert (reply.kind, reply.direction, reply.from_address) == (
        ActivityKind.EMAIL,
        Direction.IN,
        JORDAN,
    )
    assert reply.body == "Looks good, let's talk Tuesday."  # the quoted history is not the reply
    assert reply.message_id == "<Reply-1@globex.example>"  # as written: the next reply quotes it
    assert reply.contact_id == "c1"
    assert services.store.drafts.get(draft.id).status is DraftStatus.WITHDRAWN  # type: ignore[union-attr]
    assert services.review.updates[0][1].startswith("Withdrawn: reply arrived")  # type: ignore[attr-defined]
    assert run_cycle(services, MONDAY + timedelta(days=6)).drafted == []  # the ball is ours
    assert services.crm.logged == []  # type: ignore[attr-defined]


def test_a_reply_written_before_the_draft_but_found_later_still_withdraws_it(
    services: Services,
) -> None:
    draft = pending(services)  # made while the inbox could not be read
    deliver(services, mail(at=MONDAY - timedelta(hours=3), in_reply_to=None))  # matched by sender
    run_cycle(services, MONDAY + timedelta(hours=1))
    assert services.store.drafts.get(draft.id).status is DraftStatus.WITHDRAWN  # type: ignore[union-attr]


def test_an_old_reply_already_answered_leaves_the_draft_alone(services: Services) -> None:
    draft = pending(services)
    deliver(services, mail(at=NOW - timedelta(days=6), in_reply_to=None, subject="Intro"))
    run_cycle(services, MONDAY + timedelta(hours=1))  # the proposal went out after it
    assert services.store.drafts.get(draft.id).status is DraftStatus.PENDING  # type: ignore[union-attr]
    assert len(inbox_activities(services.store)) == 1


def test_reading_again_never_records_twice_and_the_cursor_is_stored(services: Services) -> None:
    deliver(services, mail())
    deliver(services, mail(message_id="<reply-2@globex.example>", at=MONDAY + timedelta(hours=1)))
    assert read_inbox(services, MONDAY + timedelta(hours=2)) == 2
    assert services.store.sync_state.get("mail:fake") == "2"
    assert read_inbox(services, MONDAY + timedelta(hours=3)) == 0
    services.store.sync_state.set("mail:fake", "0")  # as if the cursor had been lost
    # handed over again: the seen-set knows both, so neither is read (nor recorded) twice
    assert read_inbox(services, MONDAY + timedelta(hours=4)) == 0
    assert len(inbox_activities(services.store)) == 2


def test_someone_else_answering_in_the_thread_is_a_reply_and_is_reported(
    services: Services,
) -> None:
    draft = pending(services)
    deliver(services, mail(sender="Sam <sam@globex.example>", at=MONDAY + timedelta(hours=1)))
    run_cycle(services, MONDAY + timedelta(hours=2))
    [reply] = inbox_activities(services.store)
    assert (reply.direction, reply.from_address, reply.contact_id) == (Direction.IN, None, "c1")
    assert reply.extra["sender"] == "sam@globex.example"
    assert services.store.drafts.get(draft.id).status is DraftStatus.WITHDRAWN  # type: ignore[union-attr]
    assert any(e.action == "unknown_sender" for e in services.store.audit.recent())


def test_an_unknown_sender_at_a_known_company_is_reported_not_dropped(services: Services) -> None:
    deliver(services, mail(sender="ceo@globex.example", in_reply_to=None, subject="Hello"))
    assert read_inbox(services, MONDAY) == 1
    assert inbox_activities(services.store) == []
    [entry] = [e for e in services.store.audit.recent() if e.action == "unknown_sender"]
    assert entry.subject == "ceo@globex.example"
    assert "Globex" in (entry.detail or "")


def test_mail_that_matches_nothing_is_left_alone(services: Services) -> None:
    deliver(services, mail(sender="news@shop.example", in_reply_to=None, subject="Sale"))
    read_inbox(services, MONDAY)
    assert inbox_activities(services.store) == []
    assert services.store.audit.recent() == []


# --- mail the founder sent by hand ------------------------------------------------------------------


def test_mail_sent_by_hand_is_a_touch(services: Services) -> None:
    by_hand = mail(
        sender=f"Maya Chen <{MAYA}>",
        to=f"Jordan <{JORDAN}>",
        subject="Following up",
        at=MONDAY - timedelta(hours=2),
        message_id="<hand-1@northwind.example>",
        in_reply_to=None,
        body="Hi Jordan, did you see the proposal?\n",
    )
    deliver(services, by_hand, folder="sent")
    report = run_cycle(services, MONDAY)
    [touch] = inbox_activities(services.store)
    assert (touch.direction, touch.to_addresses, touch.contact_id) == (
        Direction.OUT,
        (JORDAN,),
        "c1",
    )
    assert report.drafted == []  # a touch two hours ago: not due again yet


def test_followups_own_sent_copies_are_not_recorded_again(services: Services) -> None:
    ours = mail(
        sender=MAYA,
        to=JORDAN,
        message_id="<followup.1.v1@northwind.example>",
        body="Hi Jordan\n",
    )
    deliver(services, ours, folder="sent")
    read_inbox(services, MONDAY)
    assert inbox_activities(services.store) == []


# --- out-of-office ------------------------------------------------------------------------------


def test_an_out_of_office_is_a_note_with_its_return_date_and_no_reply(services: Services) -> None:
    ooo = mail(
        subject="Automatic reply: Proposal: website rebuild",
        at=MONDAY - timedelta(hours=1),
        headers="Auto-Submitted: auto-replied\r\n",
        body="I am out of the office until 30 November 2026. For urgent matters contact "
        "sam@globex.example.\n",
    )
    deliver(services, ooo)
    report = run_cycle(services, MONDAY)
    [note] = inbox_activities(services.store)
    assert note.kind is ActivityKind.NOTE
    assert note.direction is None
    assert note.extra["auto_reply"] is True
    assert note.reading is not None
    assert note.reading.kind == "auto_reply"
    assert note.extra["return_date"] == "2026-12-01" or note.extra["return_date"] == "2026-11-30"
    assert note.extra["alternate_address"] == "sam@globex.example"
    assert len(report.drafted) == 1  # an auto-reply is no reply: the follow-up is still due


def test_a_real_exchange_out_of_office_from_the_corpus(store: Store) -> None:
    raw = corpus("autoreply/sisimai_rfc3834/rfc3834-04.eml")
    services = make_services(store, with_contact(email="kijitora@example.org"))
    deliver(services, raw)
    run_cycle(services, MONDAY)
    [note] = inbox_activities(services.store)
    assert note.kind is ActivityKind.NOTE
    assert note.extra["return_date"] == "2013-08-01"
    assert note.extra["alternate_address"] == "neko@example.org"


# --- bounces ------------------------------------------------------------------------------------


def test_a_hard_bounce_suppresses_the_address_and_marks_the_contact(store: Store) -> None:
    raw = corpus("bounce/flufl.bounce/postfix_01.txt")
    services = make_services(store, with_contact(email="xxxxx@local.ie"))
    deliver(services, raw)
    report = run_cycle(services, MONDAY)
    [suppression] = services.store.suppressions.all()
    assert (suppression.value, suppression.reason) == ("xxxxx@local.ie", "hard_bounce")
    [person] = services.store.pipeline.load().contacts
    assert person.status is ContactStatus.BOUNCED
    assert report.drafted == []
    [note] = inbox_activities(services.store)  # on the timeline, as a note: no reply
    assert note.kind is ActivityKind.NOTE
    assert note.reading is not None
    assert note.reading.kind == "bounce"
    assert note.extra["failed_recipient"] == "xxxxx@local.ie"
    assert note.extra["hard_bounce"] is True


def test_a_hard_bounce_keeps_a_contact_with_another_address(store: Store) -> None:
    raw = corpus("bounce/flufl.bounce/postfix_01.txt")
    pipeline = with_contact(email="xxxxx@local.ie", alt_emails=("jordan@globex.example",))
    services = make_services(store, pipeline)
    deliver(services, raw)
    read_inbox(services, MONDAY)
    [person] = services.store.pipeline.load().contacts
    assert person.status is ContactStatus.ACTIVE
    entries = {e.action: e for e in services.store.audit.recent()}
    assert entries["alternate_address"].detail == "jordan@globex.example"
    assert "hard_bounce" in entries


def test_a_soft_bounce_is_only_audited(store: Store) -> None:
    raw = corpus("bounce/flufl.bounce/dsn_05.txt")
    services = make_services(store, with_contact(email="pkocmid@atlas.cz"))
    deliver(services, raw)
    read_inbox(services, MONDAY)
    assert services.store.suppressions.all() == []
    assert [e.action for e in services.store.audit.recent()] == ["soft_bounce"]
    assert inbox_activities(services.store) == []
    [person] = services.store.pipeline.load().contacts
    assert person.status is ContactStatus.ACTIVE


# --- opt-outs and complaints ------------------------------------------------------------------------


def test_an_opt_out_reply_suppresses_at_once_and_withdraws_the_draft(services: Services) -> None:
    draft = pending(services)
    deliver(
        services,
        mail(body="Please remove me from your list.\n", at=MONDAY - timedelta(days=3)),
    )
    read_inbox(services, MONDAY + timedelta(minutes=5))
    [suppression] = services.store.suppressions.all()
    assert (suppression.value, suppression.reason) == (JORDAN, "opt_out")
    assert services.store.drafts.get(draft.id).status is DraftStatus.WITHDRAWN  # type: ignore[union-attr]
    assert services.crm.do_not_contact == ["c1"]  # type: ignore[attr-defined]
    [entry] = [e for e in services.store.audit.recent() if e.action == "opt_out"]
    assert entry.actor == "cli:inbox"
    assert run_cycle(services, MONDAY + timedelta(days=7)).drafted == []


def test_a_complaint_report_opts_the_recipient_out(store: Store) -> None:
    raw = corpus("optout/sisimai_arf/arf-01.eml")
    services = make_services(store, with_contact(email="redacted@example.net"))
    deliver(services, raw)
    read_inbox(services, MONDAY)
    assert [(s.value, s.reason) for s in services.store.suppressions.all()] == [
        ("redacted@example.net", "opt_out")
    ]
    [person] = services.store.pipeline.load().contacts
    assert person.status is ContactStatus.DO_NOT_CONTACT


def test_an_unsubscribe_email_from_the_corpus_is_honoured(services: Services) -> None:
    deliver(services, corpus("optout/discourse/unsubscribe_body.eml"))
    read_inbox(services, MONDAY)
    assert [s.value for s in services.store.suppressions.all()] == ["discourse@bar.com"]


# --- outages and bad input ----------------------------------------------------------------------


class DownMailbox(FakeMailbox):
    def fetch_since(self, cursor: str | None) -> InboundBatch:
        raise TransientMailError("IMAP connection refused")


def test_a_mailbox_outage_delays_reading_and_the_cycle_goes_on(store: Store) -> None:
    services = make_services(store)
    services.mailbox = DownMailbox()
    report = run_cycle(services, MONDAY)
    assert report.inbound == 0
    assert len(report.drafted) == 1
    assert services.store.sync_state.get("mail:fake") is None


def test_one_message_that_fails_is_reported_and_the_rest_goes_on(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reading import ParsedMessage, understand
    from triggers.reading import Reading

    def flaky(parsed: ParsedMessage, **kwargs: object) -> Reading:
        if parsed.message_id == "bad@globex.example":
            raise RuntimeError("boom")
        return understand(parsed, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("flows.inbound.understand_message", flaky)
    deliver(services, mail(message_id="<bad@globex.example>"))
    deliver(services, mail(message_id="<good@globex.example>"))
    assert read_inbox(services, MONDAY) == 2
    assert [a.message_id for a in inbox_activities(services.store)] == ["<good@globex.example>"]
    [failed] = [e for e in services.store.audit.recent() if e.action == "inbound_failed"]
    assert failed.subject == "m0"
    assert services.store.sync_state.get("mail:fake") == "2"


# --- the founder's own side -----------------------------------------------------------------------


def test_a_colleague_writing_in_the_thread_is_our_touch_not_their_reply(
    services: Services,
) -> None:
    draft = pending(services)
    colleague = mail(
        sender="Sam Ops <sam@northwind.example>",
        to=f"Jordan <{JORDAN}>",
        at=MONDAY + timedelta(hours=1),
        message_id="<ops-1@northwind.example>",
        body="Jordan, here is the SOC 2 report you asked for.\n",
    )
    deliver(services, colleague)  # Maya was in copy: it is in her INBOX
    read_inbox(services, MONDAY + timedelta(hours=2))
    [touch] = inbox_activities(services.store)
    assert touch.direction is Direction.OUT
    assert services.store.drafts.get(draft.id).status is DraftStatus.PENDING  # type: ignore[union-attr]


def test_a_bounce_reported_by_the_founders_own_postmaster_is_still_a_bounce(
    services: Services,
) -> None:
    dsn = (
        b"From: postmaster@northwind.example\r\nTo: maya@northwind.example\r\n"
        b"Subject: Undeliverable: Proposal: website rebuild\r\n"
        b"Date: Mon, 23 Nov 2026 09:00:00 +0000\r\nMessage-ID: <ndr-1@northwind.example>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\n"
        b"Delivery has failed to these recipients: jordan@globex.example\r\n\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns;mail.northwind.example\r\n\r\n"
        b"Final-Recipient: rfc822;jordan@globex.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"Diagnostic-Code: smtp;550 5.1.1 RESOLVER.ADR.RecipNotFound; not found\r\n\r\n"
        b"--b--\r\n"
    )
    deliver(services, dsn)
    read_inbox(services, MONDAY)
    assert [(s.value, s.reason) for s in services.store.suppressions.all()] == [
        (JORDAN, "hard_bounce")
    ]


class RecordingHandoffs:
    def __init__(self) -> None:
        self.posted: list[str] = []

    def post_handoff(self, handoff: Handoff, view: object, question: object) -> None:
        self.posted.append(handoff.summary)

    def ask_owner(self, question: object, view: object) -> None:
        return None


def test_a_reply_on_a_deal_no_cadence_follows_is_handed_to_a_person_once(
    services: Services,
) -> None:
    surface = RecordingHandoffs()
    services.handoffs = surface
    deliver(services, mail())
    report = run_cycle(services, MONDAY + timedelta(minutes=5))
    assert report.handed_off == 1
    [summary] = surface.posted
    assert summary.startswith("Warm interest: Jordan Lee (Globex) replied")
    assert "Looks good, let's talk Tuesday." in summary
    assert "Any questions?" not in summary  # the quoted history is not what they said
    # The same message delivered again (a re-read, a second folder): never handed off twice.
    deliver(services, mail())
    assert run_cycle(services, MONDAY + timedelta(minutes=10)).handed_off == 0
    assert len(surface.posted) == 1


def test_a_reply_read_by_a_cycle_that_then_failed_is_handed_off_by_the_next(
    services: Services,
) -> None:
    surface = RecordingHandoffs()
    services.handoffs = surface
    deliver(services, mail())
    read_inbox(services, MONDAY)  # the cycle read the inbox, then died: the cursor moved on
    assert surface.posted == []
    assert run_cycle(services, MONDAY + timedelta(minutes=5)).handed_off == 1
    assert len(surface.posted) == 1


def test_one_reply_recorded_on_two_deals_is_one_handoff(store: Store) -> None:
    base = proposal_pipeline()
    second = replace(base.deals[0], id="d2", title="Globex support retainer")
    services = make_services(store, replace(base, deals=(*base.deals, second)))
    surface = RecordingHandoffs()
    services.handoffs = surface
    # No thread to match: the reply is recorded on both of Jordan's deals.
    deliver(services, mail(in_reply_to=None, subject="Quick question"))
    run_cycle(services, MONDAY + timedelta(minutes=5))
    replies = [
        a
        for a in store.pipeline.load().activities
        if a.direction is Direction.IN and a.kind is ActivityKind.EMAIL
    ]
    assert {a.deal_id for a in replies} == {"d1", "d2"}
    assert len(surface.posted) == 1


def test_a_reply_already_answered_is_not_handed_off(services: Services) -> None:
    surface = RecordingHandoffs()
    services.handoffs = surface
    deliver(services, mail(at=MONDAY - timedelta(hours=3)))
    deliver(
        services,
        mail(
            sender=f"Maya Chen <{MAYA}>",
            to=f"Jordan Lee <{JORDAN}>",
            at=MONDAY - timedelta(hours=1),
            message_id="<answer-1@northwind.example>",
            in_reply_to="<Reply-1@globex.example>",
            body="Tuesday works, I'll send an invite.",
        ),
        folder="sent",
    )
    assert run_cycle(services, MONDAY).handed_off == 0
    assert surface.posted == []


@pytest.mark.parametrize(
    "body",
    [
        "Please remove me from your mailing list.",  # an opt-out: suppressed, not a handoff
        "I am out of the office until Monday 30 November with no access to email.",
    ],
)
def test_opt_outs_and_out_of_offices_are_not_handed_off(services: Services, body: str) -> None:
    surface = RecordingHandoffs()
    services.handoffs = surface
    deliver(services, mail(body=body))
    assert run_cycle(services, MONDAY + timedelta(minutes=5)).handed_off == 0
    assert surface.posted == []
    # ...but handled where a person can see it (issue 11 item 7): suppressed, paused, or an
    # out-of-office recorded with its return date (every draft's arrival waits for it)
    store = services.store
    recorded_away = any(
        a.reading is not None and a.reading.kind == "auto_reply" and a.reading.return_date
        for a in store.pipeline.load().activities
        if a.deal_id == "d1"
    )
    handled = (
        store.suppressions.is_suppressed(JORDAN)
        or "d1" in store.pauses.active(MONDAY)
        or recorded_away
    )
    assert handled
