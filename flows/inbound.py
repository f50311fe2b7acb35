"""Read the inbox and turn what arrives into activities, suppressions and withdrawals.

The inbox is the truth when the CRM lags: a reply found here stops drafting even if the CRM
never logged it. For every new message since the stored cursor (`sync_state` key
`mail:<mailbox name>`):

- a person's reply -> an `email` activity, direction `in`, its visible text as body; open
  drafts for the deal that the reply makes obsolete are withdrawn at once;
- an out-of-office -> a `note` activity with `extra={"auto_reply": True, "return_date": ...}`
  (not an inbound email, so it is no reply for the rules);
- a hard bounce -> the address is suppressed (`hard_bounce`) and its contact marked bounced
  unless another address of theirs remains; a soft bounce is only audited;
- an opt-out or a complaint -> `flows.review.opt_out` (suppressed at once, drafts withdrawn);
- mail the founder sent by hand (Sent folder, or from an owner's address) -> an `email`
  activity, direction `out`: a touch.

Matching (reading/match.py): thread headers against the Message-IDs of known activities first,
then the contacts' addresses. An unknown sender at a known company's domain is reported in the
audit log, not dropped; mail that matches nothing is not the pipeline's business and is left
alone. Activity ids derive from the Message-ID, so reading a message twice records it once;
the cursor advances only after its batch was processed, and each message handed over is kept
in the store's seen-set (`inbound_seen`) by its identity in the mailbox, so no message is
skipped because of its name, its order or when it arrived.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from flows.outgoing import installation_secret
from flows.ports import Actor, Services
from flows.review import deal_view, opt_out
from mail.base import InboundMessage, MailError, is_own_message_id
from prompts.reply_model import consult
from reading import Known, ParsedMessage, normalize_address, normalize_message_id, parse_message
from reading import understand as understand_message
from reading.match import match_message
from reading.quotes import visible_reply_text
from triggers.drafts import AuditEntry, DraftStatus
from triggers.evaluate import reachable_address
from triggers.model import (
    Activity,
    ActivityKind,
    Contact,
    ContactStatus,
    Deal,
    DealStatus,
    Direction,
    Pipeline,
)
from triggers.reading import Match, Reading

log = logging.getLogger(__name__)

ACTOR = "inbox"
# What an inbox activity is, under the key the cadences read (triggers.cadence.MAIL_KIND):
# reply, opt_out, auto_reply, bounce (reading/'s kinds), or sent (by hand).
MAIL_KIND = "mail_kind"
# Batches read per call: a backlog is worked through in one cycle, an endless one cannot stall it.
MAX_BATCHES = 20
_TOUCH_KINDS = (ActivityKind.PROPOSAL_SENT, ActivityKind.QUOTE_SENT)
_ANGLE_ID_RE = re.compile(r"<[^<>\s]{1,500}>")
# Mailbox providers many companies share: an owner writing from one says nothing of colleagues.
_SHARED_DOMAINS = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "fastmail.com",
        "zoho.com",
    ]
)


def cursor_key(mailbox_name: str) -> str:
    return f"mail:{mailbox_name}"


# One reader at a time in a process: the cycle and the outbox worker (reading right before
# a send) would otherwise handle the same new message at once.
_READING = threading.Lock()


def read_inbox(
    services: Services, now: datetime, findings: list[InboxFinding] | None = None
) -> int:
    """Process new inbound mail; return how many messages were read, and add what each was
    to `findings` when given.

    A mailbox outage is logged and delays reading; nothing is lost, the cursor stays put."""
    with _READING:
        return _read_inbox(services, now, findings)


def _read_inbox(services: Services, now: datetime, findings: list[InboxFinding] | None) -> int:
    store = services.store
    key = cursor_key(services.mailbox.name)
    cursor = store.sync_state.get(key)
    read = 0
    mailbox = services.mailbox.name
    for _ in range(MAX_BATCHES):
        try:
            batch = services.mailbox.fetch_since(cursor)
        except MailError as error:
            services.metrics.error("mail", type(error).__name__)
            log.warning("reading the %s mailbox failed; retrying next cycle: %s", key, error)
            break
        # What was read is known by identity (the seen-set), not by the cursor alone: a
        # message the mailbox hands over again is not read twice, and one it hands over late
        # (an earlier name, an older date) is read all the same.
        unseen = store.inbound_seen.unseen(mailbox, [m.provider_id for m in batch.messages])
        fresh = [m for m in batch.messages if m.provider_id in unseen]
        if fresh:
            context = Context.load(services)
            for message in fresh:
                try:
                    finding = handle_message(services, context, message, now)
                except Exception as error:  # one bad message must not stall the inbox
                    log.exception("inbound message %s could not be processed", message.provider_id)
                    store.audit.add(
                        AuditEntry(
                            now, ACTOR, "inbound_failed", message.provider_id, repr(error)[:500]
                        )
                    )
                    finding = InboxFinding(message.provider_id, "failed")
                if findings is not None:
                    findings.append(finding)
                store.inbound_seen.mark(mailbox, message.provider_id, now)
            read += len(fresh)
        moved = batch.cursor is not None and batch.cursor != cursor
        if moved:
            assert batch.cursor is not None
            store.sync_state.set(key, batch.cursor)
            cursor = batch.cursor
        if not batch.messages or not moved:
            break
    return read


def read_before_sending(services: Services, now: datetime) -> int:
    """Right before messages leave: read what arrived since the last read, so a reply or an
    opt-out sitting unread in the inbox withdraws the draft (or suppresses the contact) and the
    send-time check refuses it. A mailbox that cannot be read is logged, and sending goes on as
    checked at the last read."""
    try:
        return read_inbox(services, now)
    except Exception:  # the send must not fail because reading did; it is retried next time
        log.exception("reading the inbox before sending failed")
        return 0


# --- what is known --------------------------------------------------------------------------


@dataclass(slots=True)
class Context:
    """The pipeline as matching needs it; kept current as a batch adds activities."""

    pipeline: Pipeline
    message_domain: str
    own_secret: str = ""  # this installation's Message-ID key (flows.outgoing)
    known_ids: dict[str, str] = field(default_factory=dict)  # normalized Message-ID -> deal
    id_contacts: dict[str, str] = field(default_factory=dict)  # normalized Message-ID -> contact
    id_recipients: dict[str, tuple[str, ...]] = field(default_factory=dict)
    address_to_contact: dict[str, str] = field(default_factory=dict)
    company_domains: dict[str, str] = field(default_factory=dict)
    owner_addresses: frozenset[str] = frozenset()
    own_domains: frozenset[str] = frozenset()  # the founder's company: mail from it is ours
    contacts: dict[str, Contact] = field(default_factory=dict)
    deals: dict[str, Deal] = field(default_factory=dict)
    activities: dict[str, list[Activity]] = field(default_factory=dict)  # by deal

    def known(self) -> Known:
        """What matching compares a message with (keys already normalized)."""
        return Known(self.known_ids, self.address_to_contact, self.company_domains)

    @classmethod
    def load(cls, services: Services) -> Context:
        pipeline = services.store.pipeline.load()
        context = cls(pipeline, services.policy.message_id_domain.lower())
        context.own_secret = installation_secret(services)
        context.contacts = {c.id: c for c in pipeline.contacts}
        context.deals = {d.id: d for d in pipeline.deals}
        context.owner_addresses = frozenset(o.email.lower() for o in pipeline.owners if o.email)
        context.own_domains = (
            frozenset(a.rpartition("@")[2] for a in context.owner_addresses) - _SHARED_DOMAINS
        )
        for contact in pipeline.contacts:
            for address in contact.addresses:
                context.address_to_contact.setdefault(address, contact.id)
                domain = address.rpartition("@")[2]
                if contact.company and domain:
                    context.company_domains.setdefault(domain, contact.company)
        for activity in pipeline.activities:
            context.remember(activity)
        return context

    def remember(self, activity: Activity) -> None:
        self.activities.setdefault(activity.deal_id, []).append(activity)
        normalized = normalize_message_id(activity.message_id)
        if normalized is not None:
            self.known_ids.setdefault(normalized, activity.deal_id)
            if activity.contact_id:
                self.id_contacts.setdefault(normalized, activity.contact_id)
            if activity.to_addresses:
                self.id_recipients.setdefault(normalized, activity.to_addresses)

    def deals_of(self, contact_id: str) -> list[str]:
        """The contact's open deals, else their most recently active one."""
        theirs = [d for d in self.pipeline.deals if contact_id in d.contact_ids]
        open_deals = [d.id for d in theirs if d.status is DealStatus.OPEN]
        if open_deals or not theirs:
            return open_deals
        return [max(theirs, key=self._last_activity).id]

    def _last_activity(self, deal: Deal) -> datetime:
        times = [a.at for a in self.activities.get(deal.id, [])]
        return max(times, default=deal.stage_entered_at)

    def from_our_side(self, sender: str | None) -> bool:
        """The founder, another owner, or a colleague at the founder's company."""
        if not sender:
            return False
        return sender in self.owner_addresses or sender.rpartition("@")[2] in self.own_domains

    def is_ours(self, message_id: str | None) -> bool:
        """A Message-ID this installation made (flows.outgoing.message_id), whatever the
        sender's domain; or one of the `followup.<draft>.v<version>@...` ids older versions
        made."""
        if not message_id:
            return False
        if is_own_message_id(self.own_secret, message_id):
            return True
        return re.fullmatch(r"<?followup\.\d+\.v\d+@[^<>@\s]+>?", message_id.strip()) is not None


