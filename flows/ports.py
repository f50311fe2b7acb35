"""What the use cases need from the edges, beside the adapters' own interfaces."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from crm.base import CrmAdapter
from mail.base import Mailbox
from prompts.base import DraftContext, Drafter, VoiceSettings
from storage.repos import Store
from triggers.cadence import CadenceConfig, OwnerQuestion
from triggers.config import EvaluationConfig
from triggers.drafts import Draft
from triggers.handoff import Handoff, RoutingConfig
from triggers.model import DealView

if TYPE_CHECKING:  # importing the classifier costs a model SDK: only where it is used
    from flows.volume import SendLimits
    from prompts.reply_model import ReplyModel


class EditGuardrails(Protocol):
    """The drafts' guardrails, for text a person wrote (an edit): the failures, or ()."""

    def check(
        self, context: DraftContext, subject: str, body: str, *, trusted: tuple[str, ...]
    ) -> tuple[str, ...]: ...


class ReviewSurface(Protocol):
    """Where people review drafts (Slack). The CLI needs none: `NoReviewSurface`."""

    def publish(self, draft: Draft, view: DealView) -> None:
        """Show a new draft to its reviewers."""

    def update(self, draft: Draft, view: DealView | None, outcome: str) -> None:
        """Replace the draft's message with its outcome (sent, dismissed, withdrawn...)."""


class NoReviewSurface:
    def publish(self, draft: Draft, view: DealView) -> None:
        return None

    def update(self, draft: Draft, view: DealView | None, outcome: str) -> None:
        return None


class NotPosted(Exception):
    """A surface could not show something; the caller keeps it and tries again later.
    `outage`: the surface is down (or rate-limiting), so trying the next item now is pointless;
    otherwise only this item was refused (a channel not found, nowhere to post)."""

    def __init__(self, reason: str, *, outage: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.outage = outage


class HandoffSurface(Protocol):
    """Where handoffs and owner questions appear (Slack: a message with an @mention, sentiment
    first, and buttons for a question)."""

    def post_handoff(
        self, handoff: Handoff, view: DealView, question: OwnerQuestion | None
    ) -> None:
        """Post a handoff to the person it is routed to, with the owner's question if any.
        Raises `NotPosted` when it did not reach them: the handoff is posted again later."""

    def ask_owner(self, question: OwnerQuestion, view: DealView) -> None:
        """Ask the deal's owner ONE question (with no handoff: an address looks stale)."""


class NoHandoffSurface:
    def post_handoff(
        self, handoff: Handoff, view: DealView, question: OwnerQuestion | None
    ) -> None:
        return None

    def ask_owner(self, question: OwnerQuestion, view: DealView) -> None:
        return None


@runtime_checkable
class BatchPublishing(Protocol):
    """Optional surface ability: many new drafts at once shown as one summary (Slack)."""

    def publish_batch(self, items: Sequence[tuple[Draft, DealView]]) -> None:
        """Show these new drafts; a surface may summarize a long batch instead of one each."""


@runtime_checkable
class Reminders(Protocol):
    """Optional surface ability: the playbook's "or a Slack reminder" when the CRM keeps no
    tasks."""

    def remind(self, user: str | None, view: DealView, text: str, at: datetime) -> str:
        """Schedule `text` for `user` (a Slack user id; the deal's owner when None) to arrive
        at `at`; the reminder's id. Raises `NotPosted`."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a Slack user, or the operator at the command line (trusted: they hold the
    database)."""

    id: str
    slack_user_id: str | None = None
    display: str = ""

    @property
    def is_operator(self) -> bool:
        return self.slack_user_id is None

    @classmethod
    def operator(cls, name: str = "cli") -> Actor:
        return cls(id=f"cli:{name}", display=name)

    @classmethod
    def slack(cls, user_id: str, display: str = "") -> Actor:
        return cls(id=f"slack:{user_id}", slack_user_id=user_id, display=display or user_id)


@dataclass(frozen=True, slots=True)
class Policy:
    """Behaviour the flows need from `followup.toml`."""

    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    admins: frozenset[str] = frozenset()  # Slack user ids who may act on any draft
    competitors: tuple[str, ...] = ()
    voice: VoiceSettings = field(default_factory=VoiceSettings)
    # Per owner id; an owner not listed writes in `voice`.
    owner_voices: Mapping[str, VoiceSettings] = field(default_factory=dict)
    message_id_domain: str = "followup.local"
    # An outbox worker's claim holds this long unless renewed (SEND_LEASE_SECONDS).
    send_lease: timedelta = timedelta(minutes=2)
    cadences: CadenceConfig = field(default_factory=CadenceConfig)
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    # Volume controls (`[sending]`, `[rules] max_new_drafts_per_cycle`); off by default here,
    # on with safe defaults from followup.toml.
    send_limits: SendLimits = field(default_factory=lambda: _no_limits())
    max_new_drafts_per_cycle: int | None = None
    mention_owner: bool = True

    def voice_for(self, owner_id: str | None) -> VoiceSettings:
        return self.owner_voices.get(owner_id or "", self.voice)


class Metrics(Protocol):
    """What the flows count (Prometheus behind it, wired by `app.py`)."""

    def inbound(self, verdict: str) -> None:
        """One inbound message was read as `verdict` (reply, auto_reply, bounce...)."""

    def error(self, system: str, kind: str) -> None:
        """An edge failed: `system` crm or mail, `kind` the error's class."""


class NoMetrics:
    def inbound(self, verdict: str) -> None:
        return None

    def error(self, system: str, kind: str) -> None:
        return None


@dataclass(slots=True)
class Services:
    """Everything a flow talks to, wired by `app.py`."""

    store: Store
    crm: CrmAdapter
    mailbox: Mailbox
    drafter: Drafter
    review: ReviewSurface
    policy: Policy
    handoffs: HandoffSurface = field(default_factory=NoHandoffSurface)
    # Labels what the classifier's rules leave open; None: rules alone.
    reply_model: ReplyModel | None = None
    metrics: Metrics = field(default_factory=NoMetrics)
    # Checks a person's edit like a draft (issue 11 item 11); None: edits are not checked.
    guardrails: EditGuardrails | None = None


def _no_limits() -> SendLimits:
    from flows.volume import SendLimits

    return SendLimits()
