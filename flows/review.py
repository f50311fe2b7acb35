"""Review decisions: approve, edit, dismiss, snooze, pause, resume, opt-out.

Every decision is a conditional update in storage, so a double click, a Slack retry or two
reviewers at once change a draft at most once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from flows import outgoing
from flows.ports import Actor, Services
from observe.faults import crash_point
from prompts.base import DraftContext
from storage.repos import OutgoingRow
from triggers.drafts import AuditEntry, Draft, DraftStatus, OutboxStatus, Pause
from triggers.model import (
    Activity,
    ActivityKind,
    ContactStatus,
    DealStatus,
    DealView,
    Direction,
)
from triggers.windows import next_send_time, recipient_zone

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    DONE = "done"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    ALREADY_DECIDED = "already_decided"  # someone (or a retry) got there first
    INVALID = "invalid"
    GUARDRAILS = "guardrails"  # a person's edit failed the guardrails; "Send anyway" overrides


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    message: str
    draft: Draft | None = None
    send_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.DONE


DISMISS_REASONS = {
    "not_now": "not now",
    "deprioritize": "deprioritize this deal",
    "wrong_moment": "wrong moment",
    "other": "other",
}


def deal_view(services: Services, deal_id: str) -> DealView | None:
    return services.store.pipeline.deal_view(deal_id)


def may_act(services: Services, actor: Actor, view: DealView) -> bool:
    """The deal's owner and the configured admins may act; the CLI operator always may."""
    if actor.is_operator:
        return True
    if actor.slack_user_id in services.policy.admins:
        return True
    return view.owner is not None and view.owner.slack_user_id == actor.slack_user_id


def _refuse(services: Services, actor: Actor, action: str, subject: str, now: datetime) -> Decision:
    log.info("refused %s on %s for %s: not an approver", action, subject, actor.id)
    services.store.audit.add(
        AuditEntry(now, actor.id, f"refused:{action}", subject, "not an approver")
    )
    return Decision(
        Outcome.FORBIDDEN,
        "Only the deal's owner or a followup admin can do that; nothing was changed.",
    )


def _load(services: Services, draft_id: int) -> tuple[Draft, DealView] | Decision:
    draft = services.store.drafts.get(draft_id)
    if draft is None:
        return Decision(Outcome.NOT_FOUND, f"There is no draft #{draft_id}.")
    view = deal_view(services, draft.deal_id)
    if view is None:
        return Decision(
            Outcome.NOT_FOUND, f"Draft #{draft_id}'s deal is no longer in the pipeline."
        )
    return draft, view


def _load_for(
    services: Services, draft_id: int, actor: Actor, action: str, now: datetime
) -> tuple[Draft, DealView] | Decision:
    """The draft and its deal, if `actor` may take `action` on it."""
    loaded = _load(services, draft_id)
    if isinstance(loaded, Decision):
        return loaded
    if not may_act(services, actor, loaded[1]):
        return _refuse(services, actor, action, f"draft:{draft_id}", now)
    return loaded


def _move_pending(
    services: Services,
    draft: Draft,
    to: DraftStatus,
    actor: Actor,
    now: datetime,
    *,
    note: str | None = None,
    expected_version: int | None = None,
) -> Draft | Decision:
    """Move a pending draft on, or say why it could not be (decided or edited meanwhile)."""
    moved = services.store.drafts.transition(
        draft.id,
        to,
        actor=actor.id,
        now=now,
        note=note,
        expected_version=expected_version,
        allowed_from=[DraftStatus.PENDING],
    )
    if moved is not None:
        return moved
    current = services.store.drafts.get(draft.id)
    assert current is not None
    if current.status is DraftStatus.PENDING:
        return Decision(
            Outcome.ALREADY_DECIDED,
            "This draft was edited meanwhile; review the new version.",
            current,
        )
    return _already(current)


def _already(draft: Draft) -> Decision:
    who = f" by {draft.decided_by}" if draft.decided_by else ""
    return Decision(
        Outcome.ALREADY_DECIDED,
        f"Draft #{draft.id} was already {draft.status.value}{who}; nothing was changed.",
        draft,
    )


