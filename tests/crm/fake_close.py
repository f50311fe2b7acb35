"""A loopback Close organisation: the API v1 endpoints followup calls, as Close serves them.

Written from Close's published API facts (no recorded response is copied):
- Base path `/api/v1/`; auth by HTTP Basic with the API key as user name and an empty password,
  or an OAuth bearer token; a bad key is 401 `{"error": "Unauthorized"}`-style JSON.
- Lists page by `_skip`/`_limit` with `has_more` (`{"data": [...], "has_more": bool}`), except
  `/event/`, which pages by `_cursor` (newest first, `cursor_next`, 50 at most a page).
- `/opportunity/` filters by `date_updated__gt` and orders by `_order_by`; `/activity/<type>/`
  by `date_created__gt`; `/activity/status_change/opportunity/` by `opportunity_id`.
- Money in cents (`value`), `status_type` active/won/lost with `status_id`/`status_label`.
- Writes: `POST /activity/email/`, `POST /activity/note/`, `POST /task/` (`_type: "lead"`),
  `POST /unsubscribe/email/` `{email}`, `PUT /opportunity/{id}/`.
- Every response carries `RateLimit: limit=<n>, remaining=<n>, reset=<s>`; past the window's
  budget a 429 with `{"error": {"rate_reset": <s>, "message": ...}}`.
"""

from __future__ import annotations

import base64
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.crm.loopback import Answer, LoopbackApi, Refused, Request

PREFIX = "/api/v1/"
LISTS = {
    "user": "users",
    "lead": "leads",
    "contact": "contacts",
    "opportunity": "opportunities",
    "status/opportunity": "statuses",
    "task": "tasks",
}
ACTIVITY_TYPES = ("email", "call", "meeting", "note")


def close_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass
class CloseOrg:
    api_keys: set[str] = field(default_factory=lambda: {"api_key_test"})
    oauth_tokens: set[str] = field(default_factory=set)
    users: list[dict[str, Any]] = field(default_factory=list)
    leads: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    opportunities: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    activities: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {kind: [] for kind in ACTIVITY_TYPES}
    )
    status_changes: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    unsubscribed: list[str] = field(default_factory=list)
    # Rate limit: `limit` requests per `window` seconds.
    limit: int = 10_000
    window: float = 1.0
    page_cap: int = 100  # Close caps `_limit`; the event log at 50
    max_skip: int = 10_000  # and how deep `_skip` may go (a 400 past it)
    served_opportunities: int = 0
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):020d}"

    def log_event(self, object_type: str, obj: dict[str, Any], action: str = "updated") -> None:
        """Record a change in the event log, as Close does for every create, update and
        delete."""
        now = close_time(self.clock())
        self.events.append(
            {
                "id": self.new_id("ev"),
                "object_type": object_type,
                "object_id": obj["id"],
                "lead_id": obj.get("lead_id") if object_type != "lead" else obj["id"],
                "action": action,
                "date_created": now,
                "date_updated": now,
                "data": obj if action != "deleted" else {},
                "previous_data": {},
            }
        )

    def collection(self, name: str) -> list[dict[str, Any]]:
        return {
            "user": self.users,
            "lead": self.leads,
            "contact": self.contacts,
            "opportunity": self.opportunities,
            "status/opportunity": self.statuses,
            "task": self.tasks,
        }[name]


