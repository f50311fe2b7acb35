"""The embedded default mailbox: a folder.

Sent messages are written to `<dir>/sent/` as `.eml` files (one per Message-ID, so a second
send of the same message finds the first); replies dropped into `<dir>/inbox/` are read in
file-name order, the cursor being the last name read.
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
        names = sorted(p.name for p in self.inbox_dir.glob("*.eml"))
        fresh = [n for n in names if cursor is None or n > cursor]
        messages = tuple(
            InboundMessage(raw=(self.inbox_dir / n).read_bytes(), folder="inbox", provider_id=n)
            for n in fresh
        )
        return InboundBatch(messages, fresh[-1] if fresh else cursor)
