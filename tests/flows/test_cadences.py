"""Cadences as a founder lives them: enrol, review each step, and every kind of reply.

The last test runs a cohort through the default cadence on a simulated clock for weeks,
checking every invariant after every simulated hour."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, event, select
from sqlalchemy.pool import StaticPool

from crm.fake import FakeCrm
from flows.cadences import (
    InboundReply,
    answer_question,
    cadence_deal_ids,
    cadence_store,
    enroll,
    handle_pricing_clicks,
    handle_reply_for_cadence,
    queue_cadence_steps,
    record_handoff_action,
    stats,
    stop_enrolment,
)
from flows.delivery import deliver_due
from flows.digest import ChartData, weekly_digest
from flows.ports import Actor, Policy, Services
from flows.review import Outcome, approve, dismiss, snooze
from mail.fake import FakeMailbox
from prompts.classify import Intent, ReplyLabel, Sentiment, classify_reply
from prompts.drafter import TemplateDrafter
from storage.db import migrate
from storage.repos import Store
from storage.tables import DraftRow
from tests.factories import activity, contact, deal, owner
from triggers.cadence import (
    DEFAULT_CADENCE,
    CadenceConfig,
    EndReason,
    EnrolmentStatus,
    EnrolRules,
    OwnerQuestion,
    QuestionKind,
)
from triggers.drafts import Draft, DraftStatus
from triggers.handoff import Category, Handoff, RoutingConfig
from triggers.model import (
    Activity,
    ActivityKind,
    Contact,
    ContactStatus,
    DealView,
    Direction,
    Pipeline,
)
from triggers.windows import in_window, recipient_zone

MAYA = Actor.slack("U01MAYA", "maya")
STRANGER = Actor.slack("U0STRANGER", "sam")
OPERATOR = Actor.operator("maya")
# Monday 2 November 2026, 08:00 UTC: 09:00 in Berlin, where Jordan is.
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
PROPOSED = T0 - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class CadencePolicy(Policy):
    """The policy with the fields issue 7 asks the lead to add."""

    cadences: CadenceConfig = field(default_factory=CadenceConfig)
    routing: RoutingConfig = field(default_factory=RoutingConfig)


class RecordingReview:
    def __init__(self) -> None:
        self.published: list[Draft] = []
        self.updates: list[tuple[int, str]] = []

    def publish(self, draft: Draft, view: object) -> None:
        self.published.append(draft)

    def update(self, draft: Draft, view: object, outcome: str) -> None:
        self.updates.append((draft.id, outcome))


class RecordingSurface:
    def __init__(self) -> None:
        self.handoffs: list[tuple[Handoff, OwnerQuestion | None]] = []
        self.asked: list[OwnerQuestion] = []

    def post_handoff(
        self, handoff: Handoff, view: DealView, question: OwnerQuestion | None
    ) -> None:
        self.handoffs.append((handoff, question))

    def ask_owner(self, question: OwnerQuestion, view: DealView) -> None:
        self.asked.append(question)


class WorkflowCrm(FakeCrm):
    """A CRM that can hold tasks and a "reply received" stage."""

    def __init__(self, pipeline: Pipeline) -> None:
        super().__init__(pipeline)
        self.tasks: list[tuple[str, str, str, datetime]] = []
        self.reply_received: list[str] = []

    def create_task(self, deal_id: str, owner_id: str, title: str, due_at: datetime) -> str:
        self.tasks.append((deal_id, owner_id, title, due_at))
        return f"task-{len(self.tasks)}"

    def mark_reply_received(self, deal_id: str) -> None:
        self.reply_received.append(deal_id)


@dataclass(slots=True)
class CadenceServices(Services):
    handoffs: RecordingSurface = field(default_factory=RecordingSurface)


def proposal(deal_id: str = "d1", contact_id: str = "c1", at: datetime = PROPOSED) -> Activity:
    return activity(
        ActivityKind.PROPOSAL_SENT,
        at,
        id=f"proposal-{deal_id}",
        deal_id=deal_id,
        contact_id=contact_id,
        subject="Proposal: website rebuild",
    )


def one_deal(*contacts: Contact) -> Pipeline:
    people = contacts or (contact(alt_emails=("j.lee@globex-mail.example",)),)
    return Pipeline(
        owners=(owner(),),
        contacts=people,
        deals=(
            deal(
                contact_ids=tuple(c.id for c in people),
                stage_entered_at=PROPOSED - timedelta(days=1),
            ),
        ),
        activities=(proposal(),),
    )


def make_services(store: Store, pipeline: Pipeline, **policy: Any) -> CadenceServices:
    store.pipeline.sync(pipeline, PROPOSED)
    return CadenceServices(
        store=store,
        crm=WorkflowCrm(pipeline),
        mailbox=FakeMailbox(),
        drafter=TemplateDrafter(),
        review=RecordingReview(),
        policy=CadencePolicy(admins=frozenset({"U0ADMIN"}), **policy),
    )


@pytest.fixture
def services(store: Store) -> CadenceServices:
    routing = RoutingConfig(roles={"account_executive": "U0AE", "manager": "U0BOSS"})
    return make_services(store, one_deal(), routing=routing)


def enrolled(services: Services, at: datetime = T0, **kwargs: Any) -> Any:
    result = enroll(services, "d1", kwargs.get("contact"), kwargs.get("cadence"), MAYA, at)
    assert result.ok, result.message
    return result.enrolment


def step_due(services: Services, at: datetime) -> Draft:
    [draft] = queue_cadence_steps(services, at)
    return draft


def send(services: Services, draft: Draft, at: datetime) -> datetime:
    decision = approve(services, draft.id, MAYA, at)
    assert decision.ok, decision.message
    assert decision.send_at is not None
    report = deliver_due(services, decision.send_at)
    assert report.sent == [draft.id]
    return decision.send_at


def inbound(
    services: Services,
    text: str,
    at: datetime,
    sender: str = "jordan@globex.example",
    deal_id: str = "d1",
    contact_id: str = "c1",
) -> Activity:
    """A message as the inbox flow records it: an inbound email activity on the deal."""
    found = activity(
        ActivityKind.EMAIL,
        at,
        id=f"inbox-{sender}-{at:%Y%m%d%H%M}",
        deal_id=deal_id,
        contact_id=contact_id,
        direction=Direction.IN,
        from_address=sender,
        body=text,
        message_id=f"<{at:%Y%m%d%H%M}.{sender}>",
    )
    services.store.pipeline.add_activity(found, origin="inbox", now=at)
    return found


def reply(
    services: Services,
    text: str,
    at: datetime,
    sender: str = "jordan@globex.example",
    deal_id: str = "d1",
    contact_id: str = "c1",
) -> Any:
    """What the inbox flow does: record the message, classify it, run the playbook."""
    found = inbound(services, text, at, sender, deal_id, contact_id)
    label = classify_reply(text, received_at=at)
    return handle_reply_for_cadence(services, InboundReply.from_activity(found), label, at)


def live(services: Services) -> Any:
    return cadence_store(services).enrolments.get(1)


def status_of(services: Services, draft_id: int) -> DraftStatus:
    draft = services.store.drafts.get(draft_id)
    assert draft is not None
    return draft.status


def contact_status(services: Services, contact_id: str = "c1") -> ContactStatus:
    found = services.store.pipeline.load().contact(contact_id)
    assert found is not None
    return found.status


# --------------------------------------------------------------------------- enrol


def test_enrol_the_first_reachable_contact_in_the_default_cadence(
    services: CadenceServices,
) -> None:
    result = enroll(services, "d1", None, None, MAYA, T0)
    assert result.ok
    assert result.message == (
        "Jordan Lee is in cadence default on Globex website rebuild. "
        "Step 2 is due Wed 04 Nov (Europe/Berlin)."
    )
    e = result.enrolment
    assert e is not None
    assert (e.contact_id, e.cadence, e.status, e.to_address, e.enrolled_by) == (
        "c1",
        "default",
        EnrolmentStatus.ACTIVE,
        "jordan@globex.example",
        "slack:U01MAYA",
    )
    assert cadence_deal_ids(services) == {"d1"}
    again = enroll(services, "d1", "c1", "re_engagement", MAYA, T0)
    assert again.outcome is Outcome.ALREADY_DECIDED
    assert "already in cadence default" in again.message


@pytest.mark.parametrize(
    ("deal_id", "contact_id", "cadence", "actor", "outcome", "message"),
    [
        ("nope", None, None, MAYA, Outcome.NOT_FOUND, "There is no deal 'nope'."),
        ("d1", None, "nurture", MAYA, Outcome.INVALID, "There is no cadence 'nurture'; defined:"),
        ("d1", "c9", None, MAYA, Outcome.INVALID, "'c9' is not a contact of Globex"),
        ("d1", None, None, STRANGER, Outcome.FORBIDDEN, "Only the deal's owner"),
    ],
)
def test_enrol_refusals(
    services: CadenceServices,
    deal_id: str,
    contact_id: str | None,
    cadence: str | None,
    actor: Actor,
    outcome: Outcome,
    message: str,
) -> None:
    result = enroll(services, deal_id, contact_id, cadence, actor, T0)
    assert result.outcome is outcome
    assert result.message.startswith(message)
    assert cadence_store(services).enrolments.live() == []


def test_never_enrol_a_contact_who_cannot_be_written_to(store: Store) -> None:
    services = make_services(store, one_deal(contact(status=ContactStatus.DECEASED)))
    result = enroll(services, "d1", "c1", None, MAYA, T0)
    assert result.outcome is Outcome.INVALID
    assert "cannot be written to" in result.message
    services.store.suppressions.add("globex.example", reason="manual", now=T0)
    assert "No contact" in enroll(services, "d1", None, None, MAYA, T0).message


# --------------------------------------------------------------------------- steps


def test_each_step_is_one_draft_for_review_at_its_time(services: CadenceServices) -> None:
    enrolled(services)
    assert queue_cadence_steps(services, PROPOSED + timedelta(days=3) - timedelta(minutes=1)) == []
    due = PROPOSED + timedelta(days=3)
    draft = step_due(services, due)
    assert (draft.trigger, draft.rule, draft.angle, draft.status) == (
        "cadence:default:2",
        None,
        "value",
        DraftStatus.PENDING,
    )
    assert draft.to_address == "jordan@globex.example"
    assert draft.reason.startswith("Cadence default, step 2 (value): 3 days since the last touch")
    assert services.review.published == [draft]  # type: ignore[attr-defined]
    # Never step 3 while step 2 awaits approval, however long.
    assert queue_cadence_steps(services, due + timedelta(days=30)) == []
    assert live(services).pending_draft_id == draft.id


def test_the_next_step_comes_its_gap_after_the_previous_one_left(services: CadenceServices) -> None:
    enrolled(services)
    two = step_due(services, PROPOSED + timedelta(days=3))
    approved_at = PROPOSED + timedelta(days=5)  # reviewed two days late
    sent_at = send(services, two, approved_at)
    assert queue_cadence_steps(services, sent_at + timedelta(days=4) - timedelta(minutes=1)) == []
    three = step_due(services, sent_at + timedelta(days=4))
    assert (three.trigger, three.angle) == ("cadence:default:3", "social_proof")
    assert three.guardrail_failures == ()  # under four lines
    e = live(services)
    assert (e.touches, e.angles, e.last_touch_at) == (1, ("value",), sent_at)


def test_a_dismissed_step_is_skipped(services: CadenceServices) -> None:
    enrolled(services)
    two = step_due(services, PROPOSED + timedelta(days=3))
    dismissed_at = PROPOSED + timedelta(days=3, hours=2)
    assert dismiss(services, two.id, MAYA, dismissed_at, "wrong_moment").ok
    assert queue_cadence_steps(services, dismissed_at + timedelta(days=3)) == []
    three = step_due(services, dismissed_at + timedelta(days=4))
    assert three.trigger == "cadence:default:3"


def test_a_snoozed_step_comes_back_after_the_snooze(services: CadenceServices) -> None:
    enrolled(services)
    two = step_due(services, PROPOSED + timedelta(days=3))
    at = PROPOSED + timedelta(days=3, hours=1)
    assert snooze(services, two.id, MAYA, at, timedelta(days=2)).ok
    assert queue_cadence_steps(services, at + timedelta(days=2) - timedelta(minutes=1)) == []
    again = step_due(services, at + timedelta(days=2))
    assert (again.trigger, again.id != two.id) == ("cadence:default:2", True)


def test_two_cycles_at_once_queue_one_draft(services: CadenceServices) -> None:
    enrolled(services)
    due = PROPOSED + timedelta(days=3)
    first = queue_cadence_steps(services, due)
    second = queue_cadence_steps(services, due)
    assert len(first) == 1
    assert second == []


def test_a_step_draft_left_unlinked_by_a_crash_is_adopted(services: CadenceServices) -> None:
    enrolled(services)
    due = PROPOSED + timedelta(days=3)
    draft = step_due(services, due)
    store = cadence_store(services)
    e = store.enrolments.get(1)
    assert e is not None
    store.enrolments.save(replace(e, pending_draft_id=None))  # as if the link was never written
    assert queue_cadence_steps(services, due + timedelta(hours=1)) == []
    assert live(services).pending_draft_id == draft.id


def test_the_whole_cadence_then_archived(services: CadenceServices) -> None:
    enrolled(services)
    at = PROPOSED + timedelta(days=3)
    for number, gap in ((2, 4), (3, 7), (4, 7)):
        draft = step_due(services, at)
        assert draft.trigger == f"cadence:default:{number}"
        at = send(services, draft, at) + timedelta(days=gap)
    assert queue_cadence_steps(services, at - timedelta(minutes=1)) == []
    e = live(services)
    assert (e.touches, e.angles) == (3, ("value", "social_proof", "check_in"))
    assert e.status is EnrolmentStatus.ACTIVE
    assert queue_cadence_steps(services, at) == []
    done = live(services)
    assert (done.status, done.end_reason) == (EnrolmentStatus.COMPLETED, EndReason.COMPLETED)


def test_a_step_is_never_drafted_for_a_paused_deal(services: CadenceServices) -> None:
    from flows.review import pause

    enrolled(services)
    assert pause(services, "d1", MAYA, T0, until=T0 + timedelta(days=10)).ok
    assert queue_cadence_steps(services, T0 + timedelta(days=9)) == []
    assert len(queue_cadence_steps(services, T0 + timedelta(days=10))) == 1


def test_stop_enrolment(services: CadenceServices) -> None:
    enrolled(services)
    draft = step_due(services, PROPOSED + timedelta(days=3))
    assert stop_enrolment(services, 1, STRANGER, T0).outcome is Outcome.FORBIDDEN
    result = stop_enrolment(services, 1, MAYA, PROPOSED + timedelta(days=3, hours=1))
    assert result.ok
    assert result.enrolment is not None
    assert result.enrolment.end_reason is EndReason.OWNER_STOPPED
    assert status_of(services, draft.id) is DraftStatus.WITHDRAWN


# --------------------------------------------------------------------------- replies


def test_a_positive_reply_stops_and_hands_off_to_the_account_executive(
    services: CadenceServices,
) -> None:
    enrolled(services)
    two = step_due(services, PROPOSED + timedelta(days=3))
    sent_at = send(services, two, PROPOSED + timedelta(days=3))
    three = step_due(services, sent_at + timedelta(days=4))
    at = sent_at + timedelta(days=4, hours=1)
    outcome = reply(services, "Sounds great, can we set up a call next week?", at)
    e = live(services)
    assert (e.status, e.end_reason, e.replied_step, e.reply_intent) == (
        EnrolmentStatus.STOPPED,
        EndReason.REPLIED,
        2,
        "meeting_request",
    )
    assert status_of(services, three.id) is DraftStatus.WITHDRAWN
    [handoff] = outcome.handoffs
    assert (handoff.category, handoff.routed_to, handoff.step) == (
        Category.BUYING_SIGNAL,
        "U0AE",
        2,
    )
    lines = handoff.summary.splitlines()
    assert lines[0] == "Warm interest: Jordan Lee (Globex) replied to step 2 of default, value"
    assert lines[1] == "“Sounds great, can we set up a call next week?”"
    assert lines[2] == "Stage before the reply: proposal"
    assert lines[3].startswith("History: proposal sent Sun 1 Nov")
    assert services.handoffs.handoffs == [(handoff, None)]
    crm = services.crm
    assert isinstance(crm, WorkflowCrm)
    assert crm.reply_received == ["d1"]
    assert crm.tasks[0][3] == at + timedelta(hours=24)
    # The same message again changes nothing and hands off nothing new.
    again = handle_reply_for_cadence(
        services,
        InboundReply(
            "jordan@globex.example",
            at,
            "Sounds great",
            f"<{at:%Y%m%d%H%M}.jordan@globex.example>",
            "d1",
        ),
        classify_reply("Sounds great", received_at=at),
        at,
    )
    assert again.handoffs == (handoff,)
    assert len(services.handoffs.handoffs) == 1


def test_a_reply_only_the_crm_knows_is_found_and_classified(services: CadenceServices) -> None:
    enrolled(services)
    two = step_due(services, PROPOSED + timedelta(days=3))
    sent_at = send(services, two, PROPOSED + timedelta(days=3))
    inbound(services, "Too expensive for us right now.", sent_at + timedelta(hours=5))
    assert queue_cadence_steps(services, sent_at + timedelta(days=10)) == []
    e = live(services)
    assert (e.end_reason, e.reply_intent) == (EndReason.REPLIED, "objection")
    [handoff] = cadence_store(services).handoffs.find()
    assert handoff.category is Category.OBJECTION
    assert handoff.routed_to == "U01MAYA"


def test_not_now_pauses_until_the_owner_confirms_a_date(services: CadenceServices) -> None:
    enrolled(services)
    two = step_due(services, PROPOSED + timedelta(days=3))
    sent_at = send(services, two, PROPOSED + timedelta(days=3))
    at = sent_at + timedelta(hours=3)
    outcome = reply(services, "Not now, follow up later.", at)
    [question] = outcome.questions
    assert question.kind is QuestionKind.CONFIRM_RESUME
    [(handoff, posted)] = services.handoffs.handoffs
    assert posted == question
    assert handoff.summary.startswith("Polite deflection: Jordan Lee (Globex) replied to step 2")
    crm = services.crm
    assert isinstance(crm, WorkflowCrm)
    assert any("said not now" in task[2] for task in crm.tasks)
    # Never resumed without the owner, however long it waits.
    assert queue_cadence_steps(services, at + timedelta(days=90)) == []
    assert answer_question(services, question.id, "pause_until", STRANGER, at).outcome is (
        Outcome.FORBIDDEN
    )
    assert answer_question(services, question.id, "keep_running", MAYA, at).outcome is (
        Outcome.INVALID
    )
    resume = date(2026, 12, 1)
    answered = answer_question(services, question.id, "pause_until", MAYA, at, until=resume)
    assert answered.ok, answered.message
    assert answered.message == "Paused until Tue 01 Dec 2026."
    twice = answer_question(services, question.id, "stop", MAYA, at)
    assert twice.outcome is Outcome.ALREADY_DECIDED
    assert queue_cadence_steps(services, datetime(2026, 11, 30, 22, 59, tzinfo=UTC)) == []
    three = step_due(services, datetime(2026, 11, 30, 23, 0, tzinfo=UTC))  # midnight in Berlin
    assert three.trigger == "cadence:default:3"
    assert three.send_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    [acted] = cadence_store(services).handoffs.find()
    assert (acted.acted_by, acted.action) == ("U01MAYA", "answered: pause_until")


def test_an_ambiguous_reply_can_keep_the_cadence_running(services: CadenceServices) -> None:
    enrolled(services)
    two = step_due(services, PROPOSED + timedelta(days=3))
    sent_at = send(services, two, PROPOSED + timedelta(days=3))
    at = sent_at + timedelta(hours=3)
    outcome = reply(services, "Let's talk next quarter.", at)
    [question] = outcome.questions
    assert question.kind is QuestionKind.PAUSE_KEEP_STOP
    assert question.proposed_until == date(2027, 1, 1)
    assert answer_question(
        services, question.id, "keep_running", OPERATOR, at + timedelta(hours=1)
    ).ok
    three = step_due(services, sent_at + timedelta(days=4))
    assert three.trigger == "cadence:default:3"
    # A new reply after the owner's decision stops it again.
    reply(services, "Please stop, we are not interested.", sent_at + timedelta(days=4, hours=1))
    assert live(services).status is EnrolmentStatus.STOPPED
    assert status_of(services, three.id) is DraftStatus.WITHDRAWN


def test_out_of_office_pauses_then_goes_on_a_business_day_after_return(
    services: CadenceServices,
) -> None:
    enrolled(services)
    two = step_due(services, PROPOSED + timedelta(days=3))
    sent_at = send(services, two, PROPOSED + timedelta(days=3))  # Wed 4 Nov
    outcome = reply(
        services, "I am out of the office until November 16.", sent_at + timedelta(minutes=5)
    )
    assert outcome.handoffs == ()  # an auto-reply is nobody's to answer
    e = live(services)
    assert (e.status, e.pause_reason) == (EnrolmentStatus.PAUSED, "out_of_office")
    resume = datetime(2026, 11, 16, 23, 0, tzinfo=UTC)  # Tue 17 Nov, midnight in Berlin
    assert e.paused_until == resume
    assert queue_cadence_steps(services, resume - timedelta(minutes=1)) == []
    three = step_due(services, resume)
    assert three.trigger == "cadence:default:3"
    assert three.send_at == datetime(2026, 11, 17, 8, 0, tzinfo=UTC)
    assert live(services).status is EnrolmentStatus.ACTIVE


def test_a_hard_bounce_switches_to_the_alternate_address(services: CadenceServices) -> None:
    enrolled(services)
    two = step_due(services, PROPOSED + timedelta(days=3))
    sent_at = send(services, two, PROPOSED + timedelta(days=3))
    bounce = InboundReply(
        "mailer-daemon@globex.example",
        sent_at + timedelta(minutes=2),
        "Delivery to the following recipient failed permanently: jordan@globex.example",
        "<bounce-1@globex.example>",
        failed_address="jordan@globex.example",
    )
    label = classify_reply(bounce.text, received_at=bounce.received_at)
    assert label.intent is Intent.BOUNCE
    handle_reply_for_cadence(services, bounce, label, bounce.received_at)
    assert services.store.suppressions.is_suppressed("jordan@globex.example")
    assert live(services).to_address == "j.lee@globex-mail.example"
    three = step_due(services, sent_at + timedelta(days=4))
    assert three.to_address == "j.lee@globex-mail.example"


def test_a_hard_bounce_without_an_alternate_stops_and_suppresses(store: Store) -> None:
    services = make_services(store, one_deal(contact()))
    enrolled(services)
    two = step_due(services, PROPOSED + timedelta(days=3))
    sent_at = send(services, two, PROPOSED + timedelta(days=3))
    bounce = InboundReply(
        "mailer-daemon@globex.example",
        sent_at + timedelta(minutes=2),
        "550 5.1.1 user unknown",
        "<bounce-1@globex.example>",
        failed_address="jordan@globex.example",
    )
    label = ReplyLabel(Intent.BOUNCE, Sentiment.NEUTRAL)
    handle_reply_for_cadence(services, bounce, label, bounce.received_at)
    assert live(services).end_reason is EndReason.BOUNCED
    assert services.store.suppressions.is_suppressed("jordan@globex.example")
    assert contact_status(services) is ContactStatus.BOUNCED


def test_opt_out_stops_marks_do_not_contact_and_queues_a_one_line_confirmation(
    services: CadenceServices,
) -> None:
    enrolled(services)
    two = step_due(services, PROPOSED + timedelta(days=3))
    sent_at = send(services, two, PROPOSED + timedelta(days=3))
    at = sent_at + timedelta(hours=1)
    outcome = reply(services, "Please remove me from your list.", at)
    e = live(services)
    assert (e.end_reason, e.confirmation_pending) == (EndReason.OPT_OUT, False)
    store = services.store
    assert store.suppressions.is_suppressed("jordan@globex.example")
    assert contact_status(services) is ContactStatus.DO_NOT_CONTACT
    assert services.crm.do_not_contact == ["c1"]  # type: ignore[attr-defined]
    [confirmation] = outcome.drafts
    assert (confirmation.trigger, confirmation.angle, confirmation.status) == (
        "opt_out_confirmation",
        "opt_out_confirmation",
        DraftStatus.PENDING,
    )
    assert confirmation.body.count("\n") == 0  # one line
    assert "won't hear from me again" in confirmation.body
    # Never again: no step, and no new enrolment.
    assert queue_cadence_steps(services, at + timedelta(days=30)) == []
    again = enroll(services, "d1", "c1", None, MAYA, at + timedelta(days=60))
    assert again.outcome is Outcome.INVALID


def inbox_note(services: Services, at: datetime, sender: str, body: str, **extra: Any) -> None:
    """An automatic reply or a bounce as `flows.inbound.read_inbox` records it: a note."""
    note = activity(
        ActivityKind.NOTE,
        at,
        id=f"note-{at:%Y%m%d%H%M}",
        from_address=sender,
        body=body,
        message_id=f"<note.{at:%Y%m%d%H%M}@example>",
        extra={"source": "inbox", **extra},
    )
    services.store.pipeline.add_activity(note, origin="inbox", now=at)


def test_an_out_of_office_note_from_the_inbox_pauses_until_its_return_date(
    services: CadenceServices,
) -> None:
    enrolled(services)
    two = step_due(services, PROPOSED + timedelta(days=3))
    sent_at = send(services, two, PROPOSED + timedelta(days=3))
    inbox_note(
        services,
        sent_at + timedelta(minutes=3),
        "jordan@globex.example",
        "Ich bin bis 16.11. nicht im Büro.",
        mail_kind="auto_reply",
        auto_reply=True,
        return_date="2026-11-16",
    )
    assert queue_cadence_steps(services, sent_at + timedelta(days=4)) == []
    e = live(services)
    assert (e.status, e.paused_until) == (
        EnrolmentStatus.PAUSED,
        datetime(2026, 11, 16, 23, 0, tzinfo=UTC),
    )
    assert cadence_store(services).handoffs.find() == []


def test_an_automatic_reply_that_is_no_absence_changes_nothing(services: CadenceServices) -> None:
    enrolled(services)
    two = step_due(services, PROPOSED + timedelta(days=3))
    sent_at = send(services, two, PROPOSED + timedelta(days=3))
    inbox_note(
        services,
        sent_at + timedelta(minutes=3),
        "jordan@globex.example",
        "Thank you for your message. We have received it.",
        mail_kind="auto_reply",
        auto_reply=True,
    )
    three = step_due(services, sent_at + timedelta(days=4))
    assert three.trigger == "cadence:default:3"


def test_a_bounce_note_from_the_inbox_switches_to_the_alternate(services: CadenceServices) -> None:
    enrolled(services)
    two = step_due(services, PROPOSED + timedelta(days=3))
    sent_at = send(services, two, PROPOSED + timedelta(days=3))
    services.store.suppressions.add(
        "jordan@globex.example", reason="hard_bounce", now=sent_at, source="inbox"
    )
    inbox_note(
        services,
        sent_at + timedelta(minutes=2),
        "mailer-daemon@mx.globex.example",
        "550 5.1.1 user unknown",
        mail_kind="bounce",
        failed_recipient="jordan@globex.example",
        hard_bounce=True,
    )
    three = step_due(services, sent_at + timedelta(days=4))
    assert three.to_address == "j.lee@globex-mail.example"


def test_a_retired_mailbox_is_the_owners_call(services: CadenceServices) -> None:
    enrolled(services)
    two = step_due(services, PROPOSED + timedelta(days=3))
    sent_at = send(services, two, PROPOSED + timedelta(days=3))
    inbox_note(
        services,
        sent_at + timedelta(minutes=2),
        "jordan@globex.example",
        "Jordan is no longer with Globex. Please write to sam@globex.example.",
        mail_kind="auto_reply",
        mailbox_retired=True,
        alternate_address="sam@globex.example",
    )
    assert queue_cadence_steps(services, sent_at + timedelta(days=30)) == []
    [question] = services.handoffs.asked
    assert question.kind is QuestionKind.STALE_ADDRESS
    assert services.store.suppressions.is_suppressed("jordan@globex.example")
    # Text from outside never changes recipients: sam@ is not written to.
    assert live(services).to_address == "j.lee@globex-mail.example"


def test_an_opt_out_the_inbox_already_applied_still_gets_its_confirmation(
    services: CadenceServices,
) -> None:
    from flows.review import opt_out

    enrolled(services)
    two = step_due(services, PROPOSED + timedelta(days=3))
    sent_at = send(services, two, PROPOSED + timedelta(days=3))
    at = sent_at + timedelta(hours=1)
    inbound(services, "unsubscribe", at)
    opt_out(services, "jordan@globex.example", Actor(id="inbox"), at, source="reply")
    assert queue_cadence_steps(services, at + timedelta(minutes=5)) == []
    e = live(services)
    assert e.end_reason is EndReason.OPT_OUT
    [confirmation] = [
        d for d in services.store.drafts.find() if d.trigger == "opt_out_confirmation"
    ]
    assert confirmation.status is DraftStatus.PENDING
    [handoff] = cadence_store(services).handoffs.find()
    assert handoff.category is Category.OPT_OUT


def test_a_reply_from_a_colleague_stops_the_cadence(services: CadenceServices) -> None:
    enrolled(services)
    draft = step_due(services, PROPOSED + timedelta(days=3))
    at = PROPOSED + timedelta(days=3, hours=1)
    outcome = reply(
        services, "Jordan is travelling; I handle this, interested.", at, "sam@globex.example"
    )
    e = live(services)
    assert (e.end_reason, e.replied_at) == (EndReason.REPLIED, at)
    assert status_of(services, draft.id) is DraftStatus.WITHDRAWN
    [handoff] = outcome.handoffs
    assert "sam@globex.example, a colleague of Jordan Lee (Globex)" in handoff.summary


def test_a_colleague_reply_does_not_stop_it_when_configured_off(store: Store) -> None:
    services = make_services(store, one_deal(), cadences=CadenceConfig(stop_on_company_reply=False))
    enrolled(services)
    reply(services, "Who is this?", T0 + timedelta(hours=1), "sam@globex.example")
    assert live(services).status is EnrolmentStatus.ACTIVE


def test_handoff_accuracy_is_who_acted(services: CadenceServices) -> None:
    enrolled(services)
    outcome = reply(services, "Interested, tell me more.", T0 + timedelta(hours=1))
    [handoff] = outcome.handoffs
    assert record_handoff_action(services, handoff.id, Actor.slack("U0AE"), "replied", T0).ok
    assert record_handoff_action(services, handoff.id, MAYA, "replied", T0).outcome is (
        Outcome.ALREADY_DECIDED
    )
    figures = stats(services, T0 - timedelta(days=1), now=T0 + timedelta(days=1))
    assert (figures.handoffs.acted, figures.handoffs.routed_correctly) == (1, 1)
    assert figures.handoffs.accuracy == 1.0


def test_pricing_clicks_twice_in_a_week_hand_off_once(services: CadenceServices) -> None:
    enrolled(services)
    clicks = [T0 + timedelta(hours=1)]
    assert handle_pricing_clicks(services, "d1", "c1", clicks, T0 + timedelta(hours=2)) is None
    clicks.append(T0 + timedelta(days=2))
    handoff = handle_pricing_clicks(services, "d1", "c1", clicks, T0 + timedelta(days=2))
    assert handoff is not None
    assert (handoff.category, handoff.routed_to) == (Category.BUYING_SIGNAL, "U0AE")
    assert handoff.summary.startswith("Warm interest: Jordan Lee (Globex)")
    clicks.append(T0 + timedelta(days=3))
    assert handle_pricing_clicks(services, "d1", "c1", clicks, T0 + timedelta(days=3)) is None
    assert live(services).status is EnrolmentStatus.ACTIVE


def test_automatic_enrolment_by_stage(store: Store) -> None:
    config = CadenceConfig(enrol=EnrolRules(stages={"proposal": "default"}))
    services = make_services(store, one_deal(), cadences=config)
    assert queue_cadence_steps(services, T0) == []
    [e] = cadence_store(services).enrolments.live()
    assert (e.via, e.enrolled_by) == ("stage", "followup")
    assert len(queue_cadence_steps(services, PROPOSED + timedelta(days=3))) == 1


def test_stats_and_the_weekly_digest(services: CadenceServices) -> None:
    enrolled(services)
    two = step_due(services, PROPOSED + timedelta(days=3))
    sent_at = send(services, two, PROPOSED + timedelta(days=3, hours=2))
    reply(services, "Sounds great, can we set up a call?", sent_at + timedelta(hours=2))
    now = sent_at + timedelta(days=1)
    figures = stats(services, T0 - timedelta(days=1), now=now)
    data = figures.to_json()
    assert data["reply_rate_per_step"] == [
        {
            "cadence": "default",
            "step": 1,
            "angle": None,
            "sent": 1,
            "replies": 0,
            "reply_rate": 0.0,
        },
        {
            "cadence": "default",
            "step": 2,
            "angle": "value",
            "sent": 1,
            "replies": 1,
            "reply_rate": 1.0,
        },
    ]
    assert data["positive_reply_rate"] == 1.0
    assert data["average_touches_before_reply"] == 2.0
    assert data["drafts_per_rule"] == [
        {
            "trigger": "cadence:default:2",
            "drafted": 1,
            "approved_unchanged": 1,
            "approved_edited": 0,
            "dismissed": 0,
            "snoozed": 0,
            "withdrawn": 0,
            "pending": 0,
        }
    ]
    assert data["median_minutes_to_decision"] == 120.0
    assert data["handoffs"]["by_category"] == {"buying_signal": 1}
    drawn: list[ChartData] = []

    def render(chart: ChartData) -> bytes:
        drawn.append(chart)
        return b"\x89PNG"

    digest = weekly_digest(services, now, render=render)
    assert digest.png == b"\x89PNG"
    assert drawn[0].labels == ("default 1", "default 2 · value")
    assert drawn[0].replies == (0, 1)
    assert digest.text.splitlines()[0].endswith("1 replies to 2 touches")
    assert "Best step: default step 2 (value), 100% of 1" in digest.text


def test_the_chart_is_a_png() -> None:
    from cli.chart import render_replies_per_step

    png = render_replies_per_step(
        ChartData("t", ("default 1", "default 2 · value"), (4, 3), (1, 2))
    )
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert render_replies_per_step(ChartData("t", (), (), ())).startswith(b"\x89PNG")


# --------------------------------------------------------------------------- the scenario

ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo")


@dataclass(slots=True)
class Script:
    """One contact's story: after their step `after_step` left, wait `delay`, then `action`."""

    contact_id: str
    after_step: int
    delay: timedelta
    action: str
    text: str = ""
    done: bool = False


