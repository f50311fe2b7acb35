"""Salesforce's REST API through simple-salesforce: signing in (JWT bearer, refresh token, or
username + password + security token), SOQL with `nextRecordsUrl` paging, creates and updates,
the org's API allocation, and every failure mapped onto the CRM error tree.

simple-salesforce signs in only against `*.salesforce.com`, so followup exchanges the token
itself at `SALESFORCE_LOGIN_URL` (one token endpoint, three grants) and hands simple-salesforce
the session and the instance URL the token response names. Requests go through one
`requests.Session` with a timeout and urllib3's retry for idempotent reads (5xx, connection
errors, Retry-After); writes are tried once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from urllib3.util.retry import Retry

from crm.base import CrmAuthError, CrmRateLimited, CrmRequestError, CrmUnavailable
from httploop import HttpFailure, HttpLoop, Kind

log = logging.getLogger(__name__)
T = TypeVar("T")
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LONG_TXN = "ConcurrentPerOrgLongTxn"


@dataclass(frozen=True, slots=True)
class Credentials:
    """One of: an access token with its instance URL; a JWT bearer (client id, user name,
    private key); a refresh token (client id and secret); user name + password + security
    token (client id and secret)."""

    login_url: str = "https://login.salesforce.com"
    instance_url: str | None = None
    access_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    username: str | None = None
    private_key: str | None = None  # PEM
    refresh_token: str | None = None
    password: str | None = None
    security_token: str = ""

    @property
    def flow(self) -> str:
        if self.access_token:
            return "access token"
        if self.private_key and self.client_id and self.username:
            return "JWT bearer"
        if self.refresh_token and self.client_id:
            return "refresh token"
        if self.password and self.username and self.client_id:
            return "password"
        return "none"


class TimeoutSession(requests.Session):
    """A session whose every request has a timeout (simple-salesforce passes none) and the
    session's own `verify` (requests otherwise lets REQUESTS_CA_BUNDLE override it)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("verify", self.verify)
        return super().request(method, url, *args, **kwargs)


def make_session(
    timeout: float, verify: str | bool = True, *, retries: int = 3, backoff: float = 0.5
) -> TimeoutSession:
    session = TimeoutSession(timeout)
    session.verify = verify
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        backoff_factor=backoff,
        backoff_jitter=backoff / 2,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.mount("http://", HTTPAdapter(max_retries=retry))
    return session


def sign_in(credentials: Credentials, loop: HttpLoop, now: datetime) -> tuple[str, str]:
    """An access token and the instance URL to use it on."""
    flow = credentials.flow
    if flow == "access token":
        if not credentials.instance_url:
            raise CrmAuthError("SALESFORCE_ACCESS_TOKEN needs SALESFORCE_INSTANCE_URL beside it")
        return str(credentials.access_token), credentials.instance_url
    if flow == "none":
        raise CrmAuthError(
            "Salesforce: no credentials; set SALESFORCE_CLIENT_ID with SALESFORCE_USERNAME and "
            "SALESFORCE_PRIVATE_KEY_FILE (JWT bearer), SALESFORCE_REFRESH_TOKEN, or "
            "SALESFORCE_USERNAME + SALESFORCE_PASSWORD + SALESFORCE_SECURITY_TOKEN"
        )
    form: dict[str, str]
    if flow == "JWT bearer":
        import jwt

        claims = {
            "iss": credentials.client_id,
            "sub": credentials.username,
            "aud": credentials.login_url.rstrip("/"),
            "exp": int((now + timedelta(minutes=3)).timestamp()),
        }
        assertion = jwt.encode(claims, str(credentials.private_key), algorithm="RS256")
        form = {"grant_type": JWT_GRANT, "assertion": assertion}
    elif flow == "refresh token":
        form = {
            "grant_type": "refresh_token",
            "refresh_token": str(credentials.refresh_token),
            "client_id": str(credentials.client_id),
        }
        if credentials.client_secret:
            form["client_secret"] = credentials.client_secret
    else:
        form = {
            "grant_type": "password",
            "client_id": str(credentials.client_id),
            "client_secret": credentials.client_secret or "",
            "username": str(credentials.username),
            "password": f"{credentials.password}{credentials.security_token}",
        }
    try:
        response = loop.request(
            "POST", "services/oauth2/token", data=form, idempotent=False, expect=(200,)
        )
    except HttpFailure as failure:
        if failure.kind in (Kind.REFUSED, Kind.AUTH):
            raise CrmAuthError(
                f"Salesforce refused the {flow} sign-in ({failure.status}): {failure.detail}; "
                "check the SALESFORCE_* credentials and the connected app's policies"
            ) from failure
        raise CrmUnavailable(f"Salesforce sign-in: {failure}") from failure
    body = response.json()
    instance = credentials.instance_url or body.get("instance_url")
    if not body.get("access_token") or not instance:
        raise CrmAuthError("Salesforce's token response had no access_token or instance_url")
    return str(body["access_token"]), str(instance)


def _next_page(url: str) -> Callable[[Salesforce], Any]:
    return lambda sf: sf.query_more(url, identifier_is_url=True)


