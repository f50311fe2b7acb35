"""Close's API v1 on the shared loop: Basic auth with the API key (or an OAuth bearer), its
rate-limit signals and its error bodies."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx2

from crm._http import CrmHttp
from crm.paging import OffsetHasMore, Page
from httploop import Auth, HeaderToken, HttpLoop, retry_after

PAGE = 100  # list endpoints' `_limit` maximum
# Close caps how deep `_skip` may go on each resource (a 400 past it): a long list is read in
# windows of this many pages, each starting at the last value of its order field.
WINDOW_PAGES = 10
EVENT_PAGE = 50  # the event log's
DEFAULT_WAIT = 2.0  # what Close's own client waits when a 429 says nothing


def api_key_auth(key: str) -> Auth:
    """The key as the Basic user name, with an empty password."""
    token = base64.b64encode(f"{key}:".encode()).decode()
    return HeaderToken("Authorization", f"Basic {token}")


def _reset(header: str | None) -> float | None:
    match = re.search(r"reset=([\d.]+)", header or "")
    return float(match.group(1)) if match else None


class CloseRate:
    """A 429's wait, in the order Close's own client reads it: the `RateLimit` header's
    `reset=`, `Retry-After`, `RateLimit-Reset`, the body's `error.rate_reset`, else 2 s. A
    response that leaves `remaining=0` holds the next request until the window resets."""

    def limited(self, response: httpx2.Response, detail: str) -> bool:
        return response.status_code == 429

    def wait(self, response: httpx2.Response) -> float | None:
        for value in (
            _reset(response.headers.get("RateLimit")),
            retry_after(response),
            _float(response.headers.get("RateLimit-Reset")),
            _body_reset(response),
        ):
            if value is not None:
                return value
        return DEFAULT_WAIT

    def pace(self, response: httpx2.Response) -> float:
        header = response.headers.get("RateLimit") or ""
        if re.search(r"remaining=0\b", header):
            return _reset(header) or 0.0
        return 0.0


def _float(value: str | None) -> float | None:
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


def _body_reset(response: httpx2.Response) -> float | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return _float(str(error.get("rate_reset"))) if isinstance(error, dict) else None


def detail(response: httpx2.Response) -> str:
    """Close's error bodies: `{"error": ...}` or `{"errors": [...], "field-errors": {...}}`."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if not isinstance(body, dict):
        return str(body)[:300]
    parts: list[str] = []
    error = body.get("error")
    if isinstance(error, dict):
        parts.append(str(error.get("message", error)))
    elif error:
        parts.append(str(error))
    parts += [str(e) for e in body.get("errors") or []]
    parts += [f"{k}: {v}" for k, v in (body.get("field-errors") or {}).items()]
    return ("; ".join(parts) or str(body))[:300]


class CloseApi:
    def __init__(
        self,
        base_url: str,
        auth: Auth,
        *,
        transport: httpx2.BaseTransport | None = None,
        timeout: float = 20.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        extra: dict[str, Any] = {} if sleep is None else {"sleep": sleep}
        self.http = CrmHttp(
            HttpLoop(
                base_url,
                vendor="Close",
                auth=auth,
                transport=transport,
                timeout=timeout,
                rate=CloseRate(),
                detail=detail,
                **extra,
            )
        )
        self.offset = OffsetHasMore(start="_skip", limit="_limit", more=("has_more",))

    def pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Page]:
        yield from self.offset.pages(self.http, path, page_size=PAGE, params=params)

    def records(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        for page in self.pages(path, params):
            yield from page

    def windowed(
        self, path: str, field: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every record of a list ordered by `field` (`date_created`, `date_updated`), read in
        windows: past WINDOW_PAGES pages the next window starts at the last value seen
        (`<field>__gte`), skipping the records of that value it already gave."""
        bound: str | None = None
        given_at_bound: set[str] = set()
        while True:
            query = {**(params or {}), "_order_by": field}
            if bound is not None:
                query[f"{field}__gte"] = bound
            last: str | None = None
            at_last: set[str] = set()
            skip = 0
            moved = False
            while True:
                answer = self.http.get(path, {**query, "_skip": skip, "_limit": PAGE})
                data = answer.get("data") if isinstance(answer, dict) else None
                page = [r for r in data or [] if isinstance(r, dict)]
                for record in page:
                    value, record_id = str(record.get(field)), str(record.get("id"))
                    if value == bound and record_id in given_at_bound:
                        continue
                    yield record
                    if value != last:
                        last, at_last = value, set()
                    at_last.add(record_id)
                if not page or not (isinstance(answer, dict) and answer.get("has_more")):
                    return
                skip += len(page)
                if skip >= PAGE * WINDOW_PAGES and last is not None and last != bound:
                    given_at_bound, bound = at_last, last
                    moved = True
                    break
            if not moved:
                return

    def events(self, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """The event log since a time, newest first, by `_cursor`."""
        cursor: str | None = None
        while True:
            query = {**params, "_limit": EVENT_PAGE, **({"_cursor": cursor} if cursor else {})}
            answer = self.http.get("event/", query)
            data = answer.get("data") if isinstance(answer, dict) else None
            for event in data or []:
                if isinstance(event, dict):
                    yield event
            cursor = answer.get("cursor_next") if isinstance(answer, dict) else None
            if not cursor:
                return
