"""Read the inbox and turn what arrives into activities, suppressions and pauses."""

from __future__ import annotations

from datetime import datetime

from flows.ports import Services


def read_inbox(services: Services, now: datetime) -> int:
    """Process new inbound mail; return how many messages were read."""
    return 0
