"""The one HTTP loop every API client shares (httpx2): credentials, timeouts, retries with
jittered backoff for requests that are safe to repeat, a vendor's rate-limit signals, one
credential refresh on 401, and a transport seam for tests.

It raises only `HttpFailure`, whose `kind` says what went wrong; each edge (mail, crm) maps it
onto its own error tree. Vendors plug in what differs: how they authenticate (`Auth`), how they
signal rate limits (`RatePolicy`) and how their error bodies read (`detail`).

A request that is not idempotent is tried once, except when the server refused it unread (a
429, or a connection that was never made): anything else that leaves its outcome unknown is a
failure, and the caller decides how to find out whether it happened.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, Protocol

import httpx2

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
NEVER = float("inf")  # a wait that is not worth retrying now (a daily limit)


class Kind(StrEnum):
    UNREACHABLE = "unreachable"  # transport error, timeout
    UNAVAILABLE = "unavailable"  # 5xx
    RATE_LIMITED = "rate_limited"  # 429 (or a vendor's equivalent) not waited out here
    AUTH = "auth"  # 401/403: the credentials or their scopes were refused
    REFUSED = "refused"  # any other status the caller did not expect
    OFF_ORIGIN = "off_origin"  # a link to another host


class HttpFailure(Exception):
    def __init__(
        self,
        kind: Kind,
        message: str,
        *,
        status: int | None = None,
        detail: str = "",
        retry_after: float | None = None,
        maybe_sent: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.detail = detail
        self.retry_after = retry_after
        # A request that is not safe to repeat may have reached the server before the
        # connection failed: whether it took effect is unknown, and it was not retried.
        self.maybe_sent = maybe_sent

    @property
    def transient(self) -> bool:
        return self.kind in (Kind.UNREACHABLE, Kind.UNAVAILABLE, Kind.RATE_LIMITED)


class Auth(Protocol):
    def headers(self) -> Mapping[str, str]:
        """The headers that carry the credential."""

    def refresh(self) -> bool:
        """After a 401: get a fresh credential; False when there is none to get."""


class NoAuth:
    def headers(self) -> Mapping[str, str]:
        return {}

    def refresh(self) -> bool:
        return False


class BearerToken:
    """`Authorization: Bearer`: a fixed token, or a provider (OAuth) asked before each request.
    A provider with an `invalidate()` method is told to drop its cached token on a 401."""

    def __init__(self, token: str | Callable[[], str]) -> None:
        self.token = token

    def headers(self) -> Mapping[str, str]:
        value = self.token() if callable(self.token) else self.token
        return {"Authorization": f"Bearer {value}"}

    def refresh(self) -> bool:
        if not callable(self.token):
            return False
        invalidate = getattr(self.token, "invalidate", None)
        if callable(invalidate):
            invalidate()
        return True


class HeaderToken:
    """A fixed key in a header of its own (Pipedrive's `x-api-token`)."""

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = value

    def headers(self) -> Mapping[str, str]:
        return {self.name: self.value}

    def refresh(self) -> bool:
        return False


class RatePolicy(Protocol):
    def limited(self, response: httpx2.Response, detail: str) -> bool:
        """Whether this response is a rate limit (429, or a vendor's own way of saying it)."""

    def wait(self, response: httpx2.Response) -> float | None:
        """Seconds to wait before trying a rate-limited request again; None: back off as
        usual; NEVER: do not retry now."""

    def pace(self, response: httpx2.Response) -> float:
        """Seconds to hold the next request after a successful one (the window is spent)."""


class RetryAfter:
    """The plain HTTP signal: 429 with `Retry-After` (seconds or a date)."""

    def limited(self, response: httpx2.Response, detail: str) -> bool:
        return response.status_code == 429

    def wait(self, response: httpx2.Response) -> float | None:
        return retry_after(response)

    def pace(self, response: httpx2.Response) -> float:
        return 0.0


def retry_after(response: httpx2.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def body_detail(response: httpx2.Response) -> str:
    """The start of an error body, for a message."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    return str(body)[:300]


class HttpLoop:
    def __init__(
        self,
        base_url: str,
        *,
        vendor: str,
        auth: Auth | None = None,
        transport: httpx2.BaseTransport | None = None,
        timeout: float = 20.0,
        retries: int = 3,
        max_wait: float = 30.0,
        rate: RatePolicy | None = None,
        detail: Callable[[httpx2.Response], str] = body_detail,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = httpx2.URL(base_url if base_url.endswith("/") else base_url + "/")
        self.vendor = vendor
        self.auth: Auth = auth or NoAuth()
        self.retries = retries
        self.max_wait = max_wait
        self.rate: RatePolicy = rate or RetryAfter()
        self.detail = detail
        self.sleep = sleep
        self.jitter = jitter
        self.requests = 0  # every request sent, retries included (the benches count them)
        self.last_headers: httpx2.Headers = httpx2.Headers()  # of the latest response
        self.client = httpx2.Client(
            base_url=self.base_url,
            transport=transport,
            timeout=httpx2.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,
            headers=dict(headers or {}),
        )

    def close(self) -> None:
        self.client.close()
        closing = getattr(getattr(self.auth, "token", None), "close", None)
        if callable(closing):  # a refreshing token's own client
            closing()

    def same_origin(self, url: str) -> bool:
        """Links a service hands back (paging, delta) are followed only to where the
        credential is meant to go."""
        other = httpx2.URL(url)
        base = self.base_url
        return (other.scheme, other.host, other.port) == (base.scheme, base.host, base.port)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> httpx2.Response:
        """The response when its status is in `expect`; otherwise an `HttpFailure`.
        `idempotent` defaults to the method's (GET, HEAD, PUT, DELETE, OPTIONS)."""
        if idempotent is None:
            idempotent = method.upper() in {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}
        if url.startswith(("http://", "https://")) and not self.same_origin(url):
            raise HttpFailure(Kind.OFF_ORIGIN, f"{self.vendor} returned a link to another host")
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            sent_headers = {**self.auth.headers(), **(headers or {})}
            self.requests += 1
            try:
                response = self.client.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    content=content,
                    data=data,
                    headers=sent_headers,
                )
            except httpx2.TransportError as error:
                unsent = isinstance(error, httpx2.ConnectError | httpx2.ConnectTimeout)
                if (idempotent or unsent) and attempt <= self.retries:
                    self._backoff(attempt, None)
                    continue
                raise HttpFailure(
                    Kind.UNREACHABLE,
                    f"{self.vendor}: {type(error).__name__}: {error}",
                    maybe_sent=not (idempotent or unsent),
                ) from error
            status = response.status_code
            self.last_headers = response.headers
            if status in expect:
                pace = self.rate.pace(response)
                if pace > 0:
                    log.info("%s: rate window spent, holding %.1f s", self.vendor, pace)
                    self.sleep(min(pace, self.max_wait))
                return response
            if status == 401 and not refreshed and self.auth.refresh():
                refreshed = True
                attempt -= 1  # a refresh is not a retry
                continue
            detail = self.detail(response)
            limited = self.rate.limited(response, detail)
            if status in RETRY_STATUSES or limited:
                wait = self.rate.wait(response) if limited else retry_after(response)
                may_retry = idempotent or limited  # a rate limit refused it unread
                if may_retry and attempt <= self.retries and (wait or 0.0) <= self.max_wait:
                    self._backoff(attempt, wait)
                    continue
                kind = Kind.RATE_LIMITED if limited else Kind.UNAVAILABLE
                raise HttpFailure(
                    kind,
                    f"{self.vendor} {status}: {detail}",
                    status=status,
                    detail=detail,
                    retry_after=wait,
                )
            if status in (401, 403):
                raise HttpFailure(
                    Kind.AUTH,
                    f"{self.vendor} refused the credentials ({status}): {detail}",
                    status=status,
                    detail=detail,
                )
            raise HttpFailure(
                Kind.REFUSED, f"{self.vendor} {status}: {detail}", status=status, detail=detail
            )

    def _backoff(self, attempt: int, wait: float | None) -> None:
        if wait is None:
            # Exponential with equal jitter, so clients that failed together do not return
            # together.
            base = min(self.max_wait, 0.5 * 2 ** (attempt - 1))
            wait = base / 2 + self.jitter() * base / 2
        log.info("%s: retrying in %.1f s", self.vendor, wait)
        self.sleep(wait)
