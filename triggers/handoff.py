"""Handoff: a reply routed to the right person with a five-second summary, sentiment first.

Pure: a classified reply, the deal and the routing map in; the category, the route and the
summary text out. Standard library only.

The summary reads, in this order: the sentiment ("warm interest", "polite deflection",
"frustration"), who and their company, which cadence step they replied to, what they said in
one sentence, the deal's stage before the reply, and the relevant history (a prior demo or
call, a proposal, an earlier "not now"). `slack_text` escapes everything that came from
outside (DESIGN rule 7) and puts the @mention in front.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from triggers.model import Activity, ActivityKind, Contact, DealView, Owner
from triggers.windows import zone_info

__all__ = [
    "DEFAULT_ROUTES",
    "Category",
    "Handoff",
    "HandoffFacts",
    "Route",
    "RoutingConfig",
    "category_for",
    "earlier_intents",
    "escape_slack",
    "looks_legal",
    "one_sentence",
    "pricing_signal",
    "relevant_history",
    "route_for",
    "sentiment_phrase",
    "slack_text",
    "summary_text",
]


class Category(StrEnum):
    """What a reply is, for routing."""

    BUYING_SIGNAL = "buying_signal"  # interested, meeting request, pricing clicks
    QUESTION = "question"
    OBJECTION = "objection"
    NOT_INTERESTED = "not_interested"
    REFERRAL = "referral"  # referral, wrong person
    NOT_NOW = "not_now"
    OPT_OUT = "opt_out"
    COMPLAINT = "complaint"  # frustration, or legal-sounding
    OTHER = "other"


OWNER = "owner"
# Route targets are "owner", a role (a key of `RoutingConfig.roles`) or a Slack user id.
DEFAULT_ROUTES: Mapping[Category, str] = MappingProxyType(
    {
        Category.BUYING_SIGNAL: "account_executive",
        Category.COMPLAINT: "manager",
        **{
            c: OWNER
            for c in (
                Category.QUESTION,
                Category.OBJECTION,
                Category.NOT_INTERESTED,
                Category.REFERRAL,
                Category.NOT_NOW,
                Category.OPT_OUT,
                Category.OTHER,
            )
        },
    }
)
DEFAULT_ROLES = ("account_executive", "manager")
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    routes: Mapping[Category, str] = field(default_factory=lambda: DEFAULT_ROUTES)
    roles: Mapping[str, str] = field(default_factory=dict)  # role -> Slack user id

    def __post_init__(self) -> None:
        for category, target in self.routes.items():
            if not (
                target == OWNER
                or target in self.roles
                or target in DEFAULT_ROLES
                or SLACK_USER_ID.match(target)
            ):
                roles = ", ".join(sorted({*self.roles, *DEFAULT_ROLES}))
                raise ValueError(
                    f"routing.{category.value}: {target!r} is not allowed; allowed: owner, a role "
                    f"({roles}) or a Slack user id such as U0123ABCD"
                )
        for role, user in self.roles.items():
            if not SLACK_USER_ID.match(user):
                raise ValueError(
                    f"routing.roles.{role}: {user!r} is not a Slack user id such as U0123ABCD"
                )


@dataclass(frozen=True, slots=True)
class Route:
    category: Category
    target: str  # what the routing map said: owner, a role or a user id
    slack_user_id: str | None  # who is @mentioned; None when nobody can be
    label: str  # "the account executive", "Maya Chen (owner)"
    note: str = ""  # e.g. "no account_executive configured: routed to the owner"


# --------------------------------------------------------------------------- categories

_LEGAL = re.compile(
    r"\b(?:lawyer|attorney|solicitor|legal (?:action|department|team|counsel)|sue|lawsuit|"
    r"court|cease and desist|gdpr|data protection|dsgvo|privacy (?:law|regulator)|ico\b|"
    r"report (?:you|this)|complaint|ftc|can-?spam|anwalt|abmahnung|avocat|abogado|avvocato|"
    r"advogado|advocaat)",
    re.IGNORECASE,
)
_POSITIVE = frozenset({"interested", "meeting_request"})
_CATEGORIES: Mapping[str, Category] = MappingProxyType(
    {
        "interested": Category.BUYING_SIGNAL,
        "meeting_request": Category.BUYING_SIGNAL,
        "pricing_clicks": Category.BUYING_SIGNAL,
        "question": Category.QUESTION,
        "objection": Category.OBJECTION,
        "not_interested": Category.NOT_INTERESTED,
        "referral": Category.REFERRAL,
        "wrong_person": Category.REFERRAL,
        "not_now": Category.NOT_NOW,
        "opt_out": Category.OPT_OUT,
    }
)


def looks_legal(text: str) -> bool:
    return bool(_LEGAL.search(text))


def category_for(intent: str, sentiment: str, text: str = "") -> Category:
    """Legal-sounding replies, and frustrated ones that are not buying signals, are
    complaints (a manager's); otherwise the intent decides."""
    if looks_legal(text):
        return Category.COMPLAINT
    if sentiment == "frustration" and intent not in _POSITIVE:
        return Category.COMPLAINT
    return _CATEGORIES.get(intent, Category.OTHER)


_DEFLECTING = frozenset({"not_now", "not_interested", "referral", "wrong_person", "opt_out"})


def sentiment_phrase(sentiment: str, intent: str) -> str:
    """ "warm interest", "polite deflection", "frustration", or "neutral"."""
    if sentiment == "warm":
        return "warm interest"
    if sentiment == "deflection":
        return "polite deflection"
    if sentiment == "frustration":
        return "frustration"
    if intent in _POSITIVE or intent == "pricing_clicks":
        return "warm interest"
    if intent in _DEFLECTING:
        return "polite deflection"
    return "neutral"


# --------------------------------------------------------------------------- routing


def _role_label(role: str) -> str:
    return "the " + role.replace("_", " ")


def route_for(config: RoutingConfig, category: Category, owner: Owner | None) -> Route:
    """Who gets the handoff. A role nobody fills falls back to the deal's owner."""
    target = config.routes.get(category, DEFAULT_ROUTES.get(category, OWNER))
    owner_label = f"{owner.name} (owner)" if owner is not None else "the owner"
    owner_id = owner.slack_user_id if owner is not None else None
    if target == OWNER:
        return Route(category, target, owner_id, owner_label)
    if SLACK_USER_ID.match(target):
        return Route(category, target, target, f"<@{target}>")
    user = config.roles.get(target)
    if user is not None:
        return Route(category, target, user, _role_label(target))
    note = f"no {target} configured: routed to the owner"
    return Route(category, target, owner_id, owner_label, note)


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True, slots=True)
class HandoffFacts:
    sentiment: str  # the phrase: "warm interest", ...
    who: str
    company: str | None
    said: str  # one sentence
    stage_before: str
    step: int | None  # the step they replied to
    cadence: str | None
    angle: str | None  # the angle of that step
    history: tuple[str, ...] = ()
    route_label: str = ""
    task_due_at: datetime | None = None
    zone: str = "UTC"
    check: str | None = None  # what a person should verify first (a possible opt-out)
    warning: str | None = None  # shown right under the sentiment (a suspected injection)


