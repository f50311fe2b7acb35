"""`followup inspect-email FILE [--json]`: what followup understands of one raw message."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cli._app import main_app

if TYPE_CHECKING:
    from prompts.reply_model import ReplyModel
    from triggers.reading import Reading

__all__ = ["inspect_email", "main_app", "reading_json"]

EXIT_FAILED = 1
EXIT_UNUSABLE_INPUT = 2
_MAX_BYTES = 50 * 1024 * 1024  # a message larger than this is no e-mail we can help with


def reading_json(reading: Reading) -> dict[str, Any]:
    """The documented `--json` object (issue 5, "Inspecting one message")."""
    return {
        "kind": reading.kind,
        "return_date": reading.return_date.isoformat() if reading.return_date else None,
        "alternate_address": reading.alternate_address,
        "failed_recipients": list(reading.failed_recipients),
        "hard_bounce": reading.hard_bounce,
        "visible_text": reading.visible_text,
        "intent": reading.intent.value,
        "sentiment": reading.sentiment.value,
        "injection_suspected": reading.injection_suspected,
        "opt_out": reading.opt_out.value,
    }


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise OSError("no such file" if not path.exists() else "not a regular file")
    if path.stat().st_size > _MAX_BYTES:
        raise OSError(f"larger than {_MAX_BYTES // (1024 * 1024)} MiB")
    return path.read_bytes()


def _summary(console: Console, understanding: Reading) -> None:
    # Everything below comes from outside: escape it so no markup in a message renders.
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("kind", escape(understanding.kind))
    table.add_row("from", escape(understanding.from_address or "(none)"))
    table.add_row("subject", escape(understanding.subject or "(none)"))
    sent = understanding.sent_at
    table.add_row("date", escape(sent.isoformat() if sent else "(none)"))
    table.add_row("intent", escape(f"{understanding.intent.value} ({understanding.source})"))
    table.add_row("sentiment", escape(understanding.sentiment.value))
    if understanding.check_first:
        table.add_row("opt-out", "Check first: it may be an opt-out; a person decides")
    if understanding.injection_suspected:
        table.add_row("warning", "the text tries to instruct the system (injection suspected)")
    if understanding.kind == "auto_reply":
        table.add_row(
            "return date",
            understanding.return_date.isoformat() if understanding.return_date else "(not stated)",
        )
        table.add_row("alternate address", escape(understanding.alternate_address or "(none)"))
        if understanding.mailbox_retired:
            table.add_row("mailbox", "says it is no longer in use")
    if understanding.kind == "bounce":
        table.add_row(
            "hard bounce",
            {True: "yes", False: "no", None: "unknown"}[understanding.hard_bounce],
        )
        for bounced in understanding.bounces:
            detail = ", ".join(
                part
                for part in (
                    bounced.status,
                    bounced.reason,
                    "hard" if bounced.hard else ("permanent" if bounced.permanent else "soft"),
                )
                if part
            )
            table.add_row("failed recipient", escape(f"{bounced.address} ({detail})"))
        if not understanding.bounces:
            table.add_row("failed recipient", "(none readable)")
    if understanding.kind == "complaint":
        table.add_row("feedback type", escape(understanding.feedback_type or "(none)"))
        for address in understanding.complaint_recipients:
            table.add_row("complainant", escape(address))
    if understanding.bulk:
        table.add_row("list/bulk", "yes (Precedence or List-Id)")
    for signal in understanding.signals:
        table.add_row("why", escape(signal))
    console.print(table)
    if understanding.visible_text:
        console.print("[bold]visible text[/bold]")
        console.print(escape(understanding.visible_text), markup=True, highlight=False)


def inspect_email(
    path: Path,
    *,
    as_json: bool,
    model: ReplyModel | None = None,
    now: datetime | None = None,
) -> int:
    """Print what followup understands of the message in `path`; return the exit status:
    0 read, 1 not readable as a message (the reason on one line), 2 no file to read."""
    import reading
    from prompts.reply_model import consult

    err = Console(stderr=True, soft_wrap=True)
    try:
        raw = _read(path)
    except OSError as error:
        reason = getattr(error, "strerror", None) or str(error) or error.__class__.__name__
        err.print(f"inspect-email: cannot read {escape(str(path))}: {escape(reason)}")
        return EXIT_UNUSABLE_INPUT
    moment = now or datetime.now(tz=UTC)
    try:
        understood = consult(reading.read(raw, now=moment), model)
    except Exception as error:  # a message we cannot read is reported, never a traceback
        reason = str(error) or error.__class__.__name__
        err.print(
            f"inspect-email: {escape(str(path))} is not a message followup can read: "
            f"{escape(reason[:300])}"
        )
        return EXIT_FAILED
    if as_json:
        typer.echo(json.dumps(reading_json(understood), ensure_ascii=False))
    else:
        _summary(Console(soft_wrap=True), understood)
    return 0


@main_app.command("inspect-email")
def inspect_email_command(
    file: Annotated[Path, typer.Argument(help="A raw message (RFC 822 / .eml).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")] = False,
) -> None:
    """Show what followup understands of one raw message: kind, dates, bounce, visible text,
    and the reply's intent, sentiment and any attempt to instruct the system."""
    from app import build_reply_model

    raise typer.Exit(inspect_email(file, as_json=as_json, model=build_reply_model()))