# --- one message -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboxFinding:
    """What one message handed over by the mailbox was, for `followup tick` to say."""

    sender: str  # the address, or "(no sender)"
    kind: str  # reply, opt_out, complaint, auto_reply, bounce, sent, known, unmatched, failed
    source_key: str | None = None  # the Message-ID as recorded: a handoff's source_key
    subject: str = ""


def handle_message(
    services: Services, context: Context, message: InboundMessage, now: datetime
) -> InboxFinding:
    parsed = parse_message(message.raw)
    message_id = parsed.message_id
    found = InboxFinding(
        parsed.from_address or "(no sender)",
        "known",
        _original_id(parsed, "Message-ID"),
        (parsed.subject or "")[:120],
    )
    if context.is_ours(message_id):
        return found  # followup's own send: the outbox worker records it
    if message_id is not None and message_id in context.known_ids:
        return found  # already recorded (by an earlier read, the CRM, or as a sent draft)
    sender = parsed.from_address
    if message.folder == "sent":
        _hand_sent(services, context, parsed, now)
        return replace(found, kind="sent")
    understanding = understand_message(parsed, known=context.known(), now=now)
    services.metrics.inbound(understanding.kind)
    if context.from_our_side(sender) and understanding.kind not in ("bounce", "complaint"):
        # A copy of the founder's own mail, or a colleague's (a postmaster at the founder's own
        # domain still reports bounces).
        _hand_sent(services, context, parsed, now, understanding)
        return replace(found, kind="sent")
    match = understanding.match or Match(kind="unmatched", address=sender)
    if understanding.kind == "bounce":
        _bounce(services, context, parsed, understanding, match, now)
        return replace(found, kind="bounce")
    if understanding.kind == "complaint":
        _complaint(services, context, parsed, understanding, match, now)
        return replace(found, kind="complaint")
    if understanding.kind == "opt_out":
        if sender is not None:
            opt_out(services, sender, Actor.operator(ACTOR), now, source="inbox")
        _reply(services, context, parsed, understanding, match, now, opted_out=True)
        return replace(found, kind="opt_out")
    if understanding.kind == "auto_reply":
        matched = _auto_reply(services, context, parsed, understanding, match, now)
        return replace(found, kind="auto_reply" if matched else "unmatched")
    # A person's reply: the model (when configured) settles what the rules left open, once,
    # here; the reading is stored with the activity and nobody asks again.
    understood = consult(understanding, services.reply_model)
    matched = _reply(services, context, parsed, understood, match, now)
    return replace(found, kind="reply" if matched else "unmatched")


