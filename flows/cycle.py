"""`run_cycle`: sync the CRM and the inbox, evaluate, draft, queue, publish."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from typing import Any, Protocol

from crm.base import CrmDraftLog, CrmError, CrmWriteBacks, RecordProblem
from flows.cadences import (
    HANDOFF_LOOKBACK,
    cadence_deal_ids,
    hand_off_replies,
    queue_cadence_steps,
    with_injection_warning,
)
from flows.delivery import withdraw_approved
from flows.inbound import InboxFinding, read_inbox
from flows.ports import BatchPublishing, Services
from prompts.base import DraftContext, DraftingError
from storage.evaluation import NEVER
from storage.limits import storable
from triggers.config import RuleName
from triggers.drafts import AuditEntry, Draft, DraftingNotes, DraftStatus, NewDraft, Pause
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
    inbox: list[InboxFinding] = field(default_factory=list)  # what each message read was
    handed_off: int = 0  # replies on deals no cadence follows, handed to a person
    due: int = 0
    drafted: list[Draft] = field(default_factory=list)
    withdrawn: list[tuple[Draft, str]] = field(default_factory=list)
    draft_failures: list[str] = field(default_factory=list)
    crm_writes: int = 0  # write-backs the CRM took this cycle
    crm_writes_waiting: list[str] = field(default_factory=list)  # retried at a later cycle
    model_fallbacks: dict[str, int] = field(default_factory=dict)  # by failure kind
    deferred: int = 0  # due, left for later cycles by [rules] max_new_drafts_per_cycle
    rule_drafts: int = 0  # drafts the one-off rules queued this cycle (counted for that limit)


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
    drafts: Iterable[DraftFacts],
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


def sync_crm(
    services: Services, now: datetime, report: CycleReport, *, full: bool = False
) -> set[str]:
    """Bring the store up to the CRM: what changed since the stored cursor (everything when
    `full`, or when the adapter finds the cursor too old), and what the CRM deleted; return
    the deals it changed or removed."""
    store = services.store
    cursor = None if full else store.sync_state.get(f"crm:{services.crm.name}")
    try:
        result = services.crm.fetch(now, cursor)
    except CrmError as error:
        # An outage delays work and never drops it: the store keeps the last good pipeline.
        report.sync_failed = str(error)
        services.metrics.error("crm", type(error).__name__)
        log.warning("CRM sync failed: %s", error)
        return set()
    # A record the store cannot hold (a NUL, a string past its column) is one more problem,
    # never an error that stops this cycle and the next.
    pipeline, unstorable = storable(result.pipeline, services.crm.name)
    report.sync_problems = [*result.errors, *unstorable]
    report.synced_deals = len(pipeline.deals)
    try:
        changed = store.pipeline.sync(
            pipeline, now, snapshot=result.snapshot, deleted=result.deleted
        )
    except Exception as error:  # the last synced pipeline stays; the cycle goes on
        report.sync_failed = f"storing the synced pipeline failed: {error}"[:500]
        log.exception("storing the synced pipeline failed; evaluating the last one")
        return set()
    report.changed_deals = len(changed)
    if result.cursor is not None:
        store.sync_state.set(f"crm:{services.crm.name}", result.cursor)
    for problem in report.sync_problems:
        store.audit.add(AuditEntry(now, "crm", "record_skipped", problem.collection, str(problem)))
    return changed


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
    # Approved messages still waiting in the outbox: withdrawn too, the message says so.
    withdraw_approved(services, views, suppressed, now)


def _suppressed(address: str, suppressed: frozenset[str]) -> bool:
    address = address.lower()
    return address in suppressed or address.rpartition("@")[2] in suppressed


def draft_for(
    services: Services,
    due: Due,
    view: DealView,
    suppressed: frozenset[str],
    now: datetime,
    voice_examples: tuple[str, ...] = (),
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
            voice_examples=voice_examples,
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
        drafting=DraftingNotes(
            written_from=result.written_from,
            cc=tuple(a for a in result.cc if a not in suppressed),
            facts_used=result.facts_used,
            why_angle=result.why_angle,
            warnings=result.warnings,
        ),
    )


def owner_voice_examples(pipeline: Pipeline, limit: int = 3) -> dict[str, tuple[str, ...]]:
    """Per owner, their own latest sent emails (long enough to show a voice), newest first."""
    from reading.quotes import visible_reply_text

    by_address = {o.email.lower(): o.id for o in pipeline.owners if o.email}
    found: dict[str, list[tuple[datetime, str]]] = {}
    for activity in pipeline.activities:
        if activity.kind.value != "email" or activity.direction is None:
            continue
        owner_id = by_address.get((activity.from_address or "").lower())
        text = visible_reply_text(activity.body or "").strip()
        if owner_id is None or len(text.split()) < 25:
            continue
        found.setdefault(owner_id, []).append((activity.at, text))
    return {
        owner: tuple(text for _, text in sorted(items, reverse=True)[:limit])
        for owner, items in found.items()
    }


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
    stages = {deal_id: view.deal.stage for deal_id, view in views.items()}
    histories = deal_histories(drafts, store.pauses.active(now), dismissal_quiet(services, stages))
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
    # A backlog (a big import) is spread over cycles: the oldest due first, a few per cycle
    # (the cycle's pieces share the limit). A deferred deal is in `again_now`: looked at again
    # next cycle, like any not drafted.
    limit = services.policy.max_new_drafts_per_cycle
    if limit is not None:
        room = max(0, limit - report.rule_drafts)
        if len(dues) > room:
            report.deferred += len(dues) - room
            dues = sorted(dues, key=lambda due: (due.due_at, due.deal_id))[:room]
    news: list[NewDraft] = []
    examples = owner_voice_examples(pipeline) if dues else {}
    for due in dues:
        view = views[due.deal_id]
        try:
            news.append(
                draft_for(
                    services, due, view, suppressed, now, examples.get(view.deal.owner_id, ())
                )
            )
        except DraftingError as error:
            # Nothing lost: the rule stays due and the next cycle tries again.
            report.draft_failures.append(f"{due.deal_id}: {error}")
            log.warning("drafting failed for deal %s: %s", due.deal_id, error)
    queued = store.evaluation.insert_drafts(news, now=now)
    report.rule_drafts += len(queued)
    fresh: list[tuple[Draft, DealView]] = []
    for draft in queued:
        # another cycle may have queued one first, or this anchor already fired: then the
        # deal is looked at again next cycle
        again_now.discard(draft.deal_id)
        report.drafted.append(draft)
        if isinstance(services.crm, CrmDraftLog):
            services.crm.log_draft(draft.deal_id, draft.contact_id, draft.subject, now)
        fresh.append((draft, views[draft.deal_id]))
    # Many at once (a big import): a surface that can shows one summary, not one ping each.
    if isinstance(services.review, BatchPublishing):
        services.review.publish_batch(fresh)
    else:
        for draft, view in fresh:
            services.review.publish(draft, view)
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
    begin_cycle = getattr(services.drafter, "begin_cycle", None)
    if callable(begin_cycle):
        begin_cycle()  # the model's circuit breaker closes again each cycle
    changed = sync_crm(services, now, report)
    flush_crm_writes(services, now, report)
    if inbound:
        report.inbound = read_inbox(services, now, report.inbox)
    mark = store.evaluation.prepare(now, config_key=evaluation_key(services))
    suppressed = store.suppressions.values()
    # a draft goes stale only when its deal's data changed (or its address is suppressed)
    withdraw_obsolete(
        services, {}, suppressed, now, report, deal_ids=store.evaluation.changed() | changed
    )
    stepped = queue_cadence_steps(services, now)
    report.drafted += stepped
    if isinstance(services.crm, CrmDraftLog):
        for draft in stepped:
            services.crm.log_draft(draft.deal_id, draft.contact_id, draft.subject, now)
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
    fallbacks = getattr(services.drafter, "fallbacks", None)
    if fallbacks:
        report.model_fallbacks = dict(fallbacks)
        shown = ", ".join(f"{kind} {count}" for kind, count in sorted(fallbacks.items()))
        log.warning("this cycle's drafts fell back to the templates: %s", shown)
    return report