@dataclass(slots=True)
class World:
    services: CadenceServices
    pipeline: Pipeline
    sent: dict[int, datetime] = field(default_factory=dict)  # draft id -> when it left
    steps: dict[tuple[str, str], datetime] = field(default_factory=dict)  # (contact, trigger)
    drafts: dict[int, Draft] = field(default_factory=dict)  # sent drafts (they no longer change)
    approved: set[int] = field(default_factory=set)  # approved, not sent yet
    replies: dict[str, list[datetime]] = field(default_factory=dict)  # person replies
    decided: dict[str, list[datetime]] = field(default_factory=dict)  # owner said go on
    paused: dict[str, list[tuple[datetime, datetime]]] = field(default_factory=dict)
    dismiss: set[tuple[str, str]] = field(default_factory=set)  # (contact, trigger)
    answers: dict[str, tuple[str, timedelta]] = field(default_factory=dict)
    asked: set[str] = field(default_factory=set)  # contacts whose question awaits Maya


def cohort() -> Pipeline:
    contacts: list[Contact] = []
    deals = []
    proposals = []
    for n in range(1, 15):
        cid, did = f"c{n:02d}", f"d{n:02d}"
        alt = (f"p{n:02d}@mail.co{n:02d}.example",) if n == 5 else ()
        contacts.append(
            contact(
                id=cid,
                name=f"Person {n:02d}",
                email=f"p{n:02d}@co{n:02d}.example",
                company=f"Company {n:02d}",
                timezone=ZONES[n % 3],
                alt_emails=alt,
            )
        )
        deals.append(
            deal(id=did, title=f"Deal {n:02d}", contact_ids=(cid,), stage_entered_at=PROPOSED)
        )
        proposals.append(proposal(did, cid, PROPOSED + timedelta(hours=n)))
    return Pipeline(
        owners=(owner(),),
        contacts=tuple(contacts),
        deals=tuple(deals),
        activities=tuple(proposals),
    )


