"""Cadences: per-contact sequences of touches, and what to do when someone answers.

Pure: definitions, an enrolment's state and the facts of its deal in; decisions and new states
out. Standard library only; `now` is always a parameter.

A **cadence** is a list of steps. Each step has a gap in days after the previous touch
(calendar days, or business days when `business_days` is set), an angle, the template that
writes it, and optionally a line limit. Steps are numbered from `first_step`: 2 when touch 1
is the message that started the conversation (the default cadence: step 2 on day 3 with the
value angle, step 3 on day 7 with social proof in under four lines, step 4 on day 14 with a
check-in), 1 when the cadence writes its first touch itself (re-engagement). `max_touches`
caps the touches, counting touch 1. After the last step, `archive_after_days` without a reply
ends the enrolment as archived.

An **enrolment** is one contact in one cadence on one deal; a contact is in at most one
cadence at a time. `decide` says what is due for it now, in this order:

1. ended enrolments: nothing;
2. the deal is no longer open, the contact left the deal, is not `active`, opted out, or has
   no deliverable address: stop;
3. any reply (an inbound email that is not an automatic reply) from the contact or, when
   `stop_on_company_reply` is set, from anyone at the contact's company domain (free-mail
   domains never count as a company), and any call or meeting with the contact after the
   enrolment: stop;
4. paused: waiting for a person (never resumed without one) or until the pause ends;
5. a step awaits approval or sending: wait;
6. the deal is paused or snoozed: wait;
7. no step left (or `max_touches` reached): archive `archive_after_days` after the last touch;
8. otherwise the next step is due its gap after the latest touch to the contact (a cadence
   step, or any message sent to them on the deal), never before `not_before`, arriving
   inside the contact's send window; never with the angle of the touch before it.

The **playbook** (`plan_reply`) turns a classified inbound message into a new state and the
side effects the flows carry out: stop and hand off, pause and ask the owner, pause for an
out-of-office, switch address after a hard bounce, opt-out.

Inbound activities may carry `extra["mail_kind"]` (`reply`, `auto_reply`, `bounce`,
`opt_out`, `complaint`, as `reading/` names them); without it an inbound email counts as a
person's reply.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from types import MappingProxyType

from triggers.config import SendWindowConfig
from triggers.model import (
    Activity,
    ActivityKind,
    Contact,
    ContactStatus,
    DealStatus,
    DealView,
    Direction,
)
from triggers.windows import next_send_time, recipient_zone, zone_info

__all__ = [
    "ANGLES",
    "DEFAULT_CADENCE",
    "FREEMAIL_DOMAINS",
    "MAIL_KIND",
    "RE_ENGAGEMENT_CADENCE",
    "Action",
    "AutoEnrol",
    "Cadence",
    "CadenceConfig",
    "CadenceConfigError",
    "CadenceFacts",
    "Choice",
    "Decision",
    "EndReason",
    "EnrolRules",
    "Enrolment",
    "EnrolmentStatus",
    "OwnerQuestion",
    "PendingOutcome",
    "Playbook",
    "QuestionKind",
    "QuestionPlan",
    "ReplyEvent",
    "ReplyFacts",
    "ReplyPlan",
    "Step",
    "StepDue",
    "Verdict",
    "add_business_days",
    "apply_answer",
    "auto_enrolments",
    "company_domain",
    "content_lines",
    "decide",
    "deliverable_address",
    "later_by",
    "looks_stale",
    "out_of_office_until",
    "parse_trigger",
    "plan_reply",
    "reachability",
    "reply_event",
    "settle",
    "stop_signals",
    "trigger_for",
    "unhandled_inbound",
]

# The cadence angles; each has a template of the same name (prompts/templates/<angle>.j2).
ANGLES: tuple[str, ...] = (
    "value",
    "social_proof",
    "check_in",
    "recap",
    "re_engagement",
    "final_outreach",
)
# Key of `Activity.extra` naming what an inbound message is (see the module docstring).
MAIL_KIND = "mail_kind"
_AUTOMATED = frozenset({"auto_reply", "bounce"})
# Addresses at these domains are people, not companies: a reply from another gmail.com user is
# not a reply from the contact's company.
_FREEMAIL = """gmail.com googlemail.com outlook.com hotmail.com hotmail.co.uk live.com msn.com
yahoo.com yahoo.co.uk ymail.com icloud.com me.com mac.com aol.com proton.me protonmail.com pm.me
gmx.de gmx.net gmx.com web.de t-online.de mail.com yandex.ru yandex.com zoho.com hey.com
fastmail.com qq.com 163.com orange.fr free.fr libero.it"""
FREEMAIL_DOMAINS: frozenset[str] = frozenset(_FREEMAIL.split())
_ONE_DAY = timedelta(days=1)
_TRIGGER = re.compile(r"^cadence:(?P<name>[^:]+):(?P<step>\d+)$")


class CadenceConfigError(ValueError):
    """A cadence definition or setting is invalid; the message names the key."""


# --------------------------------------------------------------------------- definitions


@dataclass(frozen=True, slots=True)
class Step:
    days: int  # gap after the previous touch
    angle: str
    template: str = ""  # "" is the angle's own template
    business_days: bool = False
    max_lines: int | None = None  # "under four lines" is 3

    @property
    def template_name(self) -> str:
        return self.template or self.angle

    @property
    def gap_text(self) -> str:
        unit = "business day" if self.business_days else "day"
        return f"{self.days} {unit}{'' if self.days == 1 else 's'}"


@dataclass(frozen=True, slots=True)
class Cadence:
    name: str
    steps: tuple[Step, ...]
    max_touches: int
    first_step: int = 2
    archive_after_days: int = 7
    description: str = ""

    def __post_init__(self) -> None:
        where = f"cadence {self.name!r}"
        if not self.steps:
            raise CadenceConfigError(f"{where}: steps: at least one step is needed")
        if self.first_step not in (1, 2):
            raise CadenceConfigError(
                f"{where}: first_step: {self.first_step} is not allowed; allowed: 1 (the cadence "
                "writes the first touch), 2 (touch 1 is the message that started the conversation)"
            )
        if self.max_touches < self.first_step:
            raise CadenceConfigError(
                f"{where}: max_touches: {self.max_touches} leaves no step to draft; "
                f"allowed: {self.first_step} or more"
            )
        if self.archive_after_days < 0:
            raise CadenceConfigError(f"{where}: archive_after_days: must be 0 or more")
        previous: str | None = None
        for index, step in enumerate(self.steps):
            at = f"{where}: steps.{index}"
            if step.angle not in ANGLES:
                raise CadenceConfigError(
                    f"{at}.angle: {step.angle!r} is not an angle; allowed: {', '.join(ANGLES)}"
                )
            if step.template and step.template not in ANGLES:
                raise CadenceConfigError(
                    f"{at}.template: {step.template!r} is not a cadence template; "
                    f"allowed: {', '.join(ANGLES)}"
                )
            if step.days < 0:
                raise CadenceConfigError(f"{at}.days: must be 0 or more")
            if step.max_lines is not None and step.max_lines < 1:
                raise CadenceConfigError(f"{at}.max_lines: must be 1 or more")
            if step.angle == previous:
                raise CadenceConfigError(
                    f"{at}.angle: {step.angle!r} repeats the previous step's angle; "
                    "never the same angle twice in a row"
                )
            previous = step.angle

    def number(self, index: int) -> int:
        """The step number of `steps[index]`."""
        return self.first_step + index

    @property
    def usable_steps(self) -> int:
        """How many steps `max_touches` lets run."""
        return min(len(self.steps), self.max_touches - self.first_step + 1)

    def step_for(self, number: int) -> Step | None:
        index = number - self.first_step
        return self.steps[index] if 0 <= index < len(self.steps) else None


DEFAULT_CADENCE = Cadence(
    name="default",
    steps=(
        Step(days=3, angle="value"),
        Step(days=4, angle="social_proof", max_lines=3),
        Step(days=7, angle="check_in"),
    ),
    max_touches=4,
    first_step=2,
    archive_after_days=7,
    description="Step 2 on day 3 (value), step 3 on day 7 (social proof), step 4 on day 14.",
)
RE_ENGAGEMENT_CADENCE = Cadence(
    name="re_engagement",
    steps=(Step(days=0, angle="re_engagement"),),
    max_touches=1,
    first_step=1,
    archive_after_days=7,
    description="One check-in referring to the original context; no reply in 7 days: archived.",
)
BUILTIN_CADENCES: Mapping[str, Cadence] = MappingProxyType(
    {DEFAULT_CADENCE.name: DEFAULT_CADENCE, RE_ENGAGEMENT_CADENCE.name: RE_ENGAGEMENT_CADENCE}
)


def trigger_for(cadence: str, number: int) -> str:
    """The draft trigger of a cadence step: `cadence:<name>:<step>`."""
    return f"cadence:{cadence}:{number}"


def parse_trigger(trigger: str) -> tuple[str, int] | None:
    match = _TRIGGER.match(trigger)
    if match is None:
        return None
    return match.group("name"), int(match.group("step"))


# --------------------------------------------------------------------------- playbook settings


class ReplyEvent(StrEnum):
    POSITIVE = "positive"  # interested, meeting request
    QUESTION = "question"
    OBJECTION = "objection"
    NOT_INTERESTED = "not_interested"
    REFERRAL = "referral"  # referral, wrong person
    NOT_NOW = "not_now"  # "not now", "follow up later": no date stated
    AMBIGUOUS = "ambiguous"  # "let's talk next quarter": a date, or unclear what they want
    OUT_OF_OFFICE = "out_of_office"
    BOUNCE = "bounce"
    OPT_OUT = "opt_out"


class Action(StrEnum):
    STOP = "stop"
    PAUSE_AND_CONFIRM = "pause_and_confirm"  # pause; the owner confirms a resume date
    ASK_OWNER = "ask_owner"  # pause; ONE question: pause until / keep running / stop
    PAUSE = "pause"  # out-of-office: until the return date, then go on by itself
    SWITCH_OR_STOP = "switch_or_stop"  # hard bounce: alternate address, or stop and suppress
    NONE = "none"  # nothing to change (a soft bounce)


HUMAN_EVENTS = frozenset(ReplyEvent) - {ReplyEvent.OUT_OF_OFFICE, ReplyEvent.BOUNCE}
_PERSON_ACTIONS = (Action.STOP, Action.PAUSE_AND_CONFIRM, Action.ASK_OWNER)
ALLOWED_ACTIONS: Mapping[ReplyEvent, tuple[Action, ...]] = MappingProxyType(
    {
        ReplyEvent.POSITIVE: _PERSON_ACTIONS,
        ReplyEvent.QUESTION: _PERSON_ACTIONS,
        ReplyEvent.OBJECTION: _PERSON_ACTIONS,
        ReplyEvent.NOT_INTERESTED: _PERSON_ACTIONS,
        ReplyEvent.REFERRAL: _PERSON_ACTIONS,
        ReplyEvent.NOT_NOW: (Action.PAUSE_AND_CONFIRM, Action.ASK_OWNER, Action.STOP),
        ReplyEvent.AMBIGUOUS: (Action.ASK_OWNER, Action.PAUSE_AND_CONFIRM, Action.STOP),
        ReplyEvent.OUT_OF_OFFICE: (Action.PAUSE, Action.ASK_OWNER, Action.STOP),
        ReplyEvent.BOUNCE: (Action.SWITCH_OR_STOP, Action.ASK_OWNER, Action.STOP),
        ReplyEvent.OPT_OUT: (Action.STOP,),
    }
)
DEFAULT_ACTIONS: Mapping[ReplyEvent, Action] = MappingProxyType(
    {
        ReplyEvent.POSITIVE: Action.STOP,
        ReplyEvent.QUESTION: Action.STOP,
        ReplyEvent.OBJECTION: Action.STOP,
        ReplyEvent.NOT_INTERESTED: Action.STOP,
        ReplyEvent.REFERRAL: Action.STOP,
        ReplyEvent.NOT_NOW: Action.PAUSE_AND_CONFIRM,
        ReplyEvent.AMBIGUOUS: Action.ASK_OWNER,
        ReplyEvent.OUT_OF_OFFICE: Action.PAUSE,
        ReplyEvent.BOUNCE: Action.SWITCH_OR_STOP,
        ReplyEvent.OPT_OUT: Action.STOP,
    }
)


@dataclass(frozen=True, slots=True)
class Playbook:
    actions: Mapping[ReplyEvent, Action] = field(default_factory=lambda: DEFAULT_ACTIONS)
    confirm_opt_out: bool = True  # draft the one-line confirmation for approval

    def __post_init__(self) -> None:
        for event, action in self.actions.items():
            allowed = ALLOWED_ACTIONS[event]
            if action not in allowed:
                raise CadenceConfigError(
                    f"playbook.{event.value}: {action.value!r} is not allowed; "
                    f"allowed: {', '.join(a.value for a in allowed)}"
                )

    def action(self, event: ReplyEvent) -> Action:
        return self.actions.get(event, DEFAULT_ACTIONS[event])


@dataclass(frozen=True, slots=True)
class EnrolRules:
    """Automatic enrolment; every rule is off unless it names a cadence."""

    stages: Mapping[str, str] = field(default_factory=dict)  # CRM stage -> cadence
    inbound_leads: str = ""  # cadence for inbound leads we have answered
    silent: str = ""  # cadence for contacts silent `silent_after` or longer
    silent_after: timedelta = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class CadenceConfig:
    cadences: Mapping[str, Cadence] = field(default_factory=lambda: BUILTIN_CADENCES)
    default: str = DEFAULT_CADENCE.name
    stop_on_company_reply: bool = True
    out_of_office_days: int = 5  # business days, when an out-of-office states no return date
    resume_after_return_days: int = 1  # business days after the return date
    not_now_days: int = 30  # the resume date proposed when a "not now" names none
    enrol: EnrolRules = EnrolRules()
    playbook: Playbook = Playbook()

    def __post_init__(self) -> None:
        known = ", ".join(sorted(self.cadences))
        named = [("default", self.default)]
        named += [(f"enrol.stages.{stage}", name) for stage, name in self.enrol.stages.items()]
        named += [("enrol.inbound_leads", self.enrol.inbound_leads)]
        named += [("enrol.silent", self.enrol.silent)]
        for key, name in named:
            if name and name not in self.cadences:
                raise CadenceConfigError(f"{key}: no cadence {name!r}; defined: {known}")
        for key, value in (
            ("out_of_office_days", self.out_of_office_days),
            ("resume_after_return_days", self.resume_after_return_days),
            ("not_now_days", self.not_now_days),
        ):
            if value < 0:
                raise CadenceConfigError(f"{key}: must be 0 or more")

    def cadence(self, name: str) -> Cadence | None:
        return self.cadences.get(name)


# --------------------------------------------------------------------------- enrolment state


class EnrolmentStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"
    COMPLETED = "completed"  # every step ran, no reply: archived


LIVE_STATUSES = frozenset({EnrolmentStatus.ACTIVE, EnrolmentStatus.PAUSED})


class EndReason(StrEnum):
    REPLIED = "replied"
    CONVERSATION = "conversation"  # a call or meeting with them
    OPT_OUT = "opt_out"
    BOUNCED = "bounced"
    UNREACHABLE = "unreachable"  # do-not-contact, deceased, suppressed, no address
    DEAL_CLOSED = "deal_closed"
    CONTACT_REMOVED = "contact_removed"
    SEND_FAILED = "send_failed"
    OWNER_STOPPED = "owner_stopped"
    COMPLETED = "completed"


@dataclass(frozen=True, slots=True)
class Enrolment:
    id: int
    deal_id: str
    contact_id: str
    cadence: str
    status: EnrolmentStatus
    enrolled_at: datetime
    enrolled_by: str
    via: str = "manual"  # manual, slack, stage, inbound_lead, silent
    next_index: int = 0  # steps[next_index] is the next step to draft (or the pending one)
    touches: int = 0  # cadence steps sent in this enrolment
    last_touch_at: datetime | None = None
    angles: tuple[str, ...] = ()  # angles of the steps sent, oldest first
    pending_draft_id: int | None = None
    not_before: datetime | None = None
    paused_until: datetime | None = None
    pause_reason: str | None = None
    awaiting_owner: bool = False  # paused until a person decides: never resumes by itself
    handled_until: datetime | None = None  # inbound up to here went through the playbook
    acknowledged_until: datetime | None = None  # inbound up to here needs no more decisions
    to_address: str | None = None
    replied_at: datetime | None = None
    replied_step: int | None = None
    reply_intent: str | None = None
    touches_before_reply: int | None = None
    ended_at: datetime | None = None
    end_reason: EndReason | None = None
    confirmation_pending: bool = False  # an opt-out confirmation still has to be queued
    version: int = 1

    @property
    def live(self) -> bool:
        return self.status in LIVE_STATUSES


def touches_so_far(cadence: Cadence, enrolment: Enrolment) -> int:
    """Touches counted against `max_touches`: touch 1 when the cadence starts at step 2."""
    return cadence.first_step - 1 + enrolment.touches


def last_step_number(cadence: Cadence, enrolment: Enrolment) -> int | None:
    """The number of the last step that reached them (touch 1 for a step-2 cadence)."""
    number = touches_so_far(cadence, enrolment)
    return number if number > 0 else None


# --------------------------------------------------------------------------- time


def _is_business_day(day: date, window: SendWindowConfig) -> bool:
    days = window.days or frozenset(range(5))
    return day.weekday() in days and day not in window.holiday_dates


def add_business_days(day: date, count: int, window: SendWindowConfig) -> date:
    """The date `count` business days after `day` (the send window's weekdays, no holidays)."""
    current = day
    added = 0
    while added < count:
        current += _ONE_DAY
        if _is_business_day(current, window):
            added += 1
    return current


def _at_local(day: date, at: time, zone: str) -> datetime:
    return datetime.combine(day, at, tzinfo=zone_info(zone)).astimezone(UTC)


def later_by(
    instant: datetime, days: int, zone: str, window: SendWindowConfig, *, business: bool = False
) -> datetime:
    """`days` calendar (or business) days after `instant`, at the same wall-clock time in
    `zone`."""
    local = instant.astimezone(zone_info(zone))
    day = local.date()
    target = add_business_days(day, days, window) if business else day + timedelta(days=days)
    return _at_local(target, local.time().replace(tzinfo=None), zone)


def out_of_office_until(
    return_on: date | None,
    received_at: datetime,
    zone: str,
    window: SendWindowConfig,
    *,
    default_days: int = 5,
    after_days: int = 1,
) -> datetime:
    """When a cadence paused for an out-of-office goes on: `after_days` business days after the
    stated return date (none stated: `default_days` business days after the message), from
    midnight in the contact's zone."""
    if return_on is None:
        received_day = received_at.astimezone(zone_info(zone)).date()
        return_on = add_business_days(received_day, default_days, window)
    return _at_local(add_business_days(return_on, after_days, window), time(0), zone)


# --------------------------------------------------------------------------- contacts


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def company_domain(contact: Contact) -> str | None:
    """The contact's company email domain; None for a free-mail address or no address."""
    for address in contact.addresses:
        domain = _domain(address)
        if domain and domain not in FREEMAIL_DOMAINS:
            return domain
    return None


def _person_block(contact: Contact, suppressions: Mapping[str, str]) -> str | None:
    """A suppression that covers the person (opt-out, complaint, domain), not one address."""
    for address in contact.addresses:
        for key in (address, _domain(address)):
            reason = suppressions.get(key)
            if reason is not None and not (key == address and reason == "hard_bounce"):
                return f"{key} is suppressed ({reason})"
    return None


def deliverable_address(
    contact: Contact, suppressions: Mapping[str, str], preferred: str | None = None
) -> str | None:
    """The address to write to: `preferred` when it is still the contact's and not
    suppressed, else the first of the contact's addresses (email, then alternates) that is
    not."""
    addresses = contact.addresses
    candidates = ([preferred.lower()] if preferred else []) + list(addresses)
    for address in candidates:
        if address in addresses and address not in suppressions:
            return address
    return None


def reachability(contact: Contact, suppressions: Mapping[str, str]) -> EndReason | None:
    """Why nothing may be written to `contact`, or None when something may."""
    if contact.status is ContactStatus.DO_NOT_CONTACT:
        return EndReason.OPT_OUT
    if contact.status is ContactStatus.BOUNCED:
        return EndReason.BOUNCED
    if contact.status is not ContactStatus.ACTIVE:
        return EndReason.UNREACHABLE
    if _person_block(contact, suppressions) is not None:
        return EndReason.UNREACHABLE
    if not contact.addresses:
        return EndReason.UNREACHABLE
    if deliverable_address(contact, suppressions) is None:
        return EndReason.BOUNCED
    return None


# --------------------------------------------------------------------------- replies


def _is_automated(activity: Activity) -> bool:
    """An auto-reply or a bounce, as the inbox read it (`Activity.reading`); rows stored by
    older versions carry the verdict as `extra["mail_kind"]`."""
    if activity.reading is not None:
        return activity.reading.automated
    return str(activity.extra.get(MAIL_KIND, "")) in _AUTOMATED


def _from_them(activity: Activity, contact: Contact, domain: str | None) -> bool:
    sender = (activity.from_address or "").lower()
    if sender:
        return sender in contact.addresses or (domain is not None and _domain(sender) == domain)
    return activity.contact_id == contact.id


_NOT_A_CONVERSATION = re.compile(
    r"no[ -]?answer|voice ?mail|left (?:a )?(?:message|vm)|busy|no[ -]?show|not reached|"
    r"unreachable|cancel",
    re.IGNORECASE,
)


def _is_conversation(activity: Activity, contact: Contact) -> bool:
    if activity.kind is ActivityKind.MEETING:
        return activity.contact_id in (None, contact.id)
    if activity.kind is ActivityKind.CALL:
        if activity.contact_id not in (None, contact.id):
            return False
        return not (activity.outcome and _NOT_A_CONVERSATION.search(activity.outcome))
    return False


def _latest(*moments: datetime | None) -> datetime | None:
    found = [m for m in moments if m is not None]
    return max(found) if found else None


def _union(view: DealView, inbound: Iterable[Activity]) -> list[Activity]:
    seen: dict[str, Activity] = {a.id: a for a in view.activities}
    for activity in inbound:
        seen.setdefault(activity.id, activity)
    return sorted(seen.values(), key=lambda a: (a.at, a.id))


def _about_them(activity: Activity, contact: Contact, domain: str | None) -> bool:
    """Whether an inbound message concerns the contact: sent by them (or, for a person's
    reply, by their company), or a bounce of one of their addresses."""
    failed = activity.extra.get("failed_recipient")
    if isinstance(failed, str) and failed:
        return failed.lower() in contact.addresses
    if _is_automated(activity):
        return _from_them(activity, contact, None)  # a colleague's autoresponder is no signal
    return _from_them(activity, contact, domain)


def unhandled_inbound(
    enrolment: Enrolment,
    contact: Contact,
    view: DealView,
    inbound: Iterable[Activity] = (),
    *,
    stop_on_company_reply: bool = True,
) -> list[Activity]:
    """Inbound messages about the contact that the playbook has not seen yet, oldest first:
    replies from them (or their company), and automatic replies and bounces (inbound emails,
    or notes carrying `extra["mail_kind"]` as the inbox records them). `inbound` adds
    messages from the contact's company domain found on other deals."""
    domain = company_domain(contact) if stop_on_company_reply else None
    since = _latest(enrolment.enrolled_at, enrolment.handled_until)
    assert since is not None
    return [
        a
        for a in _union(view, inbound)
        if a.at > since
        and (a.is_inbound_email or _is_automated(a))
        and _about_them(a, contact, domain)
    ]


def stop_signals(
    enrolment: Enrolment,
    contact: Contact,
    view: DealView,
    inbound: Iterable[Activity] = (),
    *,
    stop_on_company_reply: bool = True,
) -> list[Activity]:
    """What stops the cadence by itself, oldest first: replies from the contact (or company)
    the playbook has not handled, and calls or meetings with them since a person last
    decided."""
    domain = company_domain(contact) if stop_on_company_reply else None
    handled = _latest(enrolment.enrolled_at, enrolment.handled_until)
    decided = _latest(enrolment.enrolled_at, enrolment.acknowledged_until)
    assert handled is not None
    assert decided is not None
    found: list[Activity] = []
    for activity in _union(view, inbound):
        if activity.is_inbound_email:
            if (
                activity.at > handled
                and not _is_automated(activity)
                and _from_them(activity, contact, domain)
            ):
                found.append(activity)
        elif (
            activity.deal_id == view.deal.id
            and activity.at > decided
            and _is_conversation(activity, contact)
        ):
            found.append(activity)
    return found


def _unacknowledged(
    enrolment: Enrolment,
    contact: Contact,
    view: DealView,
    inbound: Iterable[Activity],
    domain_on: bool,
) -> Activity | None:
    """A person's reply that was handled but not yet decided upon (belt and braces)."""
    domain = company_domain(contact) if domain_on else None
    decided = _latest(enrolment.enrolled_at, enrolment.acknowledged_until)
    assert decided is not None
    for activity in _union(view, inbound):
        if (
            activity.is_inbound_email
            and activity.at > decided
            and not _is_automated(activity)
            and _from_them(activity, contact, domain)
        ):
            return activity
    return None


def _latest_touch(view: DealView, contact: Contact, until: datetime) -> datetime | None:
    """The latest message sent to the contact on the deal, at or before `until`."""
    found: datetime | None = None
    for activity in view.activities:
        if activity.at > until:
            continue
        outbound = (
            activity.kind is ActivityKind.EMAIL and activity.direction is Direction.OUT
        ) or activity.kind in (ActivityKind.PROPOSAL_SENT, ActivityKind.QUOTE_SENT)
        if not outbound:
            continue
        recipients = {a.lower() for a in activity.to_addresses}
        to_them = (
            bool(recipients & set(contact.addresses))
            if recipients
            else activity.contact_id in (None, contact.id)
        )
        if to_them and (found is None or activity.at > found):
            found = activity.at
    return found


# --------------------------------------------------------------------------- decide


class Verdict(StrEnum):
    ENDED = "ended"
    WAIT = "wait"
    DRAFT = "draft"
    STOP = "stop"
    COMPLETE = "complete"


@dataclass(frozen=True, slots=True)
class StepDue:
    index: int
    number: int
    angle: str
    template: str
    to_address: str
    due_at: datetime
    send_at: datetime
    zone: str
    reason: str
    evidence: tuple[str, ...]
    max_lines: int | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    why: str
    wake_at: datetime | None = None  # WAIT: when to look again (None: only new data helps)
    step: StepDue | None = None
    end_reason: EndReason | None = None
    signal: Activity | None = None  # STOP on a reply, call or meeting: which one
    resumed: bool = False  # a pause ended: the enrolment is active again


@dataclass(frozen=True, slots=True)
class CadenceFacts:
    view: DealView
    suppressions: Mapping[str, str] = field(default_factory=dict)  # value -> reason
    inbound: Sequence[Activity] = ()  # company-domain inbound from other deals
    deal_paused_until: datetime | None = None  # the deal is paused or snoozed
    previous_angle: str | None = None  # angle of the latest message sent to the contact


def _stamp(moment: datetime, zone: str) -> str:
    local = moment.astimezone(zone_info(zone))
    return f"{local:%a} {local.day} {local:%b}"


def _alternate_angle(wanted: str, last: str | None, used: Sequence[str]) -> str:
    if wanted != last:
        return wanted
    start = ANGLES.index(wanted) + 1 if wanted in ANGLES else 0
    rotated = ANGLES[start:] + ANGLES[:start]
    tiers = (
        [a for a in rotated if a != last and a != "final_outreach" and a not in used],
        [a for a in rotated if a != last and a != "final_outreach"],
    )
    return next(tier[0] for tier in tiers if tier)


def decide(
    cadence: Cadence,
    enrolment: Enrolment,
    facts: CadenceFacts,
    now: datetime,
    window: SendWindowConfig,
    *,
    stop_on_company_reply: bool = True,
) -> Decision:
    """What is due for `enrolment` as of `now` (see the module docstring for the order)."""
    if now.tzinfo is None:
        raise ValueError("now has no time zone; pass an aware datetime")
    if not enrolment.live:
        return Decision(Verdict.ENDED, f"the enrolment is {enrolment.status.value}")
    view = facts.view
    deal = view.deal
    if deal.status is not DealStatus.OPEN:
        status = deal.status.value.replace("_", " ")
        return Decision(Verdict.STOP, f"the deal is {status}", end_reason=EndReason.DEAL_CLOSED)
    contact = next((c for c in view.contacts if c.id == enrolment.contact_id), None)
    if contact is None:
        return Decision(
            Verdict.STOP,
            "the contact is no longer on the deal",
            end_reason=EndReason.CONTACT_REMOVED,
        )
    unreachable = reachability(contact, facts.suppressions)
    if unreachable is not None:
        why = {
            EndReason.OPT_OUT: "the contact opted out",
            EndReason.BOUNCED: "no address of the contact can be written to (bounced)",
        }.get(unreachable, "the contact cannot be written to")
        return Decision(Verdict.STOP, why, end_reason=unreachable)
    signals = stop_signals(
        enrolment, contact, view, facts.inbound, stop_on_company_reply=stop_on_company_reply
    )
    if signals:
        first = signals[0]
        if first.is_inbound_email:
            who = (first.from_address or contact.name).lower()
            return Decision(
                Verdict.STOP,
                f"{who} replied",
                end_reason=EndReason.REPLIED,
                signal=first,
            )
        return Decision(
            Verdict.STOP,
            f"a {first.kind.value} with them was logged",
            end_reason=EndReason.CONVERSATION,
            signal=first,
        )
    zone = recipient_zone(contact, view.owner, window)
    resumed = False
    not_before = enrolment.not_before
    if enrolment.status is EnrolmentStatus.PAUSED:
        if enrolment.awaiting_owner or enrolment.paused_until is None:
            return Decision(Verdict.WAIT, "paused until a person decides")
        if enrolment.paused_until > now:
            return Decision(
                Verdict.WAIT,
                f"paused until {_stamp(enrolment.paused_until, zone)}",
                wake_at=enrolment.paused_until,
            )
        resumed = True
        not_before = _latest(not_before, enrolment.paused_until)
    pending_reply = _unacknowledged(enrolment, contact, view, facts.inbound, stop_on_company_reply)
    if pending_reply is not None:
        return Decision(Verdict.WAIT, "a reply awaits a person's decision", resumed=resumed)
    if enrolment.pending_draft_id is not None:
        number = cadence.number(enrolment.next_index)
        return Decision(Verdict.WAIT, f"step {number} awaits approval or sending", resumed=resumed)
    if facts.deal_paused_until is not None and facts.deal_paused_until > now:
        return Decision(
            Verdict.WAIT,
            "the deal is paused",
            wake_at=facts.deal_paused_until,
            resumed=resumed,
        )
    touched = _latest(enrolment.last_touch_at, _latest_touch(view, contact, now))
    done = touches_so_far(cadence, enrolment)
    if enrolment.next_index >= cadence.usable_steps or done >= cadence.max_touches:
        last = touched or enrolment.enrolled_at
        end = last + timedelta(days=cadence.archive_after_days)
        if now >= end:
            return Decision(
                Verdict.COMPLETE,
                f"no reply in {cadence.archive_after_days} days after the last step: archived",
                end_reason=EndReason.COMPLETED,
                resumed=resumed,
            )
        return Decision(
            Verdict.WAIT, "every step ran; waiting for a reply", wake_at=end, resumed=resumed
        )
    step = cadence.steps[enrolment.next_index]
    number = cadence.number(enrolment.next_index)
    baseline = touched or enrolment.enrolled_at
    due = later_by(baseline, step.days, zone, window, business=step.business_days)
    if cadence.first_step == 1 and enrolment.touches == 0:
        due = max(due, enrolment.enrolled_at)
    if not_before is not None:
        due = max(due, not_before)
    if due > now:
        return Decision(
            Verdict.WAIT, f"step {number} is due {_stamp(due, zone)}", wake_at=due, resumed=resumed
        )
    address = deliverable_address(contact, facts.suppressions, enrolment.to_address)
    assert address is not None  # reachability checked it
    last_angle = enrolment.angles[-1] if enrolment.angles else facts.previous_angle
    angle = _alternate_angle(step.angle, last_angle, enrolment.angles)
    template = step.template_name if angle == step.angle else angle
    owner_id = deal.owner_id
    send_at = next_send_time(max(due, now), zone, window, owner_id)
    since = (
        f"{step.gap_text} since the last touch on {_stamp(touched, zone)}"
        if touched is not None
        else f"{step.gap_text} since enrolment on {_stamp(enrolment.enrolled_at, zone)}"
    )
    reason = f"Cadence {cadence.name}, step {number} ({angle.replace('_', ' ')}): {since}, no reply"
    evidence = [
        f"Enrolled: {_stamp(enrolment.enrolled_at, zone)} by {enrolment.enrolled_by}",
        f"Touches so far: {done} of {cadence.max_touches}",
    ]
    if enrolment.angles:
        evidence.append("Angles used: " + ", ".join(enrolment.angles))
    if angle != step.angle:
        evidence.append(
            f"Angle {angle!r} instead of {step.angle!r}: never the same angle twice in a row"
        )
    return Decision(
        Verdict.DRAFT,
        reason,
        step=StepDue(
            index=enrolment.next_index,
            number=number,
            angle=angle,
            template=template,
            to_address=address,
            due_at=due,
            send_at=send_at,
            zone=zone,
            reason=reason,
            evidence=tuple(evidence),
            max_lines=step.max_lines,
        ),
        resumed=resumed,
    )


# --------------------------------------------------------------------------- transitions


@dataclass(frozen=True, slots=True)
class PendingOutcome:
    """What became of the draft of the pending step."""

    status: str  # a DraftStatus value
    at: datetime | None  # when it was decided, or sent
    angle: str | None = None


def settle(enrolment: Enrolment, outcome: PendingOutcome, now: datetime) -> Enrolment:
    """The enrolment after its pending step's draft reached `outcome`.

    sent: the step is a touch and the next step comes its gap later; dismissed: the step is
    skipped (not a touch), the next one comes its gap after the dismissal; snoozed or
    withdrawn: the same step again, not before then (a deal pause or a reply is checked
    separately); failed: unchanged here (the flows stop the enrolment)."""
    at = outcome.at or now
    if outcome.status in ("pending", "approved", "failed"):
        return enrolment
    if outcome.status == "sent":
        angle = outcome.angle
        return replace(
            enrolment,
            pending_draft_id=None,
            next_index=enrolment.next_index + 1,
            touches=enrolment.touches + 1,
            last_touch_at=at,
            angles=(*enrolment.angles, angle) if angle else enrolment.angles,
            not_before=None,
        )
    if outcome.status == "dismissed":
        # Skipped, not a touch: the next step's gap (and archiving) count from the dismissal.
        return replace(
            enrolment,
            pending_draft_id=None,
            next_index=enrolment.next_index + 1,
            last_touch_at=_latest(enrolment.last_touch_at, at),
            not_before=None,
        )
    return replace(enrolment, pending_draft_id=None, not_before=_latest(enrolment.not_before, at))


def stopped(
    enrolment: Enrolment,
    reason: EndReason,
    now: datetime,
    cadence: Cadence | None = None,
    *,
    replied_at: datetime | None = None,
    intent: str | None = None,
) -> Enrolment:
    """The enrolment ended for `reason`; a reply (with its intent) is recorded once."""
    if replied_at is not None and cadence is not None:
        enrolment = _replied(enrolment, cadence, replied_at, intent)
    completed = reason is EndReason.COMPLETED
    return replace(
        enrolment,
        status=EnrolmentStatus.COMPLETED if completed else EnrolmentStatus.STOPPED,
        end_reason=reason,
        ended_at=now,
        awaiting_owner=False,
        paused_until=None,
    )


def resumed(enrolment: Enrolment) -> Enrolment:
    """A pause whose end has come: active again, the next step not before the pause's end."""
    if enrolment.status is not EnrolmentStatus.PAUSED or enrolment.paused_until is None:
        return enrolment
    return replace(
        enrolment,
        status=EnrolmentStatus.ACTIVE,
        not_before=_latest(enrolment.not_before, enrolment.paused_until),
        paused_until=None,
        pause_reason=None,
    )


def _replied(enrolment: Enrolment, cadence: Cadence, at: datetime, intent: str | None) -> Enrolment:
    if enrolment.replied_at is not None:
        return enrolment
    done = touches_so_far(cadence, enrolment)
    return replace(
        enrolment,
        replied_at=at,
        replied_step=done or None,
        reply_intent=intent,
        touches_before_reply=done,
    )


# --------------------------------------------------------------------------- playbook


class QuestionKind(StrEnum):
    CONFIRM_RESUME = "confirm_resume"  # "not now": when should the cadence pick up again?
    PAUSE_KEEP_STOP = "pause_keep_stop"  # ambiguous: pause until <date> / keep running / stop
    STALE_ADDRESS = "stale_address"  # the address looks stale: keep running / stop


class Choice(StrEnum):
    PAUSE_UNTIL = "pause_until"
    KEEP_RUNNING = "keep_running"
    STOP = "stop"


QUESTION_CHOICES: Mapping[QuestionKind, tuple[Choice, ...]] = MappingProxyType(
    {
        QuestionKind.CONFIRM_RESUME: (Choice.PAUSE_UNTIL, Choice.STOP),
        QuestionKind.PAUSE_KEEP_STOP: (Choice.PAUSE_UNTIL, Choice.KEEP_RUNNING, Choice.STOP),
        QuestionKind.STALE_ADDRESS: (Choice.KEEP_RUNNING, Choice.STOP),
    }
)


@dataclass(frozen=True, slots=True)
class QuestionPlan:
    kind: QuestionKind
    text: str
    proposed_until: date | None = None

    @property
    def choices(self) -> tuple[Choice, ...]:
        return QUESTION_CHOICES[self.kind]


@dataclass(frozen=True, slots=True)
class OwnerQuestion:
    """ONE question to the deal's owner about one enrolment, with buttons (choices)."""

    id: int
    enrolment_id: int
    deal_id: str
    contact_id: str
    kind: QuestionKind
    text: str
    proposed_until: date | None
    created_at: datetime
    status: str = "open"  # open, answered, cancelled
    answer: str | None = None
    answer_until: date | None = None
    answered_by: str | None = None
    answered_at: datetime | None = None

    @property
    def choices(self) -> tuple[Choice, ...]:
        return QUESTION_CHOICES[self.kind]


@dataclass(frozen=True, slots=True)
class ReplyFacts:
    """One classified inbound message, as the playbook needs it."""

    intent: str  # a triggers.reading.Intent value
    sentiment: str
    received_at: datetime
    from_address: str | None = None
    resume_on: date | None = None  # a stated return or resume date
    failed_address: str | None = None  # bounce: the recipient that failed
    hard_bounce: bool = True
    stale: bool = False  # the address looks stale: the contact changed company
    from_contact: bool = True  # False: a colleague at the same company domain wrote


@dataclass(frozen=True, slots=True)
class ReplyPlan:
    event: ReplyEvent
    action: Action
    enrolment: Enrolment  # the state after the plan
    handoff: bool  # a person's reply: hand it to the right person
    question: QuestionPlan | None = None
    suppress: tuple[tuple[str, str], ...] = ()  # (address, reason)
    opt_out_address: str | None = None  # suppress and mark do-not-contact
    mark_bounced: bool = False  # no address left: the contact is bounced
    confirmation: bool = False  # queue the one-line opt-out confirmation for approval
    withdraw_pending: bool = False  # the pending step's draft must not go out now
    note: str = ""


_REPLY_EVENTS: Mapping[str, ReplyEvent] = MappingProxyType(
    {
        "interested": ReplyEvent.POSITIVE,
        "meeting_request": ReplyEvent.POSITIVE,
        "question": ReplyEvent.QUESTION,
        "objection": ReplyEvent.OBJECTION,
        "not_interested": ReplyEvent.NOT_INTERESTED,
        "referral": ReplyEvent.REFERRAL,
        "wrong_person": ReplyEvent.REFERRAL,
        "out_of_office": ReplyEvent.OUT_OF_OFFICE,
        "opt_out": ReplyEvent.OPT_OUT,
        "bounce": ReplyEvent.BOUNCE,
        "other": ReplyEvent.AMBIGUOUS,
    }
)


def reply_event(intent: str, resume_on: date | None = None) -> ReplyEvent:
    """The playbook event for a classified reply. A "not now" with a stated date ("let's talk
    next quarter") is ambiguous: pause until then, keep running or stop is the owner's call;
    without one the owner confirms a resume date. An unknown intent is ambiguous."""
    if intent == "not_now":
        return ReplyEvent.AMBIGUOUS if resume_on is not None else ReplyEvent.NOT_NOW
    return _REPLY_EVENTS.get(intent, ReplyEvent.AMBIGUOUS)


_STALE = re.compile(
    r"(?:no longer|not any ?more|isn'?t|is not) (?:with|at|employed|working)|"
    r"(?:has |have )?left (?:the|our) (?:company|business|organi[sz]ation|firm)|"
    r"(?:has |have )?moved on|last day (?:at|with)|ist nicht mehr|n'est plus|ya no trabaja|"
    r"non lavora più|não trabalha mais|werkt (?:hier )?niet meer",
    re.IGNORECASE,
)


def looks_stale(text: str) -> bool:
    """Whether a bounce or auto-reply says the person has left (the address is stale)."""
    return bool(_STALE.search(text))


def _proposed(resume_on: date | None, now: datetime, zone: str, days: int) -> date:
    today = now.astimezone(zone_info(zone)).date()
    if resume_on is not None and resume_on > today:
        return resume_on
    return today + timedelta(days=days)


def _say(contact: Contact) -> str:
    return contact.name.split()[0] if contact.name.strip() else contact.name


def plan_reply(
    config: CadenceConfig,
    cadence: Cadence,
    enrolment: Enrolment,
    contact: Contact,
    reply: ReplyFacts,
    suppressions: Mapping[str, str],
    zone: str,
    window: SendWindowConfig,
    now: datetime,
) -> ReplyPlan:
    """What one inbound message does to a live enrolment, by the playbook."""
    event = reply_event(reply.intent, reply.resume_on)
    action = config.playbook.action(event)
    at = reply.received_at
    seen = replace(
        enrolment, handled_until=_latest(enrolment.handled_until, at)
    )  # the playbook saw it
    name = _say(contact)
    if not enrolment.live:
        return ReplyPlan(event, Action.NONE, seen, event in HUMAN_EVENTS, note="not enrolled")

    if event is ReplyEvent.OUT_OF_OFFICE:
        seen = replace(seen, acknowledged_until=_latest(seen.acknowledged_until, at))
        if action is Action.STOP:
            ended = stopped(seen, EndReason.OWNER_STOPPED, now, cadence)
            return ReplyPlan(event, action, ended, False, withdraw_pending=True, note="stopped")
        if enrolment.awaiting_owner:
            return ReplyPlan(event, Action.NONE, seen, False, note="already waiting for a person")
        until = out_of_office_until(
            reply.resume_on,
            at,
            zone,
            window,
            default_days=config.out_of_office_days,
            after_days=config.resume_after_return_days,
        )
        if action is Action.ASK_OWNER:
            paused = replace(
                seen,
                status=EnrolmentStatus.PAUSED,
                paused_until=None,
                pause_reason="out_of_office",
                awaiting_owner=True,
            )
            text = (
                f"{name} is out of office. Pause the cadence until "
                f"{_stamp(until, zone)}, keep running, or stop?"
            )
            local_day = until.astimezone(zone_info(zone)).date()
            question = QuestionPlan(QuestionKind.PAUSE_KEEP_STOP, text, local_day)
            return ReplyPlan(event, action, paused, False, question=question, withdraw_pending=True)
        until = max(until, enrolment.paused_until or until)
        paused = replace(
            seen,
            status=EnrolmentStatus.PAUSED,
            paused_until=until,
            pause_reason="out_of_office",
            awaiting_owner=False,
        )
        note = f"out of office: paused until {_stamp(until, zone)}"
        return ReplyPlan(event, action, paused, False, withdraw_pending=True, note=note)

    if event is ReplyEvent.BOUNCE:
        seen = replace(seen, acknowledged_until=_latest(seen.acknowledged_until, at))
        if not reply.hard_bounce:
            return ReplyPlan(event, Action.NONE, seen, False, note="soft bounce: mail retries")
        failed = (reply.failed_address or enrolment.to_address or contact.email or "").lower()
        suppress = ((failed, "hard_bounce"),) if failed else ()
        after = dict(suppressions) | dict(suppress)
        alternate = deliverable_address(contact, after)
        if action is Action.STOP:
            ended = stopped(seen, EndReason.BOUNCED, now, cadence)
            return ReplyPlan(
                event,
                action,
                ended,
                False,
                suppress=suppress,
                mark_bounced=alternate is None,
                withdraw_pending=True,
                note=f"{failed} bounced: stopped",
            )
        if action is Action.ASK_OWNER or reply.stale:
            paused = replace(
                seen,
                status=EnrolmentStatus.PAUSED,
                paused_until=None,
                pause_reason="stale_address",
                awaiting_owner=True,
                to_address=alternate,
            )
            text = (
                f"{failed} bounced and looks stale ({name} may have changed company). "
                "Update the contact in the CRM and keep running, or stop?"
            )
            return ReplyPlan(
                event,
                Action.ASK_OWNER,
                paused,
                False,
                question=QuestionPlan(QuestionKind.STALE_ADDRESS, text),
                suppress=suppress,
                withdraw_pending=True,
                note=f"{failed} bounced and looks stale: asked the owner",
            )
        if alternate is not None:
            switched = replace(seen, to_address=alternate)
            note = f"{failed} bounced: switched to {alternate}"
            return ReplyPlan(
                event, action, switched, False, suppress=suppress, withdraw_pending=True, note=note
            )
        ended = stopped(seen, EndReason.BOUNCED, now, cadence)
        return ReplyPlan(
            event,
            action,
            ended,
            False,
            suppress=suppress,
            mark_bounced=True,
            withdraw_pending=True,
            note=f"{failed} bounced and no other address is known: stopped and suppressed",
        )

    replied = _replied(seen, cadence, at, reply.intent)
    if event is ReplyEvent.OPT_OUT and not reply.from_contact:
        # A colleague opted out: their address is suppressed; for this contact it is a reply.
        ended = stopped(replied, EndReason.REPLIED, now, cadence)
        return ReplyPlan(
            event,
            Action.STOP,
            ended,
            True,
            opt_out_address=(reply.from_address or "").lower() or None,
            withdraw_pending=True,
            note="a colleague opted out: stopped",
        )
    if event is ReplyEvent.OPT_OUT:
        ended = stopped(replied, EndReason.OPT_OUT, now, cadence)
        ended = replace(ended, confirmation_pending=config.playbook.confirm_opt_out)
        address = (reply.from_address or contact.email or "").lower() or None
        return ReplyPlan(
            event,
            action,
            ended,
            True,
            opt_out_address=address,
            confirmation=config.playbook.confirm_opt_out,
            withdraw_pending=True,
            note="opted out: stopped, do-not-contact",
        )
    if action is Action.STOP:
        ended = stopped(replied, EndReason.REPLIED, now, cadence)
        return ReplyPlan(event, action, ended, True, withdraw_pending=True, note="stopped")
    paused = replace(
        replied,
        status=EnrolmentStatus.PAUSED,
        paused_until=None,
        pause_reason=event.value,
        awaiting_owner=True,
    )
    proposed = _proposed(reply.resume_on, now, zone, config.not_now_days)
    if action is Action.PAUSE_AND_CONFIRM:
        text = (
            f"{name} said not now. The cadence is paused: confirm when it should pick up "
            f"again (suggested: {proposed:%a} {proposed.day} {proposed:%b %Y}), or stop it."
        )
        question = QuestionPlan(QuestionKind.CONFIRM_RESUME, text, proposed)
    else:
        text = (
            f"{name}'s reply is open to reading. Pause the cadence until "
            f"{proposed:%a} {proposed.day} {proposed:%b %Y}, keep running, or stop?"
        )
        question = QuestionPlan(QuestionKind.PAUSE_KEEP_STOP, text, proposed)
    return ReplyPlan(
        event,
        action,
        paused,
        True,
        question=question,
        withdraw_pending=True,
        note=f"paused: asked the owner ({question.kind.value})",
    )


def apply_answer(
    enrolment: Enrolment,
    choice: Choice,
    now: datetime,
    *,
    until: datetime | None = None,
    cadence: Cadence | None = None,
) -> Enrolment:
    """The enrolment after the owner answered its question: the replies the playbook has seen
    are decided on (a reply it has not seen yet still stops the cadence)."""
    decided = replace(
        enrolment,
        acknowledged_until=_latest(enrolment.acknowledged_until, enrolment.handled_until),
    )
    if choice is Choice.STOP:
        return stopped(decided, EndReason.OWNER_STOPPED, now, cadence)
    if choice is Choice.KEEP_RUNNING:
        return replace(
            decided,
            status=EnrolmentStatus.ACTIVE,
            paused_until=None,
            pause_reason=None,
            awaiting_owner=False,
            not_before=_latest(decided.not_before, now),
        )
    if until is None or until <= now:
        raise ValueError("pause_until needs a date after today")
    return replace(
        decided,
        status=EnrolmentStatus.PAUSED,
        paused_until=until,
        pause_reason="owner",
        awaiting_owner=False,
    )


# --------------------------------------------------------------------------- auto-enrolment


@dataclass(frozen=True, slots=True)
class AutoEnrol:
    deal_id: str
    contact_id: str
    cadence: str
    via: str  # stage, inbound_lead, silent
    why: str


def _primary(view: DealView, suppressions: Mapping[str, str]) -> Contact | None:
    for contact in view.contacts:
        if reachability(contact, suppressions) is None:
            return contact
    return None


def _enrolled_since(past: Iterable[Enrolment], name: str | None, since: datetime | None) -> bool:
    return any(
        (name is None or e.cadence == name) and (since is None or e.enrolled_at >= since)
        for e in past
    )


def auto_enrolments(
    views: Iterable[DealView],
    enrolments: Iterable[Enrolment],
    config: CadenceConfig,
    suppressions: Mapping[str, str],
    now: datetime,
) -> list[AutoEnrol]:
    """Contacts the enrolment rules put in a cadence now (a CRM stage, an inbound lead we
    answered, or a contact silent `silent_after` or longer), one per deal, never a contact who
    is in a cadence, who opted out, or whose last message is waiting for our answer."""
    rules = config.enrol
    if not (rules.stages or rules.inbound_leads or rules.silent):
        return []
    history: dict[str, list[Enrolment]] = {}
    live: set[str] = set()
    opted_out: set[str] = set()
    for enrolment in enrolments:
        history.setdefault(enrolment.contact_id, []).append(enrolment)
        if enrolment.live:
            live.add(enrolment.contact_id)
        if enrolment.end_reason is EndReason.OPT_OUT:
            opted_out.add(enrolment.contact_id)
    found: list[AutoEnrol] = []
    for view in views:
        deal = view.deal
        if deal.status is not DealStatus.OPEN:
            continue
        contact = _primary(view, suppressions)
        if contact is None or contact.id in live or contact.id in opted_out:
            continue
        activities = [a for a in view.activities if a.at <= now]
        if not activities:
            continue
        latest = max(activities, key=lambda a: a.at)
        if latest.is_inbound_email:
            continue  # the ball is in our court: answer them, do not follow up
        touched = _latest_touch(view, contact, now)
        if touched is None:
            continue  # nothing to follow up on
        past = [e for e in history.get(contact.id, []) if e.deal_id == deal.id]
        stage_cadence = rules.stages.get(deal.stage)
        if stage_cadence and not _enrolled_since(past, stage_cadence, deal.stage_entered_at):
            why = f"the deal is in stage {deal.stage}"
            found.append(AutoEnrol(deal.id, contact.id, stage_cadence, "stage", why))
            continue
        if (
            rules.inbound_leads
            and deal.source.value == "inbound"
            and not _enrolled_since(past, rules.inbound_leads, None)
        ):
            why = "an inbound lead we answered"
            found.append(AutoEnrol(deal.id, contact.id, rules.inbound_leads, "inbound_lead", why))
            continue
        if (
            rules.silent
            and latest.at <= now - rules.silent_after
            and not _enrolled_since(past, None, latest.at)
        ):
            days = (now - latest.at).days
            why = f"silent for {days} days"
            found.append(AutoEnrol(deal.id, contact.id, rules.silent, "silent", why))
    return found


# --------------------------------------------------------------------------- drafts


_GREETING = re.compile(
    r"^(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|hallo|bonjour|hola|ciao|olá)\b"
    r".{0,60},$",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"^(?:best|thanks|thank you|cheers|regards|kind regards|best regards|warm regards|"
    r"all the best|talk soon|many thanks)[,.!]?$",
    re.IGNORECASE,
)


def content_lines(body: str, *, sign_off: str = "", signature: str = "") -> int:
    """The lines a reader sees as the message: not the greeting, the sign-off or the
    signature."""
    lines = [line.strip() for line in body.strip().splitlines() if line.strip()]
    if lines and _GREETING.match(lines[0]):
        lines = lines[1:]
    closing = {s.strip().lower() for s in (sign_off, signature) if s.strip()}
    while lines and (lines[-1].lower() in closing or _CLOSING.match(lines[-1])):
        lines.pop()
    if lines and len(lines) >= 2 and _CLOSING.match(lines[-2]) and len(lines[-1].split()) <= 3:
        lines = lines[:-2]  # "Best,\nMaya" with a signature not configured
    return len(lines)