def threaded_subject(draft: Draft, thread_subject: str | None) -> str:
    """Kept for callers of older versions; see flows.outgoing.threaded_subject."""
    return outgoing.threaded_subject(draft, thread_subject)


def approve(
    services: Services,
    draft_id: int,
    actor: Actor,
    now: datetime,
    *,
    expected_version: int | None = None,
) -> Decision:
    """Approve a pending draft: it goes to the outbox, to leave at the next instant inside the
    contact's send window (within seconds when the window is open), after any pause, snooze
    or out-of-office return date. The approval and its outbox row are one transaction."""
    loaded = _load_for(services, draft_id, actor, "approve", now)
    if isinstance(loaded, Decision):
        return loaded
    draft, view = loaded
    if draft.status is not DraftStatus.PENDING:
        return _already(draft)
    if expected_version is not None and draft.version != expected_version:
        return Decision(
            Outcome.ALREADY_DECIDED,
            "This draft was edited meanwhile; review the new version.",
            draft,
        )
    plan = outgoing.plan_message(services, draft, view, now)
    if plan.hold is not None and plan.hold.until is None:
        return Decision(
            Outcome.INVALID, f"Not approved: the {plan.hold.reason}; resume it first.", draft
        )
    message = OutgoingRow(
        message_id=outgoing.message_id(services, view),
        from_address=plan.from_address,
        to_address=plan.to_address,
        subject=plan.subject,
        body=plan.body,
        in_reply_to=plan.in_reply_to,
        references=plan.references,
        send_at=plan.send_at,
    )
    audit = AuditEntry(
        now, actor.id, "approve", f"draft:{draft_id}", f"send_at={plan.send_at:%Y-%m-%dT%H:%MZ}"
    )
    approved = services.store.outbox.approve(
        draft.id, message, version=draft.version, actor=actor.id, now=now, audit=audit
    )
    if approved is None:
        current = services.store.drafts.get(draft.id)
        assert current is not None
        if current.status is DraftStatus.PENDING and current.version == draft.version:
            return Decision(
                Outcome.INVALID,
                f"Draft #{draft_id}'s message could not be queued (the outbox already holds "
                "one for it); nothing was approved.",
                current,
            )
        if current.status is DraftStatus.PENDING:
            return Decision(
                Outcome.ALREADY_DECIDED,
                "This draft was edited meanwhile; review the new version.",
                current,
            )
        return _already(current)
    crash_point("approved")
    return Decision(Outcome.DONE, f"Approved; arrives {plan.arrival}.", approved, plan.send_at)


def cancel(services: Services, draft_id: int, actor: Actor, now: datetime) -> Decision:
    """Stop an approved message that has not left: its outbox row is cancelled and the draft
    withdrawn, in one transaction. Refused once a worker is handing it to the mailbox."""
    loaded = _load_for(services, draft_id, actor, "cancel", now)
    if isinstance(loaded, Decision):
        return loaded
    draft, view = loaded
    if draft.status is not DraftStatus.APPROVED:
        if draft.status is DraftStatus.PENDING:
            return Decision(
                Outcome.INVALID,
                f"Draft #{draft_id} is not approved yet; dismiss it instead "
                f"(`followup dismiss {draft_id} --reason other`).",
                draft,
            )
        return _already(draft)
    store = services.store
    row = store.outbox.for_draft(draft_id)
    who = actor.display or actor.id
    note = f"cancelled by {who} before sending"
    audit = AuditEntry(now, actor.id, "cancel", f"draft:{draft_id}")
    if row is None:
        cancelled = store.drafts.transition(
            draft_id, DraftStatus.WITHDRAWN, actor=actor.id, now=now, note=note
        )
        store.audit.add(audit)
    elif row.status is OutboxStatus.SENDING:
        return Decision(
            Outcome.ALREADY_DECIDED,
            f"Draft #{draft_id} is being sent right now; it can no longer be stopped.",
            draft,
        )
    else:
        cancelled = store.outbox.close(
            row,
            OutboxStatus.CANCELLED,
            owner=None,
            now=now,
            error=note,
            draft_to=DraftStatus.WITHDRAWN,
            actor=actor.id,
            note=note,
            audit=audit,
        )
    if cancelled is None or cancelled.status is not DraftStatus.WITHDRAWN:
        current = store.drafts.get(draft_id)
        assert current is not None
        if current.status is DraftStatus.SENT:
            return Decision(
                Outcome.ALREADY_DECIDED, f"Draft #{draft_id} was already sent.", current
            )
        return _already(current)
    services.review.update(cancelled, view, f"Cancelled by {who}; not sent")
    return Decision(Outcome.DONE, f"Cancelled draft #{draft_id}; it will not be sent.", cancelled)


