"""A loopback HubSpot CRM API (date-versioned paths, `2026-09`), shaped from HubSpot's published
API: objects with `properties` (strings), list paging by `paging.next.after` (at most 100 a
page), search with filter groups and sorts (at most 200 a page, no result past 10,000, no
rate-limit headers), v4-style association batch reads, pipelines with stage metadata, owners,
engagements created with associations, communication preferences, and errors in HubSpot's
body shape (`status`, `message`, `correlationId`, `category`; a 429's `policyName`)."""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.crm.loopback import Answer, LoopbackApi, Refused, Request

VERSION = "2026-09"
TOKEN = "pat-na1-test-token"
LIST_MAX = 100
SEARCH_MAX = 200
CEILING = 10_000
MODIFIED = {"contacts": "lastmodifieddate"}


def iso(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def error(status: int, message: str, category: str, **extra: Any) -> Answer:
    return Answer(
        status,
        {
            "status": "error",
            "message": message,
            "correlationId": str(uuid.uuid4()),
            "category": category,
            **extra,
        },
    )


def rate_limited(policy: str = "TEN_SECONDLY_ROLLING") -> Answer:
    messages = {
        "DAILY": "You have reached your daily limit.",
        "SECONDLY": "You have reached your secondly limit.",
        "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    }
    return Answer(
        429,
        {
            "status": "error",
            "message": messages[policy],
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": policy,
            "requestId": str(uuid.uuid4()),
        },
    )


@dataclass(slots=True)
class Record:
    id: str
    properties: dict[str, Any]
    created: datetime
    updated: datetime
    archived_at: datetime | None = None


@dataclass
class FakeHubSpot(LoopbackApi):
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 1, tzinfo=UTC))
    token: str = TOKEN

    def __post_init__(self) -> None:
        LoopbackApi.__init__(self)
        self.objects: dict[str, dict[str, Record]] = {}
        self.links: dict[tuple[str, str, str], list[str]] = {}  # (from type, id, to type)
        self.owners: list[dict[str, Any]] = []
        self.pipelines: list[dict[str, Any]] = []
        self.unsubscribed: list[str] = []
        self.ids = itertools.count(900_000_001)
        self.max_remaining = 110
        self.served_count: dict[str, int] = {}  # records served by list and search, per type
        self._version = 0  # bumped by every change; list pages reuse the rows of a version
        self._rows: dict[tuple[str, bool], tuple[int, list[Record]]] = {}

    # ------------------------------------------------------------------ account set-up
    def put(
        self,
        object_type: str,
        record_id: str,
        properties: dict[str, Any],
        *,
        at: datetime | None = None,
        links: dict[str, list[str]] | None = None,
    ) -> Record:
        at = at or self.now
        self._version += 1
        table = self.objects.setdefault(object_type, {})
        record = table.get(record_id)
        props = {k: (None if v is None else str(v)) for k, v in properties.items()}
        if record is None:
            record = Record(record_id, {"createdate": iso(at), "hs_object_id": record_id}, at, at)
            table[record_id] = record
        record.properties.update(props)
        record.updated = at
        record.properties[MODIFIED.get(object_type, "hs_lastmodifieddate")] = iso(at)
        for to_type, ids in (links or {}).items():
            self.link(object_type, record_id, to_type, ids)
        return record

    def link(self, from_type: str, from_id: str, to_type: str, ids: list[str]) -> None:
        for to_id in ids:
            forward = self.links.setdefault((from_type, from_id, to_type), [])
            if to_id not in forward:
                forward.append(to_id)
            back = self.links.setdefault((to_type, to_id, from_type), [])
            if from_id not in back:
                back.append(from_id)

    def archive(self, object_type: str, record_id: str, at: datetime) -> None:
        self._version += 1
        self.objects[object_type][record_id].archived_at = at

    def rows(self, object_type: str, archived: bool) -> list[Record]:
        table = self.objects.get(object_type, {})
        version = self._version * 1_000_003 + len(table)  # records popped by a test count too
        cached = self._rows.get((object_type, archived))
        if cached is None or cached[0] != version:
            rows = [r for r in table.values() if (r.archived_at is not None) == archived]
            cached = (version, rows)
            self._rows[(object_type, archived)] = cached
        return cached[1]

    # ------------------------------------------------------------------ HTTP
    def decorate(self, request: Request, answer: Answer) -> Answer:
        if not request.path.endswith("/search") and answer.status != 429:
            remaining = max(0, self.max_remaining - 1)
            answer.headers.update(
                {
                    "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                    "X-HubSpot-RateLimit-Max": "110",
                    "X-HubSpot-RateLimit-Remaining": str(remaining),
                    "X-HubSpot-RateLimit-Secondly": "11",
                    "X-HubSpot-RateLimit-Secondly-Remaining": "10",
                }
            )
        answer.headers["X-HubSpot-Correlation-Id"] = str(uuid.uuid4())
        return answer

    def handle(self, request: Request) -> Answer:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return error(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "INVALID_AUTHENTICATION",
            )
        parts = request.path.strip("/").split("/")
        method = request.method
        if parts[:3] == ["crm", "owners", VERSION] and method == "GET":
            return self._paged(request, self.owners, LIST_MAX)
        if parts[:4] == ["crm", "pipelines", VERSION, "deals"] and method == "GET":
            return Answer(200, {"results": self.pipelines})
        if (
            parts[:2] == ["crm", "associations"]
            and parts[2] == VERSION
            and parts[-2:]
            == [
                "batch",
                "read",
            ]
        ):
            return self._associations(parts[3], parts[4], request.body)
        if parts[:3] == ["crm", "objects", VERSION]:
            return self._objects(request, parts[3:])
        if parts[:3] == ["communication-preferences", VERSION, "statuses"] and parts[-1] == (
            "unsubscribe-all"
        ):
            email = parts[3]
            if email not in self.unsubscribed:
                self.unsubscribed.append(email)
            for record in self.objects.get("contacts", {}).values():
                if record.properties.get("email") == email:
                    self.put("contacts", record.id, {"hs_email_optout": "true"})
            return Answer(200, {"recipient": email, "results": []})
        return error(404, f"no route {method} {request.path}", "OBJECT_NOT_FOUND")

    def _paged(
        self,
        request: Request,
        rows: list[Any],
        cap: int,
        shape: Callable[[Any], dict[str, Any]] = lambda r: r,
    ) -> Answer:
        limit = int(request.query.get("limit", "10"))
        if limit > cap:
            return error(400, f"limit must be at most {cap}", "VALIDATION_ERROR")
        start = int(request.query.get("after") or 0)
        page = [shape(r) for r in rows[start : start + limit]]
        body: dict[str, Any] = {"results": page}
        if start + limit < len(rows):
            body["paging"] = {"next": {"after": str(start + limit), "link": "?after=..."}}
        return Answer(200, body)

    def _shape(
        self, object_type: str, record: Record, properties: list[str], associations: list[str]
    ) -> dict[str, Any]:
        shaped: dict[str, Any] = {
            "id": record.id,
            "properties": {
                "createdate": record.properties.get("createdate"),
                "hs_object_id": record.id,
                MODIFIED.get(object_type, "hs_lastmodifieddate"): record.properties.get(
                    MODIFIED.get(object_type, "hs_lastmodifieddate")
                ),
                **{p: record.properties.get(p) for p in properties},
            },
            "createdAt": iso(record.created),
            "updatedAt": iso(record.updated),
            "archived": record.archived_at is not None,
        }
        if record.archived_at is not None:
            shaped["archivedAt"] = iso(record.archived_at)
        links = {}
        for to_type in associations:
            ids = self.links.get((object_type, record.id, to_type), [])
            if ids:
                singular = object_type.rstrip("s")
                links[to_type] = {
                    "results": [
                        {"id": i, "type": f"{singular}_to_{to_type.rstrip('s')}"} for i in ids
                    ]
                }
        if links:
            shaped["associations"] = links
        return shaped

    def _objects(self, request: Request, rest: list[str]) -> Answer:
        object_type = rest[0]
        table = self.objects.setdefault(object_type, {})
        method = request.method
        if len(rest) == 1 and method == "GET":
            archived = request.query.get("archived") == "true"
            rows = self.rows(object_type, archived)
            props = [p for p in request.query.get("properties", "").split(",") if p]
            assoc = [a for a in request.query.get("associations", "").split(",") if a]
            answer = self._paged(
                request, rows, LIST_MAX, lambda r: self._shape(object_type, r, props, assoc)
            )
            if not archived and answer.status == 200:
                self.served_count[object_type] = self.served_count.get(object_type, 0) + len(
                    answer.body["results"]
                )
            return answer
        if len(rest) == 1 and method == "POST":
            return self._create(object_type, request.body)
        if len(rest) == 2 and rest[1] == "search" and method == "POST":
            return self._search(object_type, request.body)
        if len(rest) == 3 and rest[1:] == ["batch", "read"] and method == "POST":
            props = request.body.get("properties", [])
            results = [
                self._shape(object_type, table[i["id"]], props, [])
                for i in request.body["inputs"]
                if i["id"] in table
            ]
            return Answer(200, {"status": "COMPLETE", "results": results})
        if len(rest) == 2:
            record = table.get(rest[1])
            if record is None or record.archived_at is not None:
                return error(404, "Object not found", "OBJECT_NOT_FOUND")
            if method == "GET":
                props = [p for p in request.query.get("properties", "").split(",") if p]
                return Answer(200, self._shape(object_type, record, props or ["email"], []))
            if method == "PATCH":
                self.put(object_type, record.id, request.body.get("properties", {}))
                return Answer(200, self._shape(object_type, record, list(record.properties), []))
        return error(404, f"no route {method} {request.path}", "OBJECT_NOT_FOUND")

    def _create(self, object_type: str, body: dict[str, Any]) -> Answer:
        record = self.put(object_type, str(next(self.ids)), body.get("properties", {}))
        for association in body.get("associations", []):
            to_id = str(association["to"]["id"])
            type_id = association["types"][0]["associationTypeId"]
            to_type = {
                210: "deals",
                214: "deals",
                216: "deals",
                198: "contacts",
                202: "contacts",
                204: "contacts",
            }.get(type_id)
            if to_type is None:
                return error(400, f"unknown association type {type_id}", "VALIDATION_ERROR")
            self.link(object_type, record.id, to_type, [to_id])
        return Answer(201, self._shape(object_type, record, list(record.properties), []))

    def _search(self, object_type: str, body: dict[str, Any]) -> Answer:
        limit = int(body.get("limit", 10))
        if limit > SEARCH_MAX:
            return error(400, f"limit must be at most {SEARCH_MAX}", "VALIDATION_ERROR")
        after = int(body.get("after") or 0)
        if after + limit > CEILING:
            return error(400, "Search results are limited to 10,000", "VALIDATION_ERROR")
        rows = [r for r in self.objects.get(object_type, {}).values() if r.archived_at is None]
        groups = body.get("filterGroups") or []
        if groups:
            rows = [
                r for r in rows if any(all(_passes(r, f) for f in g["filters"]) for g in groups)
            ]
        for sort in reversed(body.get("sorts") or []):
            name: str = sort["propertyName"]

            def key(r: Record, n: str = name) -> tuple[float, str]:
                return (_number(r.properties.get(n)), r.id)

            rows.sort(key=key, reverse=sort.get("direction") == "DESCENDING")
        props = body.get("properties") or []
        page = rows[after : after + limit]
        self.served_count[object_type] = self.served_count.get(object_type, 0) + len(page)
        answer: dict[str, Any] = {
            "total": len(rows),
            "results": [self._shape(object_type, r, props, []) for r in page],
        }
        if after + limit < len(rows):
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return Answer(200, answer)

    def _associations(self, from_type: str, to_type: str, body: dict[str, Any]) -> Answer:
        results = []
        for item in body["inputs"]:
            ids = self.links.get((from_type, str(item["id"]), to_type), [])
            if ids:
                results.append(
                    {
                        "from": {"id": str(item["id"])},
                        "to": [
                            {
                                "toObjectId": int(i),
                                "associationTypes": [
                                    {"category": "HUBSPOT_DEFINED", "typeId": 0, "label": None}
                                ],
                            }
                            for i in ids
                        ],
                    }
                )
        return Answer(200, {"status": "COMPLETE", "results": results})


def _number(value: Any) -> float:
    if value is None:
        return float("-inf")
    try:
        return float(value)
    except ValueError:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1000


def _passes(record: Record, rule: dict[str, Any]) -> bool:
    value = record.properties.get(rule["propertyName"])
    operator = rule["operator"]
    if operator == "CONTAINS_TOKEN":
        # Text properties are searched by token: words split at anything not alphanumeric.
        tokens = re.split(r"[^0-9a-z]+", str(value or "").lower())
        return str(rule["value"]).lower() in tokens
    if value is None:
        return False
    if operator == "EQ":
        return str(value) == str(rule["value"])
    if operator in ("GTE", "GT", "LTE", "LT"):
        left, right = _number(value), _number(rule["value"])
        return {
            "GTE": left >= right,
            "GT": left > right,
            "LTE": left <= right,
            "LT": left < right,
        }[operator]
    raise Refused(error(400, f"operator {operator} not supported here", "VALIDATION_ERROR"))
