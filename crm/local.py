"""The local CRM: a pipeline file in the normalized format (JSON or YAML).

Each record is validated on its own; a malformed one is reported (file, collection, record id,
field, problem) and skipped, and the valid rest loads. A file that is not JSON or YAML at all
is one `PipelineFormatError`.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from crm import CrmContext
from crm.base import PipelineFormatError, RecordProblem, SyncResult
from triggers.model import (
    Activity,
    ActivityKind,
    Contact,
    ContactStatus,
    Deal,
    DealSource,
    DealStatus,
    Direction,
    Owner,
    Pipeline,
)

COLLECTIONS = ("owners", "contacts", "deals", "activities")


# Times followup can compute with: a date at the calendar's edge (year 1 at +14:00, year
# 9999) overflows as soon as it is converted to UTC or a window is added to it.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _in_range(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        try:
            utc = value.astimezone(UTC)
        except OverflowError:
            raise ValueError(
                "a time at the edge of the calendar; use a year from 1900 to 8999"
            ) from None
        if not EARLIEST <= utc < LATEST:
            raise ValueError("a time outside the years 1900 to 8999")
    return value


class _Record(BaseModel):
    # Unknown keys are kept as `extra` and ignored by the rules (spec).
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)
    id: str = Field(min_length=1)

    @field_validator("*", mode="after")
    @classmethod
    def _times_in_range(cls, value: Any) -> Any:
        return _in_range(value)

    @property
    def extra_fields(self) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})


class _OwnerRecord(_Record):
    name: str
    email: str
    timezone: str | None = None
    slack_user_id: str | None = None


_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


class _ContactRecord(_Record):
    name: str
    email: str | None = None
    alt_emails: list[str] = Field(default_factory=list)
    company: str | None = None
    timezone: str | None = None
    status: ContactStatus = ContactStatus.ACTIVE

    # A contact that cannot be written to correctly is reported, not loaded silently.
    @field_validator("email")
    @classmethod
    def _an_address(cls, email: str | None) -> str | None:
        if email is not None and not _ADDRESS.match(email):
            raise ValueError(f"{email!r} is not an email address")
        return email

    @field_validator("alt_emails")
    @classmethod
    def _addresses(cls, emails: list[str]) -> list[str]:
        for email in emails:
            cls._an_address(email)
        return emails

    @field_validator("timezone")
    @classmethod
    def _a_zone(cls, zone: str | None) -> str | None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        if zone is not None:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError) as error:
                raise ValueError(
                    f"{zone!r} is not an IANA time zone such as Europe/Berlin"
                ) from error
        return zone


class _DealRecord(_Record):
    title: str
    contact_ids: list[str]
    owner_id: str
    stage: str
    stage_entered_at: AwareDatetime
    status: DealStatus = DealStatus.OPEN
    source: DealSource = DealSource.OUTBOUND
    quote_expires_at: AwareDatetime | None = None
    value: float | None = None
    currency: str | None = None


class _ActivityRecord(_Record):
    deal_id: str
    kind: ActivityKind
    at: AwareDatetime
    contact_id: str | None = None
    direction: Direction | None = None
    subject: str | None = None
    body: str | None = None
    scheduled_for: AwareDatetime | None = None
    outcome: str | None = None
    thread_id: str | None = None
    message_id: str | None = None
    in_reply_to: str | None = None
    from_: str | None = Field(default=None, alias="from")
    to: list[str] | str | None = None


@dataclass(frozen=True, slots=True)
class _Parsed:
    records: list[Any]
    problems: list[RecordProblem]


def load_pipeline_file(path: Path, *, shift_to: datetime | None = None) -> SyncResult:
    """Read a pipeline file. With `shift_to`, a file that declares `relative_to` has every time
    moved forward by whole days, so that `shift_to` falls within a day after `relative_to`: a
    sample pipeline then looks the same on any date, and stays put within one day (so a rule's
    anchor does not move between two cycles of the same day)."""
    return _load_path(path, shift_to)[0]


def _load_path(path: Path, shift_to: datetime | None) -> tuple[SyncResult, str | None]:
    """A JSON file is read record by record (`_JsonStream`), so a large one is never held
    whole, as text and documents and objects at once; anything else (YAML, or JSON the stream
    cannot follow) is read whole, which also words its errors."""
    try:
        with path.open("r", encoding="utf-8") as handle:
            return _load_document(_JsonStream(handle), str(path), shift_to)
    except FileNotFoundError as error:
        raise PipelineFormatError(f"{path}: no such file") from error
    except (_NotStreamable, UnicodeDecodeError, OSError, RecursionError):
        pass
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError as error:
        raise PipelineFormatError(f"{path}: no such file") from error
    except (OSError, UnicodeDecodeError) as error:
        raise PipelineFormatError(f"{path}: cannot read: {error}") from error
    return _load_text(text, str(path), shift_to)


def load_pipeline_text(
    text: str, *, source: str = "<pipeline>", shift_to: datetime | None = None
) -> SyncResult:
    return _load_text(text, source, shift_to)[0]


def _load_text(text: str, source: str, shift_to: datetime | None) -> tuple[SyncResult, str | None]:
    """The pipeline, and the file's `relative_to` (None when it has none)."""
    document = _decode(text, source)
    del text
    if not isinstance(document, dict):
        raise PipelineFormatError(
            f"{source}: a pipeline is an object with owners, contacts, deals and activities"
        )
    return _load_document(_Whole(document), source, shift_to)