def resend(services: Services, draft_id: int, actor: Actor, now: datetime) -> Decision:
    """A person's answer to "may already have been sent: resend?": send it (again) now."""
    loaded = _load_for(services, draft_id, actor, "resend", now)
    if isinstance(loaded, Decision):
        return loaded
    draft, view = loaded
    row = services.store.outbox.resend(draft_id, actor=actor.id, now=now)
    if row is None:
        current = services.store.outbox.for_draft(draft_id)
        state = current.status.value if current else "not queued"
        return Decision(
            Outcome.INVALID,
            f"Draft #{draft_id} is not waiting for a resend decision (its message is {state}).",
            draft,
        )
    services.review.update(draft, view, "Resending, as you decided")
    return Decision(Outcome.DONE, f"Draft #{draft_id} will be sent again now.", draft, now)


def dismiss(
    services: Services, draft_id: int, actor: Actor, now: datetime, reason: str
) -> Decision:
    if reason not in DISMISS_REASONS:
        return Decision(
            Outcome.INVALID, f"Unknown reason {reason!r}; use one of: {', '.join(DISMISS_REASONS)}."
        )
    loaded = _load_for(services, draft_id, actor, "dismiss", now)
    if isinstance(loaded, Decision):
        return loaded
    draft, view = loaded
    dismissed = _move_pending(services, draft, DraftStatus.DISMISSED, actor, now, note=reason)
    if isinstance(dismissed, Decision):
        return dismissed
    if reason == "deprioritize":
        services.store.pipeline.set_deal_status(draft.deal_id, DealStatus.DEPRIORITIZED, now)
    services.store.audit.add(AuditEntry(now, actor.id, "dismiss", f"draft:{draft_id}", reason))
    services.review.update(dismissed, view, f"Dismissed ({DISMISS_REASONS[reason]})")
    return Decision(
        Outcome.DONE, f"Dismissed draft #{draft_id} ({DISMISS_REASONS[reason]}).", dismissed
    )


def edit(
    services: Services,
    draft_id: int,
    actor: Actor,
    now: datetime,
    *,
    subject: str,
    body: str,
    expected_version: int,
    send_anyway: bool = False,
) -> Decision:
    """Save a person's edit. It passes the same guardrails as a draft: a failure is refused
    with the reasons (outcome GUARDRAILS), unless the editor chose "Send anyway", which is
    recorded in the audit log with what failed."""
    if not subject.strip() or not body.strip():
        return Decision(Outcome.INVALID, "Subject and body must not be empty.")
    if "\n" in subject or "\r" in subject:
        return Decision(Outcome.INVALID, "The subject must be one line.")
    loaded = _load_for(services, draft_id, actor, "edit", now)
    if isinstance(loaded, Decision):
        return loaded
    draft, view = loaded
    failures = edit_failures(services, draft, view, subject.strip(), body.rstrip(), now)
    if failures and not send_anyway:
        return Decision(
            Outcome.GUARDRAILS,
            "This edit does not pass the guardrails: " + "; ".join(failures) + ". Fix it, or "
            "choose Send anyway (recorded in the audit log).",
            draft,
        )
    if failures:
        services.store.audit.add(
            AuditEntry(
                now, actor.id, "guardrails_overridden", f"draft:{draft_id}", "; ".join(failures)
            )
        )
    edited = services.store.drafts.edit(
        draft.id,
        subject=subject.strip(),
        body=body.rstrip(),
        expected_version=expected_version,
        actor=actor.id,
        now=now,
    )
    if edited is None:
        current = services.store.drafts.get(draft_id)
        assert current is not None
        if current.status is DraftStatus.PENDING:
            return Decision(
                Outcome.ALREADY_DECIDED, "Someone edited this draft meanwhile; reopen it.", current
            )
        return _already(current)
    return Decision(Outcome.DONE, "Saved.", edited)


