"""The review surface without Slack, and the service commands."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from cli._app import main_app
from triggers.drafts import Draft, DraftStatus

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

# Exit statuses, documented in the README.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNUSABLE_INPUT = 2
EXIT_PARTIAL = 3

DEMO_DIR = Path(".followup-demo")


def _now() -> datetime:
    return datetime.now(UTC)


def _application(config: Path | None = None) -> Any:
    from app import SetupError, build
    from settings import ConfigError

    try:
        return build(config_path=config)
    except (ConfigError, SetupError) as error:
        err.print(f"[red]error:[/] {error}", markup=True, highlight=False)
        raise typer.Exit(EXIT_UNUSABLE_INPUT) from error


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", help="followup.toml to use (default: $FOLLOWUP_CONFIG or ./followup.toml)"
    ),
]


def _draft_row(draft: Draft) -> dict[str, Any]:
    return {
        "id": draft.id,
        "deal_id": draft.deal_id,
        "contact_id": draft.contact_id,
        "to": draft.to_address,
        "rule": draft.rule,
        "status": draft.status.value,
        "reason": draft.reason,
        "send_at": draft.send_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "subject": draft.subject,
        "body": draft.body,
        "source": draft.source,
        "notice": draft.notice,
        "guardrail_failures": list(draft.guardrail_failures),
        "version": draft.version,
    }


def print_queue(drafts: list[Draft], application: Any) -> None:
    from zoneinfo import ZoneInfo

    from triggers.windows import recipient_zone

    if not drafts:
        console.print("The review queue is empty: no follow-up is due.")
        return
    pipeline = application.services.store.pipeline.load()
    window = application.services.policy.evaluation.send_window
    console.print(f"[bold]Review queue: {len(drafts)} draft(s)[/]\n")
    for draft in drafts:
        deal = pipeline.deal(draft.deal_id)
        contact = pipeline.contact(draft.contact_id)
        owner = pipeline.owner(deal.owner_id) if deal else None
        zone = recipient_zone(contact, owner, window) if contact else "UTC"
        local = draft.send_at.astimezone(ZoneInfo(zone))
        title = deal.title if deal else draft.deal_id
        name = f"{contact.name} <{draft.to_address}>" if contact else draft.to_address
        lines = [
            f"[bold]#{draft.id}[/]  {_escape(title)}  [dim]{draft.rule}[/]",
            f"     Why now: {_escape(draft.reason)}",
            f"     To: {_escape(name)}",
            f"     Arrives: {local:%a %d %b %H:%M} {zone} ({draft.send_at:%H:%M} UTC)",
            f"     Subject: {_escape(draft.subject)}",
        ]
        if draft.notice:
            lines.append(f"     [yellow]{_escape(draft.notice)}[/]")
        if draft.guardrail_failures:
            lines.append(
                "     [red]Check failed: " + _escape("; ".join(draft.guardrail_failures)) + "[/]"
            )
        console.print("\n".join(lines), highlight=False, soft_wrap=True)
        console.print()


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _titles(application: Any) -> dict[str, str]:
    return {d.id: d.title for d in application.services.store.pipeline.load().deals}


@main_app.command()
def demo(
    keep: Annotated[
        bool, typer.Option(help="Keep the previous demo state instead of starting fresh")
    ] = False,
) -> None:
    """One full cycle over the sample pipeline on the embedded defaults, then the queue."""
    from app import build
    from flows.cycle import run_cycle
    from settings import CrmProvider, MailProvider, Settings

    if not keep and DEMO_DIR.exists():
        shutil.rmtree(DEMO_DIR)
    DEMO_DIR.mkdir(exist_ok=True)
    sample = Path(__file__).resolve().parent.parent / "examples" / "pipeline.json"
    settings = Settings(
        database_url=f"sqlite:///{DEMO_DIR / 'followup.db'}",
        pipeline_file=sample,
        outbox_dir=DEMO_DIR / "outbox",
        crm_provider=CrmProvider.LOCAL,
        mail_provider=MailProvider.OUTBOX,
        slack_bot_token=None,
        slack_signing_secret=None,
        openai_api_key=None,
    )
    application = build(settings, config_path=Path(os.devnull + ".missing"))
    with console.status("Syncing the sample pipeline, evaluating the rules, drafting..."):
        report = run_cycle(application.services, _now())
    console.print(
        f"Synced [bold]{report.synced_deals}[/] deals from {sample.name}; "
        f"{report.due} follow-up(s) due, {len(report.drafted)} drafted."
    )
    if report.inbound:
        from flows.replies import inbox_lines

        console.print(f"Inbox: {report.inbound} new message(s)", markup=False)
        for line in inbox_lines(application.services, report.inbox):
            console.print(f"  {line}", markup=False, highlight=False)
    for problem in report.sync_problems:
        err.print(f"skipped: {problem}", markup=False)
    drafts = application.services.store.drafts.find(statuses=[DraftStatus.PENDING])
    print_queue(drafts, application)
    first = drafts[0].id if drafts else 1
    console.print(
        "Nothing was sent. Without Slack the CLI is the review surface; to continue the demo:\n"
        f"  export DATABASE_URL=sqlite:///{DEMO_DIR}/followup.db OUTBOX_DIR={DEMO_DIR}/outbox\n"
        f"  .venv/bin/followup show {first}\n"
        f"  .venv/bin/followup approve {first}   # leaves inside the contact's send window\n"
        f"  .venv/bin/followup dismiss {first} --reason not_now",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@main_app.command()
def tick(config: ConfigOption = None) -> None:
    """Run one cycle (sync, evaluate, draft) and send approved messages that are due."""
    from flows.cycle import run_cycle
    from flows.delivery import deliver_due

    application = _application(config)
    now = _now()
    with console.status("Syncing, reading the inbox, evaluating, drafting, sending..."):
        report = run_cycle(application.services, now)
        delivery = deliver_due(application.services, now)
    console.print(
        f"{report.synced_deals} deals synced, {report.due} due, {len(report.drafted)} drafted, "
        f"{len(report.withdrawn)} withdrawn; {len(delivery.sent)} sent, "
        f"{len(delivery.retrying)} retrying, "
        f"{len(delivery.failed) + len(delivery.refused)} not sent."
    )
    if report.inbound:
        from flows.replies import inbox_lines

        console.print(f"Inbox: {report.inbound} new message(s)", markup=False)
        for line in inbox_lines(application.services, report.inbox):
            console.print(f"  {line}", markup=False, highlight=False)
    for problem in report.sync_problems:
        err.print(f"skipped: {problem}", markup=False)
    if report.sync_failed:
        err.print(
            f"CRM sync failed, used the last synced pipeline: {report.sync_failed}", markup=False
        )


@main_app.command()
def run(
    config: ConfigOption = None,
    interval: Annotated[int, typer.Option(help="Seconds between cycles")] = 300,
    http: Annotated[
        bool, typer.Option("--http", help="Take Slack's requests over HTTP instead of Socket Mode")
    ] = False,
    port: Annotated[int, typer.Option(help="Port for --http (/slack/events, /healthz)")] = 3000,
    host: Annotated[str, typer.Option(help="Address for --http")] = "0.0.0.0",  # noqa: S104
) -> None:
    """Run the service: a cycle every --interval seconds, the outbox worker every few seconds,
    and Slack (Socket Mode with SLACK_APP_TOKEN, or HTTP with --http)."""
    from app import SetupError, run_service

    try:
        run_service(
            _application(config),
            interval_seconds=interval,
            http_port=port if http else None,
            http_host=host,
        )
    except SetupError as error:
        err.print(f"[red]error:[/] {error}", markup=True, highlight=False)
        raise typer.Exit(EXIT_UNUSABLE_INPUT) from error


@main_app.command()
def queue(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array")] = False,
    config: ConfigOption = None,
) -> None:
    """List the drafts waiting for review."""
    application = _application(config)
    drafts = application.services.store.drafts.find(statuses=[DraftStatus.PENDING])
    if as_json:
        typer.echo(json.dumps([_draft_row(d) for d in drafts], indent=2, ensure_ascii=False))
        return
    print_queue(drafts, application)


@main_app.command()
def show(draft_id: int, config: ConfigOption = None) -> None:
    """Show one draft: why now, the evidence, the message, and its history."""
    application = _application(config)
    store = application.services.store
    draft = store.drafts.get(draft_id)
    if draft is None:
        err.print(f"There is no draft #{draft_id}.", markup=False)
        raise typer.Exit(EXIT_FAILED)
    title = _titles(application).get(draft.deal_id, draft.deal_id)
    lines = [
        f"Draft #{draft.id} ({draft.status.value}, version {draft.version}) for {title}",
        f"To: {draft.to_address}",
        f"Why now: {draft.reason} [{draft.rule}]",
        *(f"  - {line}" for line in draft.evidence),
        f"Arrives: {draft.send_at:%a %d %b %Y %H:%M} UTC",
    ]
    if draft.notice:
        lines.append(f"Note: {draft.notice}")
    for failure in draft.guardrail_failures:
        lines.append(f"Check failed: {failure}")
    lines += ["", f"Subject: {draft.subject}", "", draft.body, "", "History:"]
    lines += [
        f"  {e.at:%Y-%m-%d %H:%M} {e.from_status or '-'} -> {e.to_status} by {e.actor}"
        + (f" ({e.note})" if e.note else "")
        for e in store.drafts.events(draft_id)
    ]
    console.print("\n".join(lines), markup=False, highlight=False)


@main_app.command()
def approve(draft_id: int, config: ConfigOption = None) -> None:
    """Approve a draft: it leaves through the configured mailbox inside the send window."""
    from flows.delivery import deliver_due
    from flows.ports import Actor
    from flows.review import approve as approve_draft

    application = _application(config)
    now = _now()
    decision = approve_draft(application.services, draft_id, Actor.operator(_user()), now)
    if not decision.ok:
        err.print(decision.message, markup=False)
        raise typer.Exit(EXIT_FAILED)
    delivery = deliver_due(application.services, now)
    if draft_id in delivery.sent:
        console.print(
            f"Sent draft #{draft_id} to {decision.draft.to_address if decision.draft else ''}.",
            markup=False,
        )
    elif any(d == draft_id for d, _ in delivery.refused + delivery.failed):
        reason = next(r for d, r in delivery.refused + delivery.failed if d == draft_id)
        err.print(f"Not sent: {reason}", markup=False)
        raise typer.Exit(EXIT_FAILED)
    else:
        console.print(
            f"{decision.message} `followup run` (or `followup tick` then) sends it.", markup=False
        )


@main_app.command()
def dismiss(
    draft_id: int,
    reason: Annotated[str, typer.Option(help="not_now, deprioritize, wrong_moment or other")],
    config: ConfigOption = None,
) -> None:
    """Dismiss a draft, with a reason."""
    from flows.ports import Actor
    from flows.review import dismiss as dismiss_draft

    application = _application(config)
    decision = dismiss_draft(
        application.services, draft_id, Actor.operator(_user()), _now(), reason
    )
    (console if decision.ok else err).print(decision.message, markup=False)
    if not decision.ok:
        raise typer.Exit(EXIT_FAILED)


@main_app.command("import")
def import_pipeline(path: Path, config: ConfigOption = None) -> None:
    """Load a pipeline file (JSON or YAML) into the store. Malformed records are reported and
    skipped; exit status 3 means some were skipped, 2 that the file was unusable."""
    from crm.base import PipelineFormatError
    from crm.local import load_pipeline_file

    try:
        result = load_pipeline_file(path)
    except PipelineFormatError as error:
        err.print(f"error: {error}", markup=False)
        raise typer.Exit(EXIT_UNUSABLE_INPUT) from error
    from storage.limits import storable

    application = _application(config)
    pipeline, unstorable = storable(result.pipeline, str(path))
    result = replace(result, pipeline=pipeline, errors=(*result.errors, *unstorable))
    with console.status(f"Storing {len(pipeline.deals)} deals..."):
        changed = application.services.store.pipeline.sync(pipeline, _now())
    console.print(
        f"Loaded {len(pipeline.owners)} owners, {len(pipeline.contacts)} contacts, "
        f"{len(pipeline.deals)} deals, {len(pipeline.activities)} activities "
        f"({len(changed)} deals new or changed).",
        markup=False,
    )
    if result.errors:
        err.print(f"{len(result.errors)} record(s) skipped:", markup=False)
        for problem in result.errors:
            err.print(f"  {problem}", markup=False, highlight=False)
        raise typer.Exit(EXIT_PARTIAL)


@main_app.command("export")
def export_pipeline(path: Path, config: ConfigOption = None) -> None:
    """Write the stored pipeline to a file in the pipeline format (.json, .yaml or .yml)."""
    from crm.local import dump_pipeline

    application = _application(config)
    document = dump_pipeline(application.services.store.pipeline.load())
    if path.suffix.lower() in (".yaml", ".yml"):
        path.write_text(
            yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
    else:
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    console.print(f"Wrote {len(document['deals'])} deals to {path}.", markup=False)


db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
main_app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (they also run at every start)."""
    from settings import Settings
    from storage.db import make_engine, migrate

    settings = Settings()
    migrate(make_engine(settings.database_url))
    console.print("Database is up to date.", markup=False)


def _user() -> str:
    return os.environ.get("USER") or "operator"
