"""Evaluation: which watched deals need a follow-up drafted as of `now`, why, and when it may
arrive. Pure: a pipeline (or one deal), the configuration, `now` and the service's per-deal
history in; decisions out.

Order of decision for one deal (issue 3):
1. only watched (`open`) deals with a primary contact;
2. the ball is in our court (the latest message is inbound): nothing is due;
3. a meeting scheduled for after `now`: nothing is due;
4. the history: a pending draft, or paused until after `now`: nothing is due;
5. the rules in priority order (`RULE_PRIORITY`); the first one due whose (rule, anchor) has
   not fired yet is reported.

The **primary contact** is the first of the deal's `contact_ids` that is in the pipeline,
`active`, has an `email`, and is not suppressed. A contact is suppressed when any of its
addresses, or the domain of any of them, is in `suppressed` (lower-cased addresses and bare
domains): an opt-out from one address is the person's opt-out.
"""

from __future__ import annotations

import gc
import heapq
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from operator import attrgetter
from typing import TYPE_CHECKING

from triggers.config import RULE_PRIORITY, EvaluationConfig, RuleName
from triggers.model import (
    Activity,
    Contact,
    ContactStatus,
    DealStatus,
    DealView,
    Owner,
    Pipeline,
)
from triggers.rules import (
    CORES,
    Core,
    DealFacts,
    RuleOutcome,
    RuleStatus,
    Why,
    describe,
    excerpt,
    scan_activities,
    stamp,
    words,
)
from triggers.windows import next_send_time, recipient_zone, zone_info

__all__ = [
    "Blocker",
    "Cycle",
    "DealHistory",
    "Due",
    "Explanation",
    "IncrementalEvaluator",
    "Verdict",
    "build_views",
    "contact_problem",
    "due_to_json",
    "dues_to_json",
    "evaluate",
    "evaluate_deal",
    "explain_deal",
    "format_utc",
    "next_change_at",
    "primary_contact",
]


@dataclass(frozen=True, slots=True)
class DealHistory:
    """Stateful facts the running service keeps per deal (rule 5 of the issue)."""

    pending: bool = False  # a draft awaits review
    fired: frozenset[tuple[RuleName, datetime]] = frozenset()  # (rule, anchor) already drafted
    stage_stale_dismissed_at: datetime | None = None  # re-arms stage_stale one window later
    paused_until: datetime | None = None  # paused/snoozed: nothing due before this


@dataclass(frozen=True, slots=True)
class Due:
    """A follow-up due on a deal.

    The evaluator writes `evidence` when it is first read: a full evaluation finds tens of
    thousands of dues, and writing their evidence (time zone conversions, quotes) was about a
    tenth of the run, while only the ones drafted are ever shown. Reading it, comparing, hashing or
    copying a `Due` gives the same values as if it had been written at once.
    """

    deal_id: str
    contact_id: str
    rule: RuleName
    anchor: datetime  # identifies "same rule, same anchor" (see triggers.rules), UTC
    due_at: datetime  # UTC
    send_at: datetime  # UTC, inside the recipient's send window
    reason: str  # "Proposal sent Tue 17 Nov, no reply in 3 days"
    evidence: tuple[str, ...]  # decisive dates, their last message or the call notes
    zone: str = "UTC"  # the recipient's zone: send window and the dates in `reason`
    # what `evidence` is written from until it is first read; None once written
    _evidence_from: _EvidenceSource | None = field(
        default=None, init=False, repr=False, compare=False
    )

    if not TYPE_CHECKING:  # to mypy, `Due` has no dynamic attributes

        def __getattr__(self, name: str) -> tuple[str, ...]:
            # Reached only when a slot is unset: `evidence` not written yet (`_make_due`).
            if name != "evidence":
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            source = self._evidence_from
            if source is None:  # another thread wrote it meanwhile
                return object.__getattribute__(self, name)
            lines = _evidence(*source)
            object.__setattr__(self, "evidence", lines)
            object.__setattr__(self, "_evidence_from", None)
            return lines


