"""Composition root: settings, engine, adapters from registries, flows, the scheduler job.

The only module that imports concrete adapters. No logic beyond wiring.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Engine

from crm.base import CrmAdapter
from flows.ports import NoHandoffSurface, NoReviewSurface, Policy, ReviewSurface, Services
from flows.volume import SendLimits
from mail.base import Mailbox
from observe import metrics
from observe.health import HealthServer, Readiness
from prompts.base import Drafter
from prompts.edit_check import DraftGuardrails
from settings import FollowupConfig, MailProvider, Settings, load_followup_config
from storage.db import make_engine, migrate
from storage.leader import CycleLeadership
from storage.repos import Store

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

    from bot.runtime import SlackRuntime
    from flows.cycle import CycleReport
    from flows.digest import DigestOutcome, DigestSchedule
    from prompts.reply_model import ReplyModel

T = TypeVar("T")
log = logging.getLogger("followup")


class SetupError(Exception):
    """The configuration asks for something this installation cannot provide."""


@dataclass(slots=True)
class Application:
    settings: Settings
    config: FollowupConfig
    engine: Engine
    services: Services


def build_crm(settings: Settings, config: FollowupConfig | None = None) -> CrmAdapter:
    """The configured CRM from the registry (`crm/__init__.py`), with `[crm.mapping]`."""
    import crm

    config = config or FollowupConfig()
    context = crm.CrmContext(
        mapping=config.crm.mapping.to_domain(), pipeline_file=settings.pipeline_file
    )
    try:
        return crm.build(settings.crm_provider.value, context)
    except crm.CrmSetupError as error:
        raise SetupError(str(error)) from error


def queued_crm(adapter: CrmAdapter, engine: Engine, config: FollowupConfig) -> CrmAdapter:
    """The adapter with its write-backs in the durable queue (when it writes back at all)."""
    from crm.writeback import queued
    from storage.crm_queue import CrmWriteQueue

    return queued(adapter, CrmWriteQueue(engine), clock=_now, log_drafts=config.crm.log_drafts)


def build_mailbox(settings: Settings) -> Mailbox:
    from datetime import timedelta

    from pydantic import SecretStr

    def secret(value: SecretStr | None) -> str | None:
        return (value.get_secret_value() or None) if value is not None else None

    def oauth_token() -> str | Callable[[], str] | None:
        """MAIL_OAUTH_TOKEN as given, or fresh tokens from MAIL_OAUTH_REFRESH_TOKEN."""
        refresh = secret(settings.mail_oauth_refresh_token)
        if not refresh:
            return secret(settings.mail_oauth_token)
        from mail.oauth import GOOGLE_TOKEN_URL, MICROSOFT_TOKEN_URL, RefreshingToken

        if not settings.mail_oauth_client_id:
            raise SetupError("MAIL_OAUTH_REFRESH_TOKEN needs MAIL_OAUTH_CLIENT_ID")
        microsoft = provider is MailProvider.GRAPH
        return RefreshingToken(
            token_url=settings.mail_oauth_token_url
            or (MICROSOFT_TOKEN_URL if microsoft else GOOGLE_TOKEN_URL),
            client_id=settings.mail_oauth_client_id,
            client_secret=secret(settings.mail_oauth_client_secret),
            refresh_token=refresh,
            timeout=settings.mail_timeout_seconds,
        )

    provider = settings.mail_provider
    lookback = timedelta(days=settings.mail_lookback_days)
    timeout = settings.mail_timeout_seconds
    if provider is MailProvider.OUTBOX:
        from mail.outbox import OutboxMailbox

        return OutboxMailbox(settings.outbox_dir)
    if provider is MailProvider.SMTP_IMAP:
        from mail.smtp_imap import ImapSettings, SmtpImapMailbox, SmtpSettings

        if not settings.smtp_host or not settings.imap_host:
            raise SetupError("MAIL_PROVIDER=smtp_imap needs SMTP_HOST and IMAP_HOST")
        token = oauth_token()
        password = secret(settings.smtp_password)
        if token is None and password is None and settings.smtp_security != "none":
            raise SetupError("MAIL_PROVIDER=smtp_imap needs SMTP_PASSWORD or MAIL_OAUTH_TOKEN")
        smtp_ports = {"starttls": 587, "tls": 465, "none": 25}
        imap_ports = {"starttls": 143, "tls": 993, "none": 143}
        return SmtpImapMailbox(
            SmtpSettings(
                host=settings.smtp_host,
                port=settings.smtp_port or smtp_ports[settings.smtp_security],
                security=settings.smtp_security,  # type: ignore[arg-type]
                username=settings.smtp_username,
                password=password,
                oauth_token=token,
                timeout=timeout,
            ),
            ImapSettings(
                host=settings.imap_host,
                port=settings.imap_port or imap_ports[settings.imap_security],
                security=settings.imap_security,  # type: ignore[arg-type]
                username=settings.imap_username or settings.smtp_username,
                password=secret(settings.imap_password) or password,
                oauth_token=token,
                sent_folder=settings.imap_sent_folder,
                timeout=timeout,
            ),
            mailbox_address=settings.mail_from or None,
            save_sent=settings.imap_save_sent,
            lookback=lookback,
        )
    if provider in (MailProvider.GMAIL, MailProvider.GRAPH):
        token = oauth_token()
        if token is None:
            raise SetupError(
                f"MAIL_PROVIDER={provider.value} needs MAIL_OAUTH_TOKEN, or "
                "MAIL_OAUTH_REFRESH_TOKEN with MAIL_OAUTH_CLIENT_ID"
            )
        if provider is MailProvider.GMAIL:
            from mail.gmail import GmailMailbox

            return GmailMailbox(
                token,
                base_url=settings.gmail_api_url,
                timeout=timeout,
                lookback=lookback,
                address=settings.mail_from or None,
            )
        from mail.graph import GraphMailbox

        return GraphMailbox(
            token,
            base_url=settings.graph_api_url,
            timeout=timeout,
            lookback=lookback,
            address=settings.mail_from or None,
        )
    raise SetupError(f"MAIL_PROVIDER={provider.value} is not known")


def build_reply_model(settings: Settings | None = None) -> ReplyModel | None:
    """The model behind reply classification, when one is configured; rules alone otherwise."""
    settings = settings or Settings()
    if settings.openai_api_key is None:
        return None
    import openai

    from prompts.reply_model import OpenAIReplyModel

    client = openai.OpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        max_retries=0,
    )
    return OpenAIReplyModel(client, settings.followup_model)


def build_drafter(settings: Settings, config: FollowupConfig) -> Drafter:
    from prompts.drafter import TemplateDrafter

    templates = TemplateDrafter(config.drafting.templates_dir)
    if settings.openai_api_key is None:
        return templates
    import openai

    from prompts.drafter import LLMDrafter

    client = openai.OpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        timeout=settings.followup_model_timeout,
        max_retries=0,
    )
    return LLMDrafter(
        client,
        settings.followup_model,
        fallback=templates,
        timeout=settings.followup_model_timeout,
        breaker_after=settings.followup_model_breaker_after,
    )


def build_policy(config: FollowupConfig) -> Policy:
    return Policy(
        evaluation=config.evaluation,
        admins=frozenset(config.slack.admins),
        competitors=tuple(config.drafting.competitors),
        voice=config.drafting.voice(),
        owner_voices=config.drafting.owner_voices(),
        cadences=config.cadences.to_domain(),
        routing=config.routing.to_domain(),
        send_limits=SendLimits(config.sending.daily_cap or None, config.sending.spacing),
        max_new_drafts_per_cycle=config.rules.max_new_drafts_per_cycle or None,
        mention_owner=config.slack.mention_owner,
    )


def build_review(settings: Settings, config: FollowupConfig) -> ReviewSurface:
    """Slack when it is configured (calls made inline until `run_service` starts the
    surface's worker); otherwise none, and the CLI is the review surface."""
    if not settings.slack_configured or settings.slack_bot_token is None:
        return NoReviewSurface()
    from bot.runtime import slack_surface

    return slack_surface(
        settings.slack_bot_token.get_secret_value(),
        api_url=settings.slack_api_url,
        review_channel=config.slack.review_channel,
        drafts_to=config.slack.drafts_to,
        summary_above=config.slack.summary_above,
    )


def wire_handoffs(settings: Settings, services: Services) -> None:
    """Handoffs and owner questions go to Slack when drafts are reviewed there."""
    if not settings.slack_configured:
        return
    from bot.handoffs import SlackHandoffSurface
    from bot.surface import SlackReviewSurface

    review = services.review
    if isinstance(review, SlackReviewSurface) and isinstance(services.handoffs, NoHandoffSurface):
        services.handoffs = SlackHandoffSurface.on(review)


def build_slack(application: Application) -> SlackRuntime | None:
    """The Bolt app and its listeners on the application's Slack review surface, or None
    when Slack is not configured. SetupError when Slack refuses the bot token."""
    settings = application.settings
    if not settings.slack_configured or settings.slack_signing_secret is None:
        return None
    from bot.gateway import SlackRefused
    from bot.runtime import slack_app
    from bot.surface import SlackReviewSurface

    services = application.services
    if not isinstance(services.review, SlackReviewSurface):
        services.review = build_review(settings, application.config)
    wire_handoffs(settings, services)
    secret = settings.slack_signing_secret.get_secret_value()
    try:
        return slack_app(services, signing_secret=secret)
    except SlackRefused as error:
        raise SetupError(f"Slack refused SLACK_BOT_TOKEN ({error.error}); check it") from error


def build(
    settings: Settings | None = None,
    *,
    config_path: Path | None = None,
    review: ReviewSurface | None = None,
) -> Application:
    settings = settings or Settings()
    config = load_followup_config(config_path or settings.followup_config)
    engine = make_engine(settings.database_url)
    migrate(engine)
    services = Services(
        store=Store(engine),
        crm=queued_crm(build_crm(settings, config), engine, config),
        mailbox=build_mailbox(settings),
        drafter=build_drafter(settings, config),
        review=review or build_review(settings, config),
        policy=replace(
            build_policy(config), send_lease=timedelta(seconds=settings.send_lease_seconds)
        ),
        reply_model=build_reply_model(settings),
        metrics=metrics.FlowMetrics(),
        guardrails=DraftGuardrails(),
    )
    bind = getattr(services.review, "bind", None)
    if callable(bind):
        bind(services)
    wire_handoffs(settings, services)
    return Application(settings, config, engine, services)


def digest_schedule(config: FollowupConfig) -> DigestSchedule | None:
    """`[digest]` as the flow needs it; None when it is off or has no channel to go to."""
    from flows.digest import DigestSchedule
    from triggers.config import WEEKDAYS

    digest = config.digest
    channel = digest.channel or config.slack.review_channel
    if not digest.enabled or not channel:
        return None
    return DigestSchedule(WEEKDAYS.index(digest.day), digest.at, digest.timezone, channel)


def digest_poster(application: Application) -> Callable[[datetime, bool], DigestOutcome] | None:
    """Posts the weekly digest to Slack (`on_demand`: now, rather than at its slot); None when
    the digest is off, has no channel, or Slack is not configured."""
    from bot.surface import SlackReviewSurface

    schedule = digest_schedule(application.config)
    review = application.services.review
    if schedule is None or not isinstance(review, SlackReviewSurface):
        return None
    from bot.digest import SlackDigestSurface
    from cli.chart import render_replies_per_step
    from flows.digest import post_weekly_digest

    surface = SlackDigestSurface.on(review)

    def post(now: datetime, on_demand: bool = False) -> DigestOutcome:
        return post_weekly_digest(
            application.services,
            now,
            schedule,
            surface,
            render=render_replies_per_step,
            on_demand=on_demand,
        )

    return post


def add_slack_jobs(
    scheduler: BaseScheduler,
    application: Application,
    slack: SlackRuntime,
    guard: CycleGuard | None = None,
) -> None:
    """The jobs that keep Slack whole after an outage or a restart, and the weekly digest. The
    reposting jobs run beside the cycle (`guard`): in the leading process only, never while its
    cycle is posting the same drafts and handoffs."""
    from apscheduler.triggers.cron import CronTrigger

    from flows.cadences import post_unposted_handoffs

    services = application.services
    every_minute = {"trigger": "interval", "seconds": 60, "coalesce": True, "max_instances": 1}
    # Drafts whose first post failed (an outage, a restart) are posted again.
    guard = guard or CycleGuard(CycleLeadership(application.engine))
    scheduler.add_job(
        lambda: guard.beside_cycle(slack.surface.reconcile), id="drafts-reconcile", **every_minute
    )
    # So are handoffs, in order, each once.
    scheduler.add_job(
        lambda: guard.beside_cycle(lambda: post_unposted_handoffs(services, _now())),
        id="handoffs-retry",
        **every_minute,
    )
    post = digest_poster(application)
    schedule = digest_schedule(application.config)
    if post is None or schedule is None:
        log.info("weekly digest: off ([digest] enabled = false, or no channel, or no Slack)")
        return

    def digest() -> None:
        outcome = post(_now(), False)
        if outcome.error:
            log.warning("weekly digest %s: %s", outcome.week, outcome.error)

    config = application.config.digest
    scheduler.add_job(
        digest,
        CronTrigger(
            day_of_week=config.day,
            hour=config.at.hour,
            minute=config.at.minute,
            timezone=config.timezone,
        ),
        id="digest",
        coalesce=True,
        max_instances=1,
    )
    # A restart or an outage at the digest's hour: posted late, still once (the week is in the
    # store), up to a day late.
    scheduler.add_job(
        digest,
        "interval",
        minutes=15,
        id="digest-catch-up",
        coalesce=True,
        max_instances=1,
        next_run_time=_now(),
    )


def watch_inbox(mailbox: Mailbox, on_mail: Callable[[], None]) -> threading.Event | None:
    """Wake the cycle when an IMAP mailbox signals new mail (IDLE); polling goes on anyway.
    Returns the event that stops the watcher, or None when the mailbox cannot be watched."""
    from mail.smtp_imap import SmtpImapMailbox, idle_loop

    if not isinstance(mailbox, SmtpImapMailbox):
        return None
    stop = threading.Event()
    threading.Thread(
        target=idle_loop, args=(mailbox, on_mail, stop), name="imap-idle", daemon=True
    ).start()
    return stop


@dataclass
class CycleGuard:
    """This process's right to run the cycle, and the lock that keeps the jobs that repost what
    the cycle posts (drafts, handoffs) from running while it does."""

    leadership: CycleLeadership
    running: threading.Lock = field(default_factory=threading.Lock)

    def cycle(self, work: Callable[[], T]) -> T | None:
        if not self.leadership.acquire():
            return None
        with self.running:
            return work()

    def beside_cycle(self, work: Callable[[], object]) -> None:
        """Run `work` only in the leading process and never during its cycle (it runs again a
        minute later)."""
        if not self.leadership.held or not self.running.acquire(blocking=False):
            return
        try:
            work()
        finally:
            self.running.release()


def led_cycle(application: Application, guard: CycleGuard) -> Callable[[], CycleReport | None]:
    """The scheduler's cycle. Every process sends (outbox rows are claimed one worker each),
    but only the process holding the cycle lock syncs, drafts and publishes; when it dies,
    another takes over at its next tick."""
    from flows.cycle import run_cycle

    def timed() -> CycleReport:
        started = time.monotonic()
        try:
            report = run_cycle(application.services, _now())
        except Exception:
            metrics.cycle_done(None, time.monotonic() - started, failed=True)
            raise
        metrics.cycle_done(report, time.monotonic() - started)
        application.services.store.sync_state.set(LAST_CYCLE_KEY, _now().isoformat())
        return report

    def cycle() -> CycleReport | None:
        report = guard.cycle(timed)
        if report is None:
            log.debug("cycle: another process runs it; this one only sends")
            return None
        log.info(
            "cycle: %d deals synced, %d inbound, %d due, %d drafted, %d withdrawn%s%s",
            report.synced_deals,
            report.inbound,
            report.due,
            len(report.drafted),
            len(report.withdrawn),
            f", {report.deferred} left for later cycles" if report.deferred else "",
            f"; CRM sync failed: {report.sync_failed}" if report.sync_failed else "",
        )
        return report

    return cycle


def readiness(application: Application, slack: SlackRuntime | None, interval: int) -> Readiness:
    """What /readyz checks: the database, the CRM (the last sync), the mailbox (the last
    sends), Slack (auth.test, at most every 30 s) and the age of the last cycle (any
    process's: they share the database)."""
    from datetime import timedelta

    from sqlalchemy import text

    store = application.services.store

    def database() -> str | None:
        with application.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return None

    def last_cycle() -> str | None:
        stamp = store.sync_state.get(LAST_CYCLE_KEY)
        if stamp is None:
            return "no cycle has finished yet"
        age = _now() - datetime.fromisoformat(stamp)
        if age > timedelta(seconds=3 * interval + 60):
            return f"the last cycle ended {int(age.total_seconds())} s ago"
        return None

    checks: dict[str, Callable[[], str | None]] = {
        "database": database,
        "crm": lambda: SERVICE_STATE.get("crm"),
        "mailbox": lambda: SERVICE_STATE.get("mailbox"),
        "last_cycle": last_cycle,
    }
    if slack is not None:

        def slack_check() -> str | None:
            slack.surface.gateway.auth_test()
            return None

        checks["slack"] = slack_check
    return Readiness(checks, cached=frozenset({"slack"}))


# What the last cycle and the last sends found wrong, for /readyz (None: fine).
SERVICE_STATE: dict[str, str | None] = {}
LAST_CYCLE_KEY = "service:last_cycle_at"


def run_service(
    application: Application,
    *,
    interval_seconds: int = 300,
    http_port: int | None = None,
    http_host: str = "0.0.0.0",  # noqa: S104 - Slack must reach it; put it behind TLS
    health_port: int | None = None,
    health_host: str = "0.0.0.0",  # noqa: S104 - for the orchestrator's probes
) -> None:
    """The long-running service: one cycle now and every `interval_seconds`, the outbox worker
    every few seconds. With Slack configured, it also takes Slack's requests: over Socket Mode
    when SLACK_APP_TOKEN is set, or over HTTP on `http_port` (`/slack/events`, `/healthz`)."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from flows.delivery import deliver_due

    settings = application.settings
    if http_port is not None and not settings.slack_configured:
        raise SetupError("--http needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET")
    if settings.slack_configured and http_port is None and settings.slack_app_token is None:
        raise SetupError(
            "Slack needs a way to reach followup: set SLACK_APP_TOKEN for Socket Mode, "
            "or run `followup run --http --port PORT` behind a public HTTPS URL"
        )
    slack = build_slack(application)

    guard = CycleGuard(CycleLeadership(application.engine))
    cycle = led_cycle(application, guard)

    def deliver() -> None:
        report = deliver_due(application.services, _now(), clock=_now)
        metrics.delivery_done(report)
        problems = report.retrying + report.failed
        SERVICE_STATE["mailbox"] = (
            f"sending failed: {problems[-1][1]}" if problems and not report.sent else None
        )
        if report.sent or report.failed or report.refused:
            log.info(
                "sent %d, failed %d, refused at the send-time check %d, retrying %d, held %d",
                len(report.sent),
                len(report.failed),
                len(report.refused),
                len(report.retrying),
                len(report.held),
            )

    def observed_cycle() -> None:
        report = cycle()
        if report is not None:
            SERVICE_STATE["crm"] = (
                f"the last sync failed: {report.sync_failed}" if report.sync_failed else None
            )

    scheduler = BackgroundScheduler(timezone="UTC")
    cycle_job = scheduler.add_job(
        observed_cycle,
        "interval",
        seconds=interval_seconds,
        coalesce=True,
        max_instances=1,
        next_run_time=_now(),
    )
    scheduler.add_job(deliver, "interval", seconds=5, coalesce=True, max_instances=1)
    # New mail runs the cycle at once (the job's max_instances still keeps cycles one at a time).
    watch_inbox(application.services.mailbox, lambda: cycle_job.modify(next_run_time=_now()))
    health = None
    if health_port:
        metrics.watch_outbox(lambda: application.services.store.outbox.find())
        try:
            server = HealthServer(
                readiness(application, slack, interval_seconds), host=health_host, port=health_port
            )
        except OSError as error:
            raise SetupError(
                f"--health-port {health_port}: {error.strerror}; pick another port "
                "(HEALTH_PORT, --health-port) or 0 for none"
            ) from error
        health = server.start()
    log.info(
        "followup run: a cycle every %d s, sending every 5 s, Slack %s",
        interval_seconds,
        "over HTTP" if http_port else ("over Socket Mode" if slack else "off (the CLI reviews)"),
    )
    if slack is None:
        scheduler.start()
        try:
            until_stopped()
        finally:
            scheduler.shutdown(wait=True)
            guard.leadership.release()
            if health is not None:
                health.stop()
            log.info("stopped")
        return
    slack.surface.start()
    # Clicks acknowledged but not decided when a previous process was killed: decided now.
    slack.listeners.drain_clicks()
    add_slack_jobs(scheduler, application, slack, guard)
    scheduler.start()
    try:
        if http_port is not None:
            from bot.http import serve

            serve(
                slack.asgi(application.services),
                host=http_host,
                port=http_port,
                log_level=settings.log_level,
            )
        else:
            assert settings.slack_app_token is not None
            try:
                disconnect = slack.start_socket_mode(settings.slack_app_token.get_secret_value())
            except Exception as error:
                raise SetupError(
                    "Slack refused SLACK_APP_TOKEN for Socket Mode "
                    f"({getattr(error, 'response', {}).get('error', error)}); it must be an "
                    "app-level token (xapp-...) with connections:write"
                ) from error
            try:
                until_stopped()
            finally:
                disconnect()
    finally:
        # The cycle in progress finishes before another process may take the lock, and the
        # clicks already acknowledged are decided before the process ends (slack.close).
        scheduler.shutdown(wait=True)
        guard.leadership.release()
        slack.close()
        if health is not None:
            health.stop()
        log.info("stopped")


def until_stopped() -> None:
    """Block until SIGTERM (docker stop, systemd) or SIGINT, so the caller's cleanup runs
    instead of the process dying with acknowledged work still queued."""
    import signal

    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        stop.wait()  # signals reach the main thread only: whoever runs us there stops us
        return

    def _stop(signum: int, _frame: object) -> None:
        log.info("stopping on signal %d", signum)
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _now() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)
