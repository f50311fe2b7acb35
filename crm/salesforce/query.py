"""SOQL as followup writes it: values quoted and escaped, names from constants."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime


def soql_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def soql_ids(ids: Iterable[str]) -> str:
    return ", ".join("'" + i.replace("\\", "\\\\").replace("'", "\\'") + "'" for i in ids)


def soql(fields: str, sobject: str, *where: str, order: str | None = None) -> str:
    """A SOQL query. Values reach it only through `soql_ids` and `soql_time`, which quote and
    escape them; field and object names are this module's constants."""
    query = f"SELECT {fields} FROM {sobject}"  # noqa: S608 - see above
    if where:
        query += " WHERE " + " AND ".join(where)
    return query + (f" ORDER BY {order} ASC" if order else "")
