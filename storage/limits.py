"""What the store cannot hold, found before it is written: a string longer than its column, or
a NUL character (PostgreSQL's text types refuse it). Each such record is a `RecordProblem`,
reported and skipped like a malformed one, with the records that depend on it; the valid rest
is stored. The same on SQLite (which would keep either) as on PostgreSQL, so moving between
them changes nothing."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from sqlalchemy import String, Table

from storage.sync import activity_values, contact_values, deal_values, owner_values
from storage.tables import ActivityRow, ContactRow, DealRow, OwnerRow
from triggers.model import Pipeline, RecordProblem

__all__ = ["storable"]


def _limits(table: Table) -> dict[str, int | None]:
    """Each column that holds text: its length limit (None: unlimited)."""
    found: dict[str, int | None] = {}
    for column in table.columns:
        kind = column.type
        if isinstance(kind, String):
            found[column.name] = kind.length
    return found


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_finite(v) for v in value)
    return True


def _problem(
    values: dict[str, Any], limits: dict[str, int | None], json_columns: set[str]
) -> tuple[str, str] | None:
    for name, value in values.items():
        if name in json_columns:
            if any("\x00" in s for s in _strings(value)):
                return name, "contains a NUL character, which cannot be stored"
            if not _finite(value):
                return name, "holds NaN or Infinity, which JSON cannot store"
            continue
        if isinstance(value, float) and not math.isfinite(value):
            return name, "is NaN or Infinity; give a number"
        if not isinstance(value, str) or name not in limits:
            continue
        if "\x00" in value:
            return name, "contains a NUL character, which cannot be stored"
        limit = limits[name]
        if limit is not None and len(value) > limit:
            return name, f"is {len(value)} characters long; at most {limit} can be stored"
    return None


def _json_columns(table: Table) -> set[str]:
    return {c.name for c in table.columns if c.type.__class__.__name__ == "JSON"}


def storable(pipeline: Pipeline, source: str) -> tuple[Pipeline, list[RecordProblem]]:
    """The part of `pipeline` the store can hold, and a problem for each record it cannot
    (deals of a skipped owner or contact, and activities of a skipped deal, go with it)."""
    problems: list[RecordProblem] = []

    def keep(
        collection: str,
        records: Iterable[Any],
        table: Table,
        values: Callable[[Any], dict[str, Any]],
    ) -> list[Any]:
        limits, json_columns = _limits(table), _json_columns(table)
        kept = []
        for record in records:
            found = _problem(values(record), limits, json_columns)
            if found is None:
                kept.append(record)
            else:
                problems.append(RecordProblem(source, collection, record.id, *found))
        return kept

    owners = keep("owners", pipeline.owners, OwnerRow.__table__, owner_values)  # type: ignore[arg-type]
    contacts = keep("contacts", pipeline.contacts, ContactRow.__table__, contact_values)  # type: ignore[arg-type]
    deals = keep("deals", pipeline.deals, DealRow.__table__, deal_values)  # type: ignore[arg-type]
    activities = keep("activities", pipeline.activities, ActivityRow.__table__, activity_values)  # type: ignore[arg-type]
    if not problems:
        return pipeline, problems
    owner_ids = {o.id for o in owners}
    contact_ids = {c.id for c in contacts}
    kept_deals = []
    for deal in deals:
        if deal.owner_id not in owner_ids:
            problems.append(
                RecordProblem(source, "deals", deal.id, "owner_id", "its owner was skipped")
            )
        elif not set(deal.contact_ids) <= contact_ids:
            problems.append(
                RecordProblem(source, "deals", deal.id, "contact_ids", "a contact was skipped")
            )
        else:
            kept_deals.append(deal)
    deal_ids = {d.id for d in kept_deals}
    kept_activities = []
    for activity in activities:
        if activity.deal_id not in deal_ids:
            problems.append(
                RecordProblem(source, "activities", activity.id, "deal_id", "its deal was skipped")
            )
        elif activity.contact_id is not None and activity.contact_id not in contact_ids:
            problems.append(
                RecordProblem(
                    source, "activities", activity.id, "contact_id", "its contact was skipped"
                )
            )
        else:
            kept_activities.append(activity)
    return (
        replace(
            pipeline,
            owners=tuple(owners),
            contacts=tuple(contacts),
            deals=tuple(kept_deals),
            activities=tuple(kept_activities),
        ),
        problems,
    )