def edit_failures(
    services: Services, draft: Draft, view: DealView, subject: str, body: str, now: datetime
) -> tuple[str, ...]:
    """What the guardrails find in a person's version of `draft` (() when none are wired)."""
    guardrails = services.guardrails
    contact = next((c for c in view.contacts if c.id == draft.contact_id), None)
    if guardrails is None or contact is None:
        return ()
    policy = services.policy
    context = DraftContext(
        view=view,
        contact=contact,
        rule=draft.rule,
        angle=draft.angle,
        reason=draft.reason,
        evidence=draft.evidence,
        now=now,
        voice=policy.voice_for(view.deal.owner_id),
        competitors=policy.competitors,
    )
    trusted = (draft.original_subject, draft.original_body)
    return guardrails.check(context, subject, body, trusted=trusted)


def pause(
    services: Services,
    deal_id: str,
    actor: Actor,
    now: datetime,
    *,
    until: datetime | None,
    reason: str = "paused",
) -> Decision:
    view = deal_view(services, deal_id)
    if view is None:
        return Decision(Outcome.NOT_FOUND, f"There is no deal {deal_id!r}.")
    if not may_act(services, actor, view):
        return _refuse(services, actor, "pause", f"deal:{deal_id}", now)
    services.store.pauses.set(Pause(deal_id, until, reason, actor.id, now))
    for draft in services.store.drafts.find(statuses=[DraftStatus.PENDING], deal_id=deal_id):
        withdrawn = services.store.drafts.transition(
            draft.id, DraftStatus.WITHDRAWN, actor=actor.id, now=now, note=f"deal {reason}"
        )
        if withdrawn is not None:
            services.review.update(withdrawn, view, f"Withdrawn: deal {reason}")
    for draft in services.store.drafts.find(statuses=[DraftStatus.APPROVED], deal_id=deal_id):
        hold_or_withdraw(services, draft, view, actor, now, until=until, reason=f"deal {reason}")
    services.store.audit.add(
        AuditEntry(now, actor.id, reason, f"deal:{deal_id}", str(until or "indefinitely"))
    )
    when = f"until {until:%a %d %b %Y}" if until else "until resumed"
    return Decision(Outcome.DONE, f"{view.deal.title} is {reason} {when}.")


def hold_or_withdraw(
    services: Services,
    draft: Draft,
    view: DealView,
    actor: Actor,
    now: datetime,
    *,
    until: datetime | None,
    reason: str,
) -> None:
    """An approved message not yet sent, when its deal is paused, snoozed, deprioritized or
    closed: held until `until` (the next send-window slot after it), or withdrawn when there
    is no end (`until` None). Its Slack message says which."""
    store = services.store
    row = store.outbox.for_draft(draft.id)
    if row is None or row.status not in (OutboxStatus.QUEUED, OutboxStatus.HELD):
        return  # being sent this instant, or already done: the send-time check has the last word
    if until is None:
        withdrawn = store.outbox.close(
            row,
            OutboxStatus.CANCELLED,
            owner=None,
            now=now,
            error=reason,
            draft_to=DraftStatus.WITHDRAWN,
            actor=actor.id,
            note=reason,
            audit=AuditEntry(now, actor.id, "withdraw_approved", f"draft:{draft.id}", reason),
        )
        if withdrawn is not None and withdrawn.status is DraftStatus.WITHDRAWN:
            services.review.update(withdrawn, view, f"Withdrawn before sending: {reason}")
        return
    contact = next((c for c in view.contacts if c.id == draft.contact_id), None)
    window = services.policy.evaluation.send_window
    zone = recipient_zone(contact, view.owner, window)
    send_at = next_send_time(max(until, row.send_at, now), zone, window, view.deal.owner_id)
    if row.status is OutboxStatus.QUEUED and store.outbox.reschedule(
        draft.id, send_at, reason=reason
    ):
        store.audit.add(
            AuditEntry(now, actor.id, "hold", f"draft:{draft.id}", f"{reason}; send_at={send_at}")
        )
        services.review.update(
            draft,
            view,
            f"Held: {reason} until {until:%a %d %b}; now arrives {send_at:%a %d %b %H:%M} UTC",
        )