class Blocker(StrEnum):
    NOT_WATCHED = "not_watched"
    NO_PRIMARY_CONTACT = "no_primary_contact"
    BALL_IN_OUR_COURT = "ball_in_our_court"
    MEETING_SCHEDULED = "meeting_scheduled"
    PENDING_DRAFT = "pending_draft"
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class Verdict:
    """A deal-wide reason that nothing is due, whatever the rules say."""

    blocker: Blocker
    text: str
    dates: tuple[tuple[str, datetime], ...] = ()


@dataclass(frozen=True, slots=True)
class Explanation:
    deal_id: str
    title: str
    now: datetime
    zone: str  # dates in the texts are written in this zone
    contact_id: str | None  # the primary contact, if any
    verdicts: tuple[Verdict, ...]  # deal-wide blockers; any one means nothing is due
    outcomes: tuple[RuleOutcome, ...]  # every rule, in priority order
    due: Due | None  # what `evaluate` reports for this deal
    next_change_at: datetime | None


# --------------------------------------------------------------------------- contacts


def _address_suppressed(address: str, suppressed: Collection[str]) -> str | None:
    if address in suppressed:
        return address
    domain = address.rpartition("@")[2]
    return domain if domain in suppressed else None


def reachable_address(contact: Contact, suppressed: Collection[str] = frozenset()) -> str | None:
    """The first of the contact's addresses (main, then alternates) that is not suppressed:
    after a hard bounce on the main address, an alternate takes over."""
    if not contact.email:
        return None
    for address in contact.addresses:
        if _address_suppressed(address, suppressed) is None:
            return address
    return None


def _is_suppressed(contact: Contact, suppressed: Collection[str]) -> str | None:
    """What suppresses the contact when every one of its addresses is suppressed."""
    if reachable_address(contact, suppressed) is not None:
        return None
    return _address_suppressed(contact.addresses[0], suppressed) if contact.addresses else None


def contact_problem(contact: Contact, suppressed: Collection[str] = frozenset()) -> str | None:
    """Why `contact` cannot be the primary contact, or None when it can."""
    if contact.status is not ContactStatus.ACTIVE:
        return f"status is {contact.status}"
    if not contact.email:
        return "has no email address"
    hit = _is_suppressed(contact, suppressed) if suppressed else None
    if hit is not None:
        return f"{hit} is suppressed"
    return None


def primary_contact(view: DealView, suppressed: Collection[str] = frozenset()) -> Contact | None:
    """The first of the deal's contacts that is active, has an email and is not suppressed."""
    return _first_reachable(view.contacts, suppressed)


def _first_reachable(contacts: Iterable[Contact], suppressed: Collection[str]) -> Contact | None:
    for contact in contacts:
        if (
            contact.status is ContactStatus.ACTIVE
            and contact.email
            and (not suppressed or _is_suppressed(contact, suppressed) is None)
        ):
            return contact
    return None


# --------------------------------------------------------------------------- views


def build_views(pipeline: Pipeline) -> list[DealView]:
    """One `DealView` per deal, in pipeline order: one pass over the activities.

    A deal's activities keep their pipeline order; contact ids not in the pipeline are left
    out (explain names them); activities of unknown deals are ignored.
    """
    contacts = {c.id: c for c in pipeline.contacts}
    owners = {o.id: o for o in pipeline.owners}
    grouped: dict[str, list[Activity]] = {deal.id: [] for deal in pipeline.deals}
    for activity in pipeline.activities:
        bucket = grouped.get(activity.deal_id)
        if bucket is not None:
            bucket.append(activity)
    views: list[DealView] = []
    for deal in pipeline.deals:
        found = tuple(contacts[c] for c in deal.contact_ids if c in contacts)
        views.append(DealView(deal, found, owners.get(deal.owner_id), tuple(grouped[deal.id])))
    return views


