"""The outbox worker: send approved messages exactly once, or tell a person why not.

A row is claimed (queued -> sending) by one worker, named by an owner token, for a lease the
worker renews while the mailbox works; every later change of the row names that owner, so a
worker that lost its lease (and was taken over) changes nothing. The send-time checks of
DESIGN rule 2 run again (and a pause, snooze or out-of-office holds the row). The worker
records that it hands the message over, then calls the mailbox; "sent", the draft and its
touch are then recorded in one transaction.

A row whose owner's lease ran out is taken over. Never handed over: it goes back in the
queue. Handed over: its Message-ID is looked up among sent mail before anything else. Found:
recorded as sent. Not found: sent again only where the mailbox files its copy in the same step
that sends (the outbox folder); elsewhere (SMTP) it may have left all the same, so it is held
and the reviewer asked "may already have been sent: resend?". The same happens when SMTP
leaves a send ambiguous (the connection dropped after the message was handed over)."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flows import outgoing
from flows.inbound import read_before_sending
from flows.ports import Actor, Services
from flows.review import deal_view, hold_or_withdraw, sent_activity
from flows.volume import hold_row
from mail.base import (
    MailError,
    OutgoingMessage,
    PermanentMailError,
    TransientMailError,
    UnknownDeliveryError,
)
from observe.faults import crash_point
from storage.repos import SendState
from triggers.drafts import AuditEntry, DraftStatus, OutboxMessage, OutboxStatus
from triggers.model import DealView
from triggers.sendcheck import hold_reason, obsolete_reason
from triggers.windows import next_send_time, recipient_zone

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# A claim holds for `policy.send_lease` (SEND_LEASE_SECONDS, 2 minutes) without renewal. The
# owner renews it every quarter lease while the mailbox works, so only a worker that died (or
# lost the database for a whole lease) loses it; clocks may disagree by up to a lease without
# a live row being taken over.
# An approval older versions left without its outbox row is queued again up to this long
# after it was made; an older one is handed back to the reviewer.
REPAIR_WINDOW = timedelta(hours=24)
MAYBE_SENT = "may already have been sent"


@dataclass(slots=True)
class DeliveryReport:
    sent: list[int] = field(default_factory=list)  # draft ids
    refused: list[tuple[int, str]] = field(default_factory=list)
    retrying: list[tuple[int, str]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    recovered: list[int] = field(default_factory=list)
    # waiting: a pause, an out-of-office, a person's decision, the send cap or spacing
    held: list[tuple[int, str]] = field(default_factory=list)
    repaired: list[tuple[int, str]] = field(default_factory=list)


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4 ... minutes, capped at an hour."""
    return timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


def deliver_due(
    services: Services,
    now: datetime,
    *,
    limit: int = 20,
    clock: Callable[[], datetime] | None = None,
) -> DeliveryReport:
    """Repair what an older version left inconsistent, take over rows whose worker died, then
    send up to `limit` due rows, claiming one at a time. `clock` tells the time as the batch
    goes on (the service passes the wall clock, so a slow batch claims and leases by real
    time); without it every row is sent at `now`, as a simulation or a test expects."""
    report = DeliveryReport()
    worker = secrets.token_hex(8)
    if clock is None:

        def clock() -> datetime:
            return now

    repair(services, now, report)
    recover_stuck(services, now, report, worker=worker)
    inbox_read = False
    for _ in range(limit):
        claimed = services.store.outbox.claim_due(
            clock(), limit=1, owner=worker, lease=services.policy.send_lease
        )
        if not claimed:
            break
        crash_point("claimed")
        if (why := hold_row(services, claimed[0], worker, clock())) is not None:
            report.held.append((claimed[0].draft_id, why))
            continue
        if not inbox_read:
            read_before_sending(services, clock())  # an opt-out waiting unread stops the send
            inbox_read = True
        _deliver(services, claimed[0], worker, clock(), report)
    return report


# --- repair -----------------------------------------------------------------------------------


def repair(services: Services, now: datetime, report: DeliveryReport) -> None:
    """Put right what older versions (two transactions per approval, per send) could leave:
    an approved draft with no outbox row, a row sent or closed while its draft still says
    approved. Each case is repaired and audited, or handed back to the reviewer with why."""
    for state in services.store.outbox.mismatched():
        note = _repair_one(services, state, now)
        if note:
            report.repaired.append((state.draft.id, note))
            services.store.audit.add(
                AuditEntry(now, "followup", "repair", f"draft:{state.draft.id}", note)
            )
            log.warning("draft %s: %s", state.draft.id, note)


