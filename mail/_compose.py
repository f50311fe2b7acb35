"""Building the outgoing RFC 822 message for the founder's mailboxes, with their own address
filled in when the message carries none, and every failure mapped onto the mailbox errors."""

from __future__ import annotations

import email.errors
from dataclasses import replace
from datetime import datetime
from email.message import EmailMessage

from mail.base import MailError, OutgoingMessage, PermanentMailError, build_mime


def compose(message: OutgoingMessage, *, date: datetime, sender: str | None) -> EmailMessage:
    """The MIME message; `sender` (the mailbox's address) stands in for a missing From.

    CR/LF in a header is `HeaderInjectionError`; an address that cannot be written is a
    `PermanentMailError` (a person must fix the contact or the owner), never a crash."""
    if not message.from_address.strip():
        if not sender:
            raise PermanentMailError(
                "the message has no sender address; set the owner's email or MAIL_FROM"
            )
        message = replace(message, from_address=sender)
    try:
        return build_mime(message, date=date)
    except MailError:
        raise
    except (ValueError, IndexError, TypeError, email.errors.MessageError) as error:
        raise PermanentMailError(f"cannot write the message's headers: {error!r}") from error
