"""Is a queued or approved draft still right to send? Checked before review (to withdraw a
draft made obsolete) and again at the moment of sending (DESIGN rule 2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from triggers.drafts import OPT_OUT_CONFIRMATION_TRIGGER, Draft, Pause
from triggers.model import ActivityKind, ContactStatus, DealStatus, DealView
from triggers.windows import zone_info


def _suppressed(address: str, suppressed: frozenset[str]) -> bool:
    address = address.lower()
    return address in suppressed or address.rpartition("@")[2] in suppressed


def obsolete_reason(
    draft: Draft, view: DealView, suppressed: frozenset[str], *, since: datetime | None = None
) -> str | None:
    """Why `draft` must not go out any more, or None when it still may.

    `since` is the instant after which a reply cancels the draft (default: when it was made)."""
    since = since or draft.created_at
    deal = view.deal
    contact = next((c for c in view.contacts if c.id == draft.contact_id), None)
    if contact is None:
        return "contact is no longer on the deal"
    if draft.trigger == OPT_OUT_CONFIRMATION_TRIGGER:
        # Confirming an opt-out is the one message an opted-out contact still gets (once,
        # approved by a person); it only needs to go to the address that asked.
        if draft.to_address.lower() not in contact.addresses:
            return f"{draft.to_address} is no longer one of the contact's addresses"
        return None
    if deal.status is not DealStatus.OPEN:
        return f"deal is now {deal.status.value.replace('_', ' ')}"
    if contact.status is not ContactStatus.ACTIVE:
        return {
            ContactStatus.DO_NOT_CONTACT: "contact opted out",
            ContactStatus.BOUNCED: "contact's address bounced",
            ContactStatus.DECEASED: "contact is marked deceased",
        }.get(contact.status, f"contact is {contact.status.value}")
    if _suppressed(draft.to_address, suppressed):
        return f"{draft.to_address} is on the suppression list"
    if draft.to_address.lower() not in contact.addresses:
        return f"{draft.to_address} is no longer one of the contact's addresses"
    for activity in view.activities:
        # The inbox's reading of their mail, even before the suppression has landed anywhere.
        read = activity.reading
        if read is None or not (read.is_opt_out or read.check_first):
            continue
        sender = (activity.from_address or "").lower()
        if sender in contact.addresses or (not sender and activity.contact_id == contact.id):
            if read.is_opt_out:
                return f"contact asked to opt out ({activity.at:%a %d %b} reply)"
            if activity.at > since:
                return f"reply may be an opt-out: check first ({activity.at:%a %d %b} reply)"
    addresses = {a for c in view.contacts for a in c.addresses}
    deal_contacts = {c.id for c in view.contacts}
    for activity in view.activities:
        if activity.is_inbound_email and activity.at > since:
            sender = (activity.from_address or "").lower()
            if sender in addresses or (not sender and activity.contact_id in deal_contacts):
                return f"reply arrived {activity.at:%a %d %b %H:%M} UTC"
    if deal.stage_entered_at > draft.created_at:
        return f"deal moved to {deal.stage}"
    return None


@dataclass(frozen=True, slots=True)
class Hold:
    """Why a message must wait, and until when (None: until a person resumes the deal)."""

    until: datetime | None
    reason: str


def out_of_office_until(draft: Draft, view: DealView, zone: str) -> tuple[datetime, date] | None:
    """The start of the return day (in the recipient's `zone`) the contact's latest
    out-of-office reply gave, with that day; None when they gave none."""
    contact = next((c for c in view.contacts if c.id == draft.contact_id), None)
    addresses = contact.addresses if contact is not None else frozenset()
    latest: tuple[datetime, date] | None = None
    latest_at: datetime | None = None
    for activity in view.activities:
        if activity.kind is not ActivityKind.NOTE or activity.extra.get("auto_reply") is not True:
            continue
        sender = (activity.from_address or "").lower()
        if activity.contact_id != draft.contact_id and sender not in addresses:
            continue
        returns = activity.extra.get("return_date")
        if not isinstance(returns, str) or not returns:
            continue
        try:
            day = date.fromisoformat(returns[:10])
        except ValueError:
            continue
        if latest_at is None or activity.at > latest_at:
            latest_at = activity.at
            latest = (datetime.combine(day, time(0, 0), tzinfo=zone_info(zone)), day)
    return latest


def hold_reason(
    draft: Draft, view: DealView, pause: Pause | None, now: datetime, zone: str
) -> Hold | None:
    """Why a message that may still go must not go yet (DESIGN rule 2, for every draft, not
    only cadences): the deal is paused or snoozed, or the contact is out of office. None
    when it may go now."""
    if pause is not None and (pause.until is None or pause.until > now):
        if pause.until is None:
            return Hold(None, f"deal is {pause.reason} until resumed")
        return Hold(pause.until, f"deal is {pause.reason} until {pause.until:%a %d %b}")
    away = out_of_office_until(draft, view, zone)
    if away is not None and away[0] > now:
        contact = next((c for c in view.contacts if c.id == draft.contact_id), None)
        who = contact.name if contact is not None and contact.name else draft.to_address
        return Hold(away[0], f"{who} is out of office until {away[1]:%a %d %b}")
    return None
