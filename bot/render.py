"""Every Block Kit surface the bot shows, built with `slack_sdk.models`. Pure: data in, blocks
out; no I/O, no clock (times to show are passed in).

Text from outside (CRM fields, prospect emails, drafts) is data: in `mrkdwn` it is escaped
(`&`, `<`, `>`; bare `@channel`/`@here`/`@everyone` broken with a word joiner) and set
`verbatim` so Slack links nothing by itself; long free text (the draft body) goes in
`plain_text`, which Slack never parses. Lengths are cut to Slack's limits here, then
`check_message` / `check_view` verify what `slack_sdk.models` does not (50 blocks a message,
100 a view, an input's `initial_value` within its `max_length`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.ids import Action, Input, More
from bot.ids import Block as BlockId
from bot.ids import View as ViewId
from bot.refs import DismissRef, DraftRef, MoreRef, PickRef
from triggers.command import Command, Verb, help_text
from triggers.drafts import Draft, DraftStatus
from triggers.evaluate import Explanation
from triggers.model import Contact, DealView
from triggers.rules import RuleStatus

# --------------------------------------------------------------------------- limits

MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
BUTTON_TEXT_MAX = 75
OPTION_TEXT_MAX = 75
CONTEXT_ELEMENTS_MAX = 10
CONFIRM_TITLE_MAX = 100
CONFIRM_TEXT_MAX = 300
MODAL_TITLE_MAX = 24
INPUT_MAX = 3000  # Slack's ceiling for a plain_text_input's max_length
SUBJECT_MAX = 250
FALLBACK_TEXT_MAX = 3000  # Slack truncates `text` at 40,000; notifications show far less
BODY_PREVIEW = 1200  # characters of the body shown in the channel message
EVIDENCE_LINES = 6
HOME_DRAFTS_MAX = 20
PICKER_MAX = 10
BODY_PARTS_MAX = 5  # a body longer than INPUT_MAX is edited in several boxes

DISMISS_REASONS: dict[str, str] = {
    "not_now": "Not now",
    "deprioritize": "Deprioritize this deal",
    "wrong_moment": "Wrong moment",
    "other": "Other",
}

RULE_LABELS: dict[str, str] = {
    "proposal_no_reply": "Proposal, no reply",
    "call_no_next_step": "Call, no next step",
    "stage_stale": "Stage gone quiet",
    "quote_expired": "Quote expired",
    "lead_no_reply": "Lead went quiet",
}

_CURRENCY = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "AUD": "A$", "CAD": "C$"}
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class SurfaceLimitError(ValueError):
    """A surface Slack would refuse: too many blocks, an input longer than its max_length."""


# --------------------------------------------------------------------------- text


# A broadcast keyword as Slack reads one: not the tail of an address (`ops@here.example`).
_BROADCAST = re.compile(r"(?<![\w.+-])@(channel|here|everyone)\b", re.IGNORECASE)


def escape(text: str | None) -> str:
    """Outside text made inert for mrkdwn: Slack's three control characters escaped, and
    bare broadcast keywords broken with an invisible word joiner."""
    if not text:
        return ""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub(lambda m: "@\u2060" + m.group(1), text)


def inert_broadcasts(mrkdwn: str) -> str:
    """Already escaped mrkdwn with bare broadcast keywords broken (the second half of
    `escape`, for text a pure function escaped)."""
    return _BROADCAST.sub(lambda m: "@\u2060" + m.group(1), mrkdwn)


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, ending in an ellipsis when cut (on a word if one is near)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 0.7:
        cut = cut[:space]
    return cut.rstrip() + "…"


def clip_escaped(text: str | None, limit: int) -> str:
    """Escape, then clip without splitting an entity (`&amp;`) in two."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut.rstrip() + "…"


def one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def cut_body(body: str, limit: int = BODY_PREVIEW) -> tuple[str, bool]:
    """The body, or its beginning cut at the cleanest boundary before `limit`: a paragraph,
    else a sentence, else a word. Returns (text, was_cut)."""
    body = body.strip()
    if len(body) <= limit:
        return body, False
    window = body[:limit]
    floor = int(limit * 0.5)
    for pattern in (r"\n\s*\n", r"[.!?…][\"”’)]?\s", r"\n", r"\s"):
        ends = [m.start() for m in re.finditer(pattern, window) if m.start() >= floor]
        if ends:
            end = ends[-1]
            if pattern.startswith("[.!?"):
                end += 1 + (window[end + 1] in '"”’)')
            return window[:end].rstrip(), True
    return window.rstrip(), True


def split_for_inputs(body: str, limit: int = INPUT_MAX) -> list[str]:
    """A body in parts of at most `limit` characters, split between paragraphs where
    possible; `"\\n\\n".join(parts)` gives the body back (modulo whitespace at the seams)."""
    parts: list[str] = []
    current = ""
    for paragraph in re.split(r"\n\s*\n", body.strip()):
        while len(paragraph) > limit:
            space = paragraph.rfind(" ", 0, limit)
            at = space if space > limit // 2 else limit
            head, paragraph = paragraph[:at].rstrip(), paragraph[at:].lstrip()
            if current:
                parts.append(current)
                current = ""
            parts.append(head)
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if len(candidate) <= limit:
            current = candidate
        else:
            parts.append(current)
            current = paragraph
    if current or not parts:
        parts.append(current)
    return parts


