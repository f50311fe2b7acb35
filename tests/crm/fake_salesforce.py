"""A loopback Salesforce org: the REST endpoints followup calls, over TLS, as Salesforce serves
them.

Written from Salesforce's published REST API facts (no recorded response is copied):
- OAuth 2.0 token endpoint `/services/oauth2/token` for the JWT bearer, refresh-token and
  password grants, answering `{access_token, instance_url, id, token_type, issued_at}` or
  `{error, error_description}` with 400.
- SOQL at `/services/data/vNN.N/query?q=` and `queryAll` (which also returns deleted rows), in
  the envelope `{totalSize, done, nextRecordsUrl?, records: [{attributes: {type, url}, ...}]}`;
  the next page at `/services/data/vNN.N/query/<locator>-<offset>`; pages of `batch_size`
  records (2,000 at most, as Salesforce pages).
- `/sobjects/{type}/deleted/?start=&end=` with `{deletedRecords: [{id, deletedDate}],
  earliestDateAvailable, latestDateCovered}`.
- Create (`POST /sobjects/{type}`, 201 `{id, success, errors}`) and update (`PATCH
  /sobjects/{type}/{id}`, 204 with no body).
- Every response carries `Sforce-Limit-Info: api-usage=<used>/<max>`; when the allocation is
  spent, 403 `[{"message": "TotalRequests Limit exceeded.", "errorCode":
  "REQUEST_LIMIT_EXCEEDED"}]`. An unknown or expired session is 401 `INVALID_SESSION_ID`.
  Errors are lists of `{message, errorCode, fields?}`.

The SOQL it understands is the subset followup writes: `SELECT f, Rel.f FROM T [WHERE c [AND
c]...] [ORDER BY f [ASC|DESC]] [LIMIT n]`, conditions `f op literal` with `= != > >= < <=`, and
`f IN ('a', 'b')`; literals are quoted strings, numbers, true/false/null and ISO date-times.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.crm.loopback import Answer, LoopbackApi, Request

API_VERSION = "66.0"
SOQL = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<type>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+ORDER\s+BY\s+(?P<order>\w+)(?:\s+(?P<dir>ASC|DESC))?)?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
CONDITION = re.compile(
    r"^\s*(?P<field>[\w.]+)\s*(?:(?P<op>!=|>=|<=|=|>|<)\s*(?P<value>.+?)"
    r"|\s+IN\s*\((?P<values>.*)\))\s*$",
    re.IGNORECASE | re.DOTALL,
)
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})$")


def sf_time(moment: datetime) -> str:
    """Salesforce writes date-times as `2026-11-20T10:00:00.000+0000`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def parse_sf_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class SoqlError(ValueError):
    pass


