"""The Slack side as it runs: the real Bolt app (process_before_response=True, and every
decision made before the response) served over HTTP
by uvicorn on 127.0.0.1, signed requests to it, and a loopback fake Web API behind the
gateway. A test drives it like Slack would and looks at what people would see."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx2
import pytest
import uvicorn
from sqlalchemy import Engine

from bot.gateway import SlackGateway
from bot.http import SlackAsgi
from bot.runtime import SlackRuntime, slack_app
from bot.surface import Destination, SlackReviewSurface
from crm.fake import FakeCrm
from flows.cycle import run_cycle
from flows.delivery import deliver_due
from flows.ports import Policy, Services
from mail.fake import FakeMailbox
from prompts.drafter import TemplateDrafter
from prompts.edit_check import DraftGuardrails
from storage.db import make_engine, migrate
from storage.repos import Store
from tests.bot import payloads
from tests.bot.fake_slack import FakeSlack, SlackUser
from tests.conftest import _truncate as truncate
from tests.factories import proposal_pipeline
from triggers.drafts import Draft
from triggers.model import Pipeline

TOKEN = "xoxb-test-token"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
MAYA = ("U01MAYA", "maya")  # the deal's owner (America/New_York)
ADMIN = ("U0ADMIN", "ada")
STRANGER = ("U0STRANGER", "sam")
# Monday 23 Nov 2026, 09:00 UTC: 04:00 in New York, 10:00 in Berlin (inside Jordan's window).
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

USERS = [
    SlackUser("U01MAYA", "maya", "maya@northwind.example", "America/New_York"),
    SlackUser("U0ADMIN", "ada", "ada@northwind.example", "Europe/London"),
    SlackUser("U0STRANGER", "sam", "sam@northwind.example", "UTC"),
    SlackUser("U0LEE", "lee", "lee@northwind.example", "Asia/Tokyo"),
]


class Delegate:
    """The ASGI app the session's server passes each request to: the current test's."""

    def __init__(self) -> None:
        self.target: SlackAsgi | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.target is not None, "no Slack app is being served"
        await self.target(scope, receive, send)

    def close(self) -> None:
        return None


class Server:
    """An ASGI app served by uvicorn on a free loopback port, in a thread (with the lifespan
    protocol on, as `bot.http.serve` runs it, when asked)."""

    def __init__(
        self, asgi: Any, http: str = "h11", lifespan: Literal["on", "off"] = "off"
    ) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        config = uvicorn.Config(asgi, lifespan=lifespan, log_level="warning", ws="none", http=http)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )
        self.asgi = asgi

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()
        self.asgi.close()


@dataclass
class World:
    """Everything a Slack test touches."""

    services: Services
    surface: SlackReviewSurface
    runtime: SlackRuntime
    fake: FakeSlack
    http: httpx2.Client
    now: list[datetime] = field(default_factory=lambda: [MONDAY])
    responses: int = 0

    # -------------------------------------------------------------- time and the service

    def clock(self) -> datetime:
        return self.now[0]

    def cycle(self) -> list[Draft]:
        report = run_cycle(self.services, self.clock())
        self.drain()
        return report.drafted

    def deliver(self) -> list[int]:
        report = deliver_due(self.services, self.clock())
        self.drain()
        return report.sent

    def drain(self) -> None:
        assert self.surface.wait_idle(10), "the review surface did not settle"

    # -------------------------------------------------------------- what people see

    def draft_message(self, draft_id: int) -> tuple[str, dict[str, Any]]:
        draft = self.services.store.drafts.get(draft_id)
        assert draft is not None
        assert draft.slack_channel, "draft was not posted"
        assert draft.slack_ts, "draft was not posted"
        return draft.slack_channel, self.fake.message(draft.slack_channel, draft.slack_ts)

    # -------------------------------------------------------------- Slack's requests

    def post(
        self,
        body: str,
        *,
        content_type: str,
        secret: str = SECRET,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx2.Response:
        signed = payloads.signed_headers(
            body, secret, timestamp=timestamp, content_type=content_type
        )
        return self.http.post(
            "/slack/events", content=body.encode(), headers=signed | (headers or {})
        )

    def interact(self, payload: dict[str, Any], **kw: Any) -> httpx2.Response:
        body = payloads.interaction_body(payload)
        response = self.post(body, content_type="application/x-www-form-urlencoded", **kw)
        self.drain()
        return response

    def click(
        self,
        draft_id: int,
        action_id: str,
        *,
        user: tuple[str, str] = MAYA,
        option: str | None = None,
        **kw: Any,
    ) -> httpx2.Response:
        """A person clicks an element of the draft's message, as it is now in Slack."""
        channel, message = self.draft_message(draft_id)
        act = payloads.action(message["blocks"], action_id, option)
        self.responses += 1
        payload = payloads.block_actions(
            act,
            user=user,
            channel=channel,
            message=message,
            response_url=self.fake.response_url(str(self.responses)),
        )
        return self.interact(payload, **kw)

    def command(self, text: str, *, user: tuple[str, str] = MAYA) -> httpx2.Response:
        self.responses += 1
        fields = payloads.slash_command(
            text, user=user, response_url=self.fake.response_url(str(self.responses))
        )
        body = payloads.command_body(fields)
        return self.post(body, content_type="application/x-www-form-urlencoded")

    def reply_to(self, response: int | None = None, timeout: float = 5.0) -> dict[str, Any]:
        """What the bot sent to a response_url (the latest command's by default)."""
        name = str(response or self.responses)
        self.fake.wait_for(lambda: any(n == name for n, _ in self.fake.state.responses), timeout)
        self.drain()  # what the command changed reaches Slack too
        return next(body for n, body in reversed(self.fake.responses()) if n == name)

    def event(
        self, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> httpx2.Response:
        response = self.post(json.dumps(payload), content_type="application/json", headers=headers)
        self.drain()
        return response


def texts(blocks: list[dict[str, Any]]) -> str:
    """All the text in rendered blocks, for assertions."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return "\n".join(found)


def has_actions(blocks: list[dict[str, Any]]) -> bool:
    return any(b.get("type") == "actions" for b in blocks)


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    """The action ids of every button, select and menu in `blocks`, in order."""
    return [
        str(e.get("action_id"))
        for b in blocks
        if b.get("type") == "actions"
        for e in b.get("elements", [])
    ]


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(payloads.spec_path(), TOKEN, USERS) as slack:
        yield slack
        assert slack.violations == [], slack.violations


@pytest.fixture(scope="session")
def served() -> Iterator[tuple[Server, Delegate]]:
    """One uvicorn for the session; each test plugs its own Bolt app in."""
    delegate = Delegate()
    with Server(delegate) as server:
        yield server, delegate


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "followup.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


@pytest.fixture
def store(request: pytest.FixtureRequest, migrated: Path, tmp_path: Path) -> Iterator[Store]:
    """A migrated SQLite store, copied from a template migrated once per session; or, for a
    test marked `@ON_EACH_DATABASE`, also the session's PostgreSQL database, emptied first."""
    if getattr(request, "param", "sqlite") == "postgresql":
        postgres: Engine = request.getfixturevalue("postgres_engine")
        truncate(postgres)
        yield Store(postgres)
        return
    path = tmp_path / "followup.db"
    shutil.copyfile(migrated, path)
    engine = make_engine(f"sqlite:///{path}")
    yield Store(engine)
    engine.dispose()


# Where the decision is a conditional update, the database's own locking is what is tested:
# these run on SQLite and on PostgreSQL (the `postgres` marker, as in tests/storage).
ON_EACH_DATABASE = pytest.mark.parametrize(
    "store", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


def build_world(
    store: Store,
    fake: FakeSlack,
    served: tuple[Server, Delegate],
    *,
    pipeline: Pipeline | None = None,
    destination: Destination | None = None,
    admins: frozenset[str] = frozenset({"U0ADMIN"}),
    decide_before_response: bool = True,
) -> Callable[[], Generator[World, None, None]]:
    def make() -> Generator[World, None, None]:
        gateway = SlackGateway(
            TOKEN, base_url=fake.api_url, post_interval=0.0, retry_backoff=0.01, timeout=5
        )
        now = [MONDAY]
        surface = SlackReviewSurface(
            gateway,
            destination or Destination("C0REVIEW", "channel"),
            clock=lambda: now[0],
            retry_delays=(0.05,),
        )
        services = Services(
            store=store,
            crm=FakeCrm(pipeline or proposal_pipeline()),
            mailbox=FakeMailbox(),
            drafter=TemplateDrafter(),
            review=surface,
            policy=Policy(admins=admins, message_id_domain="northwind.example"),
            guardrails=DraftGuardrails(),
        )
        runtime = slack_app(
            services,
            signing_secret=SECRET,
            decide_before_response=decide_before_response,
            clock=lambda: now[0],
        )
        surface.start()
        server, delegate = served
        delegate.target = asgi = runtime.asgi(services)
        try:
            with httpx2.Client(base_url=server.url, timeout=10) as http:
                yield World(services, surface, runtime, fake, http, now)
        finally:
            delegate.target = None
            asgi.close()
            surface.stop()

    return make


@pytest.fixture
def world(store: Store, fake: FakeSlack, served: tuple[Server, Delegate]) -> Iterator[World]:
    yield from build_world(store, fake, served)()
