"""The outbox worker: send approved messages exactly once.

A row is claimed (queued -> sending) by one worker; the send-time checks of DESIGN rule 2
run again; the mailbox sends with the row's deterministic Message-ID. A row found still
"sending" after a crash is resolved by looking that Message-ID up among sent mail before
any retry, so a crash between send and record never sends twice."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flows.ports import Services
from flows.review import deal_view, sent_activity
from flows.volume import hold_row
from mail.base import MailError, OutgoingMessage, PermanentMailError, TransientMailError
from triggers.drafts import AuditEntry, DraftStatus, OutboxMessage, OutboxStatus
from triggers.sendcheck import obsolete_reason

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# A claim older than this is taken for a crashed worker.
STALE_CLAIM = timedelta(minutes=5)


@dataclass(slots=True)
class DeliveryReport:
    sent: list[int] = field(default_factory=list)  # draft ids
    refused: list[tuple[int, str]] = field(default_factory=list)
    retrying: list[tuple[int, str]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    recovered: list[int] = field(default_factory=list)
    held: list[tuple[int, str]] = field(default_factory=list)  # by the send cap or spacing


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4 ... minutes, capped at an hour."""
    return timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


def deliver_due(services: Services, now: datetime, *, limit: int = 20) -> DeliveryReport:
    report = DeliveryReport()
    recover_stuck(services, now, report)
    for row in services.store.outbox.claim_due(now, limit=limit):
        if (why := hold_row(services, row, now)) is not None:
            report.held.append((row.draft_id, why))
            continue
        _deliver(services, row, now, report)
    return report


def recover_stuck(services: Services, now: datetime, report: DeliveryReport) -> None:
    store = services.store
    for row in store.outbox.stuck_sending(now - STALE_CLAIM):
        try:
            receipt = services.mailbox.find_sent(row.message_id)
        except MailError as error:
            # Unknown whether it left: leave it "sending" and look again next run, never resend.
            log.warning("cannot check sent mail for draft %s yet: %s", row.draft_id, error)
            continue
        if receipt is not None:
            _record_sent(services, row, receipt.provider_id, now)
            report.recovered.append(row.draft_id)
        else:
            store.outbox.finish(
                row.id,
                OutboxStatus.QUEUED,
                now=now,
                retry_at=now,
                error="worker stopped mid-send; not found among sent mail",
            )


def _deliver(services: Services, row: OutboxMessage, now: datetime, report: DeliveryReport) -> None:
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
    if reason is not None:
        store.outbox.finish(row.id, OutboxStatus.CANCELLED, now=now, error=reason)
        if draft is not None:
            failed = store.drafts.transition(
                draft.id, DraftStatus.FAILED, actor="followup", now=now, note=f"not sent: {reason}"
            )
            if failed is not None:
                services.review.update(failed, view, f"Not sent: {reason}")
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
    try:
        receipt = services.mailbox.send(message)
    except TransientMailError as error:
        if row.attempts >= MAX_ATTEMPTS:
            _fail(services, row, f"gave up after {row.attempts} attempts: {error}", now, report)
            return
        retry_at = now + retry_delay(row.attempts)
        store.outbox.finish(
            row.id, OutboxStatus.QUEUED, now=now, error=str(error), retry_at=retry_at
        )
        report.retrying.append((row.draft_id, str(error)))
        log.warning("send of draft %s failed, retrying at %s: %s", row.draft_id, retry_at, error)
        return
    except PermanentMailError as error:
        _fail(services, row, str(error), now, report)
        return
    _record_sent(services, row, receipt.provider_id, now)
    report.sent.append(row.draft_id)


def _fail(
    services: Services, row: OutboxMessage, error: str, now: datetime, report: DeliveryReport
) -> None:
    store = services.store
    store.outbox.finish(row.id, OutboxStatus.FAILED, now=now, error=error)
    failed = store.drafts.transition(
        row.draft_id, DraftStatus.FAILED, actor="followup", now=now, note=f"send failed: {error}"
    )
    if failed is not None:
        services.review.update(failed, deal_view(services, failed.deal_id), f"Send failed: {error}")
    store.audit.add(AuditEntry(now, "followup", "send_failed", f"draft:{row.draft_id}", error))
    report.failed.append((row.draft_id, error))


def _record_sent(services: Services, row: OutboxMessage, provider_id: str, now: datetime) -> None:
    store = services.store
    store.outbox.finish(row.id, OutboxStatus.SENT, now=now, provider_id=provider_id)
    sent = store.drafts.transition(row.draft_id, DraftStatus.SENT, actor="followup", now=now)
    if sent is None:
        return
    activity = sent_activity(sent, row.message_id, row.in_reply_to, now, row.from_address)
    store.pipeline.add_activity(activity, origin="followup", now=now)
    services.crm.log_activity(activity)
    store.audit.add(AuditEntry(now, "followup", "sent", f"draft:{row.draft_id}", row.message_id))
    services.review.update(sent, deal_view(services, sent.deal_id), "Sent")