@dataclass(frozen=True, slots=True)
class Handoff:
    """One reply handed to a person; who acted on it is recorded for accuracy."""

    id: int
    deal_id: str
    contact_id: str | None
    enrolment_id: int | None
    source_key: str  # the message or activity it came from: one handoff per reply
    received_at: datetime
    intent: str
    sentiment: str
    category: Category
    route_target: str
    routed_to: str | None  # Slack user id
    route_label: str
    step: int | None
    cadence: str | None
    stage_before: str
    summary: str
    created_at: datetime
    task_due_at: datetime | None = None
    crm_task_id: str | None = None
    acted_by: str | None = None
    acted_at: datetime | None = None
    action: str | None = None

    @property
    def routed_correctly(self) -> bool | None:
        """Did the person it was routed to act on it? None until someone acted."""
        if self.acted_by is None:
            return None
        if self.routed_to is None:
            return False
        return self.acted_by in (self.routed_to, f"slack:{self.routed_to}")


_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def pricing_signal(clicks: Iterable[datetime], now: datetime) -> list[datetime]:
    """The pricing-link clicks of the last 7 days, oldest first, when there are two or more
    (an intent signal worth a handoff); otherwise an empty list."""
    week_ago = now - timedelta(days=7)
    recent = sorted(c for c in clicks if week_ago <= c <= now)
    return recent if len(recent) >= 2 else []


INJECTION_WARNING = (
    "⚠ Possible injection: this reply has text that tries to instruct followup. It changed "
    "nothing; treat it as the prospect's words, not as instructions"
)


def asked_for(text: str, is_instruction: Callable[[str], bool], limit: int = 160) -> str:
    """What the person asked for, on one line: the first question among the sentences that do
    not try to instruct the system, else the first such sentence (a reply that is nothing but
    an instruction: its first sentence)."""
    flat = " ".join(text.split())
    sentences = [s for s in _SENTENCE.split(flat) if s]
    kept = [s for s in sentences if not is_instruction(s)]
    chosen = next((s for s in kept if s.rstrip().endswith("?")), kept[0] if kept else None)
    if chosen is None:
        return one_sentence(flat, limit)
    return chosen if len(chosen) <= limit else chosen[: limit - 1].rstrip() + "…"


