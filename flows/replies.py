"""What happens to the people's side of a reply, without Slack or with it: the handoffs a
person still has to act on (`followup handoffs`), marking one done (`followup handoffs done`,
the Slack "Done" button), and opt-outs made by a person: who may make one (the deal's owner
or an admin, audited) and who may lift one made by mistake (an admin; never one the prospect
asked for themselves, nor a hard bounce)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flows.cadences import cadence_store, record_handoff_action
from flows.inbound import InboxFinding
from flows.ports import Actor, Services
from flows.review import Decision, Outcome, deal_view, may_act, opt_out
from triggers.drafts import AuditEntry
from triggers.handoff import Handoff
from triggers.model import ContactStatus, DealView

__all__ = [
    "PERSON_SOURCES",
    "HandoffDone",
    "done_handoff",
    "inbox_lines",
    "lift_suppression",
    "list_handoffs",
    "person_opt_out",
]

# Where a suppression a person made comes from (`/followup optout`, `followup optout`): only
# these can be lifted. The prospect's own opt-out (inbox, reply, complaint) and a hard bounce
# never can.
PERSON_SOURCES = frozenset({"slack", "cli"})
OPT_OUT_REFUSAL = (
    "Only the owner of this contact's deal or a followup admin can opt them out; nothing was "
    "changed."
)
LIFT_REFUSAL = "Only a followup admin can lift a suppression; nothing was changed."


def list_handoffs(services: Services, *, include_done: bool = False) -> list[Handoff]:
    """The replies routed to people, the ones nobody acted on yet first, newest first."""
    found = cadence_store(services).handoffs.find()
    if not include_done:
        found = [h for h in found if h.acted_at is None]
    return sorted(found, key=lambda h: (h.acted_at is not None, -h.received_at.timestamp(), -h.id))


@dataclass(frozen=True, slots=True)
class HandoffDone:
    outcome: Outcome
    message: str
    handoff: Handoff | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.DONE


def _may_close(services: Services, actor: Actor, handoff: Handoff, view: DealView | None) -> bool:
    if actor.is_operator or (actor.slack_user_id and actor.slack_user_id == handoff.routed_to):
        return True
    return view is not None and may_act(services, actor, view)


def done_handoff(
    services: Services, handoff_id: int, actor: Actor, now: datetime, *, action: str = "done"
) -> HandoffDone:
    """Record that a person acted on a handoff: the person it was routed to, the deal's owner
    or an admin (anyone else is refused and audited). A second "done" changes nothing."""
    store = cadence_store(services)
    handoff = store.handoffs.get(handoff_id)
    if handoff is None:
        return HandoffDone(Outcome.NOT_FOUND, f"There is no handoff #{handoff_id}.")
    if not _may_close(services, actor, handoff, deal_view(services, handoff.deal_id)):
        services.store.audit.add(
            AuditEntry(now, actor.id, "refused:handoff_done", f"handoff:{handoff_id}", "")
        )
        return HandoffDone(
            Outcome.FORBIDDEN,
            "Only the person it was routed to, the deal's owner or an admin can mark it done.",
            handoff,
        )
    result = record_handoff_action(services, handoff_id, actor, action, now)
    current = store.handoffs.get(handoff_id) or handoff
    if result.outcome is Outcome.ALREADY_DECIDED:
        who = current.acted_by or "someone"
        return HandoffDone(Outcome.ALREADY_DECIDED, f"Already marked {current.action} by {who}.")
    return HandoffDone(result.outcome, f"Handoff #{handoff_id} marked {action}.", current)


def _views_of(services: Services, address: str) -> list[DealView]:
    pipeline = services.store.pipeline.load()
    contacts = {c.id for c in pipeline.contacts if address in c.addresses}
    views = [
        deal_view(services, d.id) for d in pipeline.deals if contacts.intersection(d.contact_ids)
    ]
    return [v for v in views if v is not None]


def _is_admin(services: Services, actor: Actor) -> bool:
    return actor.is_operator or actor.slack_user_id in services.policy.admins


def person_opt_out(
    services: Services,
    address: str,
    actor: Actor,
    now: datetime,
    *,
    source: str,
) -> Decision:
    """A person opts an address out (`/followup optout`, `followup optout`): the owner of a deal
    the address's contact is on, or an admin; anyone else is refused, and the refusal is
    audited like the opt-out itself. An address no contact has is for admins only."""
    address = address.strip().lower()
    views = _views_of(services, address)
    if not (_is_admin(services, actor) or any(may_act(services, actor, v) for v in views)):
        services.store.audit.add(
            AuditEntry(now, actor.id, "refused:opt_out", address, "not the owner or an admin")
        )
        return Decision(Outcome.FORBIDDEN, OPT_OUT_REFUSAL)
    return opt_out(services, address, actor, now, source=source)


def lift_suppression(services: Services, address: str, actor: Actor, now: datetime) -> Decision:
    """An admin lifts a suppression a person made by mistake: the address may be written to
    again, and its contact is active again unless another suppression still covers them.
    Never one the prospect asked for (their reply, a complaint) nor a hard bounce."""
    store = services.store
    value = address.strip().lower()
    if not _is_admin(services, actor):
        store.audit.add(AuditEntry(now, actor.id, "refused:lift_suppression", value, "not admin"))
        return Decision(Outcome.FORBIDDEN, LIFT_REFUSAL)
    found = store.suppressions.get(value)
    if found is None:
        return Decision(Outcome.NOT_FOUND, f"{value} is not suppressed; nothing was changed.")
    if found.reason != "opt_out" or found.source not in PERSON_SOURCES:
        why = (
            "a hard bounce: the mailbox does not exist"
            if found.reason == "hard_bounce"
            else f"{found.reason.replace('_', ' ')} from {found.source}"
        )
        store.audit.add(AuditEntry(now, actor.id, "refused:lift_suppression", value, why))
        return Decision(
            Outcome.FORBIDDEN,
            f"{value} stays suppressed: {why}. Only a suppression a person made by mistake "
            "(/followup optout, followup optout) can be lifted.",
        )
    if not store.suppressions.lift(value):
        return Decision(Outcome.ALREADY_DECIDED, f"{value} was lifted meanwhile.")
    remaining = store.suppressions.values()
    for contact in store.pipeline.load().contacts:
        if value not in contact.addresses or contact.status is not ContactStatus.DO_NOT_CONTACT:
            continue
        if any(a in remaining or a.rpartition("@")[2] in remaining for a in contact.addresses):
            continue
        store.pipeline.set_contact_status(contact.id, ContactStatus.ACTIVE, now)
    detail = f"made {found.created_at:%Y-%m-%d %H:%M} UTC via {found.source}"
    store.audit.add(AuditEntry(now, actor.id, "suppression_lifted", value, detail))
    return Decision(Outcome.DONE, f"{value} may be written to again (lifted by {actor.display}).")


def inbox_lines(services: Services, findings: Sequence[InboxFinding]) -> list[str]:
    """One line per message a cycle read, saying where it ended: with a person (the handoff),
    or the automatic action taken (suppressed, out of office noted, bounce), or why nothing."""
    store = cadence_store(services)
    lines: list[str] = []
    for finding in findings:
        who = finding.sender
        if finding.kind == "reply":
            handed = (
                store.handoffs.find(source_key=finding.source_key) if finding.source_key else []
            )
            if handed:
                h = handed[0]
                head = h.summary.split("\n", 1)[0].split(":", 1)[0] if h.summary else h.sentiment
                route = h.route_label or h.route_target
                line = f"reply from {who}: {head.lower()}, handed to {route} (handoff #{h.id})"
            elif services.store.suppressions.is_suppressed(who):
                line = f"reply from {who}: read as an opt-out; suppressed"
            else:
                line = (
                    f"reply from {who}: recorded on the deal, no handoff: its cadence asked the "
                    "owner (`followup questions`), it paused the deal, or it was answered already"
                )
        elif finding.kind in ("opt_out", "complaint"):
            what = "opt-out" if finding.kind == "opt_out" else "spam complaint"
            line = f"{what} from {who}: suppressed, will not be written to again"
        elif finding.kind == "auto_reply":
            line = f"out-of-office from {who}: noted on the deal"
        elif finding.kind == "bounce":
            line = f"bounce ({finding.subject or 'no subject'}): see `followup suppress`"
        elif finding.kind == "sent":
            line = f"mail you sent by hand ({finding.subject or 'no subject'}): a touch"
        elif finding.kind == "unmatched":
            line = f"from {who}: matches no deal; left alone"
        elif finding.kind == "failed":
            line = f"message {who}: could not be read (see the audit log)"
        else:
            continue  # already recorded, or followup's own copy
        lines.append(line)
    return lines
