"""The `followup` command line. Each module registers its commands on `cli.main_app`."""

from __future__ import annotations

from cli._app import main_app


def main() -> None:
    # Importing the command modules registers their commands on `main_app`.
    from cli import cadence, check, core, crm, digest, mail, replies, review, send  # noqa: F401
    from cli.failures import guarded

    raise SystemExit(guarded(main_app))


__all__ = ["main", "main_app"]
