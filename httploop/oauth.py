"""Fresh OAuth 2.0 access tokens from a refresh token (RFC 6749 section 6) for API clients on
the shared loop. One token is reused until a minute before it expires, or until the API
refuses it (`invalidate`, called by the loop on a 401)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx2

from httploop import HttpFailure, Kind

_MARGIN = 60.0


class RefreshingToken:
    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str | None,
        refresh_token: str,
        vendor: str,
        basic_auth: bool = False,
        transport: httpx2.BaseTransport | None = None,
        timeout: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = token_url
        self.vendor = vendor
        self.form = {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "refresh_token": refresh_token,
        }
        # Some token endpoints (Pipedrive's) take the client's credentials as HTTP Basic auth.
        self.auth = httpx2.BasicAuth(client_id, client_secret or "") if basic_auth else None
        if client_secret and not basic_auth:
            self.form["client_secret"] = client_secret
        self.client = httpx2.Client(transport=transport, timeout=timeout)
        self.clock = clock
        self.refreshes = 0
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or self.clock() >= self._expires - _MARGIN:
                self._refresh()
            assert self._token is not None
            return self._token

    def close(self) -> None:
        self.client.close()

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def _refresh(self) -> None:
        self.refreshes += 1
        try:
            if self.auth is not None:
                response = self.client.post(self.token_url, data=self.form, auth=self.auth)
            else:
                response = self.client.post(self.token_url, data=self.form)
        except httpx2.TransportError as error:
            raise HttpFailure(
                Kind.UNREACHABLE, f"{self.vendor} OAuth token endpoint unreachable: {error}"
            ) from error
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 500 or response.status_code == 429:
            raise HttpFailure(
                Kind.UNAVAILABLE,
                f"{self.vendor} OAuth token endpoint answered {response.status_code}",
                status=response.status_code,
            )
        if response.status_code != 200 or "access_token" not in body:
            reason = body.get("error_description") or body.get("error") or response.status_code
            raise HttpFailure(
                Kind.AUTH,
                f"{self.vendor} refused the OAuth refresh: {reason}",
                status=response.status_code,
            )
        self._token = str(body["access_token"])
        self._expires = self.clock() + float(body.get("expires_in", 1800))
        if body.get("refresh_token"):  # some vendors rotate refresh tokens
            self.form["refresh_token"] = str(body["refresh_token"])
