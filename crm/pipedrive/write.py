"""Pipedrive write-backs (filled in below)."""

from __future__ import annotations

from triggers.model import Activity


class PipedriveWriter:
    def log_activity(self, activity: Activity) -> None:
        return None

    def mark_do_not_contact(self, contact_id: str) -> None:
        return None