def _load_document(
    document: _Whole | _JsonStream, source: str, shift_to: datetime | None
) -> tuple[SyncResult, str | None]:
    problems: list[RecordProblem] = []
    # Each collection is turned into domain objects record by record and its raw list let
    # go of at once, so a large file is not held as text, documents and objects together.
    parsed_owners = _parse_collection(document, "owners", source, _OwnerRecord, _owner)
    parsed_contacts = _parse_collection(document, "contacts", source, _ContactRecord, _contact)
    owners: list[Owner] = parsed_owners.records
    contacts: list[Contact] = parsed_contacts.records
    problems += parsed_owners.problems + parsed_contacts.problems
    owner_ids = {o.id for o in owners}
    contact_ids = {c.id for c in contacts}
    parsed_deals = _parse_collection(document, "deals", source, _DealRecord, _deal)
    problems += parsed_deals.problems
    deals: list[Deal] = []
    for record in parsed_deals.records:
        missing = [cid for cid in record.contact_ids if cid not in contact_ids]
        if record.owner_id not in owner_ids:
            problems.append(
                RecordProblem(
                    source, "deals", record.id, "owner_id", f"unknown owner {record.owner_id!r}"
                )
            )
        elif missing:
            problems.append(
                RecordProblem(
                    source, "deals", record.id, "contact_ids", f"unknown contact(s) {missing}"
                )
            )
        else:
            deals.append(record)
    del parsed_deals
    deal_ids = {d.id for d in deals}
    parsed_activities = _parse_collection(
        document, "activities", source, _ActivityRecord, _activity
    )
    problems += parsed_activities.problems
    activities: list[Activity] = []
    for record in parsed_activities.records:
        if record.deal_id not in deal_ids:
            problems.append(
                RecordProblem(
                    source,
                    "activities",
                    record.id,
                    "deal_id",
                    f"unknown or skipped deal {record.deal_id!r}",
                )
            )
        elif record.contact_id is not None and record.contact_id not in contact_ids:
            problems.append(
                RecordProblem(
                    source,
                    "activities",
                    record.id,
                    "contact_id",
                    f"unknown contact {record.contact_id!r}",
                )
            )
        elif record.kind is ActivityKind.EMAIL and record.direction is None:
            problems.append(
                RecordProblem(
                    source,
                    "activities",
                    record.id,
                    "direction",
                    "an email needs direction 'in' or 'out'",
                )
            )
        else:
            activities.append(record)
    del parsed_activities

    pipeline = Pipeline(tuple(owners), tuple(contacts), tuple(deals), tuple(activities))
    del owners, contacts, deals, activities
    rest = document.rest()
    offset = _offset(rest, source, shift_to)
    reference = rest.get("relative_to")
    if offset:
        try:
            pipeline = shift_pipeline(pipeline, offset)
        except OverflowError as error:
            raise PipelineFormatError(
                f"{source}: relative_to: shifting the file's times to today leaves the calendar"
            ) from error
    result = SyncResult(pipeline=pipeline, errors=tuple(problems))
    return result, None if reference is None else str(reference)


