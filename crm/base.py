"""What every CRM adapter provides, and the errors it may raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from triggers.model import Activity, Deletions, Pipeline
from triggers.model import RecordProblem as RecordProblem

# Re-exported: the adapters and the queue speak these (they live in the domain).
from triggers.writebacks import QueuedWrite as QueuedWrite
from triggers.writebacks import WriteBack as WriteBack
from triggers.writebacks import WriteKind as WriteKind


class CrmError(Exception):
    """Base of every CRM failure."""


class CrmUnavailable(CrmError):
    """The CRM could not be reached or answered with a transient failure: retry later."""


class CrmRateLimited(CrmUnavailable):
    """The CRM's rate limit is spent for longer than a cycle should wait (`retry_after`
    seconds, None when it did not say; a daily limit waits for its reset)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CrmAuthError(CrmError):
    """Credentials (or their scopes) were refused: a person must fix the configuration."""


class CrmRequestError(CrmError):
    """The CRM refused one request as malformed or not found: a bug or a changed account,
    not an outage."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class PipelineFormatError(CrmError):
    """The whole input is unusable (not JSON/YAML, not a pipeline object)."""


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


@runtime_checkable
class CrmTasks(Protocol):
    """Optional CRM ability: a task for a person, due at a time; returns the CRM's task id."""

    def create_task(self, deal_id: str, owner_id: str, title: str, due_at: datetime) -> str: ...


@runtime_checkable
class CrmReplyStage(Protocol):
    """Optional CRM ability: move a deal to the CRM's "reply received" stage."""

    def mark_reply_received(self, deal_id: str) -> None: ...


@runtime_checkable
class CrmWriter(Protocol):
    """An adapter that performs write-backs idempotently (lookup before create)."""

    def write(self, op: WriteBack) -> str | None:
        """Do it (or find it done); the CRM's id of what was written, if any."""


class WriteBackQueue(Protocol):
    """Durable write-backs: queued at once, tried by the cycle, retried until done."""

    def add(self, vendor: str, op: WriteBack, now: datetime) -> bool: ...

    def due(self, vendor: str, now: datetime, limit: int = 50) -> list[QueuedWrite]: ...

    def done(self, write_id: int, now: datetime, result: str | None) -> None: ...

    def retry(self, write_id: int, now: datetime, error: str, at: datetime) -> None: ...

    def give_up(self, write_id: int, now: datetime, error: str) -> None: ...


@dataclass(slots=True)
class FlushReport:
    done: int = 0
    retrying: list[str] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)


@runtime_checkable
class CrmWriteBacks(Protocol):
    """An adapter with queued write-backs; the cycle flushes them."""

    def flush(self, now: datetime) -> FlushReport: ...


@runtime_checkable
class CrmDraftLog(Protocol):
    """Optional: note on the deal that a follow-up was drafted (`[crm] log_drafts`)."""

    def log_draft(self, deal_id: str, contact_id: str, subject: str, at: datetime) -> None: ...
