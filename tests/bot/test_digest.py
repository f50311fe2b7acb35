"""The weekly digest in Slack: Block Kit text, then the PNG chart through files_upload_v2
(against the fake Web API's upload URL), once per week whatever restarts or outages do."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from typer.testing import CliRunner

from app import add_slack_jobs, build, build_slack, digest_schedule
from bot.digest import SlackDigestSurface
from cli._app import main_app
from cli.chart import render_replies_per_step
from flows.cadences import InboundReply, cadence_store, enroll, handle_reply_for_cadence
from flows.cycle import CycleReport, sync_crm
from flows.digest import DigestOutcome, DigestSchedule, DigestStatus, post_weekly_digest
from flows.ports import Actor
from settings import ConfigError, load_followup_config
from tests.bot.conftest import MONDAY, SECRET, TOKEN, World, texts
from tests.bot.fake_slack import FakeSlack
from tests.bot.test_runtime import settings_for
from tests.reading.helpers import classify_reply

CHANNEL = "C0DIGEST"
SCHEDULE = DigestSchedule(weekday=0, at=time(9, 0), timezone="UTC", channel=CHANNEL)
PNG = b"\x89PNG\r\n\x1a\n"
REPO = Path(__file__).resolve().parents[2]


def _post(world: World, at: datetime, **kwargs: bool) -> DigestOutcome:
    surface = SlackDigestSurface(world.surface.gateway)  # a new one each time: as after a restart
    return post_weekly_digest(
        world.services, at, SCHEDULE, surface, render=render_replies_per_step, **kwargs
    )


def _week_with_a_reply(world: World) -> None:
    start = MONDAY - timedelta(days=3)
    sync_crm(world.services, start, CycleReport(start))
    assert enroll(world.services, "d1", None, None, Actor.slack("U01MAYA"), start).ok
    at = start + timedelta(hours=2)
    text = "Sounds great <!channel>, can we set up a call?"
    reply = InboundReply("jordan@globex.example", at, text, "<r1@globex.example>", "d1", "c1")
    handle_reply_for_cadence(world.services, reply, classify_reply(text, received_at=at), at)


def _messages(world: World, channel: str = CHANNEL) -> list[dict[str, object]]:
    with world.fake.lock:
        return [m for (c, _), m in world.fake.state.messages.items() if c == channel]


def test_the_digest_is_posted_once_a_week_as_blocks_then_the_chart(world: World) -> None:
    _week_with_a_reply(world)
    assert _post(world, MONDAY - timedelta(minutes=1)).status is DigestStatus.NOT_DUE
    assert world.fake.calls("files.getUploadURLExternal") == []

    outcome = _post(world, MONDAY + timedelta(minutes=1))
    assert (outcome.status, outcome.week) == (DigestStatus.POSTED, "2026-W48")
    assert outcome.post is not None
    assert outcome.post.message_ts is not None
    message = world.fake.message(CHANNEL, outcome.post.message_ts)
    blocks = message["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Weekly digest", "emoji": True},
    }
    shown = texts(blocks)
    assert "*Cadences, Mon 16 Nov to Mon 23 Nov: 1 replies to 1 touches*" in shown
    assert "• Positive reply rate: 100%" in shown
    assert "• Handoffs: 1, 0 acted on" in shown
    assert str(message["text"]).startswith("Weekly digest: Cadences, Mon 16 Nov")
    [chart] = world.fake.files(CHANNEL)
    assert outcome.digest is not None
    assert chart["content"] == outcome.digest.png
    assert bytes(chart["content"]).startswith(PNG)
    assert chart["title"] == "Replies per cadence step, week of 16 Nov 2026"
    assert chart["id"] == outcome.post.file_id
    sequence = [
        c.method
        for c in world.fake.calls(ok_only=True)
        if c.method.startswith(("files.", "upload")) or c.args.get("channel") == CHANNEL
    ]
    assert sequence == [
        "chat.postMessage",
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]

    # Later that week, and after restarts: the week is in the store, nothing is posted again.
    for later in (timedelta(hours=1), timedelta(hours=20), timedelta(days=3)):
        assert _post(world, MONDAY + later).status is DigestStatus.ALREADY_POSTED
        assert _post(world, MONDAY + later, on_demand=True).status is DigestStatus.ALREADY_POSTED
    assert len(_messages(world)) == 1
    assert len(world.fake.files(CHANNEL)) == 1

    following = _post(world, MONDAY + timedelta(days=7, minutes=1))
    assert (following.status, following.week) == (DigestStatus.POSTED, "2026-W49")
    assert len(_messages(world)) == 2


def test_an_outage_delays_the_digest_and_it_is_posted_late_once(world: World) -> None:
    world.fake.fail("files.completeUploadExternal", status=503, times=10_000, retry_after=None)
    failed = _post(world, MONDAY)
    assert failed.status is DigestStatus.FAILED
    assert failed.error is not None
    assert "chart" in failed.error
    assert failed.post is not None
    assert failed.post.message_ts is not None  # the text got through: kept, not posted again
    assert failed.post.file_id is None

    still = _post(world, MONDAY + timedelta(minutes=15))  # the catch-up job, Slack still out
    assert still.status is DigestStatus.FAILED
    world.fake.recover("files.completeUploadExternal")
    late = _post(world, MONDAY + timedelta(minutes=30))
    assert late.status is DigestStatus.POSTED
    assert late.post is not None
    assert late.post.attempts == 3
    assert len(_messages(world)) == 1
    [chart] = world.fake.files(CHANNEL)
    assert bytes(chart["content"]).startswith(PNG)
    assert late.digest is not None
    assert late.digest.now == MONDAY  # the week up to its slot, however late it went out


def test_a_missed_slot_is_caught_up_within_a_day_and_a_crashed_worker_is_taken_over(
    world: World,
) -> None:
    # The service was down on Monday morning and starts again on Tuesday afternoon: too late.
    assert _post(world, MONDAY + timedelta(days=1, hours=6)).status is DigestStatus.NOT_DUE
    # Another worker claimed the week and died before posting.
    digests = cadence_store(world.services).digests
    assert digests.claim("2026-W48", channel=CHANNEL, now=MONDAY, lease=timedelta(minutes=10))
    assert _post(world, MONDAY + timedelta(minutes=5)).status is DigestStatus.BUSY
    assert _messages(world) == []
    taken = _post(world, MONDAY + timedelta(minutes=11))
    assert taken.status is DigestStatus.POSTED
    assert len(_messages(world)) == 1


def test_a_late_week_slot_missed_is_caught_up_after_the_week_turns(world: World) -> None:
    sunday_evening = DigestSchedule(weekday=6, at=time(18, 0), timezone="UTC", channel=CHANNEL)
    surface = SlackDigestSurface(world.surface.gateway)
    # MONDAY 09:00 of W48; the service was down from Sunday 17:00 and is back at 01:00 Monday.
    back = MONDAY.replace(hour=1)
    outcome = post_weekly_digest(world.services, back, sunday_evening, surface)
    assert (outcome.status, outcome.week) == (DigestStatus.POSTED, "2026-W47")
    assert len(_messages(world)) == 1
    again = post_weekly_digest(world.services, back + timedelta(hours=1), sunday_evening, surface)
    assert again.status is DigestStatus.ALREADY_POSTED
    # A day and more after the slot, last week's digest is old news.
    later = post_weekly_digest(world.services, MONDAY.replace(hour=19), sunday_evening, surface)
    assert (later.status, later.week) == (DigestStatus.NOT_DUE, "2026-W48")


def test_the_catch_up_counts_weeks_on_the_calendar_across_a_clock_change(world: World) -> None:
    # Berlin springs forward on Sunday 29 March 2026; the 23:30 slot that night was missed and
    # the service is back half an hour into Monday, local time.
    late_sunday = DigestSchedule(
        weekday=6, at=time(23, 30), timezone="Europe/Berlin", channel=CHANNEL
    )
    back = datetime(2026, 3, 30, 0, 30, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
    surface = SlackDigestSurface(world.surface.gateway)
    outcome = post_weekly_digest(world.services, back, late_sunday, surface)
    assert (outcome.status, outcome.week) == (DigestStatus.POSTED, "2026-W13")


def _config(tmp_path: Path, digest: str) -> Path:
    path = tmp_path / "followup.toml"
    path.write_text(f'[slack]\nreview_channel = "C0REVIEW"\n\n[digest]\n{digest}\n')
    return path


def test_the_service_schedules_the_digest_and_the_retries(tmp_path: Path, fake: FakeSlack) -> None:
    settings = settings_for(tmp_path, fake)
    _config(tmp_path, 'day = "fri"\ntime = "16:30"\ntimezone = "Europe/Berlin"')
    application = build(settings)
    schedule = digest_schedule(application.config)
    assert schedule == DigestSchedule(4, time(16, 30), "Europe/Berlin", "C0REVIEW")
    slack = build_slack(application)
    assert slack is not None
    try:
        scheduler = BackgroundScheduler(timezone="UTC")
        add_slack_jobs(scheduler, application, slack)
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {"drafts-reconcile", "handoffs-retry", "digest", "digest-catch-up"}
        fires = jobs["digest"].trigger.get_next_fire_time(None, MONDAY)
        assert fires == datetime(2026, 11, 27, 15, 30, tzinfo=UTC)  # 16:30 in Berlin

        _config(tmp_path, "enabled = false")
        application = build(settings)
        scheduler = BackgroundScheduler(timezone="UTC")
        add_slack_jobs(scheduler, application, slack)
        assert {job.id for job in scheduler.get_jobs()} == {"drafts-reconcile", "handoffs-retry"}
    finally:
        slack.close()


@pytest.mark.parametrize(
    ("digest", "problem"),
    [
        ('day = "monday"', "digest.day: unknown day 'monday'"),
        ('time = "9am"', "digest.time:"),
        ('timezone = "Mars/Olympus"', "digest.timezone: 'Mars/Olympus' is not an IANA"),
        ('channel = "#sales"', "digest.channel: '#sales' is not a Slack channel id"),
    ],
)
def test_a_wrong_digest_setting_is_named(tmp_path: Path, digest: str, problem: str) -> None:
    with pytest.raises(ConfigError, match="problem") as raised:
        load_followup_config(_config(tmp_path, digest))
    assert problem in str(raised.value)


def test_the_digest_command_prints_and_posts_once(
    tmp_path: Path, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    environment = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'followup.db'}",
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "PIPELINE_FILE": str(REPO / "examples" / "pipeline.json"),
        "FOLLOWUP_CONFIG": str(_config(tmp_path, f'channel = "{CHANNEL}"')),
        "CRM_PROVIDER": "local",
        "MAIL_PROVIDER": "outbox",
    }
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    from cli import core, digest  # noqa: F401  (registers the commands)

    runner = CliRunner()
    assert runner.invoke(main_app, ["db", "upgrade"]).exit_code == 0
    printed = runner.invoke(main_app, ["digest", "--chart", str(tmp_path / "chart.png")])
    assert printed.exit_code == 0, printed.stderr
    assert printed.stdout.startswith("Cadences, ")
    assert (tmp_path / "chart.png").read_bytes().startswith(PNG)
    refused = runner.invoke(main_app, ["digest", "--post"])
    assert refused.exit_code == 2
    assert "Slack is not configured" in refused.stderr

    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    posted = runner.invoke(main_app, ["digest", "--post"])
    assert posted.exit_code == 0, posted.stderr
    assert "Posted the digest of " in posted.stdout
    again = runner.invoke(main_app, ["digest", "--post"])
    assert again.exit_code == 0, again.stderr
    assert "was posted already; not posted again." in again.stdout
    assert len(fake.calls("chat.postMessage", ok_only=True)) == 1
    [chart] = fake.files(CHANNEL)
    assert bytes(chart["content"]).startswith(PNG)