def _mail_activity(
    parsed: ParsedMessage,
    deal_id: str,
    several: bool,
    kind: ActivityKind,
    now: datetime,
    **fields: Any,
) -> Activity:
    """One message on one deal's timeline (`several`: the message is recorded on several
    deals): id, date, subject and thread headers from the message, the rest from `fields`."""
    return Activity(
        id=_activity_id(parsed, _raw_key(parsed), deal_id, several),
        deal_id=deal_id,
        kind=kind,
        at=_at(parsed, now),
        subject=parsed.subject or None,
        message_id=_original_id(parsed, "Message-ID"),
        in_reply_to=_original_id(parsed, "In-Reply-To"),
        **fields,
    )


def _activity_id(parsed: ParsedMessage, raw_key: str, deal_id: str, several: bool) -> str:
    basis = parsed.message_id or raw_key
    digest = hashlib.sha256(basis.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return f"mail-{digest}-{deal_id}" if several else f"mail-{digest}"


def _original_id(parsed: ParsedMessage, header: str) -> str | None:
    """The header's first Message-ID as written (case kept: replies must quote it exactly)."""
    value = parsed.header(header)
    if value:
        found = _ANGLE_ID_RE.search(value)
        if found:
            return found.group(0)
    normalized = parsed.message_id if header == "Message-ID" else None
    return f"<{normalized}>" if normalized else None


def _at(parsed: ParsedMessage, now: datetime) -> datetime:
    """When it was written, as its Date says; never later than now (bad clocks exist)."""
    if parsed.date is None or parsed.date.tzinfo is None:
        return now
    return min(parsed.date, now)


def _raw_key(parsed: ParsedMessage) -> str:
    """A stable identity for a message without a Message-ID."""
    basis = "\n".join(f"{k}:{v}" for k, v in parsed.headers) + "\n" + parsed.text
    return hashlib.sha256(basis.encode("utf-8", "surrogateescape")).hexdigest()


def _record(services: Services, context: Context, activity: Activity, now: datetime) -> bool:
    added = services.store.pipeline.add_activity(activity, origin="inbox", now=now)
    if added:
        context.remember(activity)
    return added


def _target_deals(context: Context, match: Match, contact_id: str | None) -> list[str]:
    if match.deal_id is not None:
        return [match.deal_id] if match.deal_id in context.deals else []
    return context.deals_of(contact_id) if contact_id else []


def _report_unknown(services: Services, match: Match, parsed: ParsedMessage, now: datetime) -> None:
    if match.kind == "company_domain" and match.address:
        detail = f"writes from {match.company_id}'s domain; subject: {parsed.subject[:200]}"
        services.store.audit.add(AuditEntry(now, ACTOR, "unknown_sender", match.address, detail))


# --- replies, by hand and from prospects ----------------------------------------------------


def _hand_sent(
    services: Services,
    context: Context,
    parsed: ParsedMessage,
    now: datetime,
    understanding: Reading | None = None,
) -> None:
    """Mail the founder sent from their own client: a touch on the deal it went to."""
    understanding = understanding or understand_message(parsed, now=now)
    if understanding.kind == "auto_reply":
        return  # the founder's own out-of-office answers are no touch
    recipients = [a for a in (*parsed.to, *parsed.cc) if a not in context.owner_addresses]
    thread = match_message(parsed, Known(context.known_ids))
    contact_id = next(
        (context.address_to_contact[a] for a in recipients if a in context.address_to_contact), None
    )
    if thread.deal_id is not None:
        deals = [thread.deal_id] if thread.deal_id in context.deals else []
    else:
        deals = context.deals_of(contact_id) if contact_id else []
    for deal_id in deals:
        deal = context.deals[deal_id]
        on_deal = next(
            (
                context.address_to_contact[a]
                for a in recipients
                if context.address_to_contact.get(a) in deal.contact_ids
            ),
            contact_id,
        )
        _record(
            services,
            context,
            _mail_activity(
                parsed,
                deal_id,
                len(deals) > 1,
                ActivityKind.EMAIL,
                now,
                contact_id=on_deal,
                direction=Direction.OUT,
                body=visible_reply_text(parsed.text) or None,
                from_address=parsed.from_address,
                to_addresses=tuple(recipients),
                extra={"source": "inbox", "sent_by_hand": True, MAIL_KIND: "sent"},
                reading=understanding,
            ),
            now,
        )


def _reply(
    services: Services,
    context: Context,
    parsed: ParsedMessage,
    understanding: Reading,
    match: Match,
    now: datetime,
    *,
    opted_out: bool = False,
) -> bool:
    sender = parsed.from_address
    contact_id = match.contact_id or (context.address_to_contact.get(sender) if sender else None)
    deals = _target_deals(context, match, contact_id)
    if not deals:
        _report_unknown(services, match, parsed, now)
        return False
    for deal_id in deals:
        deal = context.deals[deal_id]
        known_sender = contact_id is not None and contact_id in deal.contact_ids
        extra: dict[str, object] = {
            "source": "inbox",
            "matched_by": match.kind,
            MAIL_KIND: "opt_out" if opted_out else "reply",
        }
        if opted_out:
            extra["opt_out"] = True
        if understanding.bulk:
            extra["bulk"] = True
        on_deal = contact_id if known_sender else None
        if not known_sender:
            # Someone else answered in the thread (a colleague, a new address): still a reply.
            # Recorded for the thread's contact, so the rules count it, and reported.
            on_deal = context.id_contacts.get(match.message_id or "")
            extra["sender"] = sender
            services.store.audit.add(
                AuditEntry(now, ACTOR, "unknown_sender", sender or "(no sender)", f"deal:{deal_id}")
            )
        reply = _mail_activity(
            parsed,
            deal_id,
            len(deals) > 1,
            ActivityKind.EMAIL,
            now,
            contact_id=on_deal,
            direction=Direction.IN,
            body=understanding.visible_text or "",
            from_address=sender if known_sender else None,
            to_addresses=parsed.to,
            extra=extra,
            reading=understanding,
        )
        if _record(services, context, reply, now):
            _withdraw_answered(services, context, reply, now)
    return True


def _withdraw_answered(
    services: Services, context: Context, reply: Activity, now: datetime
) -> None:
    """Open drafts on the deal go when this reply is the latest word.

    The cycle withdraws drafts made before a reply; this also covers a reply found late (after
    an outage) that was written before the draft was made."""
    later_touch = any(
        a.at > reply.at
        and (
            a.kind in _TOUCH_KINDS
            or (a.kind is ActivityKind.EMAIL and a.direction is Direction.OUT)
        )
        for a in context.activities.get(reply.deal_id, [])
    )
    if later_touch:
        return
    store = services.store
    open_drafts = store.drafts.find(
        statuses=[DraftStatus.PENDING, DraftStatus.APPROVED], deal_id=reply.deal_id
    )
    if not open_drafts:
        return
    view = deal_view(services, reply.deal_id)
    note = f"reply arrived {reply.at:%a %d %b %H:%M} UTC"
    for draft in open_drafts:
        if draft.status is DraftStatus.APPROVED:
            store.outbox.cancel_for_draft(draft.id)  # a row already sending is re-checked there
        withdrawn = store.drafts.transition(
            draft.id, DraftStatus.WITHDRAWN, actor=f"cli:{ACTOR}", now=now, note=note
        )
        if withdrawn is not None:
            services.review.update(withdrawn, view, f"Withdrawn: {note}")


def _auto_reply(
    services: Services,
    context: Context,
    parsed: ParsedMessage,
    understanding: Reading,
    match: Match,
    now: datetime,
) -> bool:
    sender = parsed.from_address
    contact_id = match.contact_id or (context.address_to_contact.get(sender) if sender else None)
    if contact_id is None and match.message_id:
        contact_id = context.id_contacts.get(match.message_id)
    deals = _target_deals(context, match, contact_id)
    if not deals:
        _report_unknown(services, match, parsed, now)
        return False
    returns = understanding.return_date
    extra: dict[str, object] = {
        "source": "inbox",
        MAIL_KIND: "auto_reply",
        "auto_reply": True,
        "return_date": returns.isoformat() if returns else None,
        "alternate_address": understanding.alternate_address,
        "mailbox_retired": understanding.mailbox_retired,
    }
    for deal_id in deals:
        _record(
            services,
            context,
            _mail_activity(
                parsed,
                deal_id,
                len(deals) > 1,
                ActivityKind.NOTE,
                now,
                contact_id=contact_id,
                body=understanding.visible_text,
                from_address=sender,
                extra=extra,
                reading=understanding,
            ),
            now,
        )
    if understanding.mailbox_retired and sender:
        alternate = understanding.alternate_address or "none named"
        services.store.audit.add(
            AuditEntry(now, ACTOR, "mailbox_retired", sender, f"alternate: {alternate}")
        )
    return True


# --- bounces, opt-outs, complaints ------------------------------------------------------------


def _bounce(
    services: Services,
    context: Context,
    parsed: ParsedMessage,
    understanding: Reading,
    match: Match,
    now: datetime,
) -> None:
    store = services.store
    ours = match.kind == "thread"  # the bounced message is one the pipeline knows
    if not understanding.bounces:
        store.audit.add(
            AuditEntry(now, ACTOR, "bounce_unreadable", parsed.subject[:200] or "(no subject)")
        )
        return
    for bounced in understanding.bounces:
        addresses = [a for a in (bounced.address, bounced.final_address) if a]
        known = [a for a in addresses if a in context.address_to_contact]
        detail = " ".join(
            part
            for part in (bounced.status, bounced.reason, (bounced.diagnostic or "")[:300])
            if part
        )
        if not bounced.hard:
            store.audit.add(AuditEntry(now, ACTOR, "soft_bounce", bounced.address, detail))
            continue
        if not known and not ours:
            store.audit.add(AuditEntry(now, ACTOR, "bounce_unmatched", bounced.address, detail))
            continue
        for address in known or addresses[:1]:
            _suppress_bounced(services, context, address, detail, now)
    _bounce_notes(services, context, parsed, understanding, match, now)


def _bounce_notes(
    services: Services,
    context: Context,
    parsed: ParsedMessage,
    understanding: Reading,
    match: Match,
    now: datetime,
) -> None:
    """A hard bounce on the deal's timeline: a note (no reply), for people and cadences."""
    for bounced in understanding.bounces:
        if not bounced.hard:
            continue  # a soft bounce is only audited
        contact_id = context.address_to_contact.get(bounced.address)
        deals = _target_deals(context, match, contact_id)
        for deal_id in deals:
            key = f"{parsed.message_id or _raw_key(parsed)}/{bounced.address}"
            digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:24]
            _record(
                services,
                context,
                Activity(
                    id=f"mail-{digest}-{deal_id}",
                    deal_id=deal_id,
                    kind=ActivityKind.NOTE,
                    at=_at(parsed, now),
                    contact_id=contact_id,
                    subject=parsed.subject or None,
                    body=bounced.diagnostic,
                    message_id=_original_id(parsed, "Message-ID"),
                    from_address=parsed.from_address,
                    extra={
                        "source": "inbox",
                        MAIL_KIND: "bounce",
                        "failed_recipient": bounced.address,
                        "hard_bounce": bounced.hard,
                        "status": bounced.status,
                        "reason": bounced.reason,
                    },
                    reading=understanding,
                ),
                now,
            )


