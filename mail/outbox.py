"""The embedded default mailbox: a folder.

Sent messages are written to `<dir>/sent/` as `.eml` files, one per send attempt
(`<digest of the Message-ID>.<n>.eml`, never overwritten, fsync'd before `send` returns), so
the folder shows a duplicate if there ever is one; every reply dropped into `<dir>/inbox/` is
handed over, whatever its name or when it arrived: each read lists the whole folder, and the
store's seen-set (`flows.inbound`) knows what was handed over before by name and content
digest, so a file named before one already read, or rewritten with new content, is still read.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import UTC, datetime
from itertools import count
from pathlib import Path

from mail.base import (
    InboundBatch,
    InboundMessage,
    OutgoingMessage,
    SentReceipt,
    TransientMailError,
    build_mime,
)


class OutboxMailbox:
    name = "outbox"
    # A message is in sent/ the moment it is sent (fsync'd before send returns): "not found"
    # proves it did not leave, so an interrupted send may be sent again.
    sent_copy_is_atomic = True

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.sent_dir = directory / "sent"
        self.inbox_dir = directory / "inbox"

    @staticmethod
    def _stem(message_id: str) -> str:
        return hashlib.sha256(message_id.encode()).hexdigest()[:24]

    def attempts(self, message_id: str) -> list[Path]:
        """Every file a send of `message_id` wrote: more than one is a duplicate send."""
        if not self.sent_dir.is_dir():
            return []
        return sorted(self.sent_dir.glob(f"{self._stem(message_id)}.*.eml"))

    def send(self, message: OutgoingMessage) -> SentReceipt:
        """Write the message to a file of its own (never over an earlier one: a second send
        is a second file, as it would be a second message), fsync'd with its directory
        before returning, so that "sent" is only recorded for what is on disk. A folder that
        cannot be written (full, read-only, not a folder) is a transient failure: retried."""
        try:
            return self._write(message)
        except OSError as error:
            raise TransientMailError(
                f"cannot write to the outbox folder {self.sent_dir}: {error.strerror or error}"
            ) from error

    def _write(self, message: OutgoingMessage) -> SentReceipt:
        self.sent_dir.mkdir(parents=True, exist_ok=True)
        data = bytes(build_mime(message, date=datetime.now(UTC)))
        stem = self._stem(message.message_id)
        temporary = self.sent_dir / f".{stem}.{secrets.token_hex(6)}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        for attempt in count(1):
            path = self.sent_dir / f"{stem}.{attempt}.eml"
            try:
                os.link(temporary, path)  # fails if it exists: never overwrites
            except FileExistsError:
                continue
            break
        os.unlink(temporary)
        _fsync_directory(self.sent_dir)
        return SentReceipt(provider_id=path.name)

    def find_sent(self, message_id: str) -> SentReceipt | None:
        found = self.attempts(message_id)
        if not found:  # older versions wrote <stem>.eml
            legacy = self.sent_dir / f"{self._stem(message_id)}.eml"
            found = [legacy] if legacy.exists() else []
        return SentReceipt(provider_id=found[0].name) if found else None

    def fetch_since(self, cursor: str | None) -> InboundBatch:
        if not self.inbox_dir.is_dir():
            return InboundBatch((), cursor)
        messages: list[InboundMessage] = []
        for path in sorted(self.inbox_dir.glob("*.eml")):
            try:
                raw = path.read_bytes()
            except OSError:  # removed or being replaced while listed: read next time
                continue
            digest = hashlib.sha256(raw).hexdigest()[:16]
            messages.append(
                InboundMessage(raw=raw, folder="inbox", provider_id=f"{path.name}:{digest}")
            )
        # No cursor: a name says nothing of what is new. What was read is the store's to know.
        return InboundBatch(tuple(messages), None)


def _fsync_directory(directory: Path) -> None:
    """Make a new name in `directory` durable (POSIX: fsync the directory itself)."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