def city(zone: str) -> str:
    """`Europe/Berlin` -> `Berlin`, `America/Argentina/Buenos_Aires` -> `Buenos Aires`."""
    if "/" not in zone:
        return zone
    return zone.rsplit("/", 1)[1].replace("_", " ")


def local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


def clock(moment: datetime, zone: str) -> str:
    """`15:02`."""
    return f"{local(moment, zone):%H:%M}"


def day(moment: datetime, zone: str) -> str:
    """`Mon 23 Nov`, in English whatever the locale."""
    at = local(moment, zone)
    return f"{_DAYS[at.weekday()]} {at.day} {_MONTHS[at.month]}"


def when(moment: datetime, zone: str) -> str:
    """`Mon 23 Nov 15:02`."""
    return f"{day(moment, zone)} {clock(moment, zone)}"


def zone_time(moment: datetime, zone: str) -> str:
    """`09:02 New York time`, or `09:02 UTC`."""
    if zone in ("UTC", "Etc/UTC"):
        return f"{clock(moment, zone)} UTC"
    return f"{clock(moment, zone)} {city(zone)} time"


def money(value: float | None, currency: str | None) -> str:
    if value is None:
        return ""
    symbol = _CURRENCY.get((currency or "").upper())
    amount = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    if symbol:
        return f"{symbol}{amount}"
    return f"{amount} {currency}".strip()


def rule_label(trigger: str | None) -> str:
    if not trigger:
        return "Follow-up"
    if trigger.startswith("cadence:"):
        _, name, step = ([*trigger.split(":"), "", ""])[:3]
        return f"Cadence {name}, step {step}".strip(", ")
    return RULE_LABELS.get(trigger, trigger.replace("_", " ").capitalize())


def actor_mention(actor: str | None) -> str:
    """An actor id from storage (`slack:U1`, `cli:maya`, `followup`) as mrkdwn."""
    if not actor:
        return "someone"
    kind, _, rest = actor.partition(":")
    if kind == "slack" and re.fullmatch(r"[UW][A-Z0-9]{2,}", rest):
        return f"<@{rest}>"
    if kind == "cli" and rest:
        return f"{escape(rest)} (command line)"
    return escape(actor)


def slack_user_of(actor: str | None) -> str | None:
    kind, _, rest = (actor or "").partition(":")
    return rest if kind == "slack" and rest else None


def permalink(channel: str, ts: str) -> str:
    """A link to a message that works in any workspace (Slack redirects it)."""
    return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=clip(text, SECTION_TEXT_MAX), verbatim=True)


def _pt(text: str, limit: int = SECTION_TEXT_MAX) -> PlainTextObject:
    return PlainTextObject(text=clip(text or " ", limit), emoji=True)


def _context(*lines: str) -> ContextBlock:
    elements = [_md(line) for line in lines if line][:CONTEXT_ELEMENTS_MAX]
    return ContextBlock(elements=elements or [_md(" ")])


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class Message:
    """A message to post or update: the notification text and the blocks."""

    text: str
    blocks: list[Block]

    def blocks_json(self) -> list[dict[str, Any]]:
        return [block.to_dict() for block in self.blocks]


@dataclass(frozen=True, slots=True)
class DraftCard:
    """Everything shown about one draft, resolved by the surface. Times are aware datetimes;
    zones are IANA names."""

    draft: Draft
    view: DealView | None
    recipient_zone: str = "UTC"
    owner_zone: str = "UTC"
    owner_slack_id: str | None = None
    mention_owner: bool = True  # `[slack] mention_owner`: else the owner is named, not pinged
    decider_zone: str | None = None  # the zone of whoever decided (approver, dismisser)
    arrival: datetime | None = None  # when an approved message arrives (its outbox row)
    paused_until: datetime | None = None  # for a snoozed draft
    outcome: str | None = None  # the text a flow passed with the update, if any
    crm_url: str | None = None
    # What will leave and when (flows.outgoing.plan_message): the threaded subject, the
    # arrival after any pause, snooze or out-of-office. None: the draft's own.
    subject: str | None = None
    send_at: datetime | None = None
    hold: str | None = None  # why it waits past the next send-window slot
    outbox_status: str | None = None  # queued, held, sending, sent... once approved
    outbox_note: str | None = None  # the row's last note (why it is held)

    @property
    def shown_subject(self) -> str:
        return self.draft.subject if self.subject is None else self.subject

    @property
    def planned_at(self) -> datetime:
        return self.draft.send_at if self.send_at is None else self.send_at

    @property
    def contact(self) -> Contact | None:
        if self.view is None:
            return None
        return next((c for c in self.view.contacts if c.id == self.draft.contact_id), None)

    @property
    def title(self) -> str:
        return self.view.deal.title if self.view is not None else f"deal {self.draft.deal_id}"

    @property
    def recipient(self) -> str:
        """`Jordan Lee <jordan@globex.example>`, unescaped."""
        contact = self.contact
        name = contact.name if contact is not None else ""
        return f"{name} <{self.draft.to_address}>" if name else self.draft.to_address


