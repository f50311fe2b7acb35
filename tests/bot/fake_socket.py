"""A loopback Socket Mode endpoint: the WebSocket that `apps.connections.open` points at.

It speaks Slack's side of the protocol (https://api.slack.com/apis/socket-mode): a `hello`
when the app connects, then envelopes (`envelope_id`, `type`, `payload`,
`accepts_response_payload`) that the app must acknowledge by sending back
`{"envelope_id": ...}` (with a `payload` when it answers one). Served by the `websockets`
package in a thread; it records every ack so a test can wait for one.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

APP = "A0FOLLOWUP"


class FakeSocketMode:
    """`with FakeSocketMode() as socket:`; point the fake Web API's `socket_url` at `url`."""

    def __init__(self) -> None:
        self.server: Server = serve(self._session, "127.0.0.1", 0, compression=None)
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.lock = threading.Condition()
        self.connections: list[ServerConnection] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.unexpected: list[str] = []
        self._ids = itertools.count(1)

    @property
    def url(self) -> str:
        # Slack's URLs carry a ticket; the client must keep the query when it connects.
        return f"ws://127.0.0.1:{self.port}/link/?ticket=test-ticket&app_id={APP}"

    def __enter__(self) -> FakeSocketMode:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join(5)

    # ------------------------------------------------------------------ Slack's side

    def _session(self, connection: ServerConnection) -> None:
        request = connection.request
        if request is None or "ticket=test-ticket" not in request.path:
            connection.close(code=1008, reason="no ticket")
            return
        connection.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {
                        "host": "applink-fake",
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": APP},
                }
            )
        )
        with self.lock:
            self.connections.append(connection)
            self.lock.notify_all()
        try:
            for raw in connection:
                message = json.loads(raw)
                with self.lock:
                    if isinstance(message, dict) and "envelope_id" in message:
                        self.acks[str(message["envelope_id"])] = message
                    else:
                        self.unexpected.append(str(raw))
                    self.lock.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self.lock:
                self.connections.remove(connection)
                self.lock.notify_all()

    # ------------------------------------------------------------------ test controls

    def wait_connected(self, timeout: float = 10.0) -> None:
        with self.lock:
            assert self.lock.wait_for(lambda: bool(self.connections), timeout), (
                "the app did not connect over Socket Mode"
            )

    def deliver(
        self, kind: str, payload: dict[str, Any], *, accepts_response_payload: bool = False
    ) -> str:
        """Send one envelope (`interactive`, `slash_commands`, `events_api`); its id."""
        envelope_id = f"env-{next(self._ids)}"
        with self.lock:
            connection = self.connections[-1]
        connection.send(
            json.dumps(
                {
                    "envelope_id": envelope_id,
                    "type": kind,
                    "payload": payload,
                    "accepts_response_payload": accepts_response_payload,
                }
            )
        )
        return envelope_id

    def ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The app's acknowledgement of an envelope, once it has come."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while envelope_id not in self.acks:
                left = deadline - time.monotonic()
                assert left > 0, f"envelope {envelope_id} was not acknowledged"
                self.lock.wait(left)
            return self.acks[envelope_id]