# --------------------------------------------------------------------------- one deal

_ORDERED_CORES = tuple((rule, CORES[rule]) for rule in RULE_PRIORITY)
Plans = dict[tuple[str, str | None], datetime]  # (zone, owner away) -> send_at, for one `now`
_EMPTY: frozenset[tuple[RuleName, datetime]] = frozenset()


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now ({now.isoformat()}) has no time zone; pass an aware datetime")


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if a <= b else b


def _addresses(contacts: Iterable[Contact]) -> Collection[str]:
    """Every lower-cased address of `contacts` (a tuple for one contact, else a set)."""
    merged: tuple[str, ...] | set[str] = ()
    for contact in contacts:
        email, alternatives = contact.email, contact.alt_emails
        if alternatives:
            own = contact.addresses
        elif email:
            own = (email.lower(),)
        else:
            continue
        merged = own if not merged else {*merged, *own}
    return merged


def _assess(
    view: DealView,
    now: datetime,
    config: EvaluationConfig,
    suppressed: Collection[str],
    history: DealHistory | None,
    plans: Plans | None = None,
) -> tuple[Due | None, datetime | None]:
    """The deal's `Due` (or None) and the next instant at which that could change."""
    if view.deal.status is not DealStatus.OPEN:
        return None, None
    primary = primary_contact(view, suppressed)
    if primary is None:
        return None, None
    f = DealFacts.of_view(view, now, _addresses(view.contacts))
    return _decide(f, primary, view.owner, now, config, history, plans)


def _decide(
    f: DealFacts,
    primary: Contact,
    owner: Owner | None,
    now: datetime,
    config: EvaluationConfig,
    history: DealHistory | None,
    plans: Plans | None = None,
) -> tuple[Due | None, datetime | None]:
    """Steps 2 to 5 on a watched deal with a primary contact and its gathered facts."""
    following = f.future_at  # an activity dated after now becomes visible then
    inbound = f.inbound_at
    if inbound is not None and (f.touch_at is None or inbound > f.touch_at):
        return None, following  # the ball is in our court
    held = f.scheduled_for
    if held is not None and held > now:
        return None, _earliest(following, held)
    fired = _EMPTY
    dismissed: datetime | None = None
    if history is not None:
        if history.pending:
            return None, following
        paused = history.paused_until
        if paused is not None and paused > now:
            return None, _earliest(following, paused)
        fired = history.fired
        dismissed = history.stage_stale_dismissed_at
    rules = config.rules
    for rule, core in _ORDERED_CORES:
        decision = core(f, rules, now, dismissed)
        status = decision[0]
        if status is RuleStatus.DUE:
            if fired and (rule, decision[2]) in fired:
                continue
            due = _make_due(f, primary, owner, rule, decision, config, now, dismissed, plans)
            return due, following
        if status is RuleStatus.NOT_DUE:
            due_at = decision[3]
            if due_at is not None and not (fired and (rule, decision[2]) in fired):
                following = _earliest(following, due_at)
    return None, following


def _make_due(
    f: DealFacts,
    primary: Contact,
    owner: Owner | None,
    rule: RuleName,
    decision: Core,
    config: EvaluationConfig,
    now: datetime,
    dismissed: datetime | None,
    plans: Plans | None = None,
) -> Due:
    window = config.send_window
    zone = recipient_zone(primary, owner, window)
    reason, dates = words(rule, decision, f, config.rules, now, zone, dismissed)
    anchor, due_at = decision[2], decision[3]
    assert anchor is not None
    assert due_at is not None
    anchor, due_at = _utc(anchor), _utc(due_at)
    owner_id = f.deal.owner_id
    if plans is None:
        send_at = next_send_time(max(due_at, now), zone, window, owner_id)
    else:
        # A due rule has due_at <= now, so the send time depends only on the zone and the
        # owner's away dates: plan each once per evaluation.
        key = (zone, owner_id if owner_id in window.owner_away else None)
        found = plans.get(key)
        if found is None:
            found = plans[key] = next_send_time(now, zone, window, owner_id)
        send_at = found
    proposal = f.proposal if rule is RuleName.PROPOSAL_NO_REPLY else None
    call = f.call if rule is RuleName.CALL_NO_NEXT_STEP else None
    due = Due(f.deal.id, primary.id, rule, anchor, due_at, send_at, reason, (), zone)
    object.__setattr__(due, "_evidence_from", (dates, proposal, call, f.inbound, zone))
    object.__delattr__(due, "evidence")  # written on first read (see `Due`)
    return due


