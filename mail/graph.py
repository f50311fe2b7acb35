"""The founder's Microsoft 365 or Outlook.com mailbox over Microsoft Graph (v1.0, httpx2).

- send: `POST /me/sendMail` with the RFC 822 message in MIME form (base64, `text/plain`), so
  our deterministic Message-ID and the thread headers (In-Reply-To, References) are kept and
  the recipient's client threads the follow-up under the last message; Exchange files it in
  Sent Items. Before sending, the Message-ID is looked up there: a retry after an unknown
  outcome never sends twice.
- find_sent: `GET /me/mailFolders/sentitems/messages?$filter=internetMessageId eq '<id>'`.
- fetch_since: a delta query per folder (inbox, sentitems); the stored cursor holds each
  folder's `@odata.deltaLink` (or its `@odata.nextLink` while a backlog is worked through).
  The first read looks back `lookback` days; a delta token Graph no longer knows (410) starts
  over the same way. Each new message is read as MIME (`/messages/{id}/$value`).

Permissions (delegated): `Mail.Send` and `Mail.Read`.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx2

from mail._compose import compose
from mail._http import HttpMail, Token
from mail.base import (
    InboundBatch,
    InboundMessage,
    OutgoingMessage,
    SentReceipt,
)

log = logging.getLogger(__name__)

DEFAULT_URL = "https://graph.microsoft.com/v1.0/me/"
FOLDERS: tuple[tuple[Literal["inbox", "sent"], str], ...] = (
    ("inbox", "inbox"),
    ("sent", "sentitems"),
)
_SELECT = "id,internetMessageId,receivedDateTime,isDraft"


class _DeltaGone(Exception):
    """The delta token expired or is unknown: start over."""


class GraphMailbox:
    name = "graph"

    def __init__(
        self,
        token: Token,
        *,
        base_url: str = DEFAULT_URL,
        transport: httpx2.BaseTransport | None = None,
        timeout: float = 20.0,
        lookback: timedelta = timedelta(days=14),
        batch_size: int = 100,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        address: str | None = None,  # the mailbox's own address, for a message without From
    ) -> None:
        self.address = address
        options: dict[str, Any] = {"transport": transport, "timeout": timeout}
        if sleep is not None:
            options["sleep"] = sleep
        self.http = HttpMail(base_url, token, vendor="Microsoft Graph", **options)
        self.lookback = lookback
        self.batch_size = batch_size
        self.clock = clock

    # --- sending ----------------------------------------------------------------------------

    def send(self, message: OutgoingMessage) -> SentReceipt:
        raw = bytes(compose(message, date=self.clock(), sender=self.address))  # CR/LF refused
        found = self.find_sent(message.message_id)
        if found is not None:
            log.info("%s is already among sent mail; not sending it again", message.message_id)
            return found
        self.http.request(
            "POST",
            "sendMail",
            content=base64.b64encode(raw),
            headers={"Content-Type": "text/plain"},
            idempotent=False,
            expect=(202,),
        )
        # Graph answers 202 with no body: the Message-ID is the id that finds it again.
        return SentReceipt(provider_id=message.message_id)

    def find_sent(self, message_id: str) -> SentReceipt | None:
        wanted = message_id.strip()
        if not wanted or any(ch in wanted for ch in "\r\n"):
            return None
        quoted = wanted.replace("'", "''")  # OData string literal
        data = self.http.request(
            "GET",
            "mailFolders/sentitems/messages",
            params={
                "$filter": f"internetMessageId eq '{quoted}'",
                "$select": "id,internetMessageId",
                "$top": 5,
            },
        ).json()
        for item in data.get("value", []):
            if str(item.get("internetMessageId", "")).lower() == wanted.lower():
                return SentReceipt(provider_id=str(item["id"]))
        return None

    # --- reading ----------------------------------------------------------------------------

    def fetch_since(self, cursor: str | None) -> InboundBatch:
        links = _load_cursor(cursor)
        messages: list[InboundMessage] = []
        for key, folder in FOLDERS:
            link = links.get(key)
            try:
                found, links[key] = self._delta(key, folder, link)
            except _DeltaGone:
                log.warning("Graph no longer knows the %s delta token; reading recent mail", key)
                found, links[key] = self._delta(key, folder, None)
            messages += found
        return InboundBatch(tuple(messages), json.dumps(links, sort_keys=True))

    def _delta(
        self, key: Literal["inbox", "sent"], folder: str, link: str | None
    ) -> tuple[list[InboundMessage], str | None]:
        """New messages of one folder, and the link to go on from."""
        if link is None:
            since = (self.clock() - self.lookback).strftime("%Y-%m-%dT%H:%M:%SZ")
            url = f"mailFolders/{folder}/messages/delta"
            params: dict[str, str | int] | None = {
                "$select": _SELECT,
                "$filter": f"receivedDateTime ge {since}",
            }
        else:
            url, params = link, None
        found: list[InboundMessage] = []
        while True:
            response = self.http.request(
                "GET",
                url,
                params=params,
                headers={"Prefer": f"odata.maxpagesize={min(self.batch_size, 100)}"},
                expect=(200, 410),
            )
            if response.status_code == 410:
                raise _DeltaGone(url)
            data = response.json()
            for item in data.get("value", []):
                if "@removed" in item or item.get("isDraft"):
                    continue
                raw = self._mime(str(item["id"]))
                if raw is not None:
                    found.append(InboundMessage(raw=raw, folder=key, provider_id=str(item["id"])))
            next_link = data.get("@odata.nextLink")
            delta_link = data.get("@odata.deltaLink")
            if next_link and len(found) >= self.batch_size:
                return found, str(next_link)  # the rest of the backlog next time
            if next_link:
                url, params = str(next_link), None
                continue
            return found, str(delta_link) if delta_link else link

    def _mime(self, graph_id: str) -> bytes | None:
        response = self.http.request("GET", f"messages/{graph_id}/$value", expect=(200, 404))
        return None if response.status_code == 404 else response.content


def _load_cursor(cursor: str | None) -> dict[str, str | None]:
    if not cursor:
        return {}
    try:
        raw = json.loads(cursor)
    except ValueError:
        return {}
    if not isinstance(raw, dict):
        return {}
    return {k: str(v) for k, v in raw.items() if k in ("inbox", "sent") and v}
