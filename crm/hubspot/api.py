"""HubSpot's CRM API on the shared loop: the date-versioned paths, its rate-limit signals and
its error bodies."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx2

from crm._http import CrmHttp
from crm.paging import AfterCursor, Page
from httploop import NEVER, Auth, HttpLoop, retry_after

LIST_PAGE = 100  # list endpoints' maximum
SEARCH_PAGE = 200  # search's maximum
SEARCH_CEILING = 10_000  # search returns no result past this one; re-window before it
BATCH = 1000  # association batch reads take up to this many ids


class HubSpotRate:
    """429s carry `policyName` (SECONDLY, TEN_SECONDLY_ROLLING, DAILY) and often no
    Retry-After; list responses carry `X-HubSpot-RateLimit-*` (search responses do not)."""

    def limited(self, response: httpx2.Response, detail: str) -> bool:
        return response.status_code == 429

    def wait(self, response: httpx2.Response) -> float | None:
        given = retry_after(response)
        if given is not None:
            return given
        try:
            body = response.json()
        except ValueError:
            body = {}
        policy = str(body.get("policyName", "")) if isinstance(body, dict) else ""
        message = str(body.get("message", "")).lower() if isinstance(body, dict) else ""
        if policy == "DAILY" or "daily limit" in message:
            return NEVER
        if policy == "SECONDLY" or "secondly limit" in message:
            return 1.0
        if policy == "TEN_SECONDLY_ROLLING":
            return 10.0
        interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        return int(interval) / 1000 if interval and interval.isdigit() else None

    def pace(self, response: httpx2.Response) -> float:
        headers = response.headers
        if headers.get("X-HubSpot-RateLimit-Remaining") == "0":
            interval = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
            return int(interval) / 1000 if interval.isdigit() else 10.0
        if headers.get("X-HubSpot-RateLimit-Secondly-Remaining") == "0":
            return 1.0
        return 0.0


def detail(response: httpx2.Response) -> str:
    """`category: message` of HubSpot's error body (or of a 429's)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if not isinstance(body, dict):
        return str(body)[:300]
    parts = [str(body[k]) for k in ("category", "policyName", "message") if body.get(k)]
    return (": ".join(parts) or json.dumps(body))[:300]


class HubSpotApi:
    def __init__(
        self,
        base_url: str,
        auth: Auth,
        *,
        version: str = "2026-09",
        transport: httpx2.BaseTransport | None = None,
        timeout: float = 20.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        options: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self.version = version
        self.http = CrmHttp(
            HttpLoop(
                base_url,
                vendor="HubSpot",
                auth=auth,
                transport=transport,
                timeout=timeout,
                rate=HubSpotRate(),
                detail=detail,
                **options,
            )
        )

    def objects(self, object_type: str) -> str:
        return f"crm/objects/{self.version}/{object_type}"

    def owners(self) -> Iterator[dict[str, Any]]:
        path = f"crm/owners/{self.version}"
        for page, _ in AfterCursor().pages(self.http, path, params={"limit": LIST_PAGE}):
            yield from page

    def pipelines(self) -> list[dict[str, Any]]:
        answer = self.http.get(f"crm/pipelines/{self.version}/deals")
        return list(answer.get("results", [])) if isinstance(answer, dict) else []

    def list_objects(
        self,
        object_type: str,
        properties: list[str],
        associations: list[str],
        *,
        archived: bool = False,
    ) -> Iterator[Page]:
        params: dict[str, Any] = {"limit": LIST_PAGE, "properties": ",".join(properties)}
        if associations:
            params["associations"] = ",".join(associations)
        if archived:
            params["archived"] = "true"
        for page, _ in AfterCursor().pages(self.http, self.objects(object_type), params=params):
            yield page

    def search_since(
        self, object_type: str, modified: str, since_ms: int, properties: list[str]
    ) -> Iterator[Page]:
        """Everything modified at or after `since_ms`, oldest first, re-windowed on the last
        time seen before the search's 10,000-result ceiling."""
        path = f"{self.objects(object_type)}/search"
        window = since_ms
        while True:
            body = {
                "filterGroups": [
                    {"filters": [{"propertyName": modified, "operator": "GTE", "value": window}]}
                ],
                "sorts": [{"propertyName": modified, "direction": "ASCENDING"}],
                "properties": properties,
                "limit": SEARCH_PAGE,
            }
            seen = 0
            last = window
            pages = AfterCursor().pages(
                self.http, path, body=body, max_pages=SEARCH_CEILING // SEARCH_PAGE - 1
            )
            exhausted = True
            for page, answer in pages:
                yield page
                seen += len(page)
                if page:
                    stamp = _ms((page[-1].get("properties") or {}).get(modified))
                    last = stamp if stamp is not None else last
                total = answer.get("total") if isinstance(answer, dict) else None
                exhausted = not (isinstance(total, int) and seen < total)
            if exhausted or last <= window:
                return
            window = last  # the watermark drops what the new window repeats

    def associations(self, from_type: str, to_type: str, ids: list[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        path = f"crm/associations/{self.version}/{from_type}/{to_type}/batch/read"
        for start in range(0, len(ids), BATCH):
            inputs = [{"id": i} for i in ids[start : start + BATCH]]
            answer = self.http.post(path, {"inputs": inputs}, idempotent=True)
            for result in answer.get("results", []) if isinstance(answer, dict) else []:
                source = str((result.get("from") or {}).get("id"))
                found[source] = [str(t.get("toObjectId")) for t in result.get("to", [])]
        return found


def _ms(value: Any) -> int | None:
    from crm.source import parse_time

    try:
        moment = parse_time(value)
    except ValueError:
        return None
    return None if moment is None else int(moment.timestamp() * 1000)