SCRIPTS = (
    # c01 stays silent all the way: every step, then archived. c11's owner dismisses step 3.
    Script("c02", 2, timedelta(hours=20), "reply", "Sounds great, can we set up a call next week?"),
    Script("c03", 2, timedelta(minutes=30), "ooo", "I am out of the office until November 16."),
    Script("c04", 3, timedelta(hours=1), "ooo", "Out of office: I have limited access to email."),
    Script("c05", 2, timedelta(minutes=10), "bounce"),
    Script("c06", 2, timedelta(minutes=10), "bounce"),
    Script("c07", 3, timedelta(hours=6), "reply", "Please remove me from your list."),
    Script("c08", 2, timedelta(hours=4), "reply", "Not now, follow up later."),
    Script(
        "c09", 2, timedelta(hours=9), "colleague", "I look after this for Person 09: who are you?"
    ),
    Script("c10", 3, timedelta(hours=2), "reply", "Let's talk next quarter."),
    Script("c12", 4, timedelta(days=2), "reply", "Too expensive for us, honestly."),
    # c13 replies while step 4 waits for review: it must never leave.
    Script("c13", 3, timedelta(days=7, minutes=30), "reply", "Thanks, interested. Tell me more."),
    Script("c14", 2, timedelta(days=1), "crm_reply", "We went with another vendor."),
)


