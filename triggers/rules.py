"""The five trigger rules: one deal and a moment in, a decision out.

Vocabulary (DESIGN.md, issue 3):
- **inbound**: an `email` with direction `in` whose `from` is any address of any of the deal's
  contacts; when the email has no `from`, its `contact_id` naming a deal contact counts.
- **touch**: an `email` out whose `to` holds an address of a deal contact (no `to`: its
  `contact_id` names a deal contact), a `proposal_sent`, or a `quote_sent`.
- **activity** (for `stage_stale`): any `email`, `call`, `meeting`, `proposal_sent` or
  `quote_sent` on the deal, whoever it involved.
- Activities dated after `now` have not happened yet as of `now` and are ignored.
- "after" is strict: an inbound at the very instant of the anchor is not after it.
- **meeting booked** after X: a `meeting` whose `at` (booking time) is after X; scheduled for
  after X: its `scheduled_for` is after X.
- `lead_no_reply`'s **first answer** is our first touch on the deal (see
  `DealFacts.first_answer`), so a new inbound can only stop the rule, never start it.

Each rule has a small core (`(status, why, anchor, due_at)` from precomputed `DealFacts`, used
on the hot path) and a public function returning a `RuleOutcome` with the words and dates a
person reads. `RuleOutcome.anchor` identifies "same rule, same anchor" for the history of
fired rules:

| rule | identity anchor |
| --- | --- |
| `proposal_no_reply` | the latest `proposal_sent` (one follow-up per proposal) |
| `call_no_next_step` | the latest `call` |
| `stage_stale` | the start of the quiet spell: max(stage_entered_at, latest activity, dismissal) |
| `quote_expired` | `quote_expires_at` |
| `lead_no_reply` | our latest touch (so up to `max_followups` follow-ups can fire) |

Dates in reasons are written in the recipient's time zone (the zone the send window uses),
passed in as `zone`; the default is UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum

from triggers.config import (
    LeadNoReplyConfig,
    RuleConfig,
    RuleName,
    RulesConfig,
    StageStaleConfig,
)
from triggers.model import (
    Activity,
    ActivityKind,
    Deal,
    DealSource,
    DealView,
    Direction,
)
from triggers.windows import zone_info

__all__ = [
    "RULE_FUNCTIONS",
    "DealFacts",
    "RuleOutcome",
    "RuleStatus",
    "Why",
    "call_no_next_step",
    "day_label",
    "deal_addresses",
    "excerpt",
    "lead_no_reply",
    "proposal_no_reply",
    "quote_expired",
    "scan_activities",
    "span",
    "stage_stale",
    "stage_window",
    "stamp",
    "words",
]


class RuleStatus(StrEnum):
    DUE = "due"
    NOT_DUE = "not due"  # it applies, but its time has not come (or we have not answered yet)
    OFF = "off"  # turned off in the configuration, or nothing to anchor on
    CANCELLED = "cancelled"  # something happened that makes a follow-up wrong


class Why(StrEnum):
    """The case that decided a rule's status; the reason text is written from it."""

    DISABLED = "disabled"
    NO_ANCHOR = "no_anchor"
    NOT_INBOUND_LEAD = "not_inbound_lead"
    NOT_ANSWERED = "not_answered"
    QUIET = "quiet"  # due, or due later if nothing happens
    INBOUND_AFTER = "inbound_after"
    MEETING_BOOKED = "meeting_booked"
    MEETING_SCHEDULED = "meeting_scheduled"
    TOUCH_AFTER = "touch_after"
    MAX_FOLLOWUPS = "max_followups"
    ALREADY_DRAFTED = "already_drafted"  # history: this rule already fired for this anchor


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    rule: RuleName
    status: RuleStatus
    why: Why
    anchor: datetime | None  # identity anchor (see the module docstring), UTC
    due_at: datetime | None  # UTC; None when cancelled or off
    reason: str  # one sentence a founder understands
    dates: tuple[tuple[str, datetime], ...] = ()  # labelled instants that decided it, UTC


