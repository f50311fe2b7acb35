"""The mailbox interface: send a message, list inbound messages since a cursor, find a sent
message by Message-ID. Headers are built here with the standard `email` package."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Literal, Protocol


class MailError(Exception):
    """Base of every mailbox failure."""


class TransientMailError(MailError):
    """Try again later (connection refused, 4xx, rate limit)."""


class PermanentMailError(MailError):
    """Retrying will not help (rejected recipient, refused credentials); a person must look."""


class HeaderInjectionError(PermanentMailError):
    """A name or subject carried CR/LF: refused, never passed through."""


class UnknownDeliveryError(MailError):
    """The message was handed over and the answer never came (the connection dropped after
    SMTP DATA, a timeout waiting for the 250): it may or may not have left. Never retried
    blindly: sent mail is searched first, and when it is not there a person decides."""


# --- Message-IDs -----------------------------------------------------------------------------

_OWN_ID_RE = re.compile(r"<?([a-z2-7]{20})\.([0-9a-f]{16})@[^<>@\s]+>?", re.IGNORECASE)


def new_installation_secret() -> str:
    """The random secret one installation signs its Message-IDs with (kept in its database)."""
    return secrets.token_hex(32)


def _tag(secret: str, token: str) -> str:
    return hmac.new(secret.encode(), token.lower().encode(), hashlib.sha256).hexdigest()[:16]


def new_message_id(secret: str, domain: str) -> str:
    """A Message-ID unique across installations and time: a random token and its signature
    with this installation's secret, at the sender's domain. It names neither the tool nor a
    draft; `is_own_message_id` recognises it again, here and nowhere else."""
    token = base64.b32encode(secrets.token_bytes(12)).decode("ascii").lower().rstrip("=")
    return f"<{token}.{_tag(secret, token)}@{domain}>"


def is_own_message_id(secret: str, message_id: str | None) -> bool:
    """Whether `message_id` was made by `new_message_id` with this installation's secret."""
    if not message_id or not secret:
        return False
    found = _OWN_ID_RE.fullmatch(message_id.strip())
    if found is None:
        return False
    return hmac.compare_digest(_tag(secret, found.group(1)), found.group(2).lower())


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    message_id: str  # with angle brackets: decided once, when the draft is approved
    from_address: str
    from_name: str
    to_address: str
    to_name: str
    subject: str
    body: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    thread_id: str | None = None  # provider thread (Gmail threadId, Graph conversation)


@dataclass(frozen=True, slots=True)
class SentReceipt:
    provider_id: str


@dataclass(frozen=True, slots=True)
class InboundMessage:
    raw: bytes
    folder: Literal["inbox", "sent"]
    provider_id: str


@dataclass(frozen=True, slots=True)
class InboundBatch:
    messages: tuple[InboundMessage, ...]
    cursor: str | None


class Mailbox(Protocol):
    """`find_sent` answers from the Sent folder. Where a message is filed there in the same
    step that sends it (the outbox folder), "not found" proves it did not leave; elsewhere
    (SMTP then an IMAP copy, a provider filing it later) it does not, and a message whose
    send was interrupted is held for a person instead of sent again. `sent_copy_is_atomic`
    says which; a mailbox without the attribute counts as not atomic."""

    name: str

    def send(self, message: OutgoingMessage) -> SentReceipt: ...

    def fetch_since(self, cursor: str | None) -> InboundBatch: ...

    def find_sent(self, message_id: str) -> SentReceipt | None: ...


def _no_line_breaks(field: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise HeaderInjectionError(f"{field} contains a line break; refusing to build the message")
    return value


def build_mime(message: OutgoingMessage, *, date: datetime) -> EmailMessage:
    """The RFC 5322 message for `message`. Any CR/LF in a header value is refused."""
    mime = EmailMessage()
    mime["From"] = Address(
        display_name=_no_line_breaks("sender name", message.from_name),
        addr_spec=_no_line_breaks("sender address", message.from_address),
    )
    mime["To"] = Address(
        display_name=_no_line_breaks("recipient name", message.to_name),
        addr_spec=_no_line_breaks("recipient address", message.to_address),
    )
    mime["Subject"] = _no_line_breaks("subject", message.subject)
    mime["Date"] = format_datetime(date)
    mime["Message-ID"] = _no_line_breaks("Message-ID", message.message_id)
    if message.in_reply_to:
        mime["In-Reply-To"] = _no_line_breaks("In-Reply-To", message.in_reply_to)
    if message.references:
        mime["References"] = " ".join(_no_line_breaks("References", r) for r in message.references)
    mime.set_content(message.body)
    return mime
