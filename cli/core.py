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


def _application(config: Path | None = None, *, create: bool = False) -> Any:
    from app import SetupError, build
    from cli.failures import UserError, check_config_path, check_database
    from observe.logs import configure_logging
    from settings import ConfigError, Settings, load_followup_config

    settings = Settings()
    configure_logging(settings)
    try:
        check_config_path(config, settings)
        load_followup_config(config or settings.followup_config)  # its problems come first
        check_database(settings.database_url, create=create)
    except UserError as error:
        err.print(f"error: {error}", markup=False, highlight=False)
        raise typer.Exit(error.status) from error
    except ConfigError as error:
        err.print(f"[red]error:[/] {error}", markup=True, highlight=False)
        raise typer.Exit(EXIT_UNUSABLE_INPUT) from error
    try:
        return build(settings, config_path=config)
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


def print_queue(drafts: list[Draft], application: Any, now: datetime | None = None) -> None:
    from zoneinfo import ZoneInfo

    from triggers.windows import recipient_zone

    if not drafts:
        console.print("The review queue is empty: no follow-up is due.")
        return
    from flows.outgoing import plan_message
    from flows.review import deal_view

    store = application.services.store
    pipeline = store.pipeline.subset(d.deal_id for d in drafts)
    window = application.services.policy.evaluation.send_window
    console.print(f"[bold]Review queue: {len(drafts)} draft(s)[/]\n")
    now = now or _now()
    deals = {d.id: d for d in pipeline.deals}
    contacts = {c.id: c for c in pipeline.contacts}
    owners = {o.id: o for o in pipeline.owners}
    for draft in drafts:
        deal = deals.get(draft.deal_id)
        contact = contacts.get(draft.contact_id)
        owner = owners.get(deal.owner_id) if deal else None
        zone = recipient_zone(contact, owner, window) if contact else "UTC"
        view = deal_view(application.services, draft.deal_id)
        # What approving it now would send, and when (threaded subject, holds).
        plan = plan_message(application.services, draft, view, now) if view else None
        send_at = plan.send_at if plan else draft.send_at
        subject = plan.subject if plan else draft.subject
        local = send_at.astimezone(ZoneInfo(zone))
        title = deal.title if deal else draft.deal_id
        name = f"{contact.name} <{draft.to_address}>" if contact else draft.to_address
        lines = [
            f"[bold]#{draft.id}[/]  {_escape(title)}  [dim]{draft.rule}[/]",
            f"     Why now: {_escape(draft.reason)}",
            f"     To: {_escape(name)}",
        ]
        if draft.drafting is not None and draft.drafting.cc:
            lines.append(f"     Cc: {_escape(', '.join(draft.drafting.cc))}")
        lines += [
            f"     Arrives: {local:%a %d %b %H:%M} {zone} ({send_at:%H:%M} UTC)",
            f"     Subject: {_escape(subject)}",
        ]
        if plan is not None and plan.hold is not None:
            lines.append(f"     [yellow]Held: {_escape(plan.hold.reason)}[/]")
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


def _titles(application: Any, deal_ids: list[str]) -> dict[str, str]:
    return {d.id: d.title for d in application.services.store.pipeline.subset(deal_ids).deals}