# --------------------------------------------------------------------------- facts

_EMAIL = ActivityKind.EMAIL
_CALL = ActivityKind.CALL
_MEETING = ActivityKind.MEETING
_PROPOSAL = ActivityKind.PROPOSAL_SENT
_QUOTE = ActivityKind.QUOTE_SENT
_NOTE = ActivityKind.NOTE
_TASK = ActivityKind.TASK
_IN = Direction.IN
_OUT = Direction.OUT


def deal_addresses(view: DealView) -> frozenset[str]:
    """Every address (lower-cased) of every contact on the deal."""
    found: set[str] = set()
    for contact in view.contacts:
        found.update(contact.addresses)
    return frozenset(found)


class DealFacts:
    """What the rules read about one deal, gathered in a single pass over its activities.

    `DealFacts.of_view(view, now)` scans one deal; `scan_activities` fills many at once from a whole
    pipeline's activities in one pass (the same code: one reading of the vocabulary).
    """

    __slots__ = (
        "activity_at",
        "addresses",
        "call",
        "call_at",
        "contact_ids",
        "deal",
        "first_inbound_at",
        "future_at",
        "inbound",
        "inbound_at",
        "meeting_at",
        "proposal",
        "proposal_at",
        "scheduled_for",
        "touch_at",
        "touch_times",
    )

    def __init__(
        self, deal: Deal, addresses: Collection[str], contact_ids: Collection[str]
    ) -> None:
        """Facts for `deal` before any activity is seen (fill them with `scan_activities`)."""
        self.deal = deal
        self.addresses = addresses  # lower-cased addresses of every deal contact
        self.contact_ids = contact_ids
        self.inbound: Activity | None = None  # latest inbound
        self.inbound_at: datetime | None = None
        # the earliest inbound, kept only for inbound-sourced deals (lead_no_reply words)
        self.first_inbound_at: datetime | None = None
        self.touch_at: datetime | None = None  # latest touch
        # every touch, kept only for inbound-sourced deals (lead_no_reply counts them)
        self.touch_times: list[datetime] | None = [] if deal.source is DealSource.INBOUND else None
        self.proposal: Activity | None = None  # latest proposal_sent
        self.proposal_at: datetime | None = None
        self.call: Activity | None = None  # latest call
        self.call_at: datetime | None = None
        self.activity_at: datetime | None = None  # latest activity of a stage_stale kind
        self.meeting_at: datetime | None = None  # latest meeting booking
        self.scheduled_for: datetime | None = None  # latest time a booked meeting takes place
        self.future_at: datetime | None = None  # earliest activity dated after now

    @classmethod
    def of_view(
        cls, view: DealView, now: datetime, addresses: Collection[str] | None = None
    ) -> DealFacts:
        """The facts of one deal: every activity of the view counts, whatever its deal_id."""
        contacts = view.contacts
        facts = cls(
            view.deal,
            deal_addresses(view) if addresses is None else addresses,
            (contacts[0].id,) if len(contacts) == 1 else frozenset(c.id for c in contacts),
        )
        # Called once per run of equal deal ids: once, for a view built by `build_views`.
        scan_activities(lambda _deal_id: facts, view.activities, now)
        return facts

    @property
    def ball_in_our_court(self) -> bool:
        """The latest message is inbound: we owe a reply, not a follow-up."""
        inbound = self.inbound_at
        if inbound is None:
            return False
        touch = self.touch_at
        return touch is None or inbound > touch

    def first_answer(self) -> datetime | None:
        """Our first answer to an inbound lead (lead_no_reply): our first touch on the deal.

        The lead wrote first (that is what `source = inbound` means), so a touch earlier than
        the first logged inbound answered a first message the CRM did not log (a form, a
        call), and a logged inbound after it is the lead writing again. This reading keeps
        the rule monotone: a new inbound can only stop it, never start it.
        """
        times = self.touch_times
        return min(times) if times else None


