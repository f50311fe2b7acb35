"""Write-backs as data: what followup asks the CRM to record, each with an idempotency key and
the marker a vendor searches for before it creates anything; and `QueuedCrm`, which puts every
write-back in the durable queue at once (so sending and Slack never wait on the CRM) and lets
the cycle perform them, retrying a failed one later."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from crm.base import (
    CrmAdapter,
    CrmError,
    CrmRequestError,
    CrmWriter,
    FlushReport,
    SyncResult,
    WriteBack,
    WriteBackQueue,
    WriteKind,
)
from triggers.model import Activity

RETRY_MAX = timedelta(hours=6)
REFUSALS_MAX = 5  # a write the CRM refuses as malformed this often is given up (and audited)


def marker(key: str) -> str:
    """A token unique to the write, kept in the text it writes, found by a search."""
    return "fu" + hashlib.sha256(key.encode()).hexdigest()[:20]


def marked(text: str, key: str) -> str:
    return f"{text.rstrip()}\n\n(followup ref {marker(key)})"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def sent(activity: Activity) -> WriteBack:
    return WriteBack(
        key=f"sent:{activity.id}",
        kind=WriteKind.SENT,
        payload={
            "deal_id": activity.deal_id,
            "contact_id": activity.contact_id,
            "subject": activity.subject or "",
            "body": activity.body or "",
            "at": _iso(activity.at),
            "message_id": activity.message_id,
            "thread_id": activity.thread_id,
            "in_reply_to": activity.in_reply_to,
            "from": activity.from_address,
            "to": list(activity.to_addresses),
        },
    )


def drafted(deal_id: str, contact_id: str, subject: str, at: datetime) -> WriteBack:
    return WriteBack(
        key=f"drafted:{deal_id}:{contact_id}:{_iso(at)}",
        kind=WriteKind.DRAFTED,
        payload={"deal_id": deal_id, "contact_id": contact_id, "subject": subject, "at": _iso(at)},
    )


def do_not_contact(contact_id: str) -> WriteBack:
    return WriteBack(f"dnc:{contact_id}", WriteKind.DO_NOT_CONTACT, {"contact_id": contact_id})


def task(deal_id: str, owner_id: str, title: str, due_at: datetime) -> WriteBack:
    digest = hashlib.sha256(title.encode()).hexdigest()[:12]
    return WriteBack(
        key=f"task:{deal_id}:{digest}:{_iso(due_at)}",
        kind=WriteKind.TASK,
        payload={"deal_id": deal_id, "owner_id": owner_id, "title": title, "due": _iso(due_at)},
    )


def reply_stage(deal_id: str, at: datetime) -> WriteBack:
    return WriteBack(
        f"reply-stage:{deal_id}:{at:%Y%m%d%H%M}", WriteKind.REPLY_STAGE, {"deal_id": deal_id}
    )


def when(payload: dict[str, Any] | Any, key: str) -> datetime:
    return datetime.fromisoformat(str(payload[key]))


class DirectWrites:
    """An adapter's write-backs called directly (outside the queue), each through the
    adapter's own idempotent `write`: the vendors fill in `write`, this fills in the rest."""

    keeps_tasks = True

    def write(self, op: WriteBack) -> str | None:
        raise NotImplementedError

    def log_activity(self, activity: Activity) -> None:
        self.write(sent(activity))

    def mark_do_not_contact(self, contact_id: str) -> None:
        self.write(do_not_contact(contact_id))

    def create_task(self, deal_id: str, owner_id: str, title: str, due_at: datetime) -> str:
        return self.write(task(deal_id, owner_id, title, due_at)) or ""

    def mark_reply_received(self, deal_id: str) -> None:
        self.write(reply_stage(deal_id, datetime.now(UTC)))


class QueuedCrm:
    """The adapter, with its write-backs queued."""

    def __init__(
        self,
        inner: CrmWriter,
        queue: WriteBackQueue,
        *,
        clock: Callable[[], datetime],
        log_drafts: bool = False,
    ) -> None:
        self.inner = inner
        self.queue = queue
        self.clock = clock
        self.log_drafts = log_drafts
        self.name: str = getattr(inner, "name", "crm")

    def fetch(self, now: datetime, cursor: str | None = None) -> SyncResult:
        adapter: CrmAdapter = self.inner  # type: ignore[assignment]
        return adapter.fetch(now, cursor)

    def close(self) -> None:
        closing = getattr(self.inner, "close", None)
        if callable(closing):
            closing()

    def _add(self, op: WriteBack) -> None:
        self.queue.add(self.name, op, self.clock())

    def log_activity(self, activity: Activity) -> None:
        self._add(sent(activity))

    def mark_do_not_contact(self, contact_id: str) -> None:
        self._add(do_not_contact(contact_id))

    def log_draft(self, deal_id: str, contact_id: str, subject: str, at: datetime) -> None:
        if self.log_drafts:
            self._add(drafted(deal_id, contact_id, subject, at))

    def flush(self, now: datetime) -> FlushReport:
        """Perform what is due, oldest first; stop at the first outage (the rest waits)."""
        report = FlushReport()
        for queued in self.queue.due(self.name, now):
            try:
                result = self.inner.write(queued.op)
            except CrmRequestError as error:
                if queued.attempts + 1 >= REFUSALS_MAX:
                    self.queue.give_up(queued.id, now, str(error))
                    report.given_up.append(f"{queued.op.key}: {error}")
                else:
                    self.queue.retry(queued.id, now, str(error), now + _backoff(queued.attempts))
                    report.retrying.append(f"{queued.op.key}: {error}")
                continue
            except CrmError as error:
                # An outage or refused credentials: nothing is lost, everything waits.
                self.queue.retry(queued.id, now, str(error), now + _backoff(queued.attempts))
                report.retrying.append(f"{queued.op.key}: {error}")
                break
            self.queue.done(queued.id, now, result)
            report.done += 1
        return report


class QueuedCrmWithTasks(QueuedCrm):
    """For CRMs that keep tasks and stages: the handoff's task and "reply received" stage
    are queued too (the task id returned is followup's own until the CRM has it)."""

    def create_task(self, deal_id: str, owner_id: str, title: str, due_at: datetime) -> str:
        op = task(deal_id, owner_id, title, due_at)
        self._add(op)
        return f"followup:{marker(op.key)}"

    def mark_reply_received(self, deal_id: str) -> None:
        self._add(reply_stage(deal_id, self.clock()))


def _backoff(attempts: int) -> timedelta:
    return min(RETRY_MAX, timedelta(minutes=float(2 ** min(attempts, 20))))


def queued(
    inner: CrmAdapter,
    queue: WriteBackQueue,
    *,
    clock: Callable[[], datetime],
    log_drafts: bool = False,
) -> CrmAdapter:
    """`inner` with its write-backs queued, when it can replay them; as it is otherwise."""
    if not isinstance(inner, CrmWriter):
        return inner
    kind = QueuedCrmWithTasks if getattr(inner, "keeps_tasks", False) else QueuedCrm
    return kind(inner, queue, clock=clock, log_drafts=log_drafts)
