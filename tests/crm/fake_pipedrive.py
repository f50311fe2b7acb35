"""A loopback Pipedrive API, shaped from Pipedrive's published v2 and v1 OpenAPI files:
v2 lists paged by an opaque `cursor` with `additional_data.next_cursor` (at most 500 a page),
`updated_since` (inclusive) with `sort_by=update_time`, deleted deals only when asked by
`status`; v1 lists paged by `start`/`limit` with `additional_data.pagination`; RFC 3339 times
in v2 and `YYYY-MM-DD HH:MM:SS` (UTC) in v1; the `x-api-token` header (or an OAuth bearer);
every answer with `x-ratelimit-*` (an 80-request, 2-second window) and the daily token budget
`x-daily-ratelimit-token-*`, each call costing its `x-token-cost`; errors as
`{"success": false, "error": ..., "error_info": ...}`."""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.crm.loopback import Answer, LoopbackApi, Request

TOKEN = "pd-test-api-token"
V2_MAX = 500
V1_MAX = 500
DAILY_BUDGET = 150_000


def v2(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def v1(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _parse(value: str) -> datetime:
    text = value.replace("Z", "+00:00")
    if len(text) == 19 and text[10] == " ":
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    return datetime.fromisoformat(text)


def failure(status: int, message: str, info: str = "") -> Answer:
    return Answer(
        status,
        {
            "success": False,
            "error": message,
            "error_info": info,
            "data": None,
            "additional_data": None,
        },
    )


@dataclass
class FakePipedrive(LoopbackApi):
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 1, tzinfo=UTC))
    token: str = TOKEN

    def __post_init__(self) -> None:
        LoopbackApi.__init__(self)
        self.v2: dict[str, dict[str, dict[str, Any]]] = {
            k: {}
            for k in ("deals", "persons", "organizations", "activities", "stages", "pipelines")
        }
        self.users: list[dict[str, Any]] = []
        self.fields: dict[str, list[dict[str, Any]]] = {"dealFields": [], "personFields": []}
        self.notes: dict[str, dict[str, Any]] = {}
        self.mail: dict[str, list[dict[str, Any]]] = {}  # deal id -> mail list items
        self.flow: dict[str, list[dict[str, Any]]] = {}  # deal id -> deal flow items
        self.ids = itertools.count(700_001)
        self.spent = 0
        self.budget = DAILY_BUDGET
        self.served_count: dict[str, int] = {}
        self._lists: dict[Any, tuple[tuple[int, int], list[dict[str, Any]]]] = {}

    # ------------------------------------------------------------------ HTTP
    def cost_of(self, request: Request) -> int:
        """The spec's x-token-cost of the operation."""
        parts = request.path.strip("/").split("/")
        if parts[0] == "v1":
            if request.method == "GET":
                return 40 if parts[-1] == "flow" else 20
            return 10
        if request.method == "GET":
            if len(parts) > 3:
                return 1  # one record
            return 5 if parts[2] in ("stages", "pipelines") else 10
        return 5

    def decorate(self, request: Request, answer: Answer) -> Answer:
        if answer.status != 429:
            self.spent += self.cost_of(request)
        left = max(0, self.budget - self.spent)
        answer.headers.update(
            {
                "x-ratelimit-limit": "80",
                "x-ratelimit-remaining": "0" if answer.status == 429 else "79",
                "x-ratelimit-reset": "2",
                "x-daily-ratelimit-token-limit": str(DAILY_BUDGET),
                "x-daily-ratelimit-token-remaining": str(left),
            }
        )
        return answer

    def handle(self, request: Request) -> Answer:
        token = request.headers.get("x-api-token") or request.headers.get(
            "authorization", ""
        ).removeprefix("Bearer ")
        if token != self.token:
            return failure(401, "unauthorized access", "Please check developers.pipedrive.com")
        if self.spent >= self.budget:
            return failure(429, "Daily rate limit reached", "Token budget spent")
        parts = request.path.strip("/").split("/")
        if parts[:2] == ["api", "v2"]:
            return self._v2(request, parts[2:])
        if parts[0] == "v1":
            return self._v1(request, parts[1:])
        return failure(404, "Unknown method")

    # ------------------------------------------------------------------ v2
    def _v2(self, request: Request, rest: list[str]) -> Answer:
        resource = rest[0]
        table = self.v2.get(resource)
        if table is None:
            return failure(404, f"Unknown resource {resource}")
        if len(rest) == 1 and request.method == "GET":
            return self._v2_list(resource, table, request.query)
        if len(rest) == 1 and request.method == "POST":
            record = {
                "id": next(self.ids),
                **request.body,
                "add_time": v2(self.now),
                "update_time": v2(self.now),
                "is_deleted": False,
            }
            table[str(record["id"])] = record
            return Answer(
                201 if resource == "activities" else 200, {"success": True, "data": record}
            )
        if len(rest) == 2 and request.method == "PATCH":
            found = table.get(rest[1])
            if found is None:
                return failure(404, "Not found")
            body = dict(request.body)
            if "custom_fields" in body:
                found.setdefault("custom_fields", {}).update(body.pop("custom_fields"))
            found.update(body)
            found["update_time"] = v2(self.now)
            return Answer(200, {"success": True, "data": found})
        if len(rest) == 2 and request.method == "GET":
            got = table.get(rest[1])
            return Answer(200, {"success": True, "data": got}) if got else failure(404, "Not found")
        return failure(404, "Unknown method")

    def _v2_list(
        self, resource: str, table: dict[str, dict[str, Any]], query: dict[str, str]
    ) -> Answer:
        limit = int(query.get("limit", "100"))
        if limit > V2_MAX:
            return failure(400, "Validation failed: limit: Value must be at most 500")
        key = (resource, tuple(sorted((k, v) for k, v in query.items() if k != "cursor")))
        cached = self._lists.get(key)
        if cached is None or cached[0] != self._fingerprint(table):
            cached = (self._fingerprint(table), self._filtered(resource, table, query))
            self._lists[key] = cached
        rows = cached[1]
        start = int(base64.b64decode(query["cursor"]).decode()) if query.get("cursor") else 0
        page = rows[start : start + limit]
        self.served_count[resource] = self.served_count.get(resource, 0) + len(page)
        nxt = (
            base64.b64encode(str(start + limit).encode()).decode()
            if start + limit < len(rows)
            else None
        )
        return Answer(200, {"success": True, "data": page, "additional_data": {"next_cursor": nxt}})

    @staticmethod
    def _fingerprint(table: dict[str, dict[str, Any]]) -> tuple[int, int]:
        """What the filters and the order read, cheaply (pages of one listing share it)."""
        seen = tuple(
            (r.get("update_time"), r.get("is_deleted"), r.get("status"), r.get("done"))
            for r in table.values()
        )
        return len(table), hash(seen)

    def _filtered(
        self, resource: str, table: dict[str, dict[str, Any]], query: dict[str, str]
    ) -> list[dict[str, Any]]:
        rows = list(table.values())
        if resource == "deals":
            wanted = set((query.get("status") or "open,won,lost").split(","))
            rows = [
                r for r in rows if ("deleted" if r.get("is_deleted") else r.get("status")) in wanted
            ]
        else:
            rows = [r for r in rows if not r.get("is_deleted")]
        if query.get("ids"):
            ids = set(query["ids"].split(","))
            rows = [r for r in rows if str(r["id"]) in ids]
        for key in ("deal_id", "person_id"):
            if query.get(key):
                rows = [r for r in rows if str(r.get(key)) == query[key]]
        if query.get("done") in ("true", "false"):
            rows = [r for r in rows if bool(r.get("done")) == (query["done"] == "true")]
        if query.get("updated_since"):
            since = _parse(query["updated_since"])
            rows = [r for r in rows if _parse(r["update_time"]) >= since]
        if query.get("sort_by") == "update_time":
            rows.sort(
                key=lambda r: (_parse(r["update_time"]), int(r["id"])),
                reverse=query.get("sort_direction") == "desc",
            )
        else:
            rows.sort(key=lambda r: int(r["id"]))
        return rows

    # ------------------------------------------------------------------ v1
    def _v1_page(self, rows: list[dict[str, Any]], query: dict[str, str]) -> Answer:
        limit = int(query.get("limit", "100"))
        if limit > V1_MAX:
            return failure(400, "Limit must be at most 500")
        start = int(query.get("start", "0"))
        page = rows[start : start + limit]
        more = start + limit < len(rows)
        pagination: dict[str, Any] = {
            "start": start,
            "limit": limit,
            "more_items_in_collection": more,
        }
        if more:
            pagination["next_start"] = start + limit
        return Answer(
            200,
            {"success": True, "data": page or None, "additional_data": {"pagination": pagination}},
        )

    def _v1(self, request: Request, rest: list[str]) -> Answer:
        query = request.query
        if rest == ["users"] and request.method == "GET":
            return Answer(200, {"success": True, "data": self.users})
        if len(rest) == 1 and rest[0] in self.fields:
            return self._v1_page(self.fields[rest[0]], query)
        if rest == ["notes"] and request.method == "GET":
            rows = list(self.notes.values())
            if query.get("deal_id"):
                rows = [n for n in rows if str(n.get("deal_id")) == query["deal_id"]]
            if query.get("updated_since"):
                since = _parse(query["updated_since"])
                rows = [n for n in rows if _parse(n["update_time"]) >= since]
            rows.sort(key=lambda n: (_parse(n["update_time"]), n["id"]))
            return self._v1_page(rows, query)
        if rest == ["notes"] and request.method == "POST":
            body = request.body
            if not body.get("content") or not (body.get("deal_id") or body.get("person_id")):
                return failure(400, "Note content and a deal, person or organization are required")
            note = {
                "id": next(self.ids),
                "content": body["content"],
                "deal_id": body.get("deal_id"),
                "person_id": body.get("person_id"),
                "add_time": v1(self.now),
                "update_time": v1(self.now),
                "active_flag": True,
            }
            self.notes[str(note["id"])] = note
            return Answer(201, {"success": True, "data": note})
        if len(rest) == 3 and rest[0] == "deals" and rest[2] == "flow":
            items = self.flow.get(rest[1], [])
            wanted = set((query.get("items") or "").split(",")) - {""}
            if wanted:
                items = [i for i in items if i["object"] in wanted]
            return self._v1_page(items, query)
        if len(rest) == 3 and rest[0] == "deals" and rest[2] == "mailMessages":
            return self._v1_page(self.mail.get(rest[1], []), query)
        return failure(404, "Unknown method")
