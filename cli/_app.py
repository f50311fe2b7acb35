from __future__ import annotations

import typer

main_app = typer.Typer(
    name="followup",
    help="Keeps sales deals from dying of silence: drafts follow-ups, a person approves them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