def _who_line(card: DraftCard) -> list[MarkdownTextObject]:
    contact = card.contact
    view = card.view
    to_lines = [f"*To*\n{clip_escaped(contact.name if contact else '', 200) or '—'}"]
    if contact is not None and contact.company:
        to_lines.append(clip_escaped(contact.company, 200))
    to_lines.append(clip_escaped(card.draft.to_address, 300))
    fields = [_md("\n".join(to_lines))]
    if view is not None:
        deal = view.deal
        deal_text = f"*Deal*\n{clip_escaped(deal.title, 400)}\n{clip_escaped(deal.stage, 100)}"
        worth = money(deal.value, deal.currency)
        if worth:
            deal_text += f" · {escape(worth)}"
        fields.append(_md(deal_text))
        if card.owner_slack_id and card.mention_owner:
            owner = f"<@{card.owner_slack_id}>"
        elif view.owner is not None:
            owner = clip_escaped(view.owner.name, 200)
        else:
            owner = "—"
        fields.append(_md(f"*Owner*\n{owner}"))
    return fields


def _arrival_line(card: DraftCard, at: datetime) -> str:
    text = f"{when(at, card.recipient_zone)} in {escape(city(card.recipient_zone))}"
    if card.owner_zone != card.recipient_zone:
        text += f" ({when(at, card.owner_zone)} {escape(city(card.owner_zone))}, owner's time)"
    return text


def _approve_confirm(card: DraftCard) -> ConfirmObject:
    at = card.planned_at
    arrival = f"{when(at, card.recipient_zone)} {city(card.recipient_zone)} time"
    text = (
        f"Send to {one_line(card.recipient)}? It arrives {arrival}, or when their send "
        "window next opens if that time has passed."
    )
    return ConfirmObject(
        title=_pt("Send this follow-up?", CONFIRM_TITLE_MAX),
        text=_pt(text, CONFIRM_TEXT_MAX),
        confirm=_pt("Send", 30),
        deny=_pt("Not yet", 30),
    )


def draft_actions(card: DraftCard, *, block_id: str = BlockId.DRAFT_ACTIONS) -> ActionsBlock:
    """Approve & send, Edit, Dismiss (with a reason) and the overflow menu."""
    draft = card.draft
    ref = DraftRef(draft.id, draft.version).encode()
    reasons = [
        Option(
            text=_pt(label, OPTION_TEXT_MAX),
            value=DismissRef(draft.id, draft.version, key).encode(),
        )
        for key, label in DISMISS_REASONS.items()
    ]
    more = [
        (More.SNOOZE_1D, "Snooze 1 day"),
        (More.SNOOZE_3D, "Snooze 3 days"),
        (More.SNOOZE_1W, "Snooze 1 week"),
        (More.PAUSE_DEAL, "Pause deal"),
    ]
    options = [
        Option(text=_pt(label, OPTION_TEXT_MAX), value=MoreRef(draft.id, draft.version, c).encode())
        for c, label in more
    ]
    if card.crm_url:
        options.append(
            Option(
                text=_pt("Open in CRM", OPTION_TEXT_MAX),
                value=MoreRef(draft.id, draft.version, More.OPEN_CRM).encode(),
                url=card.crm_url,
            )
        )
    return ActionsBlock(
        block_id=block_id,
        elements=[
            ButtonElement(
                text=_pt("Approve & send", BUTTON_TEXT_MAX),
                action_id=Action.DRAFT_APPROVE,
                value=ref,
                style="primary",
                confirm=_approve_confirm(card),
            ),
            ButtonElement(
                text=_pt("Edit", BUTTON_TEXT_MAX), action_id=Action.DRAFT_EDIT, value=ref
            ),
            StaticSelectElement(
                placeholder=_pt("Dismiss…", 150),
                action_id=Action.DRAFT_DISMISS,
                options=reasons,
            ),
            OverflowMenuElement(action_id=Action.DRAFT_MORE, options=options),
        ],
    )


def _evidence_lines(draft: Draft) -> list[str]:
    lines = [clip_escaped(one_line(line), 400) for line in draft.evidence[:EVIDENCE_LINES]]
    if len(draft.evidence) > EVIDENCE_LINES:
        lines.append(f"…and {len(draft.evidence) - EVIDENCE_LINES} more")
    return lines