def snooze(
    services: Services, draft_id: int, actor: Actor, now: datetime, duration: timedelta
) -> Decision:
    loaded = _load_for(services, draft_id, actor, "snooze", now)
    if isinstance(loaded, Decision):
        return loaded
    draft, view = loaded
    snoozed = _move_pending(
        services, draft, DraftStatus.SNOOZED, actor, now, note=f"for {duration}"
    )
    if isinstance(snoozed, Decision):
        return snoozed
    until = now + duration
    services.store.pauses.set(Pause(draft.deal_id, until, "snoozed", actor.id, now))
    services.review.update(snoozed, view, f"Snoozed until {until:%a %d %b}")
    return Decision(Outcome.DONE, f"Snoozed until {until:%a %d %b %H:%M} UTC.", snoozed)


def resume(services: Services, deal_id: str, actor: Actor, now: datetime) -> Decision:
    view = deal_view(services, deal_id)
    if view is None:
        return Decision(Outcome.NOT_FOUND, f"There is no deal {deal_id!r}.")
    if not may_act(services, actor, view):
        return _refuse(services, actor, "resume", f"deal:{deal_id}", now)
    if not services.store.pauses.clear(deal_id):
        return Decision(Outcome.INVALID, f"{view.deal.title} was not paused.")
    services.store.audit.add(AuditEntry(now, actor.id, "resume", f"deal:{deal_id}"))
    return Decision(Outcome.DONE, f"{view.deal.title} is watched again.")


def opt_out(
    services: Services, address: str, actor: Actor, now: datetime, *, source: str = "followup"
) -> Decision:
    """Suppress an address at once: its contact becomes do-not-contact, open drafts to it are
    withdrawn, and queued messages to it are cancelled."""
    address = address.strip().lower()
    if "@" not in address:
        return Decision(Outcome.INVALID, f"{address!r} is not an email address.")
    store = services.store
    store.suppressions.add(address, reason="opt_out", now=now, source=source)
    pipeline = store.pipeline.load()
    for contact in pipeline.contacts:
        if address in contact.addresses and contact.status is ContactStatus.ACTIVE:
            store.pipeline.set_contact_status(contact.id, ContactStatus.DO_NOT_CONTACT, now)
            services.crm.mark_do_not_contact(contact.id)
    for draft in store.drafts.find(statuses=[DraftStatus.PENDING, DraftStatus.APPROVED]):
        if draft.to_address.lower() != address:
            continue
        store.outbox.cancel_for_draft(draft.id)
        withdrawn = store.drafts.transition(
            draft.id, DraftStatus.WITHDRAWN, actor=actor.id, now=now, note="opted out"
        )
        if withdrawn is not None:
            services.review.update(
                withdrawn, deal_view(services, draft.deal_id), "Withdrawn: contact opted out"
            )
    store.audit.add(AuditEntry(now, actor.id, "opt_out", address, source))
    return Decision(Outcome.DONE, f"{address} will not be written to again.")


def sent_activity(
    draft: Draft,
    message_id: str,
    in_reply_to: str | None,
    at: datetime,
    from_address: str,
    *,
    subject: str | None = None,
    body: str | None = None,
) -> Activity:
    """A sent draft is a touch: the email-out activity the rules will see."""
    return Activity(
        id=f"followup-sent-{draft.id}",
        deal_id=draft.deal_id,
        kind=ActivityKind.EMAIL,
        at=at,
        contact_id=draft.contact_id,
        direction=Direction.OUT,
        subject=draft.subject if subject is None else subject,
        body=draft.body if body is None else body,
        message_id=message_id,
        in_reply_to=in_reply_to,
        from_address=from_address,
        to_addresses=(draft.to_address,),
    )