@main_app.command()
def demo(
    keep: Annotated[
        bool, typer.Option(help="Keep the previous demo state instead of starting fresh")
    ] = False,
    at: Annotated[
        str | None,
        typer.Option(
            "--at", help="Run as of this instant (ISO 8601), e.g. 2026-11-23T08:00:00Z", hidden=True
        ),
    ] = None,
) -> None:
    """One full cycle over the sample pipeline on the embedded defaults, then the queue."""
    from app import build
    from cli.check import parse_at
    from flows.cycle import run_cycle
    from settings import CrmProvider, MailProvider, Settings

    try:
        now = parse_at(at)
    except ValueError as error:
        err.print(f"error: {error}", markup=False)
        raise typer.Exit(EXIT_UNUSABLE_INPUT) from error
    if not keep and DEMO_DIR.exists():
        shutil.rmtree(DEMO_DIR)
    DEMO_DIR.mkdir(exist_ok=True)
    sample = Path(__file__).resolve().parent.parent / "examples" / "pipeline.json"
    if not sample.exists():  # an installed copy without the repository's examples/
        sample = Path(os.environ.get("PIPELINE_FILE", "examples/pipeline.json"))
    if not sample.exists():
        err.print(
            f"error: the sample pipeline {sample} is not here; run `make demo` in a clone, "
            "or set PIPELINE_FILE to a copy of examples/pipeline.json",
            markup=False,
        )
        raise typer.Exit(EXIT_UNUSABLE_INPUT)
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
        report = run_cycle(application.services, now)
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
    print_queue(drafts, application, now)
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
        delivery = deliver_due(application.services, now, clock=_now)
    from cli.review import tick_status

    status = tick_status(application, report, delivery)
    if status == EXIT_UNUSABLE_INPUT:
        raise typer.Exit(status)
    console.print(
        f"{report.synced_deals} deals synced, {report.due} due, {len(report.drafted)} drafted, "
        f"{len(report.withdrawn)} withdrawn; {len(delivery.sent)} sent, "
        f"{len(delivery.retrying)} retrying, "
        f"{len(delivery.failed) + len(delivery.refused)} not sent."
        + (f" {len(delivery.held)} held by the send limits." if delivery.held else "")
        + (f" {report.deferred} due left for later cycles." if report.deferred else "")
    )
    if report.inbound:
        from flows.replies import inbox_lines

        console.print(f"Inbox: {report.inbound} new message(s)", markup=False)
        for line in inbox_lines(application.services, report.inbox):
            console.print(f"  {line}", markup=False, highlight=False)
    for draft_id, why in delivery.held:
        err.print(f"held: draft #{draft_id}: {why}", markup=False)
    for draft_id, what in delivery.repaired:
        err.print(f"repaired: draft #{draft_id}: {what}", markup=False)
    for problem in report.sync_problems:
        err.print(f"skipped: {problem}", markup=False)
    if status:
        raise typer.Exit(status)


@main_app.command()
def run(
    config: ConfigOption = None,
    interval: Annotated[int, typer.Option(help="Seconds between cycles")] = 300,
    http: Annotated[
        bool, typer.Option("--http", help="Take Slack's requests over HTTP instead of Socket Mode")
    ] = False,
    port: Annotated[int, typer.Option(help="Port for --http (/slack/events, /healthz)")] = 3000,
    host: Annotated[str, typer.Option(help="Address for --http")] = "0.0.0.0",  # noqa: S104
    health_port: Annotated[
        int | None,
        typer.Option(
            help="Port for /healthz, /readyz and /metrics (default: HEALTH_PORT, 9108; 0: off)"
        ),
    ] = None,
) -> None:
    """Run the service: a cycle every --interval seconds, the outbox worker every few seconds,
    and Slack (Socket Mode with SLACK_APP_TOKEN, or HTTP with --http)."""
    from app import SetupError, run_service

    application = _application(config)
    try:
        run_service(
            application,
            interval_seconds=interval,
            http_port=port if http else None,
            http_host=host,
            health_port=application.settings.health_port if health_port is None else health_port,
        )
    except SetupError as error:
        err.print(f"[red]error:[/] {error}", markup=True, highlight=False)
        raise typer.Exit(EXIT_UNUSABLE_INPUT) from error


