"""`Reading`: what followup understood of one inbound message, once (made by `reading.read`).

Stored with the activity the message became (the `reading` column), and read by the cadences,
the handoffs and the send-time checks; nobody reads the message a second time. Pure data:
JSON in, JSON out."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal, TypeVar

__all__ = [
    "AUTOMATED_KINDS",
    "Bounce",
    "Intent",
    "Match",
    "MatchKind",
    "OptOut",
    "Reading",
    "ReadingKind",
    "Sentiment",
]

ReadingKind = Literal["reply", "auto_reply", "bounce", "opt_out", "complaint"]
MatchKind = Literal["thread", "contact", "company_domain", "unmatched"]
AUTOMATED_KINDS = frozenset({"auto_reply", "bounce"})
_E = TypeVar("_E", bound=StrEnum)


class Intent(StrEnum):
    INTERESTED = "interested"
    MEETING_REQUEST = "meeting_request"
    QUESTION = "question"
    OBJECTION = "objection"
    NOT_NOW = "not_now"
    NOT_INTERESTED = "not_interested"
    REFERRAL = "referral"
    WRONG_PERSON = "wrong_person"
    OUT_OF_OFFICE = "out_of_office"
    OPT_OUT = "opt_out"
    BOUNCE = "bounce"
    OTHER = "other"


class Sentiment(StrEnum):
    WARM = "warm"
    NEUTRAL = "neutral"
    DEFLECTION = "deflection"
    FRUSTRATION = "frustration"


class OptOut(StrEnum):
    """How sure the opt-out is. `CHECK`: some layer reads one, not surely: a person checks
    first (nothing more is sent until they do), the reply is never dropped."""

    NONE = "none"
    CHECK = "check"
    SURE = "sure"


@dataclass(frozen=True, slots=True)
class Bounce:
    """One recipient of a delivery failure report."""

    address: str
    status: str | None = None  # enhanced status code, e.g. "5.1.1"
    reply_code: str | None = None  # SMTP reply code, e.g. "550"
    reason: str = "unknown"  # user_unknown, host_unknown, mailbox_full, blocked, ...
    action: str | None = None  # DSN action: failed or delayed
    permanent: bool = True  # False for delays and 4.x.x
    hard: bool = False  # the address itself is dead: suppress it
    diagnostic: str | None = None
    final_address: str | None = None  # where the receiving system forwarded it, if different


@dataclass(frozen=True, slots=True)
class Match:
    """Which deal (or contact, or company) an inbound message belongs to."""

    kind: MatchKind
    deal_id: str | None = None
    contact_id: str | None = None
    company_id: str | None = None
    address: str | None = None  # the address that matched (or the sender's)
    message_id: str | None = None  # the known Message-ID that matched a thread


@dataclass(frozen=True, slots=True)
class Reading:
    """One message, understood. `kind` is what the mail is; `intent` what its writer wants."""

    kind: ReadingKind
    intent: Intent = Intent.OTHER
    sentiment: Sentiment = Sentiment.NEUTRAL
    opt_out: OptOut = OptOut.NONE
    injection_suspected: bool = False
    visible_text: str | None = None
    # auto-replies: the first day back; not_now: when to pick up again
    return_date: date | None = None
    resume_on: date | None = None
    alternate_address: str | None = None
    mailbox_retired: bool = False
    referral: str | None = None
    bounces: tuple[Bounce, ...] = ()
    feedback_type: str | None = None  # ARF Feedback-Type of a complaint
    complaint_recipients: tuple[str, ...] = ()
    bulk: bool = False  # Precedence bulk/list/junk or List-Id: list traffic, still a "reply"
    match: Match | None = None
    from_address: str | None = None
    subject: str = ""
    sent_at: datetime | None = None
    # The rules left the intent open: the model, when configured, may settle it (once).
    open: bool = False
    source: str = "rules"  # "rules" or "model"
    signals: tuple[str, ...] = ()  # why `kind`: the evidence, for people
    matched: tuple[str, ...] = ()  # the intent rules that fired, for the audit trail
    notice: str | None = None  # e.g. "model unavailable: labelled by rules"

    # -- derived -------------------------------------------------------------------------

    @property
    def automated(self) -> bool:
        """An auto-reply or a bounce: no reply from a person."""
        return self.kind in AUTOMATED_KINDS

    @property
    def is_opt_out(self) -> bool:
        return self.opt_out is OptOut.SURE

    @property
    def check_first(self) -> bool:
        """Reads as an opt-out to some layer, not surely: a person decides."""
        return self.opt_out is OptOut.CHECK

    @property
    def failed_recipients(self) -> tuple[str, ...]:
        return tuple(b.address for b in self.bounces)

    @property
    def hard_bounce(self) -> bool | None:
        """Hard only when every failed recipient is dead; None when none was readable."""
        if self.kind != "bounce" or not self.bounces:
            return None
        return all(b.hard for b in self.bounces)

    def with_match(self, match: Match | None) -> Reading:
        return replace(self, match=match)

    # -- storage ---------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "bounces":
                value = [_plain(b) for b in value]
            elif f.name == "match":
                value = _plain(value) if value is not None else None
            elif isinstance(value, datetime | date):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            data[f.name] = value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reading:
        """The stored form back; unknown keys are ignored, missing ones take their default."""
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {k: v for k, v in data.items() if k in known}
        values["intent"] = _enum(Intent, values.get("intent"), Intent.OTHER)
        values["sentiment"] = _enum(Sentiment, values.get("sentiment"), Sentiment.NEUTRAL)
        values["opt_out"] = _enum(OptOut, values.get("opt_out"), OptOut.NONE)
        for key in ("return_date", "resume_on"):
            values[key] = _date(values.get(key))
        sent = values.get("sent_at")
        values["sent_at"] = datetime.fromisoformat(sent) if isinstance(sent, str) else None
        values["bounces"] = tuple(
            Bounce(**_only(Bounce, b)) for b in values.get("bounces") or () if isinstance(b, dict)
        )
        match = values.get("match")
        values["match"] = Match(**_only(Match, match)) if isinstance(match, dict) else None
        for key in ("complaint_recipients", "signals", "matched"):
            values[key] = tuple(str(v) for v in values.get(key) or ())
        return cls(**values)


def _plain(obj: Bounce | Match) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def _only(cls: type[Bounce] | type[Match], data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _enum(kind: type[_E], value: object, default: _E) -> _E:
    try:
        return kind(str(value))
    except ValueError:
        return default


def _date(value: object) -> date | None:
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None
