"""`run_cycle`: sync the CRM and the inbox, evaluate, draft, queue, publish."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from crm.base import CrmDraftLog, CrmError, CrmWriteBacks, RecordProblem
from flows.cadences import cadence_deal_ids, hand_off_replies, queue_cadence_steps
from flows.inbound import read_inbox
from flows.ports import Services
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
    crm_writes: int = 0  # write-backs the CRM took this cycle
    crm_writes_waiting: list[str] = field(default_factory=list)  # retried at a later cycle


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


def sync_crm(services: Services, now: datetime, report: CycleReport, *, full: bool = False) -> None:
    """Bring the store up to the CRM: what changed since the stored cursor (everything when
    `full`, or when the adapter finds the cursor too old), and what the CRM deleted."""
    store = services.store
    cursor = None if full else store.sync_state.get(f"crm:{services.crm.name}")
    try:
        result = services.crm.fetch(now, cursor)
    except CrmError as error:
        # An outage delays work and never drops it: the store keeps the last good pipeline.
        report.sync_failed = str(error)
        log.warning("CRM sync failed, evaluating the last synced pipeline: %s", error)
        return
    if full and result.snapshot:
        # A full read is the whole account: what the store has beyond it is gone from the CRM
        # (a deal it only failed to map stays).
        broken = {p.record_id for p in result.errors if p.collection == "deals"}
        present = {d.id for d in result.pipeline.deals} | broken
        gone = {d.id for d in store.pipeline.load().deals} - present
        result = replace(
            result, deleted=replace(result.deleted, deal_ids=result.deleted.deal_ids | gone)
        )
    report.sync_problems = list(result.errors)
    report.synced_deals = len(result.pipeline.deals)
    report.changed_deals = len(
        store.pipeline.sync(result.pipeline, now, snapshot=result.snapshot, deleted=result.deleted)
    )
    if result.cursor is not None:
        store.sync_state.set(f"crm:{services.crm.name}", result.cursor)
    for problem in result.errors:
        store.audit.add(AuditEntry(now, "crm", "record_skipped", problem.collection, str(problem)))


def flush_crm_writes(services: Services, now: datetime, report: CycleReport) -> None:
    """Perform the write-backs that are due (sent follow-ups logged, opt-outs, tasks); a
    failed one waits in the queue for a later cycle, and sending never waits on it."""
    crm = services.crm
    if not isinstance(crm, CrmWriteBacks):
        return
    flushed = crm.flush(now)
    report.crm_writes = flushed.done
    report.crm_writes_waiting = flushed.retrying
    for failed in flushed.given_up:
        services.store.audit.add(AuditEntry(now, "crm", "writeback_given_up", "crm", failed))
    if flushed.retrying:
        log.warning("CRM write-backs waiting: %s", "; ".join(flushed.retrying[:3]))


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
        if isinstance(services.crm, CrmDraftLog):
            services.crm.log_draft(draft.deal_id, draft.contact_id, draft.subject, now)
        services.review.publish(draft, view)


def run_cycle(services: Services, now: datetime, *, inbound: bool = True) -> CycleReport:
    """One pass: sync, read the inbox, withdraw what went stale, queue what is due."""
    report = CycleReport(now=now)
    sync_crm(services, now, report)
    flush_crm_writes(services, now, report)
    if inbound:
        report.inbound = read_inbox(services, now)
    pipeline = services.store.pipeline.load()
    views = {view.deal.id: view for view in build_views(pipeline)}
    suppressed = services.store.suppressions.values()
    withdraw_obsolete(services, views, suppressed, now, report)
    stepped = queue_cadence_steps(services, now, pipeline=pipeline)
    report.drafted += stepped
    if isinstance(services.crm, CrmDraftLog):
        for draft in stepped:
            services.crm.log_draft(draft.deal_id, draft.contact_id, draft.subject, now)
    report.handed_off = len(hand_off_replies(services, pipeline, now))
    queue_due(services, pipeline, views, suppressed, now, report)
    return report