@main_app.command()
def queue(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array")] = False,
    owner: Annotated[
        str | None, typer.Option(help="Only this owner's deals (id, email or name)")
    ] = None,
    rule: Annotated[str | None, typer.Option(help="Only drafts of this rule")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many drafts")] = None,
    long: Annotated[
        bool | None,
        typer.Option("--long/--short", help="Full entries / one line per draft (default: by size)"),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """List the drafts waiting for review (one line each when there are many)."""
    from cli.review import COMPACT_ABOVE, filter_queue, print_compact, print_held

    application = _application(config)
    drafts = application.services.store.drafts.find(statuses=[DraftStatus.PENDING])
    drafts = filter_queue(application, drafts, owner=owner, rule=rule)
    total = len(drafts)
    drafts = drafts[:limit] if limit else drafts
    if as_json:
        typer.echo(json.dumps([_draft_row(d) for d in drafts], indent=2, ensure_ascii=False))
        return
    if long is False or (long is None and total > COMPACT_ABOVE):
        print_compact(drafts, application, total)
    else:
        print_queue(drafts, application)
    print_held(application)


@main_app.command()
def show(draft_id: int, config: ConfigOption = None) -> None:
    """Show one draft: why now, the evidence, the message, and its history."""
    from cli.review import arrival

    application = _application(config)
    store = application.services.store
    draft = store.drafts.get(draft_id)
    if draft is None:
        err.print(f"There is no draft #{draft_id}.", markup=False)
        raise typer.Exit(EXIT_FAILED)
    from flows.outgoing import plan_message
    from flows.review import deal_view

    title = _titles(application, [draft.deal_id]).get(draft.deal_id, draft.deal_id)
    view = deal_view(application.services, draft.deal_id)
    # Exactly what leaves (or would, approved now): the outbox row once approved.
    plan = plan_message(application.services, draft, view, _now()) if view else None
    subject = plan.subject if plan else draft.subject
    lines = [
        f"Draft #{draft.id} ({draft.status.value}, version {draft.version}) for {title}",
        f"To: {plan.to_address if plan else draft.to_address}",
        f"Why now: {draft.reason} [{draft.rule}]",
        *(f"  - {line}" for line in draft.evidence),
        f"{'Sent' if plan and plan.status == 'sent' else 'Arrives'}: "
        f"{arrival(application, draft, plan.send_at if plan else None)}",
    ]
    if plan is not None and plan.status not in ("planned", "sent"):
        lines.append(f"Outbox: {plan.status}" + (f" ({plan.note})" if plan.note else ""))
    if view is not None and view.deal.crm_url:
        lines.append(f"Open in CRM: {view.deal.crm_url}")  # Slack's menu item, here
    notes = draft.drafting
    if notes is not None:
        if notes.cc:
            lines.append(f"Cc: {', '.join(notes.cc)}")
        if notes.written_from:
            lines.append("Written from:")
            lines += [f"  - {line}" for line in notes.written_from]
        if notes.why_angle:
            lines.append(f"Why this angle: {notes.why_angle}")
        if notes.facts_used:
            lines.append("Facts used: " + "; ".join(notes.facts_used))
        lines += [f"Warning: {warning}" for warning in notes.warnings]
    if draft.notice:
        lines.append(f"Note: {draft.notice}")
    for failure in draft.guardrail_failures:
        lines.append(f"Check failed: {failure}")
    lines += ["", f"Subject: {subject}", "", plan.body if plan else draft.body, "", "History:"]
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
    delivery = deliver_due(application.services, now, clock=_now)
    if draft_id in delivery.sent:
        console.print(
            f"Sent draft #{draft_id} to {decision.draft.to_address if decision.draft else ''}.",
            markup=False,
        )
    elif any(d == draft_id for d, _ in delivery.refused + delivery.failed):
        reason = next(r for d, r in delivery.refused + delivery.failed if d == draft_id)
        err.print(f"Not sent: {reason}", markup=False)
        raise typer.Exit(EXIT_FAILED)
    elif any(d == draft_id for d, _ in delivery.held):
        reason = next(r for d, r in delivery.held if d == draft_id)
        err.print(f"Held: {reason}", markup=False)
        if "may already have been sent" in reason:
            err.print(f"`followup resend {draft_id}` or `followup cancel {draft_id}`", markup=False)
            raise typer.Exit(EXIT_FAILED)
    else:
        from cli.review import arrival

        assert decision.draft is not None
        console.print(
            f"Approved; arrives {arrival(application, decision.draft, decision.send_at)}. "
            "`followup run` (or `followup tick` then) sends it.",
            markup=False,
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

    application = _application(config, create=True)
    pipeline, unstorable = storable(result.pipeline, str(path))
    result = replace(result, pipeline=pipeline, errors=(*result.errors, *unstorable))
    with console.status(f"Storing {len(pipeline.deals)} deals..."):
        # merged, not a snapshot: what the store holds besides the file stays
        changed = application.services.store.pipeline.sync(pipeline, _now(), snapshot=False)
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
    from cli.failures import check_output
    from crm.local import dump_pipeline

    check_output(path, "export")
    application = _application(config)
    document = dump_pipeline(application.services.store.pipeline.load())
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

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
    from cli.failures import check_database
    from settings import Settings
    from storage.db import make_engine, migrate

    settings = Settings()
    check_database(settings.database_url, create=True)
    migrate(make_engine(settings.database_url))
    console.print("Database is up to date.", markup=False)


def _user() -> str:
    return os.environ.get("USER") or "operator"
