"""The gateway and the surface against Slack misbehaving: 429s delay and never drop, an
outage is waited out, posting keeps to about one message per second per channel, and the
fake itself refuses what the Web API would not know."""

from __future__ import annotations

import time

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web import WebClient

from bot.gateway import Pacer, SlackGateway, SlackRefused, SlackUnavailable
from tests.bot import payloads
from tests.bot.conftest import TOKEN, World, texts
from tests.bot.fake_slack import FakeSlack


def test_a_rate_limited_post_waits_for_retry_after_then_lands(world: World) -> None:
    world.fake.fail("chat.postMessage", status=429, times=1, retry_after=1)
    started = time.monotonic()
    [draft] = world.cycle()
    attempts = world.fake.calls("chat.postMessage")
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 1.0  # it honoured Retry-After
    assert time.monotonic() - started < 5
    _channel, message = world.draft_message(draft.id)
    assert "Follow-up: Globex website rebuild" in texts(message["blocks"])


def test_a_long_outage_is_waited_out_and_nothing_is_dropped(world: World) -> None:
    # More failures than the client's own retries: the surface requeues the post.
    world.fake.fail("chat.postMessage", status=503, times=6, retry_after=None)
    [draft] = world.cycle()
    statuses = [c.status for c in world.fake.calls("chat.postMessage")]
    assert statuses.count(503) == 6
    assert statuses[-1] == 200
    saved = world.services.store.drafts.get(draft.id)
    assert saved is not None
    assert saved.slack_ts


def test_a_draft_never_posted_is_found_again_by_reconcile(world: World) -> None:
    world.surface.stop()
    world.surface.background = False  # as in the CLI: calls inline, errors logged
    world.fake.fail("chat.postMessage", status=503, times=3, retry_after=None)
    [draft] = world.cycle()
    saved = world.services.store.drafts.get(draft.id)
    assert saved is not None
    assert saved.slack_ts is None
    assert world.surface.reconcile() == 1
    saved = world.services.store.drafts.get(draft.id)
    assert saved is not None
    assert saved.slack_ts is not None
    assert world.surface.reconcile() == 0


def test_a_deleted_message_is_posted_again_while_the_draft_waits(world: World) -> None:
    [draft] = world.cycle()
    with world.fake.lock:
        world.fake.state.messages.clear()
    world.surface.resync(draft.id)
    world.drain()
    assert [c.method for c in world.fake.calls() if c.method.startswith("chat.")] == [
        "chat.postMessage",
        "chat.update",
        "chat.postMessage",
    ]
    saved = world.services.store.drafts.get(draft.id)
    assert saved is not None
    world.fake.message(saved.slack_channel or "", saved.slack_ts or "")


def test_posting_keeps_to_one_message_per_interval_per_channel() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(1.0, clock=lambda: now[0], sleep=sleep)
    pacer.run("C1", lambda: None)
    now[0] += 0.25
    pacer.run("C1", lambda: None)
    pacer.run("C2", lambda: None)  # another channel is not held up
    now[0] += 5
    pacer.run("C1", lambda: None)
    assert slept == [0.75]


@pytest.fixture
def slack(fake: FakeSlack) -> FakeSlack:
    return fake


def test_the_gateway_uses_the_configured_api_url_and_maps_errors(slack: FakeSlack) -> None:
    gateway = SlackGateway(
        TOKEN, base_url=slack.api_url.rstrip("/"), post_interval=0, rate_limit_retries=0
    )
    assert gateway.client.base_url == slack.api_url
    assert gateway.auth_test() == "U0BOT"
    with pytest.raises(SlackRefused) as refused:
        gateway.update_message("C0REVIEW", "1.2", "text", [])
    assert refused.value.error == "message_not_found"
    slack.fail("chat.postEphemeral", status=429, times=1, retry_after=0)
    with pytest.raises(SlackUnavailable):
        gateway.post_ephemeral("C0REVIEW", "U01MAYA", "hello")
    assert gateway.user_for_email("nobody@northwind.example") is None
    assert gateway.user_for_email("maya@northwind.example") == "U01MAYA"
    assert gateway.user_zone("U01MAYA") == "America/New_York"
    assert gateway.user_name("U01MAYA") == "maya"
    wrong = SlackGateway("xoxb-wrong", base_url=slack.api_url)
    with pytest.raises(SlackRefused) as bad_token:
        wrong.auth_test()
    assert bad_token.value.error == "invalid_auth"


def test_an_unreachable_slack_is_unavailable_not_refused() -> None:
    gateway = SlackGateway(
        TOKEN, base_url="http://127.0.0.1:9/api/", post_interval=0, retry_backoff=0.01, timeout=1
    )
    with pytest.raises(SlackUnavailable):
        gateway.post_message("C0REVIEW", "hello", [])


def test_the_fake_refuses_what_the_web_api_does_not_know(slack: FakeSlack) -> None:
    client = WebClient(token=TOKEN, base_url=slack.api_url)
    for method, kwargs in (
        ("chat.postMessage", {"json": {"channel": "C1", "text": "x", "colour": "red"}}),
        ("chat.shout", {"params": {"text": "x"}}),
        ("chat.update", {"json": {"channel": "C1", "text": "x"}}),
    ):
        with pytest.raises(SlackApiError) as refused:
            client.api_call(method, **kwargs)  # type: ignore[arg-type]
        assert refused.value.response["error"] == "fake_slack_rejected"
    assert slack.violations == [
        "chat.postMessage: unknown argument 'colour'",
        "chat.shout: not a Web API method",
        "chat.update: missing 'ts'",
    ]
    slack.state.violations.clear()  # expected here; the fixture checks none are left


def test_the_fake_answers_from_the_spec_examples(slack: FakeSlack) -> None:
    spec = payloads.spec_path()
    assert spec.exists()
    client = WebClient(token=TOKEN, base_url=slack.api_url)
    opened = client.views_open(
        trigger_id="1.2.3",
        view={"type": "modal", "title": {"type": "plain_text", "text": "x"}, "blocks": []},
    )
    assert opened["view"]["id"].startswith("V")
    assert "app_id" in opened["view"]  # carried over from the documented example
