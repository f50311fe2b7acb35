"""Composition root: settings, engine, adapters from registries, flows, the scheduler job.

The only module that imports concrete adapters. No logic beyond wiring.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from crm.base import CrmAdapter
from flows.ports import NoReviewSurface, Policy, ReviewSurface, Services
from mail.base import Mailbox
from prompts.base import Drafter, VoiceSettings
from settings import CrmProvider, FollowupConfig, MailProvider, Settings, load_followup_config
from storage.db import make_engine, migrate
from storage.repos import Store

log = logging.getLogger("followup")


class SetupError(Exception):
    """The configuration asks for something this installation cannot provide."""


@dataclass(slots=True)
class Application:
    settings: Settings
    config: FollowupConfig
    engine: Engine
    services: Services


def build_crm(settings: Settings) -> CrmAdapter:
    if settings.crm_provider is CrmProvider.LOCAL:
        from crm.local import LocalCrm

        return LocalCrm(settings.pipeline_file)
    raise SetupError(
        f"CRM_PROVIDER={settings.crm_provider.value} is not available yet in this version; "
        "use CRM_PROVIDER=local with PIPELINE_FILE"
    )


def build_mailbox(settings: Settings) -> Mailbox:
    if settings.mail_provider is MailProvider.OUTBOX:
        from mail.outbox import OutboxMailbox

        return OutboxMailbox(settings.outbox_dir)
    raise SetupError(
        f"MAIL_PROVIDER={settings.mail_provider.value} is not available yet in this version; "
        "use MAIL_PROVIDER=outbox with OUTBOX_DIR"
    )


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
        timeout=20.0,
        max_retries=0,
    )
    return LLMDrafter(client, settings.followup_model, fallback=templates)


def build_policy(config: FollowupConfig) -> Policy:
    return Policy(
        evaluation=config.evaluation,
        admins=frozenset(config.slack.admins),
        competitors=tuple(config.drafting.competitors),
        voice=VoiceSettings(signature=config.drafting.signature or ""),
    )


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
        crm=build_crm(settings),
        mailbox=build_mailbox(settings),
        drafter=build_drafter(settings, config),
        review=review or NoReviewSurface(),
        policy=build_policy(config),
    )
    return Application(settings, config, engine, services)


def run_service(application: Application, *, interval_seconds: int = 300) -> None:
    """The long-running service: one cycle now and every `interval_seconds`, the outbox worker
    every few seconds."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    from flows.cycle import run_cycle
    from flows.delivery import deliver_due

    def cycle() -> None:
        report = run_cycle(application.services, _now())
        log.info(
            "cycle: %d due, %d drafted, %d withdrawn",
            report.due,
            len(report.drafted),
            len(report.withdrawn),
        )

    def deliver() -> None:
        deliver_due(application.services, _now())

    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(
        cycle,
        "interval",
        seconds=interval_seconds,
        coalesce=True,
        max_instances=1,
        next_run_time=_now(),
    )
    scheduler.add_job(deliver, "interval", seconds=5, coalesce=True, max_instances=1)
    scheduler.start()


def _now() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)
