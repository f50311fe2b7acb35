"""The founder's Gmail or Google Workspace mailbox over the Gmail API (v1, httpx2).

- send: `users.messages.send` with the RFC 822 message as `raw` (base64url) and the thread's
  `threadId` (given, or found from In-Reply-To with an `rfc822msgid:` search), so the reply
  lands in the same Gmail conversation. Before sending, the Message-ID is looked up among sent
  mail: a retry after an unknown outcome never sends twice.
- find_sent: `users.messages.list` with `q=in:sent rfc822msgid:<id>`.
- fetch_since: `users.history.list` from the stored history id (messageAdded, and labelAdded
  for mail that reaches INBOX later: un-archived, moved out of spam);
  the first read, and a read whose history id Gmail no longer keeps (404), list the last
  `lookback` days instead and start from the profile's current history id.

Scopes: `gmail.send` and `gmail.readonly` (or `gmail.modify`).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx2

from mail._compose import compose
from mail._http import HttpMail, Token
from mail.base import (
    InboundBatch,
    InboundMessage,
    OutgoingMessage,
    PermanentMailError,
    SentReceipt,
)

log = logging.getLogger(__name__)

DEFAULT_URL = "https://gmail.googleapis.com/gmail/v1/users/me/"
_SKIP_LABELS = frozenset({"DRAFT", "SPAM", "TRASH", "CHAT"})


class _HistoryGone(Exception):
    """Gmail keeps history for about a week; older start ids answer 404."""


def _b64url_decode(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _bare(message_id: str) -> str:
    return message_id.strip().strip("<>").strip()


class GmailMailbox:
    name = "gmail"

    def __init__(
        self,
        token: Token,
        *,
        base_url: str = DEFAULT_URL,
        transport: httpx2.BaseTransport | None = None,
        timeout: float = 20.0,
        lookback: timedelta = timedelta(days=14),
        batch_size: int = 100,
        initial_limit: int = 500,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        address: str | None = None,  # the mailbox's own address, for a message without From
    ) -> None:
        self.address = address
        options: dict[str, Any] = {"transport": transport, "timeout": timeout}
        if sleep is not None:
            options["sleep"] = sleep
        self.http = HttpMail(base_url, token, vendor="Gmail API", **options)
        self.lookback = lookback
        self.batch_size = batch_size
        self.initial_limit = initial_limit
        self.clock = clock

    # --- sending ----------------------------------------------------------------------------

    def send(self, message: OutgoingMessage) -> SentReceipt:
        raw = bytes(compose(message, date=self.clock(), sender=self.address))  # CR/LF refused
        found = self.find_sent(message.message_id)
        if found is not None:
            log.info("%s is already among sent mail; not sending it again", message.message_id)
            return found
        body: dict[str, str] = {"raw": base64.urlsafe_b64encode(raw).decode("ascii")}
        thread_id = message.thread_id or self._thread_of(message.in_reply_to)
        if thread_id:
            body["threadId"] = thread_id
        response = self.http.request("POST", "messages/send", json=body, idempotent=False)
        sent = response.json()
        if not isinstance(sent, dict) or not sent.get("id"):
            raise PermanentMailError(f"Gmail API answered send without an id: {sent!r}"[:300])
        return SentReceipt(provider_id=str(sent["id"]))

    def _thread_of(self, message_id: str | None) -> str | None:
        """The Gmail thread holding `message_id`, so the follow-up joins that conversation."""
        if not message_id:
            return None
        found = self._search(f"rfc822msgid:{_bare(message_id)}")
        return str(found[0]["threadId"]) if found and found[0].get("threadId") else None

    def _search(self, query: str, limit: int = 1) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        params: dict[str, str | int] = {"q": query, "maxResults": min(limit, 500)}
        while len(results) < limit:
            data = self.http.request("GET", "messages", params=params).json()
            results += [m for m in data.get("messages", []) if isinstance(m, dict)]
            token = data.get("nextPageToken")
            if not token:
                break
            params["pageToken"] = token
        return results[:limit]

    def find_sent(self, message_id: str) -> SentReceipt | None:
        bare = _bare(message_id)
        if not bare or any(ch in bare for ch in " \r\n\"'"):
            return None
        found = self._search(f"in:sent rfc822msgid:{bare}")
        return SentReceipt(provider_id=str(found[0]["id"])) if found else None

    # --- reading ----------------------------------------------------------------------------

    def fetch_since(self, cursor: str | None) -> InboundBatch:
        history_id = _load_cursor(cursor)
        if history_id is not None:
            try:
                return self._incremental(history_id)
            except _HistoryGone:
                log.warning(
                    "Gmail no longer keeps history from %s; reading recent mail", history_id
                )
        return self._full()

    def _full(self) -> InboundBatch:
        # The history id first: whatever arrives while listing is read again next time.
        profile = self.http.request("GET", "profile").json()
        start = str(profile["historyId"])
        days = max(1, int(self.lookback.total_seconds() // 86400))
        listed = self._search(f"newer_than:{days}d (in:inbox OR in:sent)", self.initial_limit)
        messages = [m for m in (self._raw(str(item["id"])) for item in reversed(listed)) if m]
        return InboundBatch(tuple(messages), _dump_cursor(start))

    def _incremental(self, history_id: str) -> InboundBatch:
        messages: list[InboundMessage] = []
        cursor = history_id
        for record, latest in self._history(history_id):
            for item in _arrivals(record):
                labels = set(item.get("labelIds", []))
                if ("INBOX" not in labels and "SENT" not in labels) or labels & _SKIP_LABELS:
                    continue
                fetched = self._raw(str(item["id"]))
                if fetched is not None:
                    messages.append(fetched)
            cursor = str(record.get("id") or cursor)
            if latest is not None:
                cursor = latest
            if len(messages) >= self.batch_size:
                break
        return InboundBatch(tuple(messages), _dump_cursor(cursor))

    def _history(self, start: str) -> Iterator[tuple[dict[str, Any], str | None]]:
        """(history record, the mailbox's history id once the last record of all is reached)."""
        params: dict[str, str | int | list[str]] = {
            "startHistoryId": start,
            # labelAdded too: a reply a filter archived, or one moved out of spam, reaches the
            # inbox later than it reached the mailbox, and must be read when it does.
            "historyTypes": ["messageAdded", "labelAdded"],
            "maxResults": 500,
        }
        while True:
            response = self.http.request("GET", "history", params=params, expect=(200, 404))
            if response.status_code == 404:
                raise _HistoryGone(start)
            data = response.json()
            records = [r for r in data.get("history", []) if isinstance(r, dict)]
            token = data.get("nextPageToken")
            for index, record in enumerate(records):
                last = not token and index == len(records) - 1
                yield record, (str(data["historyId"]) if last and data.get("historyId") else None)
            if not records and not token and data.get("historyId"):
                yield {}, str(data["historyId"])
            if not token:
                return
            params["pageToken"] = token

    def _raw(self, gmail_id: str) -> InboundMessage | None:
        response = self.http.request(
            "GET", f"messages/{gmail_id}", params={"format": "raw"}, expect=(200, 404)
        )
        if response.status_code == 404:
            return None  # deleted since it was listed
        data = response.json()
        labels = set(data.get("labelIds", []))
        if labels & _SKIP_LABELS or "raw" not in data:
            return None
        folder: Literal["inbox", "sent"] = "sent" if "SENT" in labels else "inbox"
        return InboundMessage(raw=_b64url_decode(data["raw"]), folder=folder, provider_id=gmail_id)


def _arrivals(record: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The messages a history record brings into INBOX or SENT: added there, or labelled so
    later (the message's labels after the change are on it)."""
    for added in record.get("messagesAdded", []):
        if isinstance(added, dict):
            yield added.get("message", {})
    for labelled in record.get("labelsAdded", []):
        if isinstance(labelled, dict) and {"INBOX", "SENT"} & set(labelled.get("labelIds", [])):
            yield labelled.get("message", {})


def _load_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        value = json.loads(cursor).get("history_id")
    except (ValueError, AttributeError):
        return None
    return str(value) if value else None


def _dump_cursor(history_id: str) -> str:
    return json.dumps({"history_id": history_id})
