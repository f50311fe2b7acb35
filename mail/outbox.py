"""The embedded default mailbox: a folder.

Sent messages are written to `<dir>/sent/` as `.eml` files (one per Message-ID, so a second
send of the same message finds the first); every reply dropped into `<dir>/inbox/` is handed
over, whatever its name or when it arrived: each read lists the whole folder, and the store's
seen-set (`flows.inbound`) knows what was handed over before by name and content digest, so a
file named before one already read, or rewritten with new content, is still read.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

from mail.base import InboundBatch, InboundMessage, OutgoingMessage, SentReceipt, build_mime


class OutboxMailbox:
    name = "outbox"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.sent_dir = directory / "sent"
        self.inbox_dir = directory / "inbox"

    def _path_for(self, message_id: str) -> Path:
        digest = hashlib.sha256(message_id.encode()).hexdigest()[:24]
        return self.sent_dir / f"{digest}.eml"

    def send(self, message: OutgoingMessage) -> SentReceipt:
        path = self._path_for(message.message_id)
        if path.exists():
            return SentReceipt(provider_id=path.name)
        self.sent_dir.mkdir(parents=True, exist_ok=True)
        data = bytes(build_mime(message, date=datetime.now(UTC)))
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)  # atomic: a reader never sees half a message
        return SentReceipt(provider_id=path.name)

    def find_sent(self, message_id: str) -> SentReceipt | None:
        path = self._path_for(message_id)
        return SentReceipt(provider_id=path.name) if path.exists() else None

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