def _repair_one(services: Services, state: SendState, now: datetime) -> str | None:
    store = services.store
    draft, row = state.draft, state.row
    view = deal_view(services, draft.deal_id)
    if row is None:
        decided = draft.decided_at or draft.created_at
        if view is not None and now - decided <= REPAIR_WINDOW:
            plan = outgoing.plan_message(services, draft, view, now)
            queued = store.outbox.enqueue(
                draft_id=draft.id,
                message_id=outgoing.message_id(services, view),
                from_address=plan.from_address,
                to_address=plan.to_address,
                subject=plan.subject,
                body=plan.body,
                in_reply_to=plan.in_reply_to,
                references=plan.references,
                send_at=plan.send_at,
            )
            return "approved but never queued (older version); queued now" if queued else None
        note = "approved but never queued (older version); approve a new draft if still wanted"
        failed = store.drafts.transition(
            draft.id, DraftStatus.FAILED, actor="followup", now=now, note=note
        )
        if failed is not None:
            services.review.update(failed, view, f"Not sent: {note}")
        return note
    if row.status is OutboxStatus.SENT and draft.status is DraftStatus.APPROVED:
        sent = store.drafts.transition(
            draft.id, DraftStatus.SENT, actor="followup", now=now, note="repaired: row was sent"
        )
        activity = sent_activity(
            draft,
            row.message_id,
            row.in_reply_to,
            row.sent_at or now,
            row.from_address,
            subject=row.subject,
            body=row.body,
        )
        store.pipeline.add_activity(activity, origin="followup", now=now)
        if sent is not None:
            services.review.update(sent, view, "Sent")
        return "sent, but recorded only in the outbox (older version); recorded now"
    if draft.status is DraftStatus.APPROVED:  # the row failed or was cancelled
        note = f"not sent: {row.last_error or row.status.value}"
        failed = store.drafts.transition(
            draft.id, DraftStatus.FAILED, actor="followup", now=now, note=note
        )
        if failed is not None:
            services.review.update(failed, view, note.capitalize())
        return note
    return None  # a sent row under a draft a person moved on: the row is the record


# --- recovery ---------------------------------------------------------------------------------


def _sent_copy_is_atomic(services: Services) -> bool:
    return bool(getattr(services.mailbox, "sent_copy_is_atomic", False))


def recover_stuck(
    services: Services, now: datetime, report: DeliveryReport, *, worker: str | None = None
) -> None:
    """Take over rows whose owner's lease ran out, and finish each exactly once."""
    store = services.store
    worker = worker or secrets.token_hex(8)
    for expired in store.outbox.expired(now):
        row = store.outbox.take_over(expired, worker, now=now, lease=services.policy.send_lease)
        if row is None:
            continue  # another worker took it, or its owner came back
        if row.handed_at is None:
            store.outbox.finish(
                row.id,
                OutboxStatus.QUEUED,
                now=now,
                owner=worker,
                retry_at=now,
                error="worker stopped before handing it to the mailbox",
            )
            continue
        _settle_unknown(services, row, worker, now, report, "worker stopped mid-send")
    for held in store.outbox.find([OutboxStatus.HELD]):
        _look_again(services, held, worker, now, report)


def _look_again(
    services: Services, held: OutboxMessage, worker: str, now: datetime, report: DeliveryReport
) -> None:
    """A held message may turn up in Sent later (a provider files submitted mail itself, a
    moment after): then it did leave, and is recorded; the question to the reviewer closes."""
    try:
        receipt = services.mailbox.find_sent(held.message_id)
    except MailError:
        return
    if receipt is None:
        return
    row = services.store.outbox.claim_held(held, worker, now=now, lease=services.policy.send_lease)
    if row is not None and _record_sent(services, row, worker, receipt.provider_id, now):
        report.recovered.append(row.draft_id)


