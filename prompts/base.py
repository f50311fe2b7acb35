"""The drafting interface flows code against, and its error tree.

A `Drafter` turns a `DraftContext` (one deal, one recipient, why now) into a `DraftResult`
(subject, body, where it came from, and what the guardrails found). Two implementations live
in `prompts/drafter.py`: `TemplateDrafter` (the default, no network) and `LLMDrafter`
(any OpenAI-compatible server, falling back to the templates).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from triggers.drafts import ModelCost
from triggers.model import Contact, DealView


class Angle(StrEnum):
    """Cadence angles, in the order a cadence would naturally use them."""

    VALUE = "value"
    SOCIAL_PROOF = "social_proof"
    CHECK_IN = "check_in"
    RECAP = "recap"
    RE_ENGAGEMENT = "re_engagement"
    FINAL_OUTREACH = "final_outreach"


# Not a cadence angle: the one-line reply confirming an opt-out. Pass it as `angle` with no rule.
OPT_OUT_CONFIRMATION = "opt_out_confirmation"


@dataclass(frozen=True, slots=True)
class VoiceSettings:
    """How the deal owner writes.

    `signature` closes every draft (defaults to the owner's first name when empty); `tone` is a
    few words for the model ("warm, direct, no fluff"); `max_words` caps the body and is
    enforced by the guardrails; `sign_off` goes above the signature ("" for none).
    """

    signature: str = ""
    tone: str = "warm, direct, plain-spoken; short sentences; no buzzwords or hype"
    max_words: int = 150
    sign_off: str = "Best,"


@dataclass(frozen=True, slots=True)
class DraftContext:
    view: DealView  # the deal, its contacts, owner, activities
    contact: Contact  # the recipient
    rule: str | None  # a RuleName value, or None for a cadence step
    angle: str | None  # an Angle value, OPT_OUT_CONFIRMATION, or None
    reason: str  # why now, a sentence
    evidence: tuple[str, ...]
    now: datetime
    angles_used: tuple[str, ...] = ()  # oldest first; the last one is the previous touch's
    voice: VoiceSettings = VoiceSettings()
    competitors: tuple[str, ...] = ()
    voice_examples: tuple[str, ...] = ()  # the owner's own sent emails, for the model's voice


@dataclass(frozen=True, slots=True)
class ModelUsage:
    """Cost and latency of the model calls behind one draft (summed over retries)."""

    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    milliseconds: int = 0
    calls: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: ModelUsage) -> ModelUsage:
        return ModelUsage(
            model=other.model or self.model,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            milliseconds=self.milliseconds + other.milliseconds,
            calls=self.calls + other.calls,
        )


@dataclass(frozen=True, slots=True)
class DraftResult:
    subject: str
    body: str
    source: str  # "template" or "model"
    angle: str | None
    facts_used: tuple[str, ...] = ()
    why_angle: str = ""
    notice: str | None = None  # e.g. "drafted from template: model unavailable"
    warnings: tuple[str, ...] = ()  # for the reviewer: injection suspected, tasks for the owner
    written_from: tuple[str, ...] = ()  # the evidence the draft was written from
    cc: tuple[str, ...] = ()  # the others on the recipient's thread
    guardrail_failures: tuple[str, ...] = ()  # non-empty: queue with the failures shown
    usage: ModelUsage | None = None

    @property
    def cost(self) -> ModelCost | None:
        """The usage as the store keeps it with the draft."""
        if self.usage is None or not self.usage.calls:
            return None
        return ModelCost(
            model=self.usage.model,
            calls=self.usage.calls,
            prompt_tokens=self.usage.prompt_tokens,
            completion_tokens=self.usage.completion_tokens,
            milliseconds=self.usage.milliseconds,
        )


class Drafter(Protocol):
    def draft(self, context: DraftContext) -> DraftResult: ...


MODEL_UNAVAILABLE_NOTICE = "drafted from template: model unavailable"


class DraftingError(Exception):
    """Anything that stops a draft from being made."""


class TemplateError(DraftingError):
    """A template is missing, malformed, or uses a variable that does not exist."""


class TemplateNotFoundError(TemplateError):
    pass


class TemplateValidationError(TemplateError):
    """A template failed validation at load; names the file and the line."""

    def __init__(self, message: str, *, path: str, line: int | None) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line


class ModelError(DraftingError):
    """The model could not produce a usable draft; `retryable`: may trying again help?
    `kind` names the failure (timeout, connection, rate_limit, server_error, client_error,
    auth, prose, schema, refusal, cut_off, breaker_open): one notice and log line per kind."""

    def __init__(self, message: str, *, retryable: bool = True, kind: str = "error") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.kind = kind


class ModelUnavailableError(ModelError):
    """Timeout, connection failure, rate limit or server error."""


class ModelResponseError(ModelError):
    """The model answered, but not with the structured output asked for."""