@dataclass
class SalesforceOrg:
    """The org's data and knobs. Records are dicts keyed by field API name, with `Id`; each
    type's records in `records[type]`. `SystemModstamp` and `IsDeleted` are kept by the org."""

    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    deleted: dict[str, dict[str, datetime]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=lambda: {"00Dxx!session"})
    refresh_tokens: set[str] = field(default_factory=lambda: {"5Aep-refresh"})
    users: dict[str, str] = field(default_factory=lambda: {"maya@northwind.example": "pw+tok"})
    jwt_subjects: set[str] = field(default_factory=lambda: {"maya@northwind.example"})
    jwt_public_key: str | None = None  # PEM of the connected app's certificate key
    consumer_key: str = "3MVG9-consumer"
    api_max: int = 15000
    api_used: int = 0
    batch_size: int = 2000
    served: dict[str, int] = field(default_factory=dict)  # records served, per type
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    # --- data helpers for tests ------------------------------------------------------------

    def put(self, sobject: str, record: dict[str, Any], *, at: datetime | None = None) -> str:
        table = self.records.setdefault(sobject, {})
        record = dict(record)
        record.setdefault("Id", self.new_id(sobject))
        record["SystemModstamp"] = sf_time(at or self.clock())
        record.setdefault("CreatedDate", record["SystemModstamp"])
        record["IsDeleted"] = False
        table[record["Id"]] = {**table.get(record["Id"], {}), **record}
        return str(record["Id"])

    def delete(self, sobject: str, record_id: str, *, at: datetime | None = None) -> None:
        moment = at or self.clock()
        row = self.records[sobject][record_id]
        row["IsDeleted"] = True
        row["SystemModstamp"] = sf_time(moment)
        self.deleted.setdefault(sobject, {})[record_id] = moment

    def new_id(self, sobject: str) -> str:
        prefix = {"Opportunity": "006", "Contact": "003", "User": "005", "Task": "00T"}.get(
            sobject, "a0X"
        )
        return f"{prefix}{next(self._ids):012d}AAA"

    # --- SOQL ------------------------------------------------------------------------------

    def query(self, soql: str, *, include_deleted: bool) -> list[dict[str, Any]]:
        match = SOQL.match(soql)
        if not match:
            raise SoqlError(f"unexpected token in: {soql[:60]}")
        sobject = match["type"]
        fields = [f.strip() for f in match["fields"].split(",")]
        rows = list(self.records.get(sobject, {}).values())
        if not include_deleted:
            rows = [r for r in rows if not r.get("IsDeleted")]
        for condition in _split_and(match["where"] or ""):
            rows = [r for r in rows if self._holds(sobject, r, condition)]
        if match["order"]:
            order = match["order"]
            rows.sort(key=lambda r: (r.get(order) is None, r.get(order) or ""))
            if (match["dir"] or "ASC").upper() == "DESC":
                rows.reverse()
        if match["limit"]:
            rows = rows[: int(match["limit"])]
        return [self._project(sobject, r, fields) for r in rows]

    def _value(self, sobject: str, row: dict[str, Any], name: str) -> Any:
        if "." not in name:
            if name not in row and name not in {"Id"} and not self._known(sobject, name):
                raise SoqlError(f"No such column '{name}' on entity '{sobject}'")
            return row.get(name)
        relation, rest = name.split(".", 1)
        target_id = row.get(f"{relation}Id")
        for target_type, table in self.records.items():
            if target_id in table:
                if rest == "Type":  # a polymorphic lookup's type (What.Type)
                    return target_type
                return self._value("", table[target_id], rest)
        return None

    def _known(self, sobject: str, name: str) -> bool:
        return any(name in r for r in self.records.get(sobject, {}).values()) or not sobject

    def _holds(self, sobject: str, row: dict[str, Any], condition: str) -> bool:
        match = CONDITION.match(condition)
        if not match:
            raise SoqlError(f"unexpected condition: {condition[:60]}")
        actual = self._value(sobject, row, match["field"])
        if match["values"] is not None:
            return actual in [_literal(v) for v in _split_list(match["values"])]
        expected = _literal(match["value"])
        if isinstance(expected, datetime):
            if actual is None:
                return False
            actual = parse_sf_time(actual)
        op = match["op"]
        if op == "=":
            return bool(actual == expected)
        if op == "!=":
            return bool(actual != expected)
        if actual is None or expected is None:
            return False
        return bool(
            {
                ">": actual > expected,
                ">=": actual >= expected,
                "<": actual < expected,
                "<=": actual <= expected,
            }[op]
        )

    def _project(self, sobject: str, row: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributes": {
                "type": sobject,
                "url": f"/services/data/v{API_VERSION}/sobjects/{sobject}/{row['Id']}",
            }
        }
        for name in fields:
            if "." in name:
                relation, rest = name.split(".", 1)
                value = self._value(sobject, row, name)
                out[relation] = None if value is None else {"attributes": {}, rest: value}
            else:
                out[name] = self._value(sobject, row, name)
        return out


def _split_and(where: str) -> list[str]:
    return [part for part in re.split(r"\s+AND\s+", where, flags=re.IGNORECASE) if part.strip()]


def _split_list(values: str) -> list[str]:
    return [v for v in re.findall(r"'(?:[^'\\]|\\.)*'|[^,\s]+", values)]


def _literal(text: str) -> Any:
    text = text.strip()
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("\\'", "'")
    lowered = text.lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    if lowered == "null":
        return None
    if DATETIME.match(text):
        return parse_sf_time(text)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return text  # a date literal compares with the stored YYYY-MM-DD
    try:
        return float(text) if "." in text else int(text)
    except ValueError as error:
        raise SoqlError(f"unexpected literal {text!r}") from error


