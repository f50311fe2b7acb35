"""The CRM side of the shared HTTP loop: failures mapped onto the CRM error tree, and the
count of requests (and of a vendor's token cost) a sync spent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx2

from crm.base import CrmAuthError, CrmRateLimited, CrmRequestError, CrmUnavailable
from httploop import HttpFailure, HttpLoop, Kind


class CrmHttp:
    """One vendor's client: `get`/`post`/`patch`/`put`/`delete` answer parsed JSON or raise a
    `CrmError`. GET, PUT and DELETE are retried; POST and PATCH only when the caller says the
    write is idempotent (it carries its own idempotency key or is a search)."""

    def __init__(self, loop: HttpLoop) -> None:
        self.loop = loop
        self.cost = 0  # a vendor's own request cost (Pipedrive tokens), when it counts one

    @property
    def vendor(self) -> str:
        return self.loop.vendor

    @property
    def requests(self) -> int:
        return self.loop.requests

    def close(self) -> None:
        self.loop.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        expect: tuple[int, ...] = (200, 201),
        cost: int = 0,
    ) -> Any:
        self.cost += cost
        try:
            response = self.loop.request(
                method, path, params=params, json=json, idempotent=idempotent, expect=expect
            )
        except HttpFailure as failure:
            raise crm_error(failure) from failure
        return _json(response)

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, cost: int = 0) -> Any:
        return self.call("GET", path, params=params, cost=cost)

    def post(self, path: str, json: Any, *, idempotent: bool = False, cost: int = 0) -> Any:
        return self.call("POST", path, json=json, idempotent=idempotent, cost=cost)

    def patch(self, path: str, json: Any, *, cost: int = 0) -> Any:
        # Setting fields to given values is safe to repeat.
        return self.call("PATCH", path, json=json, idempotent=True, cost=cost)

    def put(self, path: str, json: Any = None, *, cost: int = 0) -> Any:
        return self.call("PUT", path, json=json, expect=(200, 201, 204), cost=cost)


def crm_error(failure: HttpFailure) -> Exception:
    if failure.kind is Kind.RATE_LIMITED:
        return CrmRateLimited(str(failure), failure.retry_after)
    if failure.transient:
        return CrmUnavailable(str(failure))
    if failure.kind is Kind.AUTH:
        return CrmAuthError(str(failure))
    return CrmRequestError(str(failure), failure.status)


def _json(response: httpx2.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError as error:
        raise CrmUnavailable(
            f"answered {response.status_code} with a body that is not JSON"
        ) from error
