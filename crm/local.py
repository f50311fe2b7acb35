"""The local CRM: a pipeline file in the normalized format (JSON or YAML).

Each record is validated on its own; a malformed one is reported (file, collection, record id,
field, problem) and skipped, and the valid rest loads. A file that is not JSON or YAML at all
is one `PipelineFormatError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

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


class _ContactRecord(_Record):
    name: str
    email: str | None = None
    alt_emails: list[str] = Field(default_factory=list)
    company: str | None = None
    timezone: str | None = None
    status: ContactStatus = ContactStatus.ACTIVE


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
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise PipelineFormatError(f"{path}: no such file") from error
    except (OSError, UnicodeDecodeError) as error:
        raise PipelineFormatError(f"{path}: cannot read: {error}") from error
    return load_pipeline_text(text, source=str(path), shift_to=shift_to)


def load_pipeline_text(
    text: str, *, source: str = "<pipeline>", shift_to: datetime | None = None
) -> SyncResult:
    document = _decode(text, source)
    if not isinstance(document, dict):
        raise PipelineFormatError(
            f"{source}: a pipeline is an object with owners, contacts, deals and activities"
        )
    offset = _offset(document, source, shift_to)
    problems: list[RecordProblem] = []
    parsed = {
        name: _parse_collection(document, name, source, model)
        for name, model in (
            ("owners", _OwnerRecord),
            ("contacts", _ContactRecord),
            ("deals", _DealRecord),
            ("activities", _ActivityRecord),
        )
    }
    for result in parsed.values():
        problems.extend(result.problems)

    owners = [_owner(r) for r in parsed["owners"].records]
    contacts = [_contact(r) for r in parsed["contacts"].records]
    owner_ids = {o.id for o in owners}
    contact_ids = {c.id for c in contacts}
    deals: list[Deal] = []
    for record in parsed["deals"].records:
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
            deals.append(_deal(record))
    deal_ids = {d.id for d in deals}
    activities: list[Activity] = []
    for record in parsed["activities"].records:
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
            activities.append(_activity(record))

    pipeline = Pipeline(tuple(owners), tuple(contacts), tuple(deals), tuple(activities))
    if offset:
        try:
            pipeline = shift_pipeline(pipeline, offset)
        except OverflowError as error:
            raise PipelineFormatError(
                f"{source}: relative_to: shifting the file's times to today leaves the calendar"
            ) from error
    return SyncResult(pipeline=pipeline, errors=tuple(problems))


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
    document: dict[str, Any], name: str, source: str, model: type[_Record]
) -> _Parsed:
    raw = document.get(name, [])
    if not isinstance(raw, list):
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
        records.append(record)
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
        id=r.id,
        title=r.title,
        contact_ids=tuple(r.contact_ids),
        owner_id=r.owner_id,
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
        deal_id=r.deal_id,
        kind=r.kind,
        at=r.at,
        contact_id=r.contact_id,
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
            replace(a, at=a.at + offset, scheduled_for=move(a.scheduled_for))
            for a in pipeline.activities
        ),
    )


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
        return load_pipeline_file(self.path, shift_to=now if self.shift else None)

    def log_activity(self, activity: Activity) -> None:
        # The file is read-only input; what followup does is kept in the store.
        return None

    def mark_do_not_contact(self, contact_id: str) -> None:
        return None
