"""The message a draft becomes: recipient, subject, body and arrival, as the reviewer sees it
and exactly as it will leave; and the Message-ID it leaves with."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from flows.ports import Policy, Services
from mail.base import is_own_message_id, new_installation_secret, new_message_id
from triggers.drafts import Draft, DraftStatus, OutboxStatus
from triggers.model import Contact, DealView, Owner
from triggers.sendcheck import Hold, hold_reason
from triggers.threads import recipient_thread
from triggers.windows import next_send_time, recipient_zone

SIGNING_STATE = "installation.message_ids"  # sync_state key of the signing key


def installation_secret(services: Services) -> str:
    """This installation's Message-ID secret, made (and stored) on first use."""
    return services.store.sync_state.setdefault(SIGNING_STATE, new_installation_secret())


def is_ours(services: Services, message_id: str | None, *, secret: str | None = None) -> bool:
    """Whether this installation made `message_id` (its own sent copy, read back)."""
    return is_own_message_id(secret or installation_secret(services), message_id)


def thread_of(
    view: DealView, contact: Contact | None
) -> tuple[str | None, tuple[str, ...], str | None]:
    """In-Reply-To, References and subject of the latest thread `contact` was on: a follow-up
    never lands in a conversation with someone else (triggers.threads.recipient_thread)."""
    thread = recipient_thread(view, contact) if contact is not None else None
    if thread is None:
        return None, (), None
    return thread.in_reply_to, thread.references, thread.subject


def sender_domain(owner: Owner | None, policy: Policy) -> str:
    """Message-IDs carry the sender's own domain, as mail from that mailbox would."""
    if owner is not None and "@" in owner.email:
        return owner.email.rpartition("@")[2].lower()
    return policy.message_id_domain


def threaded_subject(draft: Draft, thread_subject: str | None) -> str:
    """Reply in the thread as "Re: <its subject>", unless a person edited the subject."""
    if thread_subject is None or draft.subject != draft.original_subject:
        return draft.subject
    bare = re.sub(r"^\s*((re|aw|sv|antw|tr|fwd?)\s*:\s*)+", "", thread_subject, flags=re.IGNORECASE)
    return f"Re: {bare}"


@dataclass(frozen=True, slots=True)
class PlannedMessage:
    """What will leave, and when: shown to the reviewer and stored on approval."""

    to_address: str
    to_name: str
    from_address: str
    subject: str
    body: str
    in_reply_to: str | None
    references: tuple[str, ...]
    send_at: datetime
    zone: str  # the recipient's zone the arrival is planned in
    hold: Hold | None = None  # why it waits past the next send-window slot, if it does
    status: str = "planned"  # planned (pending), queued, held, sending, sent, cancelled...
    note: str | None = None  # the outbox row's last note (why it is held, why it failed)

    @property
    def arrival(self) -> str:
        """ "Mon 14 Dec 09:00 UTC" with the reason when it is held back."""
        text = f"{self.send_at:%a %d %b %H:%M} UTC"
        if self.hold is not None:
            text += f" (held: {self.hold.reason})"
        return text


def plan_message(services: Services, draft: Draft, view: DealView, now: datetime) -> PlannedMessage:
    """The message as it will leave. For an approved draft, its outbox row (the truth); for a
    pending one, what approving it now would queue: the threaded subject, the next instant in
    the contact's send window after any pause, snooze or out-of-office return date."""
    contact = next((c for c in view.contacts if c.id == draft.contact_id), None)
    owner = view.owner
    window = services.policy.evaluation.send_window
    zone = recipient_zone(contact, owner, window)
    pause = services.store.pauses.active(now).get(draft.deal_id)
    hold = hold_reason(draft, view, pause, now, zone)
    if draft.status is not DraftStatus.PENDING:
        row = services.store.outbox.for_draft(draft.id)
        if row is not None:
            waiting = row.status in (OutboxStatus.QUEUED, OutboxStatus.HELD)
            return PlannedMessage(
                to_address=row.to_address,
                to_name=contact.name if contact else "",
                from_address=row.from_address,
                subject=row.subject,
                body=row.body,
                in_reply_to=row.in_reply_to,
                references=row.references,
                send_at=row.sent_at or row.send_at,
                zone=zone,
                hold=hold if waiting else None,
                status=row.status.value,
                note=row.last_error,
            )
    in_reply_to, references, thread_subject = thread_of(view, contact)
    earliest = now if hold is None or hold.until is None else max(now, hold.until)
    send_at = next_send_time(earliest, zone, window, view.deal.owner_id)
    return PlannedMessage(
        to_address=draft.to_address,
        to_name=contact.name if contact else "",
        from_address=owner.email if owner else "",
        subject=threaded_subject(draft, thread_subject),
        body=draft.body,
        in_reply_to=in_reply_to,
        references=references,
        send_at=send_at,
        zone=zone,
        hold=hold,
    )


def message_id(services: Services, view: DealView) -> str:
    """A fresh Message-ID for a message from the deal's owner (see mail.base.new_message_id)."""
    return new_message_id(installation_secret(services), sender_domain(view.owner, services.policy))