_EvidenceSource = tuple[
    tuple[tuple[str, datetime], ...], Activity | None, Activity | None, Activity | None, str
]


def _evidence(
    dates: tuple[tuple[str, datetime], ...],
    proposal: Activity | None,
    call: Activity | None,
    inbound: Activity | None,
    zone: str,
) -> tuple[str, ...]:
    """The evidence lines of a due: its dates, the proposal or call it is about, and their
    last message."""
    tz = zone_info(zone)
    lines = [
        f"{label.capitalize()}: {stamp(moment, tz)}" for label, moment in dates if label != "due"
    ]
    if proposal is not None and proposal.subject:
        lines.append(f"Proposal: “{excerpt(proposal.subject)}”")
    if call is not None and call.body:
        lines.append(f"Call notes: “{excerpt(call.body)}”")
    if inbound is not None:
        said = excerpt(inbound.body or inbound.subject)
        lines.append(f"Their last message ({stamp(inbound.at, tz)}): “{said}”")
    else:
        lines.append("No message from them on record")
    return tuple(lines)


def evaluate_deal(
    view: DealView,
    now: datetime,
    config: EvaluationConfig,
    *,
    suppressed: frozenset[str] = frozenset(),
    history: DealHistory | None = None,
) -> Due | None:
    """The follow-up due on this deal as of `now`, or None."""
    _require_aware(now)
    return _assess(view, now, config, suppressed, history)[0]


def next_change_at(
    view: DealView,
    now: datetime,
    config: EvaluationConfig,
    *,
    suppressed: frozenset[str] = frozenset(),
    history: DealHistory | None = None,
) -> datetime | None:
    """The earliest instant after `now` at which this deal's verdict could change with no new
    data (a rule's due_at, a scheduled meeting passing, a pause ending, an activity dated in
    the future); None when only new data or history can change it."""
    _require_aware(now)
    return _assess(view, now, config, suppressed, history)[1]


