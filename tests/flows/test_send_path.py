"""Every approved message leaves once, as approved, at the right time, or a person hears why
(issue 11, the send path): one scenario per promise, each failing on the code before it."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crm.fake import FakeCrm
from flows.cycle import run_cycle
from flows.delivery import deliver_due
from flows.inbound import Context, handle_message
from flows.outgoing import plan_message
from flows.ports import Actor, Policy, Services
from flows.review import Outcome, approve, cancel, pause
from mail.base import InboundMessage, OutgoingMessage, SentReceipt, build_mime
from mail.fake import FakeMailbox, WorkerDied
from mail.outbox import OutboxMailbox
from prompts.drafter import TemplateDrafter
from storage.db import make_engine, migrate
from storage.repos import Store
from tests.factories import NOW, activity, proposal_pipeline
from triggers.drafts import Draft, DraftStatus, OutboxStatus
from triggers.model import ActivityKind, Direction

MAYA = Actor.slack("U01MAYA", "maya")
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Berlin: inside Jordan's window
SATURDAY = NOW + timedelta(days=1)
THREAD_MAIL = activity(
    ActivityKind.EMAIL,
    NOW - timedelta(days=4, minutes=1),
    id="a-proposal-mail",
    subject="Website rebuild: the proposal",
    message_id="<proposal-mail-1@northwind.example>",
    to_addresses=("jordan@globex.example",),
)


class RecordingReview:
    def __init__(self) -> None:
        self.updates: list[tuple[int, str]] = []

    def publish(self, draft: Draft, view: object) -> None:
        return None

    def update(self, draft: Draft, view: object, outcome: str) -> None:
        self.updates.append((draft.id, outcome))

    def said(self, draft_id: int) -> list[str]:
        return [outcome for d, outcome in self.updates if d == draft_id]


def services_on(store: Store, mailbox: object | None = None, *extra: object) -> Services:
    return Services(
        store=store,
        crm=FakeCrm(proposal_pipeline(THREAD_MAIL, *extra)),  # type: ignore[arg-type]
        mailbox=mailbox or FakeMailbox(),  # type: ignore[arg-type]
        drafter=TemplateDrafter(),
        review=RecordingReview(),
        policy=Policy(admins=frozenset({"U0ADMIN"})),
    )


@pytest.fixture
def services(store: Store) -> Services:
    return services_on(store)


def queued(services: Services, at: datetime = MONDAY) -> Draft:
    [draft] = run_cycle(services, at).drafted
    return draft


def review(services: Services) -> RecordingReview:
    assert isinstance(services.review, RecordingReview)
    return services.review


def fake(services: Services) -> FakeMailbox:
    assert isinstance(services.mailbox, FakeMailbox)
    return services.mailbox


# --- 1. Message-IDs ---------------------------------------------------------------------------


def test_after_a_database_reset_an_approved_message_is_written_not_skipped(tmp_path: Path) -> None:
    """Draft #1 of a fresh database, on the same outbox folder, is a new message: it used to
    reuse <followup.1.v1@...>, be "found" among sent mail, and be marked sent unwritten."""
    folder = OutboxMailbox(tmp_path / "outbox")
    ids = []
    for attempt in ("before", "after"):
        engine = make_engine(f"sqlite:///{tmp_path / f'{attempt}.db'}")
        migrate(engine)
        services = services_on(Store(engine), folder)
        draft = queued(services)
        assert draft.id == 1
        assert approve(services, draft.id, MAYA, MONDAY).ok
        assert deliver_due(services, MONDAY).sent == [1]
        [row] = services.store.outbox.find()
        ids.append(row.message_id)
        engine.dispose()
    assert len(list((tmp_path / "outbox" / "sent").glob("*.eml"))) == 2
    assert ids[0] != ids[1]
    for message_id in ids:  # the sender's domain; neither the tool nor a draft number
        assert message_id.endswith("@northwind.example>")
        assert "followup" not in message_id
        assert ".1." not in message_id


def test_followup_knows_its_own_copy_in_the_sent_folder(services: Services) -> None:
    """A copy read back from Sent before the worker recorded it (a crash) is not a touch sent
    by hand: the Message-ID carries the owner's domain, and is recognised by its signature."""
    draft = queued(services)
    approve(services, draft.id, MAYA, MONDAY)
    fake(services).die_after_next_send = True
    with pytest.raises(WorkerDied):
        deliver_due(services, MONDAY)
    [message] = fake(services).sent
    raw = bytes(build_mime(message, date=MONDAY))
    handle_message(services, Context.load(services), InboundMessage(raw, "sent", "s:1"), MONDAY)
    recorded = [
        a for a in services.store.pipeline.load().activities if a.message_id == message.message_id
    ]
    assert recorded == []  # not taken for the founder's own hand-written mail
    # The dead worker's lease runs out; the next one finds the message in Sent and records it.
    assert deliver_due(services, MONDAY + timedelta(minutes=3)).recovered == [draft.id]
    recorded = [
        a for a in services.store.pipeline.load().activities if a.message_id == message.message_id
    ]
    assert [a.id for a in recorded] == [f"followup-sent-{draft.id}"]
    assert len(fake(services).sent) == 1


