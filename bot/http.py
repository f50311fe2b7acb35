"""HTTP mode: Bolt as an ASGI app (`/slack/events`) plus `/healthz`, served by uvicorn.

Bolt's own ASGI adapter runs the (sync) app on the event loop; here each request is
dispatched on a thread pool, so one slow listener never stalls the others or the health check.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import uvicorn
from slack_bolt import App
from slack_bolt.adapter.asgi.base_handler import BaseSlackRequestHandler
from slack_bolt.adapter.asgi.http_request import AsgiHttpRequest
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot.traffic import Traffic

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


class SlackAsgi(BaseSlackRequestHandler):
    """`/slack/events` for Slack, `/healthz` for the load balancer, 404 for the rest."""

    def __init__(
        self,
        app: App,
        *,
        path: str = EVENTS_PATH,
        health: Callable[[], None] | None = None,
        workers: int = 32,
        traffic: Traffic | None = None,
    ) -> None:
        self.app = app
        self.path = path
        self.health = health
        self.traffic = traffic or Traffic()
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slack-http")

    async def dispatch(self, request: AsgiHttpRequest) -> BoltResponse:
        bolt_request = BoltRequest(
            body=await request.get_raw_body(),
            query=request.query_string,
            headers=request.get_headers(),
        )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.app.dispatch, bolt_request)

    async def _healthz(self, send: Send) -> None:
        status = 200
        body: dict[str, object] = {"ok": True}
        if self.health is not None:
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(self.executor, self.health)
            except Exception as error:  # the check says what is wrong; the body names it
                log.warning("health check failed: %s", error)
                status, body = 503, {"ok": False, "error": error.__class__.__name__}
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == HEALTH_PATH
            and scope["method"]
            in (
                "GET",
                "HEAD",
            )
        ):
            await self._healthz(send)
            return
        if scope["type"] != "http":
            # The lifespan scope stays open until shutdown: counted, it would be a request
            # in flight for good, and every decision would wait its full give-way.
            await super().__call__(scope, receive, send)
            return
        with self.traffic.request():
            await super().__call__(scope, receive, send)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


class DrainingServer(uvicorn.Server):
    """A uvicorn server that returns after a stopping signal instead of raising it again.

    uvicorn re-raises the signal it caught once it has shut down, so that the process ends as
    the signal asks; here that would kill the process before `run_service` finishes its cycle,
    releases the cycle lock and decides the clicks it already acknowledged."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            try:
                yield
            finally:
                self._captured_signals.clear()


def serve(asgi: SlackAsgi, *, host: str, port: int, log_level: str = "info") -> None:
    """Serve until SIGINT or SIGTERM, then return so the caller drains (uvicorn handles the
    signals while it serves)."""
    config = uvicorn.Config(
        asgi, host=host, port=port, log_level=log_level.lower(), lifespan="on", ws="none"
    )
    try:
        DrainingServer(config).run()
    finally:
        asgi.close()
