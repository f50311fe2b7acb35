"""The rule and send-window settings the domain needs, as plain frozen dataclasses.

`settings.py` validates `followup.toml` and builds these; the defaults here are the product's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, timedelta
from enum import StrEnum


class RuleName(StrEnum):
    # Declaration order is the priority order when several rules are due on one deal.
    QUOTE_EXPIRED = "quote_expired"
    CALL_NO_NEXT_STEP = "call_no_next_step"
    PROPOSAL_NO_REPLY = "proposal_no_reply"
    LEAD_NO_REPLY = "lead_no_reply"
    STAGE_STALE = "stage_stale"


RULE_PRIORITY: tuple[RuleName, ...] = tuple(RuleName)


@dataclass(frozen=True, slots=True)
class RuleConfig:
    after: timedelta
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class StageStaleConfig(RuleConfig):
    stages: dict[str, timedelta] = field(default_factory=dict)

    def window_for(self, stage: str) -> timedelta:
        return self.stages.get(stage, self.after)


@dataclass(frozen=True, slots=True)
class LeadNoReplyConfig(RuleConfig):
    max_followups: int = 3


@dataclass(frozen=True, slots=True)
class RulesConfig:
    proposal_no_reply: RuleConfig = RuleConfig(after=timedelta(hours=72))
    call_no_next_step: RuleConfig = RuleConfig(after=timedelta(hours=24))
    stage_stale: StageStaleConfig = StageStaleConfig(after=timedelta(days=7))
    quote_expired: RuleConfig = RuleConfig(after=timedelta(0))
    lead_no_reply: LeadNoReplyConfig = LeadNoReplyConfig(after=timedelta(hours=48))
    # After a draft is dismissed, no rule drafts for the deal for this long; None: one stage
    # window (`stage_stale`'s window for the deal's stage).
    quiet_after_dismissal: timedelta | None = None

    def quiet_for(self, stage: str) -> timedelta:
        """How long a dismissal quiets a deal in `stage`."""
        if self.quiet_after_dismissal is not None:
            return self.quiet_after_dismissal
        return self.stage_stale.window_for(stage)

    def for_rule(self, name: RuleName) -> RuleConfig:
        config: RuleConfig = getattr(self, name.value)
        return config


WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class SendWindowConfig:
    """When a message may arrive, in the recipient's own time zone."""

    days: frozenset[int] = frozenset(range(5))  # date.weekday(): Monday is 0
    start: time = time(9, 0)
    end: time = time(17, 0)
    timezone: str = "UTC"
    # Public holidays (dates) per ISO country code; computed at the edge from `holidays`.
    holiday_country: str = ""
    holiday_dates: frozenset[date] = frozenset()
    # Owner id -> dates the owner is away; no message is planned to arrive on those days.
    owner_away: dict[str, frozenset[date]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EvaluationConfig:
    rules: RulesConfig = RulesConfig()
    send_window: SendWindowConfig = SendWindowConfig()