def owner_is_at_work(now: datetime) -> bool:
    """Maya reviews on weekdays, 08:00 to 19:00 in New York."""
    local = now.astimezone(ZoneInfo("America/New_York"))
    return local.weekday() < 5 and 8 <= local.hour < 19


def fast_store() -> Iterator[Store]:
    engine = create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    event.listen(engine, "connect", lambda c, _r: c.execute("PRAGMA foreign_keys=ON"))
    migrate(engine)
    yield Store(engine)
    engine.dispose()


@pytest.fixture
def memory_store() -> Iterator[Store]:
    yield from fast_store()


def fire(world: World, script: Script, now: datetime) -> None:
    services = world.services
    person = world.pipeline.contact(script.contact_id)
    assert person is not None
    assert person.email is not None
    ids = {"deal_id": f"d{script.contact_id[1:]}", "contact_id": script.contact_id}
    if script.contact_id in world.answers:
        world.asked.add(script.contact_id)
    if script.action in ("reply", "ooo"):
        reply(services, script.text, now, person.email, **ids)
        if script.action == "reply":
            world.replies.setdefault(script.contact_id, []).append(now)
    elif script.action == "colleague":
        reply(services, script.text, now, f"boss@co{script.contact_id[1:]}.example", **ids)
        world.replies.setdefault(script.contact_id, []).append(now)
    elif script.action == "crm_reply":
        inbound(services, script.text, now, person.email, **ids)
        world.replies.setdefault(script.contact_id, []).append(now)
    elif script.action == "bounce":
        text = "Delivery to the following recipient failed permanently: " + person.email
        bounce = InboundReply(
            f"mailer-daemon@co{script.contact_id[1:]}.example",
            now,
            text,
            f"<bounce-{script.contact_id}@example>",
            failed_address=person.email,
        )
        handle_reply_for_cadence(services, bounce, classify_reply(text, received_at=now), now)
    if script.action == "ooo":
        e = cadence_store(services).enrolments.live_for_contact(script.contact_id)
        assert e is not None
        assert e.paused_until is not None
        world.paused.setdefault(script.contact_id, []).append((now, e.paused_until))


