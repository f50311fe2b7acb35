"""`run_cycle`: sync the CRM and the inbox, evaluate, draft, queue, publish."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from crm.base import CrmError, RecordProblem
from flows.cadences import (
    cadence_deal_ids,
    hand_off_replies,
    queue_cadence_steps,
    with_injection_warning,
)
from flows.inbound import InboxFinding, read_inbox
from flows.ports import Services
from prompts.base import DraftContext, DraftingError
from storage.limits import storable
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
    inbox: list[InboxFinding] = field(default_factory=list)  # what each message read was
    handed_off: int = 0  # replies on deals no cadence follows, handed to a person
    due: int = 0
    drafted: list[Draft] = field(default_factory=list)
    withdrawn: list[tuple[Draft, str]] = field(default_factory=list)
    draft_failures: list[str] = field(default_factory=list)


def deal_histories(
    drafts: Iterable[Draft],
    pauses: Mapping[str, Pause],
    quiet_for: Callable[[str], timedelta | None] | None = None,
) -> dict[str, DealHistory]:
    """The stateful facts the rules need per deal, derived from drafts and pauses.
    `quiet_for(deal_id)`: how long a dismissal quiets that deal (no rule drafts for it until
    then, whatever rule would fire next); None or no function: not at all."""
    pending: set[str] = set()
    fired: dict[str, set[tuple[RuleName, datetime]]] = {}
    dismissed_stale: dict[str, datetime] = {}
    quiet_until: dict[str, datetime] = {}
    for draft in drafts:
        if draft.status in (DraftStatus.PENDING, DraftStatus.APPROVED):
            pending.add(draft.deal_id)
        if (
            quiet_for is not None
            and draft.status is DraftStatus.DISMISSED
            and draft.decided_at is not None
        ):
            quiet = quiet_for(draft.deal_id)
            if quiet is not None:
                until = draft.decided_at + quiet
                if until > quiet_until.get(draft.deal_id, until - quiet):
                    quiet_until[draft.deal_id] = until
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
    deal_ids = pending | fired.keys() | pauses.keys() | quiet_until.keys()
    return {
        deal_id: DealHistory(
            pending=deal_id in pending,
            fired=frozenset(fired.get(deal_id, ())),
            stage_stale_dismissed_at=dismissed_stale.get(deal_id),
            paused_until=_latest(_pause_end(pauses.get(deal_id)), quiet_until.get(deal_id)),
        )
        for deal_id in deal_ids
    }


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


def dismissal_quiet(
    services: Services, stages: Mapping[str, str]
) -> Callable[[str], timedelta | None]:
    """How long a dismissal quiets each deal (`[rules] quiet_after_dismissal`), by its stage."""
    rules = services.policy.evaluation.rules

    def quiet_for(deal_id: str) -> timedelta | None:
        stage = stages.get(deal_id)
        return None if stage is None else rules.quiet_for(stage)

    return quiet_for


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
        log.warning("CRM sync failed, evaluating the last synced pipeline: %s", error)
        return
    # A record the store cannot hold (a NUL, a string past its column) is one more problem,
    # never an error that stops this cycle and the next.
    pipeline, unstorable = storable(result.pipeline, services.crm.name)
    report.sync_problems = [*result.errors, *unstorable]
    report.synced_deals = len(pipeline.deals)
    try:
        report.changed_deals = len(store.pipeline.sync(pipeline, now))
    except Exception as error:  # the last synced pipeline stays; the cycle goes on
        report.sync_failed = f"storing the synced pipeline failed: {error}"[:500]
        log.exception("storing the synced pipeline failed; evaluating the last one")
        return
    if result.cursor is not None:
        store.sync_state.set(f"crm:{services.crm.name}", result.cursor)
    for problem in report.sync_problems:
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
        notice=with_injection_warning(view, result.notice, now),
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
    stages = {deal_id: view.deal.stage for deal_id, view in views.items()}
    histories = deal_histories(
        store.drafts.find(), store.pauses.active(now), dismissal_quiet(services, stages)
    )
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
        services.review.publish(draft, view)


def run_cycle(services: Services, now: datetime, *, inbound: bool = True) -> CycleReport:
    """One pass: sync, read the inbox, withdraw what went stale, queue what is due."""
    report = CycleReport(now=now)
    sync_crm(services, now, report)
    if inbound:
        report.inbound = read_inbox(services, now, report.inbox)
    pipeline = services.store.pipeline.load()
    views = {view.deal.id: view for view in build_views(pipeline)}
    suppressed = services.store.suppressions.values()
    withdraw_obsolete(services, views, suppressed, now, report)
    report.drafted += queue_cadence_steps(services, now, pipeline=pipeline)
    report.handed_off = len(hand_off_replies(services, pipeline, now))
    queue_due(services, pipeline, views, suppressed, now, report)
    return report
