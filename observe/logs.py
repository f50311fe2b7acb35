"""Logging for the service and the CLI: the app's own lines at LOG_LEVEL (INFO by default)
with timestamps, as text or (LOG_FORMAT=json) one JSON object per line for log shippers.

Secrets never reach a log line: every configured secret value is masked by a filter on the
handler, whatever logged it (our code or a library)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Libraries that are chatty at INFO: kept at WARNING unless LOG_LEVEL=DEBUG.
_QUIET = (
    "apscheduler",
    "httpx",
    "httpcore",
    "httpx2",
    "httpcore2",
    "urllib3",
    "slack_bolt",
    "slack_sdk",
    "alembic",
)
_MARK = "_followup_handler"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class MaskSecrets(logging.Filter):
    """Replaces each secret value in a record's final message with `***`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        masked = message
        for secret in self.secrets:
            masked = masked.replace(secret, "***")
        if masked != message:
            record.msg, record.args = masked, None
        return True


def secret_values(settings: Any) -> list[str]:
    from pydantic import SecretStr

    found = []
    for name in type(settings).model_fields:
        value = getattr(settings, name, None)
        if isinstance(value, SecretStr) and value.get_secret_value():
            found.append(value.get_secret_value())
    return found


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a line is logged, not the one at set-up: a
    test runner (or a daemon) that swaps stderr never gets a line on a closed stream."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(settings: Any, stream: Any = None) -> None:
    """Set up the root logger once per process (again: replaces our handler)."""
    level = str(getattr(settings, "log_level", "INFO")).upper()
    handler: logging.StreamHandler = (  # type: ignore[type-arg]
        _CurrentStderr() if stream is None else logging.StreamHandler(stream)
    )
    if getattr(settings, "log_format", "text") == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z"
            )
        )
    handler.addFilter(MaskSecrets(secret_values(settings)))
    setattr(handler, _MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
