"""Several processes on one PostgreSQL database: exactly one runs the cycle, and another
takes over when the runner dies."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from storage.db import make_engine
from storage.leader import CycleLeadership, advisory_key


def _lock_holders(engine: Engine, name: str) -> list[int]:
    key = advisory_key(name) & 0xFFFFFFFFFFFFFFFF
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND classid::bigint = :high AND objid::bigint = :low"
            ),
            {"high": key >> 32, "low": key & 0xFFFFFFFF},
        )
        return [row.pid for row in rows]


@pytest.mark.postgres
def test_one_process_leads_and_another_takes_over_when_it_dies(postgres_engine: Engine) -> None:
    name = "test:cycle-takeover"
    first = CycleLeadership(postgres_engine, name)
    second = CycleLeadership(postgres_engine, name)
    try:
        assert first.acquire() is True
        assert second.acquire() is False
        assert first.acquire() is True  # asking again while leading keeps the lead
        [runner] = _lock_holders(postgres_engine, name)

        # The leading process dies: its connection is cut and PostgreSQL drops the lock.
        with postgres_engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": runner})
            admin.commit()
        # Termination is asynchronous: the lock goes when the backend has exited.
        deadline = time.monotonic() + 10
        while _lock_holders(postgres_engine, name) and time.monotonic() < deadline:
            time.sleep(0.02)

        assert second.acquire() is True
        assert first.acquire() is False
        assert len(_lock_holders(postgres_engine, name)) == 1
    finally:
        first.release()
        second.release()
    assert _lock_holders(postgres_engine, name) == []


@pytest.mark.postgres
def test_releasing_hands_the_cycle_to_the_next_process(postgres_engine: Engine) -> None:
    name = "test:cycle-release"
    first = CycleLeadership(postgres_engine, name)
    second = CycleLeadership(postgres_engine, name)
    try:
        assert first.acquire()
        assert not second.acquire()
        first.release()
        assert not first.held
        assert second.acquire()
    finally:
        first.release()
        second.release()


def test_sqlite_is_one_process_and_always_leads(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'followup.db'}")
    try:
        assert CycleLeadership(engine).acquire()
        assert CycleLeadership(engine).acquire()
    finally:
        engine.dispose()