def owner_works(world: World, now: datetime) -> None:
    services = world.services
    store = cadence_store(services)
    for question in store.questions.open() if world.asked else ():
        choice, wait = world.answers[question.contact_id]
        if now - question.created_at < timedelta(days=1):
            continue
        until = (now + wait).date() if choice == "pause_until" else None
        assert answer_question(services, question.id, choice, MAYA, now, until=until).ok
        world.decided.setdefault(question.contact_id, []).append(now)
        world.asked.discard(question.contact_id)
    for draft in services.store.drafts.find(statuses=[DraftStatus.PENDING]):
        if draft.trigger == "opt_out_confirmation" or now - draft.created_at < timedelta(hours=2):
            continue  # the confirmation waits for the send-time exemption (see the report)
        if (draft.contact_id, draft.trigger) in world.dismiss:
            assert dismiss(services, draft.id, MAYA, now, "wrong_moment").ok
        else:
            assert approve(services, draft.id, MAYA, now).ok
            world.approved.add(draft.id)


def check_invariants(world: World, now: datetime) -> None:
    services = world.services
    store = cadence_store(services)
    enrolments = store.enrolments.live()
    live_contacts = [e.contact_id for e in enrolments]
    assert len(live_contacts) == len(set(live_contacts)), "one cadence per contact at a time"
    with services.store.engine.connect() as connection:
        opened = connection.execute(
            select(DraftRow.id, DraftRow.contact_id).where(
                DraftRow.status.in_(["pending", "approved"]), DraftRow.trigger.like("cadence:%")
            )
        ).all()
    open_steps: dict[str, list[int]] = {}
    for draft_id, contact_id in opened:
        open_steps.setdefault(contact_id, []).append(draft_id)
    by_enrolment = {e.contact_id: e for e in enrolments}
    for contact_id, ids in open_steps.items():
        assert len(ids) == 1, "never step N+1 while step N awaits approval"
        e = by_enrolment.get(contact_id)
        assert e is not None, "no step draft outside a live cadence"
        assert e.pending_draft_id == ids[0]
        assert not (e.status is EnrolmentStatus.PAUSED and e.awaiting_owner)
    # Message-IDs name no draft: the outbox row says which draft a message was.
    draft_of = {row.message_id: row.draft_id for row in services.store.outbox.find()}
    fresh = [
        draft_of[m.message_id]
        for m in services.mailbox.sent[len(world.sent) :]  # type: ignore[attr-defined]
    ]
    if fresh:
        # What holds for a message when it leaves holds for good: check each one once.
        suppressed = {s.value: s.created_at for s in services.store.suppressions.all()}
        for draft_id in fresh:
            sent = services.store.drafts.get(draft_id)
            assert sent is not None
            world.sent[draft_id] = now
            world.drafts[draft_id] = sent
            world.approved.discard(draft_id)
            check_message(world, sent, now, suppressed)
            world.steps[(sent.contact_id, sent.trigger)] = now


