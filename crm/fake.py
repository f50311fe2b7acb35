"""An in-memory CRM for tests and staging: serves a pipeline, records write-backs, and can be
told to be down, to hold a record it cannot map, or that deals were deleted."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from crm.base import CrmUnavailable, RecordProblem, SyncResult
from triggers.model import Activity, Deletions, Pipeline


class FakeCrm:
    name = "fake"

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.logged: list[Activity] = []
        self.do_not_contact: list[str] = []
        self.down = False
        self.deleted: set[str] = set()  # deal ids deleted since the last fetch
        self.malformed: list[str] = []  # ids of deal records it cannot map

    def fetch(self, now: datetime, cursor: str | None = None) -> SyncResult:
        if self.down:
            raise CrmUnavailable("fake CRM is down")
        deleted, self.deleted = frozenset(self.deleted), set()
        problems = tuple(
            RecordProblem(self.name, "deals", i, "stage", "unknown stage") for i in self.malformed
        )
        return SyncResult(
            pipeline=self.pipeline, errors=problems, deleted=Deletions(deal_ids=deleted)
        )

    def add(self, *activities: Activity) -> None:
        self.pipeline = replace(self.pipeline, activities=(*self.pipeline.activities, *activities))

    def log_activity(self, activity: Activity) -> None:
        self.logged.append(activity)

    def mark_do_not_contact(self, contact_id: str) -> None:
        self.do_not_contact.append(contact_id)
