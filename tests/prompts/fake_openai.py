"""A loopback OpenAI-compatible server: POST /v1/chat/completions on 127.0.0.1.

Tests script its answers (JSON content, raw content, an HTTP status, a delay) or give it a
responder; it records every request body so tests can look at the prompt that was sent.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # a dict is sent as JSON, a str as-is
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


def completion(
    content: str,
    *,
    model: str = "fake-model-1",
    prompt_tokens: int = 321,
    completion_tokens: int = 87,
    finish_reason: str = "stop",
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_763_700_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def error_body(status: int) -> dict[str, Any]:
    kinds = {429: "rate_limit_exceeded", 500: "server_error", 400: "invalid_request_error"}
    return {
        "error": {
            "message": f"fake error {status}",
            "type": kinds.get(status, "error"),
            "param": None,
            "code": None,
        }
    }


class FakeOpenAI:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        self.responder: Callable[[dict[str, Any]], Reply] | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                if self.path != "/v1/chat/completions":
                    self._send(Reply(404, error_body(404)))
                    return
                request = json.loads(raw)
                with fake._lock:
                    fake.requests.append(request)
                    reply = fake._next(request)
                if reply.delay:
                    fake._stop.wait(reply.delay)
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                body = reply.body if reply.body is not None else error_body(reply.status)
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test); nothing to answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def _next(self, request: dict[str, Any]) -> Reply:
        if self.replies:
            return self.replies.popleft()
        if self.responder is not None:
            return self.responder(request)
        return Reply(500, {"error": {"message": "no scripted reply", "type": "server_error"}})

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # scripting helpers
    def answer_json(self, payload: Any, **usage: Any) -> None:
        self.replies.append(Reply(200, completion(json.dumps(payload), **usage)))

    def answer_raw(self, content: str, **usage: Any) -> None:
        self.replies.append(Reply(200, completion(content, **usage)))

    def fail(self, status: int, *, headers: dict[str, str] | None = None) -> None:
        self.replies.append(Reply(status, error_body(status), headers=headers or {}))

    def hang(self, seconds: float) -> None:
        self.replies.append(Reply(200, completion("{}"), delay=seconds))

    def user_prompt(self, index: int = -1) -> str:
        messages = self.requests[index]["messages"]
        return "\n".join(m["content"] for m in messages if m["role"] == "user")
