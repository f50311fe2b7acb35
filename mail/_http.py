"""The HTTP loop the Gmail and Graph mailboxes share (httpx2): bearer token, timeouts, retries
with backoff and Retry-After, and the mapping of failures onto the mailbox error tree.

Only requests that are safe to repeat are retried here. A send is tried once (a 429 excepted:
the server refused it unread); anything else that leaves its outcome unknown is a
`TransientMailError`, and the mailbox looks the Message-ID up before the next attempt.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx2

from mail.base import PermanentMailError, TransientMailError, UnknownDeliveryError

log = logging.getLogger(__name__)

Token = str | Callable[[], str]
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_WAIT = 30.0  # seconds: a longer Retry-After is left to the next cycle


class HttpMail:
    def __init__(
        self,
        base_url: str,
        token: Token,
        *,
        vendor: str,
        transport: httpx2.BaseTransport | None = None,
        timeout: float = 20.0,
        retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = httpx2.URL(base_url if base_url.endswith("/") else base_url + "/")
        self.token = token
        self.vendor = vendor
        self.retries = retries
        self.sleep = sleep
        self.client = httpx2.Client(
            base_url=self.base_url,
            transport=transport,
            timeout=httpx2.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,
        )

    def close(self) -> None:
        self.client.close()

    def _bearer(self) -> str:
        return self.token() if callable(self.token) else self.token

    def same_origin(self, url: str) -> bool:
        """Links the service hands back (paging, delta) are followed only to where the token
        is meant to go."""
        other = httpx2.URL(url)
        base = self.base_url
        return (other.scheme, other.host, other.port) == (base.scheme, base.host, base.port)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
        expect: tuple[int, ...] = (200,),
    ) -> httpx2.Response:
        """The response when its status is in `expect`; otherwise a mailbox error."""
        if url.startswith(("http://", "https://")) and not self.same_origin(url):
            raise PermanentMailError(f"{self.vendor} returned a link to another host: {url}")
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            sent_headers = {"Authorization": f"Bearer {self._bearer()}", **(headers or {})}
            try:
                response = self.client.request(
                    method, url, params=params, json=json, content=content, headers=sent_headers
                )
            except httpx2.TransportError as error:
                unsent = isinstance(error, httpx2.ConnectError | httpx2.ConnectTimeout)
                if (idempotent or unsent) and attempt <= self.retries:
                    self._wait(attempt, None)
                    continue
                if not (idempotent or unsent):
                    # A send that may have reached the server (a read timeout, a dropped
                    # connection after the request went out): whether it left is unknown.
                    raise UnknownDeliveryError(
                        f"{self.vendor}: {type(error).__name__} after the request was sent: {error}"
                    ) from error
                raise TransientMailError(
                    f"{self.vendor}: {type(error).__name__}: {error}"
                ) from error
            status = response.status_code
            if status in expect:
                return response
            if status == 401 and callable(self.token) and not refreshed:
                refreshed = True  # the token provider may hand out a fresh one
                continue
            detail = _detail(response)
            if status in RETRY_STATUSES or _rate_limited(status, detail):
                retry_after = _retry_after(response)
                may_retry = idempotent or status == 429
                if may_retry and attempt <= self.retries and (retry_after or 0) <= MAX_WAIT:
                    self._wait(attempt, retry_after)
                    continue
                raise TransientMailError(f"{self.vendor} {status}: {detail}")
            if status in (401, 403):
                raise PermanentMailError(
                    f"{self.vendor} refused the credentials ({status}): {detail}"
                )
            raise PermanentMailError(f"{self.vendor} {status}: {detail}")

    def _wait(self, attempt: int, retry_after: float | None) -> None:
        delay = retry_after if retry_after is not None else min(MAX_WAIT, 0.5 * 2 ** (attempt - 1))
        log.info("%s: retrying in %.1f s", self.vendor, delay)
        self.sleep(delay)


def _detail(response: httpx2.Response) -> str:
    """The error message of a Google or Microsoft error body, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        parts = [str(error.get(k)) for k in ("code", "status", "message") if error.get(k)]
        reasons = [e.get("reason") for e in error.get("errors", []) if isinstance(e, dict)]
        parts += [str(r) for r in reasons if r]
        return " ".join(parts)[:300]
    return str(body)[:300]


def _rate_limited(status: int, detail: str) -> bool:
    """Google answers some rate limits with 403 (userRateLimitExceeded, rateLimitExceeded)."""
    return status == 403 and "ratelimitexceeded" in detail.lower().replace(" ", "")


def _retry_after(response: httpx2.Response) -> float | None:
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
    from datetime import UTC, datetime

    return max(0.0, (when - datetime.now(UTC)).total_seconds())
