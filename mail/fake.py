"""An in-memory mailbox for tests: records what was sent, can fail on demand, and can
simulate a worker that dies right after the message left."""

from __future__ import annotations

from collections import deque

from mail.base import (
    InboundBatch,
    InboundMessage,
    MailError,
    OutgoingMessage,
    SentReceipt,
)


class WorkerDied(BaseException):
    """Raised after a successful send to simulate a crash before the outcome is recorded.

    A BaseException, so that no `except Exception` in the worker can swallow it."""


class FakeMailbox:
    name = "fake"
    sent_copy_is_atomic = True  # `sent` is appended in the same step that sends

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []
        self.inbox: list[InboundMessage] = []
        self.failures: deque[MailError] = deque()
        self.die_after_next_send = False

    def send(self, message: OutgoingMessage) -> SentReceipt:
        # Like SMTP, it does not deduplicate: a second send is a second message.
        if self.failures:
            raise self.failures.popleft()
        self.sent.append(message)
        if self.die_after_next_send:
            self.die_after_next_send = False
            raise WorkerDied
        return SentReceipt(provider_id=message.message_id)

    def find_sent(self, message_id: str) -> SentReceipt | None:
        found = any(m.message_id == message_id for m in self.sent)
        return SentReceipt(provider_id=message_id) if found else None

    def fetch_since(self, cursor: str | None) -> InboundBatch:
        start = int(cursor or 0)
        return InboundBatch(tuple(self.inbox[start:]), str(len(self.inbox)))