def scan_activities(
    facts_for: Callable[[str], DealFacts | None],
    activities: Iterable[Activity],
    now: datetime,
) -> None:
    """Fold `activities` into the facts of their deals (`facts_for(deal_id)`; None: skip).

    This is the hot loop of a full evaluation: one pass, no sorting, no allocation but the
    touch times of inbound-sourced deals.
    """
    email, call_, meeting, proposal, quote = _EMAIL, _CALL, _MEETING, _PROPOSAL, _QUOTE
    inbound, outbound = _IN, _OUT
    note, task = _NOTE, _TASK
    last_id: str | None = None
    f: DealFacts | None = None
    for a in activities:
        kind = a.kind
        if kind is note or kind is task:  # notes and tasks decide nothing
            continue
        deal_id = a.deal_id
        if deal_id != last_id:  # activities often come grouped by deal: skip the lookup
            f = facts_for(deal_id)
            last_id = deal_id
        if f is None:
            continue
        t = a.at
        if t > now:  # not happened yet as of now; it changes the verdict when it does
            future = f.future_at
            if future is None or t < future:
                f.future_at = t
            continue
        if kind is email:
            latest = f.activity_at
            if latest is None or t > latest:
                f.activity_at = t
            # Matching addresses (lower-casing them) costs more than comparing times: match
            # only an email that would change a fact.
            times = f.touch_times  # not None: an inbound-sourced deal (lead_no_reply)
            direction = a.direction
            if direction is inbound:
                latest = f.inbound_at
                later = latest is None or t > latest
                if times is None:  # the first inbound matters to lead_no_reply only
                    earlier = False
                else:
                    latest = f.first_inbound_at
                    earlier = latest is None or t < latest
                if not (later or earlier):
                    continue
                sender = a.from_address
                if sender.lower() in f.addresses if sender else a.contact_id in f.contact_ids:
                    if later:
                        f.inbound_at = t
                        f.inbound = a
                    if earlier:
                        f.first_inbound_at = t
            elif direction is outbound:
                latest = f.touch_at
                later = latest is None or t > latest
                if not later and times is None:
                    continue
                recipients = a.to_addresses
                if recipients:
                    addresses = f.addresses
                    for r in recipients:
                        if r.lower() in addresses:
                            break
                    else:
                        continue
                elif a.contact_id not in f.contact_ids:
                    continue
                if later:
                    f.touch_at = t
                if times is not None:
                    times.append(t)
        elif kind is call_:
            latest = f.activity_at
            if latest is None or t > latest:
                f.activity_at = t
            latest = f.call_at
            if latest is None or t > latest:
                f.call_at = t
                f.call = a
        elif kind is proposal or kind is quote:
            latest = f.activity_at
            if latest is None or t > latest:
                f.activity_at = t
            latest = f.touch_at
            if latest is None or t > latest:
                f.touch_at = t
            times = f.touch_times
            if times is not None:
                times.append(t)
            if kind is proposal:
                latest = f.proposal_at
                if latest is None or t > latest:
                    f.proposal_at = t
                    f.proposal = a
        elif kind is meeting:
            latest = f.activity_at
            if latest is None or t > latest:
                f.activity_at = t
            latest = f.meeting_at
            if latest is None or t > latest:
                f.meeting_at = t
            held = a.scheduled_for
            if held is not None:
                latest = f.scheduled_for
                if latest is None or held > latest:
                    f.scheduled_for = held


# --------------------------------------------------------------------------- cores

Core = tuple[RuleStatus, Why, datetime | None, datetime | None]
_OFF_DISABLED: Core = (RuleStatus.OFF, Why.DISABLED, None, None)
_OFF_NO_ANCHOR: Core = (RuleStatus.OFF, Why.NO_ANCHOR, None, None)


def _after(moment: datetime | None, anchor: datetime) -> bool:
    return moment is not None and moment > anchor


def _quiet(anchor: datetime, due: datetime, now: datetime) -> Core:
    return (RuleStatus.DUE if due <= now else RuleStatus.NOT_DUE, Why.QUIET, anchor, due)