def _settle_unknown(
    services: Services,
    row: OutboxMessage,
    worker: str,
    now: datetime,
    report: DeliveryReport,
    what: str,
) -> None:
    """The message was handed to the mailbox and no answer was recorded: look it up among
    sent mail; record it, requeue it (only where not found proves it did not leave), or hold
    it for a person."""
    store = services.store
    try:
        receipt = services.mailbox.find_sent(row.message_id)
    except MailError as error:
        # Unknown whether it left: leave it to the next look (the lease runs out), never resend.
        log.warning("cannot check sent mail for draft %s yet: %s", row.draft_id, error)
        return
    if receipt is not None:
        if _record_sent(services, row, worker, receipt.provider_id, now):
            report.recovered.append(row.draft_id)
        return
    if _sent_copy_is_atomic(services):
        store.outbox.finish(
            row.id,
            OutboxStatus.QUEUED,
            now=now,
            owner=worker,
            retry_at=now,
            error=f"{what}; not found among sent mail",
        )
        return
    reason = (
        f"{what} and it is not in the Sent folder: it {MAYBE_SENT}. "
        "Check your Sent mail, then Resend or Cancel"
    )
    if store.outbox.hold(row, owner=worker, now=now, reason=reason):
        report.held.append((row.draft_id, reason))
        draft = store.drafts.get(row.draft_id)
        if draft is not None:
            services.review.update(
                draft, deal_view(services, draft.deal_id), f"May already have been sent: {reason}"
            )


# --- one row ------------------------------------------------------------------------------------


@contextmanager
def _renewing(services: Services, row: OutboxMessage, worker: str) -> Iterator[None]:
    """Renew the lease on `row` every quarter lease while the body runs (a slow mailbox)."""
    stop = threading.Event()
    started = time.monotonic()

    lease = services.policy.send_lease
    # The claim's own time (its lease was set from it): renewals count on from there.
    claimed = row.lease_until - lease if row.lease_until is not None else datetime.now(UTC)

    def renew() -> None:
        interval = lease.total_seconds() / 4
        while not stop.wait(interval):
            elapsed = timedelta(seconds=time.monotonic() - started)
            if not services.store.outbox.renew(row.id, worker, until=claimed + elapsed + lease):
                log.warning("lost the claim on draft %s's message", row.draft_id)
                return

    thread = threading.Thread(target=renew, name=f"lease-{row.id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _deliver(
    services: Services, row: OutboxMessage, worker: str, now: datetime, report: DeliveryReport
) -> None:
    store = services.store
    draft = store.drafts.get(row.draft_id)
    view = deal_view(services, draft.deal_id) if draft else None
    reason: str | None
    if draft is None or view is None:
        reason = "the draft or its deal no longer exists"
    elif draft.status is not DraftStatus.APPROVED:
        reason = f"the draft is {draft.status.value}, not approved"
    else:
        reason = obsolete_reason(draft, view, store.suppressions.values())
        if reason is None and (row.to_address != draft.to_address or row.body != draft.body):
            reason = "the message differs from the approved version"
    if reason is None and draft is not None and view is not None:
        contact = next((c for c in view.contacts if c.id == draft.contact_id), None)
        window = services.policy.evaluation.send_window
        zone = recipient_zone(contact, view.owner, window)
        hold = hold_reason(draft, view, store.pauses.active(now).get(draft.deal_id), now, zone)
        if hold is not None and hold.until is None:
            reason = hold.reason
        elif hold is not None and hold.until is not None:
            send_at = next_send_time(hold.until, zone, window, view.deal.owner_id)
            if store.outbox.finish(
                row.id,
                OutboxStatus.QUEUED,
                now=now,
                owner=worker,
                retry_at=send_at,
                error=f"held: {hold.reason}",
            ):
                report.held.append((row.draft_id, hold.reason))
                services.review.update(
                    draft, view, f"Held: {hold.reason}; now arrives {send_at:%a %d %b %H:%M} UTC"
                )
            return
    if reason is not None:
        closed = store.outbox.close(
            row,
            OutboxStatus.CANCELLED,
            owner=worker,
            now=now,
            error=reason,
            draft_to=DraftStatus.FAILED,
            actor="followup",
            note=f"not sent: {reason}",
        )
        if closed is not None and closed.status is DraftStatus.FAILED:
            services.review.update(closed, view, f"Not sent: {reason}")
        report.refused.append((row.draft_id, reason))
        return
    assert draft is not None
    assert view is not None
    contact = next(c for c in view.contacts if c.id == draft.contact_id)
    owner = view.owner
    message = OutgoingMessage(
        message_id=row.message_id,
        from_address=row.from_address,
        from_name=owner.name if owner else "",
        to_address=row.to_address,
        to_name=contact.name,
        subject=row.subject,
        body=row.body,
        in_reply_to=row.in_reply_to,
        references=row.references,
    )
    if row.attempts > 1:
        # An earlier attempt of this row ended in an error that said nothing left; sent mail
        # is still searched first (a provider may have sent it all the same).
        try:
            found = services.mailbox.find_sent(row.message_id)
        except MailError as error:
            _retry(services, row, worker, now, report, f"cannot check sent mail: {error}")
            return
        if found is not None:
            if _record_sent(services, row, worker, found.provider_id, now):
                report.recovered.append(row.draft_id)
            return
    if not store.outbox.mark_handed(row.id, worker, now=now):
        return  # the claim is no longer ours
    crash_point("handed")
    try:
        with _renewing(services, row, worker):
            receipt = services.mailbox.send(message)
    except UnknownDeliveryError as error:
        log.warning("send of draft %s may or may not have left: %s", row.draft_id, error)
        _settle_unknown(
            services, row, worker, now, report, f"the mailbox did not confirm ({error})"
        )
        return
    except TransientMailError as error:
        _retry(services, row, worker, now, report, str(error))
        return
    except PermanentMailError as error:
        _fail(services, row, worker, str(error), now, report)
        return
    crash_point("acknowledged")
    if _record_sent(services, row, worker, receipt.provider_id, now):
        report.sent.append(row.draft_id)


