"""A user's mistake is one line with the fix and the documented exit status, never a traceback.

`guarded` runs the command line and turns what a misconfiguration raises (settings that do not
validate, a database URL that is not one or cannot be reached, a template folder that does
not exist, Slack refusing a token...) into that line. `check_database` and `check_config_path`
are the checks made before the application is built.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

EXIT_FAILED = 1
EXIT_UNUSABLE_INPUT = 2

# Settings whose value must never be echoed back (they are secrets).
_SECRET_HINTS = ("token", "secret", "password", "key")
# The fix for a setting that did not validate, by variable.
_HINTS = {
    "mail_provider": "use outbox, smtp_imap, gmail or graph",
    "crm_provider": "use local (hubspot, pipedrive, salesforce and close are planned)",
    "smtp_security": "use starttls (port 587), tls (465) or none",
    "imap_security": "use tls (993), starttls (143) or none",
    "log_level": "use DEBUG, INFO, WARNING or ERROR",
    "log_format": "use text or json",
}


class UserError(Exception):
    """One line for the user, and the exit status."""

    def __init__(self, message: str, status: int = EXIT_UNUSABLE_INPUT) -> None:
        super().__init__(message)
        self.status = status


def fail(message: str, status: int = EXIT_UNUSABLE_INPUT) -> NoReturn:
    raise UserError(message, status)


def _say(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def describe(error: BaseException) -> tuple[str, int] | None:
    """The one line and the exit status for an error a user can fix; None for a bug."""
    from pydantic import ValidationError
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

    from app import SetupError
    from crm.base import CrmError
    from prompts.base import TemplateError
    from settings import ConfigError

    if isinstance(error, UserError):
        return str(error), error.status
    if isinstance(error, ValidationError):
        return _settings_problem(error), EXIT_UNUSABLE_INPUT
    if isinstance(error, ConfigError | SetupError):
        return str(error), EXIT_UNUSABLE_INPUT
    if isinstance(error, TemplateError):
        return (
            f"template: {error} (fix it, or [drafting] templates_dir in followup.toml)",
            EXIT_UNUSABLE_INPUT,
        )
    if isinstance(error, ArgumentError | NoSuchModuleError):
        return _BAD_URL, EXIT_UNUSABLE_INPUT
    if isinstance(error, OperationalError):
        first = str(error.orig or error).strip().splitlines()[0]
        return f"DATABASE_URL: cannot reach the database: {first}", EXIT_FAILED
    if isinstance(error, CrmError):
        return f"CRM: {error}", EXIT_FAILED
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror}", EXIT_UNUSABLE_INPUT
    return None


_BAD_URL = (
    "DATABASE_URL is not a database followup can use; use sqlite:///followup.db or "
    "postgresql+psycopg://user:password@host:5432/followup"
)


def _settings_problem(error: Any) -> str:
    problems = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "settings"
        message = problem["msg"].removeprefix("Value error, ")
        shown = ""
        if not any(hint in field for hint in _SECRET_HINTS) and "input" in problem:
            shown = f" (got {problem['input']!r})"
        hint = _HINTS.get(field, "see .env.example")
        problems.append(f"{field.upper()}: {message}{shown}; {hint}")
    return "; ".join(problems)


def check_database(url: str, *, create: bool) -> None:
    """Refuse a DATABASE_URL that is not SQLite or PostgreSQL, and a SQLite file that does not
    exist yet unless this command is one that creates it (`db upgrade`, `demo`, `import`)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        fail(_BAD_URL)
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        fail(
            f"DATABASE_URL: {backend!r} is not supported; followup keeps its state in SQLite "
            "(sqlite:///followup.db) or PostgreSQL (postgresql+psycopg://user:pass@host/db)"
        )
    if backend == "postgresql" and parsed.get_driver_name() not in ("psycopg",):
        fail("DATABASE_URL: use the psycopg driver: postgresql+psycopg://user:pass@host/db")
    database = parsed.database
    local = backend == "sqlite" and database and database != ":memory:"
    if local and not create and not Path(str(database)).exists():
        fail(
            f"DATABASE_URL: {database} does not exist; create it with `followup db upgrade` "
            "(or fix the path)"
        )


def check_output(path: Path | None, option: str) -> None:
    """A file to write goes into a folder that exists (checked before any work is done)."""
    if path is None:
        return
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        fail(f"{option}: {path}: the folder {folder} does not exist; create it or pick another")
    if path.is_dir():
        fail(f"{option}: {path} is a folder; name a file")


def check_config_path(path: Path | None, settings: Any) -> None:
    """A followup.toml named explicitly (--config or FOLLOWUP_CONFIG) must exist; only the
    default ./followup.toml may be absent (then the defaults apply)."""
    named = path is not None or "followup_config" in settings.model_fields_set
    target = path or settings.followup_config
    if named and not Path(target).exists():
        which = "--config" if path is not None else "FOLLOWUP_CONFIG"
        fail(f"{which}: {target}: no such file (unset it to use the built-in defaults)")


def guarded(command: Callable[[], object]) -> int:
    """Run `command` (the CLI); a user's error becomes one line on stderr and its status."""
    try:
        command()
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        described = describe(error)
        if described is None:
            logging.getLogger("followup").debug("unexpected error", exc_info=True)
            if os.environ.get("LOG_LEVEL", "").upper() == "DEBUG":
                raise
            _say(
                f"{type(error).__name__}: {error} (this is a bug in followup; "
                "LOG_LEVEL=DEBUG shows where)"
            )
            return EXIT_FAILED
        message, status = described
        _say(message)
        return status
    return 0
