"""`followup crm check` (connect, map, report; writes nothing) and `followup crm sync
[--full]` (bring the store up to the CRM now)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from cli._app import main_app

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
EXIT_FAILED, EXIT_UNUSABLE_INPUT, EXIT_PARTIAL = 1, 2, 3
SAMPLE = 10

crm_app = typer.Typer(
    help="The CRM: check the connection and mapping, sync now.", no_args_is_help=True
)
main_app.add_typer(crm_app, name="crm")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", help="followup.toml to use (default: $FOLLOWUP_CONFIG or ./followup.toml)"
    ),
]

FIXES = {
    "hubspot": "check HUBSPOT_ACCESS_TOKEN (or the OAuth app's refresh token) and that the app "
    "has the scopes crm.objects.deals.read, crm.objects.contacts.read, crm.objects.owners.read "
    "and crm.objects.companies.read",
    "pipedrive": "check PIPEDRIVE_API_TOKEN (Settings > Personal preferences > API) or the OAuth "
    "app's refresh token, and PIPEDRIVE_API_URL (https://<company>.pipedrive.com)",
}


def _now() -> datetime:
    return datetime.now(UTC)


def _fail(line: str, status: int) -> NoReturn:
    err.print(f"error: {line}", markup=False, highlight=False)
    raise typer.Exit(status)


@crm_app.command("check")
def check(config: ConfigOption = None) -> None:
    """Connect to the CRM, read it all, and show what followup makes of it: counts per
    object, a sample of deals with the rule each would trigger today, and every mapping
    problem in plain words. Writes nothing (not to the CRM, not to the store)."""
    from app import SetupError, build_crm
    from crm.base import CrmAuthError, CrmError
    from crm.mapping import mapping_problems
    from settings import ConfigError, Settings, load_followup_config
    from triggers.evaluate import build_views, evaluate

    try:
        settings = Settings()
        followup = load_followup_config(config or settings.followup_config)
        adapter = build_crm(settings, followup)
    except (ConfigError, SetupError) as error:
        _fail(str(error), EXIT_UNUSABLE_INPUT)
    now = _now()
    name = adapter.name
    with console.status(f"Reading {name}..."):
        try:
            result = adapter.fetch(now, None)
            stages: list[tuple[str, str]] = list(getattr(adapter, "stages", lambda: [])())
        except CrmAuthError as error:
            _fail(f"{error}; {FIXES.get(name, 'check the credentials')}", EXIT_FAILED)
        except CrmError as error:
            _fail(f"{name} could not be read: {error}; try again later", EXIT_FAILED)
        finally:
            _close(adapter)
    pipeline = result.pipeline
    console.print(f"Connected to {name}: credentials and read scopes work.", markup=False)
    statuses = Counter(d.status.value for d in pipeline.deals)
    kinds = Counter(a.kind.value for a in pipeline.activities)
    console.print(
        f"{len(pipeline.owners)} owners, {len(pipeline.contacts)} contacts, "
        f"{len(pipeline.deals)} deals ("
        + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
        + f"), {len(pipeline.activities)} activities ("
        + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        + ")",
        markup=False,
    )
    dues = {d.deal_id: d for d in evaluate(pipeline, now, followup.evaluation)}
    views = [v for v in build_views(pipeline) if v.deal.status.value == "open"]
    views.sort(key=lambda v: (v.deal.id not in dues, v.deal.title))
    if views:
        console.print(f"\nSample of open deals ({min(SAMPLE, len(views))} of {len(views)}):")
    for view in views[:SAMPLE]:
        deal = view.deal
        due = dues.get(deal.id)
        today = f"{due.rule.value}: {due.reason}" if due else "nothing due today"
        console.print(
            f"  {deal.title} [{deal.stage}, since {deal.stage_entered_at:%Y-%m-%d}] -> {today}",
            markup=False,
            highlight=False,
        )
    problems = [str(p) for p in result.errors]
    problems += mapping_problems(_mapping(followup), stages, pipeline.owners, pipeline.deals)
    problems += list(result.warnings)
    if not problems:
        console.print("\nNo mapping problems.")
        return
    console.print(f"\n{len(problems)} mapping problem(s):")
    for line in problems:
        console.print(f"  - {line}", markup=False, highlight=False)
    if result.errors:
        raise typer.Exit(EXIT_PARTIAL)


def _close(adapter: Any) -> None:
    closing = getattr(adapter, "close", None)
    if callable(closing):
        closing()


def _mapping(config: Any) -> Any:
    return config.crm.mapping.to_domain()


@crm_app.command("sync")
def sync(
    full: Annotated[
        bool, typer.Option("--full", help="Read everything again, not only what changed")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Sync the CRM into the store now (the service does this every cycle), and perform the
    write-backs that are due. With --full, everything is read again and deals the CRM no
    longer has leave the store."""
    from cli.core import _application
    from flows.cycle import CycleReport, flush_crm_writes, sync_crm

    application = _application(config)
    services = application.services
    now = _now()
    report = CycleReport(now=now)
    with console.status(f"Syncing {services.crm.name}{' in full' if full else ''}..."):
        try:
            sync_crm(services, now, report, full=full)
            if report.sync_failed is None:
                flush_crm_writes(services, now, report)
        finally:
            _close(services.crm)
    if report.sync_failed is not None:
        _fail(f"sync failed, the last synced pipeline is kept: {report.sync_failed}", EXIT_FAILED)
    console.print(
        f"Synced {report.synced_deals} deal(s) from {services.crm.name} "
        f"({report.changed_deals} new or changed); {report.crm_writes} write-back(s) done"
        + (f", {len(report.crm_writes_waiting)} waiting" if report.crm_writes_waiting else "")
        + ".",
        markup=False,
    )
    if report.sync_problems:
        err.print(f"{len(report.sync_problems)} record(s) skipped:", markup=False)
        for problem in report.sync_problems:
            err.print(f"  {problem}", markup=False, highlight=False)
        raise typer.Exit(EXIT_PARTIAL)