def _codes(error: SalesforceError) -> list[tuple[str, str]]:
    content = error.content
    if isinstance(content, list):
        return [
            (str(item.get("errorCode", "")), str(item.get("message", "")))
            for item in content
            if isinstance(item, dict)
        ]
    return [("", str(content))]


class SalesforceApi:
    """The calls the adapter makes, each raising only `CrmError`s. Tracks the org's API usage
    from `Sforce-Limit-Info` and refuses to spend more than `share` of the daily allocation."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        version: str,
        session: requests.Session,
        login: HttpLoop,
        share: float = 0.5,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.credentials = credentials
        self.version = version
        self.session = session
        self.login = login
        self.share = share
        self.clock = clock
        self.sleep = sleep
        self.requests = 0
        self.usage: tuple[int, int] | None = None  # (used, max) of the org's 24-hour allocation
        self._sf: Salesforce | None = None
        self.instance_url: str | None = credentials.instance_url  # known once signed in

    def close(self) -> None:
        self.session.close()
        self.login.close()

    # --- connection ------------------------------------------------------------------------

    def _client(self) -> Salesforce:
        if self._sf is None:
            token, instance = sign_in(self.credentials, self.login, self.clock())
            self.instance_url = instance
            self.requests += 1
            self._sf = Salesforce(
                instance_url=instance, session_id=token, version=self.version, session=self.session
            )
        return self._sf

    def _call(self, what: str, action: Callable[[Salesforce], T]) -> T:
        """One API call: a sign-in again on an expired session (once), a retry of a
        long-transaction refusal (thrice), and everything else mapped onto `CrmError`."""
        self._check_budget()
        renewed = False
        attempt = 0
        while True:
            attempt += 1
            client = self._client()
            self.requests += 1
            try:
                result = action(client)
            except SalesforceExpiredSession as error:
                self._sf = None
                if renewed or self.credentials.flow == "access token":
                    raise CrmAuthError(
                        f"Salesforce refused the session on {what}: {_codes(error)[0][1]}"
                    ) from error
                renewed = True
                continue
            except SalesforceRefusedRequest as error:
                codes = _codes(error)
                if any(LONG_TXN in message for _, message in codes) and attempt <= 3:
                    self.sleep(min(30.0, 2.0**attempt))
                    continue
                if any(code == "REQUEST_LIMIT_EXCEEDED" for code, _ in codes):
                    raise CrmRateLimited(
                        "Salesforce: the org's daily API allocation is spent "
                        f"({codes[0][1]}); followup waits for it to free up",
                        None,
                    ) from error
                raise CrmAuthError(
                    f"Salesforce refused {what} (403 {codes[0][0]}): {codes[0][1]}; check the "
                    "integration user's permissions"
                ) from error
            except (SalesforceMalformedRequest, SalesforceResourceNotFound) as error:
                code, message = _codes(error)[0]
                raise CrmRequestError(
                    f"Salesforce refused {what} ({code}): {message}", error.status
                ) from error
            except SalesforceError as error:
                raise CrmUnavailable(
                    f"Salesforce answered {error.status} to {what}: {_codes(error)[0][1]}"
                ) from error
            except requests.RequestException as error:
                raise CrmUnavailable(
                    f"Salesforce: {type(error).__name__} on {what}: {error}"
                ) from error
            self._note_usage(client)
            return result

    def _note_usage(self, client: Salesforce) -> None:
        usage = client.api_usage.get("api-usage")
        if usage is not None:
            self.usage = (int(usage.used), int(usage.total))

    def _check_budget(self) -> None:
        if self.usage is None:
            return
        used, total = self.usage
        if total and used >= self.share * total:
            raise CrmRateLimited(
                f"Salesforce: followup's share of the org's daily API allocation is spent "
                f"({used}/{total} used, share {self.share:.0%}; SALESFORCE_API_SHARE)",
                None,
            )

    # --- calls -----------------------------------------------------------------------------

    def query(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        """Every record of a SOQL query, one page (up to 2,000) in memory at a time."""
        page = self._call("a query", lambda sf: sf.query(soql, include_deleted=include_deleted))
        while True:
            for record in page.get("records", []):
                if isinstance(record, dict):
                    yield record
            following = page.get("nextRecordsUrl")
            if page.get("done", True) or not following:
                return
            page = self._call("the next page of a query", _next_page(following))

    def create(self, sobject: str, values: dict[str, Any]) -> str:
        answer = self._call(f"creating a {sobject}", lambda sf: getattr(sf, sobject).create(values))
        if not isinstance(answer, dict) or not answer.get("id"):
            raise CrmRequestError(f"Salesforce created a {sobject} but named no id: {answer!r}")
        return str(answer["id"])

    def update(self, sobject: str, record_id: str, values: dict[str, Any]) -> None:
        self._call(
            f"updating {sobject} {record_id}",
            lambda sf: getattr(sf, sobject).update(record_id, values),
        )

    def deleted_ids(self, sobject: str, start: datetime, end: datetime) -> list[str]:
        answer = self._call(
            f"the deleted {sobject} records",
            lambda sf: getattr(sf, sobject).deleted(start, end),
        )
        return [str(row["id"]) for row in answer.get("deletedRecords", []) if isinstance(row, dict)]