def evaluate(
    pipeline: Pipeline,
    now: datetime,
    config: EvaluationConfig,
    *,
    suppressed: frozenset[str] = frozenset(),
    history: Mapping[str, DealHistory] | None = None,
) -> list[Due]:
    """Every deal with a follow-up due at or before `now`, sorted by (due_at, deal_id).

    The same decisions as `evaluate_deal` on each of `build_views(pipeline)`, in one pass over
    the activities: watched deals with a primary contact are picked first, and only their
    activities are read.
    """
    _require_aware(now)
    with _collector_paused():
        return _evaluate(pipeline, now, config, suppressed, history)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Keep the cyclic garbage collector from running during a full evaluation.

    A full evaluation allocates one container per watched deal (and per due); they hold no
    cycles and reference counting frees them, but their number trips the collector's
    thresholds over and over, and each full collection walks every tracked object of the
    process, the pipeline's included: about a quarter of the run in bench/rules.py. Nested or
    concurrent evaluations leave the collector as they found it (only the one that paused it
    resumes it).
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _evaluate(
    pipeline: Pipeline,
    now: datetime,
    config: EvaluationConfig,
    suppressed: frozenset[str],
    history: Mapping[str, DealHistory] | None,
) -> list[Due]:
    contacts = {c.id: c for c in pipeline.contacts}
    owners = {o.id: o for o in pipeline.owners}
    facts: dict[str, DealFacts] = {}
    # parallel lists rather than (facts, contact) pairs: one allocation less per deal
    watched: list[DealFacts] = []
    primaries: list[Contact] = []
    get_contact = contacts.get
    is_open, active = DealStatus.OPEN, ContactStatus.ACTIVE
    for deal in pipeline.deals:
        if deal.status is not is_open:
            continue
        ids = deal.contact_ids
        if len(ids) == 1:  # the common case, inline
            only = get_contact(ids[0])
            if (
                only is None
                or only.status is not active
                or not only.email
                or (suppressed and _is_suppressed(only, suppressed) is not None)
            ):
                continue
            own = only.addresses if only.alt_emails else (only.email.lower(),)
            f = facts[deal.id] = DealFacts(deal, own, ids)
            watched.append(f)
            primaries.append(only)
            continue
        found = [c for c in map(get_contact, ids) if c is not None]
        primary = _first_reachable(found, suppressed)
        if primary is None:
            continue
        if len(found) != len(ids):
            ids = tuple(c.id for c in found)
        f = facts[deal.id] = DealFacts(deal, _addresses(found), ids)
        watched.append(f)
        primaries.append(primary)
    scan_activities(facts.get, pipeline.activities, now)
    found_due: list[Due] = []
    get = history.get if history else None
    get_owner = owners.get
    plans: Plans = {}
    for f, primary in zip(watched, primaries, strict=True):
        deal = f.deal
        entry = get(deal.id) if get is not None else None
        due = _decide(f, primary, get_owner(deal.owner_id), now, config, entry, plans)[0]
        if due is not None:
            found_due.append(due)
    found_due.sort(key=_order)
    return found_due


# (due_at, deal_id), read in C: sorting tens of thousands of dues calls it for each
_order: Callable[[Due], tuple[datetime, str]] = attrgetter("due_at", "deal_id")


# --------------------------------------------------------------------------- explain


