"""A loopback Slack Web API for tests: `http.server` in a thread.

It records every call, and refuses (and records as a violation) any method or argument the
published OpenAPI spec (`corpora/slack/slack-api-specs/web-api/slack_web_openapi_v2.json`, as
tabled for the methods followup calls in `tests/bot/slack_api.json`) does not know, any missing required argument, and any request without the bot token. Success
responses start from the spec's documented example for the method, with the fields a caller
reads filled in. It keeps posted messages, opened views and home tabs so a test can look at
what a person would see, and it can answer a method with 429 + Retry-After (or 5xx) on demand.

The spec is from 2020. What the bot uses that is newer is allowed explicitly, below.
Interaction `response_url`s point at `/respond/<id>` on the same server and are recorded too,
and so do the upload URLs `files.getUploadURLExternal` hands out (`/upload/<file id>`): a file
is shared once its bytes arrived there and `files.completeUploadExternal` names it.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# Newer than the 2020 spec and used by followup; each entry says why.
NEWER_METHODS: dict[str, set[str]] = {
    # Socket Mode: the app-level token opens the WebSocket URL (Bolt's SocketModeHandler).
    "apps.connections.open": set(),
    # File uploads since 2024 (files.upload is retired): slack_sdk's `files_upload_v2` asks for
    # an upload URL, POSTs the bytes there, then completes the upload into a channel.
    "files.getUploadURLExternal": {"filename", "length", "alt_txt", "snippet_type"},
    "files.completeUploadExternal": {
        "files",
        "channel_id",
        "channels",
        "initial_comment",
        "thread_ts",
        "blocks",
    },
}
NEWER_REQUIRED: dict[str, set[str]] = {
    "files.getUploadURLExternal": {"filename", "length"},
    "files.completeUploadExternal": {"files"},
}
# chat.scheduleMessage refuses a `post_at` more than 120 days ahead.
SCHEDULE_AHEAD_MAX = 120 * 24 * 3600
NEWER_ARGUMENTS: dict[str, set[str]] = {
    # Bolt (>= 1.15) gives each request its own WebClient built with `team_id=` (for org-wide
    # apps), and slack_sdk then adds `team_id` to every call that client makes. The only call
    # followup leaves to that client is the lazy `auth.test` of single-workspace authorization.
    "auth.test": {"team_id"},
}

MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
TEXT_MAX = 40_000


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    args: dict[str, Any]
    status: int
    at: float


@dataclass(slots=True)
class Failure:
    status: int
    times: int
    retry_after: int | None = None
    error: str | None = None  # Slack's error code; by default from the status


@dataclass(slots=True)
class SlackUser:
    id: str
    name: str
    email: str = ""
    tz: str = "UTC"


@dataclass(slots=True)
class State:
    calls: list[Call] = field(default_factory=list)
    responses: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    ephemerals: list[dict[str, Any]] = field(default_factory=list)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    homes: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)  # file id -> upload
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # completed, shared files
    scheduled: dict[str, dict[str, Any]] = field(default_factory=dict)


class Spec:
    """Methods, their argument names and required arguments: from `tests/bot/slack_api.json`
    (the methods followup calls, generated from the OpenAPI document by
    `scripts/slack_api_table.py`), or from the OpenAPI document itself."""

    def __init__(self, path: Path) -> None:
        document = json.loads(path.read_text(encoding="utf-8"))
        self.arguments: dict[str, set[str]] = {}
        self.required: dict[str, set[str]] = {}
        self.examples: dict[str, dict[str, Any]] = {}
        for method, facts in document.get("methods", {}).items():
            self.arguments[method] = set(facts["arguments"])
            self.required[method] = set(facts["required"])
            self.examples[method] = dict(facts["example"])
        for route, operations in document.get("paths", {}).items():
            method = route.lstrip("/")
            for operation in operations.values():
                params = operation.get("parameters", [])
                self.arguments[method] = {p["name"] for p in params} - {"token"}
                self.required[method] = {
                    p["name"] for p in params if p.get("required") and p["name"] != "token"
                }
                example = (
                    operation.get("responses", {})
                    .get("200", {})
                    .get("examples", {})
                    .get("application/json")
                )
                self.examples[method] = example if isinstance(example, dict) else {"ok": True}
        for method, extra in NEWER_METHODS.items():
            self.arguments.setdefault(method, set()).update(extra)
            self.required.setdefault(method, set()).update(NEWER_REQUIRED.get(method, set()))
            self.examples.setdefault(method, {"ok": True})
        for method, extra in NEWER_ARGUMENTS.items():
            self.arguments[method].update(extra)

    def check(self, method: str, args: dict[str, Any]) -> list[str]:
        if method not in self.arguments:
            return [f"{method}: not a Web API method"]
        problems = [
            f"{method}: unknown argument {name!r}"
            for name in args
            if name not in self.arguments[method]
        ]
        problems += [
            f"{method}: missing {name!r}" for name in self.required[method] if name not in args
        ]
        return problems


def _loads(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class FakeSlack:
    """Start with `with FakeSlack(spec_path, token) as slack:`; `slack.api_url` for clients."""

    def __init__(self, spec_path: Path, token: str, users: list[SlackUser] | None = None) -> None:
        self.spec = Spec(spec_path)
        self.token = token
        self.users = {u.id: u for u in users or []}
        self.state = State()
        self.lock = threading.Condition()
        self._stamps = itertools.count(1)
        self._views = itertools.count(1)
        self._files = itertools.count(1)
        self._scheduled = itertools.count(1)
        # Slack's clock for chat.scheduleMessage's `post_at` checks; None: no time checks (a
        # test on a simulated clock sets it to that clock).
        self.clock: Callable[[], float] | None = None
        # Socket Mode: the app-level token and the WebSocket URL apps.connections.open gives.
        self.app_token: str | None = None
        self.socket_url: str | None = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                fake._handle(self)

            def do_POST(self) -> None:
                fake._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, name: str = "1") -> str:
        return f"{self.url}/respond/{name}"

    def __enter__(self) -> FakeSlack:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------ test controls

    def fail(
        self,
        method: str,
        *,
        status: int = 429,
        times: int = 1,
        retry_after: int | None = 1,
        error: str | None = None,
    ) -> None:
        with self.lock:
            self.state.failures[method] = Failure(status, times, retry_after, error)

    def recover(self, method: str) -> None:
        """Answer `method` normally again (after `fail(..., times=<many>)`: an outage ends)."""
        with self.lock:
            self.state.failures.pop(method, None)

    def files(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Files shared by files.completeUploadExternal, with their bytes under `content`."""
        with self.lock:
            found = list(self.state.files.values())
        return [f for f in found if channel is None or f.get("channel") == channel]

    def scheduled(self, channel: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            found = [dict(m, id=k) for k, m in self.state.scheduled.items()]
        return [m for m in found if channel is None or m.get("channel") == channel]

    def calls(self, method: str | None = None, *, ok_only: bool = False) -> list[Call]:
        with self.lock:
            found = [c for c in self.state.calls if method is None or c.method == method]
        return [c for c in found if c.status == 200] if ok_only else found

    def responses(self) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            return list(self.state.responses)

    @property
    def violations(self) -> list[str]:
        with self.lock:
            return list(self.state.violations)

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        with self.lock:
            return dict(self.state.messages[(channel, ts)])

    def only_message(self) -> tuple[str, str, dict[str, Any]]:
        with self.lock:
            [(key, value)] = self.state.messages.items()
        return key[0], key[1], dict(value)

    def home(self, user: str) -> dict[str, Any]:
        with self.lock:
            return dict(self.state.homes[user])

    def view(self, view_id: str) -> dict[str, Any]:
        with self.lock:
            return dict(self.state.views[view_id])

    def ephemerals(self, user: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.state.ephemerals if user is None or e.get("user") == user]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        with self.lock:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("the fake Slack did not see what was expected in time")
                self.lock.wait(left)

    @contextmanager
    def expecting(self, count: int, method: str, timeout: float = 5.0) -> Iterator[None]:
        """Wait, after the block, until `count` more successful calls of `method` arrived."""
        before = len(self.calls(method, ok_only=True))
        yield
        self.wait_for(
            lambda: (
                len([c for c in self.state.calls if c.method == method and c.status == 200])
                >= before + count
            ),
            timeout,
        )

    # ------------------------------------------------------------------ HTTP

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        split = urlsplit(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        if split.path.startswith("/respond/"):
            self._respond(request, split.path.removeprefix("/respond/"), raw)
            return
        if split.path.startswith("/upload/"):
            self._upload(request, split.path.removeprefix("/upload/"), raw)
            return
        if not split.path.startswith("/api/"):
            self._send(request, 404, {"ok": False, "error": "not_found"})
            return
        method = split.path.removeprefix("/api/")
        args: dict[str, Any] = dict(parse_qsl(split.query))
        content_type = request.headers.get("Content-Type", "")
        if raw and content_type.startswith("application/json"):
            args.update(json.loads(raw))
        elif raw:
            args.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        args.pop("token", None)
        status, body, headers = self._answer(method, args, request.headers.get("Authorization", ""))
        with self.lock:
            self.state.calls.append(Call(method, args, status, time.monotonic()))
            self.lock.notify_all()
        self._send(request, status, body, headers)

    def _send(
        self,
        request: BaseHTTPRequestHandler,
        status: int,
        body: dict[str, Any] | str,
        headers: dict[str, str] | None = None,
    ) -> None:
        payload = (body if isinstance(body, str) else json.dumps(body)).encode()
        request.send_response(status)
        kind = "text/plain" if isinstance(body, str) else "application/json; charset=utf-8"
        request.send_header("Content-Type", kind)
        request.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(payload)

    def _respond(self, request: BaseHTTPRequestHandler, name: str, raw: bytes) -> None:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        problems = self._check_blocks("response_url", body.get("blocks"), MESSAGE_BLOCKS_MAX)
        with self.lock:
            self.state.violations += problems
            self.state.responses.append((name, body))
            self.lock.notify_all()
        self._send(request, 200, "ok")

    def _upload(self, request: BaseHTTPRequestHandler, file_id: str, raw: bytes) -> None:
        """An upload URL: `fail("upload", status=...)` makes it answer with an error."""
        with self.lock:
            failure = self.state.failures.get("upload")
            status = 200
            if failure is not None and failure.times > 0:
                failure.times -= 1
                status = failure.status
            upload = self.state.uploads.get(file_id)
            if upload is None:
                status = 404
            elif status == 200:
                upload["content"] = raw
            self.state.calls.append(
                Call("upload", {"file_id": file_id, "bytes": len(raw)}, status, time.monotonic())
            )
            self.lock.notify_all()
        self._send(request, status, "OK - 200" if status == 200 else "error")

    # ------------------------------------------------------------------ the API

    def _violation(self, problems: list[str]) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self.lock:
            self.state.violations += problems
        return 200, {"ok": False, "error": "fake_slack_rejected", "detail": problems}, {}

    def _answer(
        self, method: str, args: dict[str, Any], authorization: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        problems = self.spec.check(method, args)
        if problems:
            return self._violation(problems)
        # Socket Mode's URL is issued to the app-level token only, and only it opens one.
        expected = self.app_token if method == "apps.connections.open" else self.token
        if authorization != f"Bearer {expected}":
            wrong_kind = authorization in (f"Bearer {self.token}", f"Bearer {self.app_token}")
            return (
                200,
                {"ok": False, "error": "not_allowed_token_type" if wrong_kind else "invalid_auth"},
                {},
            )
        with self.lock:
            failure = self.state.failures.get(method)
            if failure is not None and failure.times > 0:
                failure.times -= 1
                headers = (
                    {"Retry-After": str(failure.retry_after)}
                    if failure.retry_after is not None
                    else {}
                )
                error = failure.error or (
                    "ratelimited" if failure.status == 429 else "internal_error"
                )
                return failure.status, {"ok": False, "error": error}, headers
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        base = json.loads(json.dumps(self.spec.examples.get(method) or {"ok": True}))
        if handler is None:
            return 200, {"ok": True}, {}
        answer: tuple[int, dict[str, Any], dict[str, str]] = handler(args, base)
        return answer

    def _check_blocks(self, where: str, blocks: Any, limit: int) -> list[str]:
        blocks = _loads(blocks)
        if blocks is None:
            return []
        if not isinstance(blocks, list):
            return [f"{where}: blocks is not a list"]
        problems = []
        if len(blocks) > limit:
            problems.append(f"{where}: {len(blocks)} blocks (max {limit})")
        if any(not isinstance(b, dict) or "type" not in b for b in blocks):
            problems.append(f"{where}: a block without a type")
        return problems

    def _check_message(self, method: str, args: dict[str, Any]) -> list[str]:
        problems = self._check_blocks(method, args.get("blocks"), MESSAGE_BLOCKS_MAX)
        if len(str(args.get("text") or "")) > TEXT_MAX:
            problems.append(f"{method}: text longer than {TEXT_MAX}")
        return problems

    def _check_view(self, method: str, view: Any) -> tuple[dict[str, Any], list[str]]:
        view = _loads(view)
        if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
            return {}, [f"{method}: view is not a modal or home view"]
        problems = self._check_blocks(method, view.get("blocks"), VIEW_BLOCKS_MAX)
        if len(str(view.get("private_metadata") or "")) > 3000:
            problems.append(f"{method}: private_metadata longer than 3000")
        if view["type"] == "modal" and len((view.get("title") or {}).get("text", "")) > 24:
            problems.append(f"{method}: modal title longer than 24")
        return view, problems

    def _ts(self) -> str:
        n = next(self._stamps)
        return f"{1_700_000_000 + n}.{n:06d}"

    def _m_apps_connections_open(self, args: dict[str, Any], base: dict[str, Any]) -> Any:
        if self.socket_url is None:
            return self._violation(["apps.connections.open: this test serves no Socket Mode"])
        return 200, base | {"ok": True, "url": self.socket_url}, {}

    def _m_auth_test(self, args: dict[str, Any], base: dict[str, Any]) -> Any:
        base.update(
            ok=True,
            team="Northwind",
            team_id="T0TEST",
            user="followup",
            user_id="U0BOT",
            bot_id="B0BOT",
        )
        base["url"] = "https://northwind.slack.com/"
        return 200, base, {}

    def _m_chat_postMessage(self, args: dict[str, Any], base: dict[str, Any]) -> Any:
        problems = self._check_message("chat.postMessage", args)
        if problems:
            return self._violation(problems)
        channel = str(args["channel"])
        if channel.startswith(("U", "W")):
            channel = "D" + channel[1:]
        ts = self._ts()
        message = {
            "type": "message",
            "text": args.get("text"),
            "blocks": _loads(args.get("blocks")),
            "ts": ts,
            "bot_id": "B0BOT",
        }
        with self.lock:
            self.state.messages[(channel, ts)] = message
        base.update(ok=True, channel=channel, ts=ts, message=message)
        return 200, base, {}

    def _m_chat_update(self, args: dict[str, Any], base: dict[str, Any]) -> Any:
        problems = self._check_message("chat.update", args)
        if problems:
            return self._violation(problems)
        key = (str(args["channel"]), str(args["ts"]))
        with self.lock:
            if key not in self.state.messages:
                return 200, {"ok": False, "error": "message_not_found"}, {}
            self.state.messages[key].update(
                text=args.get("text"), blocks=_loads(args.get("blocks"))
            )
        base.update(ok=True, channel=key[0], ts=key[1], text=args.get("text"))
        return 200, base, {}

    def _m_chat_postEphemeral(self, args: dict[str, Any], base: dict[str, Any]) -> Any:
        problems = self._check_message("chat.postEphemeral", args)
        if problems:
            return self._violation(problems)
        with self.lock:
            self.state.ephemerals.append(dict(args, blocks=_loads(args.get("blocks"))))
        base.update(ok=True, message_ts=self._ts())
        return 200, base, {}

    def _m_views_open(self, args: dict[str, Any], base: dict[str, Any]) -> Any:
        view, problems = self._check_view("views.open", args["view"])
        if problems:
            return self._violation(problems)
        view_id = f"V{next(self._views):08d}"
        documented = dict(base.get("view") or {})  # app_id, bot_id, team_id... as documented
        stored = documented | view | {"id": view_id, "hash": f"{time.time():.0f}.{view_id}"}
        with self.lock:
            self.state.views[view_id] = stored
        base.update(ok=True, view=stored)
        return 200, base, {}

    def _m_views_update(self, args: dict[str, Any], base: dict[str, Any]) -> Any:
        view, problems = self._check_view("views.update", args.get("view"))
        if problems:
            return self._violation(problems)
        view_id = str(args.get("view_id") or "")
        with self.lock:
            current = self.state.views.get(view_id)
            if current is None:
                return 200, {"ok": False, "error": "not_found"}, {}
            if args.get("hash") and args["hash"] != current["hash"]:
                return 200, {"ok": False, "error": "hash_conflict"}, {}
            stored = dict(view, id=view_id, hash=f"{time.time():.0f}.{view_id}.{next(self._views)}")
            self.state.views[view_id] = stored
        base.update(ok=True, view=stored)
        return 200, base, {}

    def _m_views_publish(self, args: dict[str, Any], base: dict[str, Any]) -> Any:
        view, problems = self._check_view("views.publish", args["view"])
        if problems:
            return self._violation(problems)
        with self.lock:
            self.state.homes[str(args["user_id"])] = view
        base.update(ok=True, view=dict(view, id="VHOME"))
        return 200, base, {}

    def _user(self, base: dict[str, Any], user: SlackUser) -> dict[str, Any]:
        record = dict(base.get("user") or {})
        profile = dict(record.get("profile") or {})
        profile.update(display_name=user.name, real_name=user.name, email=user.email)
        record.update(id=user.id, name=user.name, tz=user.tz, profile=profile, deleted=False)
        return record

    def _m_users_lookupByEmail(self, args: dict[str, Any], base: dict[str, Any]) -> Any:
        email = str(args["email"]).lower()
        found = next((u for u in self.users.values() if u.email.lower() == email), None)
        if found is None:
            return 200, {"ok": False, "error": "users_not_found"}, {}
        base.update(ok=True, user=self._user(base, found))
        return 200, base, {}

    def _m_users_info(self, args: dict[str, Any], base: dict[str, Any]) -> Any:
        found = self.users.get(str(args.get("user") or ""))
        if found is None:
            return 200, {"ok": False, "error": "user_not_found"}, {}
        base.update(ok=True, user=self._user(base, found))
        return 200, base, {}

    def _m_conversations_open(self, args: dict[str, Any], base: dict[str, Any]) -> Any:
        users = str(args.get("users") or "")
        if not users:
            return 200, {"ok": False, "error": "users_list_not_supplied"}, {}
        channel = dict(base.get("channel") or {})
        channel.update(id="D" + users.split(",")[0][1:])
        base.update(ok=True, channel=channel)
        return 200, base, {}

    def _m_chat_scheduleMessage(self, args: dict[str, Any], base: dict[str, Any]) -> Any:
        problems = self._check_message("chat.scheduleMessage", args)
        if "channel" not in args or "post_at" not in args:
            problems.append("chat.scheduleMessage: channel and post_at are required")
        if not str(args.get("post_at", "")).isdigit():
            problems.append("chat.scheduleMessage: post_at is not Unix seconds")
        if problems:
            return self._violation(problems)
        post_at = int(args["post_at"])
        if self.clock is not None:
            now = self.clock()
            if post_at <= now:
                return 200, {"ok": False, "error": "time_in_past"}, {}
            if post_at > now + SCHEDULE_AHEAD_MAX:
                return 200, {"ok": False, "error": "time_too_far"}, {}
        channel = str(args["channel"])
        if channel.startswith(("U", "W")):
            channel = "D" + channel[1:]
        scheduled_id = f"Q{next(self._scheduled):010d}"
        with self.lock:
            self.state.scheduled[scheduled_id] = {
                "channel": channel,
                "post_at": post_at,
                "text": args.get("text"),
                "blocks": _loads(args.get("blocks")),
            }
        message = dict(base.get("message") or {})
        message.update(text=args.get("text"), type="delayed_message", bot_id="B0BOT")
        message.pop("attachments", None)
        base.update(
            ok=True,
            channel=channel,
            post_at=str(post_at),
            scheduled_message_id=scheduled_id,
            message=message,
        )
        return 200, base, {}

    def _m_files_getUploadURLExternal(self, args: dict[str, Any], base: dict[str, Any]) -> Any:
        length = str(args.get("length", ""))
        if not length.isdigit() or int(length) < 1:
            return 200, {"ok": False, "error": "invalid_arguments"}, {}
        file_id = f"F{next(self._files):08d}"
        with self.lock:
            self.state.uploads[file_id] = {
                "filename": args["filename"],
                "length": int(length),
                "alt_txt": args.get("alt_txt"),
                "content": None,
            }
        base.update(ok=True, file_id=file_id, upload_url=f"{self.url}/upload/{file_id}")
        return 200, base, {}

    def _m_files_completeUploadExternal(self, args: dict[str, Any], base: dict[str, Any]) -> Any:
        files = _loads(args.get("files"))
        if not isinstance(files, list) or not files:
            return self._violation(["files.completeUploadExternal: files is not a JSON list"])
        channel = args.get("channel_id")
        completed = []
        with self.lock:
            for item in files:
                upload = self.state.uploads.get(str(item.get("id")))
                content = upload.get("content") if upload is not None else None
                if upload is None or content is None or len(content) != upload["length"]:
                    return 200, {"ok": False, "error": "file_not_found"}, {}
                record = {
                    "id": item["id"],
                    "name": upload["filename"],
                    "title": item.get("title") or upload["filename"],
                    "alt_txt": upload["alt_txt"],
                    "size": len(content),
                    "channel": channel,
                    "thread_ts": args.get("thread_ts"),
                    "content": content,
                }
                self.state.files[str(item["id"])] = record
                shown = {k: v for k, v in record.items() if k not in ("content", "channel")}
                completed.append(shown | {"channels": [channel] if channel else []})
        base.update(ok=True, files=completed)
        return 200, base, {}