def _written_from_lines(draft: Draft) -> list[str]:
    """What the draft was written from (the last message, the call notes, the offer), the Cc,
    and the model's reasons: escaped, it is CRM and prospect text."""
    notes = draft.drafting
    if notes is None:
        return []
    lines = ["*Written from*"]
    lines += [f"• {clip_escaped(one_line(line), 300)}" for line in notes.written_from[:6]]
    if notes.cc:
        lines.append(f"*Cc:* {clip_escaped(', '.join(notes.cc), 300)}")
    if notes.why_angle:
        lines.append(f"*Why this angle:* {clip_escaped(one_line(notes.why_angle), 300)}")
    if notes.facts_used:
        facts = "; ".join(one_line(f) for f in notes.facts_used[:6])
        lines.append(f"*Facts used:* {clip_escaped(facts, 400)}")
    return lines if len(lines) > 1 else []


def _warnings(draft: Draft) -> list[str]:
    found = []
    if draft.notice:
        found.append(f":warning: {clip_escaped(one_line(draft.notice), 500)}")
    if draft.drafting is not None:
        found += [f":warning: {clip_escaped(one_line(w), 900)}" for w in draft.drafting.warnings]
    failures = list(draft.guardrail_failures)
    if failures:
        shown = "; ".join(one_line(f) for f in failures[:5])
        more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
        found.append(f":warning: Check before sending: {clip_escaped(shown, 800)}{more}")
    return found


def _footer(draft: Draft) -> str:
    parts = [f"Draft #{draft.id}", f"version {draft.version}"]
    parts.append("written by the model" if draft.source == "model" else "from a template")
    if draft.edited:
        parts.append("edited")
    return " · ".join(parts)


def _fallback(text: str) -> str:
    return clip(text, FALLBACK_TEXT_MAX)


def pending_message(card: DraftCard) -> Message:
    draft = card.draft
    blocks: list[Block] = [
        HeaderBlock(text=_pt(f"Follow-up: {one_line(card.title)}", HEADER_TEXT_MAX)),
        SectionBlock(fields=_who_line(card)),
        SectionBlock(
            text=_md(
                f"*Why now* · {escape(rule_label(draft.trigger))}\n"
                f"{clip_escaped(one_line(draft.reason), 1500)}"
            )
        ),
    ]
    evidence = _evidence_lines(draft)
    if evidence:
        blocks.append(_context("\n".join(evidence)))
    written = _written_from_lines(draft)
    if written:
        blocks.append(_context("\n".join(written)))
    blocks.append(DividerBlock())
    blocks.append(
        SectionBlock(text=_md(f"*Subject:* {clip_escaped(one_line(card.shown_subject), 500)}"))
    )
    shown, was_cut = cut_body(draft.body)
    blocks.append(SectionBlock(text=_pt(shown or " ")))
    if was_cut:
        blocks.append(
            _context(
                f"Showing {len(shown):,} of {len(draft.body.strip()):,} characters. "
                "*Edit* to see all."
            )
        )
    for warning in _warnings(draft):
        blocks.append(_context(warning))
    blocks.append(
        _context(f":clock9: Arrives {_arrival_line(card, card.planned_at)} if approved now")
    )
    if card.hold:
        blocks.append(_context(f":hourglass: Held: {clip_escaped(card.hold, 500)}"))
    blocks.append(draft_actions(card))
    blocks.append(_context(_footer(draft)))
    contact = card.contact
    who = contact.name if contact is not None else draft.to_address
    text = f"Follow-up for {one_line(card.title)} to {one_line(who)}: approve, edit or dismiss"
    return check_message(Message(_fallback(escape(text)), blocks))


def headline(card: DraftCard) -> str:
    """The outcome line of a decided draft, as mrkdwn: who, when in their time, what next."""
    draft = card.draft
    status = draft.status
    who = actor_mention(draft.decided_by)
    at = ""
    if draft.decided_at is not None:
        at = f" at {zone_time(draft.decided_at, card.decider_zone or 'UTC')}"
    arrival = card.arrival or draft.send_at
    where = escape(city(card.recipient_zone))
    if status is DraftStatus.APPROVED:
        leaves = f"arrives {when(arrival, card.recipient_zone)} in {where}"
        return f":white_check_mark: *Approved* by {who}{at}, {leaves}"
    if status is DraftStatus.SENT:
        same_day = draft.decided_at is not None and day(
            draft.decided_at, card.recipient_zone
        ) == day(arrival, card.recipient_zone)
        stamp = (
            clock(arrival, card.recipient_zone) if same_day else when(arrival, card.recipient_zone)
        )
        return f":outbox_tray: *Sent* by {who}{at}, arrives {stamp} in {where}"
    if status is DraftStatus.DISMISSED:
        reason = DISMISS_REASONS.get(draft.decision_note or "", draft.decision_note or "")
        return f":wastebasket: *Dismissed* by {who}{at}: {escape(reason.lower())}"
    if status is DraftStatus.SNOOZED:
        until = ""
        if card.paused_until is not None:
            until = f" until {day(card.paused_until, card.decider_zone or 'UTC')}"
        return f":zzz: *Snoozed*{until} by {who}{at}"
    # The flows keep the reason in the draft's note; the outcome they pass says the same.
    outcome = (card.outcome or "").strip()
    if status is DraftStatus.WITHDRAWN:
        said = outcome.removeprefix("Withdrawn:").strip() if outcome.startswith("Withdrawn") else ""
        reason = said or (draft.decision_note or "").strip()
        by = "" if draft.decided_by in (None, "followup") else f" by {who}"
        return f":leftwards_arrow_with_hook: *Withdrawn*{by}: {clip_escaped(reason, 500)}"
    if status is DraftStatus.FAILED:
        said = outcome if outcome.lower().startswith(("not sent", "send failed")) else ""
        note = (said or draft.decision_note or "").strip()
        note = re.sub(r"^not sent:\s*", "", note, flags=re.IGNORECASE)
        return f":x: *Not sent*: {clip_escaped(note, 800)}"
    return f"*{escape(status.value.capitalize())}*"


