"""What `/followup` needs beside the review decisions: find a deal by what people call it,
one owner's queue, the explain view with the service's history, and the deal-level
variants of snooze / pause / deprioritize. Decisions still go through `flows.review`."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flows.cycle import deal_histories
from flows.ports import Actor, Services
from flows.review import Decision, Outcome, deal_view, may_act, pause, snooze
from triggers.drafts import AuditEntry, Draft, DraftStatus
from triggers.evaluate import Explanation, build_views, explain_deal
from triggers.model import Deal, DealStatus, DealView, Pipeline
from triggers.windows import zone_info

__all__ = [
    "deprioritize_deal",
    "explain",
    "find_deals",
    "latest_draft",
    "owner_queue",
    "pause_until_day",
    "pending_draft",
    "refuse_unless_approver",
    "snooze_deal",
]

REFUSAL = "Only the deal's owner or a followup admin can do that; nothing was changed."


def refuse_unless_approver(
    services: Services, actor: Actor, view: DealView, action: str, subject: str, now: datetime
) -> Decision | None:
    """None when `actor` may act on the deal; else the refusal, with its audit entry (for
    steps before a decision, such as opening the Edit modal)."""
    if may_act(services, actor, view):
        return None
    services.store.audit.add(
        AuditEntry(now, actor.id, f"refused:{action}", subject, "not an approver")
    )
    return Decision(Outcome.FORBIDDEN, REFUSAL)


def _norm(text: str | None) -> str:
    return " ".join((text or "").casefold().split())


def find_deals(pipeline: Pipeline, query: str) -> list[Deal]:
    """Deals named by `query`: their id, title, a contact's company or a contact's name,
    case-insensitively. Exact matches win over partial ones (every word of the query found
    in the deal's names). Open deals come first, then by title."""
    wanted = _norm(query)
    if not wanted:
        return []
    words = wanted.split()
    contacts = {c.id: c for c in pipeline.contacts}
    exact: list[Deal] = []
    partial: list[Deal] = []
    for deal in pipeline.deals:
        names = [_norm(deal.id), _norm(deal.title)]
        for contact_id in deal.contact_ids:
            contact = contacts.get(contact_id)
            if contact is not None:
                names += [_norm(contact.name), _norm(contact.company)]
        names = [n for n in names if n]
        if wanted in names:
            exact.append(deal)
        elif all(any(word in name for name in names) for word in words):
            partial.append(deal)
    found = exact or partial
    return sorted(found, key=lambda d: (d.status is not DealStatus.OPEN, _norm(d.title), d.id))


def owner_queue(services: Services, owner_ids: Collection[str]) -> list[tuple[Draft, DealView]]:
    """Pending drafts on the deals these owners own, soonest arrival first."""
    if not owner_ids:
        return []
    views = {v.deal.id: v for v in build_views(services.store.pipeline.load())}
    found: list[tuple[Draft, DealView]] = []
    for draft in services.store.drafts.find(statuses=[DraftStatus.PENDING]):
        view = views.get(draft.deal_id)
        if view is not None and view.deal.owner_id in owner_ids:
            found.append((draft, view))
    return found


def pending_draft(services: Services, deal_id: str) -> Draft | None:
    drafts = services.store.drafts.find(statuses=[DraftStatus.PENDING], deal_id=deal_id)
    return drafts[0] if drafts else None


def latest_draft(services: Services, deal_id: str) -> Draft | None:
    drafts = services.store.drafts.find(deal_id=deal_id)
    return max(drafts, key=lambda d: (d.created_at, d.id)) if drafts else None


def explain(services: Services, deal_id: str, now: datetime) -> Explanation | None:
    """`explain_deal` with what the service knows: pending drafts, fired rules, pauses."""
    view = deal_view(services, deal_id)
    if view is None:
        return None
    store = services.store
    history = deal_histories(store.drafts.find(deal_id=deal_id), store.pauses.active(now))
    return explain_deal(
        view,
        now,
        services.policy.evaluation,
        suppressed=store.suppressions.values(),
        history=history.get(deal_id),
    )


def _owner_zone(services: Services, view: DealView) -> ZoneInfo:
    name = view.owner.timezone if view.owner is not None else None
    for candidate in (name, services.policy.evaluation.send_window.timezone, "UTC"):
        if candidate:
            try:
                return zone_info(candidate)
            except ValueError:
                continue
    return zone_info("UTC")  # pragma: no cover - UTC always exists


def pause_until_day(
    services: Services, deal_id: str, actor: Actor, now: datetime, day: date
) -> Decision:
    """Pause until the start of `day` in the deal owner's zone (the day it resumes)."""
    view = deal_view(services, deal_id)
    if view is None:
        return Decision(Outcome.NOT_FOUND, f"There is no deal {deal_id!r}.")
    until = datetime.combine(day, time(0, 0), tzinfo=_owner_zone(services, view))
    if until <= now:
        return Decision(Outcome.INVALID, f"{day.isoformat()} has already begun; pick a later day.")
    return pause(services, deal_id, actor, now, until=until)


def snooze_deal(
    services: Services, deal_id: str, actor: Actor, now: datetime, duration: timedelta
) -> Decision:
    """Snooze the deal's pending draft; with none, pause the deal for as long."""
    draft = pending_draft(services, deal_id)
    if draft is not None:
        return snooze(services, draft.id, actor, now, duration)
    return pause(services, deal_id, actor, now, until=now + duration, reason="snoozed")


def deprioritize_deal(services: Services, deal_id: str, actor: Actor, now: datetime) -> Decision:
    """No more follow-ups on the deal until resumed. Kept as an open-ended pause, which a
    CRM sync does not undo; a pending draft is withdrawn with the reason."""
    return pause(services, deal_id, actor, now, until=None, reason="deprioritized")