def explain_deal(
    view: DealView,
    now: datetime,
    config: EvaluationConfig,
    *,
    suppressed: frozenset[str] = frozenset(),
    history: DealHistory | None = None,
) -> Explanation:
    """For every rule: due / not due / off / cancelled, why, and the dates that decided it;
    plus the deal-wide verdicts that stop everything."""
    _require_aware(now)
    deal = view.deal
    primary = primary_contact(view, suppressed)
    shown = primary or (view.contacts[0] if view.contacts else None)
    zone = recipient_zone(shown, view.owner, config.send_window)
    tz = zone_info(zone)
    f = DealFacts.of_view(view, now)
    verdicts: list[Verdict] = []
    if deal.status is not DealStatus.OPEN:
        text = f"The deal is {deal.status}; only open deals are watched"
        verdicts.append(Verdict(Blocker.NOT_WATCHED, text))
    if primary is None:
        verdicts.append(Verdict(Blocker.NO_PRIMARY_CONTACT, _no_primary(view, suppressed)))
    if f.ball_in_our_court and f.inbound is not None:
        at = f.inbound.at
        text = f"Their message of {stamp(at, tz)} is the latest: we owe a reply, not a follow-up"
        verdicts.append(Verdict(Blocker.BALL_IN_OUR_COURT, text, (("inbound", _utc(at)),)))
    if f.scheduled_for is not None and f.scheduled_for > now:
        at = f.scheduled_for
        text = f"A meeting is scheduled for {stamp(at, tz)}: a next step exists"
        verdicts.append(Verdict(Blocker.MEETING_SCHEDULED, text, (("meeting", _utc(at)),)))
    fired = _EMPTY
    dismissed: datetime | None = None
    if history is not None:
        if history.pending:
            text = "A draft for this deal is waiting for review"
            verdicts.append(Verdict(Blocker.PENDING_DRAFT, text))
        if history.paused_until is not None and history.paused_until > now:
            at = history.paused_until
            text = f"Paused until {stamp(at, tz)}"
            verdicts.append(Verdict(Blocker.PAUSED, text, (("paused until", _utc(at)),)))
        fired = history.fired
        dismissed = history.stage_stale_dismissed_at
    outcomes: list[RuleOutcome] = []
    for rule, core in _ORDERED_CORES:
        decision = core(f, config.rules, now, dismissed)
        if decision[0] is not RuleStatus.OFF and (rule, decision[2]) in fired:
            decision = (RuleStatus.CANCELLED, Why.ALREADY_DRAFTED, decision[2], decision[3])
        outcomes.append(describe(rule, decision, f, config.rules, now, zone, dismissed))
    due, following = _assess(view, now, config, suppressed, history)
    return Explanation(
        deal_id=deal.id,
        title=deal.title,
        now=now.astimezone(UTC),
        zone=zone,
        contact_id=primary.id if primary is not None else None,
        verdicts=tuple(verdicts),
        outcomes=tuple(outcomes),
        due=due,
        next_change_at=_utc(following) if following is not None else None,
    )


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def _no_primary(view: DealView, suppressed: Collection[str]) -> str:
    known = {c.id: c for c in view.contacts}
    problems: list[str] = []
    for contact_id in view.deal.contact_ids:
        contact = known.get(contact_id)
        if contact is None:
            problems.append(f"{contact_id} is not in the pipeline")
        else:
            problem = contact_problem(contact, suppressed) or "cannot be written to"
            problems.append(f"{contact.name} ({contact.id}) {problem}")
    if not problems:
        return "No contact can be written to: the deal has no contacts"
    return "No contact can be written to: " + "; ".join(problems)


# --------------------------------------------------------------------------- output