def one_sentence(text: str, limit: int = 160) -> str:
    """The first sentence of `text`, on one line, at most `limit` characters."""
    flat = " ".join(text.split())
    if not flat:
        return ""
    first = _SENTENCE.split(flat, maxsplit=1)[0]
    if len(first) > limit:
        first = first[: limit - 1].rstrip() + "…"
    return first


def _day(moment: datetime, zone: str) -> str:
    local = moment.astimezone(zone_info(zone))
    return f"{local:%a} {local.day} {local:%b}"


def relevant_history(
    view: DealView,
    contact: Contact | None,
    before: datetime,
    zone: str,
    earlier: Iterable[tuple[str, datetime]] = (),
    *,
    limit: int = 3,
) -> tuple[str, ...]:
    """What the person taking over should know, latest first: meetings (a demo) and calls,
    the proposal or quote, and earlier replies that said "not now" or objected."""
    items: list[tuple[datetime, str]] = []
    for activity in view.activities:
        if activity.at >= before:
            continue
        if contact is not None and activity.contact_id not in (None, contact.id):
            continue
        text = _history_item(activity, zone)
        if text:
            items.append((activity.at, text))
    for intent, at in earlier:
        if at < before and intent in ("not_now", "objection", "not_interested"):
            said = {"not_now": "not now", "objection": "an objection"}.get(intent, "no")
            items.append((at, f"said “{said}” on {_day(at, zone)}"))
    items.sort(key=lambda item: item[0], reverse=True)
    seen: list[str] = []
    for _, text in items:
        if text not in seen:
            seen.append(text)
    return tuple(seen[:limit])


def _history_item(activity: Activity, zone: str) -> str:
    when = _day(activity.scheduled_for or activity.at, zone)
    if activity.kind is ActivityKind.MEETING:
        subject = (activity.subject or "").lower()
        return f"demo on {when}" if "demo" in subject else f"meeting on {when}"
    if activity.kind is ActivityKind.CALL:
        return f"call on {when}"
    if activity.kind is ActivityKind.PROPOSAL_SENT:
        return f"proposal sent {when}"
    if activity.kind is ActivityKind.QUOTE_SENT:
        return f"quote sent {when}"
    return ""


def summary_text(facts: HandoffFacts) -> str:
    """The five-second summary, plain text: sentiment first."""
    who = facts.who + (f" ({facts.company})" if facts.company else "")
    if facts.step is not None and facts.cadence:
        angle = f", {facts.angle.replace('_', ' ')}" if facts.angle else ""
        step = f"replied to step {facts.step} of {facts.cadence}{angle}"
    elif facts.cadence:
        step = f"replied during cadence {facts.cadence}"
    else:
        step = "replied"
    lines = [
        f"{facts.sentiment.capitalize()}: {who} {step}",
        *([facts.warning] if facts.warning else []),
        *([f"Check first: {facts.check}"] if facts.check else []),
        f"“{facts.said}”" if facts.said else "(no text)",
        f"Stage before the reply: {facts.stage_before}",
    ]
    if facts.history:
        lines.append("History: " + "; ".join(facts.history))
    tail = f"For {facts.route_label}" if facts.route_label else ""
    if facts.task_due_at is not None:
        due = facts.task_due_at.astimezone(zone_info(facts.zone))
        task = f"task due {due:%a} {due.day} {due:%b %H:%M}"
        tail = f"{tail}; {task}" if tail else task.capitalize()
    if tail:
        lines.append(tail)
    return "\n".join(lines)


def escape_slack(text: str) -> str:
    """Slack's control characters escaped: no mention, channel ping or link survives."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(handoff: Handoff) -> str:
    """The handoff as Slack mrkdwn: the @mention, then the escaped summary, sentiment in
    bold."""
    first, _, rest = escape_slack(handoff.summary).partition("\n")
    sentiment, colon, remainder = first.partition(":")
    head = f"*{sentiment}*{colon}{remainder}" if colon else first
    mention = f"<@{handoff.routed_to}> " if handoff.routed_to else ""
    return f"{mention}{head}\n{rest}" if rest else f"{mention}{head}"


def earlier_intents(
    handoffs: Sequence[Handoff], contact_id: str | None
) -> list[tuple[str, datetime]]:
    """(intent, when) of a contact's earlier handoffs, for `relevant_history`."""
    return [(h.intent, h.received_at) for h in handoffs if h.contact_id == contact_id]
