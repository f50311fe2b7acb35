"""The one path to Slack's Web API.

Every call goes through a `slack_sdk.WebClient` built on `SLACK_API_URL`, with slack_sdk's
retry handlers: connection errors and 5xx are retried briefly, and a 429 waits as long as
Slack's `Retry-After` says, then tries again. Posting keeps to about one message per
second per channel. What still fails surfaces as `SlackUnavailable` (try again later: the
caller keeps the work) or `SlackRefused` (Slack said no, with its error code).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.jitter import Jitter
from slack_sdk.models.views import View
from slack_sdk.webhook import WebhookClient

from observe import metrics

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
T = TypeVar("T")


class GatewayError(Exception):
    """A Web API call did not do what was asked."""


class SlackUnavailable(GatewayError):
    """Slack could not be reached, failed, or kept rate-limiting: try again later."""


class SlackRefused(GatewayError):
    """Slack answered `ok: false`; `error` is its code (`channel_not_found`, ...)."""

    def __init__(self, method: str, error: str) -> None:
        super().__init__(f"{method}: {error}")
        self.method = method
        self.error = error

    @property
    def affects_everything(self) -> bool:
        """The app's setup is wrong (a revoked token, a missing scope, the bot not in the
        channel): every call fails alike until a person fixes it, so it is an outage to wait
        out, not a refusal of one message."""
        return self.error in SETUP_ERRORS


# Slack error codes that say the installation or configuration is broken, not the message.
SETUP_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "missing_scope",
        "no_permission",
        "team_access_not_granted",
        "not_in_channel",
        "channel_not_found",
        "is_archived",
    }
)


def is_outage(error: GatewayError) -> bool:
    """Nothing will get through until Slack or its setup is back: keep the work and wait."""
    return isinstance(error, SlackUnavailable) or (
        isinstance(error, SlackRefused) and error.affects_everything
    )


@dataclass(frozen=True, slots=True)
class Posted:
    channel: str
    ts: str


class Pacer:
    """At most one post per `interval` seconds per channel (Slack's posting guidance)."""

    def __init__(
        self,
        interval: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, channel: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(channel, threading.Lock())

    def run(self, channel: str, call: Callable[[], T]) -> T:
        """Run `call` once the channel's previous post is `interval` seconds old."""
        with self._lock(channel):
            wait = self._next.get(channel, 0.0) - self._clock()
            if wait > 0:
                self._sleep(wait)
            try:
                return call()
            finally:
                self._next[channel] = self._clock() + self.interval


class _Jitter(Jitter):
    """Up to `spread` seconds of random jitter (slack_sdk's default adds up to a second)."""

    def __init__(self, spread: float) -> None:
        self.spread = spread

    def recalculate(self, duration: float) -> float:
        return duration + random.random() * self.spread


def retry_handlers(rate_limit_retries: int = 5, backoff: float = 0.5) -> list[RetryHandler]:
    """Connection errors and 5xx: two quick retries (backoff, 2 x backoff seconds). 429: as
    many as `rate_limit_retries`, each after Slack's Retry-After."""
    interval = BackoffRetryIntervalCalculator(backoff_factor=backoff, jitter=_Jitter(backoff))
    return [
        ConnectionErrorRetryHandler(max_retry_count=2, interval_calculator=interval),
        ServerErrorRetryHandler(max_retry_count=2, interval_calculator=interval),
        RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries),
    ]


def normalize_api_url(url: str) -> str:
    url = (url or DEFAULT_API_URL).strip()
    return url if url.endswith("/") else url + "/"


class _Cache:
    """A small thread-safe cache with a time to live per entry."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._data: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[bool, Any]:
        with self._lock:
            found = self._data.get(key)
            if found is None or found[0] < self._clock():
                return False, None
            return True, found[1]

    def put(self, key: str, value: Any, ttl: float) -> None:
        with self._lock:
            self._data[key] = (self._clock() + ttl, value)


class SlackGateway:
    """Web API calls the bot makes, typed, paced and retried."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_API_URL,
        post_interval: float = 1.0,
        rate_limit_retries: int = 5,
        retry_backoff: float = 0.5,
        timeout: int = 10,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = normalize_api_url(base_url)
        self.client = WebClient(
            token=token,
            base_url=self.base_url,
            timeout=timeout,
            retry_handlers=retry_handlers(rate_limit_retries, retry_backoff),
        )
        self._timeout = timeout
        self._retries = (rate_limit_retries, retry_backoff)
        self.pacer = Pacer(post_interval, clock=clock, sleep=sleep)
        self._cache = _Cache(clock)

    # ------------------------------------------------------------------ plumbing

    def _call(self, method: str, call: Callable[[], Any]) -> Mapping[str, Any]:
        try:
            response = call()
        except SlackApiError as error:
            status = error.response.status_code
            code = str(error.response.get("error") or f"http_{status}")
            metrics.error("slack", code)
            if status == 429 or status >= 500:
                raise SlackUnavailable(f"{method}: {code} (HTTP {status})") from error
            raise SlackRefused(method, code) from error
        except (URLError, OSError, TimeoutError) as error:
            metrics.error("slack", "unreachable")
            raise SlackUnavailable(f"{method}: {error}") from error
        except SlackClientError as error:
            metrics.error("slack", "client_error")
            raise SlackRefused(method, str(error)) from error
        data: Mapping[str, Any] = response.data if isinstance(response.data, dict) else {}
        return data

    def auth_test(self) -> str:
        """The bot's own user id; SlackRefused when the token is wrong."""
        data = self._call("auth.test", lambda: self.client.auth_test())
        return str(data.get("user_id") or "")

    # ------------------------------------------------------------------ messages

    def post_message(self, channel: str, text: str, blocks: list[dict[str, Any]]) -> Posted:
        """Post, at most about once a second per channel."""

        def post() -> Mapping[str, Any]:
            return self._call(
                "chat.postMessage",
                lambda: self.client.chat_postMessage(
                    channel=channel, text=text, blocks=blocks, unfurl_links=False
                ),
            )

        data = self.pacer.run(channel, post)
        return Posted(str(data.get("channel") or channel), str(data["ts"]))

    def schedule_message(
        self, channel: str, text: str, post_at: int, blocks: list[dict[str, Any]] | None = None
    ) -> str:
        """A message Slack posts at `post_at` (Unix seconds); its `scheduled_message_id`."""
        data = self._call(
            "chat.scheduleMessage",
            lambda: self.client.chat_scheduleMessage(
                channel=channel, text=text, post_at=post_at, blocks=blocks
            ),
        )
        return str(data.get("scheduled_message_id") or "")

    def upload_file(
        self,
        channel: str,
        content: bytes,
        *,
        filename: str,
        title: str,
        alt_text: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        """Share a file in a channel (files.getUploadURLExternal, the upload,
        files.completeUploadExternal); the file's id."""

        def upload() -> Mapping[str, Any]:
            return self._call(
                "files_upload_v2",
                lambda: self.client.files_upload_v2(
                    channel=channel,
                    file=content,
                    filename=filename,
                    title=title,
                    alt_txt=alt_text,
                    thread_ts=thread_ts,
                ),
            )

        data = self.pacer.run(channel, upload)
        return str((data.get("file") or {}).get("id") or "")

    def update_message(
        self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]
    ) -> None:
        self._call(
            "chat.update",
            lambda: self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks),
        )

    def post_ephemeral(
        self, channel: str, user: str, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> None:
        self._call(
            "chat.postEphemeral",
            lambda: self.client.chat_postEphemeral(
                channel=channel, user=user, text=text, blocks=blocks
            ),
        )

    def respond(self, response_url: str, payload: dict[str, Any]) -> None:
        """Answer through an interaction's `response_url` (ephemeral follow-ups)."""
        client = WebhookClient(
            response_url,
            timeout=self._timeout,
            retry_handlers=retry_handlers(*self._retries),
        )
        try:
            response = client.send_dict(payload)
        except (URLError, OSError, TimeoutError) as error:
            raise SlackUnavailable(f"response_url: {error}") from error
        if response.status_code == 429 or response.status_code >= 500:
            raise SlackUnavailable(f"response_url: HTTP {response.status_code}")
        if response.status_code != 200:
            raise SlackRefused("response_url", response.body or str(response.status_code))

    # ------------------------------------------------------------------ views

    def open_view(self, trigger_id: str, view: View) -> str:
        data = self._call(
            "views.open", lambda: self.client.views_open(trigger_id=trigger_id, view=view)
        )
        return str((data.get("view") or {}).get("id", ""))

    def update_view(self, view_id: str, view: View, view_hash: str | None = None) -> None:
        extra = {"hash": view_hash} if view_hash else {}
        self._call(
            "views.update",
            lambda: self.client.views_update(view_id=view_id, view=view, **extra),
        )

    def publish_home(self, user_id: str, view: View) -> None:
        self._call("views.publish", lambda: self.client.views_publish(user_id=user_id, view=view))

    # ------------------------------------------------------------------ people

    def user_for_email(self, email: str) -> str | None:
        """The Slack user with this email (`users.lookupByEmail`), cached; None if none."""
        key = f"email:{email.lower()}"
        hit, value = self._cache.get(key)
        if hit:
            return value if isinstance(value, str) else None
        try:
            data = self._call(
                "users.lookupByEmail", lambda: self.client.users_lookupByEmail(email=email)
            )
        except SlackRefused as error:
            if error.error != "users_not_found":
                raise
            self._cache.put(key, None, ttl=600)
            return None
        user_id = str((data.get("user") or {}).get("id") or "") or None
        self._cache.put(key, user_id, ttl=6 * 3600)
        return user_id

    def user_info(self, user_id: str) -> Mapping[str, Any]:
        """A user's record (`users.info`), cached for an hour; empty when Slack refuses."""
        key = f"user:{user_id}"
        hit, value = self._cache.get(key)
        if hit and isinstance(value, dict):
            return value
        try:
            data = self._call("users.info", lambda: self.client.users_info(user=user_id))
        except SlackRefused:
            self._cache.put(key, {}, ttl=600)
            return {}
        user = dict(data.get("user") or {})
        self._cache.put(key, user, ttl=3600)
        return user

    def user_zone(self, user_id: str) -> str | None:
        """A user's IANA time zone from their Slack profile."""
        return str(self.user_info(user_id).get("tz") or "") or None

    def user_name(self, user_id: str) -> str | None:
        """A user's display name (else real name, else handle)."""
        user = self.user_info(user_id)
        profile = user.get("profile") or {}
        for name in (profile.get("display_name"), profile.get("real_name"), user.get("name")):
            if isinstance(name, str) and name.strip():
                return name.strip()
        return None

    def dm_channel(self, user_id: str) -> str:
        """The app's DM channel with a user (`conversations.open`), cached."""
        key = f"dm:{user_id}"
        hit, value = self._cache.get(key)
        if hit and isinstance(value, str):
            return value
        data = self._call(
            "conversations.open", lambda: self.client.conversations_open(users=[user_id])
        )
        channel = str((data.get("channel") or {}).get("id") or "")
        if not channel:
            raise SlackRefused("conversations.open", "no_channel_returned")
        self._cache.put(key, channel, ttl=24 * 3600)
        return channel