def _proposal_core(
    f: DealFacts, rules: RulesConfig, now: datetime, dismissed_at: datetime | None
) -> Core:
    config = rules.proposal_no_reply
    if not config.enabled:
        return _OFF_DISABLED
    anchor = f.proposal_at
    if anchor is None:
        return _OFF_NO_ANCHOR
    if _after(f.inbound_at, anchor):
        return (RuleStatus.CANCELLED, Why.INBOUND_AFTER, anchor, None)
    if _after(f.meeting_at, anchor):
        return (RuleStatus.CANCELLED, Why.MEETING_BOOKED, anchor, None)
    touch = f.touch_at  # at or after the proposal, which is a touch itself
    base = touch if touch is not None and touch > anchor else anchor
    return _quiet(anchor, base + config.after, now)


def _call_core(
    f: DealFacts, rules: RulesConfig, now: datetime, dismissed_at: datetime | None
) -> Core:
    config = rules.call_no_next_step
    if not config.enabled:
        return _OFF_DISABLED
    anchor = f.call_at
    if anchor is None:
        return _OFF_NO_ANCHOR
    if _after(f.meeting_at, anchor):
        return (RuleStatus.CANCELLED, Why.MEETING_BOOKED, anchor, None)
    if _after(f.scheduled_for, anchor):
        return (RuleStatus.CANCELLED, Why.MEETING_SCHEDULED, anchor, None)
    if _after(f.touch_at, anchor):
        return (RuleStatus.CANCELLED, Why.TOUCH_AFTER, anchor, None)
    if _after(f.inbound_at, anchor):
        return (RuleStatus.CANCELLED, Why.INBOUND_AFTER, anchor, None)
    return _quiet(anchor, anchor + config.after, now)


def stage_window(config: StageStaleConfig, stage: str) -> timedelta:
    """The stage's window: its override (matched exactly, then lower-cased), else `after`."""
    stages = config.stages
    if stages:
        found = stages.get(stage)
        if found is None:
            found = stages.get(stage.lower())
        if found is not None:
            return found
    return config.after


def _quiet_since(f: DealFacts, dismissed_at: datetime | None) -> datetime:
    since = f.deal.stage_entered_at
    if f.activity_at is not None and f.activity_at > since:
        since = f.activity_at
    if dismissed_at is not None and dismissed_at > since:
        since = dismissed_at
    return since


def _stage_core(
    f: DealFacts, rules: RulesConfig, now: datetime, dismissed_at: datetime | None
) -> Core:
    config = rules.stage_stale
    if not config.enabled:
        return _OFF_DISABLED
    since = _quiet_since(f, dismissed_at)
    return _quiet(since, since + stage_window(config, f.deal.stage), now)


def _quote_core(
    f: DealFacts, rules: RulesConfig, now: datetime, dismissed_at: datetime | None
) -> Core:
    config = rules.quote_expired
    if not config.enabled:
        return _OFF_DISABLED
    anchor = f.deal.quote_expires_at
    if anchor is None:
        return _OFF_NO_ANCHOR
    if _after(f.inbound_at, anchor):
        return (RuleStatus.CANCELLED, Why.INBOUND_AFTER, anchor, None)
    if _after(f.touch_at, anchor):
        return (RuleStatus.CANCELLED, Why.TOUCH_AFTER, anchor, None)
    return _quiet(anchor, anchor + config.after, now)


def _lead_core(
    f: DealFacts, rules: RulesConfig, now: datetime, dismissed_at: datetime | None
) -> Core:
    config = rules.lead_no_reply
    if not config.enabled:
        return _OFF_DISABLED
    if f.deal.source is not DealSource.INBOUND:
        return (RuleStatus.OFF, Why.NOT_INBOUND_LEAD, None, None)
    answer = f.first_answer()
    last = f.touch_at
    if answer is None or last is None:
        return (RuleStatus.NOT_DUE, Why.NOT_ANSWERED, f.first_inbound_at, None)
    if _after(f.inbound_at, answer):
        return (RuleStatus.CANCELLED, Why.INBOUND_AFTER, answer, None)
    if _followups(f, answer) >= config.max_followups:
        return (RuleStatus.CANCELLED, Why.MAX_FOLLOWUPS, answer, None)
    return _quiet(last, last + config.after, now)