class _Whole:
    """A document decoded whole (YAML, or JSON given as text)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def collection(self, name: str) -> Any:
        return self.document.pop(name, [])

    def rest(self) -> dict[str, Any]:
        return self.document


class _NotStreamable(Exception):
    """The file is not JSON the stream can follow: read it whole instead."""


_NON_SPACE = re.compile(r"\S")


class _JsonStream:
    """A pipeline file in JSON, read in chunks: each record of a collection is decoded when it
    is reached (with the standard decoder), so memory holds a chunk of text, not the file.
    Collections in another order than they are asked for are held until asked."""

    CHUNK = 1 << 20

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.buffer = ""
        self.pos = 0
        self.eof = False
        self.done = False
        self.first = True
        self.decoder = json.JSONDecoder()
        self.values: dict[str, Any] = {}
        if self._peek() != "{":
            raise _NotStreamable
        self.pos += 1

    def _fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.handle.read(self.CHUNK)
        if not chunk:
            self.eof = True
            return False
        if self.pos:
            self.buffer = self.buffer[self.pos :]
            self.pos = 0
        self.buffer += chunk
        return True

    def _peek(self) -> str:
        while True:
            found = _NON_SPACE.search(self.buffer, self.pos)
            if found is not None:
                self.pos = found.start()
                return self.buffer[self.pos]
            self.pos = len(self.buffer)
            if not self._fill():
                return ""

    def _value(self) -> Any:
        self._peek()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError:
                if self._fill():
                    continue
                raise _NotStreamable from None
            if end == len(self.buffer) and self._fill():
                continue  # a number may go on in the next chunk
            self.pos = end
            return value

    def _key(self) -> str | None:
        char = self._peek()
        if char == "}":
            self.pos += 1
            self.done = True
            if self._peek() != "":
                raise _NotStreamable
            return None
        if not self.first:
            if char != ",":
                raise _NotStreamable
            self.pos += 1
        self.first = False
        key = self._value()
        if not isinstance(key, str) or self._peek() != ":":
            raise _NotStreamable
        self.pos += 1
        return key

    def _elements(self) -> Iterator[Any]:
        self.pos += 1  # the "["
        if self._peek() == "]":
            self.pos += 1
            return
        while True:
            yield self._value()
            char = self._peek()
            self.pos += 1
            if char == "]":
                return
            if char != ",":
                raise _NotStreamable

    def collection(self, name: str) -> Any:
        """The records of `name` as they are read (consume them before asking for another)."""
        if name in self.values:
            return self.values.pop(name)
        while not self.done:
            key = self._key()
            if key is None:
                break
            if key in COLLECTIONS and self._peek() == "[":
                if key == name:
                    return self._elements()
                self.values[key] = list(self._elements())
            else:
                self.values[key] = self._value()
                if key == name:
                    return self.values.pop(name)
        return []

    def rest(self) -> dict[str, Any]:
        """The top-level values besides the collections (`relative_to`)."""
        while not self.done:
            key = self._key()
            if key is None:
                break
            self.values[key] = self._value()
        return self.values


def _decode(text: str, source: str) -> Any:
    try:
        return _decode_nested(text, source)
    except RecursionError as error:
        raise PipelineFormatError(
            f"{source}: nested too deeply to be a pipeline (lists or objects inside each other "
            "thousands of levels deep)"
        ) from error


def _decode_nested(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as json_error:
        if source.endswith(".json"):
            raise PipelineFormatError(
                f"{source}: not valid JSON (line {json_error.lineno}, "
                f"column {json_error.colno}: {json_error.msg})"
            ) from json_error
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as yaml_error:
        mark = getattr(yaml_error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise PipelineFormatError(f"{source}: neither JSON nor YAML{where}") from yaml_error


def _offset(document: dict[str, Any], source: str, shift_to: datetime | None) -> timedelta:
    reference = document.get("relative_to")
    if shift_to is None or reference is None:
        return timedelta(0)
    try:
        anchor = datetime.fromisoformat(str(reference).replace("Z", "+00:00"))
    except ValueError as error:
        raise PipelineFormatError(
            f"{source}: relative_to: {reference!r} is not an ISO 8601 time"
        ) from error
    if anchor.tzinfo is None:
        raise PipelineFormatError(f"{source}: relative_to: a time needs an offset")
    try:
        _in_range(anchor)
    except ValueError as error:
        raise PipelineFormatError(f"{source}: relative_to: {error}") from None
    return timedelta(days=(shift_to - anchor) // timedelta(days=1))


def _parse_collection(
    document: _Whole | _JsonStream,
    name: str,
    source: str,
    model: type[_Record],
    convert: Callable[[Any], Any],
) -> _Parsed:
    raw = document.collection(name)
    if not isinstance(raw, list | Iterator):
        return _Parsed([], [RecordProblem(source, name, None, None, "must be a list of records")])
    records: list[Any] = []
    problems: list[RecordProblem] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        record_id = str(item["id"]) if isinstance(item, dict) and "id" in item else f"#{index}"
        if not isinstance(item, dict):
            problems.append(
                RecordProblem(source, name, record_id, None, "a record must be an object")
            )
            continue
        try:
            record = model.model_validate(item)
        except ValidationError as error:
            problems.extend(_problems(source, name, record_id, error))
            continue
        if record.id in seen:
            problems.append(RecordProblem(source, name, record.id, "id", "duplicate id"))
            continue
        seen.add(record.id)
        records.append(convert(record))
        if isinstance(raw, list):
            raw[index] = None  # let the raw record go as soon as it is converted
    return _Parsed(records, problems)


def _problems(
    source: str, collection: str, record_id: str, error: ValidationError
) -> Iterator[RecordProblem]:
    for problem in error.errors():
        field_name = ".".join(str(part) for part in problem["loc"]) or None
        message = problem["msg"]
        if problem["type"] == "timezone_aware":
            message = "a time needs an offset, e.g. 2026-11-20T09:30:00-05:00 or ...Z"
        elif problem["type"] == "missing":
            message = "required"
        yield RecordProblem(source, collection, record_id, field_name, message)


def _owner(r: _OwnerRecord) -> Owner:
    return Owner(r.id, r.name, r.email, r.timezone, r.slack_user_id, r.extra_fields)


def _contact(r: _ContactRecord) -> Contact:
    return Contact(
        id=r.id,
        name=r.name,
        email=r.email,
        company=r.company,
        timezone=r.timezone,
        status=r.status,
        alt_emails=tuple(r.alt_emails),
        extra=r.extra_fields,
    )


def _deal(r: _DealRecord) -> Deal:
    return Deal(
        id=sys.intern(r.id),
        title=r.title,
        contact_ids=tuple(map(sys.intern, r.contact_ids)),
        owner_id=sys.intern(r.owner_id),
        stage=r.stage,
        stage_entered_at=r.stage_entered_at,
        status=r.status,
        source=r.source,
        quote_expires_at=r.quote_expires_at,
        value=r.value,
        currency=r.currency,
        extra=r.extra_fields,
    )


def _activity(r: _ActivityRecord) -> Activity:
    to = (r.to,) if isinstance(r.to, str) else tuple(r.to or ())
    return Activity(
        id=r.id,
        # one string per deal and contact, not one per activity naming it
        deal_id=sys.intern(r.deal_id),
        kind=r.kind,
        at=r.at,
        contact_id=None if r.contact_id is None else sys.intern(r.contact_id),
        direction=r.direction,
        subject=r.subject,
        body=r.body,
        scheduled_for=r.scheduled_for,
        outcome=r.outcome,
        thread_id=r.thread_id,
        message_id=r.message_id,
        in_reply_to=r.in_reply_to,
        from_address=r.from_,
        to_addresses=to,
        extra=r.extra_fields,
    )


def shift_pipeline(pipeline: Pipeline, offset: timedelta) -> Pipeline:
    def move(moment: datetime | None) -> datetime | None:
        return None if moment is None else moment + offset

    return Pipeline(
        owners=pipeline.owners,
        contacts=pipeline.contacts,
        deals=tuple(
            replace(
                d,
                stage_entered_at=d.stage_entered_at + offset,
                quote_expires_at=move(d.quote_expires_at),
            )
            for d in pipeline.deals
        ),
        activities=tuple(
            replace(
                a,
                at=a.at + offset,
                scheduled_for=move(a.scheduled_for),
                subject=shift_text_dates(a.subject, offset, a.at),
                body=shift_text_dates(a.body, offset, a.at),
            )
            for a in pipeline.activities
        ),
    )


_MONTH_NAMES = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_MONTH_RE = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_TEXT_DATE = re.compile(
    r"(?P<iso>\b(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})\b)"
    rf"|(?P<dm>\b(?P<d1>\d{{1,2}})(?P<o1>st|nd|rd|th)?\s+(?P<m1>{_MONTH_RE})\b)"
    rf"|(?P<md>\b(?P<m2>{_MONTH_RE})\s+(?P<d2>\d{{1,2}})(?P<o2>st|nd|rd|th)?\b)"
    r"|(?P<the>\b(?P<art>the\s+)?(?P<d3>\d{1,2})(?P<o3>st|nd|rd|th)\b)"
    r"|(?P<wd>\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b)"
)


def _ordinal(day: int) -> str:
    if 11 <= day % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _month_index(token: str) -> int:
    return next(i for i, name in enumerate(_MONTH_NAMES, 1) if name.startswith(token[:3]))


def _month_like(written: str, month: int) -> str:
    name = _MONTH_NAMES[month - 1]
    return name if len(written) > 3 and written != "Sept" else name[:3]


def _nearest(around: date, month: int, day: int) -> date | None:
    found = []
    for year in (around.year - 1, around.year, around.year + 1):
        try:
            found.append(date(year, month, day))
        except ValueError:
            continue
    return min(found, key=lambda d: abs((d - around).days)) if found else None


def shift_text_dates(text: str | None, offset: timedelta, around: datetime) -> str | None:
    """`text` with the dates it mentions moved by `offset` (whole days), and weekday names with
    them, so that a shifted demo's emails agree with its shifted times."""
    days = offset.days
    if not text or not days:
        return text
    base = around.date()

    def move(match: re.Match[str]) -> str:
        if match.group("iso"):
            try:
                moved = date(int(match["y"]), int(match["m"]), int(match["d"])) + offset
            except ValueError:
                return match.group(0)
            return moved.isoformat()
        if match.group("wd"):
            index = _WEEKDAY_NAMES.index(match.group("wd"))
            return _WEEKDAY_NAMES[(index + days) % 7]
        if match.group("the"):
            day = int(match["d3"])
            candidates = [
                d
                for d in (_nearest(base, m, day) for m in range(1, 13))
                if d is not None and abs((d - base).days) <= 45
            ]
            if not candidates:
                return match.group(0)
            moved = min(candidates, key=lambda d: abs((d - base).days)) + offset
            return f"{match['art'] or ''}{moved.day}{_ordinal(moved.day)}"
        token = match["m1"] or match["m2"]
        day = int(match["d1"] or match["d2"])
        original = _nearest(base, _month_index(token), day)
        if original is None:
            return match.group(0)
        moved = original + offset
        month = _month_like(token, moved.month)
        ordinal = _ordinal(moved.day) if (match["o1"] or match["o2"]) else ""
        if match.group("dm"):
            return f"{moved.day}{ordinal} {month}"
        return f"{month} {moved.day}{ordinal}"

    return _TEXT_DATE.sub(move, text)


