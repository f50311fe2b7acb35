"""Cadence decisions, table by table, and the invariants as properties."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import activity, contact, deal, owner
from triggers.cadence import (
    ANGLES,
    DEFAULT_CADENCE,
    MAIL_KIND,
    RE_ENGAGEMENT_CADENCE,
    Action,
    Cadence,
    CadenceConfig,
    CadenceConfigError,
    CadenceFacts,
    Choice,
    EndReason,
    Enrolment,
    EnrolmentStatus,
    EnrolRules,
    PendingOutcome,
    Playbook,
    QuestionKind,
    ReplyEvent,
    ReplyFacts,
    Step,
    Verdict,
    add_business_days,
    apply_answer,
    auto_enrolments,
    company_domain,
    content_lines,
    decide,
    deliverable_address,
    later_by,
    looks_stale,
    out_of_office_until,
    parse_trigger,
    plan_reply,
    reachability,
    reply_event,
    resumed,
    settle,
    trigger_for,
)
from triggers.config import SendWindowConfig
from triggers.model import (
    Activity,
    ActivityKind,
    Contact,
    ContactStatus,
    DealSource,
    DealStatus,
    DealView,
    Direction,
)
from triggers.windows import in_window

WINDOW = SendWindowConfig()
# Monday 2 November 2026, 08:00 UTC (09:00 in Berlin, where Jordan is).
MONDAY = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
PROPOSAL = activity(ActivityKind.PROPOSAL_SENT, MONDAY - timedelta(days=1), subject="Proposal")
CONFIG = CadenceConfig()


def view(*activities: Activity, **deal_overrides: Any) -> DealView:
    contacts: tuple[Contact, ...] = deal_overrides.pop("contacts", (contact(),))
    deal_overrides.setdefault("stage_entered_at", MONDAY - timedelta(days=3))
    return DealView(
        deal=deal(contact_ids=tuple(c.id for c in contacts), **deal_overrides),
        contacts=contacts,
        owner=owner(),
        activities=(PROPOSAL, *activities),
    )


def enrolment(**overrides: Any) -> Enrolment:
    values: dict[str, Any] = {
        "id": 1,
        "deal_id": "d1",
        "contact_id": "c1",
        "cadence": "default",
        "status": EnrolmentStatus.ACTIVE,
        "enrolled_at": MONDAY - timedelta(hours=12),
        "enrolled_by": "cli:maya",
        "to_address": "jordan@globex.example",
    }
    return Enrolment(**(values | overrides))


def reply(at: datetime, sender: str = "jordan@globex.example", **extra: Any) -> Activity:
    return activity(
        ActivityKind.EMAIL,
        at,
        id=f"in-{sender}-{at:%Y%m%d%H%M}",
        direction=Direction.IN,
        from_address=sender,
        body="Thanks, got it.",
        extra=extra,
    )


def sent_touch(at: datetime) -> Activity:
    return activity(
        ActivityKind.EMAIL,
        at,
        id=f"out-{at:%Y%m%d%H%M}",
        to_addresses=("jordan@globex.example",),
    )


def run(
    e: Enrolment,
    v: DealView | None = None,
    now: datetime = MONDAY,
    cadence: Cadence = DEFAULT_CADENCE,
    **facts: Any,
) -> Any:
    return decide(cadence, e, CadenceFacts(view=v or view(), **facts), now, WINDOW)


# --------------------------------------------------------------------------- definitions


def test_the_default_cadence_is_the_issues() -> None:
    steps = DEFAULT_CADENCE.steps
    assert [DEFAULT_CADENCE.number(i) for i in range(3)] == [2, 3, 4]
    assert [s.angle for s in steps] == ["value", "social_proof", "check_in"]
    # Gaps after the previous touch: day 3, day 7, day 14 counted from touch 1.
    assert [sum(s.days for s in steps[: i + 1]) for i in range(3)] == [3, 7, 14]
    assert steps[1].max_lines == 3  # social proof "under four lines"
    assert DEFAULT_CADENCE.max_touches == 4
    assert RE_ENGAGEMENT_CADENCE.first_step == 1
    assert [s.angle for s in RE_ENGAGEMENT_CADENCE.steps] == ["re_engagement"]
    assert RE_ENGAGEMENT_CADENCE.archive_after_days == 7


@pytest.mark.parametrize(
    ("steps", "extra", "message"),
    [
        ((), {}, "steps: at least one step is needed"),
        ((Step(3, "valeu"),), {}, "steps.0.angle: 'valeu' is not an angle; allowed: value,"),
        ((Step(3, "value"), Step(2, "value")), {}, "steps.1.angle: 'value' repeats"),
        ((Step(3, "value", template="nope"),), {}, "steps.0.template: 'nope' is not"),
        ((Step(-1, "value"),), {}, "steps.0.days: must be 0 or more"),
        ((Step(3, "value"),), {"first_step": 3}, "first_step: 3 is not allowed; allowed: 1"),
        ((Step(3, "value"),), {"max_touches": 1}, "max_touches: 1 leaves no step to draft"),
    ],
)
def test_invalid_cadences_name_the_key(
    steps: tuple[Step, ...], extra: dict[str, Any], message: str
) -> None:
    values: dict[str, Any] = {"max_touches": 4} | extra
    with pytest.raises(CadenceConfigError, match="cadence 'x'") as raised:
        Cadence("x", steps, **values)
    assert message in str(raised.value)


def test_a_config_that_names_an_unknown_cadence_is_refused() -> None:
    with pytest.raises(CadenceConfigError, match=r"enrol.stages.proposal: no cadence 'nurture'"):
        CadenceConfig(enrol=EnrolRules(stages={"proposal": "nurture"}))
    with pytest.raises(CadenceConfigError, match=r"playbook.opt_out: 'pause' is not allowed"):
        Playbook(actions={ReplyEvent.OPT_OUT: Action.PAUSE})


def test_triggers_round_trip() -> None:
    assert trigger_for("default", 3) == "cadence:default:3"
    assert parse_trigger("cadence:default:3") == ("default", 3)
    assert parse_trigger("proposal_no_reply") is None
    assert parse_trigger("opt_out_confirmation") is None


def test_every_angle_has_a_template() -> None:
    from prompts.drafter import TEMPLATE_NAMES

    assert set(ANGLES) <= set(TEMPLATE_NAMES)


# --------------------------------------------------------------------------- time


def test_business_days_skip_weekends_and_holidays() -> None:
    friday = date(2026, 11, 6)
    assert add_business_days(friday, 1, WINDOW) == date(2026, 11, 9)
    assert add_business_days(friday, 5, WINDOW) == date(2026, 11, 13)
    holiday = replace(WINDOW, holiday_dates=frozenset({date(2026, 11, 9)}))
    assert add_business_days(friday, 1, holiday) == date(2026, 11, 10)


def test_later_by_keeps_the_wall_clock_across_a_dst_change() -> None:
    # 10:00 in Berlin on Thu 22 Oct (CEST); three days later is Sun 25 Oct (CET).
    start = datetime(2026, 10, 22, 8, 0, tzinfo=UTC)
    assert later_by(start, 3, "Europe/Berlin", WINDOW) == datetime(2026, 10, 25, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("returns", "received", "resume"),
    [
        # Back Thursday: continue one business day later, Friday, from midnight in Berlin.
        (date(2026, 11, 5), MONDAY, datetime(2026, 11, 5, 23, 0, tzinfo=UTC)),
        # Back Friday: continue Monday.
        (date(2026, 11, 6), MONDAY, datetime(2026, 11, 8, 23, 0, tzinfo=UTC)),
        # No date: back after 5 business days (Mon 9 Nov), continue Tue 10 Nov.
        (None, MONDAY, datetime(2026, 11, 9, 23, 0, tzinfo=UTC)),
    ],
)
def test_out_of_office_pauses_until_one_business_day_after_return(
    returns: date | None, received: datetime, resume: datetime
) -> None:
    assert out_of_office_until(returns, received, "Europe/Berlin", WINDOW) == resume


# --------------------------------------------------------------------------- contacts


@pytest.mark.parametrize(
    ("who", "suppressions", "expected"),
    [
        (contact(), {}, None),
        (contact(status=ContactStatus.DO_NOT_CONTACT), {}, EndReason.OPT_OUT),
        (contact(status=ContactStatus.BOUNCED), {}, EndReason.BOUNCED),
        (contact(status=ContactStatus.DECEASED), {}, EndReason.UNREACHABLE),
        (contact(), {"jordan@globex.example": "opt_out"}, EndReason.UNREACHABLE),
        (contact(), {"globex.example": "manual"}, EndReason.UNREACHABLE),
        (contact(), {"jordan@globex.example": "hard_bounce"}, EndReason.BOUNCED),
        (
            contact(alt_emails=("j.lee@globex-mail.example",)),
            {"jordan@globex.example": "hard_bounce"},
            None,
        ),
        (contact(email=None), {}, EndReason.UNREACHABLE),
    ],
)
def test_reachability(
    who: Contact, suppressions: dict[str, str], expected: EndReason | None
) -> None:
    assert reachability(who, suppressions) is expected


def test_the_deliverable_address_skips_hard_bounces() -> None:
    jordan = contact(alt_emails=("j.lee@globex-mail.example",))
    bounced = {"jordan@globex.example": "hard_bounce"}
    assert deliverable_address(jordan, {}) == "jordan@globex.example"
    assert deliverable_address(jordan, bounced) == "j.lee@globex-mail.example"
    assert deliverable_address(jordan, {}, "j.lee@globex-mail.example") == (
        "j.lee@globex-mail.example"
    )
    assert deliverable_address(jordan, {}, "someone@else.example") == "jordan@globex.example"


def test_free_mail_is_not_a_company() -> None:
    assert company_domain(contact()) == "globex.example"
    assert company_domain(contact(email="jordan@gmail.com")) is None
    assert company_domain(contact(email="j@gmail.com", alt_emails=("j@globex.example",))) == (
        "globex.example"
    )


# --------------------------------------------------------------------------- decide


def test_step_two_is_due_three_days_after_touch_one_inside_the_window() -> None:
    early = run(enrolment(), now=MONDAY)
    assert early.verdict is Verdict.WAIT
    assert early.wake_at == PROPOSAL.at + timedelta(days=3)
    due = run(enrolment(), now=early.wake_at)
    assert due.verdict is Verdict.DRAFT
    step = due.step
    assert (step.number, step.angle, step.template) == (2, "value", "value")
    assert step.to_address == "jordan@globex.example"
    assert step.zone == "Europe/Berlin"
    assert in_window(step.send_at, "Europe/Berlin", WINDOW)
    assert "step 2 (value): 3 days since the last touch" in step.reason


def test_a_step_due_on_a_weekend_arrives_monday_morning() -> None:
    saturday = datetime(2026, 11, 7, 10, 0, tzinfo=UTC)
    touched = enrolment(touches=1, next_index=1, last_touch_at=saturday - timedelta(days=4))
    decision = run(touched, view(sent_touch(saturday - timedelta(days=4))), now=saturday)
    assert decision.verdict is Verdict.DRAFT
    assert decision.step.send_at == datetime(2026, 11, 9, 8, 0, tzinfo=UTC)


def test_business_day_gaps_count_weekdays_only() -> None:
    cadence = Cadence("b", (Step(2, "value", business_days=True),), max_touches=2)
    friday = datetime(2026, 11, 6, 9, 0, tzinfo=UTC)
    v = replace(view(), activities=(sent_touch(friday),))
    decision = run(enrolment(cadence="b"), v, now=friday, cadence=cadence)
    assert decision.wake_at == datetime(2026, 11, 10, 9, 0, tzinfo=UTC)  # Tuesday


def test_never_step_n_plus_one_while_step_n_awaits_approval() -> None:
    waiting = enrolment(pending_draft_id=7)
    decision = run(waiting, now=MONDAY + timedelta(days=30))
    assert decision.verdict is Verdict.WAIT
    assert decision.why == "step 2 awaits approval or sending"


def test_never_step_n_plus_one_before_its_gap_after_step_n_was_sent() -> None:
    sent = MONDAY + timedelta(days=3)
    after_step_two = enrolment(touches=1, next_index=1, last_touch_at=sent, angles=("value",))
    v = view(sent_touch(sent))
    assert run(after_step_two, v, now=sent + timedelta(days=4) - timedelta(minutes=1)).verdict is (
        Verdict.WAIT
    )
    decision = run(after_step_two, v, now=sent + timedelta(days=4))
    assert decision.verdict is Verdict.DRAFT
    assert (decision.step.number, decision.step.angle, decision.step.max_lines) == (
        3,
        "social_proof",
        3,
    )


def test_a_manual_email_counts_as_a_touch_for_the_gap() -> None:
    manual = MONDAY + timedelta(days=2)
    decision = run(enrolment(), view(sent_touch(manual)), now=MONDAY + timedelta(days=3))
    assert decision.verdict is Verdict.WAIT
    assert decision.wake_at == manual + timedelta(days=3)


def test_never_more_than_max_touches_then_archived_after_seven_days() -> None:
    last = MONDAY + timedelta(days=14)
    done = enrolment(touches=3, next_index=3, last_touch_at=last, angles=("value", "x", "y"))
    v = view(sent_touch(last))
    waiting = run(done, v, now=last + timedelta(days=6))
    assert waiting.verdict is Verdict.WAIT
    assert waiting.wake_at == last + timedelta(days=7)
    archived = run(done, v, now=last + timedelta(days=7))
    assert (archived.verdict, archived.end_reason) == (Verdict.COMPLETE, EndReason.COMPLETED)
    capped = Cadence("c", DEFAULT_CADENCE.steps, max_touches=3)
    two = enrolment(cadence="c", touches=2, next_index=2, last_touch_at=last, angles=("value", "x"))
    assert run(two, v, now=last + timedelta(days=30), cadence=capped).verdict is Verdict.COMPLETE


def test_never_the_same_angle_twice_in_a_row() -> None:
    # The previous message to the contact (another enrolment, or a dismissed step) used the
    # angle this step asks for: another angle is taken.
    decision = run(enrolment(), now=MONDAY + timedelta(days=3), previous_angle="value")
    assert decision.verdict is Verdict.DRAFT
    assert decision.step.angle != "value"
    assert decision.step.template == decision.step.angle
    assert "never the same angle twice in a row" in decision.step.evidence[-1]
    skipped = enrolment(touches=1, next_index=2, angles=("check_in",), last_touch_at=MONDAY)
    cadence = Cadence("s", (Step(1, "value"), Step(1, "social_proof"), Step(1, "check_in")), 4)
    later = run(skipped, view(sent_touch(MONDAY)), MONDAY + timedelta(days=2), cadence=cadence)
    assert later.step.angle not in ("check_in",)


@pytest.mark.parametrize(
    ("sender", "extra", "company_rule", "verdict"),
    [
        ("jordan@globex.example", {}, True, Verdict.STOP),
        ("j.lee@globex-mail.example", {}, True, Verdict.STOP),  # an alternate address
        ("sam@globex.example", {}, True, Verdict.STOP),  # a colleague
        ("sam@globex.example", {}, False, Verdict.WAIT),  # company rule off
        ("someone@gmail.com", {}, True, Verdict.WAIT),  # another company
        ("jordan@globex.example", {MAIL_KIND: "auto_reply"}, True, Verdict.WAIT),
        ("jordan@globex.example", {MAIL_KIND: "opt_out"}, True, Verdict.STOP),
    ],
)
def test_stop_on_any_reply_from_the_contact_or_their_company(
    sender: str, extra: dict[str, Any], company_rule: bool, verdict: Verdict
) -> None:
    jordan = contact(alt_emails=("j.lee@globex-mail.example",))
    v = view(reply(MONDAY, sender, **extra), contacts=(jordan,))
    decision = decide(
        DEFAULT_CADENCE,
        enrolment(),
        CadenceFacts(view=v),
        MONDAY + timedelta(hours=1),
        WINDOW,
        stop_on_company_reply=company_rule,
    )
    assert decision.verdict is verdict
    if verdict is Verdict.STOP:
        assert decision.end_reason is EndReason.REPLIED
        assert decision.signal is not None


def test_a_reply_from_before_enrolment_or_already_handled_does_not_stop() -> None:
    v = view(reply(MONDAY - timedelta(days=1)))
    assert run(enrolment(), v).verdict is Verdict.WAIT
    late = view(reply(MONDAY + timedelta(hours=1)))
    handled = enrolment(
        handled_until=MONDAY + timedelta(hours=1), acknowledged_until=MONDAY + timedelta(hours=1)
    )
    assert run(handled, late, now=MONDAY + timedelta(hours=2)).verdict is Verdict.WAIT


def test_a_handled_reply_nobody_decided_on_blocks_drafting() -> None:
    v = view(reply(MONDAY + timedelta(hours=1)))
    handled = enrolment(handled_until=MONDAY + timedelta(hours=1))
    decision = run(handled, v, now=MONDAY + timedelta(days=5))
    assert (decision.verdict, decision.why) == (Verdict.WAIT, "a reply awaits a person's decision")


@pytest.mark.parametrize(
    ("kind", "outcome", "verdict"),
    [
        (ActivityKind.MEETING, None, Verdict.STOP),
        (ActivityKind.CALL, "Talked budget", Verdict.STOP),
        (ActivityKind.CALL, "Left voicemail", Verdict.WAIT),
        (ActivityKind.NOTE, None, Verdict.WAIT),
    ],
)
def test_a_call_or_meeting_with_them_stops_the_cadence(
    kind: ActivityKind, outcome: str | None, verdict: Verdict
) -> None:
    v = view(activity(kind, MONDAY, outcome=outcome))
    decision = run(enrolment(), v, now=MONDAY + timedelta(hours=1))
    assert decision.verdict is verdict
    if verdict is Verdict.STOP:
        assert decision.end_reason is EndReason.CONVERSATION


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (ContactStatus.DO_NOT_CONTACT, EndReason.OPT_OUT),
        (ContactStatus.BOUNCED, EndReason.BOUNCED),
        (ContactStatus.DECEASED, EndReason.UNREACHABLE),
    ],
)
def test_never_for_a_suppressed_bounced_or_deceased_contact(
    status: ContactStatus, reason: EndReason
) -> None:
    v = view(contacts=(contact(status=status),))
    decision = run(enrolment(), v, now=MONDAY + timedelta(days=3))
    assert (decision.verdict, decision.end_reason) == (Verdict.STOP, reason)
    suppressed = run(
        enrolment(),
        now=MONDAY + timedelta(days=3),
        suppressions={"jordan@globex.example": "opt_out"},
    )
    assert (suppressed.verdict, suppressed.end_reason) == (Verdict.STOP, EndReason.UNREACHABLE)


def test_after_a_hard_bounce_the_alternate_address_takes_over() -> None:
    v = view(contacts=(contact(alt_emails=("j.lee@globex-mail.example",)),))
    decision = run(
        enrolment(),
        v,
        now=MONDAY + timedelta(days=3),
        suppressions={"jordan@globex.example": "hard_bounce"},
    )
    assert decision.step.to_address == "j.lee@globex-mail.example"


@pytest.mark.parametrize("status", [DealStatus.WON, DealStatus.LOST, DealStatus.ON_HOLD])
def test_a_deal_that_is_no_longer_open_stops_the_cadence(status: DealStatus) -> None:
    decision = run(enrolment(), view(status=status))
    assert (decision.verdict, decision.end_reason) == (Verdict.STOP, EndReason.DEAL_CLOSED)


def test_a_contact_removed_from_the_deal_stops_it() -> None:
    v = view(contacts=(contact(id="c2", email="sam@globex.example"),))
    assert run(enrolment(), v).end_reason is EndReason.CONTACT_REMOVED


def test_a_paused_deal_waits() -> None:
    until = MONDAY + timedelta(days=10)
    decision = run(enrolment(), now=MONDAY + timedelta(days=5), deal_paused_until=until)
    assert (decision.verdict, decision.wake_at) == (Verdict.WAIT, until)


def test_a_pause_awaiting_the_owner_never_resumes_by_itself() -> None:
    paused = enrolment(status=EnrolmentStatus.PAUSED, awaiting_owner=True, pause_reason="not_now")
    decision = run(paused, now=MONDAY + timedelta(days=400))
    assert (decision.verdict, decision.wake_at) == (Verdict.WAIT, None)


def test_a_timed_pause_resumes_and_the_step_comes_no_earlier_than_its_end() -> None:
    until = MONDAY + timedelta(days=10)
    paused = enrolment(status=EnrolmentStatus.PAUSED, paused_until=until, pause_reason="ooo")
    assert run(paused, now=until - timedelta(minutes=1)).wake_at == until
    decision = run(paused, now=until)
    assert decision.resumed
    assert decision.verdict is Verdict.DRAFT
    assert decision.step.due_at == until
    active = resumed(paused)
    assert (active.status, active.not_before, active.paused_until) == (
        EnrolmentStatus.ACTIVE,
        until,
        None,
    )


def test_the_re_engagement_step_is_due_at_enrolment() -> None:
    silent = MONDAY - timedelta(days=40)
    v = replace(view(), activities=(sent_touch(silent),))
    e = enrolment(cadence="re_engagement", enrolled_at=MONDAY)
    decision = run(e, v, now=MONDAY, cadence=RE_ENGAGEMENT_CADENCE)
    assert decision.verdict is Verdict.DRAFT
    assert (decision.step.number, decision.step.angle) == (1, "re_engagement")


def test_ended_enrolments_decide_nothing() -> None:
    ended = enrolment(status=EnrolmentStatus.STOPPED, end_reason=EndReason.REPLIED)
    assert run(ended).verdict is Verdict.ENDED


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        run(enrolment(), now=MONDAY.replace(tzinfo=None))


# --------------------------------------------------------------------------- settle


@pytest.mark.parametrize(
    ("status", "next_index", "touches", "not_before"),
    [
        ("pending", 0, 0, None),
        ("approved", 0, 0, None),
        ("sent", 1, 1, None),
        ("dismissed", 1, 0, None),
        ("snoozed", 0, 0, MONDAY),
        ("withdrawn", 0, 0, MONDAY),
    ],
)
def test_settle_folds_the_pending_drafts_fate_in(
    status: str, next_index: int, touches: int, not_before: datetime | None
) -> None:
    waiting = enrolment(pending_draft_id=7)
    after = settle(waiting, PendingOutcome(status, MONDAY, "value"), MONDAY)
    assert (after.next_index, after.touches, after.not_before) == (next_index, touches, not_before)
    if status == "dismissed":
        assert (after.last_touch_at, after.angles) == (MONDAY, ())
    if status == "sent":
        assert (after.last_touch_at, after.angles, after.pending_draft_id) == (
            MONDAY,
            ("value",),
            None,
        )


# --------------------------------------------------------------------------- playbook


@pytest.mark.parametrize(
    ("intent", "resume_on", "event"),
    [
        ("interested", None, ReplyEvent.POSITIVE),
        ("meeting_request", None, ReplyEvent.POSITIVE),
        ("not_now", None, ReplyEvent.NOT_NOW),
        ("not_now", date(2027, 1, 1), ReplyEvent.AMBIGUOUS),
        ("other", None, ReplyEvent.AMBIGUOUS),
        ("objection", None, ReplyEvent.OBJECTION),
        ("wrong_person", None, ReplyEvent.REFERRAL),
        ("out_of_office", None, ReplyEvent.OUT_OF_OFFICE),
        ("bounce", None, ReplyEvent.BOUNCE),
        ("opt_out", None, ReplyEvent.OPT_OUT),
        ("something_new", None, ReplyEvent.AMBIGUOUS),
    ],
)
def test_reply_events(intent: str, resume_on: date | None, event: ReplyEvent) -> None:
    assert reply_event(intent, resume_on) is event


def test_every_classifier_intent_has_a_deliberate_event() -> None:
    from triggers.reading import Intent

    for intent in Intent:
        if intent is not Intent.OTHER:
            assert reply_event(intent.value) is not ReplyEvent.AMBIGUOUS or intent.value == (
                "not_now"
            ), intent


JORDAN = contact(alt_emails=())
RECEIVED = MONDAY + timedelta(days=4)


def plan(
    intent: str,
    e: Enrolment | None = None,
    who: Contact = JORDAN,
    config: CadenceConfig = CONFIG,
    suppressions: dict[str, str] | None = None,
    **facts: Any,
) -> Any:
    values: dict[str, Any] = {
        "intent": intent,
        "sentiment": "neutral",
        "received_at": RECEIVED,
        "from_address": "jordan@globex.example",
    }
    return plan_reply(
        config,
        DEFAULT_CADENCE,
        e or enrolment(touches=1, next_index=1, angles=("value",), pending_draft_id=9),
        who,
        ReplyFacts(**(values | facts)),
        suppressions or {},
        "Europe/Berlin",
        WINDOW,
        RECEIVED + timedelta(minutes=5),
    )


@pytest.mark.parametrize("intent", ["interested", "meeting_request", "objection", "question"])
def test_positive_replies_and_objections_stop_and_hand_off(intent: str) -> None:
    result = plan(intent)
    assert (result.action, result.handoff, result.withdraw_pending) == (Action.STOP, True, True)
    after = result.enrolment
    assert (after.status, after.end_reason) == (EnrolmentStatus.STOPPED, EndReason.REPLIED)
    assert (after.replied_at, after.replied_step, after.touches_before_reply) == (RECEIVED, 2, 2)
    assert after.reply_intent == intent


def test_not_now_pauses_and_asks_the_owner_to_confirm_a_date() -> None:
    result = plan("not_now")
    after = result.enrolment
    assert (after.status, after.awaiting_owner, after.paused_until) == (
        EnrolmentStatus.PAUSED,
        True,
        None,
    )
    assert result.handoff
    assert result.question.kind is QuestionKind.CONFIRM_RESUME
    assert result.question.choices == (Choice.PAUSE_UNTIL, Choice.STOP)
    assert result.question.proposed_until == date(2026, 12, 6)  # 30 days on
    assert "confirm when it should pick up again" in result.question.text


def test_an_ambiguous_reply_asks_one_question_with_three_answers() -> None:
    result = plan("not_now", resume_on=date(2027, 1, 1))
    assert result.event is ReplyEvent.AMBIGUOUS
    assert result.question.kind is QuestionKind.PAUSE_KEEP_STOP
    assert result.question.choices == (Choice.PAUSE_UNTIL, Choice.KEEP_RUNNING, Choice.STOP)
    assert result.question.proposed_until == date(2027, 1, 1)
    assert "Fri 1 Jan 2027" in result.question.text


def test_out_of_office_pauses_until_after_the_return_date() -> None:
    result = plan("out_of_office", resume_on=date(2026, 11, 12))
    after = result.enrolment
    assert not result.handoff
    assert (after.status, after.awaiting_owner, after.pause_reason) == (
        EnrolmentStatus.PAUSED,
        False,
        "out_of_office",
    )
    assert after.paused_until == datetime(2026, 11, 12, 23, 0, tzinfo=UTC)  # Fri, Berlin
    assert after.acknowledged_until == RECEIVED  # an auto-reply needs no decision
    assert after.replied_at is None  # not a reply for the metrics


def test_out_of_office_never_overrides_a_pause_waiting_for_a_person() -> None:
    waiting = enrolment(status=EnrolmentStatus.PAUSED, awaiting_owner=True, pause_reason="not_now")
    result = plan("out_of_office", waiting)
    assert result.action is Action.NONE
    assert result.enrolment.awaiting_owner


def test_hard_bounce_switches_to_the_alternate_address() -> None:
    jordan = contact(alt_emails=("j.lee@globex-mail.example",))
    result = plan("bounce", who=jordan, failed_address="jordan@globex.example")
    assert result.suppress == (("jordan@globex.example", "hard_bounce"),)
    assert result.enrolment.to_address == "j.lee@globex-mail.example"
    assert result.enrolment.status is EnrolmentStatus.ACTIVE
    assert not result.mark_bounced


def test_hard_bounce_without_an_alternate_stops_and_suppresses() -> None:
    result = plan("bounce", failed_address="jordan@globex.example")
    assert result.suppress == (("jordan@globex.example", "hard_bounce"),)
    assert result.mark_bounced
    assert result.enrolment.end_reason is EndReason.BOUNCED


def test_a_stale_address_is_the_owners_call() -> None:
    result = plan("bounce", failed_address="jordan@globex.example", stale=True)
    assert result.action is Action.ASK_OWNER
    assert result.question.kind is QuestionKind.STALE_ADDRESS
    assert result.enrolment.awaiting_owner
    assert looks_stale("Jordan is no longer with Globex; please contact sam@globex.example")
    assert not looks_stale("I am out of the office until Monday")


def test_a_soft_bounce_changes_nothing() -> None:
    result = plan("bounce", hard_bounce=False)
    assert result.action is Action.NONE
    assert result.suppress == ()


def test_opt_out_stops_marks_do_not_contact_and_confirms_once() -> None:
    result = plan("opt_out")
    assert (result.action, result.opt_out_address, result.confirmation) == (
        Action.STOP,
        "jordan@globex.example",
        True,
    )
    assert result.enrolment.end_reason is EndReason.OPT_OUT
    assert result.enrolment.confirmation_pending
    quiet = CadenceConfig(playbook=Playbook(confirm_opt_out=False))
    assert not plan("opt_out", config=quiet).confirmation


def test_a_colleague_who_opts_out_stops_the_contact_without_opting_them_out() -> None:
    result = plan("opt_out", from_address="sam@globex.example", from_contact=False)
    assert result.enrolment.end_reason is EndReason.REPLIED
    assert result.opt_out_address == "sam@globex.example"
    assert not result.confirmation


def test_the_playbook_is_configurable() -> None:
    config = CadenceConfig(
        playbook=Playbook(
            actions={ReplyEvent.POSITIVE: Action.ASK_OWNER, ReplyEvent.OUT_OF_OFFICE: Action.STOP}
        )
    )
    positive = plan("interested", config=config)
    assert positive.question.kind is QuestionKind.PAUSE_KEEP_STOP
    assert positive.enrolment.awaiting_owner
    assert plan("out_of_office", config=config).enrolment.status is EnrolmentStatus.STOPPED


@pytest.mark.parametrize(
    ("choice", "status", "paused_until"),
    [
        (Choice.KEEP_RUNNING, EnrolmentStatus.ACTIVE, None),
        (Choice.PAUSE_UNTIL, EnrolmentStatus.PAUSED, MONDAY + timedelta(days=30)),
        (Choice.STOP, EnrolmentStatus.STOPPED, None),
    ],
)
def test_answers(choice: Choice, status: EnrolmentStatus, paused_until: datetime | None) -> None:
    waiting = plan("not_now", resume_on=date(2027, 1, 1)).enrolment
    until = MONDAY + timedelta(days=30) if choice is Choice.PAUSE_UNTIL else None
    after = apply_answer(waiting, choice, RECEIVED + timedelta(hours=2), until=until)
    assert (after.status, after.paused_until, after.awaiting_owner) == (status, paused_until, False)
    assert after.acknowledged_until == RECEIVED


def test_pause_until_needs_a_future_date() -> None:
    waiting = plan("not_now").enrolment
    with pytest.raises(ValueError, match="after today"):
        apply_answer(waiting, Choice.PAUSE_UNTIL, RECEIVED, until=RECEIVED)


# --------------------------------------------------------------------------- auto-enrolment


def auto(views: list[DealView], enrolments: list[Enrolment], **rules: Any) -> list[Any]:
    config = CadenceConfig(enrol=EnrolRules(**rules))
    return auto_enrolments(views, enrolments, config, {}, MONDAY)


def test_no_automatic_enrolment_unless_configured() -> None:
    assert auto([view()], []) == []


def test_enrolment_by_stage_once_per_stage_entry() -> None:
    [found] = auto([view()], [], stages={"proposal": "default"})
    assert (found.contact_id, found.cadence, found.via) == ("c1", "default", "stage")
    again = enrolment(status=EnrolmentStatus.STOPPED, enrolled_at=MONDAY - timedelta(days=1))
    assert auto([view()], [again], stages={"proposal": "default"}) == []
    live = enrolment(deal_id="d9")
    assert auto([view()], [live], stages={"proposal": "default"}) == []  # one cadence a time


def test_enrolment_of_inbound_leads_and_silent_contacts() -> None:
    inbound = view(source=DealSource.INBOUND)
    [lead] = auto([inbound], [], inbound_leads="default")
    assert lead.via == "inbound_lead"
    silent = replace(view(), activities=(sent_touch(MONDAY - timedelta(days=31)),))
    [cold] = auto([silent], [], silent="re_engagement")
    assert (cold.cadence, cold.via, cold.why) == ("re_engagement", "silent", "silent for 31 days")
    assert auto([view()], [], silent="re_engagement") == []  # not silent long enough


def test_never_auto_enrol_when_the_ball_is_in_our_court_or_after_an_opt_out() -> None:
    answered = view(reply(MONDAY - timedelta(hours=1)))
    assert auto([answered], [], stages={"proposal": "default"}) == []
    opted = enrolment(status=EnrolmentStatus.STOPPED, end_reason=EndReason.OPT_OUT)
    opted = replace(opted, enrolled_at=MONDAY - timedelta(days=90), deal_id="d0")
    assert auto([view()], [opted], stages={"proposal": "default"}) == []


# --------------------------------------------------------------------------- drafts


@pytest.mark.parametrize(
    ("body", "lines"),
    [
        ("Hi Jordan,\n\nOne line.\n\nTwo line.\n\nBest,\nMaya", 2),
        ("Hi Jordan,\n\nOne.\nTwo.\nThree.\nFour.\n\nBest,\nMaya", 4),
        ("One line only.", 1),
        ("Hello there,\nOne.\nCheers", 1),
    ],
)
def test_content_lines_leave_out_greeting_and_sign_off(body: str, lines: int) -> None:
    assert content_lines(body, sign_off="Best,", signature="Maya") == lines


def test_the_social_proof_template_is_under_four_lines() -> None:
    from prompts.base import DraftContext
    from prompts.drafter import TemplateDrafter

    v = view()
    result = TemplateDrafter().draft(
        DraftContext(v, v.contacts[0], None, "social_proof", "why", (), MONDAY)
    )
    assert content_lines(result.body, sign_off="Best,", signature="Maya") <= 3


# --------------------------------------------------------------------------- properties

_START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
ONE_IN_FOUR = st.sampled_from([False, False, False, True])


@st.composite
def states(draw: st.DrawFn) -> tuple[Enrolment, DealView, datetime, str | None]:
    touches = draw(st.integers(0, 3))
    next_index = draw(st.sampled_from([touches, touches, min(3, touches + 1)]))
    offsets = sorted(draw(st.lists(st.integers(0, 30 * 24), min_size=touches, max_size=touches)))
    sends = [_START + timedelta(hours=h) for h in offsets]
    angles = tuple(draw(st.sampled_from(ANGLES)) for _ in range(touches))
    paused = draw(ONE_IN_FOUR)
    e = enrolment(
        enrolled_at=_START - timedelta(days=1),
        status=EnrolmentStatus.PAUSED if paused else EnrolmentStatus.ACTIVE,
        touches=touches,
        next_index=next_index,
        last_touch_at=sends[-1] if sends else None,
        angles=angles,
        pending_draft_id=5 if draw(ONE_IN_FOUR) else None,
        paused_until=(
            _START + timedelta(hours=draw(st.integers(0, 40 * 24)))
            if paused and draw(st.booleans())
            else None
        ),
        awaiting_owner=paused and draw(st.booleans()),
        not_before=_START + timedelta(days=draw(st.integers(0, 30))) if draw(ONE_IN_FOUR) else None,
    )
    extra: list[Activity] = []
    if draw(ONE_IN_FOUR):
        extra.append(reply(_START + timedelta(hours=draw(st.integers(-48, 40 * 24)))))
    v = replace(view(), activities=(PROPOSAL, *(sent_touch(at) for at in sends), *extra))
    base = sends[-1] if sends else _START
    now = base + timedelta(hours=draw(st.integers(0, 25 * 24)), minutes=draw(st.integers(0, 59)))
    previous = draw(st.sampled_from([None, *ANGLES]))
    return e, v, now, previous


@settings(max_examples=200, deadline=None)
@given(states())
def test_a_drafted_step_keeps_every_invariant(
    state: tuple[Enrolment, DealView, datetime, str | None],
) -> None:
    e, v, now, previous = state
    decision = decide(
        DEFAULT_CADENCE, e, CadenceFacts(view=v, previous_angle=previous), now, WINDOW
    )
    if decision.verdict is not Verdict.DRAFT:
        return
    step = decision.step
    assert step is not None
    assert e.pending_draft_id is None  # never N+1 while N awaits approval
    if e.status is EnrolmentStatus.PAUSED:
        assert not e.awaiting_owner  # never auto-resumed without a person
        assert e.paused_until is not None
        assert e.paused_until <= now
        assert step.due_at >= e.paused_until
    outbound = (ActivityKind.PROPOSAL_SENT, ActivityKind.QUOTE_SENT)
    touches = [
        a.at
        for a in v.activities
        if a.at <= now and (a.kind in outbound or a.direction is Direction.OUT)
    ]
    gap = DEFAULT_CADENCE.steps[step.index].days
    assert step.due_at <= now
    assert all(step.due_at >= t + timedelta(days=gap) - timedelta(hours=1) for t in touches)
    assert step.number <= DEFAULT_CADENCE.max_touches  # never more than max_touches
    last = e.angles[-1] if e.angles else previous
    assert step.angle != last  # never the same angle twice in a row
    assert not any(a.is_inbound_email and a.at > e.enrolled_at for a in v.activities)
    assert step.send_at >= now
    assert in_window(step.send_at, step.zone, WINDOW)
    if e.not_before is not None:
        assert step.due_at >= e.not_before