def check_message(
    world: World, draft: Draft, at: datetime, suppressed: dict[str, datetime]
) -> None:
    """The invariants of one message the moment it left."""
    assert draft.trigger.startswith("cadence:"), "only cadence steps are approved here"
    contact_id = draft.contact_id
    person = world.pipeline.contact(contact_id)
    assert person is not None
    window = world.services.policy.evaluation.send_window
    earlier = [
        (when, world.drafts[i])
        for i, when in world.sent.items()
        if world.drafts[i].contact_id == contact_id and i != draft.id
    ]
    assert len(earlier) + 2 <= DEFAULT_CADENCE.max_touches, "never more than max_touches"
    previous_at = max(
        [next(a.at for a in world.pipeline.activities if a.contact_id == contact_id)]
        + [when for when, _ in earlier]
    )
    previous_angle = max(earlier, key=lambda e: e[0])[1].angle if earlier else None
    number = int(draft.trigger.rsplit(":", 1)[1])
    assert all(int(d.trigger.rsplit(":", 1)[1]) < number for _, d in earlier), "in order, once"
    step = DEFAULT_CADENCE.step_for(number)
    assert step is not None
    assert at - previous_at >= timedelta(days=step.days) - timedelta(hours=1), "its gap"
    assert draft.angle != previous_angle, "never the same angle twice in a row"
    zone = recipient_zone(person, owner(), window)
    assert in_window(at, zone, window), "arrives inside the contact's send window"
    address = draft.to_address
    for key in (address, address.rpartition("@")[2]):
        assert key not in suppressed or suppressed[key] > at, "never to a suppressed address"
    for replied in world.replies.get(contact_id, []):
        if replied < at:
            assert any(replied < d < at for d in world.decided.get(contact_id, [])), (
                "stop on any reply, unless a person said go on"
            )
    for start, end in world.paused.get(contact_id, []):
        assert not start <= at < end, "nothing while out of office"