class SalesforceApi(LoopbackApi):
    """`SalesforceOrg` served over HTTPS on 127.0.0.1 (`running(tls=...)` with a certificate
    from `tests.mailservers.self_signed`)."""

    def __init__(self, org: SalesforceOrg) -> None:
        super().__init__()
        self.org = org
        self._pages: dict[str, list[dict[str, Any]]] = {}
        self._locators = itertools.count(1)

    def decorate(self, request: Request, answer: Answer) -> Answer:
        usage = f"api-usage={self.org.api_used}/{self.org.api_max}"
        return Answer(answer.status, answer.body, {**answer.headers, "Sforce-Limit-Info": usage})

    def handle(self, request: Request) -> Answer:
        org = self.org
        if request.path == "/services/oauth2/token" and request.method == "POST":
            return self._token(request.body or {})
        prefix = f"/services/data/v{API_VERSION}/"
        if not request.path.startswith(prefix):
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in org.tokens:
            return _error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        org.api_used += 1
        if org.api_used > org.api_max:
            return _error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        rest = request.path[len(prefix) :].rstrip("/")
        try:
            return self._route(request, rest)
        except SoqlError as error:
            return _error(400, "MALFORMED_QUERY", str(error))

    def _route(self, request: Request, rest: str) -> Answer:
        org, method, query = self.org, request.method, request.query
        segments = rest.split("/")
        if segments[0] in {"query", "queryAll"} and method == "GET":
            if len(segments) == 2:
                return self._next_page(segments[1])
            rows = org.query(query.get("q", ""), include_deleted=segments[0] == "queryAll")
            return self._page(rows, 0, self._new_locator(rows))
        if segments[0] == "limits":
            remaining = org.api_max - org.api_used
            return Answer(200, {"DailyApiRequests": {"Max": org.api_max, "Remaining": remaining}})
        if segments[0] != "sobjects" or len(segments) < 2:
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        sobject = segments[1]
        if len(segments) == 3 and segments[2] == "deleted" and method == "GET":
            start, end = parse_sf_time(query["start"]), parse_sf_time(query["end"])
            gone = [
                {"id": rid, "deletedDate": sf_time(when)}
                for rid, when in org.deleted.get(sobject, {}).items()
                if start <= when <= end
            ]
            earliest = org.clock() - timedelta(days=15)
            return Answer(
                200,
                {
                    "deletedRecords": gone,
                    "earliestDateAvailable": sf_time(earliest),
                    "latestDateCovered": sf_time(end),
                },
            )
        if len(segments) == 2 and method == "POST":
            record_id = org.put(sobject, dict(request.body or {}))
            return Answer(201, {"id": record_id, "success": True, "errors": []})
        if len(segments) == 3 and method == "PATCH":
            if segments[2] not in org.records.get(sobject, {}):
                return _error(404, "NOT_FOUND", "The requested resource does not exist")
            values = dict(request.body or {})
            unknown = [k for k in values if not org._known(sobject, k)]
            if unknown:
                return Answer(
                    400,
                    [
                        {
                            "message": f"No such column '{unknown[0]}' on sobject of type {sobject}",
                            "errorCode": "INVALID_FIELD",
                            "fields": unknown,
                        }
                    ],
                )
            org.put(sobject, {**values, "Id": segments[2]})
            return Answer(204, None)
        return _error(404, "NOT_FOUND", "The requested resource does not exist")

    def _new_locator(self, rows: list[dict[str, Any]]) -> str:
        locator = f"01g{next(self._locators):012d}"
        self._pages[locator] = rows
        return locator

    def _next_page(self, token: str) -> Answer:
        locator, _, offset = token.rpartition("-")
        rows = self._pages.get(locator)
        if rows is None or not offset.isdigit():
            return _error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(rows, int(offset), locator)

    def _page(self, rows: list[dict[str, Any]], offset: int, locator: str) -> Answer:
        size = min(self.org.batch_size, 2000)
        envelope: dict[str, Any] = {"totalSize": len(rows), "done": offset + size >= len(rows)}
        if not envelope["done"]:
            envelope["nextRecordsUrl"] = (
                f"/services/data/v{API_VERSION}/query/{locator}-{offset + size}"
            )
        envelope["records"] = rows[offset : offset + size]
        for record in envelope["records"]:
            kind = record["attributes"]["type"]
            self.org.served[kind] = self.org.served.get(kind, 0) + 1
        return Answer(200, envelope)

    def _token(self, form: dict[str, str]) -> Answer:
        org = self.org
        grant = form.get("grant_type", "")
        subject = None
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            claims = _jwt_claims(form.get("assertion", ""), org.jwt_public_key)
            if claims.get("iss") == org.consumer_key and claims.get("sub") in org.jwt_subjects:
                subject = claims["sub"]
        elif grant == "refresh_token":
            subject = "refresh" if form.get("refresh_token") in org.refresh_tokens else None
        elif grant == "password":
            user = form.get("username", "")
            subject = user if org.users.get(user) == form.get("password") else None
        if subject is None:
            return Answer(
                400, {"error": "invalid_grant", "error_description": "authentication failure"}
            )
        token = f"00Dxx!{len(org.tokens)}"
        org.tokens.add(token)
        return Answer(
            200,
            {
                "access_token": token,
                "instance_url": self.url,
                "id": f"{self.url}/id/00Dxx0000001gEREAY/005xx000001Sv6AAAS",
                "token_type": "Bearer",
                "issued_at": str(int(org.clock().timestamp() * 1000)),
            },
        )


def _error(status: int, code: str, message: str) -> Answer:
    return Answer(status, [{"message": message, "errorCode": code}])


def _jwt_claims(assertion: str, public_key: str | None) -> dict[str, Any]:
    """The claims of a JWT bearer assertion signed RS256 with the connected app's key, as
    Salesforce checks it (audience is the login host, expiry within minutes)."""
    import jwt

    if public_key is None:
        return {}
    try:
        return dict(
            jwt.decode(assertion, public_key, algorithms=["RS256"], options={"verify_aud": False})
        )
    except jwt.PyJWTError:
        return {}
