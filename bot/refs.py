"""Small typed references carried in button values, option values and `private_metadata`.

They hold ids and a version, never draft text: what a person saw is identified by
(draft id, version), so an approval of a message that was edited meanwhile is refused.
Encoded as compact JSON with one-letter keys; decoding is strict (a value that does not
parse is a `RefError`, never a guess).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Self

from bot.ids import More
from triggers.cadence import Choice
from triggers.command import Verb

__all__ = [
    "AnswerRef",
    "DismissRef",
    "DraftRef",
    "HandoffRef",
    "MoreRef",
    "PickRef",
    "RefError",
]

OPTION_VALUE_MAX = 150  # Slack's limit for an option's value
BUTTON_VALUE_MAX = 2000
DEAL_ID_MAX = 100
REASONS = ("not_now", "deprioritize", "wrong_moment", "other")


class RefError(ValueError):
    """A value that is not one of our references (stale client, or tampering)."""


def _load(text: str, kind: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        raise RefError(f"not a {kind} reference") from None
    if not isinstance(data, dict) or data.get("k") != kind:
        raise RefError(f"not a {kind} reference")
    return data


def _dump(data: dict[str, Any], limit: int) -> str:
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if len(text) > limit:
        raise RefError(f"reference longer than {limit} characters")
    return text


def _positive(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise RefError(f"{key!r} must be a positive integer")
    return value


@dataclass(frozen=True, slots=True)
class DraftRef:
    """One version of one draft: button values and the Edit modal's metadata."""

    draft_id: int
    version: int
    KIND: ClassVar[str] = "draft"

    def encode(self) -> str:
        return _dump({"k": self.KIND, "d": self.draft_id, "v": self.version}, OPTION_VALUE_MAX)

    @classmethod
    def decode(cls, text: str) -> Self:
        data = _load(text, cls.KIND)
        return cls(_positive(data, "d"), _positive(data, "v"))


@dataclass(frozen=True, slots=True)
class DismissRef:
    draft_id: int
    version: int
    reason: str
    KIND: ClassVar[str] = "dismiss"

    def encode(self) -> str:
        data = {"k": self.KIND, "d": self.draft_id, "v": self.version, "r": self.reason}
        return _dump(data, OPTION_VALUE_MAX)

    @classmethod
    def decode(cls, text: str) -> Self:
        data = _load(text, cls.KIND)
        reason = data.get("r")
        if reason not in REASONS:
            raise RefError("unknown dismiss reason")
        return cls(_positive(data, "d"), _positive(data, "v"), str(reason))


@dataclass(frozen=True, slots=True)
class MoreRef:
    draft_id: int
    version: int
    choice: More
    KIND: ClassVar[str] = "more"

    def encode(self) -> str:
        data = {"k": self.KIND, "d": self.draft_id, "v": self.version, "c": self.choice.value}
        return _dump(data, OPTION_VALUE_MAX)

    @classmethod
    def decode(cls, text: str) -> Self:
        data = _load(text, cls.KIND)
        try:
            choice = More(str(data.get("c")))
        except ValueError:
            raise RefError("unknown menu choice") from None
        return cls(_positive(data, "d"), _positive(data, "v"), choice)


@dataclass(frozen=True, slots=True)
class PickRef:
    """A deal chosen in the picker, with the command's arguments (no free text)."""

    verb: Verb
    deal_id: str
    minutes: int | None = None  # the duration of pause ... for / snooze
    until: date | None = None
    cadence: str = ""  # enroll: a defined cadence's name, "" for the default
    KIND: ClassVar[str] = "pick"

    def encode(self) -> str:
        if not self.deal_id or len(self.deal_id) > DEAL_ID_MAX:
            raise RefError("deal id missing or too long")
        data: dict[str, Any] = {"k": self.KIND, "c": self.verb.value, "i": self.deal_id}
        if self.minutes is not None:
            data["m"] = self.minutes
        if self.until is not None:
            data["u"] = self.until.isoformat()
        if self.cadence:
            data["n"] = self.cadence
        return _dump(data, BUTTON_VALUE_MAX)

    @classmethod
    def decode(cls, text: str) -> Self:
        data = _load(text, cls.KIND)
        try:
            verb = Verb(str(data.get("c")))
        except ValueError:
            raise RefError("unknown command") from None
        deal_id = data.get("i")
        if not isinstance(deal_id, str) or not deal_id or len(deal_id) > DEAL_ID_MAX:
            raise RefError("deal id missing or too long")
        minutes = _positive(data, "m") if "m" in data else None
        until: date | None = None
        if "u" in data:
            try:
                until = date.fromisoformat(str(data["u"]))
            except ValueError:
                raise RefError("bad date") from None
        cadence = data.get("n", "")
        if not isinstance(cadence, str) or len(cadence) > DEAL_ID_MAX:
            raise RefError("bad cadence name")
        return cls(verb, deal_id, minutes, until, cadence)


@dataclass(frozen=True, slots=True)
class AnswerRef:
    """One answer to one owner question, and the handoff the question came with (if any)."""

    question_id: int
    choice: Choice
    handoff_id: int | None = None
    KIND: ClassVar[str] = "answer"

    def encode(self) -> str:
        data: dict[str, Any] = {"k": self.KIND, "q": self.question_id, "c": self.choice.value}
        if self.handoff_id is not None:
            data["h"] = self.handoff_id
        return _dump(data, BUTTON_VALUE_MAX)

    @classmethod
    def decode(cls, text: str) -> Self:
        data = _load(text, cls.KIND)
        try:
            choice = Choice(str(data.get("c")))
        except ValueError:
            raise RefError("unknown answer") from None
        handoff = _positive(data, "h") if "h" in data else None
        return cls(_positive(data, "q"), choice, handoff)


@dataclass(frozen=True, slots=True)
class HandoffRef:
    """One handoff: the "Done" button on its message."""

    handoff_id: int
    KIND: ClassVar[str] = "handoff"

    def encode(self) -> str:
        return _dump({"k": self.KIND, "h": self.handoff_id}, BUTTON_VALUE_MAX)

    @classmethod
    def decode(cls, text: str) -> Self:
        return cls(_positive(_load(text, cls.KIND), "h"))
