"""The mailbox interface: send a message, list inbound messages since a cursor, find a sent
message by Message-ID. Headers are built here with the standard `email` package."""

from __future__ import annotations

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


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    message_id: str  # deterministic, with angle brackets: decided when the draft is approved
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
