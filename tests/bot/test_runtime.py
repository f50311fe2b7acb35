"""The composition root with Slack configured, `/healthz`, and what the service refuses to
start with."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from app import SetupError, build, build_slack, run_service
from bot.http import SlackAsgi
from bot.ids import Action
from bot.render import SUMMARY_SHOWN
from bot.surface import SlackReviewSurface
from flows.cycle import run_cycle
from flows.ports import NoReviewSurface
from settings import Settings
from tests.bot import payloads
from tests.bot.conftest import MAYA, MONDAY, SECRET, TOKEN, World, action_ids, texts
from tests.bot.fake_slack import FakeSlack
from tests.bot.fake_socket import FakeSocketMode
from triggers.drafts import DraftStatus

REPO = Path(__file__).resolve().parents[2]
APP_TOKEN = "xapp-1-A0FOLLOWUP-1-test"


def settings_for(tmp_path: Path, fake: FakeSlack | None, **overrides: Any) -> Settings:
    config = tmp_path / "followup.toml"
    config.write_text('[slack]\nreview_channel = "C0REVIEW"\nadmins = ["U0ADMIN"]\n')
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'followup.db'}",
        "followup_config": config,
        "pipeline_file": REPO / "examples" / "pipeline.json",
        "outbox_dir": tmp_path / "outbox",
        "slack_bot_token": SecretStr(TOKEN) if fake else None,
        "slack_signing_secret": SecretStr(SECRET) if fake else None,
        "slack_app_token": None,
        "slack_api_url": fake.api_url if fake else "https://slack.com/api/",
        "openai_api_key": None,
    }
    return Settings(**(values | overrides))


def test_healthz_and_not_found(world: World) -> None:
    assert world.http.get("/healthz").json() == {"ok": True}
    assert world.http.head("/healthz").status_code == 200
    assert world.http.get("/elsewhere").status_code == 404
    assert world.http.get("/slack/events").status_code == 404


def test_healthz_says_when_storage_does_not_answer(world: World) -> None:
    def broken() -> None:
        raise OSError("database is gone")

    asgi = SlackAsgi(world.runtime.app, health=broken)
    import asyncio

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    asyncio.run(asgi({"type": "http", "path": "/healthz", "method": "GET"}, receive, send))
    asgi.close()
    assert sent[0]["status"] == 503
    assert b'"ok": false' in sent[1]["body"]


def test_build_uses_slack_when_configured_without_calling_it(
    tmp_path: Path, fake: FakeSlack
) -> None:
    application = build(settings_for(tmp_path, fake))
    surface = application.services.review
    assert isinstance(surface, SlackReviewSurface)
    assert surface.gateway.base_url == fake.api_url
    assert surface.destination.review_channel == "C0REVIEW"
    assert surface.gateway.pacer.interval == 1.0  # about one message a second per channel
    assert fake.calls() == []
    # The CLI's cycle posts inline through it, paced (faster here).
    surface.gateway.pacer.interval = 0.05
    report = run_cycle(application.services, MONDAY)
    posts = fake.calls("chat.postMessage")
    # 12 new drafts at once: one summary (count per rule), then the first few as cards; the
    # rest wait in the Home tab and `followup queue` without a message (a ping) each.
    assert len(report.drafted) > surface.destination.summary_above
    assert len(posts) == 1 + SUMMARY_SHOWN
    assert f"{len(report.drafted)} new drafts to review" in posts[0].args["text"]
    unposted = [d for d in application.services.store.drafts.find() if d.slack_ts == "summary"]
    assert len(unposted) == len(report.drafted) - SUMMARY_SHOWN
    assert surface.reconcile() == 0  # not posted one by one later either
    assert all(b.at - a.at >= 0.045 for a, b in itertools.pairwise(posts))
    runtime = build_slack(application)
    assert runtime is not None
    # The token is checked once at start (ours, then Bolt's), not on anyone's first click.
    assert len(fake.calls("auth.test")) == 2


def test_without_slack_the_cli_is_the_review_surface(tmp_path: Path) -> None:
    application = build(settings_for(tmp_path, None))
    assert isinstance(application.services.review, NoReviewSurface)
    assert build_slack(application) is None


def test_a_refused_bot_token_stops_the_start(tmp_path: Path, fake: FakeSlack) -> None:
    application = build(settings_for(tmp_path, fake, slack_bot_token=SecretStr("xoxb-wrong")))
    with pytest.raises(SetupError, match="Slack refused SLACK_BOT_TOKEN"):
        build_slack(application)


def test_an_unreachable_slack_does_not_stop_the_start(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path,
        None,
        slack_bot_token=SecretStr(TOKEN),
        slack_signing_secret=SecretStr(SECRET),
        slack_api_url="http://127.0.0.1:9/api/",
    )
    application = build(settings)
    assert isinstance(application.services.review, SlackReviewSurface)
    application.services.review.gateway.client.retry_handlers = []  # fail fast here
    assert build_slack(application) is not None


def test_the_service_needs_a_way_to_hear_from_slack(tmp_path: Path, fake: FakeSlack) -> None:
    with pytest.raises(SetupError, match="set SLACK_APP_TOKEN for Socket Mode"):
        run_service(build(settings_for(tmp_path, fake)))
    elsewhere = tmp_path / "without-slack"
    elsewhere.mkdir()
    with pytest.raises(SetupError, match="--http needs SLACK_BOT_TOKEN"):
        run_service(build(settings_for(elsewhere, None)), http_port=3000)


def test_the_run_command_offers_http_mode() -> None:
    from typer.testing import CliRunner

    from cli import core  # noqa: F401  (registers the commands)
    from cli._app import main_app

    result = CliRunner().invoke(main_app, ["run", "--help"])
    assert result.exit_code == 0
    assert "--http" in result.stdout
    assert "--port" in result.stdout


def test_a_plain_http_client_gets_401_without_a_signature(world: World) -> None:
    response = world.http.post("/slack/events", content=b"payload=%7B%7D")
    assert response.status_code == 401


def test_socket_mode_uses_the_configured_api_url(world: World) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(world.runtime.app, "xapp-1-test")
    assert handler.client.web_client is not None
    assert handler.client.web_client.base_url == world.fake.api_url
    handler.client.close()


def test_an_approve_over_a_live_socket_mode_connection_is_acked_and_decided_once(
    world: World,
) -> None:
    [draft] = world.cycle()
    channel, message = world.draft_message(draft.id)
    act = payloads.action(message["blocks"], Action.DRAFT_APPROVE)
    click = payloads.block_actions(
        act, user=MAYA, channel=channel, message=message, response_url=world.fake.response_url()
    )
    with FakeSocketMode() as socket:
        world.fake.app_token = APP_TOKEN
        world.fake.socket_url = socket.url
        disconnect = world.runtime.start_socket_mode(APP_TOKEN)
        try:
            socket.wait_connected()
            # A double click: the same action in two envelopes, as Slack delivers each click.
            first = socket.deliver("interactive", click)
            second = socket.deliver("interactive", click)
            assert socket.ack(first) == {"envelope_id": first}
            assert socket.ack(second) == {"envelope_id": second}
        finally:
            disconnect()
    world.drain()
    assert socket.unexpected == []
    [opened] = world.fake.calls("apps.connections.open")
    assert opened.status == 200
    [row] = world.services.store.outbox.find()
    assert row.draft_id == draft.id
    events = [e.to_status for e in world.services.store.drafts.events(draft.id)]
    assert events == [DraftStatus.PENDING, DraftStatus.APPROVED]
    _, message = world.draft_message(draft.id)
    assert "*Approved* by <@U01MAYA>" in texts(message["blocks"])
    assert action_ids(message["blocks"]) == ["draft-cancel"]  # until it leaves
    assert world.fake.ephemerals() == []  # her own double click needs no explaining


DRAIN_SCRIPT = """
import os, signal, socket, threading, time
import uvicorn
from bot.http import DrainingServer

async def app(scope, receive, send):
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

sock = socket.socket(); sock.bind(("127.0.0.1", 0)); port = sock.getsockname()[1]; sock.close()
server = DrainingServer(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                       lifespan="off", ws="none"))
def stop_when_up():
    while not server.started:
        time.sleep(0.02)
    os.kill(os.getpid(), signal.SIGTERM)
threading.Thread(target=stop_when_up, daemon=True).start()
server.run()
print("cleanup ran after SIGTERM")
"""


def test_http_mode_returns_after_sigterm_so_the_service_can_drain() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", DRAIN_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "cleanup ran after SIGTERM" in done.stdout