def format_utc(moment: datetime) -> str:
    """`2026-11-20T14:00:00Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def due_to_json(due: Due) -> dict[str, str]:
    return {
        "deal_id": due.deal_id,
        "contact_id": due.contact_id,
        "rule": due.rule.value,
        "due_at": format_utc(due.due_at),
        "send_at": format_utc(due.send_at),
        "reason": due.reason,
    }


def dues_to_json(dues: Iterable[Due]) -> list[dict[str, str]]:
    """The objects `followup check --json` prints, sorted by due_at then deal_id."""
    return [due_to_json(due) for due in sorted(dues, key=_order)]


# --------------------------------------------------------------------------- incremental


@dataclass(frozen=True, slots=True)
class Cycle:
    """What one incremental step found."""

    now: datetime
    evaluated: int  # deals evaluated in this step
    due: tuple[Due, ...]  # deals newly due, or due for another rule/anchor, by (due_at, id)
    cleared: tuple[str, ...]  # deals that were due and no longer are (or were removed)


def _identity(due: Due | None) -> tuple[str, RuleName, datetime, datetime] | None:
    return None if due is None else (due.contact_id, due.rule, due.anchor, due.due_at)


class IncrementalEvaluator:
    """Keeps every deal's verdict and re-evaluates only what can have changed.

    Feed it deals with `update` (new or changed deal data, history changes, removals) and
    move time forward with `advance(now)`: a step evaluates the deals marked changed plus the
    deals whose `next_change_at` has come, found through a heap, so its cost is proportional
    to what changed, not to the pipeline. The first `advance` after loading evaluates all.

    A cached `Due` keeps the `send_at` computed when it was evaluated; re-plan with
    `next_send_time` when sending later. Changing the suppression list marks only the deals
    whose contacts have a newly (un)suppressed address or domain.
    """

    def __init__(
        self,
        config: EvaluationConfig,
        *,
        suppressed: frozenset[str] = frozenset(),
    ) -> None:
        self.config = config
        self.suppressed = suppressed
        self._views: dict[str, DealView] = {}
        self._history: dict[str, DealHistory] = {}
        self._due: dict[str, Due] = {}
        self._next: dict[str, datetime] = {}
        self._heap: list[tuple[datetime, str]] = []
        self._dirty: set[str] = set()
        self._by_key: dict[str, set[str]] = {}  # address or domain -> deal ids
        self._now: datetime | None = None

    def __len__(self) -> int:
        return len(self._views)

    @property
    def now(self) -> datetime | None:
        return self._now

    def load(self, pipeline: Pipeline) -> None:
        """Add or replace every deal of `pipeline` (each is evaluated on the next step)."""
        self.update(build_views(pipeline))

    def update(
        self,
        views: Iterable[DealView] = (),
        *,
        removed: Iterable[str] = (),
        history: Mapping[str, DealHistory | None] | None = None,
    ) -> None:
        """Record changed deals, removed deals and changed histories (None clears one)."""
        index = self._by_key
        for view in views:
            deal_id = view.deal.id
            self._views[deal_id] = view
            self._dirty.add(deal_id)
            for contact in view.contacts:
                for address in contact.addresses:
                    index.setdefault(address, set()).add(deal_id)
                    index.setdefault(address.rpartition("@")[2], set()).add(deal_id)
        for deal_id in removed:
            self._views.pop(deal_id, None)
            self._history.pop(deal_id, None)
            self._dirty.add(deal_id)
        for deal_id, entry in (history or {}).items():
            if entry is None:
                self._history.pop(deal_id, None)
            else:
                self._history[deal_id] = entry
            self._dirty.add(deal_id)

    def set_suppressed(self, suppressed: frozenset[str]) -> None:
        """Replace the suppression list; deals touched by the difference are re-evaluated."""
        for key in suppressed.symmetric_difference(self.suppressed):
            self._dirty.update(self._by_key.get(key, ()))
        self.suppressed = suppressed

    def advance(self, now: datetime) -> Cycle:
        """Evaluate what changed or came due since the last step, as of `now`."""
        _require_aware(now)
        if self._now is not None and now < self._now:
            raise ValueError("time only moves forward: now is before the previous step")
        self._now = now
        heap, nexts, dirty = self._heap, self._next, self._dirty
        while heap and heap[0][0] <= now:
            moment, deal_id = heapq.heappop(heap)
            if nexts.get(deal_id) == moment:
                del nexts[deal_id]
                dirty.add(deal_id)
        changed: list[Due] = []
        cleared: list[str] = []
        plans: Plans = {}
        for deal_id in dirty:
            view = self._views.get(deal_id)
            before = self._due.get(deal_id)
            if view is None:
                due, following = None, None
            else:
                entry = self._history.get(deal_id)
                due, following = _assess(view, now, self.config, self.suppressed, entry, plans)
            if following is None:
                nexts.pop(deal_id, None)
            else:
                nexts[deal_id] = following
                heapq.heappush(heap, (following, deal_id))
            if due is None:
                if before is not None:
                    del self._due[deal_id]
                    cleared.append(deal_id)
            else:
                self._due[deal_id] = due
                if _identity(due) != _identity(before):
                    changed.append(due)
        evaluated = len(dirty)
        dirty.clear()
        if len(heap) > 2 * len(nexts) + 1024:  # drop superseded entries now and then
            self._heap = [(moment, deal_id) for deal_id, moment in nexts.items()]
            heapq.heapify(self._heap)
        changed.sort(key=_order)
        cleared.sort()
        return Cycle(now=now, evaluated=evaluated, due=tuple(changed), cleared=tuple(cleared))

    def due(self) -> list[Due]:
        """Every deal currently due, by (due_at, deal_id)."""
        return sorted(self._due.values(), key=_order)

    def next_change_at(self, deal_id: str) -> datetime | None:
        return self._next.get(deal_id)