# --- 2. one transaction, and the start-up check ------------------------------------------------


def test_an_approval_whose_row_cannot_be_stored_approves_nothing(services: Services) -> None:
    draft = queued(services)
    # A row already sits in the outbox for this draft (a restored backup, a manual edit).
    services.store.outbox.enqueue(
        draft_id=draft.id,
        message_id="<stale@northwind.example>",
        from_address="maya@northwind.example",
        to_address=draft.to_address,
        subject="stale",
        body="stale",
        in_reply_to=None,
        references=(),
        send_at=SATURDAY + timedelta(days=30),
    )
    decision = approve(services, draft.id, MAYA, MONDAY)
    assert decision.outcome is Outcome.INVALID
    assert "nothing was approved" in decision.message
    # The draft is still the reviewer's: approved-without-its-message can no longer happen.
    assert services.store.drafts.get(draft.id).status is DraftStatus.PENDING  # type: ignore[union-attr]


def test_the_startup_check_queues_an_approval_an_older_version_left_without_its_row(
    services: Services,
) -> None:
    draft = queued(services)
    # What the two-transaction approval left after a crash between its commits.
    services.store.drafts.transition(
        draft.id, DraftStatus.APPROVED, actor="slack:U01MAYA", now=MONDAY
    )
    report = deliver_due(services, MONDAY + timedelta(minutes=1))
    assert report.repaired == [(draft.id, "approved but never queued (older version); queued now")]
    assert report.sent == [draft.id]
    assert len(fake(services).sent) == 1
    assert any(e.action == "repair" for e in services.store.audit.recent())


def test_the_startup_check_hands_back_an_old_approval_left_without_its_row(
    services: Services,
) -> None:
    draft = queued(services)
    services.store.drafts.transition(
        draft.id, DraftStatus.APPROVED, actor="slack:U01MAYA", now=MONDAY
    )
    report = deliver_due(services, MONDAY + timedelta(days=3))
    assert report.sent == []
    assert services.store.drafts.get(draft.id).status is DraftStatus.FAILED  # type: ignore[union-attr]
    [said] = review(services).said(draft.id)
    assert said.startswith("Not sent: approved but never queued")


def test_the_startup_check_finishes_a_send_recorded_only_in_the_outbox(services: Services) -> None:
    draft = queued(services)
    approve(services, draft.id, MAYA, MONDAY)
    # An older version committed "sent" on the row, then died before the draft and touch.
    [row] = services.store.outbox.claim_due(MONDAY, owner="old")
    services.store.outbox.finish(
        row.id, OutboxStatus.SENT, now=MONDAY, owner="old", provider_id="p"
    )
    assert services.store.drafts.get(draft.id).status is DraftStatus.APPROVED  # type: ignore[union-attr]
    report = deliver_due(services, MONDAY + timedelta(minutes=1))
    assert [d for d, _ in report.repaired] == [draft.id]
    assert services.store.drafts.get(draft.id).status is DraftStatus.SENT  # type: ignore[union-attr]
    ids = [a.id for a in services.store.pipeline.load().activities]
    assert f"followup-sent-{draft.id}" in ids
    assert fake(services).sent == []  # recorded, not sent again


# --- 3. what the reviewer sees is what leaves ------------------------------------------------


def test_the_subject_shown_before_approval_is_the_subject_sent(services: Services) -> None:
    draft = queued(services)
    view = services.store.pipeline.deal_view(draft.deal_id)
    assert view is not None
    shown = plan_message(services, draft, view, MONDAY)
    # In the thread, as "Re: <its subject>": what the queue shows is what leaves.
    assert shown.subject == "Re: Website rebuild: the proposal"
    decision = approve(services, draft.id, MAYA, MONDAY)
    assert decision.send_at == shown.send_at
    deliver_due(services, MONDAY)
    [message] = fake(services).sent
    assert (message.subject, message.to_address, message.body) == (
        shown.subject,
        shown.to_address,
        shown.body,
    )
    approved = services.store.drafts.get(draft.id)
    assert approved is not None
    assert plan_message(services, approved, view, MONDAY).subject == message.subject


