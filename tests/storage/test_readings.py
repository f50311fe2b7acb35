"""A message's `Reading` is stored with its activity (migration 0009) and read back whole."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from alembic import command
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from storage.db import alembic_config, migrate
from storage.repos import Store
from tests.factories import NOW, activity, proposal_pipeline
from triggers.model import ActivityKind, Direction
from triggers.reading import Bounce, Intent, Match, OptOut, Reading, Sentiment

READING = Reading(
    kind="reply",
    intent=Intent.NOT_NOW,
    sentiment=Sentiment.DEFLECTION,
    opt_out=OptOut.CHECK,
    visible_text="Not now; no more emails until then.",
    resume_on=date(2027, 4, 1),
    bounces=(Bounce("old@globex.example", status="5.1.1", hard=True),),
    match=Match(kind="thread", deal_id="d1", message_id="p1@northwind.example"),
    sent_at=NOW,
    signals=("check first: opt-out words scoped to a time",),
)


def test_a_reading_round_trips_with_its_activity(store: Store) -> None:
    store.pipeline.sync(proposal_pipeline(), NOW)
    reply = activity(
        ActivityKind.EMAIL,
        NOW + timedelta(hours=1),
        id="mail-1",
        direction=Direction.IN,
        reading=READING,
    )
    assert store.pipeline.add_activity(reply, origin="inbox", now=NOW)
    [loaded] = [a for a in store.pipeline.load().activities if a.id == "mail-1"]
    assert loaded.reading == READING
    assert loaded.reading is not None
    assert loaded.reading.check_first


def test_a_crm_sync_keeps_the_inbox_reading(store: Store) -> None:
    pipeline = proposal_pipeline()
    store.pipeline.sync(pipeline, NOW)
    reply = activity(ActivityKind.EMAIL, NOW, id="mail-2", direction=Direction.IN, reading=READING)
    store.pipeline.add_activity(reply, origin="inbox", now=NOW)
    store.pipeline.sync(replace(pipeline, activities=(*pipeline.activities,)), NOW)
    [loaded] = [a for a in store.pipeline.load().activities if a.id == "mail-2"]
    assert loaded.reading == READING


def test_the_reading_column_goes_down_and_up_again(engine: Engine) -> None:
    def columns() -> set[str]:
        return {c["name"] for c in inspect(engine).get_columns("activities")}

    assert "reading" in columns()
    command.downgrade(alembic_config(engine), "0009-1")  # whatever precedes it once merged
    assert "reading" not in columns()
    migrate(engine)
    assert "reading" in columns()
