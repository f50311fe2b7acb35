"""Evaluation of whole deals: the global rules, priority, history, explain, output shapes and
the incremental evaluator."""

from __future__ import annotations

import copy
import pickle
from dataclasses import replace
from datetime import datetime, timedelta

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
    outbound,
    pipeline,
    proposal,
    utc,
    view,
)
from triggers.config import EvaluationConfig, RuleName, RulesConfig, StageStaleConfig
from triggers.evaluate import (
    Blocker,
    DealHistory,
    Due,
    IncrementalEvaluator,
    build_views,
    dues_to_json,
    evaluate,
    evaluate_deal,
    explain_deal,
    format_utc,
    next_change_at,
)
from triggers.model import ContactStatus, DealSource, DealStatus
from triggers.rules import RuleStatus

CONFIG = EvaluationConfig()
ENTERED = utc("2026-11-10 15:00")
PROPOSAL_DUE = TUE + 72 * H  # Fri 20 Nov 14:00 UTC, 15:00 in Berlin: inside the window


def test_the_issue_example_is_due_with_everything_a_user_sees() -> None:
    due = evaluate_deal(view(proposal(TUE)), PROPOSAL_DUE, CONFIG)
    assert due == Due(
        deal_id="d1",
        contact_id="c1",
        rule=RuleName.PROPOSAL_NO_REPLY,
        anchor=TUE,
        due_at=PROPOSAL_DUE,
        send_at=PROPOSAL_DUE,
        reason="Proposal sent Tue 17 Nov, no reply in 3 days",
        evidence=(
            "Proposal sent: Tue 17 Nov 2026 15:00 CET",
            "Proposal: “Proposal: website rebuild”",
            "No message from them on record",
        ),
        zone="Europe/Berlin",
    )


def test_send_at_waits_for_the_recipients_window() -> None:
    saturday = utc("2026-11-21 10:00")
    due = evaluate_deal(view(proposal(TUE)), saturday, CONFIG)
    assert due is not None
    assert (due.due_at, due.send_at) == (PROPOSAL_DUE, utc("2026-11-23 08:00"))  # Mon 09:00 CET
    new_york = view(proposal(TUE), contacts=(contact(timezone=None),))  # falls back to the owner
    due = evaluate_deal(new_york, saturday, CONFIG)
    assert due is not None
    assert (due.zone, due.send_at) == ("America/New_York", utc("2026-11-23 14:00"))


def test_evidence_quotes_their_last_message_and_the_call_notes() -> None:
    deal_view = view(
        inbound(MON - D, body="Could you send\n a proposal?"),
        outbound(MON - D + H),
        call(MON, body="Budget approved.   Wants a phased plan."),
    )
    due = evaluate_deal(deal_view, MON + 25 * H, CONFIG)
    assert due is not None
    assert due.rule is RuleName.CALL_NO_NEXT_STEP
    assert due.reason == "Call on Mon 16 Nov, no next step in 25 hours"
    assert due.evidence == (
        "Call: Mon 16 Nov 2026 11:00 CET",
        "Call notes: “Budget approved. Wants a phased plan.”",
        "Their last message (Sun 15 Nov 2026 11:00 CET): “Could you send a proposal?”",
    )


def test_a_due_is_the_same_whether_or_not_its_evidence_was_read() -> None:
    # Evidence is written on first read: comparing, hashing, copying or pickling a due before
    # that must give what a due written at once gives.
    deal_view = view(inbound(MON - D, body="Send it over?"), outbound(MON - D + H), call(MON))
    pipe = pipeline(deal_view)
    read = evaluate(pipe, MON + 25 * H, CONFIG)[0]
    lines = read.evidence
    assert lines == (
        "Call: Mon 16 Nov 2026 11:00 CET",
        "Call notes: “Discussed scope; they want a phased plan.”",
        "Their last message (Sun 15 Nov 2026 11:00 CET): “Send it over?”",
    )
    assert read.evidence is lines  # written once
    written = Due(**{name: getattr(read, name) for name in Due.__match_args__})
    for unread in (
        evaluate(pipe, MON + 25 * H, CONFIG)[0],
        pickle.loads(pickle.dumps(evaluate(pipe, MON + 25 * H, CONFIG)[0])),  # noqa: S301
        copy.copy(evaluate(pipe, MON + 25 * H, CONFIG)[0]),
        replace(evaluate(pipe, MON + 25 * H, CONFIG)[0], reason=read.reason),
    ):
        assert hash(unread) == hash(written)
        assert unread == written
        assert repr(unread) == repr(written)
    with pytest.raises(AttributeError, match="'Due' object has no attribute 'evidences'"):
        getattr(read, "evidences")  # noqa: B009 (a typo still fails loudly)


