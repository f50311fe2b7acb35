"""Properties that hold for every deal, moment and configuration (hypothesis).

- adding an inbound message never makes a rule due that was not;
- a due time never precedes its anchor;
- a send time is always inside the window, never before the earliest allowed instant, and the
  first such instant;
- the one-pass `evaluate` over a pipeline decides exactly as `evaluate_deal` on each view;
- the incremental evaluator agrees with a full evaluation at every step.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.triggers._build import JORDAN, JORDAN_ALT, contact, owner, pipeline
from triggers.config import (
    EvaluationConfig,
    LeadNoReplyConfig,
    RuleConfig,
    RulesConfig,
    SendWindowConfig,
    StageStaleConfig,
)
from triggers.evaluate import (
    IncrementalEvaluator,
    build_views,
    evaluate,
    evaluate_deal,
    explain_deal,
)
from triggers.model import (
    Activity,
    ActivityKind,
    Contact,
    Deal,
    DealSource,
    DealStatus,
    DealView,
    Direction,
)
from triggers.rules import RuleStatus
from triggers.windows import in_window, next_send_time

PROFILE = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
START = datetime(2026, 1, 1, tzinfo=UTC)
YEAR_MINUTES = 366 * 24 * 60
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # a 30-minute daylight-saving shift
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/Sao_Paulo",
]

# A year of instants, at whole minutes (with some seconds), crossing every DST change of 2026.
instants = st.builds(
    lambda minutes, seconds: START + timedelta(minutes=minutes, seconds=seconds),
    st.integers(0, YEAR_MINUTES),
    st.sampled_from([0, 0, 0, 1, 59]),
)
# Activities cluster within a few weeks so that rules actually interact.
BASE = datetime(2026, 10, 20, tzinfo=UTC)
near = st.builds(lambda hours: BASE + timedelta(hours=hours), st.integers(0, 40 * 24))
SENDERS = [JORDAN, JORDAN_ALT.upper(), "sam@globex.example", "stranger@else.example", None]
RECIPIENTS = [(JORDAN,), (JORDAN_ALT,), ("stranger@else.example",), ()]


@st.composite
def activities(draw: st.DrawFn, deal_id: str = "d1") -> Activity:
    kind = draw(st.sampled_from(list(ActivityKind)))
    at = draw(near)
    extra: dict[str, object] = {}
    if kind is ActivityKind.EMAIL:
        direction = draw(st.sampled_from([Direction.IN, Direction.OUT]))
        extra["direction"] = direction
        if direction is Direction.IN:
            extra["from_address"] = draw(st.sampled_from(SENDERS))
        else:
            extra["to_addresses"] = draw(st.sampled_from(RECIPIENTS))
    if kind is ActivityKind.MEETING:
        extra["scheduled_for"] = draw(st.none() | st.builds(lambda h: at + timedelta(hours=h),
                                                             st.integers(1, 30 * 24)))  # fmt: skip
    return Activity(
        id=f"a{draw(st.integers(0, 10**9))}",
        deal_id=deal_id,
        kind=kind,
        at=at,
        contact_id=draw(st.sampled_from(["c1", "c2", "c9", None])),
        **extra,  # type: ignore[arg-type]
    )


def contacts() -> tuple[Contact, ...]:
    sam = contact(id="c2", name="Sam Ortiz", email="sam@globex.example", alt_emails=())
    return (contact(), sam)


@st.composite
def deal_views(draw: st.DrawFn, deal_id: str = "d1") -> DealView:
    deal = Deal(
        id=deal_id,
        title="Globex",
        contact_ids=draw(st.sampled_from([("c1",), ("c1", "c2"), ("c2", "c1")])),
        owner_id="u1",
        stage=draw(st.sampled_from(["proposal", "negotiation", "lead"])),
        stage_entered_at=draw(near),
        status=draw(st.sampled_from([DealStatus.OPEN, DealStatus.OPEN, DealStatus.WON])),
        source=draw(st.sampled_from(list(DealSource))),
        quote_expires_at=draw(st.none() | near),
    )
    acts = draw(st.lists(activities(deal_id), max_size=12))
    return DealView(deal, contacts(), owner(), tuple(acts))


def hours(low: int, high: int) -> st.SearchStrategy[timedelta]:
    return st.builds(lambda h: timedelta(hours=h), st.integers(low, high))


configs = st.builds(
    lambda p, c, s, q, lead, n, neg: EvaluationConfig(
        rules=RulesConfig(
            proposal_no_reply=RuleConfig(after=p),
            call_no_next_step=RuleConfig(after=c),
            stage_stale=StageStaleConfig(after=s, stages={"negotiation": neg}),
            quote_expired=RuleConfig(after=q),
            lead_no_reply=LeadNoReplyConfig(after=lead, max_followups=n),
        )
    ),
    hours(0, 200),
    hours(0, 72),
    hours(0, 400),
    hours(0, 48),
    hours(0, 120),
    st.integers(0, 4),
    hours(0, 400),
)
nows = st.builds(lambda h: BASE + timedelta(hours=h), st.integers(0, 60 * 24))


@PROFILE
@given(
    deal_views(), nows, configs, near, st.sampled_from([JORDAN, JORDAN_ALT, "sam@globex.example"])
)
def test_an_inbound_never_makes_a_rule_due(
    view: DealView, now: datetime, config: EvaluationConfig, at: datetime, sender: str
) -> None:
    reply = Activity("reply", "d1", ActivityKind.EMAIL, at, direction=Direction.IN,
                     from_address=sender)  # fmt: skip
    with_reply = DealView(view.deal, view.contacts, view.owner, (*view.activities, reply))
    before = explain_deal(view, now, config)
    after = explain_deal(with_reply, now, config)
    for old, new in zip(before.outcomes, after.outcomes, strict=True):
        if old.status is not RuleStatus.DUE:
            assert new.status is not RuleStatus.DUE, (old, new)
    if evaluate_deal(view, now, config) is None:
        assert evaluate_deal(with_reply, now, config) is None


@PROFILE
@given(deal_views(), nows, configs)
def test_due_at_never_precedes_its_anchor(
    view: DealView, now: datetime, config: EvaluationConfig
) -> None:
    explanation = explain_deal(view, now, config)
    for outcome in explanation.outcomes:
        if outcome.due_at is not None:
            assert outcome.anchor is not None
            assert outcome.due_at >= outcome.anchor
        if outcome.status is RuleStatus.DUE:
            assert outcome.due_at is not None
            assert outcome.due_at <= now
    due = explanation.due
    if due is not None:
        assert due.anchor <= due.due_at <= now <= due.send_at
        assert in_window(due.send_at, due.zone, config.send_window, view.deal.owner_id)
    if explanation.next_change_at is not None:
        assert explanation.next_change_at > now


windows = st.builds(
    lambda days, start, length, holidays, away: SendWindowConfig(
        days=frozenset(days),
        start=start,
        end=(datetime.combine(date(2026, 1, 1), start) + length).time(),
        holiday_dates=frozenset(holidays),
        owner_away={"u1": frozenset(away)},
    ),
    st.sets(st.integers(0, 6), min_size=1),
    st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45])),
    st.builds(lambda m: timedelta(minutes=m), st.integers(15, 24 * 60 - 15)),
    st.lists(st.dates(date(2026, 1, 1), date(2027, 1, 31)), max_size=20),
    st.lists(st.dates(date(2026, 1, 1), date(2027, 1, 31)), max_size=20),
)


@PROFILE
@given(instants, st.sampled_from(ZONES), windows, st.sampled_from(["u1", "u2", None]))
def test_send_at_is_the_first_instant_inside_the_window(
    earliest: datetime, zone: str, window: SendWindowConfig, owner_id: str | None
) -> None:
    sent = next_send_time(earliest, zone, window, owner_id)
    assert sent >= earliest
    assert in_window(sent, zone, window, owner_id)
    if sent > earliest:  # nothing earlier would do: the instant before is outside
        assert not in_window(sent - timedelta(seconds=1), zone, window, owner_id)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(deal_views(), min_size=1, max_size=6), nows, configs)
def test_evaluate_decides_as_evaluate_deal(
    views: list[DealView], now: datetime, config: EvaluationConfig
) -> None:
    renamed = [_renamed(v, f"d{i}") for i, v in enumerate(views)]
    p = pipeline(*renamed)
    one_by_one = [d for v in build_views(p) if (d := evaluate_deal(v, now, config)) is not None]
    one_by_one.sort(key=lambda d: (d.due_at, d.deal_id))
    assert evaluate(p, now, config) == one_by_one


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(deal_views(), min_size=1, max_size=4), configs,
       st.lists(st.integers(1, 72), min_size=1, max_size=12))  # fmt: skip
def test_incremental_agrees_with_full_evaluation(
    views: list[DealView], config: EvaluationConfig, steps: list[int]
) -> None:
    renamed = [_renamed(v, f"d{i}") for i, v in enumerate(views)]
    p = pipeline(*renamed)
    evaluator = IncrementalEvaluator(config)
    evaluator.load(p)
    now = BASE
    for step in steps:
        now += timedelta(hours=step)
        evaluator.advance(now)
        expected = [(d.deal_id, d.rule, d.anchor, d.due_at) for d in evaluate(p, now, config)]
        assert [(d.deal_id, d.rule, d.anchor, d.due_at) for d in evaluator.due()] == expected


def _renamed(view: DealView, deal_id: str) -> DealView:
    return DealView(
        replace(view.deal, id=deal_id),
        view.contacts,
        view.owner,
        tuple(replace(a, deal_id=deal_id) for a in view.activities),
    )
