"""One cycle runner among several processes that share a PostgreSQL database.

Sends are safe with any number of workers (outbox rows are claimed with `SKIP LOCKED`), but two
cycles at once would draft and publish side by side, so the processes elect one runner with a
session-level advisory lock. The lock lives on a connection of its own: when the leading
process dies, its connection closes, PostgreSQL drops the lock, and the next process that asks
takes over. SQLite is the embedded default for one process: there the lock is always held.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

CYCLE_LOCK_NAME = "followup:cycle"


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for `name` (PostgreSQL's advisory lock key type is bigint)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class CycleLeadership:
    """Ask `acquire()` before each cycle: True while this process is the runner."""

    def __init__(self, engine: Engine, name: str = CYCLE_LOCK_NAME) -> None:
        self._engine = engine
        self._key = advisory_key(name)
        self._connection: Connection | None = None
        self._shared = engine.dialect.name == "postgresql"

    @property
    def held(self) -> bool:
        return not self._shared or self._connection is not None

    def acquire(self) -> bool:
        if not self._shared:
            return True
        if self._connection is not None:
            if self._alive(self._connection):
                return True
            # The lock went with the connection; another process may lead by now.
            log.warning("lost the cycle lock with its database connection; asking again")
            self._drop()
        connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            won = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
            ).scalar_one()
        except DBAPIError:
            connection.close()
            raise
        if not won:
            connection.close()
            return False
        self._connection = connection
        log.info("this process runs the cycle")
        return True

    def release(self) -> None:
        if self._connection is None:
            return
        # A connection already gone has taken the lock with it.
        with contextlib.suppress(DBAPIError):
            self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
        self._drop()

    def _alive(self, connection: Connection) -> bool:
        try:
            connection.execute(text("SELECT 1"))
        except DBAPIError:
            return False
        return True

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        with contextlib.suppress(DBAPIError):
            connection.invalidate()
            connection.close()
