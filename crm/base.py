"""What every CRM adapter provides, and the errors it may raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from triggers.model import Activity, Deletions, Pipeline


class CrmError(Exception):
    """Base of every CRM failure."""


class CrmUnavailable(CrmError):
    """The CRM could not be reached or answered with a transient failure: retry later."""


class CrmAuthError(CrmError):
    """Credentials were refused: a person must fix the configuration."""


class PipelineFormatError(CrmError):
    """The whole input is unusable (not JSON/YAML, not a pipeline object)."""


@dataclass(frozen=True, slots=True)
class RecordProblem:
    """One malformed record, reported and skipped while the valid rest loads."""

    source: str
    collection: str
    record_id: str | None
    field: str | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.source}: {self.collection}"
        where += f"[{self.record_id}]" if self.record_id is not None else ""
        where += f".{self.field}" if self.field else ""
        return f"{where}: {self.problem}"


@dataclass(frozen=True, slots=True)
class SyncResult:
    pipeline: Pipeline
    errors: tuple[RecordProblem, ...] = ()
    cursor: str | None = None
    warnings: tuple[str, ...] = field(default=())
    # True: `pipeline` is all the CRM has. False: a change set, with what it deleted.
    snapshot: bool = True
    deleted: Deletions = field(default_factory=Deletions)

    @property
    def partial(self) -> bool:
        return bool(self.errors)


class CrmAdapter(Protocol):
    """A pipeline source. `fetch` returns the whole normalized pipeline (or changes since
    `cursor` when the vendor supports it); the write-backs keep the CRM in step with what
    followup did."""

    name: str

    def fetch(self, now: datetime, cursor: str | None = None) -> SyncResult: ...

    def log_activity(self, activity: Activity) -> None: ...

    def mark_do_not_contact(self, contact_id: str) -> None: ...
