"""The Gmail and Graph mailboxes on the shared HTTP loop (`httploop`): Google's and
Microsoft's error bodies and rate-limit signals, and the mapping of failures onto the mailbox
error tree.

Only requests that are safe to repeat are retried. A send is tried once (a 429 excepted: the
server refused it unread); anything else that leaves its outcome unknown is a
`TransientMailError`, and the mailbox looks the Message-ID up before the next attempt.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx2

from httploop import BearerToken, HttpFailure, HttpLoop, RetryAfter
from mail.base import PermanentMailError, TransientMailError, UnknownDeliveryError

Token = str | Callable[[], str]
MAX_WAIT = 30.0  # seconds: a longer Retry-After is left to the next cycle


class _GoogleRate(RetryAfter):
    """Google answers some rate limits with 403 (userRateLimitExceeded, rateLimitExceeded)."""

    def limited(self, response: httpx2.Response, detail: str) -> bool:
        if response.status_code == 429:
            return True
        return response.status_code == 403 and "ratelimitexceeded" in detail.lower().replace(
            " ", ""
        )


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
        self.vendor = vendor
        self.token = token
        self.loop = HttpLoop(
            base_url,
            vendor=vendor,
            auth=BearerToken(token),
            transport=transport,
            timeout=timeout,
            retries=retries,
            max_wait=MAX_WAIT,
            rate=_GoogleRate(),
            detail=_detail,
            sleep=sleep,
        )
        self.base_url = self.loop.base_url

    def close(self) -> None:
        self.loop.close()

    def same_origin(self, url: str) -> bool:
        return self.loop.same_origin(url)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str | int | list[str]] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
        expect: tuple[int, ...] = (200,),
    ) -> httpx2.Response:
        """The response when its status is in `expect`; otherwise a mailbox error."""
        try:
            return self.loop.request(
                method,
                url,
                params=params,
                json=json,
                content=content,
                headers=headers,
                idempotent=idempotent,
                expect=expect,
            )
        except HttpFailure as failure:
            if failure.maybe_sent:
                # A send that may have reached the server (a read timeout, a dropped
                # connection after the request went out): whether it left is unknown.
                raise UnknownDeliveryError(str(failure)) from failure
            if failure.transient:
                raise TransientMailError(str(failure)) from failure
            raise PermanentMailError(str(failure)) from failure


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
