"""`run_cycle`: sync the CRM and the inbox, evaluate, draft, queue, publish."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from crm.base import CrmError, RecordProblem
from flows.cadences import cadence_deal_ids, hand_off_replies, queue_cadence_steps
from flows.inbound import read_inbox
from flows.ports import BatchPublishing, Services
from prompts.base import DraftContext, DraftingError
from triggers.config import RuleName
from triggers.drafts import AuditEntry, Draft, DraftStatus, NewDraft, Pause
from triggers.evaluate import DealHistory, Due, build_views, evaluate, reachable_address
from triggers.model import DealView, Pipeline
from triggers.sendcheck import obsolete_reason

log = logging.getLogger(__name__)

# An indefinite pause, as an instant the rules can compare with.
FOREVER = datetime.max.replace(tzinfo=UTC)


@dataclass(slots=True)
class CycleReport:
    now: datetime
    synced_deals: int = 0
    changed_deals: int = 0
    sync_problems: list[RecordProblem] = field(default_factory=list)
    sync_failed: str | None = None
    inbound: int = 0
    handed_off: int = 0  # replies on deals no cadence follows, handed to a person
    due: int = 0
    drafted: list[Draft] = field(default_factory=list)
    withdrawn: list[tuple[Draft, str]] = field(default_factory=list)
    draft_failures: list[str] = field(default_factory=list)
    deferred: int = 0  # due, left for later cycles by [rules] max_new_drafts_per_cycle


def deal_histories(drafts: Iterable[Draft], pauses: Mapping[str, Pause]) -> dict[str, DealHistory]:
    """The stateful facts the rules need per deal, derived from drafts and pauses."""
    pending: set[str] = set()
    fired: dict[str, set[tuple[RuleName, datetime]]] = {}
    dismissed_stale: dict[str, datetime] = {}
    for draft in drafts:
        if draft.status in (DraftStatus.PENDING, DraftStatus.APPROVED):
            pending.add(draft.deal_id)
        if draft.rule is None:
            continue
        rule = RuleName(draft.rule)
        fired.setdefault(draft.deal_id, set()).add((rule, draft.anchor_at))
        if (
            rule is RuleName.STAGE_STALE
            and draft.status is DraftStatus.DISMISSED
            and draft.decided_at is not None
        ):
            previous = dismissed_stale.get(draft.deal_id)
            if previous is None or draft.decided_at > previous:
                dismissed_stale[draft.deal_id] = draft.decided_at
    deal_ids = pending | fired.keys() | pauses.keys()
    return {
        deal_id: DealHistory(
            pending=deal_id in pending,
            fired=frozenset(fired.get(deal_id, ())),
            stage_stale_dismissed_at=dismissed_stale.get(deal_id),
            paused_until=_pause_end(pauses.get(deal_id)),
        )
        for deal_id in deal_ids
    }


def _pause_end(pause: Pause | None) -> datetime | None:
    if pause is None:
        return None
    return pause.until or FOREVER


def sync_crm(services: Services, now: datetime, report: CycleReport) -> None:
    store = services.store
    try:
        result = services.crm.fetch(now, store.sync_state.get(f"crm:{services.crm.name}"))
    except CrmError as error:
        # An outage delays work and never drops it: the store keeps the last good pipeline.
        report.sync_failed = str(error)
        services.metrics.error("crm", type(error).__name__)
        log.warning("CRM sync failed: %s", error)
        return
    report.sync_problems = list(result.errors)
    report.synced_deals = len(result.pipeline.deals)
    report.changed_deals = len(store.pipeline.sync(result.pipeline, now))
    if result.cursor is not None:
        store.sync_state.set(f"crm:{services.crm.name}", result.cursor)
    for problem in result.errors:
        log.warning("CRM record skipped: %s", problem)
        store.audit.add(AuditEntry(now, "crm", "record_skipped", problem.collection, str(problem)))


def withdraw_obsolete(
    services: Services,
    views: Mapping[str, DealView],
    suppressed: frozenset[str],
    now: datetime,
    report: CycleReport,
) -> None:
    store = services.store
    for draft in store.drafts.find(statuses=[DraftStatus.PENDING]):
        view = views.get(draft.deal_id)
        reason = (
            "deal no longer in the pipeline"
            if view is None
            else obsolete_reason(draft, view, suppressed)
        )
        if reason is None:
            continue
        withdrawn = store.drafts.transition(
            draft.id, DraftStatus.WITHDRAWN, actor="followup", now=now, note=reason
        )
        if withdrawn is not None:
            report.withdrawn.append((withdrawn, reason))
            services.review.update(withdrawn, view, f"Withdrawn: {reason}")


def draft_for(
    services: Services, due: Due, view: DealView, suppressed: frozenset[str], now: datetime
) -> NewDraft:
    contact = next(c for c in view.contacts if c.id == due.contact_id)
    to_address = reachable_address(contact, suppressed)
    assert to_address is not None  # a primary contact always has a reachable address
    policy = services.policy
    result = services.drafter.draft(
        DraftContext(
            view=view,
            contact=contact,
            rule=due.rule.value,
            angle=None,
            reason=due.reason,
            evidence=due.evidence,
            now=now,
            voice=policy.voice_for(view.deal.owner_id),
            competitors=policy.competitors,
        )
    )
    return NewDraft(
        deal_id=due.deal_id,
        contact_id=due.contact_id,
        to_address=to_address,
        trigger=due.rule.value,
        rule=due.rule.value,
        angle=result.angle,
        anchor_at=due.anchor,
        due_at=due.due_at,
        send_at=due.send_at,
        reason=due.reason,
        evidence=due.evidence,
        subject=result.subject,
        body=result.body,
        source=result.source,
        notice=result.notice,
        guardrail_failures=result.guardrail_failures,
        usage=result.cost,
    )


def queue_due(
    services: Services,
    pipeline: Pipeline,
    views: Mapping[str, DealView],
    suppressed: frozenset[str],
    now: datetime,
    report: CycleReport,
) -> None:
    store = services.store
    histories = deal_histories(store.drafts.find(), store.pauses.active(now))
    dues = evaluate(
        pipeline, now, services.policy.evaluation, suppressed=suppressed, history=histories
    )
    # A deal whose contact is in a cadence follows the cadence, not the one-off rules.
    in_cadence = cadence_deal_ids(services)
    dues = [due for due in dues if due.deal_id not in in_cadence]
    report.due = len(dues)
    # A backlog (a big import) is spread over cycles: the oldest due first, a few per cycle.
    limit = services.policy.max_new_drafts_per_cycle
    if limit is not None and len(dues) > limit:
        dues = sorted(dues, key=lambda due: (due.due_at, due.deal_id))[:limit]
        report.deferred = report.due - limit
    fresh: list[tuple[Draft, DealView]] = []
    for due in dues:
        view = views[due.deal_id]
        try:
            new = draft_for(services, due, view, suppressed, now)
        except DraftingError as error:
            # Nothing lost: the rule stays due and the next cycle tries again.
            report.draft_failures.append(f"{due.deal_id}: {error}")
            log.warning("drafting failed for deal %s: %s", due.deal_id, error)
            continue
        draft = store.drafts.insert(new, now=now)
        if draft is None:
            continue  # another cycle queued it first, or this anchor already fired
        report.drafted.append(draft)
        fresh.append((draft, view))
    # Many at once (a big import): a surface that can shows one summary, not one ping each.
    if isinstance(services.review, BatchPublishing):
        services.review.publish_batch(fresh)
    else:
        for draft, view in fresh:
            services.review.publish(draft, view)


def run_cycle(services: Services, now: datetime, *, inbound: bool = True) -> CycleReport:
    """One pass: sync, read the inbox, withdraw what went stale, queue what is due."""
    report = CycleReport(now=now)
    sync_crm(services, now, report)
    if inbound:
        report.inbound = read_inbox(services, now)
    pipeline = services.store.pipeline.load()
    views = {view.deal.id: view for view in build_views(pipeline)}
    suppressed = services.store.suppressions.values()
    withdraw_obsolete(services, views, suppressed, now, report)
    report.drafted += queue_cadence_steps(services, now, pipeline=pipeline)
    report.handed_off = len(hand_off_replies(services, pipeline, now))
    queue_due(services, pipeline, views, suppressed, now, report)
    return report
