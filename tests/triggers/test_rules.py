"""The five rules as a table: every row of issue 3 and every "not due" cell.

Each case is one deal as of one moment; the assertion is what `followup explain` shows for
that rule: status, due time and reason (dates in Jordan's zone, Europe/Berlin).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.triggers._build import (
    FRI,
    JORDAN,
    JORDAN_ALT,
    MON,
    TUE,
    D,
    H,
    S,
    call,
    contact,
    inbound,
    meeting,
    note,
    outbound,
    proposal,
    quote,
    utc,
    view,
)
from triggers.config import (
    EvaluationConfig,
    LeadNoReplyConfig,
    RuleConfig,
    RuleName,
    RulesConfig,
    StageStaleConfig,
)
from triggers.evaluate import explain_deal
from triggers.model import Activity, DealSource
from triggers.rules import (
    RULE_FUNCTIONS,
    RuleStatus,
    call_no_next_step,
    lead_no_reply,
    proposal_no_reply,
    quote_expired,
    stage_stale,
)

DUE, NOT_DUE, OFF, CANCELLED = (
    RuleStatus.DUE,
    RuleStatus.NOT_DUE,
    RuleStatus.OFF,
    RuleStatus.CANCELLED,
)
ENTERED = utc("2026-11-10 15:00")  # Tue 10 Nov, when the deal entered its stage


@dataclass(frozen=True)
class Case:
    id: str
    activities: tuple[Activity, ...]
    now: datetime
    status: RuleStatus
    due_at: datetime | None
    reason: str
    deal: dict[str, Any] = field(default_factory=dict)
    rules: RulesConfig = field(default_factory=RulesConfig)


def case(
    id: str,
    activities: list[Activity],
    now: datetime,
    status: RuleStatus,
    due_at: datetime | None,
    reason: str,
    **extra: Any,
) -> Case:
    return Case(id, tuple(activities), now, status, due_at, reason, **extra)


PROPOSAL = [
    case("due at exactly 72 h", [proposal(TUE)], TUE + 72 * H, DUE, TUE + 72 * H,
         "Proposal sent Tue 17 Nov, no reply in 3 days"),
    case("one second before 72 h", [proposal(TUE)], TUE + 72 * H - S, NOT_DUE, TUE + 72 * H,
         "Proposal sent Tue 17 Nov; due Fri 20 Nov if no reply comes"),
    case("a later touch moves it", [proposal(TUE), outbound(TUE + 48 * H)], TUE + 72 * H,
         NOT_DUE, TUE + 120 * H,
         "Proposal sent Tue 17 Nov, followed up Thu 19 Nov; due Sun 22 Nov if no reply comes"),
    case("due after the later touch", [proposal(TUE), outbound(TUE + 48 * H)], TUE + 130 * H,
         DUE, TUE + 120 * H, "Proposal sent Tue 17 Nov, followed up Thu 19 Nov, no reply in 3 days"),
    case("inbound after the proposal", [proposal(TUE), inbound(TUE + H)], TUE + 80 * H,
         CANCELLED, None, "They wrote back Tue 17 Nov, after the proposal of Tue 17 Nov"),
    case("inbound before the proposal", [inbound(TUE - D), proposal(TUE)], TUE + 80 * H, DUE,
         TUE + 72 * H, "Proposal sent Tue 17 Nov, no reply in 3 days"),
    case("inbound at the very instant is not after", [proposal(TUE), inbound(TUE)],
         TUE + 72 * H, DUE, TUE + 72 * H, "Proposal sent Tue 17 Nov, no reply in 3 days"),
    case("meeting booked after the proposal", [proposal(TUE), meeting(TUE + 2 * H, TUE + D)],
         TUE + 80 * H, CANCELLED, None,
         "A meeting was booked Tue 17 Nov, after the proposal of Tue 17 Nov"),
    case("meeting booked before the proposal", [meeting(TUE - 3 * D, TUE - D), proposal(TUE)],
         TUE + 72 * H, DUE, TUE + 72 * H, "Proposal sent Tue 17 Nov, no reply in 3 days"),
    case("the latest proposal anchors", [proposal(MON - 7 * D), proposal(TUE)], TUE + 72 * H,
         DUE, TUE + 72 * H, "Proposal sent Tue 17 Nov, no reply in 3 days"),
    case("a stranger's email is not inbound",
         [proposal(TUE), inbound(TUE + H, from_address="someone@else.example")], TUE + 72 * H,
         DUE, TUE + 72 * H, "Proposal sent Tue 17 Nov, no reply in 3 days"),
    case("inbound from an alternative address, any case",
         [proposal(TUE), inbound(TUE + H, from_address=JORDAN_ALT.upper())], TUE + 80 * H,
         CANCELLED, None, "They wrote back Tue 17 Nov, after the proposal of Tue 17 Nov"),
    case("no from: a deal contact's contact_id counts",
         [proposal(TUE), inbound(TUE + H, from_address=None)], TUE + 80 * H, CANCELLED, None,
         "They wrote back Tue 17 Nov, after the proposal of Tue 17 Nov"),
    case("no from and another contact_id is not inbound",
         [proposal(TUE), inbound(TUE + H, from_address=None, contact_id="c9")], TUE + 72 * H,
         DUE, TUE + 72 * H, "Proposal sent Tue 17 Nov, no reply in 3 days"),
    case("an email to a stranger is not a touch",
         [proposal(TUE), outbound(TUE + H, to_addresses=("cfo@other.example",))], TUE + 72 * H,
         DUE, TUE + 72 * H, "Proposal sent Tue 17 Nov, no reply in 3 days"),
    case("an activity after now has not happened yet", [proposal(TUE), inbound(TUE + 73 * H)],
         TUE + 72 * H, DUE, TUE + 72 * H, "Proposal sent Tue 17 Nov, no reply in 3 days"),
    case("a configured `after`", [proposal(TUE)], TUE + 5 * D, DUE, TUE + 5 * D,
         "Proposal sent Tue 17 Nov, no reply in 5 days",
         rules=RulesConfig(proposal_no_reply=RuleConfig(after=timedelta(days=5)))),
    case("no proposal: off", [outbound(TUE)], TUE + 5 * D, OFF, None, "No proposal sent"),
    case("turned off", [proposal(TUE)], TUE + 5 * D, OFF, None, "Turned off in followup.toml",
         rules=RulesConfig(proposal_no_reply=RuleConfig(after=72 * H, enabled=False))),
]  # fmt: skip

CALL = [
    case("due at exactly 24 h", [call(MON)], MON + 24 * H, DUE, MON + 24 * H,
         "Call on Mon 16 Nov, no next step in 24 hours"),
    case("one second before 24 h", [call(MON)], MON + 24 * H - S, NOT_DUE, MON + 24 * H,
         "Call on Mon 16 Nov; due Tue 17 Nov if no next step is set"),
    case("meeting booked after the call", [call(MON), meeting(MON + 2 * H, MON + 3 * D)],
         MON + 30 * H, CANCELLED, None,
         "A meeting was booked Mon 16 Nov, after the call of Mon 16 Nov"),
    case("meeting booked before, held after the call",
         [meeting(MON - 2 * D, MON + 3 * D), call(MON)], MON + 30 * H, CANCELLED, None,
         "A meeting is set for Thu 19 Nov, after the call of Mon 16 Nov"),
    case("meeting booked and held before the call", [meeting(MON - 3 * D, MON - 2 * D), call(MON)],
         MON + 30 * H, DUE, MON + 24 * H, "Call on Mon 16 Nov, no next step in 30 hours"),
    case("the recap went out", [call(MON), outbound(MON + H)], MON + 30 * H, CANCELLED, None,
         "The recap went out Mon 16 Nov, after the call of Mon 16 Nov"),
    case("an email without `to` to a deal contact is a touch",
         [call(MON), outbound(MON + H, to_addresses=())], MON + 30 * H, CANCELLED, None,
         "The recap went out Mon 16 Nov, after the call of Mon 16 Nov"),
    case("a proposal after the call is a touch", [call(MON), proposal(MON + 3 * H)], MON + 30 * H,
         CANCELLED, None, "The recap went out Mon 16 Nov, after the call of Mon 16 Nov"),
    case("an email to a stranger is no recap",
         [call(MON), outbound(MON + H, to_addresses=("x@other.example",))], MON + 30 * H, DUE,
         MON + 24 * H, "Call on Mon 16 Nov, no next step in 30 hours"),
    case("inbound after the call", [call(MON), inbound(MON + 2 * H)], MON + 30 * H, CANCELLED,
         None, "They wrote Mon 16 Nov, after the call of Mon 16 Nov"),
    case("the latest call anchors", [call(MON - D), call(MON)], MON + 24 * H, DUE, MON + 24 * H,
         "Call on Mon 16 Nov, no next step in 24 hours"),
    case("no call: off", [proposal(MON)], MON + 5 * D, OFF, None, "No call logged"),
]  # fmt: skip

STAGE = [
    case("due one window after entering", [], ENTERED + 7 * D, DUE, ENTERED + 7 * D,
         "In proposal since Tue 10 Nov, no activity in 7 days"),
    case("one second before", [], ENTERED + 7 * D - S, NOT_DUE, ENTERED + 7 * D,
         "In proposal since Tue 10 Nov; stale on Tue 17 Nov after 7 days without activity"),
    case("per-stage window, not yet", [], ENTERED + 7 * D, NOT_DUE, ENTERED + 10 * D,
         "In negotiation since Tue 10 Nov; stale on Fri 20 Nov after 10 days without activity",
         deal={"stage": "negotiation"}),
    case("per-stage window, due", [], ENTERED + 10 * D, DUE, ENTERED + 10 * D,
         "In negotiation since Tue 10 Nov, no activity in 10 days", deal={"stage": "negotiation"}),
    case("a stage name in another case finds its window", [], ENTERED + 10 * D, DUE,
         ENTERED + 10 * D, "In Negotiation since Tue 10 Nov, no activity in 10 days",
         deal={"stage": "Negotiation"}),
    case("measured from the latest activity", [call(ENTERED + 2 * D)], ENTERED + 9 * D, DUE,
         ENTERED + 9 * D, "In proposal since Tue 10 Nov, no activity since Thu 12 Nov (7 days)"),
    case("an inbound email is activity", [inbound(ENTERED + 2 * D)], ENTERED + 8 * D, NOT_DUE,
         ENTERED + 9 * D,
         "In proposal since Tue 10 Nov; stale on Thu 19 Nov after 7 days without activity"),
    case("a note is not activity", [note(ENTERED + 2 * D)], ENTERED + 7 * D, DUE,
         ENTERED + 7 * D, "In proposal since Tue 10 Nov, no activity in 7 days"),
    case("activity before the stage began", [call(ENTERED - 3 * D)], ENTERED + 7 * D, DUE,
         ENTERED + 7 * D, "In proposal since Tue 10 Nov, no activity in 7 days"),
    case("turned off", [], ENTERED + 30 * D, OFF, None, "Turned off in followup.toml",
         rules=RulesConfig(stage_stale=StageStaleConfig(after=7 * D, enabled=False))),
]  # fmt: skip

QUOTE = [
    case("due when the quote expires", [], FRI, DUE, FRI,
         "Quote expired Fri 20 Nov, no word from them since", deal={"quote_expires_at": FRI}),
    case("one second before", [], FRI - S, NOT_DUE, FRI, "Quote expires Fri 20 Nov",
         deal={"quote_expires_at": FRI}),
    case("inbound after expiry", [inbound(FRI + H)], FRI + 2 * H, CANCELLED, None,
         "They wrote Fri 20 Nov, after the quote expired Fri 20 Nov",
         deal={"quote_expires_at": FRI}),
    case("final outreach done", [outbound(FRI + H)], FRI + 2 * H, CANCELLED, None,
         "Final outreach went out Fri 20 Nov, after the quote expired Fri 20 Nov",
         deal={"quote_expires_at": FRI}),
    case("a new quote sent after expiry is a touch", [quote(FRI + H)], FRI + 2 * H, CANCELLED,
         None, "Final outreach went out Fri 20 Nov, after the quote expired Fri 20 Nov",
         deal={"quote_expires_at": FRI}),
    case("a touch before expiry does not count", [outbound(FRI - D)], FRI + H, DUE, FRI,
         "Quote expired Fri 20 Nov, no word from them since", deal={"quote_expires_at": FRI}),
    case("no expiry date: off", [], FRI, OFF, None, "No quote expiry date"),
]  # fmt: skip

LEAD = {"source": DealSource.INBOUND}
THREE = [inbound(MON), outbound(TUE), outbound(TUE + 2 * D), outbound(TUE + 4 * D),
         outbound(TUE + 6 * D)]  # fmt: skip
LEAD_CASES = [
    case("outbound deals: off", [inbound(MON), outbound(TUE)], TUE + 3 * D, OFF, None,
         "Not an inbound lead (source: outbound)"),
    case("not answered yet", [inbound(MON)], MON + 5 * D, NOT_DUE, None,
         "Lead wrote Mon 16 Nov; we have not answered yet", deal=LEAD),
    case("due 48 h after our answer", [inbound(MON), outbound(TUE)], TUE + 48 * H, DUE,
         TUE + 48 * H, "Lead wrote Mon 16 Nov, our answer of Tue 17 Nov unanswered for 2 days",
         deal=LEAD),
    case("one second before 48 h", [inbound(MON), outbound(TUE)], TUE + 48 * H - S, NOT_DUE,
         TUE + 48 * H,
         "Lead wrote Mon 16 Nov, our answer went out Tue 17 Nov; due Thu 19 Nov if no reply comes",
         deal=LEAD),
    case("the lead replied again",
         [inbound(MON), outbound(TUE), inbound(TUE + H), outbound(TUE + 2 * H)], TUE + 5 * D,
         CANCELLED, None, "The lead replied Tue 17 Nov, after our answer of Tue 17 Nov", deal=LEAD),
    case("a follow-up moves it", [inbound(MON), outbound(TUE), outbound(TUE + 2 * D)],
         TUE + 4 * D, DUE, TUE + 4 * D,
         "Lead wrote Mon 16 Nov, our follow-up 1 of Thu 19 Nov unanswered for 2 days",
         deal=LEAD),
    case("three follow-ups went unanswered", THREE, TUE + 9 * D, CANCELLED, None,
         "3 follow-ups after our answer of Tue 17 Nov went unanswered; stopped", deal=LEAD),
    case("max_followups = 1", [inbound(MON), outbound(TUE), outbound(TUE + 2 * D)],
         TUE + 5 * D, CANCELLED, None,
         "1 follow-up after our answer of Tue 17 Nov went unanswered; stopped", deal=LEAD,
         rules=RulesConfig(lead_no_reply=LeadNoReplyConfig(after=48 * H, max_followups=1))),
    case("no inbound on record: our first touch is the answer", [outbound(TUE)], TUE + 50 * H,
         DUE, TUE + 48 * H, "Inbound lead, our answer of Tue 17 Nov unanswered for 2 days",
         deal=LEAD),
    case("a touch before the first logged inbound answered an unlogged first message",
         [outbound(MON - D), inbound(MON), outbound(TUE)], TUE + 48 * H, CANCELLED, None,
         "The lead replied Mon 16 Nov, after our answer of Sun 15 Nov", deal=LEAD),
]  # fmt: skip

TABLE = [
    *[(RuleName.PROPOSAL_NO_REPLY, c) for c in PROPOSAL],
    *[(RuleName.CALL_NO_NEXT_STEP, c) for c in CALL],
    *[(RuleName.STAGE_STALE, c) for c in STAGE],
    *[(RuleName.QUOTE_EXPIRED, c) for c in QUOTE],
    *[(RuleName.LEAD_NO_REPLY, c) for c in LEAD_CASES],
]


def negotiation_config(rules: RulesConfig) -> EvaluationConfig:
    stages = {"negotiation": 10 * D}
    if rules.stage_stale.stages or not rules.stage_stale.enabled:
        return EvaluationConfig(rules=rules)
    stale = StageStaleConfig(after=rules.stage_stale.after, stages=stages)
    return EvaluationConfig(
        rules=RulesConfig(
            proposal_no_reply=rules.proposal_no_reply,
            call_no_next_step=rules.call_no_next_step,
            stage_stale=stale,
            quote_expired=rules.quote_expired,
            lead_no_reply=rules.lead_no_reply,
        )
    )


@pytest.mark.parametrize(("rule", "row"), TABLE, ids=[f"{r}: {c.id}" for r, c in TABLE])
def test_rule_table(rule: RuleName, row: Case) -> None:
    deal_view = view(*row.activities, **row.deal)
    config = negotiation_config(row.rules)
    explanation = explain_deal(deal_view, row.now, config)
    outcome = next(o for o in explanation.outcomes if o.rule is rule)
    assert (outcome.status, outcome.due_at, outcome.reason) == (
        row.status,
        row.due_at,
        row.reason,
    )
    if outcome.due_at is not None:
        assert outcome.anchor is not None
        assert outcome.due_at >= outcome.anchor


@pytest.mark.parametrize(("rule", "row"), TABLE, ids=[f"{r}: {c.id}" for r, c in TABLE])
def test_public_rule_functions_agree_with_explain(rule: RuleName, row: Case) -> None:
    deal_view = view(*row.activities, **row.deal)
    config = negotiation_config(row.rules)
    outcome = RULE_FUNCTIONS[rule](
        deal_view, config.rules.for_rule(rule), row.now, zone="Europe/Berlin"
    )
    assert (outcome.status, outcome.due_at, outcome.reason) == (
        row.status,
        row.due_at,
        row.reason,
    )


def test_rule_functions_by_name() -> None:
    deal_view = view(proposal(TUE), call(MON), quote_expires_at=FRI, source=DealSource.INBOUND)
    now = FRI + 3 * D
    assert proposal_no_reply(deal_view, RuleConfig(after=72 * H), now).status is DUE
    assert call_no_next_step(deal_view, RuleConfig(after=24 * H), now).status is CANCELLED
    assert stage_stale(deal_view, StageStaleConfig(after=7 * D), now).status is NOT_DUE
    assert quote_expired(deal_view, RuleConfig(after=timedelta(0)), now).status is DUE
    lead = lead_no_reply(deal_view, LeadNoReplyConfig(after=48 * H), now)
    assert lead.status is DUE
    assert lead.reason == "Inbound lead, our answer of Tue 17 Nov unanswered for 6 days"


def test_reason_dates_are_in_the_recipients_zone() -> None:
    # 23:30 UTC on Tuesday is already Wednesday in Berlin, still Tuesday in New York.
    late = utc("2026-11-17 23:30")
    berlin = explain_deal(view(proposal(late)), late + 72 * H, EvaluationConfig())
    new_york = explain_deal(
        view(proposal(late), contacts=(contact(timezone="America/New_York"),)),
        late + 72 * H,
        EvaluationConfig(),
    )
    by_rule = {o.rule: o for o in berlin.outcomes}
    assert by_rule[RuleName.PROPOSAL_NO_REPLY].reason.startswith("Proposal sent Wed 18 Nov")
    by_rule = {o.rule: o for o in new_york.outcomes}
    assert by_rule[RuleName.PROPOSAL_NO_REPLY].reason.startswith("Proposal sent Tue 17 Nov")


def test_stage_stale_rearms_one_window_after_dismissal() -> None:
    dismissed = ENTERED + 8 * D
    deal_view = view()
    before = stage_stale(deal_view, StageStaleConfig(after=7 * D), dismissed + 7 * D - S,
                         dismissed_at=dismissed)  # fmt: skip
    after = stage_stale(deal_view, StageStaleConfig(after=7 * D), dismissed + 7 * D,
                        dismissed_at=dismissed)  # fmt: skip
    assert (before.status, before.due_at) == (NOT_DUE, dismissed + 7 * D)
    assert (after.status, after.anchor) == (DUE, dismissed)
    assert (
        after.reason
        == "In proposal since Tue 10 Nov, still no activity 7 days after a dismissed nudge"
    )


def test_the_order_activities_come_in_never_changes_what_explain_shows() -> None:
    # The scan matches an email's addresses only when the email would change a fact, so the
    # order a CRM lists activities in is what could break it: every order must read the same.
    stranger = "someone@elsewhere.example"
    history = [
        inbound(MON, from_address=JORDAN.upper()),  # the lead writes first (any letter case)
        inbound(MON - 2 * D, from_address=stranger),  # not from a deal contact: no inbound
        outbound(MON + 2 * H, to_addresses=(stranger,)),  # not to a deal contact: no touch
        outbound(TUE, to_addresses=("Someone@x.example", JORDAN_ALT.upper())),  # our answer
        outbound(TUE + 2 * D),  # follow-up 1
        outbound(FRI + D, to_addresses=(stranger,)),
        inbound(FRI + 2 * D, from_address=stranger),  # the latest activity, not theirs
        call(MON + H),
        note(FRI + 3 * D),
    ]
    now = FRI + 3 * D
    config = EvaluationConfig()
    shown = explain_deal(view(*history, source=DealSource.INBOUND), now, config)
    reasons = {o.rule: (o.status, o.reason) for o in shown.outcomes}
    assert reasons[RuleName.LEAD_NO_REPLY] == (
        DUE,
        "Lead wrote Mon 16 Nov, our follow-up 1 of Thu 19 Nov unanswered for 4 days",
    )
    assert reasons[RuleName.CALL_NO_NEXT_STEP] == (
        CANCELLED,
        "The recap went out Thu 19 Nov, after the call of Mon 16 Nov",
    )
    assert reasons[RuleName.STAGE_STALE] == (
        NOT_DUE,
        "In proposal since Tue 10 Nov; stale on Sun 29 Nov after 7 days without activity",
    )
    rng = random.Random(20261120)
    for _ in range(40):
        shuffled = rng.sample(history, len(history))
        assert explain_deal(view(*shuffled, source=DealSource.INBOUND), now, config) == shown