# --- 4. out of office, pauses and snoozes, for every draft -----------------------------------


def out_of_office(at: datetime, returns: str) -> object:
    return activity(
        ActivityKind.NOTE,
        at,
        id=f"ooo-{at:%d%H%M}",
        from_address="jordan@globex.example",
        extra={"auto_reply": True, "return_date": returns, "mail_kind": "auto_reply"},
    )


def test_an_out_of_office_return_date_holds_a_one_off_draft(store: Store) -> None:
    services = services_on(store, None, out_of_office(NOW - timedelta(hours=2), "2026-12-14"))
    draft = queued(services)
    view = services.store.pipeline.deal_view(draft.deal_id)
    assert view is not None
    planned = plan_message(services, draft, view, MONDAY)
    assert planned.hold is not None
    assert planned.hold.reason == "Jordan Lee is out of office until Mon 14 Dec"
    decision = approve(services, draft.id, MAYA, MONDAY)
    assert decision.send_at == datetime(2026, 12, 14, 8, 0, tzinfo=UTC)  # 09:00 in Berlin
    assert "out of office until Mon 14 Dec" in decision.message
    assert deliver_due(services, MONDAY).sent == []
    assert fake(services).sent == []
    assert deliver_due(services, decision.send_at).sent == [draft.id]


def test_an_out_of_office_after_approval_holds_the_message_at_send_time(store: Store) -> None:
    services = services_on(store)
    draft = queued(services, at=NOW)
    decision = approve(services, draft.id, MAYA, SATURDAY)  # waits for Monday
    assert decision.send_at == MONDAY - timedelta(hours=1)  # Monday 09:00 Berlin
    crm = services.crm
    assert isinstance(crm, FakeCrm)
    crm.add(out_of_office(SATURDAY + timedelta(hours=1), "2026-11-30"))  # type: ignore[arg-type]
    services.store.pipeline.sync(crm.pipeline, SATURDAY + timedelta(hours=2))
    report = deliver_due(services, MONDAY)
    assert report.sent == []
    assert report.held == [(draft.id, "Jordan Lee is out of office until Mon 30 Nov")]
    assert (
        review(services)
        .said(draft.id)[-1]
        .startswith(
            "Held: Jordan Lee is out of office until Mon 30 Nov; now arrives Mon 30 Nov 08:00 UTC"
        )
    )
    assert deliver_due(services, datetime(2026, 11, 30, 8, 0, tzinfo=UTC)).sent == [draft.id]


def test_pausing_a_deal_until_a_day_holds_its_approved_message(services: Services) -> None:
    draft = queued(services, at=NOW)
    approve(services, draft.id, MAYA, SATURDAY)
    wednesday = MONDAY + timedelta(days=2)
    assert pause(services, "d1", MAYA, SATURDAY, until=wednesday).ok
    said = review(services).said(draft.id)[-1]
    assert said.startswith("Held: deal paused until Wed 25 Nov; now arrives Wed 25 Nov")
    assert deliver_due(services, MONDAY).sent == []
    assert deliver_due(services, wednesday + timedelta(hours=8)).sent == [draft.id]


# --- 5. stopping an approved message -----------------------------------------------------------


def test_an_approved_message_can_be_cancelled_until_it_leaves(services: Services) -> None:
    draft = queued(services, at=NOW)
    approve(services, draft.id, MAYA, SATURDAY)
    decision = cancel(services, draft.id, MAYA, SATURDAY + timedelta(hours=1))
    assert decision.ok
    assert decision.message == f"Cancelled draft #{draft.id}; it will not be sent."
    assert services.store.drafts.get(draft.id).status is DraftStatus.WITHDRAWN  # type: ignore[union-attr]
    assert review(services).said(draft.id) == ["Cancelled by maya; not sent"]
    assert deliver_due(services, MONDAY).sent == []
    assert fake(services).sent == []
    again = cancel(services, draft.id, MAYA, MONDAY)
    assert again.outcome is Outcome.ALREADY_DECIDED


