"""`followup inspect-email FILE [--json]`: what followup understands of one raw message."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypedDict

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cli._app import main_app

if TYPE_CHECKING:  # the parser's pattern tables load when a message is read, not at start
    from mail.parse import MailUnderstanding, ParsedMessage

__all__ = ["ReplyInsight", "inspect_email", "main_app", "understanding_json"]

EXIT_UNUSABLE_INPUT = 2
_MAX_BYTES = 50 * 1024 * 1024  # a message larger than this is no e-mail we can help with


class ReplyInsight(TypedDict):
    """What the reply classifier (prompts/classify.py) adds."""

    intent: str | None
    sentiment: str | None
    injection_suspected: bool | None


# The hook for the reply classifier: given the parsed message and what parse.py understood,
# return intent, sentiment and injection suspicion. None reports nulls.
ReplyClassifier = Callable[["ParsedMessage", "MailUnderstanding"], "ReplyInsight"]

# What the headers already settled, whatever the words say.
_INTENT_BY_KIND = {"opt_out": "opt_out", "complaint": "opt_out", "bounce": "bounce"}


def reply_classifier(model: Any = None) -> ReplyClassifier:
    """The classifier of prompts/classify.py: rules first, then `model` (a ReplyModel) if any."""
    from prompts.classify import classify_reply

    def classify(parsed: ParsedMessage, understanding: MailUnderstanding) -> ReplyInsight:
        label = classify_reply(
            understanding.visible_text or parsed.text or "",
            received_at=parsed.date,
            auto_reply=understanding.kind == "auto_reply",
            bounce=understanding.kind == "bounce",
            model=model,
        )
        return {
            "intent": _INTENT_BY_KIND.get(understanding.kind, label.intent.value),
            "sentiment": label.sentiment.value,
            "injection_suspected": label.injection_suspected,
        }

    return classify


def understanding_json(
    parsed: ParsedMessage,
    understanding: MailUnderstanding,
    reply_classifier: ReplyClassifier | None = None,
) -> dict[str, Any]:
    """The documented `--json` object (issue 5, "Inspecting one message")."""
    insight: ReplyInsight = {"intent": None, "sentiment": None, "injection_suspected": None}
    if reply_classifier is not None:
        insight = reply_classifier(parsed, understanding)
    return {
        "kind": understanding.kind,
        "return_date": understanding.return_date.isoformat() if understanding.return_date else None,
        "alternate_address": understanding.alternate_address,
        "failed_recipients": list(understanding.failed_recipients),
        "hard_bounce": understanding.hard_bounce,
        "visible_text": understanding.visible_text,
        "intent": insight["intent"],
        "sentiment": insight["sentiment"],
        "injection_suspected": insight["injection_suspected"],
    }


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise OSError("no such file" if not path.exists() else "not a regular file")
    if path.stat().st_size > _MAX_BYTES:
        raise OSError(f"larger than {_MAX_BYTES // (1024 * 1024)} MiB")
    return path.read_bytes()


def _summary(console: Console, parsed: ParsedMessage, understanding: MailUnderstanding) -> None:
    # Everything below comes from outside: escape it so no markup in a message renders.
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("kind", escape(understanding.kind))
    table.add_row("from", escape(parsed.from_address or "(none)"))
    table.add_row("subject", escape(parsed.subject or "(none)"))
    table.add_row("date", escape(parsed.date.isoformat() if parsed.date else "(none)"))
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
    path: Path, *, as_json: bool, reply_classifier: ReplyClassifier | None = None
) -> int:
    """Print what followup understands of the message in `path`; return the exit status."""
    err = Console(stderr=True, soft_wrap=True)
    try:
        raw = _read(path)
    except OSError as error:
        reason = getattr(error, "strerror", None) or str(error) or error.__class__.__name__
        err.print(f"inspect-email: cannot read {escape(str(path))}: {escape(reason)}")
        return EXIT_UNUSABLE_INPUT
    from mail.parse import classify_message, parse_message

    parsed = parse_message(raw)
    understanding = classify_message(parsed)
    if as_json:
        payload = understanding_json(parsed, understanding, reply_classifier)
        typer.echo(json.dumps(payload, ensure_ascii=False))
    else:
        _summary(Console(soft_wrap=True), parsed, understanding)
    return 0


@main_app.command("inspect-email")
def inspect_email_command(
    file: Annotated[Path, typer.Argument(help="A raw message (RFC 822 / .eml).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")] = False,
) -> None:
    """Show what followup understands of one raw message: kind, dates, bounce, visible text,
    and the reply's intent, sentiment and any attempt to instruct the system."""
    from app import build_reply_model

    raise typer.Exit(
        inspect_email(file, as_json=as_json, reply_classifier=reply_classifier(build_reply_model()))
    )
