"""`run_cycle`: sync the CRM and the inbox, evaluate, draft, queue, publish."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from typing import Any, Protocol

from crm.base import CrmError, RecordProblem
from flows.cadences import (
    HANDOFF_LOOKBACK,
    cadence_deal_ids,
    hand_off_replies,
    queue_cadence_steps,
)
from flows.inbound import read_inbox
from flows.ports import Services
from prompts.base import DraftContext, DraftingError
from storage.evaluation import NEVER
from triggers.config import RuleName
from triggers.drafts import AuditEntry, Draft, DraftStatus, NewDraft, Pause
from triggers.evaluate import (
    DealHistory,
    Due,
    IncrementalEvaluator,
    build_views,
    reachable_address,
)
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


class DraftFacts(Protocol):
    """What the history needs of a draft (a `Draft`, or the store's lighter `DraftFact`)."""

    @property
    def deal_id(self) -> str: ...
    @property
    def status(self) -> DraftStatus: ...
    @property
    def rule(self) -> str | None: ...
    @property
    def anchor_at(self) -> datetime: ...
    @property
    def decided_at(self) -> datetime | None: ...


def deal_histories(
    drafts: Iterable[DraftFacts], pauses: Mapping[str, Pause]
) -> dict[str, DealHistory]:
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


def sync_crm(services: Services, now: datetime, report: CycleReport) -> set[str]:
    """Merge what the CRM hands over; return the deals it changed or removed."""
    store = services.store
    try:
        result = services.crm.fetch(now, store.sync_state.get(f"crm:{services.crm.name}"))
    except CrmError as error:
        # An outage delays work and never drops it: the store keeps the last good pipeline.
        report.sync_failed = str(error)
        log.warning("CRM sync failed, evaluating the last synced pipeline: %s", error)
        return set()
    report.sync_problems = list(result.errors)
    report.synced_deals = len(result.pipeline.deals)
    changed = store.pipeline.sync(
        result.pipeline, now, snapshot=result.snapshot, deleted=result.deleted
    )
    report.changed_deals = len(changed)
    if result.cursor is not None:
        store.sync_state.set(f"crm:{services.crm.name}", result.cursor)
    for problem in result.errors:
        store.audit.add(AuditEntry(now, "crm", "record_skipped", problem.collection, str(problem)))
    return changed


def withdraw_obsolete(
    services: Services,
    views: Mapping[str, DealView],
    suppressed: frozenset[str],
    now: datetime,
    report: CycleReport,
    *,
    deal_ids: Iterable[str] | None = None,
) -> None:
    """Withdraw the pending drafts that must not go out any more: of `deal_ids` (default: the
    deals in `views`), and of every deal whose draft is addressed to a suppressed address."""
    store = services.store
    candidates = set(views if deal_ids is None else deal_ids)
    if suppressed:
        candidates |= {
            deal_id
            for deal_id, address in store.evaluation.pending_recipients()
            if _suppressed(address, suppressed)
        }
    drafts = store.evaluation.pending_drafts(candidates)
    missing = {d.deal_id for d in drafts} - views.keys()
    if missing:
        loaded = build_views(store.evaluation.pipeline_of(missing))
        views = {**views, **{v.deal.id: v for v in loaded}}
    for draft in drafts:
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


def _suppressed(address: str, suppressed: frozenset[str]) -> bool:
    address = address.lower()
    return address in suppressed or address.rpartition("@")[2] in suppressed


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
    *,
    seen: Mapping[str, datetime] | None = None,
    in_cadence: frozenset[str] | None = None,
) -> list[int]:
    """Evaluate the deals of `pipeline` (the ones whose data changed or whose time came),
    draft what is due, queue and publish it; store when each must be looked at again (with
    `seen`, the `changed_at` each deal had when read). Returns the ids of the drafts queued."""
    store = services.store
    everything = seen is None
    drafts = store.evaluation.history(None if everything else views.keys())
    histories = deal_histories(drafts, store.pauses.active(now))
    evaluator = IncrementalEvaluator(services.policy.evaluation, suppressed=suppressed)
    evaluator.update(views.values(), history={d: histories.get(d) for d in views})
    dues = list(evaluator.advance(now).due)
    # A due deal is looked at again next cycle until its draft is queued; one whose contact
    # is in a cadence too (it follows the cadence, not the one-off rules, while that lasts).
    again_now: set[str] = {due.deal_id for due in dues}
    if in_cadence is None:
        in_cadence = cadence_deal_ids(services)
    dues = [due for due in dues if due.deal_id not in in_cadence]
    report.due += len(dues)
    news: list[NewDraft] = []
    for due in dues:
        view = views[due.deal_id]
        try:
            news.append(draft_for(services, due, view, suppressed, now))
        except DraftingError as error:
            # Nothing lost: the rule stays due and the next cycle tries again.
            report.draft_failures.append(f"{due.deal_id}: {error}")
            log.warning("drafting failed for deal %s: %s", due.deal_id, error)
    queued = store.evaluation.insert_drafts(news, now=now)
    for draft in queued:
        # another cycle may have queued one first, or this anchor already fired: then the
        # deal is looked at again next cycle
        again_now.discard(draft.deal_id)
        report.drafted.append(draft)
        services.review.publish(draft, views[draft.deal_id])
    if seen is not None:
        store.evaluation.schedule(
            (
                deal_id,
                None if deal_id in again_now else evaluator.next_change_at(deal_id) or NEVER,
                changed_at,
            )
            for deal_id, changed_at in seen.items()
        )
    return [d.id for d in queued]


def evaluation_key(services: Services) -> str:
    """A digest of the evaluation configuration: when it changes, every deal is evaluated."""
    return blake2b(repr(_canonical(services.policy.evaluation)).encode(), digest_size=8).hexdigest()


def _canonical(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _canonical(asdict(value))
    if isinstance(value, Mapping):
        return sorted((repr(k), _canonical(v)) for k, v in value.items())
    if isinstance(value, set | frozenset):
        return sorted(repr(_canonical(v)) for v in value)
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return repr(value)


# Deals evaluated per piece: memory holds one piece's activities, not the pipeline's.
PIECE = 10_000


def run_cycle(services: Services, now: datetime, *, inbound: bool = True) -> CycleReport:
    """One pass: sync, read the inbox, withdraw what went stale, queue what is due.

    Reads only what can have changed (`storage.evaluation`): the deals whose data changed or
    whose next instant came, in pieces; their drafts' history by query; suppressions once."""
    report = CycleReport(now=now)
    store = services.store
    changed = sync_crm(services, now, report)
    if inbound:
        report.inbound = read_inbox(services, now)
    mark = store.evaluation.prepare(now, config_key=evaluation_key(services))
    suppressed = store.suppressions.values()
    # a draft goes stale only when its deal's data changed (or its address is suppressed)
    withdraw_obsolete(
        services, {}, suppressed, now, report, deal_ids=store.evaluation.changed() | changed
    )
    report.drafted += queue_cadence_steps(services, now)
    replies = store.evaluation.recent_inbox(now - HANDOFF_LOOKBACK - timedelta(days=1))
    report.handed_off = len(hand_off_replies(services, replies, now))
    in_cadence = cadence_deal_ids(services)
    own = [d.id for d in report.drafted]
    for work in store.evaluation.work(now, mark, batch=PIECE):
        views = {view.deal.id: view for view in build_views(work.pipeline)}
        own += queue_due(
            services,
            work.pipeline,
            views,
            suppressed,
            now,
            report,
            seen=work.seen,
            in_cadence=in_cadence,
        )
        del views, work
    store.evaluation.finish(mark, own, now)
    return report