def _retry(
    services: Services,
    row: OutboxMessage,
    worker: str,
    now: datetime,
    report: DeliveryReport,
    error: str,
) -> None:
    if row.attempts >= MAX_ATTEMPTS:
        _fail(services, row, worker, f"gave up after {row.attempts} attempts: {error}", now, report)
        return
    retry_at = now + retry_delay(row.attempts)
    services.store.outbox.finish(
        row.id, OutboxStatus.QUEUED, now=now, owner=worker, error=error, retry_at=retry_at
    )
    report.retrying.append((row.draft_id, error))
    log.warning("send of draft %s failed, retrying at %s: %s", row.draft_id, retry_at, error)


def _fail(
    services: Services,
    row: OutboxMessage,
    worker: str,
    error: str,
    now: datetime,
    report: DeliveryReport,
) -> None:
    failed = services.store.outbox.close(
        row,
        OutboxStatus.FAILED,
        owner=worker,
        now=now,
        error=error,
        draft_to=DraftStatus.FAILED,
        actor="followup",
        note=f"send failed: {error}",
        audit=AuditEntry(now, "followup", "send_failed", f"draft:{row.draft_id}", error),
    )
    if failed is not None and failed.status is DraftStatus.FAILED:
        services.review.update(failed, deal_view(services, failed.deal_id), f"Send failed: {error}")
    report.failed.append((row.draft_id, error))


def _record_sent(
    services: Services, row: OutboxMessage, worker: str, provider_id: str, now: datetime
) -> bool:
    """Row, draft and touch, in one transaction; then the CRM and Slack hear of it."""
    store = services.store
    draft = store.drafts.get(row.draft_id)
    if draft is None:
        return False
    activity = sent_activity(
        draft,
        row.message_id,
        row.in_reply_to,
        now,
        row.from_address,
        subject=row.subject,
        body=row.body,
    )
    sent = store.outbox.record_sent(
        row,
        owner=worker,
        now=now,
        provider_id=provider_id,
        activity=activity,
        audit=AuditEntry(now, "followup", "sent", f"draft:{row.draft_id}", row.message_id),
    )
    if sent is None:
        return False
    crash_point("recorded")
    services.crm.log_activity(activity)
    services.review.update(sent, deal_view(services, sent.deal_id), "Sent")
    return True


def withdraw_approved(
    services: Services,
    views: Mapping[str, DealView],
    suppressed: frozenset[str],
    now: datetime,
) -> list[tuple[int, str]]:
    """Approved messages still waiting whose deal closed (or that became obsolete otherwise):
    withdrawn now, with the Slack message saying so, instead of at the moment of sending."""
    withdrawn: list[tuple[int, str]] = []
    # Approved and waiting: a handful at any time, so each deal not in `views` (the cycle
    # reads only deals that changed) is read on its own.
    for draft in services.store.drafts.find(statuses=[DraftStatus.APPROVED]):
        view = views.get(draft.deal_id) or deal_view(services, draft.deal_id)
        if view is None:
            continue
        reason = obsolete_reason(draft, view, suppressed)
        if reason is None:
            continue
        hold_or_withdraw(
            services,
            draft,
            view,
            Actor("followup", display="followup"),
            now,
            until=None,
            reason=reason,
        )
        withdrawn.append((draft.id, reason))
    return withdrawn