# --------------------------------------------------------------------------- global rules


def test_only_open_deals_are_watched() -> None:
    for status in DealStatus:
        deal_view = view(proposal(TUE), status=status)
        due = evaluate_deal(deal_view, FRI + D, CONFIG)
        assert (due is not None) is (status is DealStatus.OPEN)
    explanation = explain_deal(view(proposal(TUE), status=DealStatus.WON), FRI + D, CONFIG)
    assert [(v.blocker, v.text) for v in explanation.verdicts] == [
        (Blocker.NOT_WATCHED, "The deal is won; only open deals are watched")
    ]


def test_an_alternate_address_keeps_a_contact_reachable() -> None:
    deal_view = view(proposal(TUE), contacts=(contact(),))
    due = evaluate_deal(deal_view, FRI + D, CONFIG, suppressed=frozenset({JORDAN}))
    assert due is not None
    assert due.contact_id == "c1"


@pytest.mark.parametrize(
    ("contacts", "suppressed", "why"),
    [
        ((contact(status=ContactStatus.DO_NOT_CONTACT),), frozenset(),
         "Jordan Lee (c1) status is do_not_contact"),
        ((contact(status=ContactStatus.BOUNCED),), frozenset(), "Jordan Lee (c1) status is bounced"),
        ((contact(status=ContactStatus.DECEASED),), frozenset(),
         "Jordan Lee (c1) status is deceased"),
        ((contact(email=None, alt_emails=()),), frozenset(), "Jordan Lee (c1) has no email address"),
        ((contact(),), frozenset({JORDAN, JORDAN_ALT}), f"Jordan Lee (c1) {JORDAN} is suppressed"),
        ((contact(alt_emails=()),), frozenset({JORDAN}), f"Jordan Lee (c1) {JORDAN} is suppressed"),
        ((contact(),), frozenset({"globex.example", "globex-mail.example"}),
         "Jordan Lee (c1) globex.example is suppressed"),
    ],
)  # fmt: skip
def test_no_primary_contact_means_never_due(
    contacts: tuple[object, ...], suppressed: frozenset[str], why: str
) -> None:
    deal_view = view(proposal(TUE), contacts=contacts)  # type: ignore[arg-type]
    assert evaluate_deal(deal_view, FRI + D, CONFIG, suppressed=suppressed) is None
    assert evaluate(pipeline(deal_view), FRI + D, CONFIG, suppressed=suppressed) == []
    explanation = explain_deal(deal_view, FRI + D, CONFIG, suppressed=suppressed)
    assert explanation.contact_id is None
    assert [(v.blocker, v.text) for v in explanation.verdicts] == [
        (Blocker.NO_PRIMARY_CONTACT, f"No contact can be written to: {why}")
    ]


def test_the_primary_contact_is_the_first_reachable_one() -> None:
    bounced = contact(status=ContactStatus.BOUNCED)
    second = contact(id="c2", name="Sam Ortiz", email="sam@globex.example", alt_emails=())
    deal_view = view(proposal(TUE), contacts=(bounced, second), contact_ids=("c9", "c1", "c2"))
    due = evaluate_deal(deal_view, FRI + D, CONFIG)
    assert due is not None
    assert due.contact_id == "c2"
    [both] = evaluate(pipeline(deal_view), FRI + D, CONFIG)
    assert both.contact_id == "c2"
    lonely = view(proposal(TUE), contacts=(bounced,), contact_ids=("c9", "c1"))
    explanation = explain_deal(lonely, FRI + D, CONFIG)
    assert explanation.verdicts[0].text == (
        "No contact can be written to: c9 is not in the pipeline; Jordan Lee (c1) status is bounced"
    )


