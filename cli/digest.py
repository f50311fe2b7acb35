"""`followup digest`: the weekly digest, printed; `--post` posts it to Slack now (once per week,
like the scheduled job); `--chart` writes its PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli._app import main_app
from cli.core import EXIT_FAILED, EXIT_UNUSABLE_INPUT, ConfigOption, _application, _now
from cli.core import console as out
from cli.core import err as error_out


@main_app.command()
def digest(
    post: Annotated[
        bool, typer.Option("--post", help="Post it to the digest's Slack channel now")
    ] = False,
    chart: Annotated[
        Path | None, typer.Option(help="Also write the replies-per-step chart (PNG) here")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """The weekly digest: the last 7 days of cadence metrics and a chart of replies per step.
    The service posts it to Slack once a week ([digest] in followup.toml)."""
    from app import digest_poster
    from cli.chart import render_replies_per_step
    from cli.failures import check_output
    from flows.digest import DigestStatus, weekly_digest

    check_output(chart, "--chart")
    application = _application(config)
    now = _now()
    if not post:
        shown = weekly_digest(
            application.services, now, render=render_replies_per_step if chart else None
        )
        out.print(shown.text, markup=False, highlight=False)
        if chart is not None and shown.png is not None:
            chart.write_bytes(shown.png)
        return
    poster = digest_poster(application)
    if poster is None:
        error_out.print(
            "Cannot post: Slack is not configured (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET), "
            "or [digest] is disabled or has no channel (nor [slack] review_channel).",
            markup=False,
        )
        raise typer.Exit(EXIT_UNUSABLE_INPUT)
    outcome = poster(now, True)
    if outcome.digest is not None:
        out.print(outcome.digest.text, markup=False, highlight=False)
        if chart is not None and outcome.digest.png is not None:
            chart.write_bytes(outcome.digest.png)
    if outcome.status is DigestStatus.POSTED:
        out.print(f"Posted the digest of {outcome.week}.", markup=False)
    elif outcome.status is DigestStatus.ALREADY_POSTED:
        out.print(
            f"The digest of {outcome.week} was posted already; not posted again.", markup=False
        )
    else:
        detail = f": {outcome.error}" if outcome.error else ""
        error_out.print(
            f"The digest of {outcome.week} was {outcome.status.value}{detail}.", markup=False
        )
        raise typer.Exit(EXIT_FAILED)