def _followups(f: DealFacts, answer: datetime) -> int:
    return sum(1 for t in f.touch_times or () if t > answer)


CoreFunction = Callable[[DealFacts, RulesConfig, datetime, datetime | None], Core]

CORES: dict[RuleName, CoreFunction] = {
    RuleName.QUOTE_EXPIRED: _quote_core,
    RuleName.CALL_NO_NEXT_STEP: _call_core,
    RuleName.PROPOSAL_NO_REPLY: _proposal_core,
    RuleName.LEAD_NO_REPLY: _lead_core,
    RuleName.STAGE_STALE: _stage_core,
}
"""Every rule's core, in priority order."""


# --------------------------------------------------------------------------- words


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day_label(moment: datetime, zone: tzinfo = UTC) -> str:
    """`Tue 17 Nov` (English, whatever the locale)."""
    local = moment.astimezone(zone)
    return f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month]}"


def stamp(moment: datetime, zone: tzinfo = UTC) -> str:
    """`Tue 17 Nov 2026 15:00 CET`."""
    local = moment.astimezone(zone)
    return (
        f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month]} {local.year} "
        f"{local.hour:02d}:{local.minute:02d} {local.tzname()}"
    )


def span(delta: timedelta) -> str:
    """A whole, rounded-down duration: `40 minutes`, `30 hours`, `3 days`."""
    seconds = max(0, int(delta.total_seconds()))
    hours = seconds // 3600
    if hours < 1:
        minutes = seconds // 60
        return "1 minute" if minutes == 1 else f"{minutes} minutes"
    if hours < 48:
        return "1 hour" if hours == 1 else f"{hours} hours"
    return f"{hours // 24} days"


