"""A loopback HTTP server for the CRM fakes: `http.server` in a thread, real sockets.

A fake vendor subclasses `LoopbackApi` and answers `handle(request)`; the server records every
request, and a test can queue faults (a status with the vendor's headers and error body, or a
delay longer than the client's timeout) that answer the next matching requests instead.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any

    @property
    def line(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(slots=True)
class Answer:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Fault:
    match: str  # "METHOD /path-prefix", "METHOD /path$" for that path only, "" for any
    answer: Answer | None = None
    delay: float = 0.0  # seconds before answering (a timeout when longer than the client's)
    times: int = 1


class Refused(Exception):
    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.status)
        self.answer = answer


class LoopbackApi:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._scheme = "http"
        self._in_flight = 0
        self._idle = threading.Condition(self._lock)

    # ------------------------------------------------------------------ to override
    def handle(self, request: Request) -> Answer:
        raise NotImplementedError

    def decorate(self, request: Request, answer: Answer) -> Answer:
        """Headers every answer carries (rate-limit counters)."""
        return answer

    # ------------------------------------------------------------------ server
    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host!s}:{port}"

    def fail(
        self, match: str, answer: Answer | None = None, *, delay: float = 0.0, times: int = 1
    ) -> None:
        self.faults.append(Fault(match, answer, delay, times))

    def served(self, line_prefix: str) -> list[Request]:
        return [r for r in self.requests if r.line.startswith(line_prefix)]

    def _fault_for(self, request: Request) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                exact = fault.match.endswith("$")
                if (
                    (request.line == fault.match[:-1])
                    if exact
                    else request.line.startswith(fault.match)
                ):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def settle(self, timeout: float = 5.0) -> None:
        """Wait until every request received has been handled (an answer a client gave up
        on still does its work on the server, as it would at the vendor)."""
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def _dispatch(self, request: Request) -> Answer:
        with self._lock:
            self.requests.append(request)
            self._in_flight += 1
        try:
            return self._answer(request)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def _answer(self, request: Request) -> Answer:
        fault = self._fault_for(request)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.answer is not None:
                return self.decorate(request, fault.answer)
        try:
            with self._lock:
                answer = self.handle(request)
        except Refused as refused:
            answer = refused.answer
        return self.decorate(request, answer)

    @contextmanager
    def running(self, tls: ssl.SSLContext | None = None) -> Iterator[LoopbackApi]:
        """Serve on 127.0.0.1 until the block ends; over TLS with `tls` (a server context)."""
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in two writes; without this, Nagle's algorithm and the
            # client's delayed ACK hold every keep-alive answer for 40 ms.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body: Any = None
                if raw:
                    if "json" in (self.headers.get("Content-Type") or ""):
                        body = json.loads(raw)
                    else:
                        body = dict(parse_qsl(raw.decode()))
                request = Request(
                    self.command,
                    parts.path,
                    dict(parse_qsl(parts.query, keep_blank_values=True)),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                answer = api._dispatch(request)
                payload = b"" if answer.body is None else json.dumps(answer.body).encode()
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in answer.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        self._scheme = "https" if tls is not None else "http"
        self._server = server
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
            self._server = None
