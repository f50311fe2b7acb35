"""What each mailbox has handed over, by identity: the seen-set `flows.inbound` reads through."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storage.repos import Repository
from storage.tables import InboundSeenRow

_MAX_KEY = 255


def seen_key(provider_id: str) -> str:
    """The stored form of a provider's id: as given when it fits, else a digest of it."""
    if len(provider_id) <= _MAX_KEY and provider_id.isprintable():
        return provider_id
    digest = hashlib.sha256(provider_id.encode("utf-8", "surrogateescape")).hexdigest()
    return f"sha256:{digest}"


class InboundSeenRepo(Repository):
    def unseen(self, mailbox: str, provider_ids: Collection[str]) -> set[str]:
        """The ids among `provider_ids` this mailbox has not handed over before."""
        keys = {seen_key(p): p for p in provider_ids}
        found: set[str] = set()
        chunk = list(keys)
        with self._tx() as session:
            for start in range(0, len(chunk), 500):
                part = chunk[start : start + 500]
                found.update(
                    session.scalars(
                        select(InboundSeenRow.key).where(
                            InboundSeenRow.mailbox == mailbox, InboundSeenRow.key.in_(part)
                        )
                    )
                )
        return {provider_id for key, provider_id in keys.items() if key not in found}

    def mark(self, mailbox: str, provider_id: str, now: datetime) -> None:
        key = seen_key(provider_id)
        try:
            with self._tx() as session:
                if session.get(InboundSeenRow, (mailbox, key)) is None:
                    session.add(InboundSeenRow(mailbox=mailbox, key=key, seen_at=now))
        except IntegrityError:
            pass  # another reader (the cycle, a worker before sending) marked it first