def test_a_sent_message_cannot_be_cancelled_and_a_pending_one_is_dismissed(
    services: Services,
) -> None:
    draft = queued(services)
    pending = cancel(services, draft.id, MAYA, MONDAY)
    assert pending.outcome is Outcome.INVALID
    assert "dismiss it instead" in pending.message
    approve(services, draft.id, MAYA, MONDAY)
    deliver_due(services, MONDAY)
    sent = cancel(services, draft.id, MAYA, MONDAY)
    assert sent.outcome is Outcome.ALREADY_DECIDED
    assert "already sent" in sent.message


def test_pausing_or_deprioritizing_a_deal_withdraws_its_queued_message(services: Services) -> None:
    draft = queued(services, at=NOW)
    approve(services, draft.id, MAYA, SATURDAY)
    assert pause(services, "d1", MAYA, SATURDAY, until=None, reason="deprioritized").ok
    assert services.store.drafts.get(draft.id).status is DraftStatus.WITHDRAWN  # type: ignore[union-attr]
    assert review(services).said(draft.id) == ["Withdrawn before sending: deal deprioritized"]
    [row] = services.store.outbox.find()
    assert row.status is OutboxStatus.CANCELLED
    assert deliver_due(services, MONDAY).sent == []


# --- 12. owned claims ----------------------------------------------------------------------------


def test_only_the_worker_holding_a_claim_records_its_outcome(store: Store) -> None:
    services = services_on(store)
    draft = queued(services)
    approve(services, draft.id, MAYA, MONDAY)
    [row] = store.outbox.claim_due(MONDAY, owner="slow", lease=timedelta(minutes=2))
    assert store.outbox.expired(MONDAY + timedelta(minutes=1)) == []  # the lease holds
    [expired] = store.outbox.expired(MONDAY + timedelta(minutes=3))
    taken = store.outbox.take_over(expired, "rescuer", now=MONDAY, lease=timedelta(minutes=2))
    assert taken is not None
    assert (
        store.outbox.take_over(expired, "another", now=MONDAY, lease=timedelta(minutes=2)) is None
    )
    # The slow worker comes back: its claim is gone, so it changes nothing.
    assert not store.outbox.finish(row.id, OutboxStatus.SENT, now=MONDAY, owner="slow")
    assert not store.outbox.renew(row.id, "slow", until=MONDAY + timedelta(hours=1))
    assert store.outbox.finish(
        row.id, OutboxStatus.QUEUED, now=MONDAY, owner="rescuer", retry_at=MONDAY
    )


class SlowMailbox(FakeMailbox):
    """Takes `delay` seconds to send: longer than the lease, shorter than the renewals."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.started = threading.Event()

    def send(self, message: OutgoingMessage) -> SentReceipt:
        self.started.set()
        time.sleep(self.delay)
        return super().send(message)


def test_a_slow_send_renews_its_lease_and_is_not_taken_over(store: Store) -> None:
    mailbox = SlowMailbox(delay=1.2)
    services = services_on(store, mailbox)
    services.policy = replace(services.policy, send_lease=timedelta(seconds=0.4))
    draft = queued(services)
    approve(services, draft.id, MAYA, MONDAY)
    start = time.monotonic()
    first = threading.Thread(target=deliver_due, args=(services, MONDAY))
    first.start()
    assert mailbox.started.wait(5)
    time.sleep(0.8)  # twice the lease: without renewal the claim would have run out
    elapsed = timedelta(seconds=time.monotonic() - start)
    other = deliver_due(services, MONDAY + elapsed)
    first.join(10)
    assert (other.sent, other.recovered, other.held) == ([], [], [])
    assert len(mailbox.sent) == 1
    assert store.drafts.get(draft.id).status is DraftStatus.SENT  # type: ignore[union-attr]


def test_an_inbound_reply_still_cancels_at_send_time(services: Services) -> None:
    draft = queued(services, at=NOW)
    approve(services, draft.id, MAYA, SATURDAY)
    reply = activity(
        ActivityKind.EMAIL,
        SATURDAY + timedelta(hours=2),
        id="a-reply",
        direction=Direction.IN,
        from_address="jordan@globex.example",
    )
    services.store.pipeline.add_activity(reply, origin="inbox", now=SATURDAY)
    report = deliver_due(services, MONDAY)
    assert report.refused[0][1].startswith("reply arrived")
    assert services.store.drafts.get(draft.id).status is DraftStatus.FAILED  # type: ignore[union-attr]
    [row] = services.store.outbox.find()
    assert row.status is OutboxStatus.CANCELLED
