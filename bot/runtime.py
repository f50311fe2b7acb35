"""Wiring the Slack side: the gateway and review surface, the Bolt app and its listeners,
and the two ways to receive Slack's requests (Socket Mode, HTTP). Used by `app.py` (the
composition root) and by the tests, so both build the same thing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.gateway import SlackGateway, SlackUnavailable
from bot.handoffs import SlackHandoffSurface, register_handoffs
from bot.http import SlackAsgi
from bot.listeners import Listeners, register
from bot.surface import Destination, SlackReviewSurface
from bot.traffic import Traffic
from flows.ports import NoHandoffSurface, Services

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class SlackRuntime:
    app: App
    gateway: SlackGateway
    surface: SlackReviewSurface
    listeners: Listeners
    executor: ThreadPoolExecutor
    traffic: Traffic

    def close(self) -> None:
        """Let the listeners in flight finish, then stop the surface's worker."""
        self.executor.shutdown(wait=True)
        self.listeners.close()
        self.surface.stop()

    def asgi(self, services: Services) -> SlackAsgi:
        """The HTTP app; `/healthz` answers 200 while storage answers."""
        return SlackAsgi(self.app, health=lambda: _storage_answers(services), traffic=self.traffic)

    def start_socket_mode(self, app_token: str) -> Callable[[], None]:
        """Connect over Socket Mode (no public URL needed); returns the disconnect."""
        handler = _SocketModeHandler(self.app, app_token, traffic=self.traffic)
        handler.connect()  # type: ignore[no-untyped-call]
        return handler.close


class _SocketModeHandler(SocketModeHandler):
    """Bolt's handler, counting each envelope as a request in flight (see bot.traffic)."""

    def __init__(self, app: App, app_token: str, *, traffic: Traffic) -> None:
        super().__init__(app, app_token)
        self.traffic = traffic

    # Narrowed to the builtin client exactly as Bolt's own SocketModeHandler.handle is.
    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        with self.traffic.request():
            super().handle(client, req)


def _storage_answers(services: Services) -> None:
    services.store.sync_state.get("healthz")


def slack_surface(
    token: str,
    *,
    api_url: str,
    review_channel: str | None,
    drafts_to: str,
    background: bool = False,
    post_interval: float = 1.0,
    summary_above: int = 10,
) -> SlackReviewSurface:
    """The review surface on Slack. No network until something is published."""
    gateway = SlackGateway(token, base_url=api_url, post_interval=post_interval)
    return SlackReviewSurface(
        gateway,
        Destination(review_channel, drafts_to, summary_above=summary_above),
        background=background,
    )


def slack_app(
    services: Services,
    *,
    signing_secret: str,
    decide_before_response: bool = False,
    token_verification: bool | None = None,
    clock: Callable[[], datetime] = _now,
    decisions: int = 1,
) -> SlackRuntime:
    """The Bolt app on the surface's gateway (its WebClient honours SLACK_API_URL), with every
    listener registered. `services.review` must be a `SlackReviewSurface`.

    Bolt runs with `process_before_response=True` in both uses: a listener runs inside the
    request and the response leaves when it returns, with no thread hop and no polling for
    `ack()`. What a listener does before returning is the choice here: by default it acks and
    hands its decision to the decision queue (the response leaves within milliseconds; the
    `decisions` workers give way to requests in flight, see bot.traffic);
    `decide_before_response=True` (the tests) returns only once the flow has decided and
    storage holds the result, so a test's next assertion never races the listener.

    `token_verification`: True asks Bolt to call `auth.test` now (and fail if it fails);
    False leaves it to the first request; None (the default) does it now when Slack answers,
    else leaves it for later, so an outage at start delays nothing and no request pays for it.
    SlackRefused when Slack says the token is wrong."""
    surface = services.review
    if not isinstance(surface, SlackReviewSurface):
        raise TypeError("services.review must be a SlackReviewSurface; see slack_surface()")
    surface.bind(services)
    if isinstance(services.handoffs, NoHandoffSurface):
        services.handoffs = SlackHandoffSurface.on(surface)
    traffic = Traffic()
    surface.give_way_to(traffic)
    executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="bolt")
    if token_verification is None:
        try:
            surface.gateway.auth_test()  # SlackRefused (a wrong token) goes up: fix the setup
            token_verification = True
        except SlackUnavailable as error:
            log.warning("Slack is not reachable yet (%s); the token is checked later", error)
            token_verification = False
    app = App(
        client=surface.gateway.client,
        signing_secret=signing_secret,
        process_before_response=True,
        token_verification_enabled=token_verification,
        name="followup",
        listener_executor=executor,  # lazy listeners (/followup); Bolt's default is 5 threads
    )
    listeners = register(
        app,
        services=services,
        gateway=surface.gateway,
        clock=clock,
        decisions=decisions,
        wait=decide_before_response,
        traffic=traffic,
    )
    handoffs = services.handoffs
    if not isinstance(handoffs, SlackHandoffSurface):
        handoffs = SlackHandoffSurface.on(surface)
    register_handoffs(app, listeners, handoffs, clock)
    return SlackRuntime(app, surface.gateway, surface, listeners, executor, traffic)
