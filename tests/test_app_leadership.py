"""Two service processes on one PostgreSQL database: one runs the cycle, the other only sends,
and takes over the cycle when the first one stops."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from app import CycleGuard, build, led_cycle, until_stopped
from settings import Settings
from storage.db import make_engine
from storage.leader import CycleLeadership
from tests.conftest import _truncate

REPO = Path(__file__).resolve().parent.parent


def _settings(engine: Engine, tmp_path: Path, name: str) -> Settings:
    config = tmp_path / "followup.toml"
    config.write_text("")
    values: dict[str, Any] = {
        "database_url": engine.url.render_as_string(hide_password=False),
        "followup_config": config,
        "pipeline_file": REPO / "examples" / "pipeline.json",
        "outbox_dir": tmp_path / name,
        "slack_bot_token": None,
        "slack_signing_secret": None,
        "slack_app_token": None,
        "openai_api_key": None,
    }
    return Settings(**values)


@pytest.mark.postgres
def test_one_process_drafts_and_the_other_takes_over_when_it_stops(
    postgres_engine: Engine, tmp_path: Path
) -> None:
    _truncate(postgres_engine)
    first = build(_settings(postgres_engine, tmp_path, "first"))
    second = build(_settings(postgres_engine, tmp_path, "second"))
    first_lock = CycleLeadership(first.engine)
    second_lock = CycleLeadership(second.engine)
    try:
        report = led_cycle(first, CycleGuard(first_lock))()
        assert report is not None
        assert report.drafted  # the sample pipeline has deals due
        assert led_cycle(second, CycleGuard(second_lock))() is None  # it only sends meanwhile

        first_lock.release()  # the first process stops
        taken_over = led_cycle(second, CycleGuard(second_lock))()
        assert taken_over is not None
        assert taken_over.drafted == []  # nothing drafted twice: the drafts are in the store
        assert len(second.services.store.drafts.find()) == len(report.drafted)
    finally:
        first_lock.release()
        second_lock.release()
        first.engine.dispose()
        second.engine.dispose()
        _truncate(postgres_engine)


def test_reposting_runs_only_in_the_leader_and_never_during_its_cycle(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'followup.db'}")
    guard = CycleGuard(CycleLeadership(engine))
    reposted: list[str] = []

    def cycle() -> str:
        # A repost job that fires while the cycle is posting the same drafts waits its turn.
        guard.beside_cycle(lambda: reposted.append("during"))
        return "cycle"

    assert guard.cycle(cycle) == "cycle"
    guard.beside_cycle(lambda: reposted.append("after"))
    assert reposted == ["after"]
    engine.dispose()


@pytest.mark.postgres
def test_a_process_that_does_not_lead_does_not_repost(postgres_engine: Engine) -> None:
    leader = CycleGuard(CycleLeadership(postgres_engine, "test:repost"))
    other = CycleGuard(CycleLeadership(postgres_engine, "test:repost"))
    reposted: list[str] = []
    try:
        assert leader.cycle(lambda: "ran") == "ran"
        assert other.cycle(lambda: "ran") is None
        other.beside_cycle(lambda: reposted.append("other"))
        leader.beside_cycle(lambda: reposted.append("leader"))
        assert reposted == ["leader"]
    finally:
        leader.leadership.release()
        other.leadership.release()


def test_the_service_stops_cleanly_on_sigterm() -> None:
    timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGTERM))
    timer.start()
    started = time.monotonic()
    until_stopped()  # returns, so run_service's cleanup drains acknowledged clicks
    assert time.monotonic() - started < 5
    timer.join()