def decided_message(card: DraftCard) -> Message:
    draft = card.draft
    contact = card.contact
    to = clip_escaped(contact.name if contact else draft.to_address, 200)
    company = f" ({clip_escaped(contact.company, 200)})" if contact and contact.company else ""
    lines = [
        SectionBlock(text=_md(headline(card))),
        SectionBlock(
            text=_md(
                f"*{clip_escaped(one_line(card.title), 400)}* · to {to}{company} · "
                f"{escape(rule_label(draft.trigger))}\n"
                f"*Subject:* {clip_escaped(one_line(card.shown_subject), 500)}"
            )
        ),
    ]
    blocks: list[Block] = [*lines, *_waiting_blocks(card), _context(_footer(draft))]
    status_text = headline(card)
    text = f"{escape(one_line(card.title))}: {status_text}"
    return check_message(Message(_fallback(text), blocks))


def _waiting_blocks(card: DraftCard) -> list[Block]:
    """An approved message that has not left: why it waits, and Cancel (and Resend when it
    may already have been sent)."""
    if card.draft.status is not DraftStatus.APPROVED or card.outbox_status not in (
        "queued",
        "held",
    ):
        return []
    ref = DraftRef(card.draft.id, card.draft.version).encode()
    blocks: list[Block] = []
    held = card.outbox_status == "held"
    if held:
        note = card.outbox_note or "it may already have been sent"
        blocks.append(
            SectionBlock(
                text=_md(f":warning: *May already have been sent*: {clip_escaped(note, 800)}")
            )
        )
    elif card.hold:
        blocks.append(_context(f":hourglass: Held: {clip_escaped(card.hold, 500)}"))
    elements: list[Any] = []
    if held:
        elements.append(
            ButtonElement(
                text=_pt("Resend", BUTTON_TEXT_MAX),
                action_id=Action.DRAFT_RESEND,
                value=ref,
                confirm=ConfirmObject(
                    title=_pt("Send it again?", CONFIRM_TITLE_MAX),
                    text=_pt(
                        "If it did leave, the contact gets it twice. Check your Sent mail first.",
                        CONFIRM_TEXT_MAX,
                    ),
                    confirm=_pt("Resend", 30),
                    deny=_pt("Not yet", 30),
                ),
            )
        )
    elements.append(
        ButtonElement(
            text=_pt("Cancel sending" if not held else "Don't resend", BUTTON_TEXT_MAX),
            action_id=Action.DRAFT_CANCEL,
            value=ref,
            style="danger",
        )
    )
    blocks.append(ActionsBlock(block_id=BlockId.DRAFT_ACTIONS, elements=elements))
    return blocks


def draft_message(card: DraftCard) -> Message:
    """The message for a draft in its current state: actions while pending, else the outcome."""
    if card.draft.status is DraftStatus.PENDING:
        return pending_message(card)
    return decided_message(card)


def check_message(message: Message) -> Message:
    """Our own limits, then slack_sdk's (to_dict validates lengths and element counts)."""
    if len(message.blocks) > MESSAGE_BLOCKS_MAX:
        raise SurfaceLimitError(f"{len(message.blocks)} blocks; a message holds at most 50")
    _check_inputs(message.blocks)
    message.blocks_json()
    return message


def check_view(view: View) -> View:
    blocks = list(view.blocks or [])
    if len(blocks) > VIEW_BLOCKS_MAX:
        raise SurfaceLimitError(f"{len(blocks)} blocks; a view holds at most 100")
    _check_inputs(blocks)
    view.to_dict()
    return view


def _check_inputs(blocks: Iterable[Block]) -> None:
    for block in blocks:
        if isinstance(block, InputBlock) and isinstance(block.element, PlainTextInputElement):
            element = block.element
            value = element.initial_value or ""
            limit = element.max_length
            if limit is not None and len(value) > limit:
                raise SurfaceLimitError(
                    f"input {block.block_id}: {len(value)} characters, max_length {limit}"
                )
            if limit is not None and limit > INPUT_MAX:
                raise SurfaceLimitError(f"input {block.block_id}: max_length above {INPUT_MAX}")


# --------------------------------------------------------------------------- modals


def body_block_id(index: int) -> str:
    return BlockId.DRAFT_BODY if index == 0 else f"{BlockId.DRAFT_BODY}-{index + 1}"


