"""The CRM write-back queue in the store (table `crm_writebacks`, migration 0008): a write is
queued once per key, handed out oldest first when due, and kept until it is done."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from storage.crm_tables import CrmWriteBackRow
from storage.db import session_factory
from storage.repos import Repository
from triggers.writebacks import QueuedWrite, WriteBack, WriteKind


class CrmWriteQueue(Repository):
    def __init__(self, engine: Engine) -> None:
        super().__init__(session_factory(engine))

    def add(self, vendor: str, op: WriteBack, now: datetime) -> bool:
        """False when a write with this key is queued or done already (a replay)."""
        try:
            with self._tx() as session:
                session.add(
                    CrmWriteBackRow(
                        key=op.key[:128],
                        vendor=vendor,
                        kind=op.kind.value,
                        payload=dict(op.payload),
                        status="pending",
                        attempts=0,
                        next_at=now,
                        created_at=now,
                    )
                )
        except IntegrityError:
            return False
        return True

    def due(self, vendor: str, now: datetime, limit: int = 50) -> list[QueuedWrite]:
        with self._tx() as session:
            rows = session.scalars(
                select(CrmWriteBackRow)
                .where(
                    CrmWriteBackRow.vendor == vendor,
                    CrmWriteBackRow.status == "pending",
                    CrmWriteBackRow.next_at <= now,
                )
                .order_by(CrmWriteBackRow.id)
                .limit(limit)
            )
            return [
                QueuedWrite(r.id, WriteBack(r.key, WriteKind(r.kind), dict(r.payload)), r.attempts)
                for r in rows
            ]

    def done(self, write_id: int, now: datetime, result: str | None) -> None:
        with self._tx() as session:
            session.execute(
                update(CrmWriteBackRow)
                .where(CrmWriteBackRow.id == write_id)
                .values(status="done", done_at=now, result=result, error=None)
            )

    def retry(self, write_id: int, now: datetime, error: str, at: datetime) -> None:
        with self._tx() as session:
            session.execute(
                update(CrmWriteBackRow)
                .where(CrmWriteBackRow.id == write_id)
                .values(attempts=CrmWriteBackRow.attempts + 1, next_at=at, error=error[:2000])
            )

    def give_up(self, write_id: int, now: datetime, error: str) -> None:
        with self._tx() as session:
            session.execute(
                update(CrmWriteBackRow)
                .where(CrmWriteBackRow.id == write_id)
                .values(
                    status="failed",
                    attempts=CrmWriteBackRow.attempts + 1,
                    done_at=now,
                    error=error[:2000],
                )
            )

    def counts(self, vendor: str) -> dict[str, int]:
        with self._tx() as session:
            found: dict[str, int] = {}
            for status in session.scalars(
                select(CrmWriteBackRow.status).where(CrmWriteBackRow.vendor == vendor)
            ):
                found[status] = found.get(status, 0) + 1
            return found
