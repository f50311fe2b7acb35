"""What a draft knows about one deal and one recipient, read once from the pipeline.

`deal_facts` gathers the conversation (the last message they sent, visible text only; the last
we sent; the call notes and outcome; the proposal or quote; what earlier follow-ups already
said) and reads a few things out of it that decide what a good follow-up says: what they
asked for, what we promised, what they are waiting on (a legal review, a release freeze, a
purchase order, a board meeting), whether they said they would discuss it internally. The
templates and the model read the same facts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from prompts.base import DraftContext
from reading.quotes import visible_reply_text
from triggers.model import Activity, ActivityKind, Contact, Direction
from triggers.people import common_company_name, format_day, given_name
from triggers.threads import ReplyThread, involves, recipient_thread

TOUCH_KINDS = frozenset({ActivityKind.EMAIL, ActivityKind.PROPOSAL_SENT, ActivityKind.QUOTE_SENT})
OFFER_KINDS = frozenset({ActivityKind.PROPOSAL_SENT, ActivityKind.QUOTE_SENT})
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|aw|wg|tr|rv|sv|vs)\s*(?:\[\d+\])?\s*:\s*)+", re.I)
_QUOTE_NUMBER = re.compile(r"\b(?:[A-Z]{1,4}-)?(?:Q|QU|QT|QUO|PRO|P|INV)-?\d[\d-]{1,12}\d\b")
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_DAY_MONTH = re.compile(
    r"\b(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+(?P<month>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
    r"[a-z]*\.?\b|\b(?P<month2>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+"
    r"(?P<day2>\d{1,2})(?:st|nd|rd|th)?\b",
    re.IGNORECASE,
)
_EVENTS = re.compile(
    r"(?P<event>board meeting|board|budget round|steering committee|committee|trade fair|"
    r"launch|deadline|go-live|kick-?off)\b[^.\n;]{0,24}?(?P<date>(?:\d{1,2}(?:st|nd|rd|th)?\s+"
    r"[A-Z][a-z]{2,8}\.?)|(?:[A-Z][a-z]{2,8}\.?\s+\d{1,2}(?:st|nd|rd|th)?))",
    re.IGNORECASE,
)
_PROMISE = re.compile(
    r"\b(?:told (?:him|her|them) (?:I|we)(?:'d| would)|(?:I|we) promised(?: to)?|"
    r"(?:I|we)(?:'ll| will) (?:send|share|put together|prepare|draft)|promised to send|"
    r"agreed (?:that )?(?:I|we)(?:'d| would)|(?:I|we) owe (?:him|her|them))\s+"
    r"(?:send |share |put together |prepare |draft )?(?P<what>[^.\n;]{4,120})",
    re.IGNORECASE,
)
_ASKED = re.compile(
    r"\b(?:asked (?:for|us for|me for)|requested|wants?|needs?) "
    r"(?P<what>(?:a|an|the) [^.\n;]{4,120})",
    re.IGNORECASE,
)
_REQUEST = re.compile(
    r"\b(?:could|can|would)\s+(?:you|the proposal|it|we)\s+(?:please\s+)?(?:also\s+)?"
    r"(?P<verb>include|add|show|cover|break out|list|itemise|itemize|separate)\s+"
    r"(?P<what>[^?.!\n]{4,120})",
    re.IGNORECASE,
)
_ASKED_FOR = re.compile(
    r"\basked (?:for|us for|me for) (?P<what>(?:a|an|the) [^.\n;]{4,120})", re.IGNORECASE
)
_INTEREST = re.compile(r"\binterested in (?P<what>[^.\n;]{4,100})", re.IGNORECASE)
_NEED = re.compile(
    r"\b(?P<what>(?:we(?:'re| are) looking for|we need|we want to|we'd like to|we would like to|"
    r"we're after)\s+[^.;\n?!]{4,110})",
    re.IGNORECASE,
)
_BEFORE = re.compile(r"\b(?P<when>before (?:the |our )?[a-z][a-z -]{2,30}?)(?=[.,;!?\n]|$)", re.I)
_INTERNAL = re.compile(
    r"\b(?:circulate|internally|with (?:the|my) (?:team|colleagues|board|boss|partners)|"
    r"run it by|discuss (?:it|this) (?:with|internally)|share (?:it|this) with|"
    r"loop in|take it to (?:the|our))\b",
    re.IGNORECASE,
)
_PRICE_QUESTION = re.compile(r"\b(?:cost|price|pricing|budget|how much|fees?)\b", re.IGNORECASE)
_CLAUSE = re.compile(r"\b(?:clause|section|article)\s+\d+(?:\.\d+)*\b", re.IGNORECASE)
_PRONOUNS = (
    (re.compile(r"\b(?:he|she|they) can\b", re.I), "you can"),
    (re.compile(r"\b(?:his|her|their)\b", re.I), "your"),
    (re.compile(r"\bour\b", re.I), "your"),
    (re.compile(r"\bwe're\b", re.I), "you're"),
    (re.compile(r"\bwe'd\b", re.I), "you'd"),
    (re.compile(r"\bwe\b", re.I), "you"),
    (re.compile(r"\bus\b", re.I), "you"),
)
_THIRD_PERSON = {"include": "includes", "add": "adds", "show": "shows", "cover": "covers"}
_THIRD_PERSON |= {"list": "lists", "break out": "breaks out", "separate": "separates"}
_THIRD_PERSON |= {"itemise": "itemises", "itemize": "itemizes"}


def strip_reply_prefix(subject: str) -> str:
    return _REPLY_PREFIX.sub("", subject).strip()


def zone_of(name: str | None) -> tzinfo:
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC


def visible(text: str | None) -> str:
    """The new text of a message: no quoted history, no signature block."""
    if not text:
        return ""
    return (visible_reply_text(text) or text).strip()


def _unwrap(text: str) -> str:
    """Hard-wrapped lines joined into their paragraph (a sentence may span lines)."""
    return re.sub(r"(?<!\n)\n(?!\n)", " ", text)


def _to_second_person(text: str) -> str:
    for pattern, replacement in _PRONOUNS:
        text = pattern.sub(replacement, text)
    return text


def _clean(phrase: str) -> str:
    return " ".join(phrase.split()).strip(" ,:-")


def _clip_words(phrase: str, limit: int = 11) -> str:
    """A phrase of at most `limit` words, cut at a clause boundary where there is one."""
    words = _clean(phrase).split()
    if len(words) <= limit:
        return " ".join(words)
    head = re.split(r",|\s+(?:and|or|but|so|whether|which|that)\s+", " ".join(words), maxsplit=1)[0]
    if 3 <= len(head.split()) <= limit:
        return head
    return " ".join(words[:limit]).rstrip(",;:")


def short_deal_name(title: str, company: str = "", override: str | None = None) -> str:
    """'content audit' for 'Marlow & Pike Publishing: content audit & migration map'."""
    if override and override.strip():
        return override.strip()
    text = title.strip()
    if ":" in text:
        text = text.split(":", 1)[1]
    elif company and text.lower().startswith(company.lower()):
        text = text[len(company) :]
    text = re.sub(r"\([^)]*\)", "", text)
    head = re.split(r"\s+(?:&|and|\+|/|–|—|-)\s+|,", text, maxsplit=1)[0]
    text = _clean(head) if len(head.split()) >= 2 else _clean(text)
    if not text:
        return _clean(title)
    words = text.split()
    proper = text.isupper() or any(w[:1].isupper() for w in words[1:]) or words[0][1:2].isupper()
    return text if proper else text[0].lower() + text[1:]


def deal_name_with_article(name: str) -> str:
    return name if re.match(r"^(?:the|a|an|our|your)\b", name, re.I) else f"the {name}"


@dataclass(frozen=True, slots=True)
class Offer:
    kind: str  # "proposal" or "quote"
    subject: str
    number: str
    sent_at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class DealFacts:
    """What a draft about one deal may say, read once from the context."""

    first_name: str  # the given name to greet with, by the contact's culture
    contact_name: str
    company: str  # the common name, without a legal suffix
    company_legal: str
    deal_title: str
    deal_name: str  # short: 'content audit'
    stage: str
    stage_days: int
    last_topic: str
    proposal_topic: str
    offer: Offer | None
    offer_value: str  # 'EUR 38,000' ('' when unknown)
    last_call: Activity | None
    last_call_when: str
    last_inbound: Activity | None
    last_inbound_text: str
    last_outbound: Activity | None
    last_outbound_text: str
    earlier_followups: tuple[str, ...]  # our unanswered notes since the last substantive touch
    days_quiet: int
    quote_expired_on: str
    owner_name: str
    owner_first_name: str
    sign_off: str
    signature: str
    local_zone: tzinfo
    zone_name: str | None
    activities: tuple[Activity, ...]
    thread: ReplyThread | None
    cc: tuple[str, ...]
    cc_names: tuple[str, ...]  # given names of the people in Cc we know
    # Read out of the conversation:
    asked_for: str  # their request, in second person ('a one-page scope you can put ...')
    request_verb: str  # 'includes' (what the proposal does about their request)
    promised: str  # what the call notes say we promised
    event: str  # 'the board meeting on 10 December'
    interest: str  # from the call notes: 'a pilot for one team first (finance)'
    need: str  # what an inbound lead said they need, in second person
    deadline: str  # 'before summer'
    said_internal: bool
    price_asked: bool
    waiting_on: str  # 'legal', 'freeze', 'finance', 'board' or ''
    waiting_detail: str  # 'clause 9'


def _offer_of(activity: Activity | None) -> Offer | None:
    if activity is None:
        return None
    subject = strip_reply_prefix(activity.subject or "")
    number = _QUOTE_NUMBER.search(f"{subject}\n{activity.body or ''}")
    kind = "quote" if activity.kind is ActivityKind.QUOTE_SENT else "proposal"
    return Offer(kind, subject, number.group(0) if number else "", activity.at, activity.body or "")


def _money(value: float | None, currency: str | None) -> str:
    if value is None:
        return ""
    amount = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    return f"{currency} {amount}" if currency else amount


def _event(texts: list[str], zone_name: str | None, today: date) -> str:
    for text in texts:
        match = _EVENTS.search(text)
        if not match:
            continue
        parsed = _DAY_MONTH.search(match.group("date"))
        if not parsed:
            continue
        day_text = parsed.group("day") or parsed.group("day2")
        month_text = (parsed.group("month") or parsed.group("month2")).lower()[:3]
        month = next(i for i, m in enumerate(_MONTHS, 1) if m.startswith(month_text))
        year = today.year if month >= today.month else today.year + 1
        try:
            when = date(year, month, int(day_text))
        except ValueError:
            continue
        event = match.group("event").lower()
        if event == "board":
            event = "board meeting"
        return f"the {event} on {format_day(when, zone_name)}"
    return ""


def _waiting_on(text: str) -> tuple[str, str]:
    lowered = text.lower()
    clause = _CLAUSE.search(text)
    if "legal" in lowered or "lawyer" in lowered or clause:
        return "legal", clause.group(0).lower() if clause else ""
    if "freeze" in lowered:
        return "freeze", ""
    if re.search(r"\b(?:PO|purchase order)\b|\bfinance\b.{0,30}\b(?:approv|sign|raise)", text):
        return "finance", ""
    if "board" in lowered:
        return "board", ""
    return "", ""


def _relevant(context: DraftContext, contact: Contact) -> tuple[Activity, ...]:
    view = context.view
    found = [
        a
        for a in view.activities
        if a.at <= context.now
        and (
            (a.kind is not ActivityKind.EMAIL and a.contact_id in (None, contact.id))
            or (a.kind is ActivityKind.EMAIL and involves(a, contact))
            or (a.kind is not ActivityKind.EMAIL and len(view.deal.contact_ids) <= 1)
        )
    ]
    return tuple(sorted(found, key=lambda a: a.at))


def deal_facts(context: DraftContext) -> DealFacts:
    """The facts of `context` (cached: a draft reads them for its variables, its guardrails,
    its prompt and its evidence; a context holding an unhashable value is read afresh)."""
    try:
        hash(context)
    except TypeError:
        return _deal_facts(context)
    return _cached_deal_facts(context)


@lru_cache(maxsize=32)
def _cached_deal_facts(context: DraftContext) -> DealFacts:
    return _deal_facts(context)


def _deal_facts(context: DraftContext) -> DealFacts:
    view, contact = context.view, context.contact
    owner = view.owner
    zone_name = contact.timezone or (owner.timezone if owner else None)
    zone = zone_of(zone_name)
    past = _relevant(context, contact)

    def last(predicate: Callable[[Activity], object]) -> Activity | None:
        return next((a for a in reversed(past) if predicate(a)), None)

    ours = {owner.email.lower()} if owner and owner.email else set()
    thread = recipient_thread(view, contact, ours=ours)
    others = {c.email.lower(): c for c in view.contacts if c.email and c.id != contact.id}
    cc = thread.cc if thread else ()
    cc_names = tuple(
        given_name(others[a].name, others[a].timezone or zone_name) for a in cc if a in others
    )

    topic = last(lambda a: a.kind in TOUCH_KINDS and a.subject)
    offer_activity = last(lambda a: a.kind in OFFER_KINDS)
    call = last(lambda a: a.kind is ActivityKind.CALL)
    inbound = last(lambda a: a.is_inbound_email)
    outbound = last(lambda a: a.kind is ActivityKind.EMAIL and a.direction is Direction.OUT)
    latest = past[-1].at if past else view.deal.stage_entered_at

    # Our notes since their last message and after the last proposal, quote or call: the
    # follow-ups already sent, which a new one must not repeat.
    anchors = [a.at for a in (inbound, offer_activity, call) if a is not None]
    since = max(anchors) if anchors else None
    after = [
        a
        for a in past
        if a.kind is ActivityKind.EMAIL
        and a.direction is Direction.OUT
        and since is not None
        and a.at > since
        and a.body
    ]
    if after and inbound is not None and since == inbound.at:
        after = after[1:]  # our answer to their last message is a reply, not a follow-up
    earlier = tuple(visible(a.body) for a in after)

    today = context.now.astimezone(zone).date()
    call_when = ""
    if call is not None:
        call_day = call.at.astimezone(zone).date()
        gap = (today - call_day).days
        if gap <= 0:
            call_when = "today"
        elif gap == 1:
            call_when = "yesterday"
        elif gap < 7:
            call_when = f"on {call_day:%A}"
        else:
            call_when = f"on {format_day(call_day, zone_name)}"

    inbound_texts = [_unwrap(visible(a.body)) for a in past if a.is_inbound_email and a.body]
    inbound_text = visible(inbound.body) if inbound else ""
    notes = "\n".join(p for p in ((call.body or "") if call else "",) if p)

    asked_for = request_verb = ""
    for text in reversed(inbound_texts):
        request = _REQUEST.search(text)
        if request:
            verb = request.group("verb").lower()
            request_verb = _THIRD_PERSON.get(verb, verb + "s")
            asked_for = _to_second_person(_clip_words(request.group("what")))
            break
    if not asked_for and notes:
        asked = _ASKED_FOR.search(notes) or _ASKED.search(notes)
        if asked:
            asked_for = _to_second_person(_clip_words(asked.group("what")))
    promise = _PROMISE.search(notes) if notes else None
    promised = _clean(promise.group("what")) if promise else ""
    interest = _INTEREST.search(notes) if notes else None
    first_in = next((t for t in inbound_texts if t), "")
    need = _NEED.search(first_in)
    deadline = _BEFORE.search(first_in)
    offer_at = offer_activity.at if offer_activity else None
    asked_price = any(
        _PRICE_QUESTION.search(visible(a.body))
        for a in past
        if a.is_inbound_email and a.body and (offer_at is None or a.at <= offer_at)
    )
    waiting, detail = _waiting_on(inbound_text) if inbound_text else ("", "")
    if not waiting and notes:
        waiting, detail = _waiting_on(notes)

    expires = view.deal.quote_expires_at
    owner_name = owner.name if owner else ""
    owner_first = given_name(owner_name, owner.timezone if owner else None)
    company_legal = (contact.company or "").strip()
    company = common_company_name(company_legal) if company_legal else ""
    extra_name = view.deal.extra.get("short_name") if view.deal.extra else None
    deal_name = short_deal_name(
        view.deal.title, company_legal, extra_name if isinstance(extra_name, str) else None
    )
    contact_given = contact.extra.get("given_name") if contact.extra else None
    offer = _offer_of(offer_activity)
    return DealFacts(
        first_name=given_name(
            contact.name, zone_name, contact_given if isinstance(contact_given, str) else None
        ),
        contact_name=contact.name.strip(),
        company=company,
        company_legal=company_legal,
        deal_title=view.deal.title.strip(),
        deal_name=deal_name,
        stage=view.deal.stage.replace("_", " ").strip(),
        stage_days=max(0, (context.now - view.deal.stage_entered_at).days),
        last_topic=strip_reply_prefix(topic.subject or "") if topic else "",
        proposal_topic=offer.subject if offer else "",
        offer=offer,
        offer_value=_money(view.deal.value, view.deal.currency),
        last_call=call,
        last_call_when=call_when,
        last_inbound=inbound,
        last_inbound_text=inbound_text,
        last_outbound=outbound,
        last_outbound_text=visible(outbound.body) if outbound else "",
        earlier_followups=earlier,
        days_quiet=max(0, (context.now - latest).days),
        quote_expired_on=format_day(expires.astimezone(zone).date(), zone_name) if expires else "",
        owner_name=owner_name,
        owner_first_name=owner_first,
        sign_off=context.voice.sign_off.strip(),
        signature=context.voice.signature.strip() or owner_first or owner_name,
        local_zone=zone,
        zone_name=zone_name,
        activities=past,
        thread=thread,
        cc=cc,
        cc_names=cc_names,
        asked_for=asked_for,
        request_verb=request_verb,
        promised=promised,
        event=_event([notes, *reversed(inbound_texts)], zone_name, today),
        interest=_clean(interest.group("what")) if interest else "",
        need=_to_second_person(_clip_words(re.split(r"\s+before\s+", need.group("what"))[0]))
        if need
        else "",
        deadline=_clean(deadline.group("when")) if deadline else "",
        said_internal=bool(_INTERNAL.search(inbound_text)),
        price_asked=asked_price,
        waiting_on=waiting,
        waiting_detail=detail,
    )