def body_parts(body: str) -> list[str] | None:
    """The body split for the modal's text boxes, or None when it needs too many boxes."""
    parts = split_for_inputs(body)
    return parts if len(parts) <= BODY_PARTS_MAX else None


def edit_modal(
    card: DraftCard,
    *,
    subject: str | None = None,
    body: str | None = None,
    note: str | None = None,
    error: str | None = None,
    override: bool = False,
) -> View:
    """Subject and body (several boxes when the body is longer than one holds), the reason
    and their last message for context, "Save" (stays open) and "Save & send" (submit).
    `override`: the edit failed the guardrails (said in `error`); a "Send anyway" box lets
    the editor save (and send) it all the same, as a recorded choice."""
    draft = card.draft
    subject = draft.subject if subject is None else subject
    body = draft.body if body is None else body
    parts = body_parts(body)
    if parts is None:
        raise SurfaceLimitError("the body is too long to edit in Slack")
    blocks: list[Block] = [
        _context(
            f"To *{clip_escaped(one_line(card.recipient), 400)}* · "
            f"{clip_escaped(one_line(card.title), 400)}"
        ),
        SectionBlock(
            text=_md(
                f"*Why now* · {escape(rule_label(draft.trigger))}\n"
                f"{clip_escaped(one_line(draft.reason), 1500)}"
            )
        ),
    ]
    evidence = _evidence_lines(draft)
    if evidence:
        blocks.append(_context("\n".join(evidence)))
    if error:
        blocks.append(SectionBlock(text=_md(f":warning: {escape(error)}")))
    blocks.append(
        InputBlock(
            block_id=BlockId.DRAFT_SUBJECT,
            label=_pt("Subject", 2000),
            element=PlainTextInputElement(
                action_id=Input.SUBJECT,
                initial_value=clip(one_line(subject), SUBJECT_MAX),
                max_length=SUBJECT_MAX,
            ),
        )
    )
    for index, part in enumerate(parts):
        label = "Message" if index == 0 else f"Message, continued ({index + 1})"
        blocks.append(
            InputBlock(
                block_id=body_block_id(index),
                label=_pt(label, 2000),
                optional=index > 0,
                element=PlainTextInputElement(
                    action_id=Input.BODY,
                    multiline=True,
                    initial_value=part,
                    max_length=INPUT_MAX,
                ),
            )
        )
    if override:
        blocks.append(
            InputBlock(
                block_id=BlockId.DRAFT_OVERRIDE,
                label=_pt("The guardrails found the problems above", 2000),
                optional=True,
                element=CheckboxesElement(
                    action_id=Input.OVERRIDE,
                    options=[
                        Option(
                            value=SEND_ANYWAY,
                            text=_pt("Send anyway: I checked it (recorded in the audit log)"),
                        )
                    ],
                ),
            )
        )
    blocks.append(
        _context(
            f"*Save & send* sends it to {clip_escaped(one_line(card.recipient), 400)}: it "
            f"arrives {_arrival_line(card, card.planned_at)}, or when their window next opens."
        )
    )
    blocks.append(
        ActionsBlock(
            block_id=BlockId.DRAFT_EDIT_ACTIONS,
            elements=[
                ButtonElement(
                    text=_pt("Save without sending", BUTTON_TEXT_MAX),
                    action_id=Action.DRAFT_EDIT_SAVE,
                    value=DraftRef(draft.id, draft.version).encode(),
                )
            ],
        )
    )
    if note:
        blocks.append(_context(escape(note)))
    view = View(
        type="modal",
        callback_id=ViewId.DRAFT_EDIT_SUBMIT,
        title=_pt("Edit follow-up", MODAL_TITLE_MAX),
        submit=_pt("Save & send", MODAL_TITLE_MAX),
        close=_pt("Cancel", MODAL_TITLE_MAX),
        private_metadata=DraftRef(draft.id, draft.version).encode(),
        blocks=blocks,
    )
    return check_view(view)


SEND_ANYWAY = "send-anyway"


def notice_modal(title: str, text: str) -> View:
    """A read-only modal (a refusal where no channel can carry an ephemeral message)."""
    return check_view(
        View(
            type="modal",
            callback_id=ViewId.NOTICE,
            title=_pt(title, MODAL_TITLE_MAX),
            close=_pt("Close", MODAL_TITLE_MAX),
            blocks=[SectionBlock(text=_md(text))],
        )
    )


# --------------------------------------------------------------------------- App Home


