"""How a CRM's own words map onto the rules' (`[crm.mapping]` in followup.toml).

A CRM does not say "proposal_sent": a deal entering a proposal stage does, at the time the
vendor's stage history gives. Stages, labels and statuses match by id or by name, ignoring
case. The defaults fit HubSpot's and Pipedrive's stock pipelines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from triggers.model import Activity, ActivityKind, Deal, DealSource, DealStatus, Owner


@dataclass(frozen=True, slots=True)
class OwnerSettings:
    """What the CRM does not know about a person: their time zone and Slack id."""

    timezone: str | None = None
    slack_user_id: str | None = None


def _fold(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.strip().casefold() for v in values)


@dataclass(frozen=True, slots=True)
class CrmMapping:
    proposal_stages: tuple[str, ...] = (
        "proposal",
        "proposal sent",
        "proposal made",
        "contractsent",
        "contract sent",
    )
    quote_stages: tuple[str, ...] = ("quote", "quote sent")
    # Stage ids or names, or (Pipedrive) deal label names, that park an open deal.
    statuses: Mapping[str, DealStatus] = field(
        default_factory=lambda: {
            "on hold": DealStatus.ON_HOLD,
            "deprioritized": DealStatus.DEPRIORITIZED,
            "parked": DealStatus.PARKED,
        }
    )
    call_types: tuple[str, ...] = ("call",)
    meeting_types: tuple[str, ...] = ("meeting",)
    # A deal property (HubSpot) or custom field key (Pipedrive) holding the quote's expiry.
    quote_expiry_property: str | None = "quote_expires_at"
    # The deal property that says where it came from; None: the vendor's own
    # (HubSpot `hs_analytics_source`, Pipedrive `origin`).
    source_property: str | None = None
    inbound_sources: tuple[str, ...] = (
        "organic_search",
        "paid_search",
        "email_marketing",
        "social_media",
        "paid_social",
        "referrals",
        "other_campaigns",
        "direct_traffic",
        "inbound",
        "web forms",
        "webforms",
        "leadbooster",
        "chatbot",
        "live chat",
        "prospector",
    )
    # A stage (id or name) a deal moves to when a reply is handed off; None: not moved.
    reply_received_stage: str | None = None
    # Do-not-contact: HubSpot uses communication preferences unless a contact property is
    # named here; Pipedrive sets this person label (its marketing status changes only once).
    do_not_contact_property: str | None = None
    do_not_contact_label: str = "Do not contact"
    owners: Mapping[str, OwnerSettings] = field(default_factory=dict)  # by email or id

    def _is(self, names: Iterable[str], *values: str | None) -> bool:
        wanted = _fold(names)
        return any(v is not None and v.strip().casefold() in wanted for v in values)

    def stage_activity(self, stage_id: str, stage_name: str) -> ActivityKind | None:
        if self._is(self.proposal_stages, stage_id, stage_name):
            return ActivityKind.PROPOSAL_SENT
        if self._is(self.quote_stages, stage_id, stage_name):
            return ActivityKind.QUOTE_SENT
        return None

    def parked_status(self, *names: str | None) -> DealStatus | None:
        folded = {k.strip().casefold(): v for k, v in self.statuses.items()}
        for name in names:
            if name is not None and name.strip().casefold() in folded:
                return folded[name.strip().casefold()]
        return None

    def source(self, value: str | None) -> DealSource:
        return DealSource.INBOUND if self._is(self.inbound_sources, value) else DealSource.OUTBOUND

    def activity_kind(self, type_key: str) -> ActivityKind | None:
        if self._is(self.call_types, type_key):
            return ActivityKind.CALL
        if self._is(self.meeting_types, type_key):
            return ActivityKind.MEETING
        return None

    def owner(self, owner: Owner) -> Owner:
        """The owner with its configured time zone and Slack id (by id, then email)."""
        found = self.owners.get(owner.id) or self.owners.get(owner.email.lower())
        if found is None:
            folded = {k.casefold(): v for k, v in self.owners.items()}
            found = folded.get(owner.email.casefold())
        if found is None:
            return owner
        return replace(
            owner,
            timezone=found.timezone or owner.timezone,
            slack_user_id=found.slack_user_id or owner.slack_user_id,
        )

    def is_reply_stage(self, stage_id: str, stage_name: str) -> bool:
        return self.reply_received_stage is not None and self._is(
            [self.reply_received_stage], stage_id, stage_name
        )


def stage_history_activities(
    deal: Deal, entered: Mapping[str, tuple[str, datetime]], mapping: CrmMapping
) -> list[Activity]:
    """A proposal or quote "sent" at each time the deal entered a stage that means one
    (`entered`: stage id -> (stage name, when it was entered))."""
    found: list[Activity] = []
    for stage_id, (name, at) in sorted(entered.items()):
        kind = mapping.stage_activity(stage_id, name)
        if kind is None:
            continue
        found.append(
            Activity(
                id=f"{deal.id}:stage:{stage_id}",
                deal_id=deal.id,
                kind=kind,
                at=at,
                contact_id=deal.contact_ids[0] if deal.contact_ids else None,
                subject=f"Deal entered {name}",
                extra={"from_stage": stage_id},
            )
        )
    return found


_LOOKS_LIKE = {
    "proposal_stages": ("proposal", "contract"),
    "quote_stages": ("quote", "quotation", "offer"),
}


def mapping_problems(
    mapping: CrmMapping,
    stages: list[tuple[str, str]],
    owners: Iterable[Owner],
    deals: Iterable[Deal],
) -> list[str]:
    """What in `[crm.mapping]` does not fit this account, in plain words with the fix
    (`stages`: the CRM's (id, name) of every deal stage)."""
    found: list[str] = []
    kinds = {s: mapping.stage_activity(*s) for s in stages}
    for (stage_id, name), kind in kinds.items():
        if kind is not None:
            continue
        for key, words in _LOOKS_LIKE.items():
            if any(w in name.casefold() for w in words):
                meant = "proposal_sent" if key == "proposal_stages" else "quote_sent"
                found.append(
                    f"stage {name!r} ({stage_id}) is not mapped to {meant}; add it to "
                    f"[crm.mapping] {key}"
                )
    if stages and not any(k is ActivityKind.PROPOSAL_SENT for k in kinds.values()):
        names = ", ".join(repr(n) for _, n in stages[:12])
        found.append(
            "no stage is mapped to proposal_sent, so proposal_no_reply never fires; add the "
            f"stage that means a proposal went out to [crm.mapping] proposal_stages ({names})"
        )
    known = {v.casefold() for s in stages for v in s}
    if mapping.reply_received_stage and mapping.reply_received_stage.casefold() not in known:
        found.append(
            f"[crm.mapping] reply_received_stage {mapping.reply_received_stage!r} is no stage "
            "of this CRM; use a stage's id or name"
        )
    for owner in owners:
        if owner.timezone is None:
            found.append(
                f"owner {owner.name} <{owner.email}> has no time zone; set it in "
                f'[crm.mapping.owners."{owner.email}"] timezone (until then the send window\'s '
                "zone is used)"
            )
        if owner.slack_user_id is None:
            found.append(
                f"owner {owner.name} <{owner.email}> has no Slack id; set "
                f'[crm.mapping.owners."{owner.email}"] slack_user_id (until then Slack is '
                "asked by email)"
            )
    for deal in deals:
        if deal.status is DealStatus.OPEN and not deal.contact_ids:
            found.append(
                f"deal {deal.title!r} ({deal.id}) has no contact, so nobody can be followed up; "
                "associate a contact with it in the CRM"
            )
    return found