def _suppress_bounced(
    services: Services, context: Context, address: str, detail: str, now: datetime
) -> None:
    store = services.store
    store.suppressions.add(address, reason="hard_bounce", now=now, source="inbox")
    store.audit.add(AuditEntry(now, ACTOR, "hard_bounce", address, detail))
    suppressed = store.suppressions.values()
    for contact in context.contacts.values():
        if address not in contact.addresses or contact.status is not ContactStatus.ACTIVE:
            continue
        alternate = reachable_address(contact, suppressed)
        if alternate is not None:
            store.audit.add(
                AuditEntry(now, ACTOR, "alternate_address", f"contact:{contact.id}", alternate)
            )
        else:
            store.pipeline.set_contact_status(contact.id, ContactStatus.BOUNCED, now)


def _complaint(
    services: Services,
    context: Context,
    parsed: ParsedMessage,
    understanding: Reading,
    match: Match,
    now: datetime,
) -> None:
    """A feedback report (ARF): whoever received the reported message wants no more."""
    recipients: list[str] = list(context.id_recipients.get(match.message_id or "", ()))
    recipients += understanding.complaint_recipients
    addresses = sorted({a for a in (normalize_address(r) for r in recipients) if a})
    if not addresses:
        services.store.audit.add(
            AuditEntry(now, ACTOR, "complaint_unmatched", parsed.subject[:200] or "(no subject)")
        )
        return
    for address in addresses:
        opt_out(services, address, Actor.operator(ACTOR), now, source="inbox:complaint")
