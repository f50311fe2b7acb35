"""Cadence use cases: enrol, queue the steps that are due, handle replies by the playbook,
answer the owner's questions, record who acted on a handoff, and compute the metrics.

The decisions are `triggers.cadence` and `triggers.handoff`; this module reads the store,
applies them with conditional updates (an enrolment's version, a question's open status, the
unique indexes on drafts and enrolments) and carries out the side effects: drafts for review,
suppressions, do-not-contact, handoffs posted to the right person, questions to the owner.

Nothing here sends anything: every step and every opt-out confirmation is a draft a person
approves.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from crm.base import CrmError, CrmReplyStage, CrmTasks
from flows.ports import Actor, HandoffSurface, NotPosted, Reminders, Services
from flows.review import Outcome, deal_view, may_act
from prompts.base import OPT_OUT_CONFIRMATION, DraftContext, DraftingError
from prompts.reply_model import ReplyModel, consult
from reading import read_text
from storage.cadence_repos import CadenceStore, DraftFact
from triggers.cadence import (
    MAIL_KIND,
    Cadence,
    CadenceConfig,
    CadenceFacts,
    Choice,
    EndReason,
    Enrolment,
    EnrolmentStatus,
    OwnerQuestion,
    PendingOutcome,
    ReplyEvent,
    ReplyFacts,
    StepDue,
    Verdict,
    apply_answer,
    auto_enrolments,
    company_domain,
    content_lines,
    decide,
    deliverable_address,
    looks_stale,
    parse_trigger,
    plan_reply,
    reachability,
    reply_event,
    resumed,
    settle,
    stopped,
    trigger_for,
    unhandled_inbound,
)
from triggers.drafts import (
    OPEN_STATUSES,
    AuditEntry,
    Draft,
    DraftingNotes,
    DraftStatus,
    NewDraft,
    Pause,
)
from triggers.evaluate import build_views
from triggers.handoff import (
    INJECTION_WARNING,
    Category,
    Handoff,
    HandoffFacts,
    RoutingConfig,
    asked_for,
    category_for,
    earlier_intents,
    one_sentence,
    pricing_signal,
    relevant_history,
    route_for,
    sentiment_phrase,
    summary_text,
)
from triggers.model import (
    Activity,
    ActivityKind,
    Contact,
    ContactStatus,
    DealStatus,
    DealView,
    Direction,
    Pipeline,
)
from triggers.reading import Intent, Reading, Sentiment
from triggers.windows import recipient_zone, zone_info

log = logging.getLogger(__name__)

SYSTEM = Actor(id="followup", display="followup")
POSSIBLE_OPT_OUT = (
    "it uses words of an opt-out that the rules did not read as one; if they ask to stop, "
    "use /followup optout"
)
TASK_DUE_IN = timedelta(hours=24)
FOREVER = datetime.max.replace(tzinfo=UTC)
_POSITIVE = frozenset({"interested", "meeting_request"})


# --------------------------------------------------------------------------- ports


def cadence_config(services: Services) -> CadenceConfig:
    return services.policy.cadences


def routing_config(services: Services) -> RoutingConfig:
    return services.policy.routing


def handoff_surface(services: Services) -> HandoffSurface:
    return services.handoffs


def cadence_store(services: Services) -> CadenceStore:
    return CadenceStore(services.store.engine)


def _suppressions(services: Services) -> dict[str, str]:
    return cadence_store(services).facts.suppressions()


def _audit(
    services: Services, now: datetime, actor: str, action: str, subject: str, detail: str
) -> None:
    services.store.audit.add(AuditEntry(now, actor, action, subject, detail))


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class CadenceResult:
    outcome: Outcome
    message: str
    enrolment: Enrolment | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.DONE


def _refuse(
    services: Services, actor: Actor, action: str, subject: str, now: datetime
) -> CadenceResult:
    _audit(services, now, actor.id, f"refused:{action}", subject, "not an approver")
    return CadenceResult(
        Outcome.FORBIDDEN,
        "Only the deal's owner or a followup admin can do that; nothing was changed.",
    )


# --------------------------------------------------------------------------- enrol


def enroll(
    services: Services,
    deal_id: str,
    contact_id: str | None,
    cadence_name: str | None,
    actor: Actor,
    now: datetime,
    *,
    via: str = "manual",
) -> CadenceResult:
    """Put a deal's contact (default: its first reachable contact) in a cadence (default: the
    configured default). One contact is in at most one cadence at a time; never a contact who
    cannot be written to or who opted out before."""
    config = cadence_config(services)
    name = cadence_name or config.default
    cadence = config.cadence(name)
    if cadence is None:
        known = ", ".join(sorted(config.cadences))
        return CadenceResult(Outcome.INVALID, f"There is no cadence {name!r}; defined: {known}.")
    view = deal_view(services, deal_id)
    if view is None:
        return CadenceResult(Outcome.NOT_FOUND, f"There is no deal {deal_id!r}.")
    if not may_act(services, actor, view):
        return _refuse(services, actor, "enroll", f"deal:{deal_id}", now)
    if view.deal.status is not DealStatus.OPEN:
        return CadenceResult(
            Outcome.INVALID, f"{view.deal.title} is {view.deal.status.value}; only open deals."
        )
    suppressions = _suppressions(services)
    contact = _pick_contact(view, contact_id, suppressions)
    if isinstance(contact, str):
        return CadenceResult(Outcome.INVALID, contact)
    store = cadence_store(services)
    history = store.enrolments.find(contact_id=contact.id)
    if any(e.end_reason is EndReason.OPT_OUT for e in history):
        return CadenceResult(
            Outcome.INVALID, f"{contact.name} opted out; they are never enrolled again."
        )
    current = store.enrolments.live_for_contact(contact.id)
    if current is not None:
        return CadenceResult(
            Outcome.ALREADY_DECIDED,
            f"{contact.name} is already in cadence {current.cadence} "
            f"(since {current.enrolled_at:%a %d %b}); one cadence at a time.",
            current,
        )
    new = Enrolment(
        id=0,
        deal_id=view.deal.id,
        contact_id=contact.id,
        cadence=cadence.name,
        status=EnrolmentStatus.ACTIVE,
        enrolled_at=now,
        enrolled_by=actor.id,
        via=via,
        to_address=deliverable_address(contact, suppressions),
    )
    enrolment = store.enrolments.insert(new)
    if enrolment is None:
        return CadenceResult(
            Outcome.ALREADY_DECIDED, f"{contact.name} was enrolled meanwhile; nothing changed."
        )
    _audit(
        services,
        now,
        actor.id,
        "cadence_enroll",
        f"deal:{deal_id}",
        f"{contact.id} in {name} via {via}",
    )
    window = services.policy.evaluation.send_window
    facts = CadenceFacts(view=view, suppressions=suppressions)
    decision = decide(
        cadence, enrolment, facts, now, window, stop_on_company_reply=config.stop_on_company_reply
    )
    first = cadence.number(0)
    when = ""
    if decision.verdict is Verdict.DRAFT:
        when = f" Step {first} is due now."
    elif decision.verdict is Verdict.WAIT and decision.wake_at is not None:
        zone = recipient_zone(contact, view.owner, window)
        local = decision.wake_at.astimezone(zone_info(zone))
        when = f" Step {first} is due {local:%a %d %b} ({zone})."
    return CadenceResult(
        Outcome.DONE,
        f"{contact.name} is in cadence {name} on {view.deal.title}.{when}",
        enrolment,
    )


def _pick_contact(
    view: DealView, contact_id: str | None, suppressions: Mapping[str, str]
) -> Contact | str:
    if contact_id is not None:
        contact = next((c for c in view.contacts if c.id == contact_id), None)
        if contact is None:
            return f"{contact_id!r} is not a contact of {view.deal.title}."
        problem = reachability(contact, suppressions)
        if problem is not None:
            return f"{contact.name} cannot be written to ({problem.value.replace('_', ' ')})."
        return contact
    for contact in view.contacts:
        if reachability(contact, suppressions) is None:
            return contact
    return f"No contact of {view.deal.title} can be written to."


def stop_enrolment(
    services: Services, enrolment_id: int, actor: Actor, now: datetime
) -> CadenceResult:
    """Take a contact out of their cadence (the pending step's draft is withdrawn)."""
    store = cadence_store(services)
    for _ in range(3):
        enrolment = store.enrolments.get(enrolment_id)
        if enrolment is None:
            return CadenceResult(Outcome.NOT_FOUND, f"There is no enrolment #{enrolment_id}.")
        view = deal_view(services, enrolment.deal_id)
        if view is not None and not may_act(services, actor, view):
            return _refuse(services, actor, "stop_cadence", f"enrolment:{enrolment_id}", now)
        if not enrolment.live:
            return CadenceResult(Outcome.ALREADY_DECIDED, "That cadence already ended.", enrolment)
        saved = _end(services, store, enrolment, EndReason.OWNER_STOPPED, now, view, actor=actor.id)
        if saved is not None:
            return CadenceResult(Outcome.DONE, "Stopped.", saved)
    return CadenceResult(Outcome.ALREADY_DECIDED, "The enrolment kept changing; try again.")


# --------------------------------------------------------------------------- queue steps


@dataclass(slots=True)
class _Cycle:
    services: Services
    store: CadenceStore
    config: CadenceConfig
    views: dict[str, DealView]
    suppressions: dict[str, str]
    by_domain: dict[str, list[Activity]]
    now: datetime
    drafted: list[Draft] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _angles: dict[str, str] | None = None
    _pauses: dict[str, datetime] | None = None
    _open: set[str] | None = None

    # Read once per cycle, and only when some step is due: a quiet cycle reads little.

    def paused_until(self, deal_id: str) -> datetime | None:
        if self._pauses is None:
            active = self.services.store.pauses.active(self.now).values()
            self._pauses = {p.deal_id: p.until or FOREVER for p in active}
        return self._pauses.get(deal_id)

    def open_deals(self) -> set[str]:
        """Deals with an open draft (one open draft per deal)."""
        if self._open is None:
            found = self.services.store.drafts.find(statuses=list(OPEN_STATUSES))
            self._open = {d.deal_id for d in found}
        return self._open

    def previous_angle(self, contact_id: str) -> str | None:
        """The angle of the latest message sent to the contact (loaded once, when needed)."""
        if self._angles is None:
            self._angles = self.store.facts.last_sent_angles()
        return self._angles.get(contact_id)


def queue_cadence_steps(
    services: Services, now: datetime, *, pipeline: Pipeline | None = None
) -> list[Draft]:
    """One pass over the cadences: automatic enrolments, replies not handled yet (classified
    and run through the playbook), drafts whose step went out, was dismissed or snoozed, and
    the steps now due. Returns the drafts queued (each already published for review).

    Call it from `run_cycle` after `withdraw_obsolete` and before `queue_due`, passing the
    pipeline it loaded; `queue_due` should leave `cadence_deal_ids(services)` to the
    cadences, or a rule and a step follow up on the same silence."""
    store = services.store
    config = cadence_config(services)
    cstore = cadence_store(services)
    rules = config.enrol
    automatic = bool(rules.stages or rules.inbound_leads or rules.silent)
    working = cstore.enrolments.working()
    if not working and not automatic:
        return []
    pipeline = pipeline if pipeline is not None else store.pipeline.load()
    suppressions = _suppressions(services)
    views = {view.deal.id: view for view in build_views(pipeline)}
    history = cstore.enrolments.find() if automatic else []
    for auto in auto_enrolments(views.values(), history, config, suppressions, now):
        view = views[auto.deal_id]
        contact = next(c for c in view.contacts if c.id == auto.contact_id)
        enrolment = cstore.enrolments.insert(
            Enrolment(
                id=0,
                deal_id=auto.deal_id,
                contact_id=auto.contact_id,
                cadence=auto.cadence,
                status=EnrolmentStatus.ACTIVE,
                enrolled_at=now,
                enrolled_by=SYSTEM.id,
                via=auto.via,
                to_address=deliverable_address(contact, suppressions),
            )
        )
        if enrolment is not None:
            working.append(enrolment)
            detail = f"{auto.contact_id} in {auto.cadence}: {auto.why}"
            _audit(services, now, SYSTEM.id, "cadence_enroll", f"deal:{auto.deal_id}", detail)
    cycle = _Cycle(
        services=services,
        store=cstore,
        config=config,
        views=views,
        suppressions=suppressions,
        by_domain=_inbound_by_domain(pipeline) if config.stop_on_company_reply else {},
        now=now,
    )
    for enrolment in working:
        try:
            if enrolment.confirmation_pending:
                _retry_confirmation(cycle, enrolment)
            elif enrolment.live:
                _advance(cycle, enrolment)
        except DraftingError as error:
            # Nothing lost: the step stays due and the next cycle tries again.
            cycle.failures.append(f"enrolment {enrolment.id}: {error}")
            log.warning("drafting for cadence enrolment %s failed: %s", enrolment.id, error)
    return cycle.drafted


def cadence_deal_ids(services: Services) -> frozenset[str]:
    """Deals with a contact in a live cadence: the cadence owns their follow-ups."""
    return frozenset(e.deal_id for e in cadence_store(services).enrolments.live())


def _inbound_by_domain(pipeline: Pipeline) -> dict[str, list[Activity]]:
    found: dict[str, list[Activity]] = {}
    for activity in pipeline.activities:
        if activity.is_inbound_email and activity.from_address:
            domain = activity.from_address.rpartition("@")[2].lower()
            found.setdefault(domain, []).append(activity)
    return found


def _domain_inbound(cycle: _Cycle, contact: Contact) -> list[Activity]:
    domain = company_domain(contact)
    return cycle.by_domain.get(domain, []) if domain else []


def _advance(cycle: _Cycle, enrolment: Enrolment) -> None:
    services, store, config, now = cycle.services, cycle.store, cycle.config, cycle.now
    cadence = config.cadence(enrolment.cadence)
    view = cycle.views.get(enrolment.deal_id)
    if cadence is None or view is None:
        reason = EndReason.OWNER_STOPPED if cadence is None else EndReason.DEAL_CLOSED
        _end(services, store, enrolment, reason, now, view)
        return
    settled = _settle_pending(services, store, cadence, enrolment, view, now)
    if settled is None or not settled.live:
        return
    enrolment = settled
    contact = next((c for c in view.contacts if c.id == enrolment.contact_id), None)
    if contact is not None:
        # Replies first, even from a contact who just became unreachable: an opt-out still
        # gets its confirmation, a bounce its alternate address, every reply its handoff.
        inbound = unhandled_inbound(
            enrolment,
            contact,
            view,
            _domain_inbound(cycle, contact),
            stop_on_company_reply=config.stop_on_company_reply,
        )
        for activity in inbound:
            reply = InboundReply.from_activity(activity)
            label = _classify(activity, cycle.services.reply_model)
            if label is None:  # an automatic reply that says nothing: seen, nothing to do
                after = store.enrolments.save(
                    replace(
                        enrolment,
                        handled_until=_later(enrolment.handled_until, activity.at),
                        acknowledged_until=_later(enrolment.acknowledged_until, activity.at),
                    )
                )
            else:
                after = _apply_reply(
                    services, store, config, cadence, enrolment, view, contact, reply, label, now
                )
            if after is None:
                return  # changed meanwhile: the next cycle looks again
            enrolment = after
            if not enrolment.live:
                return
        if inbound:
            cycle.suppressions = _suppressions(services)
    previous = cycle.previous_angle(enrolment.contact_id) if enrolment.touches == 0 else None
    facts = CadenceFacts(
        view=view,
        suppressions=cycle.suppressions,
        inbound=_domain_inbound(cycle, contact) if contact is not None else (),
        previous_angle=previous,
    )
    window = services.policy.evaluation.send_window
    decision = decide(
        cadence, enrolment, facts, now, window, stop_on_company_reply=config.stop_on_company_reply
    )
    if decision.resumed:
        saved = store.enrolments.save(resumed(enrolment))
        if saved is None:
            return
        enrolment = saved
        _audit(
            services, now, SYSTEM.id, "cadence_resume", f"enrolment:{enrolment.id}", "pause ended"
        )
    if decision.verdict in (Verdict.STOP, Verdict.COMPLETE):
        assert decision.end_reason is not None
        signal = decision.signal
        replied = signal.at if signal is not None and signal.is_inbound_email else None
        _end(
            services,
            store,
            enrolment,
            decision.end_reason,
            now,
            view,
            replied_at=replied,
            note=decision.why,
        )
        return
    if decision.verdict is not Verdict.DRAFT:
        return
    assert decision.step is not None
    assert contact is not None
    paused = cycle.paused_until(view.deal.id)
    if paused is not None and paused > now:
        return  # the deal is paused or snoozed: the step waits
    orphan = _orphan(services, cadence, enrolment)
    if orphan is not None:
        # A crash left this step's draft unlinked: adopt it rather than draft it twice.
        adopted = store.enrolments.save(replace(enrolment, pending_draft_id=orphan.id))
        if adopted is not None:
            _settle_pending(services, store, cadence, adopted, view, now)
        return
    if view.deal.id in cycle.open_deals():
        return  # one open draft per deal: this step waits for the other draft's decision
    used = enrolment.angles or ((previous,) if previous else ())
    new = _draft_step(services, cadence, enrolment, view, contact, decision.step, now, used)
    draft = services.store.drafts.insert(new, now=now)
    if draft is None:
        return  # another cycle drafted for this deal first
    claimed = store.enrolments.save(replace(enrolment, pending_draft_id=draft.id, not_before=None))
    if claimed is None:
        _withdraw(services, draft.id, now, "superseded", view)
        return
    cycle.open_deals().add(view.deal.id)
    cycle.drafted.append(draft)
    services.review.publish(draft, view)


def _classify(activity: Activity, model: ReplyModel | None = None) -> Reading | None:
    """The reading of an inbound message: the one the inbox stored with the activity, else
    (an email the CRM recorded) one read from its text now, the model asked once for what the
    rules leave open. None for an automatic reply that is neither an out-of-office nor a
    retired mailbox: seen, nothing to do."""
    label = activity.reading
    if label is None:
        kind = str(activity.extra.get(MAIL_KIND, "")) or None  # an older inbox verdict
        label = read_text(
            activity.body or activity.subject or "",
            sent=activity.at,
            now=activity.at,
            kind=kind,
            subject=activity.subject or "",
        )
        if kind == "auto_reply":
            label = _stated_return(activity, label)
        label = consult(label, model)
    if label.kind == "bounce":
        return replace(label, intent=Intent.BOUNCE)
    if label.kind != "auto_reply":
        return label
    if label.mailbox_retired or activity.extra.get("mailbox_retired") is True:
        return replace(label, intent=Intent.BOUNCE, matched=("mailbox retired",))
    if label.return_date is not None:
        return replace(label, intent=Intent.OUT_OF_OFFICE, resume_on=label.return_date)
    return label if label.intent is Intent.OUT_OF_OFFICE else None


def _inbox_kind(activity: Activity) -> str:
    """What the inbox read a message as (rows from older versions: `extra["mail_kind"]`)."""
    if activity.reading is not None:
        return activity.reading.kind
    return str(activity.extra.get(MAIL_KIND, ""))


def _stated_return(activity: Activity, label: Reading) -> Reading:
    """An older inbox row kept the return date in `extra`."""
    returns = activity.extra.get("return_date")
    if isinstance(returns, str) and returns:
        try:
            stated = date.fromisoformat(returns)
        except ValueError:
            return label
        return replace(label, intent=Intent.OUT_OF_OFFICE, return_date=stated, resume_on=stated)
    return label


def _draft_step(
    services: Services,
    cadence: Cadence,
    enrolment: Enrolment,
    view: DealView,
    contact: Contact,
    step: StepDue,
    now: datetime,
    angles_used: Sequence[str],
) -> NewDraft:
    policy = services.policy
    voice = policy.voice_for(view.deal.owner_id)
    result = services.drafter.draft(
        DraftContext(
            view=view,
            contact=contact,
            rule=None,
            angle=step.template,
            reason=step.reason,
            evidence=step.evidence,
            now=now,
            angles_used=tuple(angles_used),
            voice=voice,
            competitors=policy.competitors,
        )
    )
    failures = list(result.guardrail_failures)
    if step.max_lines is not None:
        owner = view.owner
        signature = voice.signature or (owner.name.split()[0] if owner else "")
        lines = content_lines(result.body, sign_off=voice.sign_off, signature=signature)
        if lines > step.max_lines:
            failures.append(
                f"step {step.number} should be under {step.max_lines + 1} lines; this has {lines}"
            )
    angle = step.angle if result.angle in (None, step.template) else result.angle
    return NewDraft(
        deal_id=view.deal.id,
        contact_id=contact.id,
        to_address=step.to_address,
        trigger=trigger_for(cadence.name, step.number),
        rule=None,
        angle=angle,
        anchor_at=now,
        due_at=step.due_at,
        send_at=step.send_at,
        reason=step.reason,
        evidence=step.evidence,
        subject=result.subject,
        body=result.body,
        source=result.source,
        notice=with_injection_warning(view, result.notice, now),
        guardrail_failures=tuple(failures),
        usage=result.cost,
        drafting=DraftingNotes(
            written_from=result.written_from,
            cc=result.cc,
            facts_used=result.facts_used,
            why_angle=result.why_angle,
            warnings=result.warnings,
        ),
    )


def _settle_pending(
    services: Services,
    store: CadenceStore,
    cadence: Cadence,
    enrolment: Enrolment,
    view: DealView,
    now: datetime,
) -> Enrolment | None:
    """Fold what became of the pending step's draft into the enrolment. None when the
    enrolment changed meanwhile."""
    draft_id = enrolment.pending_draft_id
    if draft_id is None:
        return enrolment
    draft = services.store.drafts.get(draft_id)
    if draft is None:
        return store.enrolments.save(replace(enrolment, pending_draft_id=None))
    if draft.status in OPEN_STATUSES:
        return enrolment
    if draft.status is DraftStatus.FAILED:
        note = draft.decision_note or "the step could not be sent"
        return _end(services, store, enrolment, EndReason.SEND_FAILED, now, view, note=note)
    at = draft.decided_at
    if draft.status is DraftStatus.SENT:
        row = services.store.outbox.for_draft(draft.id)
        at = row.sent_at if row is not None and row.sent_at is not None else now
    outcome = PendingOutcome(status=draft.status.value, at=at, angle=draft.angle)
    return store.enrolments.save(settle(enrolment, outcome, now))


def _orphan(services: Services, cadence: Cadence, enrolment: Enrolment) -> Draft | None:
    """A draft of the next step that is not linked to the enrolment (a crash between queueing
    it and recording it)."""
    trigger = trigger_for(cadence.name, cadence.number(enrolment.next_index))
    found = [
        d
        for d in services.store.drafts.find(deal_id=enrolment.deal_id)
        if d.trigger == trigger
        and d.contact_id == enrolment.contact_id
        and d.created_at >= enrolment.enrolled_at
        and (enrolment.not_before is None or d.created_at > enrolment.not_before)
        and d.status in (*OPEN_STATUSES, DraftStatus.SENT)
    ]
    return max(found, key=lambda d: d.id) if found else None


def _withdraw(
    services: Services, draft_id: int, now: datetime, note: str, view: DealView | None
) -> None:
    store = services.store
    draft = store.drafts.get(draft_id)
    if draft is None or draft.status not in OPEN_STATUSES:
        return
    if draft.status is DraftStatus.APPROVED:
        store.outbox.cancel_for_draft(draft_id)
    withdrawn = store.drafts.transition(
        draft_id, DraftStatus.WITHDRAWN, actor=SYSTEM.id, now=now, note=note
    )
    if withdrawn is not None:
        services.review.update(withdrawn, view, f"Withdrawn: {note}")


def _end(
    services: Services,
    store: CadenceStore,
    enrolment: Enrolment,
    reason: EndReason,
    now: datetime,
    view: DealView | None,
    *,
    replied_at: datetime | None = None,
    note: str = "",
    actor: str = SYSTEM.id,
) -> Enrolment | None:
    config = cadence_config(services)
    cadence = config.cadence(enrolment.cadence)
    ended = stopped(enrolment, reason, now, cadence, replied_at=replied_at)
    pending = enrolment.pending_draft_id
    saved = store.enrolments.save(replace(ended, pending_draft_id=None))
    if saved is None:
        return None
    if pending is not None:
        _withdraw(services, pending, now, f"cadence ended: {reason.value.replace('_', ' ')}", view)
    store.questions.cancel_open(enrolment.id, now=now, note=f"cadence ended: {reason.value}")
    detail = f"{reason.value}" + (f": {note}" if note else "")
    _audit(services, now, actor, "cadence_end", f"enrolment:{enrolment.id}", detail)
    return saved


# --------------------------------------------------------------------------- replies


@dataclass(frozen=True, slots=True)
class InboundReply:
    """One inbound message about a deal, as the inbox (or the CRM) saw it."""

    from_address: str
    received_at: datetime
    text: str  # the visible text, without quoted history
    source_key: str  # the Message-ID or activity id: one handoff per message
    deal_id: str | None = None
    contact_id: str | None = None
    from_name: str | None = None
    failed_address: str | None = None  # bounce: the recipient that failed
    hard_bounce: bool = True
    stale: bool = False  # the address looks stale (the contact changed company)

    @classmethod
    def from_activity(cls, activity: Activity) -> InboundReply:
        text = activity.body or activity.subject or ""
        retired = activity.extra.get("mailbox_retired") is True
        return cls(
            from_address=(activity.from_address or "").lower(),
            received_at=activity.at,
            text=text,
            source_key=activity.message_id or activity.id,
            deal_id=activity.deal_id,
            contact_id=activity.contact_id,
            failed_address=_str_or_none(activity.extra.get("failed_recipient"))
            or (activity.from_address if retired else None),
            hard_bounce=activity.extra.get("hard_bounce", True) is not False,
            stale=retired or looks_stale(text),
        )


# How far back the inbox's replies are looked at for a handoff they have not had.
HANDOFF_LOOKBACK = timedelta(days=7)
_TOUCH_KINDS = frozenset({ActivityKind.PROPOSAL_SENT, ActivityKind.QUOTE_SENT})


def unhanded_replies(pipeline: Pipeline, now: datetime) -> list[Activity]:
    """The inbox's human replies of the last `HANDOFF_LOOKBACK` that are still the deal's
    latest word (nobody answered them yet), oldest first. Read from the store each cycle, so a
    cycle that failed after reading the inbox still hands them off next time."""
    answered: dict[str, datetime] = {}
    for activity in pipeline.activities:
        outbound = activity.kind is ActivityKind.EMAIL and activity.direction is Direction.OUT
        if outbound or activity.kind in _TOUCH_KINDS:
            latest = answered.get(activity.deal_id)
            if latest is None or activity.at > latest:
                answered[activity.deal_id] = activity.at
    since = now - HANDOFF_LOOKBACK
    found = [
        a
        for a in pipeline.activities
        if a.kind is ActivityKind.EMAIL
        and a.direction is Direction.IN
        and a.extra.get("source") == "inbox"
        and _inbox_kind(a) == "reply"
        and not (a.reading.bulk if a.reading is not None else a.extra.get("bulk"))
        and since <= a.at <= now
        and not (a.deal_id in answered and answered[a.deal_id] > a.at)
    ]
    return sorted(found, key=lambda a: (a.at, a.id))


def hand_off_replies(services: Services, pipeline: Pipeline, now: datetime) -> list[Handoff]:
    """Hand every reply the inbox found to a person, once: on a deal no cadence follows, or
    from someone the cadence does not follow (a cadence hands off its own as it stops, first,
    in `queue_cadence_steps`). Out-of-offices, bounces and opt-outs are handled elsewhere. One
    reply recorded on two deals is one handoff."""
    store = cadence_store(services)
    handed: list[Handoff] = []
    seen: set[str] = set()
    for activity in unhanded_replies(pipeline, now):
        reply = InboundReply.from_activity(activity)
        if reply.source_key in seen or store.handoffs.find(source_key=reply.source_key):
            continue
        seen.add(reply.source_key)
        try:
            label = _classify(activity, services.reply_model)
            if label is None:
                continue
            check: str | None = None
            if label.intent in _NOT_HANDED_OFF:
                # The inbox read a person's reply; its label says "handled without a person".
                # Unless that handling visibly happened (the address suppressed, the cadence
                # paused), nobody would hear of it: a person checks first.
                if _handled_automatically(services, store, reply, label):
                    continue
                if _pause_for_absence(services, activity.deal_id, label, now):
                    continue
                check = UNHANDLED_CHECK.get(label.intent)
            view = deal_view(services, activity.deal_id)
            if view is None:
                continue
            contact = next((c for c in view.contacts if c.id == activity.contact_id), None)
            handed.append(
                _hand_off(
                    services, store, None, None, view, contact, reply, label, now, None, check=check
                )
            )
        except Exception as error:  # one reply must not keep the others from a person
            log.exception("reply %s could not be handed off; next cycle tries again", activity.id)
            _audit(
                services, now, SYSTEM.id, "handoff_failed", f"deal:{activity.deal_id}", repr(error)
            )
    return handed


# Intent values (a StrEnum): out-of-offices, bounces and opt-outs are handled elsewhere.
_NOT_HANDED_OFF = frozenset({"out_of_office", "bounce", "opt_out"})
# What a person is asked to check on a reply whose label would have it handled automatically
# when nothing automatic happened (issue 11 item 7: no reply reaches nobody).
UNHANDLED_CHECK = {
    "opt_out": (
        "it reads as an opt-out, but the contact was not suppressed; if they ask to stop, use "
        "/followup optout (or followup optout EMAIL), else answer them"
    ),
    "out_of_office": "it reads as an out-of-office, but came as a person's reply",
    "bounce": "it reads as a bounce, but came as a person's reply",
}


def _pause_for_absence(services: Services, deal_id: str, label: Reading, now: datetime) -> bool:
    """A person's reply saying they are away until a date: the deal pauses until then (shown by
    `/followup status`, audited), unless a person already paused it."""
    if label.intent != "out_of_office" or label.resume_on is None:
        return False
    until = datetime.combine(label.resume_on, time(0, 0), tzinfo=UTC)
    if until <= now:
        return False
    store = services.store
    if deal_id not in store.pauses.active(now):
        store.pauses.set(Pause(deal_id, until, "out of office", SYSTEM.id, now))
        _audit(
            services,
            now,
            SYSTEM.id,
            "paused",
            f"deal:{deal_id}",
            f"out of office until {until:%Y-%m-%d}",
        )
    return True


REVIEW_INJECTION_WARNING = (
    "Possible injection: a reply on this deal has text that tries to instruct followup; it "
    "was given to the drafter as data only, check this draft closely"
)
# The latest replies looked at for a suspected injection, and how much of each.
_INJECTION_REPLIES = 3
_INJECTION_CHARS = 5000


def with_injection_warning(view: DealView, notice: str | None, now: datetime) -> str | None:
    """The draft's notice, with a warning when one of the deal's latest replies (which the
    drafter saw) tries to instruct the system; shown on the review message and in `show`."""
    replies = sorted(
        (
            a
            for a in view.activities
            if a.kind is ActivityKind.EMAIL and a.direction is Direction.IN and a.body
        ),
        key=lambda a: a.at,
    )[-_INJECTION_REPLIES:]
    flagged = any(
        read_text((a.body or "")[:_INJECTION_CHARS], sent=a.at, now=a.at).injection_suspected
        for a in replies
    )
    if not flagged:
        return notice
    return f"{REVIEW_INJECTION_WARNING}. {notice}" if notice else REVIEW_INJECTION_WARNING


def _instructs(sentence: str, received_at: datetime) -> bool:
    """A sentence that tries to instruct the system (the classifier's rules, no model)."""
    return read_text(sentence, sent=received_at, now=received_at).injection_suspected


def _handled_automatically(
    services: Services, store: CadenceStore, reply: InboundReply, label: Reading
) -> bool:
    """The recorded automatic action a person can see: the sender suppressed (an opt-out), or
    their cadence took the reply through its playbook (an out-of-office pause)."""
    sender = reply.from_address
    if label.intent == "opt_out":
        return bool(sender) and services.store.suppressions.is_suppressed(sender)
    if reply.contact_id is None:
        return False
    return any(
        e.handled_until is not None and e.handled_until >= reply.received_at
        for e in store.enrolments.find(contact_id=reply.contact_id)
    )


def _str_or_none(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class ReplyOutcome:
    event: ReplyEvent
    enrolments: tuple[Enrolment, ...] = ()  # the enrolments the reply changed, after
    handoffs: tuple[Handoff, ...] = ()
    questions: tuple[OwnerQuestion, ...] = ()
    drafts: tuple[Draft, ...] = ()  # the opt-out confirmation, when one was queued
    notes: tuple[str, ...] = ()


def handle_reply_for_cadence(
    services: Services, reply: InboundReply, label: Reading, now: datetime
) -> ReplyOutcome:
    """Run one classified inbound message through the playbook: stop or pause the sender's
    cadence (and, when `stop_on_company_reply`, the cadences of their colleagues), hand a
    person's reply to the right person, ask the owner where the playbook says so, suppress a
    hard-bounced address or switch to an alternate, and on an opt-out mark the contact
    do-not-contact and queue the one-line confirmation for approval. Idempotent per
    `reply.source_key`."""
    store = services.store
    config = cadence_config(services)
    cstore = cadence_store(services)
    event = reply_event(label.intent.value, label.resume_on)
    pipeline = store.pipeline.load()
    views = {view.deal.id: view for view in build_views(pipeline)}
    contact = _sender(pipeline, reply, event)
    targets = _affected(cstore, config, pipeline, contact, reply, event)
    changed: list[Enrolment] = []
    notes: list[str] = []
    for enrolment in targets:
        cadence = config.cadence(enrolment.cadence)
        view = views.get(enrolment.deal_id)
        member = next(
            (c for c in (view.contacts if view else ()) if c.id == enrolment.contact_id), None
        )
        if cadence is None or view is None or member is None:
            continue
        for _ in range(3):
            settled = _settle_pending(services, cstore, cadence, enrolment, view, now)
            if settled is not None:
                if not settled.live:
                    break
                after = _apply_reply(
                    services, cstore, config, cadence, settled, view, member, reply, label, now
                )
                if after is not None:
                    changed.append(after)
                    break
            fresh = cstore.enrolments.get(enrolment.id)
            if fresh is None or not fresh.live:
                break
            enrolment = fresh
    if not changed:
        notes.append("no live cadence for the sender")
        view = views.get(reply.deal_id or "") or _view_for(views, contact)
        if event is ReplyEvent.OPT_OUT:
            _opt_out(services, reply.from_address or (contact.email or "" if contact else ""), now)
        if view is not None and event not in (ReplyEvent.OUT_OF_OFFICE, ReplyEvent.BOUNCE):
            _hand_off(services, cstore, None, None, view, contact, reply, label, now, None)
    handoffs = tuple(cstore.handoffs.find(source_key=reply.source_key))
    questions = tuple(q for e in changed if (q := cstore.questions.open_for(e.id)) is not None)
    drafts = tuple(
        d
        for e in changed
        if e.end_reason is EndReason.OPT_OUT
        for d in store.drafts.find(deal_id=e.deal_id)
        if d.trigger == OPT_OUT_CONFIRMATION
        and d.contact_id == e.contact_id
        and d.anchor_at == (e.replied_at or e.ended_at)
    )
    return ReplyOutcome(event, tuple(changed), handoffs, questions, drafts, tuple(notes))


def _sender(pipeline: Pipeline, reply: InboundReply, event: ReplyEvent) -> Contact | None:
    """The contact who wrote (for a bounce: whose address failed). A colleague at the same
    company is nobody's contact, even when the message was filed under the deal's contact."""
    address = (reply.failed_address if event is ReplyEvent.BOUNCE else None) or reply.from_address
    address = (address or "").lower()
    if address:
        return next((c for c in pipeline.contacts if address in c.addresses), None)
    return pipeline.contact(reply.contact_id) if reply.contact_id else None


def _affected(
    store: CadenceStore,
    config: CadenceConfig,
    pipeline: Pipeline,
    contact: Contact | None,
    reply: InboundReply,
    event: ReplyEvent,
) -> list[Enrolment]:
    live = store.enrolments.live()
    found = [e for e in live if contact is not None and e.contact_id == contact.id]
    if event in (ReplyEvent.BOUNCE, ReplyEvent.OUT_OF_OFFICE) or not config.stop_on_company_reply:
        return found
    sender_domain = reply.from_address.rpartition("@")[2].lower()
    contacts = {c.id: c for c in pipeline.contacts}
    for enrolment in live:
        member = contacts.get(enrolment.contact_id)
        if member is None or enrolment in found:
            continue
        if sender_domain and company_domain(member) == sender_domain:
            found.append(enrolment)
    return found


def _view_for(views: Mapping[str, DealView], contact: Contact | None) -> DealView | None:
    if contact is None:
        return None
    return next((v for v in views.values() if any(c.id == contact.id for c in v.contacts)), None)


def _apply_reply(
    services: Services,
    store: CadenceStore,
    config: CadenceConfig,
    cadence: Cadence,
    enrolment: Enrolment,
    view: DealView,
    contact: Contact,
    reply: InboundReply,
    label: Reading,
    now: datetime,
) -> Enrolment | None:
    """Apply the playbook to one live enrolment; None when it changed meanwhile. A message
    the playbook already saw changes nothing."""
    if enrolment.handled_until is not None and reply.received_at <= enrolment.handled_until:
        return enrolment
    window = services.policy.evaluation.send_window
    zone = recipient_zone(contact, view.owner, window)
    facts = ReplyFacts(
        intent=label.intent.value,
        sentiment=label.sentiment.value,
        received_at=reply.received_at,
        from_address=reply.from_address or None,
        resume_on=label.resume_on,
        failed_address=reply.failed_address,
        hard_bounce=reply.hard_bounce,
        stale=reply.stale or looks_stale(reply.text),
        from_contact=not reply.from_address
        or reply.from_address.lower() in contact.addresses
        or label.intent == "bounce",
    )
    suppressions = _suppressions(services)
    plan = plan_reply(config, cadence, enrolment, contact, facts, suppressions, zone, window, now)
    after = plan.enrolment
    pending = enrolment.pending_draft_id
    if plan.withdraw_pending and pending is not None:
        after = replace(after, pending_draft_id=None, not_before=_later(after.not_before, now))
    saved = store.enrolments.save(after)
    if saved is None:
        return None
    if plan.withdraw_pending and pending is not None:
        _withdraw(services, pending, now, f"{plan.event.value.replace('_', ' ')} reply", view)
    if not saved.live:
        store.questions.cancel_open(
            enrolment.id, now=now, note=f"cadence ended: {plan.event.value}"
        )
    for value, reason in plan.suppress:
        services.store.suppressions.add(value, reason=reason, now=now, source="bounce")
    if plan.mark_bounced and contact.status is ContactStatus.ACTIVE:
        services.store.pipeline.set_contact_status(contact.id, ContactStatus.BOUNCED, now)
    if plan.opt_out_address:
        _opt_out(services, plan.opt_out_address, now)
    detail = f"{plan.event.value} -> {plan.action.value}" + (f": {plan.note}" if plan.note else "")
    _audit(services, now, SYSTEM.id, "cadence_reply", f"enrolment:{enrolment.id}", detail)
    question: OwnerQuestion | None = None
    if plan.question is not None:
        question, created = store.questions.ask(
            OwnerQuestion(
                id=0,
                enrolment_id=saved.id,
                deal_id=saved.deal_id,
                contact_id=saved.contact_id,
                kind=plan.question.kind,
                text=plan.question.text,
                proposed_until=plan.question.proposed_until,
                created_at=now,
            )
        )
        if created:
            _owner_task(services, view, question.text, now)
            if not plan.handoff:
                handoff_surface(services).ask_owner(question, view)
    if plan.handoff:
        _hand_off(services, store, saved, cadence, view, contact, reply, label, now, question)
    if plan.confirmation:
        saved = _queue_confirmation(services, store, saved, view, contact, now) or saved
    return saved


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


def _opt_out(services: Services, address: str, now: datetime) -> None:
    from flows.review import opt_out

    if address and "@" in address:
        opt_out(services, address, SYSTEM, now, source="reply")


@dataclass(frozen=True, slots=True)
class OwnerTask:
    """The playbook's "CRM task (or a Slack reminder)": whichever was created, if any."""

    crm_task_id: str | None = None
    reminder_id: str | None = None


def _owner_task(
    services: Services,
    view: DealView,
    title: str,
    now: datetime,
    *,
    user: str | None = None,
    due: datetime | None = None,
) -> OwnerTask:
    """A CRM task for the deal's owner when the CRM keeps tasks; otherwise (or when the CRM
    fails) a Slack reminder to `user` (the owner when None) at the due time."""
    due = due or now + TASK_DUE_IN
    title = one_sentence(title, 200)
    crm = services.crm
    if isinstance(crm, CrmTasks):
        try:
            return OwnerTask(
                crm_task_id=crm.create_task(view.deal.id, view.deal.owner_id, title, due)
            )
        except CrmError as error:
            _audit(services, now, SYSTEM.id, "crm_task_failed", f"deal:{view.deal.id}", str(error))
    surface = handoff_surface(services)
    if not isinstance(surface, Reminders) or due <= now:
        return OwnerTask()
    try:
        return OwnerTask(reminder_id=surface.remind(user, view, title, due) or None)
    except NotPosted as error:
        _audit(services, now, SYSTEM.id, "reminder_failed", f"deal:{view.deal.id}", error.reason)
        return OwnerTask()


def _hand_off(
    services: Services,
    store: CadenceStore,
    enrolment: Enrolment | None,
    cadence: Cadence | None,
    view: DealView,
    contact: Contact | None,
    reply: InboundReply,
    label: Reading,
    now: datetime,
    question: OwnerQuestion | None,
    *,
    intent: str | None = None,
    check: str | None = None,
) -> Handoff:
    intent = intent or label.intent.value
    sentiment = label.sentiment.value
    category = category_for(intent, sentiment, reply.text)
    route = route_for(routing_config(services), category, view.owner)
    window = services.policy.evaluation.send_window
    zone = recipient_zone(contact, view.owner, window)
    step = enrolment.replied_step if enrolment is not None else None
    angle: str | None = None
    if (
        enrolment is not None
        and enrolment.angles
        and cadence is not None
        and step is not None
        and step >= cadence.first_step
    ):
        angle = enrolment.angles[-1]
    earlier = (
        earlier_intents(store.handoffs.find(contact_id=contact.id), contact.id) if contact else []
    )
    sender = reply.from_address.lower()
    if contact is not None and (not sender or sender in contact.addresses):
        who = contact.name
    else:
        who = reply.from_name or reply.from_address or "someone"
        if contact is not None:
            who = f"{who}, a colleague of {contact.name}"
    due = now + TASK_DUE_IN
    facts = HandoffFacts(
        sentiment=sentiment_phrase(sentiment, intent),
        who=who,
        company=contact.company if contact else None,
        said=(
            asked_for(reply.text, lambda s: _instructs(s, reply.received_at))
            if label.injection_suspected
            else one_sentence(reply.text)
        ),
        stage_before=view.deal.stage,
        step=step,
        cadence=enrolment.cadence if enrolment else None,
        angle=angle,
        history=relevant_history(view, contact, reply.received_at, zone, earlier),
        route_label=route.label,
        task_due_at=due,
        zone=zone,
        check=check or (POSSIBLE_OPT_OUT if label.check_first else None),
        warning=INJECTION_WARNING if label.injection_suspected else None,
    )
    summary = summary_text(facts) + (f"\n({route.note})" if route.note else "")
    handoff, created = store.handoffs.insert(
        Handoff(
            id=0,
            deal_id=view.deal.id,
            contact_id=contact.id if contact else None,
            enrolment_id=enrolment.id if enrolment else None,
            source_key=reply.source_key,
            received_at=reply.received_at,
            intent=intent,
            sentiment=sentiment,
            category=category,
            route_target=route.target,
            routed_to=route.slack_user_id,
            route_label=route.label,
            step=step,
            cadence=enrolment.cadence if enrolment else None,
            stage_before=view.deal.stage,
            summary=summary,
            created_at=now,
            task_due_at=due,
        ),
        question_id=question.id if question is not None else None,
        claimed_at=now,
    )
    if not created:
        return handoff
    crm = services.crm
    try:
        if isinstance(crm, CrmReplyStage) and category is not Category.OPT_OUT:
            crm.mark_reply_received(view.deal.id)
    except CrmError as error:
        _audit(services, now, SYSTEM.id, "crm_stage_failed", f"deal:{view.deal.id}", str(error))
    handoff = _handoff_task(services, store, handoff, view, now, reminder_id=None)
    _audit(
        services,
        now,
        SYSTEM.id,
        "handoff",
        f"deal:{view.deal.id}",
        f"{intent} ({category.value}) -> {route.slack_user_id or route.target}",
    )
    unposted = _post_handoff(services, store, handoff, view, question, now)
    if unposted is not None:  # once, not on every retry
        subject = f"handoff:{handoff.id}"
        _audit(services, now, SYSTEM.id, "handoff_unposted", subject, unposted.reason)
    return handoff


def _handoff_task(
    services: Services,
    store: CadenceStore,
    handoff: Handoff,
    view: DealView,
    now: datetime,
    *,
    reminder_id: str | None,
) -> Handoff:
    """The handoff's task (CRM) or reminder (Slack), unless it has one; recorded on it."""
    due = handoff.task_due_at
    if handoff.crm_task_id is not None or reminder_id is not None or due is None:
        return handoff
    title = f"Handoff: {one_sentence(handoff.summary, 180)}"
    task = _owner_task(services, view, title, now, user=handoff.routed_to, due=due)
    if task.crm_task_id is not None:
        store.handoffs.set_crm_task(handoff.id, task.crm_task_id)
        handoff = replace(handoff, crm_task_id=task.crm_task_id)
    if task.reminder_id is not None:
        store.handoffs.set_reminder(handoff.id, task.reminder_id)
    return handoff


def _post_handoff(
    services: Services,
    store: CadenceStore,
    handoff: Handoff,
    view: DealView,
    question: OwnerQuestion | None,
    now: datetime,
) -> NotPosted | None:
    """Post a handoff whose lease the caller holds; recorded as posted, or as unposted (kept
    for `post_unposted_handoffs`) with why."""
    try:
        handoff_surface(services).post_handoff(handoff, view, question)
    except NotPosted as error:
        _not_posted(services, store, handoff, error.reason, now, refused=not error.outage)
        return error
    store.handoffs.mark_posted(handoff.id, now=now)
    return None


def _not_posted(
    services: Services,
    store: CadenceStore,
    handoff: Handoff,
    reason: str,
    now: datetime,
    *,
    refused: bool,
) -> None:
    """Keep the handoff for the next pass; one Slack keeps refusing (not an outage: a channel
    gone, nobody to post to) stops being retried after `MAX_POST_REFUSALS`, with an audit entry
    saying why, so it never holds up the handoffs behind it."""
    refusals = store.handoffs.mark_unposted(handoff.id, error=reason, refused=refused)
    if refused and refusals >= MAX_POST_REFUSALS:
        log.error(
            "handoff %s not posted, given up after %d refusals: %s", handoff.id, refusals, reason
        )
        _audit(services, now, SYSTEM.id, "handoff_not_posted", f"deal:{handoff.deal_id}", reason)
    else:
        log.warning("handoff %s kept to post later: %s", handoff.id, reason)


# A handoff's poster holds it this long; after a crash mid-post, another worker takes it over.
POST_LEASE = timedelta(minutes=10)
# Refusals of one handoff (not outages) before it stops being retried.
MAX_POST_REFUSALS = 5


@dataclass(slots=True)
class HandoffRetry:
    posted: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def post_unposted_handoffs(services: Services, now: datetime, *, limit: int = 50) -> HandoffRetry:
    """Post the handoffs an outage kept from Slack, oldest first, each once; with them, the
    reminder that could not be scheduled either. The first outage ends the pass: the rest
    keep their order for the next one."""
    store = cadence_store(services)
    report = HandoffRetry()
    for pending in store.handoffs.unposted(limit, max_refusals=MAX_POST_REFUSALS):
        handoff = pending.handoff
        if not store.handoffs.claim_post(handoff.id, now=now, lease=POST_LEASE):
            continue  # being posted by another worker (or its creator) right now
        view = deal_view(services, handoff.deal_id)
        if view is None:
            _not_posted(
                services, store, handoff, "the deal is not in the pipeline", now, refused=True
            )
            report.failed.append(handoff.id)
            continue
        question = None
        if pending.question_id is not None:
            question = store.questions.get(pending.question_id)
        handoff = _handoff_task(
            services, store, handoff, view, now, reminder_id=pending.reminder_id
        )
        error = _post_handoff(services, store, handoff, view, question, now)
        if error is None:
            report.posted.append(handoff.id)
            continue
        report.failed.append(handoff.id)
        if error.outage:
            break
    return report


def _queue_confirmation(
    services: Services,
    store: CadenceStore,
    enrolment: Enrolment,
    view: DealView,
    contact: Contact,
    now: datetime,
) -> Enrolment | None:
    """Queue the one-line opt-out confirmation for approval (once per opt-out)."""
    anchor = enrolment.replied_at or enrolment.ended_at or now
    existing = [
        d
        for d in services.store.drafts.find(deal_id=view.deal.id)
        if d.trigger == OPT_OUT_CONFIRMATION
        and d.contact_id == contact.id
        and d.anchor_at == anchor
    ]
    if not existing:
        address = (enrolment.to_address or contact.email or "").lower()
        if not address:
            return store.enrolments.save(replace(enrolment, confirmation_pending=False))
        result = services.drafter.draft(
            DraftContext(
                view=view,
                contact=contact,
                rule=None,
                angle=OPT_OUT_CONFIRMATION,
                reason="They asked not to be contacted again: confirm it in one line.",
                evidence=(f"Opted out: {anchor:%a %d %b %H:%M} UTC",),
                now=now,
                voice=services.policy.voice_for(view.deal.owner_id),
                competitors=services.policy.competitors,
            )
        )
        draft = services.store.drafts.insert(
            NewDraft(
                deal_id=view.deal.id,
                contact_id=contact.id,
                to_address=address,
                trigger=OPT_OUT_CONFIRMATION,
                rule=None,
                angle=OPT_OUT_CONFIRMATION,
                anchor_at=anchor,
                due_at=now,
                send_at=now,
                reason="They opted out: a one-line confirmation, nothing else, ever.",
                evidence=(f"Opted out: {anchor:%a %d %b %H:%M} UTC",),
                subject=result.subject,
                body=result.body,
                source=result.source,
                notice=result.notice,
                guardrail_failures=result.guardrail_failures,
                usage=result.cost,
            ),
            now=now,
        )
        if draft is None:
            return None  # another draft is open on the deal: the next cycle tries again
        services.review.publish(draft, view)
    return store.enrolments.save(replace(enrolment, confirmation_pending=False))


def _retry_confirmation(cycle: _Cycle, enrolment: Enrolment) -> None:
    view = cycle.views.get(enrolment.deal_id)
    contact = (
        next((c for c in view.contacts if c.id == enrolment.contact_id), None) if view else None
    )
    if view is None or contact is None:
        cycle.store.enrolments.save(replace(enrolment, confirmation_pending=False))
        return
    if view.deal.id in cycle.open_deals():
        return
    try:
        saved = _queue_confirmation(
            cycle.services, cycle.store, enrolment, view, contact, cycle.now
        )
    except DraftingError as error:
        cycle.failures.append(f"opt-out confirmation {enrolment.id}: {error}")
        return
    if saved is not None:
        cycle.open_deals().add(view.deal.id)


# --------------------------------------------------------------------------- owner answers


def answer_question(
    services: Services,
    question_id: int,
    choice: str,
    actor: Actor,
    now: datetime,
    *,
    until: date | None = None,
) -> CadenceResult:
    """The owner's answer to a cadence question: pause until a date, keep running, or stop.
    A double click answers once; the answer also records who acted on the reply's handoff."""
    store = cadence_store(services)
    question = store.questions.get(question_id)
    if question is None:
        return CadenceResult(Outcome.NOT_FOUND, f"There is no question #{question_id}.")
    view = deal_view(services, question.deal_id)
    if view is None:
        return CadenceResult(Outcome.NOT_FOUND, "The deal is no longer in the pipeline.")
    if not may_act(services, actor, view):
        return _refuse(services, actor, "answer", f"question:{question_id}", now)
    allowed = ", ".join(c.value for c in question.choices)
    try:
        picked = Choice(choice)
    except ValueError:
        return CadenceResult(Outcome.INVALID, f"Unknown choice {choice!r}; use one of: {allowed}.")
    if picked not in question.choices:
        return CadenceResult(
            Outcome.INVALID, f"{choice!r} is not an answer here; use one of: {allowed}."
        )
    if question.status != "open":
        who = f" by {question.answered_by}" if question.answered_by else ""
        return CadenceResult(
            Outcome.ALREADY_DECIDED, f"That question was already {question.status}{who}."
        )
    contact = next((c for c in view.contacts if c.id == question.contact_id), None)
    window = services.policy.evaluation.send_window
    zone = recipient_zone(contact, view.owner, window)
    resume_at: datetime | None = None
    if picked is Choice.PAUSE_UNTIL:
        day = until or question.proposed_until
        today = now.astimezone(zone_info(zone)).date()
        if day is None or day <= today:
            return CadenceResult(Outcome.INVALID, "Pick a resume date after today.")
        until = day
        resume_at = datetime.combine(day, time(0), tzinfo=zone_info(zone)).astimezone(UTC)
    answered = store.questions.answer(
        question_id,
        choice=picked.value,
        until=until if picked is Choice.PAUSE_UNTIL else None,
        actor=actor.id,
        now=now,
    )
    if answered is None:
        current = store.questions.get(question_id)
        who = f" by {current.answered_by}" if current and current.answered_by else ""
        return CadenceResult(Outcome.ALREADY_DECIDED, f"That question was already answered{who}.")
    config = cadence_config(services)
    for _ in range(3):
        enrolment = store.enrolments.get(question.enrolment_id)
        if enrolment is None or not enrolment.live:
            return CadenceResult(Outcome.DONE, "Noted; the cadence had already ended.", enrolment)
        cadence = config.cadence(enrolment.cadence)
        after = apply_answer(enrolment, picked, now, until=resume_at, cadence=cadence)
        if not after.live:
            saved = _end(
                services, store, enrolment, EndReason.OWNER_STOPPED, now, view, actor=actor.id
            )
        else:
            saved = store.enrolments.save(after)
        if saved is not None:
            break
    else:
        return CadenceResult(Outcome.ALREADY_DECIDED, "The cadence kept changing; look again.")
    for handoff in reversed(
        store.handoffs.find(deal_id=question.deal_id, contact_id=question.contact_id)
    ):
        if handoff.acted_by is None:
            store.handoffs.record_action(
                handoff.id, actor=_actor_key(actor), action=f"answered: {picked.value}", now=now
            )
            break
    _audit(services, now, actor.id, "cadence_answer", f"question:{question_id}", picked.value)
    message = {
        Choice.STOP: "Stopped the cadence.",
        Choice.KEEP_RUNNING: "The cadence keeps running.",
        Choice.PAUSE_UNTIL: f"Paused until {until:%a %d %b %Y}." if until else "Paused.",
    }[picked]
    return CadenceResult(Outcome.DONE, message, saved)


def _actor_key(actor: Actor) -> str:
    """How an actor is compared with a handoff's route: the Slack user id when there is one."""
    return actor.slack_user_id or actor.id


def record_handoff_action(
    services: Services, handoff_id: int, actor: Actor, action: str, now: datetime
) -> CadenceResult:
    """Record who acted first on a handoff (replied, booked, closed, reassigned...): the
    measure of handoff accuracy."""
    store = cadence_store(services)
    handoff = store.handoffs.get(handoff_id)
    if handoff is None:
        return CadenceResult(Outcome.NOT_FOUND, f"There is no handoff #{handoff_id}.")
    done = store.handoffs.record_action(handoff_id, actor=_actor_key(actor), action=action, now=now)
    if done is None:
        return CadenceResult(Outcome.ALREADY_DECIDED, "Someone already acted on that handoff.")
    _audit(services, now, actor.id, "handoff_action", f"handoff:{handoff_id}", action)
    return CadenceResult(Outcome.DONE, "Noted.")


def handle_pricing_clicks(
    services: Services,
    deal_id: str,
    contact_id: str,
    clicks: Sequence[datetime],
    now: datetime,
) -> Handoff | None:
    """Pricing link clicked twice in a week (when click data exists): hand off as an intent
    signal. The cadence is not changed: they have not replied."""
    recent = pricing_signal(clicks, now)
    if not recent:
        return None
    view = deal_view(services, deal_id)
    if view is None:
        return None
    contact = next((c for c in view.contacts if c.id == contact_id), None)
    store = cadence_store(services)
    week_ago = now - timedelta(days=7)
    for earlier in store.handoffs.find(deal_id=deal_id, contact_id=contact_id):
        if earlier.intent == "pricing_clicks" and earlier.received_at > week_ago:
            return None  # one intent-signal handoff a week
    enrolment = store.enrolments.live_for_contact(contact_id)
    cadence = cadence_config(services).cadence(enrolment.cadence) if enrolment else None
    reply = InboundReply(
        from_address=(contact.email or "") if contact else "",
        received_at=recent[-1],
        text=f"Opened the pricing link {len(recent)} times in the last 7 days.",
        source_key=f"pricing-clicks:{contact_id}:{recent[-1]:%Y%m%dT%H%M%S}",
        deal_id=deal_id,
        contact_id=contact_id,
    )
    label = Reading(kind="reply", intent=Intent.OTHER, sentiment=Sentiment.WARM)
    return _hand_off(
        services,
        store,
        enrolment,
        cadence,
        view,
        contact,
        reply,
        label,
        now,
        None,
        intent="pricing_clicks",
    )


# --------------------------------------------------------------------------- metrics


@dataclass(frozen=True, slots=True)
class StepStats:
    cadence: str
    step: int
    angle: str | None
    sent: int
    replies: int

    @property
    def reply_rate(self) -> float | None:
        return self.replies / self.sent if self.sent else None


@dataclass(frozen=True, slots=True)
class CadenceStats:
    cadence: str
    enrolled: int
    live: int
    replied: int
    positive: int
    completed: int  # every step ran, no reply: archived
    finished: int
    opted_out: int
    average_touches_before_reply: float | None

    @property
    def positive_reply_rate(self) -> float | None:
        return self.positive / self.enrolled if self.enrolled else None

    @property
    def completion_rate(self) -> float | None:
        return self.completed / self.finished if self.finished else None

    @property
    def opt_out_rate(self) -> float | None:
        return self.opted_out / self.enrolled if self.enrolled else None


@dataclass(frozen=True, slots=True)
class DraftStats:
    trigger: str  # a rule, or cadence:<name>:<step>
    drafted: int
    approved_unchanged: int
    approved_edited: int
    dismissed: int
    snoozed: int
    withdrawn: int
    pending: int


@dataclass(frozen=True, slots=True)
class HandoffStats:
    total: int
    by_category: Mapping[str, int]
    acted: int
    routed_correctly: int

    @property
    def accuracy(self) -> float | None:
        return self.routed_correctly / self.acted if self.acted else None


@dataclass(frozen=True, slots=True)
class Stats:
    since: datetime
    now: datetime
    steps: tuple[StepStats, ...]
    cadences: tuple[CadenceStats, ...]
    positive_reply_rate: float | None
    re_engagement_rate: float | None
    average_touches_before_reply: float | None
    drafts: tuple[DraftStats, ...]
    median_minutes_to_decision: float | None
    handoffs: HandoffStats

    def to_json(self) -> dict[str, Any]:
        return {
            "since": _iso(self.since),
            "until": _iso(self.now),
            "reply_rate_per_step": [
                {
                    "cadence": s.cadence,
                    "step": s.step,
                    "angle": s.angle,
                    "sent": s.sent,
                    "replies": s.replies,
                    "reply_rate": _rate(s.reply_rate),
                }
                for s in self.steps
            ],
            "cadences": [
                {
                    "cadence": c.cadence,
                    "enrolled": c.enrolled,
                    "live": c.live,
                    "replied": c.replied,
                    "positive": c.positive,
                    "positive_reply_rate": _rate(c.positive_reply_rate),
                    "completed": c.completed,
                    "completion_rate": _rate(c.completion_rate),
                    "opted_out": c.opted_out,
                    "opt_out_rate": _rate(c.opt_out_rate),
                    "average_touches_before_reply": _round(c.average_touches_before_reply),
                }
                for c in self.cadences
            ],
            "positive_reply_rate": _rate(self.positive_reply_rate),
            "re_engagement_rate": _rate(self.re_engagement_rate),
            "average_touches_before_reply": _round(self.average_touches_before_reply),
            "drafts_per_rule": [
                {
                    "trigger": d.trigger,
                    "drafted": d.drafted,
                    "approved_unchanged": d.approved_unchanged,
                    "approved_edited": d.approved_edited,
                    "dismissed": d.dismissed,
                    "snoozed": d.snoozed,
                    "withdrawn": d.withdrawn,
                    "pending": d.pending,
                }
                for d in self.drafts
            ],
            "median_minutes_to_decision": _round(self.median_minutes_to_decision),
            "handoffs": {
                "total": self.handoffs.total,
                "by_category": dict(self.handoffs.by_category),
                "acted": self.handoffs.acted,
                "routed_correctly": self.handoffs.routed_correctly,
                "accuracy": _rate(self.handoffs.accuracy),
            },
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _mean(values: Iterable[int]) -> float | None:
    found = list(values)
    return sum(found) / len(found) if found else None


def stats(services: Services, since: datetime, *, now: datetime | None = None) -> Stats:
    """The success metrics of issue 7 for enrolments, drafts and handoffs since `since`."""
    now = now or datetime.now(UTC)
    store = cadence_store(services)
    config = cadence_config(services)
    enrolments = store.enrolments.find(since=since)
    earliest = min((e.enrolled_at for e in enrolments), default=since)
    facts = store.facts.drafts(since=min(earliest, since))
    return compute_stats(
        enrolments,
        facts,
        store.handoffs.find(since=since),
        config,
        since=since,
        now=now,
    )


def compute_stats(
    enrolments: Sequence[Enrolment],
    drafts: Sequence[DraftFact],
    handoffs: Sequence[Handoff],
    config: CadenceConfig,
    *,
    since: datetime,
    now: datetime,
) -> Stats:
    """The metrics from the stored facts (pure)."""
    step_drafts: dict[tuple[str, str], list[DraftFact]] = {}
    for fact in drafts:
        if parse_trigger(fact.trigger) is not None:
            step_drafts.setdefault((fact.deal_id, fact.contact_id), []).append(fact)
    sent: dict[tuple[str, int], int] = {}
    replies: dict[tuple[str, int], int] = {}
    angles: dict[tuple[str, int], str] = {}
    per_cadence: dict[str, list[Enrolment]] = {}
    for enrolment in enrolments:
        per_cadence.setdefault(enrolment.cadence, []).append(enrolment)
        cadence = config.cadence(enrolment.cadence)
        first = cadence.first_step if cadence else 1
        numbers = set(range(1, first))
        end = enrolment.ended_at or now
        for fact in step_drafts.get((enrolment.deal_id, enrolment.contact_id), []):
            parsed = parse_trigger(fact.trigger)
            assert parsed is not None
            if (
                parsed[0] == enrolment.cadence
                and fact.status == "sent"
                and enrolment.enrolled_at <= fact.created_at <= end
            ):
                numbers.add(parsed[1])
                if fact.angle:
                    angles.setdefault((enrolment.cadence, parsed[1]), fact.angle)
        for number in numbers:
            sent[(enrolment.cadence, number)] = sent.get((enrolment.cadence, number), 0) + 1
        if enrolment.replied_step is not None:
            key = (enrolment.cadence, enrolment.replied_step)
            replies[key] = replies.get(key, 0) + 1
    steps = tuple(
        StepStats(
            name,
            number,
            angles.get((name, number)),
            sent.get((name, number), 0),
            replies.get((name, number), 0),
        )
        for name, number in sorted(sent.keys() | replies.keys())
    )
    cadences = tuple(
        CadenceStats(
            cadence=name,
            enrolled=len(group),
            live=sum(e.live for e in group),
            replied=sum(e.replied_at is not None for e in group),
            positive=sum(e.reply_intent in _POSITIVE for e in group),
            completed=sum(e.end_reason is EndReason.COMPLETED for e in group),
            finished=sum(not e.live for e in group),
            opted_out=sum(e.end_reason is EndReason.OPT_OUT for e in group),
            average_touches_before_reply=_mean(
                e.touches_before_reply for e in group if e.touches_before_reply is not None
            ),
        )
        for name, group in sorted(per_cadence.items())
    )
    reengage_names = {config.enrol.silent, "re_engagement"} - {""}
    reengaged = [e for e in enrolments if e.via == "silent" or e.cadence in reengage_names]
    total = len(enrolments)
    return Stats(
        since=since,
        now=now,
        steps=steps,
        cadences=cadences,
        positive_reply_rate=(
            sum(e.reply_intent in _POSITIVE for e in enrolments) / total if total else None
        ),
        re_engagement_rate=(
            sum(e.replied_at is not None and e.reply_intent != "opt_out" for e in reengaged)
            / len(reengaged)
            if reengaged
            else None
        ),
        average_touches_before_reply=_mean(
            e.touches_before_reply for e in enrolments if e.touches_before_reply is not None
        ),
        drafts=_draft_stats([d for d in drafts if d.created_at >= since]),
        median_minutes_to_decision=_median_minutes([d for d in drafts if d.created_at >= since]),
        handoffs=_handoff_stats(handoffs),
    )


def _group(fact: DraftFact) -> str:
    return fact.rule or fact.trigger


def _draft_stats(drafts: Sequence[DraftFact]) -> tuple[DraftStats, ...]:
    groups: dict[str, list[DraftFact]] = {}
    for fact in drafts:
        groups.setdefault(_group(fact), []).append(fact)
    return tuple(
        DraftStats(
            trigger=name,
            drafted=len(group),
            approved_unchanged=sum(f.approved and not f.edited for f in group),
            approved_edited=sum(f.approved and f.edited for f in group),
            dismissed=sum(f.status == "dismissed" for f in group),
            snoozed=sum(f.status == "snoozed" for f in group),
            withdrawn=sum(f.status == "withdrawn" and not f.approved for f in group),
            pending=sum(f.status == "pending" for f in group),
        )
        for name, group in sorted(groups.items())
    )


def _median_minutes(drafts: Sequence[DraftFact]) -> float | None:
    waits = [
        (f.decided_at - f.created_at).total_seconds() / 60
        for f in drafts
        if f.decided_at is not None
    ]
    return statistics.median(waits) if waits else None


def _handoff_stats(handoffs: Sequence[Handoff]) -> HandoffStats:
    by_category: dict[str, int] = {}
    for handoff in handoffs:
        by_category[handoff.category.value] = by_category.get(handoff.category.value, 0) + 1
    acted = [h for h in handoffs if h.acted_by is not None]
    return HandoffStats(
        total=len(handoffs),
        by_category=dict(sorted(by_category.items())),
        acted=len(acted),
        routed_correctly=sum(bool(h.routed_correctly) for h in acted),
    )
