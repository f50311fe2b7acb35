"""`followup check` and `followup explain`: the rules on a pipeline file, without a database.

Both evaluate statelessly as of `--at` (default: now): no pending drafts, no history, no
suppression list beyond the contacts' own statuses.

Exit statuses: 0 done (also when nothing is due); 1 no such deal (explain); 2 unusable input
(pipeline file, `--at`, `--config`); 3 done, but malformed records were skipped (listed on
stderr).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cli._app import main_app
from triggers.config import EvaluationConfig
from triggers.evaluate import (
    Due,
    Explanation,
    build_views,
    dues_to_json,
    evaluate,
    explain_deal,
)
from triggers.model import Pipeline
from triggers.rules import RuleStatus, day_label, stamp
from triggers.windows import zone_info

console = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

EXIT_OK = 0
EXIT_NO_SUCH_DEAL = 1
EXIT_UNUSABLE_INPUT = 2
EXIT_PARTIAL = 3

PipelineOption = Annotated[
    Path,
    typer.Option(
        "--pipeline",
        help="Pipeline file (JSON or YAML, spec/pipeline-format.md).",
        exists=False,
        dir_okay=False,
    ),
]
AtOption = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="Evaluate as of this instant: ISO 8601 with an offset or Z, e.g. "
        "2026-11-20T09:30:00-05:00. Default: now.",
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="followup.toml with the rule settings (default: $FOLLOWUP_CONFIG or "
        "./followup.toml when present, else the built-in defaults).",
    ),
]


def parse_at(text: str | None) -> datetime:
    """`--at`: ISO 8601 with an offset or `Z`; None means now. ValueError names the fix."""
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise ValueError(
            f"--at {text!r} is not an ISO 8601 time; write e.g. 2026-11-20T09:30:00Z"
        ) from error
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"--at {text!r} has no offset; add one, e.g. {text.strip()}Z or {text.strip()}-05:00"
        )
    return moment


def _fail(message: str, status: int = EXIT_UNUSABLE_INPUT) -> typer.Exit:
    err.print(Text(f"error: {message}"))
    return typer.Exit(status)


def _load_config(path: Path | None) -> EvaluationConfig:
    from settings import ConfigError, load_followup_config

    required = path is not None
    if path is None:
        path = Path(os.environ.get("FOLLOWUP_CONFIG") or "followup.toml")
    try:
        return load_followup_config(path, required=required).evaluation
    except (ConfigError, ValueError) as error:
        raise _fail(str(error)) from error


def _load_pipeline(path: Path) -> tuple[Pipeline, list[str]]:
    from crm.base import PipelineFormatError
    from crm.local import load_pipeline_file

    if not path.is_file():
        raise _fail(f"{path}: no such pipeline file")
    try:
        result = load_pipeline_file(path)
    except PipelineFormatError as error:
        raise _fail(str(error)) from error
    return result.pipeline, [str(problem) for problem in result.errors]


def _inputs(
    pipeline_path: Path, at: str | None, config_path: Path | None
) -> tuple[Pipeline, list[str], datetime, EvaluationConfig]:
    try:
        now = parse_at(at)
    except ValueError as error:
        raise _fail(str(error)) from error
    config = _load_config(config_path)
    pipeline, problems = _load_pipeline(pipeline_path)
    return pipeline, problems, now, config


def _report_problems(problems: list[str]) -> None:
    if problems:
        err.print(Text(f"{len(problems)} malformed record(s) skipped:"))
        for problem in problems:
            err.print(Text(f"  {problem}"))
        raise typer.Exit(EXIT_PARTIAL)


def _both(moment: datetime, zone: str) -> str:
    """`Mon 23 Nov 2026 09:00 CET (08:00 UTC)`, or just the UTC stamp for UTC."""
    tz = zone_info(zone)
    local = stamp(moment, tz)
    if zone == "UTC":
        return local
    utc = moment.astimezone(UTC)
    if utc.date() == moment.astimezone(tz).date():
        return f"{local} ({utc:%H:%M} UTC)"
    return f"{local} ({day_label(utc)} {utc:%H:%M} UTC)"


def _short(moment: datetime, zone: str) -> str:
    """`Mon 23 Nov 09:00 CET`."""
    local = moment.astimezone(zone_info(zone))
    return f"{day_label(local, local.tzinfo or UTC)} {local:%H:%M} {local.tzname()}"


def due_table(dues: list[Due], pipeline: Pipeline) -> Table:
    """The readable form of `check`: one row per due deal (text from outside is not markup)."""
    titles = {deal.id: deal.title for deal in pipeline.deals}
    names = {contact.id: contact.name for contact in pipeline.contacts}
    table = Table(show_lines=False, header_style="bold")
    table.add_column("Deal", overflow="fold")
    table.add_column("Contact", overflow="fold")
    table.add_column("Rule", no_wrap=True)
    table.add_column("Due", overflow="fold")
    table.add_column("Send at (their time)", overflow="fold")
    table.add_column("Reason", overflow="fold", ratio=2)
    for due in dues:
        table.add_row(
            Text(f"{due.deal_id} {titles.get(due.deal_id, '')}".strip()),
            Text(f"{names.get(due.contact_id, due.contact_id)} ({due.contact_id})"),
            Text(due.rule.value),
            Text(_short(due.due_at, "UTC")),
            Text(_short(due.send_at, due.zone)),
            Text(due.reason),
        )
    return table


@main_app.command("check")
def check(
    pipeline: PipelineOption,
    at: AtOption = None,
    config: ConfigOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON array instead of a table.")
    ] = False,
) -> None:
    """List every deal with a follow-up due as of --at: rule, due time, send time, reason."""
    loaded, problems, now, evaluation = _inputs(pipeline, at, config)
    dues = evaluate(loaded, now, evaluation)
    if as_json:
        typer.echo(json.dumps(dues_to_json(dues), indent=2, ensure_ascii=False))
    elif not dues:
        console.print(Text(f"Nothing due as of {stamp(now)}."))
    else:
        noun = "deal" if len(dues) == 1 else "deals"
        console.print(Text(f"{len(dues)} {noun} due as of {stamp(now)}:"))
        console.print(due_table(dues, loaded))
    _report_problems(problems)


_STATUS_STYLE = {
    RuleStatus.DUE: "bold green",
    RuleStatus.NOT_DUE: "yellow",
    RuleStatus.OFF: "dim",
    RuleStatus.CANCELLED: "red",
}


def render_explanation(explanation: Explanation) -> list[Text | Table]:
    """What `explain` prints, as rich renderables (text from outside is never markup)."""
    zone = explanation.zone
    tz = zone_info(zone)
    parts: list[Text | Table] = [
        Text.assemble(
            (f"{explanation.deal_id} {explanation.title}", "bold"),
            f" as of {stamp(explanation.now)}; dates in {zone}",
        )
    ]
    for verdict in explanation.verdicts:
        parts.append(Text.assemble(("  stop: ", "red"), verdict.text))
    table = Table(header_style="bold", show_lines=True)
    table.add_column("Rule", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Why", overflow="fold")
    table.add_column("Dates that decided it", overflow="fold")
    for outcome in explanation.outcomes:
        dates = "\n".join(f"{label}: {stamp(moment, tz)}" for label, moment in outcome.dates)
        table.add_row(
            Text(outcome.rule.value),
            Text(outcome.status.value, style=_STATUS_STYLE[outcome.status]),
            Text(outcome.reason),
            Text(dates),
        )
    parts.append(table)
    due = explanation.due
    if due is not None:
        parts.append(
            Text.assemble(
                ("Due: ", "bold green"),
                f"{due.rule.value} for {due.contact_id}: {due.reason}. "
                f"Send at {_both(due.send_at, due.zone)}.",
            )
        )
    else:
        line = Text.assemble(("Nothing due", "bold"))
        if explanation.next_change_at is not None:
            line.append(f"; this can change at {_both(explanation.next_change_at, zone)}")
        parts.append(line)
    return parts


@main_app.command("explain")
def explain(
    deal_id: Annotated[str, typer.Argument(help="The deal's id in the pipeline file.")],
    pipeline: PipelineOption,
    at: AtOption = None,
    config: ConfigOption = None,
) -> None:
    """Show, for every rule, due / not due / off / cancelled, why, and the dates that decided
    it; plus what stops the deal as a whole (not watched, no reachable contact, ...)."""
    loaded, problems, now, evaluation = _inputs(pipeline, at, config)
    view = next((v for v in build_views(loaded) if v.deal.id == deal_id), None)
    if view is None:
        _report_problems_quietly(problems)
        raise _fail(f"no deal {deal_id!r} in {pipeline}", EXIT_NO_SUCH_DEAL)
    for part in render_explanation(explain_deal(view, now, evaluation)):
        console.print(part)
    _report_problems(problems)


def _report_problems_quietly(problems: list[str]) -> None:
    for problem in problems:
        err.print(Text(f"skipped: {problem}"))