def test_a_cohort_through_the_default_cadence_for_five_weeks(memory_store: Store) -> None:
    pipeline = cohort()
    routing = RoutingConfig(roles={"account_executive": "U0AE"})
    services = make_services(memory_store, pipeline, routing=routing)
    world = World(services, pipeline)
    world.dismiss = {("c11", "cadence:default:3")}
    world.answers = {
        "c08": ("pause_until", timedelta(days=7)),
        "c10": ("keep_running", timedelta(0)),
    }
    for person in pipeline.contacts:
        assert enroll(services, f"d{person.id[1:]}", person.id, None, MAYA, T0).ok
    scripts = [replace(s) for s in SCRIPTS]
    loaded_at, loaded = T0, services.store.pipeline.load()
    hours = 5 * 7 * 24
    for hour in range(hours + 1):
        now = T0 + timedelta(hours=hour)
        for script in scripts:
            if script.done:
                continue
            trigger = f"cadence:default:{script.after_step}"
            left = world.steps.get((script.contact_id, trigger))
            if left is not None and now >= left + script.delay:
                fire(world, script, now)
                script.done = True
        # As run_cycle does: the pipeline it loaded (again only when a deal changed).
        if services.store.pipeline.deals_changed_since(loaded_at):
            loaded_at, loaded = now - timedelta(microseconds=1), services.store.pipeline.load()
        queue_cadence_steps(services, now, pipeline=loaded)
        if owner_is_at_work(now):
            owner_works(world, now)
        if world.approved:
            deliver_due(services, now)
        check_invariants(world, now)
    assert all(s.done for s in scripts), [s.contact_id for s in scripts if not s.done]

    store = cadence_store(services)
    final = {e.contact_id: e for e in store.enrolments.find()}
    ended = {
        cid: (e.status.value, e.end_reason.value if e.end_reason else None)
        for cid, e in final.items()
    }
    assert ended == {
        "c01": ("completed", "completed"),
        "c02": ("stopped", "replied"),
        "c03": ("completed", "completed"),
        "c04": ("completed", "completed"),
        "c05": ("completed", "completed"),
        "c06": ("stopped", "bounced"),
        "c07": ("stopped", "opt_out"),
        "c08": ("completed", "completed"),
        "c09": ("stopped", "replied"),
        "c10": ("completed", "completed"),
        "c11": ("completed", "completed"),
        "c12": ("stopped", "replied"),
        "c13": ("stopped", "replied"),
        "c14": ("stopped", "replied"),
    }
    # The alternate address took over after c05's bounce.
    assert final["c05"].to_address == "p05@mail.co05.example"
    # c13 replied while step 4 waited for review: it was withdrawn, never sent.
    c13 = [d for d in services.store.drafts.find() if d.contact_id == "c13"]
    assert [(d.trigger, d.status.value) for d in c13][-1] == ("cadence:default:4", "withdrawn")
    [confirmation] = [
        d for d in services.store.drafts.find() if d.trigger == "opt_out_confirmation"
    ]
    assert (confirmation.contact_id, confirmation.status) == ("c07", DraftStatus.PENDING)

    figures = stats(services, T0 - timedelta(days=1), now=T0 + timedelta(hours=hours))
    per_step = {(s.step): (s.sent, s.replies) for s in figures.steps}
    assert per_step == {1: (14, 0), 2: (14, 4), 3: (9, 3), 4: (8, 1)}
    [default] = figures.cadences
    assert (default.enrolled, default.replied, default.positive, default.opted_out) == (14, 8, 2, 1)
    assert (default.completed, default.finished) == (7, 14)
    assert default.completion_rate == 0.5
    assert figures.positive_reply_rate == pytest.approx(2 / 14)
    assert default.opt_out_rate == pytest.approx(1 / 14)
    assert figures.average_touches_before_reply == pytest.approx(
        (2 + 2 + 2 + 2 + 3 + 3 + 3 + 4) / 8
    )
    drafts = {d.trigger: d for d in figures.drafts}
    assert drafts["cadence:default:3"].dismissed == 1
    assert figures.handoffs.total == 8
    assert figures.median_minutes_to_decision is not None
