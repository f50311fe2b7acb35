"""Two service processes on one PostgreSQL database: one runs the cycle, the other only sends,
and takes over the cycle when the first one stops."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from app import build, led_cycle
from settings import Settings
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
        report = led_cycle(first, first_lock)()
        assert report is not None
        assert report.drafted  # the sample pipeline has deals due
        assert led_cycle(second, second_lock)() is None  # it only sends meanwhile

        first_lock.release()  # the first process stops
        taken_over = led_cycle(second, second_lock)()
        assert taken_over is not None
        assert taken_over.drafted == []  # nothing drafted twice: the drafts are in the store
        assert len(second.services.store.drafts.find()) == len(report.drafted)
    finally:
        first_lock.release()
        second_lock.release()
        first.engine.dispose()
        second.engine.dispose()
        _truncate(postgres_engine)
