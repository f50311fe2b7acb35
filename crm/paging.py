"""The paging strategies CRM APIs use, each a generator of pages (lists of records), so a
stream holds one page in memory at a time.

- `AfterCursor`: an opaque `after` token in `paging.next.after` (HubSpot lists and searches).
- `NextCursor`: `additional_data.next_cursor`, null at the end (Pipedrive API v2).
- `OffsetHasMore`: a start offset and a "more" flag (Pipedrive API v1 `start` with
  `additional_data.pagination`; Close `_skip`/`_limit` with `has_more`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from crm._http import CrmHttp
from crm.base import CrmUnavailable

Page = list[dict[str, Any]]


def _records(body: Any, key: str, vendor: str) -> Page:
    if not isinstance(body, dict):
        raise CrmUnavailable(f"{vendor} answered a list request with something not an object")
    records = body.get(key)
    if records is None:
        return []
    if not isinstance(records, list):
        raise CrmUnavailable(f"{vendor}: {key!r} in a list response is not a list")
    return [r for r in records if isinstance(r, dict)]


@dataclass(frozen=True, slots=True)
class AfterCursor:
    """HubSpot: GET with `after` in the query, or POST (search) with `after` in the body."""

    records: str = "results"

    def pages(
        self,
        http: CrmHttp,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        max_pages: int | None = None,
    ) -> Iterator[tuple[Page, Any]]:
        """Each page with the raw body (the caller may read `total` or the last record)."""
        after: str | None = None
        pages = 0
        while True:
            if body is not None:
                request = {**body, **({"after": after} if after else {})}
                answer = http.post(path, request, idempotent=True)
            else:
                query = {**(params or {}), **({"after": after} if after else {})}
                answer = http.get(path, query)
            yield _records(answer, self.records, http.vendor), answer
            pages += 1
            paging = answer.get("paging") if isinstance(answer, dict) else None
            nxt = paging.get("next") if isinstance(paging, dict) else None
            after = nxt.get("after") if isinstance(nxt, dict) else None
            if not after or (max_pages is not None and pages >= max_pages):
                return


@dataclass(frozen=True, slots=True)
class NextCursor:
    """Pipedrive v2: `cursor` in the query, `additional_data.next_cursor` in the answer."""

    records: str = "data"

    def pages(
        self, http: CrmHttp, path: str, *, params: Mapping[str, Any] | None = None, cost: int = 0
    ) -> Iterator[Page]:
        cursor: str | None = None
        while True:
            query = {**(params or {}), **({"cursor": cursor} if cursor else {})}
            answer = http.get(path, query, cost=cost)
            yield _records(answer, self.records, http.vendor)
            extra = answer.get("additional_data") if isinstance(answer, dict) else None
            cursor = extra.get("next_cursor") if isinstance(extra, dict) else None
            if not cursor:
                return


@dataclass(frozen=True, slots=True)
class OffsetHasMore:
    """An offset and a flag: Pipedrive v1 (`start`, `limit`,
    `additional_data.pagination.more_items_in_collection` / `next_start`) by default; Close
    with `start="_skip", limit="_limit", more=("has_more",), records="data"`."""

    records: str = "data"
    start: str = "start"
    limit: str = "limit"
    more: tuple[str, ...] = ("additional_data", "pagination", "more_items_in_collection")
    next_start: tuple[str, ...] = ("additional_data", "pagination", "next_start")

    def pages(
        self,
        http: CrmHttp,
        path: str,
        *,
        page_size: int,
        params: Mapping[str, Any] | None = None,
        cost: int = 0,
    ) -> Iterator[Page]:
        offset = 0
        while True:
            query = {**(params or {}), self.start: offset, self.limit: page_size}
            answer = http.get(path, query, cost=cost)
            page = _records(answer, self.records, http.vendor)
            yield page
            if not _dig(answer, self.more) or not page:
                return
            given = _dig(answer, self.next_start)
            offset = int(given) if isinstance(given, int) else offset + len(page)


def _dig(body: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body