def test_the_ball_in_our_court_stops_every_rule() -> None:
    # The deal has been quiet for 8 days, but the last word was theirs: we owe a reply.
    deal_view = view(call(ENTERED + D), inbound(ENTERED + 2 * D, body="Any news?"))
    now = ENTERED + 10 * D
    assert evaluate_deal(deal_view, now, CONFIG) is None
    explanation = explain_deal(deal_view, now, CONFIG)
    assert [(v.blocker, v.text) for v in explanation.verdicts] == [
        (
            Blocker.BALL_IN_OUR_COURT,
            "Their message of Thu 12 Nov 2026 16:00 CET is the latest: "
            "we owe a reply, not a follow-up",
        )
    ]
    stale = next(o for o in explanation.outcomes if o.rule is RuleName.STAGE_STALE)
    assert stale.status is RuleStatus.DUE  # the rule itself would be due
    assert next_change_at(deal_view, now, CONFIG) is None  # only new data changes this
    # Once we answered, the deal can go stale again.
    answered = view(*deal_view.activities, outbound(ENTERED + 3 * D))
    due = evaluate_deal(answered, now, CONFIG)
    assert due is not None
    assert due.rule is RuleName.STAGE_STALE


def test_a_meeting_scheduled_after_now_means_a_next_step_exists() -> None:
    deal_view = view(meeting(TUE - 2 * D, TUE + 5 * D), proposal(TUE))
    now = PROPOSAL_DUE + H
    assert evaluate_deal(deal_view, now, CONFIG) is None
    explanation = explain_deal(deal_view, now, CONFIG)
    assert [(v.blocker, v.text) for v in explanation.verdicts] == [
        (Blocker.MEETING_SCHEDULED, "A meeting is scheduled for Sun 22 Nov 2026 15:00 CET: "
         "a next step exists")
    ]  # fmt: skip
    assert explanation.next_change_at == TUE + 5 * D
    assert next_change_at(deal_view, now, CONFIG) == TUE + 5 * D
    after = evaluate_deal(deal_view, TUE + 5 * D, CONFIG)
    assert after is not None
    assert after.rule is RuleName.PROPOSAL_NO_REPLY


# --------------------------------------------------------------------------- priority

