"""Reading inbound mail: `read(raw, *, known, now) -> Reading`, the one way a message is
understood. Pure: no I/O, no clock (`now` is a parameter), no logging side effects.

One file per concern: `mime` (bytes to a `ParsedMessage`), `quotes` (the new text of a reply),
`bounces` (delivery reports: `dsn` reads RFC 3464 reports, `bounce_text` the notices without
one, the reason tables are data in `bounce_reasons`), `autoreply` (auto-replies,
out-of-office, alternate contacts), `dates` (the one return-date extractor), `optout` (the one
opt-out and complaint detector), `intent` (intent, sentiment, referral, injection), `match`
(which deal a message belongs to). Order of the verdict: complaint, bounce, auto-reply,
opt-out, a person's reply. A delivery report is never an auto-reply, and a person's reply
never an auto-reply without a header or an unmistakable body.

Everything in a message comes from outside: it is read, never obeyed."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from reading.match import Known
from reading.mime import ParsedMessage, normalize_address, normalize_message_id, parse_message
from triggers.reading import Intent, OptOut, Reading, Sentiment

__all__ = [
    "Known",
    "ParsedMessage",
    "Unreadable",
    "normalize_address",
    "normalize_message_id",
    "parse_message",
    "read",
    "read_text",
    "understand",
]

# Rules look at this much of the reply's own words: a reply's request sits near its top, and
# every message gets its verdict in bounded time whatever its size.
_MAX_OWN_WORDS = 20_000
_KINDS = ("reply", "auto_reply", "bounce", "opt_out", "complaint")


class Unreadable(ValueError):
    """The bytes are no e-mail message this reader can make anything of (the reason says why)."""


def read(raw: bytes, *, known: Known | None = None, now: datetime) -> Reading:
    """What one raw message is and wants. Raises `Unreadable` (with the reason) only for
    bytes that are no message at all; any other input gets a verdict."""
    parsed = parse_message(raw)
    if not parsed.headers and not parsed.text.strip():
        raise Unreadable("no headers and no text: not an e-mail message")
    return understand(parsed, known=known, now=now)


def understand(parsed: ParsedMessage, *, known: Known | None = None, now: datetime) -> Reading:
    """`read` for a message already parsed."""
    try:
        reading = _understand(parsed, now)
    except RecursionError as error:
        raise Unreadable(f"nested too deeply to read ({error})") from error
    if known is not None:
        from reading.match import match_message

        reading = replace(reading, match=match_message(parsed, known, reading))
    return reading


def read_text(
    text: str,
    *,
    sent: datetime | None,
    now: datetime,
    kind: str | None = None,
    subject: str = "",
) -> Reading:
    """A reading of text alone, for an inbound email the CRM recorded (no raw message).
    `kind` is what the recorder already knew (an older inbox verdict), if anything."""
    from reading.autoreply import absence_words, find_out_of_office
    from reading.bounces import bounce_words
    from reading.dates import first_day_back
    from reading.intent import frustrated, injection_in
    from reading.optout import OptOutReading, opt_out_of
    from reading.quotes import own_words, visible_reply_text

    kind = kind if kind in _KINDS else None
    visible = visible_reply_text(text)
    own = (own_words(visible) or text.strip())[:_MAX_OWN_WORDS]
    injection = injection_in(own)
    base = Reading(
        kind="reply",
        visible_text=visible or None,
        subject=subject,
        sent_at=sent,
        injection_suspected=injection is not None,
        signals=(f"injection: {injection}",) if injection else (),
    )
    if kind == "bounce" or bounce_words(own):
        return replace(
            base,
            kind="bounce",
            intent=Intent.BOUNCE,
            matched=("bounce: header",) if kind == "bounce" else ("bounce: words",),
        )
    if kind in ("opt_out", "complaint"):
        sentiment = Sentiment.FRUSTRATION if kind == "complaint" else Sentiment.NEUTRAL
        return replace(
            base,
            kind="complaint" if kind == "complaint" else "opt_out",
            intent=Intent.OPT_OUT,
            sentiment=sentiment,
            opt_out=OptOut.SURE,
        )
    verdict: OptOutReading = opt_out_of(ParsedMessage.of_text(subject, text), own, visible)
    if verdict.verdict is OptOut.SURE:
        return _opt_out(base, verdict.evidence, frustrated(own))
    ooo = find_out_of_office(own)
    if ooo or (kind == "auto_reply" and absence_words(own)):
        return replace(
            base,
            kind="auto_reply",
            intent=Intent.OUT_OF_OFFICE,
            return_date=(returns := first_day_back(subject + "\n" + own, sent=sent, now=now)),
            resume_on=returns,
            signals=(*base.signals, f"out of office: {ooo or 'header'}"),
        )
    if kind == "auto_reply":
        return replace(base, kind="auto_reply", matched=("auto_reply: header",))
    return _person(base, own, verdict, sent or now)


def _opt_out(base: Reading, evidence: str | None, angry: bool) -> Reading:
    return replace(
        base,
        kind="opt_out",
        intent=Intent.OPT_OUT,
        sentiment=Sentiment.FRUSTRATION if angry else Sentiment.NEUTRAL,
        opt_out=OptOut.SURE,
        signals=(*base.signals, evidence or "opt-out"),
    )


def _person(base: Reading, own: str, verdict: object, sent: datetime) -> Reading:
    from reading.intent import intent_by_rules
    from reading.optout import OptOutReading

    assert isinstance(verdict, OptOutReading)
    said = intent_by_rules(own, sent=sent)
    signals = base.signals
    if verdict.verdict is OptOut.CHECK and verdict.evidence:
        signals = (*signals, f"check first: {verdict.evidence}")
    return replace(
        base,
        intent=said.intent,
        sentiment=said.sentiment,
        resume_on=said.resume_on,
        referral=said.referral,
        opt_out=verdict.verdict,
        open=said.open,
        matched=(f"{said.intent.value}: {said.why}",) if said.why else (),
        signals=signals,
    )


def _understand(parsed: ParsedMessage, now: datetime) -> Reading:
    from reading.autoreply import (
        absence_words,
        alternate_address,
        auto_reply_signals,
        find_out_of_office,
        is_bulk,
        is_receipt,
        mailbox_retired,
    )
    from reading.bounces import analyze_bounce, bounce_words
    from reading.dates import first_day_back
    from reading.intent import extract_referral, frustrated, injection_in
    from reading.optout import complaint_of, opt_out_of
    from reading.quotes import own_words, visible_reply_text

    signals: list[str] = []
    bulk = is_bulk(parsed)
    base = Reading(
        kind="reply",
        bulk=bulk,
        from_address=parsed.from_address,
        subject=parsed.subject,
        sent_at=parsed.date,
    )
    complaint = complaint_of(parsed)
    if complaint is not None:
        feedback_type, complainants = complaint
        return replace(
            base,
            kind="complaint",
            intent=Intent.OPT_OUT,
            sentiment=Sentiment.FRUSTRATION,
            opt_out=OptOut.SURE,
            feedback_type=feedback_type,
            complaint_recipients=tuple(complainants),
            signals=(f"feedback report ({feedback_type or 'unknown type'})",),
        )
    try:
        is_bounce, bounced = analyze_bounce(parsed, signals)
    except RecursionError:
        raise
    except Exception:  # never let a strange report break the inbox
        is_bounce, bounced = False, []
        signals.append("bounce analysis failed")
    if is_bounce:
        return replace(
            base,
            kind="bounce",
            intent=Intent.BOUNCE,
            bounces=tuple(bounced),
            signals=tuple(signals),
        )

    visible = visible_reply_text(parsed.text)
    own = (own_words(visible) or visible.strip())[:_MAX_OWN_WORDS]
    injection = injection_in(own)
    if injection:
        signals.append(f"injection: {injection}")
    base = replace(base, visible_text=visible or None, injection_suspected=injection is not None)
    verdict = opt_out_of(parsed, own, visible)
    if verdict.verdict is OptOut.SURE and "X-Apple-Unsubscribe" in (verdict.evidence or ""):
        return _opt_out(replace(base, signals=tuple(signals)), verdict.evidence, False)

    auto = auto_reply_signals(parsed)
    receipt = any("every recipient delivered" in s for s in signals) or is_receipt(parsed)
    ooo = find_out_of_office(own)
    if auto or receipt or (ooo and not bulk):
        if not auto:
            auto = ["delivery or read receipt"] if receipt else [f"out-of-office text: {ooo}"]
        body = parsed.subject + "\n" + visible
        away = bool(ooo or absence_words(own))
        returns = first_day_back(body, sent=parsed.date, now=now)
        return replace(
            base,
            kind="auto_reply",
            intent=Intent.OUT_OF_OFFICE if away or returns else Intent.OTHER,
            return_date=returns,
            resume_on=returns,
            alternate_address=alternate_address(parsed, visible),
            referral=extract_referral(own) if away else None,
            mailbox_retired=mailbox_retired(body),
            signals=tuple(signals + auto),
        )

    if bounce_words(own):
        # Delivery-failure words in what reads as a reply: no person wrote it.
        return replace(base, intent=Intent.BOUNCE, signals=(*signals, "delivery-failure words"))
    if verdict.verdict is OptOut.SURE:
        return _opt_out(replace(base, signals=tuple(signals)), verdict.evidence, frustrated(own))
    if bulk:
        signals.append("list or bulk mail (Precedence/List-Id): still a reply, not an auto-reply")
    return _person(replace(base, signals=tuple(signals)), own, verdict, parsed.date or now)
