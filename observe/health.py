"""A small HTTP listener for operators, in every mode (Socket Mode, HTTP, no Slack):
`/healthz` (the process answers), `/readyz` (each dependency, as JSON; 503 when one is not
ready) and `/metrics` (Prometheus)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from observe.metrics import exposition

log = logging.getLogger(__name__)

# A check returns None when ready, else what is wrong (one line).
Check = Callable[[], str | None]


@dataclass
class Readiness:
    checks: Mapping[str, Check]
    # Slow or rate-limited checks (Slack's auth.test) are asked at most this often.
    cache_seconds: float = 30.0
    _cached: dict[str, tuple[float, str | None]] = field(default_factory=dict)
    cached: frozenset[str] = frozenset()

    def report(self) -> tuple[bool, dict[str, str]]:
        results: dict[str, str] = {}
        for name, check in self.checks.items():
            hit = self._cached.get(name)
            if (
                name in self.cached
                and hit is not None
                and time.monotonic() - hit[0] < self.cache_seconds
            ):
                problem = hit[1]
            else:
                try:
                    problem = check()
                except Exception as error:  # a check that fails is a problem, not a crash
                    problem = f"{type(error).__name__}: {error}"
                self._cached[name] = (time.monotonic(), problem)
            results[name] = problem or "ok"
        return all(v == "ok" for v in results.values()), results


class HealthServer:
    def __init__(self, readiness: Readiness, *, host: str = "0.0.0.0", port: int = 9108) -> None:  # noqa: S104
        served = readiness

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                if path == "/healthz":
                    self._send(200, b"ok\n", "text/plain; charset=utf-8")
                elif path == "/readyz":
                    ready, checks = served.report()
                    body = json.dumps({"ready": ready, "checks": checks}, indent=1).encode()
                    self._send(200 if ready else 503, body + b"\n", "application/json")
                elif path == "/metrics":
                    self._send(200, exposition(), CONTENT_TYPE_LATEST)
                else:
                    self._send(404, b"not found: /healthz, /readyz, /metrics\n", "text/plain")

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="health", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> HealthServer:
        self.thread.start()
        log.info("health: /healthz, /readyz and /metrics on port %d", self.port)
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