LEAD = {"source": DealSource.INBOUND}
PRIORITY = [
    ("quote beats proposal and stage", [proposal(TUE)], FRI + D,
     {"quote_expires_at": FRI}, RuleName.QUOTE_EXPIRED,
     {RuleName.PROPOSAL_NO_REPLY, RuleName.STAGE_STALE}),
    ("call beats proposal", [proposal(TUE), call(TUE + H)], TUE + 80 * H, {},
     RuleName.CALL_NO_NEXT_STEP, {RuleName.PROPOSAL_NO_REPLY}),
    ("proposal beats lead", [inbound(MON), proposal(TUE)], TUE + 80 * H, LEAD,
     RuleName.PROPOSAL_NO_REPLY, {RuleName.LEAD_NO_REPLY}),
    ("lead beats stage", [inbound(MON), outbound(TUE)], TUE + 8 * D, LEAD,
     RuleName.LEAD_NO_REPLY, {RuleName.STAGE_STALE}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("activities", "now", "deal", "winner", "also_due"),
    [p[1:] for p in PRIORITY],
    ids=[p[0] for p in PRIORITY],
)
def test_priority_order(
    activities: list[object],
    now: datetime,
    deal: dict[str, object],
    winner: RuleName,
    also_due: set[RuleName],
) -> None:
    stages = StageStaleConfig(after=7 * D, stages={"proposal": 2 * D})
    config = EvaluationConfig(rules=RulesConfig(stage_stale=stages))
    deal_view = view(*activities, **deal)  # type: ignore[arg-type]
    explanation = explain_deal(deal_view, now, config)
    due_rules = [o.rule for o in explanation.outcomes if o.status is RuleStatus.DUE]
    assert due_rules[0] is winner  # outcomes come in priority order
    assert also_due <= set(due_rules)
    due = evaluate_deal(deal_view, now, config)
    assert due is not None
    assert due.rule is winner
    assert explanation.due == due


# --------------------------------------------------------------------------- history


def test_a_pending_draft_holds_everything() -> None:
    history = DealHistory(pending=True)
    deal_view = view(proposal(TUE))
    assert evaluate_deal(deal_view, FRI + D, CONFIG, history=history) is None
    assert evaluate(pipeline(deal_view), FRI + D, CONFIG, history={"d1": history}) == []
    explanation = explain_deal(deal_view, FRI + D, CONFIG, history=history)
    assert [v.blocker for v in explanation.verdicts] == [Blocker.PENDING_DRAFT]


def test_the_same_rule_never_fires_twice_for_the_same_anchor() -> None:
    deal_view = view(proposal(TUE))
    history = DealHistory(fired=frozenset({(RuleName.PROPOSAL_NO_REPLY, TUE)}))
    now = PROPOSAL_DUE + H
    assert evaluate_deal(deal_view, now, CONFIG, history=history) is None
    explanation = explain_deal(deal_view, now, CONFIG, history=history)
    outcome = next(o for o in explanation.outcomes if o.rule is RuleName.PROPOSAL_NO_REPLY)
    assert (outcome.status, outcome.reason) == (
        RuleStatus.CANCELLED,
        "Already drafted once for the proposal of Tue 17 Nov",
    )
    # The next rule in line is still reported when due.
    later = TUE + 7 * D
    due = evaluate_deal(deal_view, later, CONFIG, history=history)
    assert due is not None
    assert (due.rule, due.anchor) == (RuleName.STAGE_STALE, TUE)
    # A new proposal is a new anchor.
    again = view(proposal(TUE), proposal(TUE + 4 * D))
    due = evaluate_deal(again, TUE + 7 * D, CONFIG, history=history)
    assert due is not None
    assert (due.rule, due.anchor) == (RuleName.PROPOSAL_NO_REPLY, TUE + 4 * D)


def test_a_dismissed_stage_stale_rearms_one_window_after_the_dismissal() -> None:
    deal_view = view()
    first = evaluate_deal(deal_view, ENTERED + 7 * D, CONFIG)
    assert first is not None
    assert (first.rule, first.anchor) == (RuleName.STAGE_STALE, ENTERED)
    dismissed = ENTERED + 8 * D
    history = DealHistory(
        fired=frozenset({(first.rule, first.anchor)}), stage_stale_dismissed_at=dismissed
    )
    assert evaluate_deal(deal_view, dismissed + 7 * D - S, CONFIG, history=history) is None
    assert next_change_at(deal_view, dismissed, CONFIG, history=history) == dismissed + 7 * D
    again = evaluate_deal(deal_view, dismissed + 7 * D, CONFIG, history=history)
    assert again is not None
    assert (again.rule, again.anchor, again.due_at) == (
        RuleName.STAGE_STALE,
        dismissed,
        dismissed + 7 * D,
    )
    assert again.reason == (
        "In proposal since Tue 10 Nov, still no activity 7 days after a dismissed nudge"
    )


def test_a_paused_deal_is_due_again_when_the_pause_ends() -> None:
    deal_view = view(proposal(TUE))
    until = FRI + 2 * D
    history = DealHistory(paused_until=until)
    assert evaluate_deal(deal_view, until - S, CONFIG, history=history) is None
    assert next_change_at(deal_view, FRI + D, CONFIG, history=history) == until
    explanation = explain_deal(deal_view, FRI + D, CONFIG, history=history)
    assert [(v.blocker, v.text) for v in explanation.verdicts] == [
        (Blocker.PAUSED, "Paused until Sun 22 Nov 2026 15:00 CET")
    ]
    due = evaluate_deal(deal_view, until, CONFIG, history=history)
    assert due is not None
    assert due.rule is RuleName.PROPOSAL_NO_REPLY


def test_a_sent_draft_is_a_touch() -> None:
    deal_view = view(inbound(MON), outbound(TUE), source=DealSource.INBOUND)
    due = evaluate_deal(deal_view, TUE + 2 * D, CONFIG)
    assert due is not None
    history = DealHistory(fired=frozenset({(due.rule, due.anchor)}))
    sent = view(*deal_view.activities, outbound(TUE + 2 * D + H), source=DealSource.INBOUND)
    assert evaluate_deal(sent, TUE + 3 * D, CONFIG, history=history) is None
    follow_up = evaluate_deal(sent, TUE + 4 * D + H, CONFIG, history=history)
    assert follow_up is not None
    assert (follow_up.rule, follow_up.anchor) == (RuleName.LEAD_NO_REPLY, TUE + 2 * D + H)


# --------------------------------------------------------------------------- explain


def test_explain_lists_every_rule_with_its_dates() -> None:
    deal_view = view(proposal(TUE), inbound(TUE + D, body="Thanks, we will review it."))
    explanation = explain_deal(deal_view, FRI + D, CONFIG)
    assert explanation.zone == "Europe/Berlin"
    assert explanation.contact_id == "c1"
    assert [(o.rule, o.status, o.reason) for o in explanation.outcomes] == [
        (RuleName.QUOTE_EXPIRED, RuleStatus.OFF, "No quote expiry date"),
        (RuleName.CALL_NO_NEXT_STEP, RuleStatus.OFF, "No call logged"),
        (RuleName.PROPOSAL_NO_REPLY, RuleStatus.CANCELLED,
         "They wrote back Wed 18 Nov, after the proposal of Tue 17 Nov"),
        (RuleName.LEAD_NO_REPLY, RuleStatus.OFF, "Not an inbound lead (source: outbound)"),
        (RuleName.STAGE_STALE, RuleStatus.NOT_DUE,
         "In proposal since Tue 10 Nov; stale on Wed 25 Nov after 7 days without activity"),
    ]  # fmt: skip
    proposal_outcome = explanation.outcomes[2]
    assert proposal_outcome.dates == (("proposal sent", TUE), ("inbound", TUE + D))
    assert explanation.due is None
    assert [v.blocker for v in explanation.verdicts] == [Blocker.BALL_IN_OUR_COURT]


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        evaluate(pipeline(view()), datetime(2026, 11, 20, 12), CONFIG)


# --------------------------------------------------------------------------- output


def two_deals() -> list[Due]:
    views = [
        view(proposal(TUE), id="d2"),
        view(proposal(TUE), id="d1"),
        view(proposal(TUE - D), id="d3"),
        view(proposal(TUE), id="d4", status=DealStatus.LOST),
    ]
    return evaluate(pipeline(*views), FRI + D, CONFIG)


def test_evaluate_sorts_by_due_at_then_deal_id() -> None:
    assert [d.deal_id for d in two_deals()] == ["d3", "d1", "d2"]


def test_json_shape() -> None:
    rows = dues_to_json(reversed(two_deals()))
    assert rows[0] == {
        "deal_id": "d3",
        "contact_id": "c1",
        "rule": "proposal_no_reply",
        "due_at": "2026-11-19T14:00:00Z",
        "send_at": "2026-11-23T08:00:00Z",
        "reason": "Proposal sent Mon 16 Nov, no reply in 5 days",
    }
    assert [r["deal_id"] for r in rows] == ["d3", "d1", "d2"]
    assert format_utc(datetime.fromisoformat("2026-11-20T09:30:00-05:00")) == (
        "2026-11-20T14:30:00Z"
    )


def test_evaluate_matches_evaluate_deal_on_each_view() -> None:
    views = [
        view(proposal(TUE), id="a"),
        view(call(MON), inbound(MON + H), id="b"),
        view(inbound(MON), outbound(TUE), id="c", source=DealSource.INBOUND),
        view(id="d", quote_expires_at=FRI),
        view(meeting(MON, FRI + 3 * D), id="e"),
        view(proposal(TUE), id="f", contact_ids=("c1", "c2"),
             contacts=(contact(), contact(id="c2", email="b@x.example", alt_emails=()))),
    ]  # fmt: skip
    p = pipeline(*views)
    for now in (TUE, FRI, FRI + D, FRI + 10 * D):
        expected = sorted(
            (d for v in build_views(p) if (d := evaluate_deal(v, now, CONFIG)) is not None),
            key=lambda d: (d.due_at, d.deal_id),
        )
        assert evaluate(p, now, CONFIG) == expected


# --------------------------------------------------------------------------- incremental


def test_incremental_evaluation_follows_changes_and_time() -> None:
    views = {
        "d1": view(proposal(TUE), id="d1"),
        "d2": view(call(MON), id="d2"),
        "d3": view(id="d3", stage_entered_at=TUE),
    }
    evaluator = IncrementalEvaluator(CONFIG)
    evaluator.load(pipeline(*views.values()))
    first = evaluator.advance(TUE + H)
    assert first.evaluated == 3
    assert [d.deal_id for d in first.due] == ["d2"]
    assert evaluator.next_change_at("d1") == PROPOSAL_DUE

    assert evaluator.advance(TUE + 2 * H).evaluated == 0  # nothing changed, nothing came due

    step = evaluator.advance(PROPOSAL_DUE)  # d1's due time passes: only d1 is looked at
    assert step.evaluated == 1
    assert [(d.deal_id, d.rule) for d in step.due] == [("d1", RuleName.PROPOSAL_NO_REPLY)]

    # Jordan replies on d1: only d1 is re-evaluated, and it is no longer due.
    evaluator.update([view(*views["d1"].activities, inbound(PROPOSAL_DUE + H), id="d1")])
    step = evaluator.advance(PROPOSAL_DUE + 2 * H)
    assert (step.evaluated, step.cleared) == (1, ("d1",))

    # A draft for d2 goes pending, then is dismissed (fired).
    evaluator.update(history={"d2": DealHistory(pending=True)})
    step = evaluator.advance(PROPOSAL_DUE + 3 * H)
    assert (step.evaluated, step.cleared) == (1, ("d2",))
    fired = DealHistory(fired=frozenset({(RuleName.CALL_NO_NEXT_STEP, MON)}))
    evaluator.update(history={"d2": fired})
    assert evaluator.advance(PROPOSAL_DUE + 4 * H).due == ()

    # d3 goes stale a week after entering its stage.
    step = evaluator.advance(TUE + 7 * D)
    assert [(d.deal_id, d.rule) for d in step.due] == [
        ("d2", RuleName.STAGE_STALE),
        ("d3", RuleName.STAGE_STALE),
    ]

    # Suppressing Jordan's domains re-evaluates only the deals Jordan is on.
    evaluator.set_suppressed(frozenset({"globex.example", "globex-mail.example"}))
    step = evaluator.advance(TUE + 7 * D + H)
    assert step.evaluated == 3
    assert set(step.cleared) == {"d2", "d3"}
    evaluator.set_suppressed(frozenset())

    evaluator.update(removed=["d3"])
    step = evaluator.advance(TUE + 7 * D + 2 * H)
    assert len(evaluator) == 2
    assert [d.deal_id for d in evaluator.due()] == ["d2"]

    with pytest.raises(ValueError, match="forward"):
        evaluator.advance(TUE)


def test_incremental_agrees_with_a_full_evaluation() -> None:
    views = [
        view(proposal(TUE), id="a"),
        view(call(MON), id="b"),
        view(inbound(MON), outbound(TUE), id="c", source=DealSource.INBOUND),
        view(id="d", quote_expires_at=FRI),
        view(meeting(MON, FRI + 3 * D), proposal(MON - D), id="e"),
        view(id="f", stage="negotiation"),
    ]
    stages = StageStaleConfig(after=7 * D, stages={"negotiation": 10 * D})
    config = EvaluationConfig(rules=RulesConfig(stage_stale=stages))
    evaluator = IncrementalEvaluator(config)
    evaluator.load(pipeline(*views))
    now = MON
    while now < MON + 30 * D:
        evaluator.advance(now)
        full = evaluate(pipeline(*views), now, config)
        assert [(d.deal_id, d.rule, d.anchor, d.due_at) for d in evaluator.due()] == [
            (d.deal_id, d.rule, d.anchor, d.due_at) for d in full
        ]
        now += timedelta(hours=7)


def test_cycle_reports_a_changed_rule_as_new() -> None:
    # d1 is stale; later its quote expires: the higher-priority rule replaces the due.
    deal_view = view(quote_expires_at=ENTERED + 9 * D)
    evaluator = IncrementalEvaluator(CONFIG)
    evaluator.update([deal_view])
    first = evaluator.advance(ENTERED + 8 * D)
    assert [d.rule for d in first.due] == [RuleName.STAGE_STALE]
    assert evaluator.next_change_at("d1") == ENTERED + 9 * D
    second = evaluator.advance(ENTERED + 9 * D)
    assert [d.rule for d in second.due] == [RuleName.QUOTE_EXPIRED]


def test_due_is_a_value() -> None:
    due = evaluate_deal(view(proposal(TUE)), FRI + D, CONFIG)
    assert due is not None
    assert replace(due) == due
    assert hash(due) == hash(replace(due))
