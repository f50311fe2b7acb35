"""Which conversation a follow-up to one contact continues, and who was on it.

Pure. A deal can have several threads with different people (the champion's proposal thread,
procurement's contract thread); a follow-up to one contact replies in the latest thread that
contact was on, never in someone else's, and writes to the people that thread's last message
had: the contact in To, the others in Cc.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from triggers.model import Activity, ActivityKind, Contact, DealView

MAX_REFERENCES = 10


@dataclass(frozen=True, slots=True)
class ReplyThread:
    thread_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    subject: str | None
    cc: tuple[str, ...]  # the others on the thread's last message, lower-cased


def _participants(activity: Activity) -> set[str]:
    found = {a.lower() for a in activity.to_addresses if a}
    if activity.from_address:
        found.add(activity.from_address.lower())
    cc = activity.extra.get("cc") if activity.extra else None
    if isinstance(cc, list | tuple):
        found |= {str(a).lower() for a in cc if a}
    return found


def involves(activity: Activity, contact: Contact) -> bool:
    """Whether `contact` wrote, received or was copied on this email."""
    if activity.contact_id == contact.id and activity.kind is ActivityKind.EMAIL:
        return True
    return bool(_participants(activity) & set(contact.addresses))


def recipient_thread(
    view: DealView, contact: Contact, *, ours: Iterable[str] = (), exclude: Iterable[str] = ()
) -> ReplyThread | None:
    """The thread a follow-up to `contact` replies in, or None when they were on no thread.

    `ours`: our own addresses (never copied); `exclude`: addresses that must not be copied
    (suppressed, bounced).
    """
    emails = sorted(
        (a for a in view.activities if a.kind is ActivityKind.EMAIL and a.message_id),
        key=lambda a: a.at,
    )
    theirs = [a for a in emails if involves(a, contact)]
    if not theirs:
        return None
    latest = theirs[-1]
    if latest.thread_id:
        thread = [a for a in emails if a.thread_id == latest.thread_id and involves(a, contact)]
    else:
        thread = [latest]
    last = thread[-1]
    skip = {a.lower() for a in ours} | {a.lower() for a in exclude} | set(contact.addresses)
    owner = view.owner
    if owner is not None and owner.email:
        skip.add(owner.email.lower())
    cc = tuple(sorted(a for a in _participants(last) if a not in skip and "@" in a))
    references = tuple(a.message_id for a in thread if a.message_id)[-MAX_REFERENCES:]
    return ReplyThread(
        thread_id=last.thread_id,
        in_reply_to=last.message_id,
        references=references,
        subject=last.subject,
        cc=cc,
    )