def _length(delta: timedelta) -> str:
    """A configured duration in words: `7 days`, `36 hours`, `90 minutes`."""
    minutes = int(delta.total_seconds() // 60)
    for size, unit in ((24 * 60, "day"), (60, "hour")):
        if minutes and minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}" if count == 1 else f"{count} {unit}s"
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def excerpt(text: str | None, limit: int = 140) -> str:
    """One line of at most `limit` characters."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


_ANCHOR_NOUN = {
    RuleName.PROPOSAL_NO_REPLY: "the proposal of",
    RuleName.CALL_NO_NEXT_STEP: "the call of",
    RuleName.STAGE_STALE: "the quiet spell since",
    RuleName.QUOTE_EXPIRED: "the quote expiry of",
    RuleName.LEAD_NO_REPLY: "our message of",
}


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def _dates(*pairs: tuple[str, datetime | None]) -> tuple[tuple[str, datetime], ...]:
    found: list[tuple[str, datetime]] = []
    for label, moment in pairs:
        if moment is not None:
            found.append((label, moment if moment.tzinfo is UTC else moment.astimezone(UTC)))
    return tuple(found)


def describe(
    rule: RuleName,
    core: Core,
    f: DealFacts,
    rules: RulesConfig,
    now: datetime,
    zone: str = "UTC",
    dismissed_at: datetime | None = None,
) -> RuleOutcome:
    """The `RuleOutcome` for a core decision, with its reason and deciding dates."""
    status, why, anchor, due = core
    text, dates = words(rule, core, f, rules, now, zone, dismissed_at)
    return RuleOutcome(rule, status, why, _utc(anchor), _utc(due), text, dates)


def words(
    rule: RuleName,
    core: Core,
    f: DealFacts,
    rules: RulesConfig,
    now: datetime,
    zone: str = "UTC",
    dismissed_at: datetime | None = None,
) -> tuple[str, Dates]:
    """The reason sentence and the labelled dates (UTC) for a core decision."""
    _, why, anchor, due = core
    tz = zone_info(zone)

    def d(moment: datetime) -> str:
        local = moment.astimezone(tz)
        return f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month]}"

    if why is Why.DISABLED:
        return "Turned off in followup.toml", ()
    if why is Why.ALREADY_DRAFTED:
        assert anchor is not None
        text = f"Already drafted once for {_ANCHOR_NOUN[rule]} {d(anchor)}"
        return text, _dates(("anchor", anchor), ("due", due))
    return _WRITERS[rule](why, anchor, due, f, rules, now, d, dismissed_at)


Dates = tuple[tuple[str, datetime], ...]
Day = Callable[[datetime], str]
Writer = Callable[
    [Why, datetime | None, datetime | None, DealFacts, RulesConfig, datetime, Day, datetime | None],
    tuple[str, Dates],
]


def _write_proposal(
    why: Why,
    anchor: datetime | None,
    due: datetime | None,
    f: DealFacts,
    rules: RulesConfig,
    now: datetime,
    d: Day,
    dismissed_at: datetime | None,
) -> tuple[str, Dates]:
    if why is Why.NO_ANCHOR or anchor is None:
        return "No proposal sent", ()
    inbound, touch = f.inbound_at, f.touch_at
    if why is Why.INBOUND_AFTER:
        assert inbound is not None
        text = f"They wrote back {d(inbound)}, after the proposal of {d(anchor)}"
        return text, _dates(("proposal sent", anchor), ("inbound", inbound))
    if why is Why.MEETING_BOOKED:
        assert f.meeting_at is not None
        text = f"A meeting was booked {d(f.meeting_at)}, after the proposal of {d(anchor)}"
        return text, _dates(("proposal sent", anchor), ("meeting booked", f.meeting_at))
    assert due is not None
    assert touch is not None
    followed = f", followed up {d(touch)}" if touch > anchor else ""
    last = ("last touch", touch if touch > anchor else None)
    dates = _dates(("proposal sent", anchor), last, ("due", due))
    if due <= now:
        return f"Proposal sent {d(anchor)}{followed}, no reply in {span(now - touch)}", dates
    return f"Proposal sent {d(anchor)}{followed}; due {d(due)} if no reply comes", dates


def _write_call(
    why: Why,
    anchor: datetime | None,
    due: datetime | None,
    f: DealFacts,
    rules: RulesConfig,
    now: datetime,
    d: Day,
    dismissed_at: datetime | None,
) -> tuple[str, Dates]:
    if why is Why.NO_ANCHOR or anchor is None:
        return "No call logged", ()
    call = ("call", anchor)
    if why is Why.MEETING_BOOKED:
        assert f.meeting_at is not None
        text = f"A meeting was booked {d(f.meeting_at)}, after the call of {d(anchor)}"
        return text, _dates(call, ("meeting booked", f.meeting_at))
    if why is Why.MEETING_SCHEDULED:
        assert f.scheduled_for is not None
        text = f"A meeting is set for {d(f.scheduled_for)}, after the call of {d(anchor)}"
        return text, _dates(call, ("meeting scheduled for", f.scheduled_for))
    if why is Why.TOUCH_AFTER:
        touch = f.touch_at
        assert touch is not None
        text = f"The recap went out {d(touch)}, after the call of {d(anchor)}"
        return text, _dates(call, ("touch", touch))
    if why is Why.INBOUND_AFTER:
        inbound = f.inbound_at
        assert inbound is not None
        text = f"They wrote {d(inbound)}, after the call of {d(anchor)}"
        return text, _dates(call, ("inbound", inbound))
    assert due is not None
    dates = _dates(call, ("due", due))
    if due <= now:
        return f"Call on {d(anchor)}, no next step in {span(now - anchor)}", dates
    return f"Call on {d(anchor)}; due {d(due)} if no next step is set", dates


def _write_stage(
    why: Why,
    anchor: datetime | None,
    due: datetime | None,
    f: DealFacts,
    rules: RulesConfig,
    now: datetime,
    d: Day,
    dismissed_at: datetime | None,
) -> tuple[str, Dates]:
    deal = f.deal
    assert anchor is not None
    assert due is not None
    entered = deal.stage_entered_at
    window = _length(stage_window(rules.stage_stale, deal.stage))
    dates = _dates(
        ("stage entered", entered),
        ("last activity", f.activity_at),
        ("nudge dismissed", dismissed_at),
        ("due", due),
    )
    head = f"In {deal.stage} since {d(entered)}"
    if due > now:
        return f"{head}; stale on {d(due)} after {window} without activity", dates
    quiet = span(now - anchor)
    if dismissed_at is not None and anchor == dismissed_at:
        return f"{head}, still no activity {quiet} after a dismissed nudge", dates
    if anchor != entered:
        return f"{head}, no activity since {d(anchor)} ({quiet})", dates
    return f"{head}, no activity in {quiet}", dates


def _write_quote(
    why: Why,
    anchor: datetime | None,
    due: datetime | None,
    f: DealFacts,
    rules: RulesConfig,
    now: datetime,
    d: Day,
    dismissed_at: datetime | None,
) -> tuple[str, Dates]:
    if why is Why.NO_ANCHOR or anchor is None:
        return "No quote expiry date", ()
    quote = ("quote expires", anchor)
    if why is Why.INBOUND_AFTER:
        inbound = f.inbound_at
        assert inbound is not None
        text = f"They wrote {d(inbound)}, after the quote expired {d(anchor)}"
        return text, _dates(quote, ("inbound", inbound))
    if why is Why.TOUCH_AFTER:
        touch = f.touch_at
        assert touch is not None
        text = f"Final outreach went out {d(touch)}, after the quote expired {d(anchor)}"
        return text, _dates(quote, ("touch", touch))
    assert due is not None
    dates = _dates(quote, ("due", due))
    if due <= now:
        return f"Quote expired {d(anchor)}, no word from them since", dates
    if due == anchor:
        return f"Quote expires {d(anchor)}", dates
    return f"Quote expires {d(anchor)}; due {d(due)}", dates


def _write_lead(
    why: Why,
    anchor: datetime | None,
    due: datetime | None,
    f: DealFacts,
    rules: RulesConfig,
    now: datetime,
    d: Day,
    dismissed_at: datetime | None,
) -> tuple[str, Dates]:
    if why is Why.NOT_INBOUND_LEAD:
        return f"Not an inbound lead (source: {f.deal.source})", ()
    first = f.first_inbound_at
    wrote = f"Lead wrote {d(first)}" if first is not None else "Inbound lead"
    if why is Why.NOT_ANSWERED:
        return f"{wrote}; we have not answered yet", _dates(("lead wrote", first))
    answer = f.first_answer()
    assert answer is not None
    if why is Why.INBOUND_AFTER:
        inbound = f.inbound_at
        assert inbound is not None
        text = f"The lead replied {d(inbound)}, after our answer of {d(answer)}"
        return text, _dates(("lead wrote", first), ("our answer", answer), ("inbound", inbound))
    count = _followups(f, answer)
    if why is Why.MAX_FOLLOWUPS:
        noun = "follow-up" if count == 1 else "follow-ups"
        text = f"{count} {noun} after our answer of {d(answer)} went unanswered; stopped"
        last = f.touch_at
        return text, _dates(("lead wrote", first), ("our answer", answer), ("last touch", last))
    assert due is not None
    assert anchor is not None
    dates = _dates(
        ("lead wrote", first), ("our answer", answer), ("last touch", anchor), ("due", due)
    )
    ours = "our answer" if count == 0 else f"our follow-up {count}"
    if due <= now:
        return f"{wrote}, {ours} of {d(anchor)} unanswered for {span(now - anchor)}", dates
    return f"{wrote}, {ours} went out {d(anchor)}; due {d(due)} if no reply comes", dates


_WRITERS: dict[RuleName, Writer] = {
    RuleName.PROPOSAL_NO_REPLY: _write_proposal,
    RuleName.CALL_NO_NEXT_STEP: _write_call,
    RuleName.STAGE_STALE: _write_stage,
    RuleName.QUOTE_EXPIRED: _write_quote,
    RuleName.LEAD_NO_REPLY: _write_lead,
}


# --------------------------------------------------------------------------- public rules


def _run(
    rule: RuleName,
    view: DealView,
    rules: RulesConfig,
    now: datetime,
    facts: DealFacts | None,
    zone: str,
    dismissed_at: datetime | None = None,
) -> RuleOutcome:
    f = facts if facts is not None else DealFacts.of_view(view, now)
    core = CORES[rule](f, rules, now, dismissed_at)
    return describe(rule, core, f, rules, now, zone, dismissed_at)


def proposal_no_reply(
    view: DealView,
    config: RuleConfig,
    now: datetime,
    *,
    facts: DealFacts | None = None,
    zone: str = "UTC",
) -> RuleOutcome:
    """Due `after` (72 h) after the latest touch at or after the latest `proposal_sent`;
    cancelled by inbound or a meeting booked after the proposal."""
    rules = RulesConfig(proposal_no_reply=config)
    return _run(RuleName.PROPOSAL_NO_REPLY, view, rules, now, facts, zone)


def call_no_next_step(
    view: DealView,
    config: RuleConfig,
    now: datetime,
    *,
    facts: DealFacts | None = None,
    zone: str = "UTC",
) -> RuleOutcome:
    """Due `after` (24 h) after the latest `call`; cancelled by a meeting booked after it or
    scheduled for after it, a touch after it, or inbound after it."""
    rules = RulesConfig(call_no_next_step=config)
    return _run(RuleName.CALL_NO_NEXT_STEP, view, rules, now, facts, zone)


def stage_stale(
    view: DealView,
    config: StageStaleConfig,
    now: datetime,
    *,
    facts: DealFacts | None = None,
    zone: str = "UTC",
    dismissed_at: datetime | None = None,
) -> RuleOutcome:
    """Due one stage window after max(stage_entered_at, latest activity); a dismissed nudge
    re-arms one window after its dismissal."""
    rules = RulesConfig(stage_stale=config)
    return _run(RuleName.STAGE_STALE, view, rules, now, facts, zone, dismissed_at)


def quote_expired(
    view: DealView,
    config: RuleConfig,
    now: datetime,
    *,
    facts: DealFacts | None = None,
    zone: str = "UTC",
) -> RuleOutcome:
    """Due at `quote_expires_at` (+ `after`, default 0); off without one; cancelled by inbound
    or a touch after it."""
    rules = RulesConfig(quote_expired=config)
    return _run(RuleName.QUOTE_EXPIRED, view, rules, now, facts, zone)


def lead_no_reply(
    view: DealView,
    config: LeadNoReplyConfig,
    now: datetime,
    *,
    facts: DealFacts | None = None,
    zone: str = "UTC",
) -> RuleOutcome:
    """On `source = inbound` deals, once we have answered the lead's first message: due
    `after` (48 h) after our latest touch; cancelled when the lead wrote again after our answer
    or `max_followups` follow-ups after it already went unanswered."""
    rules = RulesConfig(lead_no_reply=config)
    return _run(RuleName.LEAD_NO_REPLY, view, rules, now, facts, zone)


RULE_FUNCTIONS: dict[RuleName, Callable[..., RuleOutcome]] = {
    RuleName.QUOTE_EXPIRED: quote_expired,
    RuleName.CALL_NO_NEXT_STEP: call_no_next_step,
    RuleName.PROPOSAL_NO_REPLY: proposal_no_reply,
    RuleName.LEAD_NO_REPLY: lead_no_reply,
    RuleName.STAGE_STALE: stage_stale,
}