class CloseApi(LoopbackApi):
    def __init__(self, org: CloseOrg) -> None:
        super().__init__()
        self.org = org
        self._window_start = 0.0
        self._window_used = 0
        self._remaining = org.limit
        self._reset = 0.0

    def decorate(self, request: Request, answer: Answer) -> Answer:
        header = (
            f"limit={self.org.limit}, remaining={max(self._remaining, 0)}, reset={self._reset:.3f}"
        )
        # A staged fault's own RateLimit header wins.
        return Answer(answer.status, answer.body, {"RateLimit": header, **answer.headers})

    def _authorized(self, header: str) -> bool:
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return False
            return user in self.org.api_keys and password == ""
        if header.startswith("Bearer "):
            return header[7:] in self.org.oauth_tokens
        return False

    def _count(self) -> None:
        org = self.org
        now = time.monotonic()
        if now - self._window_start >= org.window:
            self._window_start, self._window_used = now, 0
        self._window_used += 1
        self._remaining = org.limit - self._window_used
        self._reset = max(0.0, org.window - (now - self._window_start))

    def handle(self, request: Request) -> Answer:
        self._count()
        if not self._authorized(request.headers.get("authorization", "")):
            return Answer(401, {"error": "Unauthorized"})
        if self._remaining < 0:
            return Answer(
                429,
                {
                    "error": {
                        "rate_reset": round(self._reset, 3),
                        "message": "API call count exceeded for this period",
                        "rate_limit_type": "key",
                    }
                },
            )
        if not request.path.startswith(PREFIX):
            return Answer(404, {"error": "Not found"})
        path = request.path[len(PREFIX) :].strip("/")
        status, payload = self._route(request.method, path, request.query, request.body or {})
        return Answer(status, payload)

    def _route(
        self, method: str, path: str, query: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, Any]:
        org = self.org
        if method == "GET" and path == "me":
            return 200, org.users[0] if org.users else {}
        if method == "GET" and path == "event":
            return 200, self._events(query)
        if method == "GET" and path == "activity/status_change/opportunity":
            return 200, self._list(org.status_changes, query)
        if path.startswith("activity/"):
            kind = path.split("/")[1]
            if kind not in ACTIVITY_TYPES:
                return 404, {"error": "Not found"}
            if method == "GET":
                return 200, self._list(org.activities[kind], query)
            if method == "POST":
                if "lead_id" not in body:
                    return 400, {
                        "errors": [],
                        "field-errors": {"lead_id": "This field is required."},
                    }
                if kind == "email" and "status" not in body:
                    return 400, {
                        "errors": [],
                        "field-errors": {"status": "This field is required."},
                    }
                now = close_time(org.clock())
                row = {
                    **body,
                    "id": org.new_id("acti"),
                    "_type": kind.capitalize(),
                    "date_created": now,
                    "date_updated": now,
                }
                org.activities[kind].append(row)
                org.log_event(f"activity.{kind}", row, "created")
                return 200, row
        if method == "POST" and path == "unsubscribe/email":
            email = str(body.get("email", "")).lower()
            if not email:
                return 400, {"errors": [], "field-errors": {"email": "This field is required."}}
            if email not in org.unsubscribed:
                org.unsubscribed.append(email)
                for contact in org.contacts:
                    entries = [e for e in contact.get("emails") or [] if e.get("email") == email]
                    for entry in entries:
                        entry["is_unsubscribed"] = True
                    if entries:
                        contact["date_updated"] = close_time(org.clock())
                        org.log_event("contact", contact)
            return 200, {"email": email}
        if method == "POST" and path == "task":
            if body.get("_type", "lead") not in {"lead", "outgoing_call"} or "lead_id" not in body:
                return 400, {"errors": ["Invalid task"], "field-errors": {}}
            now = close_time(org.clock())
            row = {
                **body,
                "id": org.new_id("task"),
                "is_complete": False,
                "date_created": now,
                "date_updated": now,
            }
            org.tasks.append(row)
            org.log_event("task.lead", row, "created")
            return 200, row
        base, _, object_id = path.rpartition("/")
        if method == "PUT" and base == "opportunity":
            for row in org.opportunities:
                if row["id"] == object_id:
                    if "status_id" in body:
                        status = next(
                            (s for s in org.statuses if s["id"] == body["status_id"]), None
                        )
                        if status is None:
                            return 400, {
                                "errors": [],
                                "field-errors": {"status_id": "Invalid status"},
                            }
                        row.update(status_label=status["label"], status_type=status["type"])
                    row.update(body, date_updated=close_time(org.clock()))
                    org.log_event("opportunity", row)
                    return 200, row
            return 404, {"error": "Not found"}
        if method == "GET" and path in LISTS:
            page = self._list(org.collection(path), query)
            if path == "opportunity":
                org.served_opportunities += len(page["data"])
            return 200, page
        if method == "GET" and base in LISTS:
            for row in org.collection(base):
                if row["id"] == object_id:
                    return 200, row
            return 404, {"error": "Not found"}
        return 404, {"error": "Not found"}

    def _list(self, rows: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
        """A list endpoint's filters: `date_created__gt`, `date_updated__gt`, equality on
        `lead_id`/`opportunity_id`, `_order_by` (a leading `-` for newest first), `_fields`."""
        for field_name in ("date_created", "date_updated"):
            if f"{field_name}__gt" in query:
                bound = datetime.fromisoformat(query[f"{field_name}__gt"])
                rows = [r for r in rows if datetime.fromisoformat(r[field_name]) > bound]
            if f"{field_name}__gte" in query:
                bound = datetime.fromisoformat(query[f"{field_name}__gte"])
                rows = [r for r in rows if datetime.fromisoformat(r[field_name]) >= bound]
        for key in ("lead_id", "opportunity_id"):
            if key in query:
                rows = [r for r in rows if r.get(key) == query[key]]
        order = query.get("_order_by", "")
        if order:
            rows = sorted(rows, key=lambda r: str(r.get(order.lstrip("-"))))
            if order.startswith("-"):
                rows.reverse()
        page = self._offset_page(rows, query)
        if "_fields" in query:
            wanted = query["_fields"].split(",")
            page["data"] = [{k: r.get(k) for k in wanted} for r in page["data"]]
        return page

    def _offset_page(self, rows: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
        skip = int(query.get("_skip", 0))
        if skip > self.org.max_skip:
            raise Refused(Answer(400, {"error": f"_skip is limited to {self.org.max_skip}"}))
        limit = min(int(query.get("_limit", 100)), self.org.page_cap)
        return {"data": rows[skip : skip + limit], "has_more": skip + limit < len(rows)}

    def _events(self, query: dict[str, str]) -> dict[str, Any]:
        rows = list(reversed(self.org.events))  # newest first
        if "date_updated__gte" in query:
            bound = datetime.fromisoformat(query["date_updated__gte"])
            rows = [r for r in rows if datetime.fromisoformat(r["date_updated"]) >= bound]
        for key in ("object_type", "action", "object_id"):
            if key in query:
                rows = [r for r in rows if r[key] == query[key]]
        start = int(query["_cursor"]) if query.get("_cursor") else 0
        limit = min(int(query.get("_limit", 50)), 50)
        page = rows[start : start + limit]
        more = start + limit < len(rows)
        return {"data": page, "cursor_next": str(start + limit) if more else None}
