"""Fresh OAuth 2.0 access tokens from a refresh token (RFC 6749 section 6), for XOAUTH2 over
SMTP/IMAP and for the Gmail and Graph APIs. Access tokens live about an hour; one is reused
until a minute before it expires."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx2

from mail.base import PermanentMailError, TransientMailError

GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
MICROSOFT_TOKEN_URL = "https://login.microsoftonline.com/common/oauth2/v2.0/token"  # noqa: S105
_MARGIN = 60.0


class RefreshingToken:
    """A callable that returns a valid access token, refreshing it when it is about to expire."""

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str | None,
        refresh_token: str,
        scope: str | None = None,
        transport: httpx2.BaseTransport | None = None,
        timeout: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = token_url
        self.form = {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "refresh_token": refresh_token,
        }
        if client_secret:
            self.form["client_secret"] = client_secret
        if scope:
            self.form["scope"] = scope
        self.client = httpx2.Client(transport=transport, timeout=timeout)
        self.clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or self.clock() >= self._expires - _MARGIN:
                self._refresh()
            assert self._token is not None
            return self._token

    def _refresh(self) -> None:
        try:
            response = self.client.post(self.token_url, data=self.form)
        except httpx2.TransportError as error:
            raise TransientMailError(f"OAuth token endpoint unreachable: {error}") from error
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientMailError(f"OAuth token endpoint answered {response.status_code}")
        if response.status_code != 200 or "access_token" not in body:
            reason = body.get("error_description") or body.get("error") or response.status_code
            raise PermanentMailError(f"OAuth refresh refused: {reason}")
        self._token = str(body["access_token"])
        self._expires = self.clock() + float(body.get("expires_in", 3600))
        if body.get("refresh_token"):  # Microsoft rotates refresh tokens
            self.form["refresh_token"] = str(body["refresh_token"])