def dump_pipeline(pipeline: Pipeline) -> dict[str, Any]:
    """The pipeline in the file format, for `followup export`."""

    def iso(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat().replace("+00:00", "Z")

    def clean(record: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in record.items() if v not in (None, [], {})}

    return {
        "owners": [
            clean(
                {
                    "id": o.id,
                    "name": o.name,
                    "email": o.email,
                    "slack_user_id": o.slack_user_id,
                    "timezone": o.timezone,
                    **o.extra,
                }
            )
            for o in pipeline.owners
        ],
        "contacts": [
            clean(
                {
                    "id": c.id,
                    "name": c.name,
                    "email": c.email,
                    "alt_emails": list(c.alt_emails),
                    "company": c.company,
                    "timezone": c.timezone,
                    "status": c.status.value,
                    **c.extra,
                }
            )
            for c in pipeline.contacts
        ],
        "deals": [
            clean(
                {
                    "id": d.id,
                    "title": d.title,
                    "contact_ids": list(d.contact_ids),
                    "owner_id": d.owner_id,
                    "stage": d.stage,
                    "stage_entered_at": iso(d.stage_entered_at),
                    "status": d.status.value,
                    "source": d.source.value,
                    "quote_expires_at": iso(d.quote_expires_at),
                    "value": d.value,
                    "currency": d.currency,
                    **d.extra,
                }
            )
            for d in pipeline.deals
        ],
        "activities": [
            clean(
                {
                    "id": a.id,
                    "deal_id": a.deal_id,
                    "contact_id": a.contact_id,
                    "kind": a.kind.value,
                    "direction": a.direction.value if a.direction else None,
                    "at": iso(a.at),
                    "scheduled_for": iso(a.scheduled_for),
                    "subject": a.subject,
                    "body": a.body,
                    "outcome": a.outcome,
                    "thread_id": a.thread_id,
                    "message_id": a.message_id,
                    "in_reply_to": a.in_reply_to,
                    "from": a.from_address,
                    "to": list(a.to_addresses),
                    **a.extra,
                }
            )
            for a in pipeline.activities
        ],
    }


class LocalCrm:
    """The embedded default CRM: the pipeline file is the source of truth."""

    name = "local"

    def __init__(self, path: Path, *, shift: bool = True) -> None:
        self.path = path
        self.shift = shift

    def fetch(self, now: datetime, cursor: str | None = None) -> SyncResult:
        """The whole file as a snapshot; or, when the file is the one the cursor describes
        (same size and modification time) and would be shifted by the same days, an empty
        change set: a cycle where nothing changed does not read the file again."""
        shift_to = now if self.shift else None
        try:
            stat = os.stat(self.path)
        except OSError:
            stat = None
        if stat is not None and cursor is not None:
            known = _file_cursor(cursor)
            if (
                known is not None
                and known["size"] == stat.st_size
                and known["mtime_ns"] == stat.st_mtime_ns
                and known["days"] == _shift_days(known.get("relative_to"), shift_to)
            ):
                return SyncResult(pipeline=Pipeline(), cursor=cursor, snapshot=False)
        if stat is None:
            return load_pipeline_file(self.path, shift_to=shift_to)  # says why it cannot
        result, reference = _load_path(self.path, shift_to)
        fresh = {
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "relative_to": reference,
            "days": _shift_days(reference, shift_to),
        }
        return replace(result, cursor=json.dumps(fresh))

    def log_activity(self, activity: Activity) -> None:
        # The file is read-only input; what followup does is kept in the store.
        return None

    def mark_do_not_contact(self, contact_id: str) -> None:
        return None


def _file_cursor(cursor: str) -> dict[str, Any] | None:
    try:
        found = json.loads(cursor)
    except ValueError:
        return None
    return (
        found if isinstance(found, dict) and {"size", "mtime_ns", "days"} <= found.keys() else None
    )


def _shift_days(reference: str | None, shift_to: datetime | None) -> int:
    if reference is None or shift_to is None:
        return 0
    try:
        anchor = datetime.fromisoformat(reference.replace("Z", "+00:00"))
    except ValueError:
        return 0
    if anchor.tzinfo is None:
        return 0
    return (shift_to - anchor) // timedelta(days=1)


def build(context: CrmContext) -> LocalCrm:
    """The registry's entry (`CRM_PROVIDER=local`, `PIPELINE_FILE`)."""
    return LocalCrm(context.pipeline_file)
