from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

main_app = typer.Typer(
    name="followup",
    help="Keeps sales deals from dying of silence: drafts follow-ups, a person approves them.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    # Help is shown as written: `[slack] review_channel` is a followup.toml section, not markup.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"followup {version('followup')}")
        except PackageNotFoundError:  # pragma: no cover - run from a tree that is not installed
            typer.echo("followup (not installed)")
        raise typer.Exit()


@main_app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Keeps sales deals from dying of silence: drafts follow-ups, a person approves them.

    Exit statuses: 0 done, 1 refused or failed, 2 unusable input, 3 partial success."""