def home_view(cards: Sequence[DraftCard], *, note: str | None = None) -> View:
    """A person's own queue with the same actions, and a count per rule."""
    counts = Counter(rule_label(card.draft.trigger) for card in cards)
    blocks: list[Block] = [HeaderBlock(text=_pt("Your follow-ups", HEADER_TEXT_MAX))]
    if cards:
        summary = ", ".join(f"{label} {n}" for label, n in sorted(counts.items()))
        waiting = "1 draft waits" if len(cards) == 1 else f"{len(cards)} drafts wait"
        blocks.append(SectionBlock(text=_md(f"*{waiting} for you* · {escape(summary)}")))
    else:
        blocks.append(
            SectionBlock(
                text=_md(
                    "Nothing waits for you. When one of your deals goes quiet, its draft "
                    "appears here and in the review channel."
                )
            )
        )
    blocks.append(
        ActionsBlock(
            elements=[
                ButtonElement(
                    text=_pt("Refresh", BUTTON_TEXT_MAX), action_id=Action.HOME_REFRESH, value="1"
                )
            ]
        )
    )
    if note:
        blocks.append(_context(escape(note)))
    for card in cards[:HOME_DRAFTS_MAX]:
        draft = card.draft
        contact = card.contact
        to = clip_escaped(contact.name if contact else draft.to_address, 200)
        company = f" ({clip_escaped(contact.company, 200)})" if contact and contact.company else ""
        blocks += [
            DividerBlock(),
            SectionBlock(
                text=_md(
                    f"*{clip_escaped(one_line(card.title), 300)}* · to {to}{company}\n"
                    f"{escape(rule_label(draft.trigger))}: "
                    f"{clip_escaped(one_line(draft.reason), 600)}"
                )
            ),
            _context(
                f"*Subject:* {clip_escaped(one_line(card.shown_subject), 300)} · arrives "
                f"{_arrival_line(card, card.planned_at)}"
            ),
            draft_actions(card, block_id=f"{BlockId.DRAFT_ACTIONS}-{draft.id}"),
        ]
    if len(cards) > HOME_DRAFTS_MAX:
        more = len(cards) - HOME_DRAFTS_MAX
        blocks.append(_context(f"…and {more} more. `/followup queue` lists them all."))
    return check_view(View(type="home", blocks=blocks))


# --------------------------------------------------------------------------- /followup


@dataclass(frozen=True, slots=True)
class Reply:
    """An ephemeral answer to a command."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"response_type": "ephemeral", "text": _fallback(self.text)}
        if self.blocks:
            if len(self.blocks) > MESSAGE_BLOCKS_MAX:
                raise SurfaceLimitError(f"{len(self.blocks)} blocks in a reply")
            data["blocks"] = [block.to_dict() for block in self.blocks]
        return data


def text_reply(mrkdwn: str) -> Reply:
    """Our own sentence (already escaped where it quotes outside text)."""
    return Reply(mrkdwn, [SectionBlock(text=_md(mrkdwn))])


def help_reply(topic: Verb | None = None) -> Reply:
    return text_reply(help_text(topic))


def queue_reply(cards: Sequence[DraftCard]) -> Reply:
    if not cards:
        return text_reply("Nothing waits for your review. :sparkles:")
    lines = []
    for card in cards[:40]:
        draft = card.draft
        contact = card.contact
        who = clip_escaped(contact.name if contact else draft.to_address, 120)
        link = ""
        if draft.slack_channel and draft.slack_ts and draft.slack_ts != SUMMARIZED:
            link = f" · <{permalink(draft.slack_channel, draft.slack_ts)}|open>"
        lines.append(
            f"• *{clip_escaped(one_line(card.title), 150)}* → {who} · "
            f"{escape(rule_label(draft.trigger))} · arrives "
            f"{when(card.planned_at, card.recipient_zone)} in "
            f"{escape(city(card.recipient_zone))}{link}"
        )
    head = "1 draft waits" if len(cards) == 1 else f"{len(cards)} drafts wait"
    text = f"*{head} for your review* (act on them in the app's Home tab):\n" + "\n".join(lines)
    if len(cards) > 40:
        text += f"\n…and {len(cards) - 40} more."
    return Reply(clip(f"{head} for your review", 200), _sections(text))


def _sections(text: str) -> list[Block]:
    """Long mrkdwn in as many sections as needed, split between lines."""
    blocks: list[Block] = []
    chunk = ""
    for line in text.split("\n"):
        line = clip(line, SECTION_TEXT_MAX - 10)
        if len(chunk) + len(line) + 1 > SECTION_TEXT_MAX - 10:
            blocks.append(SectionBlock(text=_md(chunk)))
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else line
    if chunk:
        blocks.append(SectionBlock(text=_md(chunk)))
    return blocks[:MESSAGE_BLOCKS_MAX]


_STATUS_ICON = {
    RuleStatus.DUE: ":large_orange_circle:",
    RuleStatus.NOT_DUE: ":white_circle:",
    RuleStatus.OFF: ":black_circle:",
    RuleStatus.CANCELLED: ":heavy_multiplication_x:",
}


def explanation_reply(explanation: Explanation, draft: Draft | None = None) -> Reply:
    """`/followup status`: every rule, due or not, and why; what stops everything."""
    zone = explanation.zone
    lines = [f"*{clip_escaped(one_line(explanation.title), 300)}* (dates in {escape(zone)})"]
    if draft is not None and draft.status is DraftStatus.PENDING:
        lines.append(f":inbox_tray: Draft #{draft.id} waits for review.")
    for verdict in explanation.verdicts:
        lines.append(f":no_entry: {clip_escaped(verdict.text, 500)}")
    for outcome in explanation.outcomes:
        icon = _STATUS_ICON.get(outcome.status, "•")
        lines.append(
            f"{icon} *{escape(rule_label(outcome.rule.value))}* ({escape(outcome.status.value)}): "
            f"{clip_escaped(outcome.reason, 500)}"
        )
    if explanation.due is not None:
        due = explanation.due
        lines.append(
            f":alarm_clock: Due now: {escape(rule_label(due.rule.value))}; would arrive "
            f"{when(due.send_at, due.zone)} in {escape(city(due.zone))}."
        )
    elif explanation.next_change_at is not None:
        lines.append(f"Next look: {when(explanation.next_change_at, zone)}.")
    text = "\n".join(lines)
    return Reply(clip_escaped(one_line(explanation.title), 200), _sections(text))


def why_reply(explanation: Explanation, draft: Draft | None) -> Reply:
    """`/followup why`: the reason the deal's draft exists, or why nothing is due."""
    title = clip_escaped(one_line(explanation.title), 300)
    if draft is not None:
        state = "waits for review" if draft.status is DraftStatus.PENDING else draft.status.value
        lines = [
            f"*{title}*: draft #{draft.id} ({escape(state)}), {escape(rule_label(draft.trigger))}.",
            f"*Why now:* {clip_escaped(one_line(draft.reason), 800)}",
            *(f"• {line}" for line in _evidence_lines(draft)),
        ]
    elif explanation.due is not None:
        due = explanation.due
        lines = [
            f"*{title}*: {escape(rule_label(due.rule.value))} is due; a draft comes with the "
            "next cycle.",
            f"*Why now:* {clip_escaped(one_line(due.reason), 800)}",
            *(f"• {clip_escaped(one_line(e), 400)}" for e in due.evidence[:EVIDENCE_LINES]),
        ]
    else:
        lines = [f"*{title}*: nothing is due."]
        if explanation.verdicts:
            lines += [f"• {clip_escaped(v.text, 500)}" for v in explanation.verdicts]
        else:
            waiting = [o for o in explanation.outcomes if o.status is RuleStatus.NOT_DUE]
            shown = waiting or list(explanation.outcomes)[:1]
            lines += [
                f"• {escape(rule_label(o.rule.value))}: {clip_escaped(o.reason, 500)}"
                for o in shown
            ]
    return Reply(clip_escaped(one_line(explanation.title), 200), _sections("\n".join(lines)))


