"""What `/followup` needs beside the review decisions: find a deal by what people call it,
one owner's queue, the explain view with the service's history, the deal-level
variants of snooze / pause / deprioritize, enrolment in a cadence and the metrics.
Decisions still go through `flows.review` and `flows.cadences`."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flows.cadences import Stats, cadence_store, enroll, stats
from flows.cycle import deal_histories, dismissal_quiet
from flows.ports import Actor, Services
from flows.review import Decision, Outcome, deal_view, may_act, pause, snooze
from triggers.cadence import CadenceConfig, EndReason, reachability
from triggers.drafts import AuditEntry, Draft, DraftStatus, ModelUsageSummary
from triggers.evaluate import Explanation, build_views, explain_deal
from triggers.model import Contact, ContactStatus, Deal, DealStatus, DealView, Pipeline
from triggers.windows import zone_info

__all__ = [
    "EnrolTarget",
    "StatsReport",
    "cadence_names",
    "deprioritize_deal",
    "enroll_deal",
    "explain",
    "find_deals",
    "find_enrolment",
    "latest_draft",
    "owner_queue",
    "pause_until_day",
    "pending_draft",
    "refuse_unless_approver",
    "snooze_deal",
    "stats_report",
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
    history = deal_histories(
        store.drafts.find(deal_id=deal_id),
        store.pauses.active(now),
        dismissal_quiet(services, {deal_id: view.deal.stage}),
    )
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


# --------------------------------------------------------------------------- enroll


def cadence_names(config: CadenceConfig) -> str:
    """The defined cadences, for a message: `default (the default), re_engagement`."""
    return ", ".join(
        f"{name} (the default)" if name == config.default else name
        for name in sorted(config.cadences)
    )


@dataclass(frozen=True, slots=True)
class EnrolTarget:
    """What `/followup enroll` names: the deals matching the query, and the cadence."""

    query: str  # the deal as typed
    deals: list[Deal]
    cadence: str  # a defined cadence's name; "" for the default


def find_enrolment(
    config: CadenceConfig, pipeline: Pipeline, deal: str, cadence: str
) -> EnrolTarget | str:
    """Read `enroll <deal> [cadence]` against the cadences and the pipeline (the parser's
    last word is only a candidate cadence: a deal's name may end in any word). Returns the
    target, or the message for an unknown cadence."""
    if not cadence:
        return EnrolTarget(deal, find_deals(pipeline, deal), "")
    names = {name.casefold(): name for name in config.cadences}
    known = names.get(cadence.casefold())
    if known is not None:
        return EnrolTarget(deal, find_deals(pipeline, deal), known)
    whole = f"{deal} {cadence}"
    deals = find_deals(pipeline, whole)
    if deals or not find_deals(pipeline, deal):
        return EnrolTarget(whole, deals, "")
    return f"There is no cadence “{cadence}”. The cadences are: {cadence_names(config)}."


_CANNOT = {
    EndReason.OPT_OUT: "opted out",
    EndReason.BOUNCED: "their address bounced",
}


def why_unreachable(contact: Contact, suppressions: Mapping[str, str]) -> str | None:
    """In words, why nothing may be written to `contact`; None when something may."""
    problem = reachability(contact, suppressions)
    if problem is None:
        return None
    if problem in _CANNOT:
        return _CANNOT[problem]
    if contact.status is not ContactStatus.ACTIVE:
        return contact.status.value.replace("_", " ")
    for address in contact.addresses:
        for key in (address, address.rpartition("@")[2]):
            if key in suppressions:
                return f"{key} is suppressed ({suppressions[key].replace('_', ' ')})"
    return "no email address" if not contact.addresses else "cannot be written to"


def enroll_deal(
    services: Services, deal_id: str, cadence: str, actor: Actor, now: datetime
) -> Decision:
    """`/followup enroll`: the deal's primary contact (its first, or the first that may be
    written to, saying who was skipped and why) in `cadence` ("" for the default). The
    deal's owner and the admins only, with the same refusal and audit as pause."""
    view = deal_view(services, deal_id)
    if view is None:
        return Decision(Outcome.NOT_FOUND, f"There is no deal {deal_id!r}.")
    refusal = refuse_unless_approver(services, actor, view, "enroll", f"deal:{deal_id}", now)
    if refusal is not None:
        return refusal
    config = services.policy.cadences
    name = cadence or config.default
    if config.cadence(name) is None:
        return Decision(
            Outcome.INVALID,
            f"There is no cadence “{name}”. The cadences are: {cadence_names(config)}.",
        )
    suppressions = cadence_store(services).facts.suppressions()
    skipped: list[str] = []
    chosen: Contact | None = None
    for contact in view.contacts:
        why = why_unreachable(contact, suppressions)
        if why is None:
            chosen = contact
            break
        skipped.append(f"{contact.name or contact.email} ({why})")
    if chosen is None:
        if not skipped:
            return Decision(Outcome.INVALID, f"{view.deal.title} has no contact to enroll.")
        return Decision(
            Outcome.INVALID,
            f"No contact of {view.deal.title} can be written to: {', '.join(skipped)}; "
            "nothing was changed.",
        )
    result = enroll(services, deal_id, chosen.id, name, actor, now, via="slack")
    message = result.message
    if result.ok:
        message += " Each step comes to review as a draft; a reply from them stops it."
        if skipped:
            message += f" Skipped: {', '.join(skipped)}."
    return Decision(result.outcome, message)


# --------------------------------------------------------------------------- stats


@dataclass(frozen=True, slots=True)
class StatsReport:
    """`followup stats` for Slack: the metrics and the model usage over `days`."""

    days: int
    figures: Stats
    usage: list[ModelUsageSummary]


def stats_report(services: Services, now: datetime, days: int) -> StatsReport:
    since = now - timedelta(days=days)
    return StatsReport(
        days, stats(services, since, now=now), services.store.drafts.model_usage(since)
    )
