"""Reading a reply's text as the tests of other packages need it."""

from __future__ import annotations

from datetime import datetime

from reading import read_text
from triggers.reading import Reading


def classify_reply(text: str, *, received_at: datetime, auto_reply: bool = False) -> Reading:
    """The reading of one reply's text (as the cadences read an email the CRM recorded)."""
    return read_text(
        text, sent=received_at, now=received_at, kind="auto_reply" if auto_reply else None
    )
