"""Cadence storage on SQLite and PostgreSQL: races decided by the database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import Engine, inspect

from storage.cadence_repos import CadenceStore
from storage.db import alembic_config, migrate
from storage.repos import Store
from tests.factories import contact, deal, owner
from triggers.cadence import EndReason, Enrolment, EnrolmentStatus, OwnerQuestion, QuestionKind
from triggers.drafts import DraftStatus, NewDraft
from triggers.handoff import Category, Handoff
from triggers.model import Pipeline

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@pytest.fixture
def cadences(store: Store) -> CadenceStore:
    store.pipeline.sync(Pipeline(owners=(owner(),), contacts=(contact(),), deals=(deal(),)), NOW)
    return CadenceStore(store.engine)


def new_enrolment(**overrides: object) -> Enrolment:
    values: dict[str, object] = {
        "id": 0,
        "deal_id": "d1",
        "contact_id": "c1",
        "cadence": "default",
        "status": EnrolmentStatus.ACTIVE,
        "enrolled_at": NOW,
        "enrolled_by": "cli:maya",
        "angles": ("value",),
        "paused_until": NOW + timedelta(days=2),
    }
    return Enrolment(**(values | overrides))  # type: ignore[arg-type]


def test_an_enrolment_round_trips(cadences: CadenceStore) -> None:
    stored = cadences.enrolments.insert(new_enrolment(awaiting_owner=True))
    assert stored is not None
    assert stored.id > 0
    assert stored.version == 1
    read = cadences.enrolments.get(stored.id)
    assert read == stored
    assert read.paused_until == NOW + timedelta(days=2)
    assert read.paused_until.tzinfo is not None
    assert read.angles == ("value",)
    assert cadences.enrolments.live_for_contact("c1") == stored


def test_one_live_enrolment_per_contact(cadences: CadenceStore) -> None:
    first = cadences.enrolments.insert(new_enrolment())
    assert first is not None
    assert cadences.enrolments.insert(new_enrolment(cadence="re_engagement")) is None
    ended = replace(first, status=EnrolmentStatus.STOPPED, end_reason=EndReason.REPLIED)
    assert cadences.enrolments.save(ended) is not None
    assert cadences.enrolments.insert(new_enrolment(cadence="re_engagement")) is not None
    assert [e.cadence for e in cadences.enrolments.find(contact_id="c1")] == [
        "default",
        "re_engagement",
    ]


def test_saves_are_conditional_on_the_version_read(cadences: CadenceStore) -> None:
    stored = cadences.enrolments.insert(new_enrolment())
    assert stored is not None
    first = cadences.enrolments.save(replace(stored, touches=1))
    assert first is not None
    assert first.version == 2
    assert cadences.enrolments.save(replace(stored, touches=5)) is None  # a stale read loses
    current = cadences.enrolments.get(stored.id)
    assert current is not None
    assert current.touches == 1


def test_working_includes_opt_out_confirmations_still_to_queue(cadences: CadenceStore) -> None:
    stored = cadences.enrolments.insert(new_enrolment())
    assert stored is not None
    ended = replace(
        stored,
        status=EnrolmentStatus.STOPPED,
        end_reason=EndReason.OPT_OUT,
        confirmation_pending=True,
    )
    cadences.enrolments.save(ended)
    assert cadences.enrolments.live() == []
    assert [e.id for e in cadences.enrolments.working()] == [stored.id]


def handoff(**overrides: object) -> Handoff:
    values: dict[str, object] = {
        "id": 0,
        "deal_id": "d1",
        "contact_id": "c1",
        "enrolment_id": None,
        "source_key": "<m1@globex.example>",
        "received_at": NOW,
        "intent": "interested",
        "sentiment": "warm",
        "category": Category.BUYING_SIGNAL,
        "route_target": "account_executive",
        "routed_to": "U0AE",
        "route_label": "the account executive",
        "step": 2,
        "cadence": "default",
        "stage_before": "proposal",
        "summary": "Warm interest: ...",
        "created_at": NOW,
    }
    return Handoff(**(values | overrides))  # type: ignore[arg-type]


def test_one_handoff_per_reply_and_the_first_actor_is_recorded(cadences: CadenceStore) -> None:
    first, created = cadences.handoffs.insert(handoff())
    assert created
    again, created_again = cadences.handoffs.insert(handoff(summary="another"))
    assert (again, created_again) == (first, False)
    acted = cadences.handoffs.record_action(first.id, actor="U0AE", action="replied", now=NOW)
    assert acted is not None
    assert acted.routed_correctly
    assert cadences.handoffs.record_action(first.id, actor="U9", action="x", now=NOW) is None
    assert cadences.handoffs.find(source_key="<m1@globex.example>") == [acted]


def test_one_open_question_per_enrolment_answered_once(cadences: CadenceStore) -> None:
    stored = cadences.enrolments.insert(new_enrolment())
    assert stored is not None
    question = OwnerQuestion(
        id=0,
        enrolment_id=stored.id,
        deal_id="d1",
        contact_id="c1",
        kind=QuestionKind.PAUSE_KEEP_STOP,
        text="Pause, keep running or stop?",
        proposed_until=date(2027, 1, 1),
        created_at=NOW,
    )
    asked, created = cadences.questions.ask(question)
    assert created
    assert cadences.questions.ask(replace(question, text="again")) == (asked, False)
    answered = cadences.questions.answer(
        asked.id, choice="pause_until", until=date(2027, 1, 4), actor="U01MAYA", now=NOW
    )
    assert answered is not None
    assert (answered.status, answered.answer_until) == ("answered", date(2027, 1, 4))
    assert (
        cadences.questions.answer(asked.id, choice="stop", until=None, actor="x", now=NOW) is None
    )
    next_one, created = cadences.questions.ask(replace(question, text="next"))
    assert created
    assert cadences.questions.cancel_open(stored.id, now=NOW) == 1
    cancelled = cadences.questions.get(next_one.id)
    assert cancelled is not None
    assert cancelled.status == "cancelled"
    assert cadences.questions.open() == []


def test_draft_facts_know_the_first_decision_and_edits(
    store: Store, cadences: CadenceStore
) -> None:
    new = NewDraft(
        deal_id="d1",
        contact_id="c1",
        to_address="jordan@globex.example",
        trigger="cadence:default:2",
        rule=None,
        angle="value",
        anchor_at=NOW,
        due_at=NOW,
        send_at=NOW,
        reason="why",
        evidence=(),
        subject="s",
        body="b",
        source="template",
    )
    draft = store.drafts.insert(new, now=NOW)
    assert draft is not None
    store.drafts.edit(
        draft.id, subject="s2", body="b2", expected_version=1, actor="U01MAYA", now=NOW
    )
    later = NOW + timedelta(minutes=30)
    store.drafts.transition(draft.id, DraftStatus.APPROVED, actor="U01MAYA", now=later)
    store.drafts.transition(draft.id, DraftStatus.SENT, actor="followup", now=later)
    [fact] = cadences.facts.drafts(since=NOW - timedelta(days=1))
    assert (fact.approved, fact.edited, fact.status, fact.decision) == (
        True,
        True,
        "sent",
        "approved",
    )
    assert fact.decided_at == later
    assert cadences.facts.last_sent_angles() == {"c1": "value"}
    assert cadences.facts.drafts(since=NOW + timedelta(days=1)) == []


def test_the_migration_goes_down_and_up_again(engine: Engine) -> None:
    names = {"cadence_enrolments", "cadence_handoffs", "cadence_questions"}
    assert names <= set(inspect(engine).get_table_names())
    command.downgrade(alembic_config(engine), "0001")
    assert not names & set(inspect(engine).get_table_names())
    migrate(engine)
    assert names <= set(inspect(engine).get_table_names())
