"""Streams and their incremental cursors: the part of every HTTP CRM adapter that decides what
to ask for and remembers how far it got (the Airbyte CDK shape).

The cursor of a sync is one JSON document kept in `sync_state` under `crm:<vendor>`: per stream
a watermark (the latest change time seen and the ids seen at exactly that time, so a vendor's
"since" filter that includes its bound returns nothing twice), the ids of the deals the store
holds from this CRM (so a full resync knows which ones are gone), and when the last full sync
ran. A cursor older than the vendor keeps its deletions (or unreadable) starts a full resync.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from crm.base import RecordProblem, SyncResult
from triggers.model import Deletions, Pipeline

VERSION = 1


@dataclass(slots=True)
class Watermark:
    at: datetime | None = None
    ids: set[str] = field(default_factory=set)

    def admits(self, record_id: str, updated: datetime) -> bool:
        """Whether a record the vendor returned for `since=at` is news."""
        if self.at is None or updated > self.at:
            return True
        return updated == self.at and record_id not in self.ids

    def advance(self, record_id: str, updated: datetime) -> None:
        if self.at is None or updated > self.at:
            self.at = updated
            self.ids = {record_id}
        elif updated == self.at:
            self.ids.add(record_id)

    def encode(self) -> dict[str, Any]:
        return {"at": self.at.isoformat() if self.at else None, "ids": sorted(self.ids)}

    @classmethod
    def decode(cls, raw: Any) -> Watermark:
        at = datetime.fromisoformat(raw["at"]) if raw.get("at") else None
        return cls(at=at, ids={str(i) for i in raw.get("ids", ())})


@dataclass(slots=True)
class SyncState:
    synced_at: datetime
    full_at: datetime
    streams: dict[str, Watermark] = field(default_factory=dict)
    deal_ids: set[str] = field(default_factory=set)
    # A vendor's own carry-over (Pipedrive: deals whose mail is still to read).
    extra: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> str:
        return json.dumps(
            {
                "v": VERSION,
                "synced_at": self.synced_at.isoformat(),
                "full_at": self.full_at.isoformat(),
                "streams": {name: mark.encode() for name, mark in sorted(self.streams.items())},
                "deal_ids": sorted(self.deal_ids),
                "extra": self.extra,
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, text: str | None) -> SyncState | None:
        """None when there is no usable cursor (none yet, another version, or garbled)."""
        if not text:
            return None
        try:
            raw = json.loads(text)
            if raw.get("v") != VERSION:
                return None
            return cls(
                synced_at=datetime.fromisoformat(raw["synced_at"]),
                full_at=datetime.fromisoformat(raw["full_at"]),
                streams={k: Watermark.decode(v) for k, v in raw["streams"].items()},
                deal_ids={str(i) for i in raw.get("deal_ids", ())},
                extra=dict(raw.get("extra") or {}),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


@dataclass(slots=True)
class SyncRun:
    """One sync in progress: whether it is full, each stream's "since", the records kept,
    and the problems found."""

    vendor: str
    now: datetime
    full: bool
    previous: SyncState | None
    problems: list[RecordProblem] = field(default_factory=list)
    marks: dict[str, Watermark] = field(default_factory=dict)
    deleted_deals: set[str] = field(default_factory=set)
    deleted_contacts: set[str] = field(default_factory=set)
    deleted_activities: set[str] = field(default_factory=set)
    extra: dict[str, Any] = field(default_factory=dict)  # the next state's `extra`
    warnings: list[str] = field(default_factory=list)

    def since(self, stream: str) -> datetime | None:
        """Where this stream resumes; None for a full read."""
        mark = self.mark(stream)
        return None if self.full else mark.at

    def mark(self, stream: str) -> Watermark:
        if stream not in self.marks:
            old = None if self.previous is None else self.previous.streams.get(stream)
            self.marks[stream] = (
                Watermark(old.at, set(old.ids)) if old and not self.full else Watermark()
            )
        return self.marks[stream]

    def news(self, stream: str, record_id: str, updated: datetime | None) -> bool:
        """Whether to keep a record: True unless this stream saw it at this exact time already.
        Advances the stream's watermark."""
        if updated is None:
            return True
        mark = self.mark(stream)
        fresh = self.full or mark.admits(record_id, updated)
        mark.advance(record_id, updated)
        return fresh

    def problem(self, collection: str, record_id: str | None, fld: str | None, text: str) -> None:
        self.problems.append(RecordProblem(self.vendor, collection, record_id, fld, text))

    def result(self, pipeline: Pipeline) -> SyncResult:
        """The result, with the cursor the next sync starts from. A full sync reports as
        deleted every deal the store had from this CRM that the account no longer has."""
        known = set() if self.previous is None else set(self.previous.deal_ids)
        present = {d.id for d in pipeline.deals}
        if self.full:
            broken = {p.record_id for p in self.problems if p.collection == "deals"}
            self.deleted_deals |= known - present - broken
            present |= known & broken
            deal_ids = present
        else:
            deal_ids = (known | present) - self.deleted_deals
        self.deleted_deals -= present
        streams = dict(self.previous.streams) if self.previous and not self.full else {}
        streams.update(self.marks)
        state = SyncState(
            synced_at=self.now,
            full_at=self.now if self.full or self.previous is None else self.previous.full_at,
            streams=streams,
            deal_ids=deal_ids,
            extra=self.extra,
        )
        return SyncResult(
            pipeline=pipeline,
            errors=tuple(self.problems),
            cursor=state.encode(),
            warnings=tuple(self.warnings),
            snapshot=self.full,
            deleted=Deletions(
                deal_ids=frozenset(self.deleted_deals),
                contact_ids=frozenset(self.deleted_contacts),
                activity_ids=frozenset(self.deleted_activities),
            ),
        )


def start(
    vendor: str, now: datetime, cursor: str | None, *, max_age: timedelta, full: bool = False
) -> SyncRun:
    """A sync from `cursor`: full when asked, when there is no cursor, or when the cursor is
    older than `max_age` (the vendor may have forgotten deletions since)."""
    previous = SyncState.decode(cursor)
    stale = previous is not None and now - previous.synced_at > max_age
    return SyncRun(vendor, now, full or previous is None or stale, previous)


def parse_time(value: Any) -> datetime | None:
    """An aware UTC time from ISO 8601 (with `Z`), epoch milliseconds, or Pipedrive v1's
    `YYYY-MM-DD HH:MM:SS` (UTC); None for empty; ValueError for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a time")
    text = value.strip().replace("Z", "+00:00")
    if len(text) == 19 and text[10] == " ":
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        if len(text) == 10:  # a date alone: midnight UTC
            return parsed.replace(tzinfo=UTC)
        raise ValueError(f"{value!r} has no offset")
    return parsed.astimezone(UTC)


def chunks(items: Iterable[str], size: int) -> Iterable[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class StreamReader(Protocol):
    def read(self, run: SyncRun) -> Pipeline: ...


class StreamedCrm:
    """What every HTTP CRM adapter shares: its streams read from the stored cursor (a full
    read when the cursor is older than `max_cursor_age`), on the loop of `api.http`."""

    name: str
    api: Any  # a vendor's API object, with `http` (crm._http.CrmHttp)
    reader: StreamReader
    max_cursor_age: timedelta

    def close(self) -> None:
        self.api.http.close()

    @property
    def requests(self) -> int:
        return int(self.api.http.requests)

    def fetch(self, now: datetime, cursor: str | None = None) -> SyncResult:
        run = start(self.name, now, cursor, max_age=self.max_cursor_age)
        return run.result(self.reader.read(run))