@dataclass(frozen=True, slots=True)
class Choice:
    """One deal offered in the picker."""

    deal_id: str
    label: str  # `Globex website rebuild (Globex, Jordan Lee)`, unescaped


def picker_reply(command: Command, query: str, choices: Sequence[Choice]) -> Reply:
    """Several deals match: one button each, carrying the command and the deal's id."""
    minutes = int(command.duration.total_seconds() // 60) if command.duration else None
    buttons = [
        ButtonElement(
            text=_pt(choice.label, BUTTON_TEXT_MAX),
            action_id=f"{Action.COMMAND_PICK}-{index}",
            value=PickRef(
                command.verb, choice.deal_id, minutes, command.until, command.cadence
            ).encode(),
        )
        for index, choice in enumerate(choices[:PICKER_MAX])
    ]
    head = (
        f"{len(choices)} deals match “{clip_escaped(query, 80)}”. "
        f"Which one for `{command.verb.value}`?"
    )
    blocks: list[Block] = [SectionBlock(text=_md(head)), ActionsBlock(elements=buttons)]
    if len(choices) > PICKER_MAX:
        blocks.append(_context(f"Showing {PICKER_MAX}; type more of the name to narrow it down."))
    return Reply(clip(f"{len(choices)} deals match", 200), blocks)


# The `slack_ts` of a draft shown only in a batch summary (it has no message of its own).
SUMMARIZED = "summary"
# How many drafts a batch summary names and posts below it.
SUMMARY_SHOWN = 5


def batch_summary(cards: Sequence[DraftCard], shown: int, *, held: int = 0) -> Message:
    """One message for many new drafts at once (a big import): the count per rule, the first
    `shown` drafts (posted below it), and where the rest wait."""
    counts = Counter(rule_label(card.draft.trigger) for card in cards)
    per_rule = " · ".join(f"{escape(label)} {n}" for label, n in counts.most_common())
    lines = [f"*{len(cards)} new drafts to review* · {per_rule}"]
    for card in cards[:shown]:
        contact = card.contact
        who = clip_escaped(contact.name if contact else card.draft.to_address, 120)
        lines.append(f"• #{card.draft.id} *{clip_escaped(one_line(card.title), 150)}* → {who}")
    rest = len(cards) - shown
    if rest > 0:
        lines.append(
            f"The first {shown} are posted below; the other {rest} wait in each owner's Home "
            "tab (and `followup queue`), without a message each."
        )
    if held:
        lines.append(f"{held} approved message(s) are held back by the send limits.")
    text = "\n".join(lines)
    return Message(clip(f"{len(cards)} new drafts to review", 200), _sections(text))
