"""Pipedrive's API on the shared loop: v2 (cursor paging, `updated_since`) for deals, persons,
organizations, activities, stages and pipelines; v1 (offset paging) only where v2 has nothing
yet (users, notes, mail messages, fields). Each call's token cost (the spec's `x-token-cost`)
is counted against the daily budget the `x-daily-ratelimit-token-*` headers report."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx2

from crm._http import CrmHttp
from crm.base import CrmRateLimited
from crm.paging import NextCursor, OffsetHasMore, Page
from httploop import NEVER, Auth, HttpLoop, retry_after

V2_PAGE = 500  # v2 lists' maximum
V1_PAGE = 500
COST = {
    "list": 10,
    "get": 1,
    "stages": 5,
    "v1_list": 20,
    "flow": 40,
    "write": 5,
    "v1_write": 10,
}


class PipedriveRate:
    """A 2-second burst window (`x-ratelimit-remaining`, `x-ratelimit-reset` in seconds) and
    a daily token budget; a 429 once the budget is spent waits for the next day."""

    def limited(self, response: httpx2.Response, detail: str) -> bool:
        return response.status_code == 429

    def wait(self, response: httpx2.Response) -> float | None:
        if response.headers.get("x-daily-ratelimit-token-remaining") == "0":
            return NEVER
        given = retry_after(response)
        if given is not None:
            return given
        reset = response.headers.get("x-ratelimit-reset")
        try:
            return float(reset) if reset is not None else 2.0
        except ValueError:
            return 2.0

    def pace(self, response: httpx2.Response) -> float:
        if response.headers.get("x-ratelimit-remaining") == "0":
            try:
                return float(response.headers.get("x-ratelimit-reset", "2"))
            except ValueError:
                return 2.0
        return 0.0


def detail(response: httpx2.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict) and body.get("error"):
        info = body.get("error_info")
        return f"{body['error']}" + (f" ({info})" if info else "")[:300]
    return str(body)[:300]


def v1_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def v2_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PipedriveApi:
    def __init__(
        self,
        base_url: str,
        auth: Auth,
        *,
        transport: httpx2.BaseTransport | None = None,
        timeout: float = 20.0,
        sleep: Callable[[float], None] | None = None,
        token_reserve: int = 10_000,
    ) -> None:
        options: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self.token_reserve = token_reserve
        self.http = CrmHttp(
            HttpLoop(
                base_url,
                vendor="Pipedrive",
                auth=auth,
                transport=transport,
                timeout=timeout,
                rate=PipedriveRate(),
                detail=detail,
                **options,
            )
        )

    def budget_left(self) -> int | None:
        """Daily tokens left, as the latest response said (None before any)."""
        value = self.http.loop.last_headers.get("x-daily-ratelimit-token-remaining")
        return int(value) if value is not None and value.isdigit() else None

    def afford(self, cost: int) -> bool:
        left = self.budget_left()
        return left is None or left - cost >= self.token_reserve

    def require(self, cost: int) -> None:
        if not self.afford(cost):
            raise CrmRateLimited(
                f"Pipedrive: the daily token budget is nearly spent ({self.budget_left()} left)"
            )

    def v2_list(self, resource: str, params: dict[str, Any] | None = None) -> Iterator[Page]:
        query = {"limit": V2_PAGE, **(params or {})}
        cost = COST["stages"] if resource in ("stages", "pipelines") else COST["list"]
        yield from NextCursor().pages(self.http, f"api/v2/{resource}", params=query, cost=cost)

    def v2_since(
        self, resource: str, since: datetime | None, params: dict[str, Any] | None = None
    ) -> Iterator[Page]:
        query = {"sort_by": "update_time", "sort_direction": "asc", **(params or {})}
        if since is not None:
            query["updated_since"] = v2_time(since)
        return self.v2_list(resource, query)

    def v1_list(
        self, path: str, params: dict[str, Any] | None = None, *, cost: int = COST["v1_list"]
    ) -> Iterator[Page]:
        yield from OffsetHasMore().pages(
            self.http, f"v1/{path}", page_size=V1_PAGE, params=params, cost=cost
        )

    def v1_get(self, path: str) -> Any:
        answer = self.http.get(f"v1/{path}", cost=COST["v1_list"])
        return answer.get("data") if isinstance(answer, dict) else None
