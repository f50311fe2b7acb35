"""`/followup enroll` and `/followup stats` below Slack: which deal and cadence a command
names, who may enrol, who is enrolled (and who skipped, and why), and the metrics report."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from crm.fake import FakeCrm
from flows.cadences import (
    InboundReply,
    cadence_store,
    handle_reply_for_cadence,
    queue_cadence_steps,
)
from flows.commands import (
    EnrolTarget,
    enroll_deal,
    find_enrolment,
    stats_report,
)
from flows.delivery import deliver_due
from flows.ports import Actor, Policy, Services
from flows.review import Outcome, approve
from mail.fake import FakeMailbox
from prompts.base import DraftContext, DraftResult, ModelUsage
from prompts.drafter import TemplateDrafter
from storage.repos import Store
from tests.factories import activity, contact, deal, owner
from tests.reading.helpers import classify_reply
from triggers.cadence import CadenceConfig, EnrolmentStatus
from triggers.drafts import Draft
from triggers.model import (
    ActivityKind,
    Contact,
    ContactStatus,
    DealStatus,
    Direction,
    Pipeline,
)

MAYA = Actor.slack("U01MAYA", "maya")  # owns every deal here
ADMIN = Actor.slack("U0ADMIN", "ada")
STRANGER = Actor.slack("U0STRANGER", "sam")
# Monday 2 November 2026, 08:00 UTC: 09:00 in Berlin, where Jordan is.
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
PROPOSED = T0 - timedelta(days=1)
PAT = contact(id="c2", name="Pat Kim", email="pat@globex.example")
CONFIG = CadenceConfig()


class Review:
    def publish(self, draft: Draft, view: object) -> None:
        return None

    def update(self, draft: Draft, view: object, outcome: str) -> None:
        return None


class ModelDrafter:
    """The template drafter, reporting what a model call would have cost."""

    def __init__(self) -> None:
        self.templates = TemplateDrafter()

    def draft(self, context: DraftContext) -> DraftResult:
        result = self.templates.draft(context)
        usage = ModelUsage("gpt-test", prompt_tokens=1200, completion_tokens=300, calls=1)
        return replace(result, source="model", usage=replace(usage, milliseconds=850))


def pipeline(*people: Contact, status: DealStatus = DealStatus.OPEN) -> Pipeline:
    people = people or (contact(),)
    return Pipeline(
        owners=(owner(),),
        contacts=people,
        deals=(
            deal(
                contact_ids=tuple(c.id for c in people),
                stage_entered_at=PROPOSED - timedelta(days=1),
                status=status,
            ),
            deal(id="d2", title="Initech data platform", contact_ids=(people[0].id,)),
        ),
        activities=(
            activity(
                ActivityKind.PROPOSAL_SENT,
                PROPOSED,
                id="proposal-d1",
                subject="Proposal: website rebuild",
            ),
        ),
    )


def make_services(store: Store, pipe: Pipeline, *, model: bool = False) -> Services:
    store.pipeline.sync(pipe, PROPOSED)
    return Services(
        store=store,
        crm=FakeCrm(pipe),
        mailbox=FakeMailbox(),
        drafter=ModelDrafter() if model else TemplateDrafter(),
        review=Review(),
        policy=Policy(admins=frozenset({"U0ADMIN"})),
    )


def audit_actions(services: Services) -> list[tuple[str, str, str]]:
    return [(e.actor, e.action, e.subject) for e in reversed(services.store.audit.recent())]


# --------------------------------------------------------------------------- naming


@pytest.mark.parametrize(
    ("deal_text", "cadence", "query", "deals", "named"),
    [
        ("website", "", "website", ["d1"], ""),
        ("globex", "RE_ENGAGEMENT", "globex", ["d1", "d2"], "re_engagement"),
        ("Initech data", "default", "Initech data", ["d2"], "default"),
        # Not a cadence, but the rest of the deal's name: the whole text is the deal.
        ("Globex website", "rebuild", "Globex website rebuild", ["d1"], ""),
        ("Umbrella", "nurture", "Umbrella nurture", [], ""),
    ],
)
def test_the_last_word_is_a_cadence_only_when_one_has_that_name(
    deal_text: str, cadence: str, query: str, deals: list[str], named: str
) -> None:
    found = find_enrolment(CONFIG, pipeline(), deal_text, cadence)
    assert isinstance(found, EnrolTarget)
    assert (found.query, [d.id for d in found.deals], found.cadence) == (query, deals, named)


def test_an_unknown_cadence_after_a_known_deal_lists_the_cadences() -> None:
    assert find_enrolment(CONFIG, pipeline(), "Globex", "nurture") == (
        "There is no cadence “nurture”. The cadences are: default (the default), re_engagement."
    )


# --------------------------------------------------------------------------- enrol


def test_the_owner_enrols_the_primary_contact_in_the_default_cadence(store: Store) -> None:
    services = make_services(store, pipeline(contact(), PAT))
    decision = enroll_deal(services, "d1", "", MAYA, T0)
    assert decision.outcome is Outcome.DONE
    assert decision.message == (
        "Jordan Lee is in cadence default on Globex website rebuild. Step 2 is due Wed 04 Nov "
        "(Europe/Berlin). Each step comes to review as a draft; a reply from them stops it."
    )
    [enrolment] = cadence_store(services).enrolments.live()
    assert (enrolment.contact_id, enrolment.cadence, enrolment.via, enrolment.enrolled_by) == (
        "c1",
        "default",
        "slack",
        "slack:U01MAYA",
    )
    assert ("slack:U01MAYA", "cadence_enroll", "deal:d1") in audit_actions(services)


def test_an_admin_enrols_in_a_named_cadence(store: Store) -> None:
    services = make_services(store, pipeline())
    decision = enroll_deal(services, "d1", "re_engagement", ADMIN, T0)
    assert decision.ok, decision.message
    assert decision.message.startswith("Jordan Lee is in cadence re_engagement on Globex")
    [enrolment] = cadence_store(services).enrolments.live()
    assert enrolment.cadence == "re_engagement"


@pytest.mark.parametrize("cadence", ["", "nurture"])
def test_anyone_else_is_refused_and_audited_and_nothing_changes(store: Store, cadence: str) -> None:
    services = make_services(store, pipeline())
    decision = enroll_deal(services, "d1", cadence, STRANGER, T0)
    assert decision.outcome is Outcome.FORBIDDEN
    assert decision.message == (
        "Only the deal's owner or a followup admin can do that; nothing was changed."
    )
    assert cadence_store(services).enrolments.find() == []
    assert audit_actions(services) == [("slack:U0STRANGER", "refused:enroll", "deal:d1")]


def test_a_contact_already_in_a_cadence_is_not_enrolled_twice(store: Store) -> None:
    services = make_services(store, pipeline())
    assert enroll_deal(services, "d1", "", MAYA, T0).ok
    again = enroll_deal(services, "d2", "re_engagement", MAYA, T0 + timedelta(hours=1))
    assert again.outcome is Outcome.ALREADY_DECIDED
    assert again.message == (
        "Jordan Lee is already in cadence default (since Mon 02 Nov); one cadence at a time."
    )
    assert [e.deal_id for e in cadence_store(services).enrolments.find()] == ["d1"]


def test_an_unknown_cadence_lists_the_known_ones(store: Store) -> None:
    services = make_services(store, pipeline())
    decision = enroll_deal(services, "d1", "nurture", MAYA, T0)
    assert decision.outcome is Outcome.INVALID
    assert decision.message == (
        "There is no cadence “nurture”. The cadences are: default (the default), re_engagement."
    )
    assert cadence_store(services).enrolments.find() == []


def test_a_suppressed_primary_contact_is_skipped_and_named(store: Store) -> None:
    services = make_services(store, pipeline(contact(), PAT))
    store.suppressions.add("jordan@globex.example", reason="opt_out", now=T0)
    decision = enroll_deal(services, "d1", "", MAYA, T0)
    assert decision.ok, decision.message
    assert decision.message.startswith("Pat Kim is in cadence default on Globex website rebuild.")
    assert decision.message.endswith(
        "Skipped: Jordan Lee (jordan@globex.example is suppressed (opt out))."
    )
    [enrolment] = cadence_store(services).enrolments.live()
    assert enrolment.contact_id == "c2"


def test_no_contact_that_may_be_written_to_says_who_and_why(store: Store) -> None:
    people = (
        contact(status=ContactStatus.DO_NOT_CONTACT),
        replace(PAT, status=ContactStatus.BOUNCED),
        contact(id="c3", name="Lou Park", email="lou@globex.example"),
    )
    services = make_services(store, pipeline(*people))
    store.suppressions.add("lou@globex.example", reason="complaint", now=T0)
    decision = enroll_deal(services, "d1", "", MAYA, T0)
    assert decision.outcome is Outcome.INVALID
    assert decision.message == (
        "No contact of Globex website rebuild can be written to: Jordan Lee (opted out), "
        "Pat Kim (their address bounced), Lou Park (lou@globex.example is suppressed "
        "(complaint)); nothing was changed."
    )
    assert cadence_store(services).enrolments.find() == []


def test_only_open_deals_are_enrolled(store: Store) -> None:
    services = make_services(store, pipeline(status=DealStatus.WON))
    decision = enroll_deal(services, "d1", "", MAYA, T0)
    assert decision.outcome is Outcome.INVALID
    assert decision.message == "Globex website rebuild is won; only open deals."


# --------------------------------------------------------------------------- stats


def test_the_stats_report_holds_the_metrics_and_the_model_use_of_its_days(store: Store) -> None:
    services = make_services(store, pipeline(), model=True)
    assert enroll_deal(services, "d1", "", MAYA, T0).ok
    [step] = queue_cadence_steps(services, PROPOSED + timedelta(days=3))
    decided = approve(services, step.id, MAYA, PROPOSED + timedelta(days=3, hours=2))
    assert decided.send_at is not None
    assert deliver_due(services, decided.send_at).sent == [step.id]
    answered = decided.send_at + timedelta(hours=3)
    text = "Sounds great, can we set up a call next week?"
    found = activity(
        ActivityKind.EMAIL,
        answered,
        id="reply-1",
        direction=Direction.IN,
        from_address="jordan@globex.example",
        body=text,
        message_id="<reply-1@globex.example>",
    )
    store.pipeline.add_activity(found, origin="inbox", now=answered)
    handle_reply_for_cadence(
        services,
        InboundReply.from_activity(found),
        classify_reply(text, received_at=answered),
        answered,
    )
    now = answered + timedelta(days=1)

    report = stats_report(services, now, 30)
    assert report.days == 30
    assert report.figures.since == now - timedelta(days=30)
    assert [(s.step, s.sent, s.replies) for s in report.figures.steps] == [(1, 1, 0), (2, 1, 1)]
    assert report.figures.positive_reply_rate == 1.0
    [rule] = report.figures.drafts
    assert (rule.trigger, rule.drafted, rule.approved_unchanged) == ("cadence:default:2", 1, 1)
    assert report.figures.median_minutes_to_decision == 120.0
    [usage] = report.usage
    assert (usage.model, usage.drafts, usage.calls, usage.prompt_tokens) == (
        "gpt-test",
        1,
        1,
        1200,
    )
    [live] = cadence_store(services).enrolments.find()
    assert live.status is EnrolmentStatus.STOPPED

    # A week later, a one-day window sees none of it.
    later = stats_report(services, now + timedelta(days=7), 1)
    assert (later.figures.steps, later.figures.drafts, later.usage) == ((), (), [])
