"""Bolt listeners: ack, decode, one flow call, render.

Every handler acknowledges first (Slack allows 3 s), except the Edit modal's submission,
which must answer with its errors, and does so after one fast storage decision. Work that
talks to Slack afterwards (message updates, App Home) is queued on the review surface, and
`/followup` runs as a lazy listener answering through `response_url`, so no request waits
on Slack. Double clicks and Slack's retries are harmless: every decision is a conditional
update in storage, and a loser is shown the state the winner left.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from slack_bolt import Ack, App

from bot import render
from bot.gateway import GatewayError, SlackGateway
from bot.ids import COMMAND, Action, Block, Input, More, View
from bot.refs import DismissRef, DraftRef, MoreRef, PickRef, RefError
from bot.stats_blocks import stats_reply
from bot.surface import SlackReviewSurface
from bot.traffic import GIVE_WAY, DecisionQueue, Traffic
from flows.commands import (
    cadence_names,
    deprioritize_deal,
    enroll_deal,
    explain,
    find_deals,
    find_enrolment,
    latest_draft,
    owner_queue,
    pause_until_day,
    pending_draft,
    refuse_unless_approver,
    snooze_deal,
    stats_report,
)
from flows.ports import Actor, Services
from flows.replies import lift_suppression, person_opt_out
from flows.review import (
    Decision,
    Outcome,
    approve,
    cancel,
    deal_view,
    dismiss,
    edit,
    may_act,
    pause,
    resend,
    resume,
    snooze,
)
from triggers.command import STATS_DAYS, Command, CommandError, Verb, help_text, parse_command
from triggers.drafts import AuditEntry, Draft, DraftStatus
from triggers.model import DealStatus, DealView

_ButtonRef = TypeVar("_ButtonRef", DraftRef, DismissRef, MoreRef)

log = logging.getLogger(__name__)

Body = Mapping[str, Any]

SNOOZES = {
    More.SNOOZE_1D: timedelta(days=1),
    More.SNOOZE_3D: timedelta(days=3),
    More.SNOOZE_1W: timedelta(weeks=1),
}
STATS_REFUSAL = "Only followup admins and people who own deals can see the stats."
EDIT_GIVE_WAY = 0.25  # seconds; the Edit modal must open within 3 s of the click
STALE_BUTTON = "That button belongs to an older message; nothing was changed."
_STATUS_WORDS = {
    DraftStatus.APPROVED: "approved",
    DraftStatus.SENT: "sent",
    DraftStatus.DISMISSED: "dismissed",
    DraftStatus.SNOOZED: "snoozed",
    DraftStatus.WITHDRAWN: "withdrawn",
    DraftStatus.FAILED: "not sent",
}


def _now() -> datetime:
    return datetime.now(UTC)


def _report_failure(future: Future[None]) -> None:
    error = future.exception()
    if error is not None:
        log.error("a Slack decision failed", exc_info=error)


# --------------------------------------------------------------------------- decoding


def actor_of(body: Body) -> Actor:
    user = body.get("user") or {}
    user_id = str(user.get("id") or body.get("user_id") or "")
    name = str(user.get("username") or user.get("name") or body.get("user_name") or "")
    return Actor.slack(user_id, name)


def action_value(body: Body) -> str:
    actions = body.get("actions") or [{}]
    action = actions[0] or {}
    selected = action.get("selected_option") or {}
    return str(selected.get("value") or action.get("value") or "")


def view_inputs(view: Mapping[str, Any]) -> tuple[str, str]:
    """Subject and body as typed in the Edit modal (the body may span several boxes)."""
    values = (view.get("state") or {}).get("values") or {}

    def read(block_id: str) -> str | None:
        field = (values.get(block_id) or {}).get(
            Input.SUBJECT if block_id == Block.DRAFT_SUBJECT else Input.BODY
        )
        value = (field or {}).get("value")
        return value if isinstance(value, str) else None

    subject = read(Block.DRAFT_SUBJECT) or ""
    parts = [read(render.body_block_id(i)) for i in range(render.BODY_PARTS_MAX)]
    body = "\n\n".join(p.strip("\n") for p in parts if p and p.strip())
    return subject, body


def send_anyway_chosen(view: Mapping[str, Any]) -> bool:
    """Whether the editor ticked "Send anyway" (shown after an edit failed the guardrails)."""
    values = (view.get("state") or {}).get("values") or {}
    field = (values.get(Block.DRAFT_OVERRIDE) or {}).get(Input.OVERRIDE) or {}
    chosen = field.get("selected_options") or []
    return any(isinstance(o, dict) and o.get("value") == render.SEND_ANYWAY for o in chosen)


def from_home(body: Body) -> bool:
    view = body.get("view") or {}
    return (body.get("container") or {}).get("type") == "view" and view.get("type") == "home"


# --------------------------------------------------------------------------- listeners


class Listeners:
    """The handlers, bound to the services, the gateway and the review surface."""

    def __init__(
        self,
        services: Services,
        gateway: SlackGateway,
        surface: SlackReviewSurface,
        clock: Callable[[], datetime] = _now,
        decisions: int = 1,
        wait: bool = True,
        traffic: Traffic | None = None,
    ) -> None:
        self.services = services
        self.gateway = gateway
        self.surface = surface
        self.clock = clock
        # After its ack, a handler hands its decision to this queue, which gives way to the
        # requests in flight (bot.traffic): a burst of clicks is acknowledged first, then
        # decided. With `wait` (the tests) the handler returns only once its decision is made.
        traffic = traffic or Traffic()
        self.decisions = DecisionQueue(traffic, workers=decisions)
        # Edit modals open from their own worker: behind a slow decision (a 429's Retry-After,
        # a long stats report) one would miss its trigger_id's 3 s. It still lets a burst's
        # acks go first, briefly: rendering one inline slows every ack in flight (one GIL).
        self.modals = DecisionQueue(traffic, workers=1)
        # Work a response waits for runs in its request's thread, one piece at a time: under
        # one GIL, and with SQLite's one writer, twenty deciding at once each wait on all.
        self._inline = threading.Lock()
        self.wait = wait

    def decide(
        self,
        work: Callable[[], None],
        *,
        wait: bool | None = None,
        give_way: float = GIVE_WAY,
        queue: DecisionQueue | None = None,
    ) -> None:
        """Hand `work` to a queue (the decisions' by default) and return at once; or, when
        the response waits for it (`wait`), run it here, in the request's own thread: queued,
        it could sit behind a slow decision (a 429's Retry-After, a long stats report) past
        Slack's 3 s."""
        if self.wait if wait is None else wait:
            with self._inline:
                work()
            return
        queue = queue or self.decisions
        queue.submit(work, give_way=give_way).add_done_callback(_report_failure)

    def close(self) -> None:
        """Finish the decisions already handed over."""
        self.modals.shutdown()
        self.decisions.shutdown()

    # ------------------------------------------------------------------ helpers

    def tell(self, body: Body, text: str) -> None:
        """An ephemeral note to whoever acted, wherever they acted. `text` is plain text (it
        may quote a deal's title): it is escaped here."""
        text = render.escape(text)
        user = actor_of(body).slack_user_id or ""
        container = body.get("container") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        try:
            if container.get("type") == "message" and channel and not container.get("is_ephemeral"):
                self.gateway.post_ephemeral(str(channel), user, text)
            elif body.get("response_url"):
                self.gateway.respond(
                    str(body["response_url"]),
                    {"response_type": "ephemeral", "replace_original": False, "text": text},
                )
            elif body.get("trigger_id"):
                self.gateway.open_view(
                    str(body["trigger_id"]), render.notice_modal("followup", text)
                )
        except GatewayError as error:
            log.warning("could not tell %s %r: %s", user, text, error)

    def acting_on(self, actor: Actor, deal_id: str) -> Services:
        """`acting` for a deal; the deal is read only when the bridge could apply."""
        if not self.surface.directory.matched_by_email(actor.slack_user_id):
            return self.services
        return self.acting(actor, deal_view(self.services, deal_id))

    def acting_on_address(self, actor: Actor, address: str) -> Services:
        """`acting` for the first deal of the contact with this address (an owner known to
        Slack only by email may opt out their own contact)."""
        pipeline = self.services.store.pipeline.load()
        address = address.strip().lower()
        contacts = {c.id for c in pipeline.contacts if address in c.addresses}
        for deal in pipeline.deals:
            if contacts.intersection(deal.contact_ids):
                acting = self.acting(actor, deal_view(self.services, deal.id))
                if acting is not self.services:
                    return acting
        return self.services

    def acting(self, actor: Actor, view: DealView | None) -> Services:
        """The services to decide with. A deal owner known to Slack only by email (no
        `slack_user_id` in the CRM) is an approver of their own deals: for this one call the
        policy counts them among the admins. Everyone else gets the services as they are."""
        services = self.services
        if view is None or view.owner is None or view.owner.slack_user_id:
            return services
        if may_act(services, actor, view) or not actor.slack_user_id:
            return services
        if self.surface.directory.slack_id(view.owner) != actor.slack_user_id:
            return services
        policy = replace(services.policy, admins=services.policy.admins | {actor.slack_user_id})
        return replace(services, policy=policy)

    def load(self, draft_id: int) -> tuple[Draft, DealView | None] | None:
        draft = self.services.store.drafts.get(draft_id)
        if draft is None:
            return None
        return draft, deal_view(self.services, draft.deal_id)

    def button_ref(self, body: Body, kind: type[_ButtonRef]) -> _ButtonRef | None:
        """The ref in a clicked button's value; a stale or foreign one is answered here."""
        try:
            return kind.decode(action_value(body))
        except RefError:
            self.tell(body, STALE_BUTTON)
            return None

    def draft(self, body: Body, draft_id: int) -> Draft | None:
        found = self.services.store.drafts.get(draft_id)
        if found is None:
            self.tell(body, f"There is no draft #{draft_id} any more.")
        return found

    def who(self, actor_id: str | None, me: Actor) -> str:
        if actor_id == me.id:
            return "by you"
        user = render.slack_user_of(actor_id)
        if user:
            try:
                name = self.gateway.user_name(user)
            except GatewayError:
                name = None
            return f"by @{name}" if name else "by another reviewer"
        if actor_id and actor_id.startswith("cli:"):
            return "from the command line"
        return "by followup"

    def already(self, draft: Draft, actor: Actor) -> str:
        """Plain text: what happened to a draft someone else (or a retry) decided first."""
        unchanged = "nothing was changed."
        if draft.status is DraftStatus.PENDING:
            return "This draft was edited meanwhile; review the new version."
        if draft.status is DraftStatus.WITHDRAWN:
            return f"This draft was withdrawn ({draft.decision_note or 'obsolete'}); {unchanged}"
        if draft.status is DraftStatus.FAILED:
            return f"This draft was not sent ({draft.decision_note or 'failed'}); {unchanged}"
        by = self.who(draft.decided_by, actor)
        if draft.status is DraftStatus.SENT:
            return f"This draft was already sent (approved {by}); {unchanged}"
        word = _STATUS_WORDS.get(draft.status, draft.status.value)
        return f"This draft was already {word} {by}; {unchanged}"

    def settle(self, body: Body, decision: Decision, actor: Actor, outcome: str) -> None:
        """After a draft decision: the message follows, and the actor hears what they need to."""
        draft = decision.draft
        if decision.ok and draft is not None:
            self.surface.update(draft, None, outcome)  # the surface reads the deal itself
        elif decision.outcome is Outcome.ALREADY_DECIDED and draft is not None:
            self.surface.resync(draft.id)
            # A double click or a retry by the same person is answered by the message itself.
            if draft.status is DraftStatus.PENDING or draft.decided_by != actor.id:
                self.tell(body, self.already(draft, actor))
        else:
            self.tell(body, decision.message)
        if from_home(body) and actor.slack_user_id:
            self.surface.refresh_home(actor.slack_user_id)

    # ------------------------------------------------------------------ draft actions

    def on_approve(self, ack: Ack, body: Body) -> None:
        self.durably("approve", ack, body)

    def _approve(self, body: Body) -> None:
        actor = actor_of(body)
        ref = self.button_ref(body, DraftRef)
        if ref is None:
            return
        draft = self.draft(body, ref.draft_id)
        if draft is None:
            return
        decision = approve(
            self.acting_on(actor, draft.deal_id),
            ref.draft_id,
            actor,
            self.clock(),
            expected_version=ref.version,
        )
        self.settle(body, decision, actor, "Approved")

    def on_dismiss(self, ack: Ack, body: Body) -> None:
        self.durably("dismiss", ack, body)

    def _dismiss(self, body: Body) -> None:
        actor = actor_of(body)
        ref = self.button_ref(body, DismissRef)
        if ref is None:
            return
        draft = self.draft(body, ref.draft_id)
        if draft is None:
            return
        # They dismiss what they saw; an edit since does not change that intent, so the
        # version is not checked. flows.review.dismiss updates the message itself.
        services = self.acting_on(actor, draft.deal_id)
        decision = dismiss(services, ref.draft_id, actor, self.clock(), ref.reason)
        if decision.ok:
            if from_home(body) and actor.slack_user_id:
                self.surface.refresh_home(actor.slack_user_id)
            return
        self.settle(body, decision, actor, "Dismissed")

    def on_more(self, ack: Ack, body: Body) -> None:
        self.durably("more", ack, body)

    def _more(self, body: Body) -> None:
        actor = actor_of(body)
        ref = self.button_ref(body, MoreRef)
        if ref is None:
            return
        if ref.choice is More.OPEN_CRM:
            return  # Slack opened the link; nothing to decide
        draft = self.draft(body, ref.draft_id)
        if draft is None:
            return
        services = self.acting_on(actor, draft.deal_id)
        now = self.clock()
        if ref.choice in SNOOZES:
            decision = snooze(services, ref.draft_id, actor, now, SNOOZES[ref.choice])
            if not decision.ok:
                self.settle(body, decision, actor, "Snoozed")
            elif from_home(body) and actor.slack_user_id:
                self.surface.refresh_home(actor.slack_user_id)
            return
        decision = pause(services, draft.deal_id, actor, now, until=None)
        if decision.ok:
            view = deal_view(self.services, draft.deal_id)
            title = view.deal.title if view is not None else draft.deal_id
            self.tell(
                body,
                f"Paused {title}: no drafts until you resume it with /followup resume {title}.",
            )
            if from_home(body) and actor.slack_user_id:
                self.surface.refresh_home(actor.slack_user_id)
        else:
            self.tell(body, decision.message)

    def on_cancel(self, ack: Ack, body: Body) -> None:
        self.durably("cancel", ack, body)

    def _cancel(self, body: Body) -> None:
        actor = actor_of(body)
        ref = self.button_ref(body, DraftRef)
        if ref is None:
            return
        draft = self.draft(body, ref.draft_id)
        if draft is None:
            return
        services = self.acting_on(actor, draft.deal_id)
        decision = cancel(services, ref.draft_id, actor, self.clock())
        if not decision.ok:
            self.surface.resync(ref.draft_id)
            self.tell(body, decision.message)
        elif from_home(body) and actor.slack_user_id:
            self.surface.refresh_home(actor.slack_user_id)

    def on_resend(self, ack: Ack, body: Body) -> None:
        self.durably("resend", ack, body)

    def _resend(self, body: Body) -> None:
        actor = actor_of(body)
        ref = self.button_ref(body, DraftRef)
        if ref is None:
            return
        draft = self.draft(body, ref.draft_id)
        if draft is None:
            return
        services = self.acting_on(actor, draft.deal_id)
        decision = resend(services, ref.draft_id, actor, self.clock())
        if not decision.ok:
            self.surface.resync(ref.draft_id)
            self.tell(body, decision.message)

    # ------------------------------------------------------------------ durable clicks

    def _handlers(self) -> dict[str, Callable[[Body], None]]:
        return {
            "approve": self._approve,
            "dismiss": self._dismiss,
            "more": self._more,
            "cancel": self._cancel,
            "resend": self._resend,
        }

    def durably(self, kind: str, ack: Ack, body: Body) -> None:
        """Acknowledge a click and have it decided. When the decision comes after the ack (the
        decision queue), the click is stored first, so a process killed between the two
        decides it at its next start (`drain_clicks`); when the response waits for the
        decision, the decision itself is durable before Slack hears anything."""
        handler = self._handlers()[kind]
        if self.wait:
            ack()
            self.decide(lambda: handler(body))
            return
        clicks = self.services.store.clicks
        click_id = clicks.add(kind, json.dumps(body, default=str), now=self.clock())
        ack()

        def work() -> None:
            handler(body)
            clicks.done(click_id, now=self.clock())

        self.decide(work)

    def drain_clicks(self, *, received_before: datetime | None = None) -> int:
        """Decide the clicks acknowledged but not decided before this process started (it
        was killed). Each decision is a conditional update, so one decided twice (by another
        process still running) changes nothing the second time."""
        clicks = self.services.store.clicks
        handlers = self._handlers()
        pending = clicks.undecided(received_before=received_before or self.clock())
        for click_id, kind, raw in pending:
            handler = handlers.get(kind)
            try:
                body = json.loads(raw)
                if handler is not None:
                    handler(body)
            except Exception:
                log.exception("could not decide stored click %s (%s)", click_id, kind)
            clicks.done(click_id, now=self.clock())
        if pending:
            log.warning("decided %d click(s) acknowledged before a restart", len(pending))
        return len(pending)

    # ------------------------------------------------------------------ the Edit modal

    def on_edit(self, ack: Ack, body: Body) -> None:
        ack()
        # Not behind the decisions: Slack's trigger_id for the modal lasts 3 seconds.
        self.decide(lambda: self._edit(body), give_way=EDIT_GIVE_WAY, queue=self.modals)

    def _edit(self, body: Body) -> None:
        actor = actor_of(body)
        ref = self.button_ref(body, DraftRef)
        if ref is None:
            return
        loaded = self.load(ref.draft_id)
        if loaded is None or loaded[1] is None:
            self.tell(body, f"There is no draft #{ref.draft_id} any more.")
            return
        draft, view = loaded
        assert view is not None
        refusal = refuse_unless_approver(
            self.acting(actor, view), actor, view, "edit", f"draft:{draft.id}", self.clock()
        )
        if refusal is not None:
            self.tell(body, refusal.message)
            return
        if draft.status is not DraftStatus.PENDING:
            self.tell(body, self.already(draft, actor))
            return
        try:
            modal = render.edit_modal(self.surface.card(draft, view))
        except render.SurfaceLimitError:
            self.tell(
                body,
                "This draft is longer than Slack's text boxes hold; edit it in the CRM or "
                "dismiss it and write your own.",
            )
            return
        try:
            self.gateway.open_view(str(body.get("trigger_id") or ""), modal)
        except GatewayError as error:
            log.warning("could not open the Edit modal: %s", error)
            self.tell(body, "Slack did not open the editor in time; please click Edit again.")

    def _edit_if_changed(
        self,
        services: Services,
        draft: Draft,
        actor: Actor,
        version: int,
        subject: str,
        body: str,
        *,
        send_anyway: bool = False,
    ) -> Decision:
        if (subject.strip(), body.rstrip()) == (draft.subject, draft.body.rstrip()):
            if draft.version != version:
                return Decision(
                    Outcome.ALREADY_DECIDED,
                    "This draft was edited meanwhile; review the new version.",
                    draft,
                )
            return Decision(Outcome.DONE, "No changes.", draft)
        return edit(
            services,
            draft.id,
            actor,
            self.clock(),
            subject=subject,
            body=body,
            expected_version=version,
            send_anyway=send_anyway,
        )

    def on_edit_save(self, ack: Ack, body: Body) -> None:
        """Save without sending: the modal stays open, showing the new version."""
        ack()
        self.decide(lambda: self._edit_save(body))

    def _edit_save(self, body: Body) -> None:
        actor = actor_of(body)
        modal = body.get("view") or {}
        try:
            ref = DraftRef.decode(str(modal.get("private_metadata") or ""))
        except RefError:
            return
        loaded = self.load(ref.draft_id)
        if loaded is None or loaded[1] is None:
            return
        draft, view = loaded
        subject, text = view_inputs(modal)
        decision = self._edit_if_changed(
            self.acting(actor, view),
            draft,
            actor,
            ref.version,
            subject,
            text,
            send_anyway=send_anyway_chosen(modal),
        )
        current = decision.draft or draft
        if decision.ok:
            at = render.zone_time(
                self.clock(), self.surface.directory.zone_of(actor.slack_user_id, view) or "UTC"
            )
            note = "No changes to save." if decision.message == "No changes." else f"Saved at {at}."
            updated = render.edit_modal(self.surface.card(current, view), note=note)
            if decision.message != "No changes.":
                self.surface.update(current, view, "Edited")
        else:
            message = (
                self.already(current, actor)
                if decision.outcome is Outcome.ALREADY_DECIDED
                else decision.message
            )
            updated = render.edit_modal(
                self.surface.card(current, view),
                subject=subject,
                body=text,
                error=message,
                override=decision.outcome is Outcome.GUARDRAILS,
            )
        try:
            self.gateway.update_view(str(modal.get("id") or ""), updated, modal.get("hash"))
        except GatewayError as error:
            log.warning("could not refresh the Edit modal: %s", error)

    def on_edit_submit(self, ack: Ack, body: Body) -> None:
        # The answer (close, or the errors) depends on the decision: always wait for it.
        self.decide(lambda: self._edit_submit(ack, body), wait=True)

    def _edit_submit(self, ack: Ack, body: Body) -> None:
        """Save & send: save the edit if any, approve that version and close; or say why not."""
        actor = actor_of(body)
        modal = body.get("view") or {}
        try:
            ref = DraftRef.decode(str(modal.get("private_metadata") or ""))
        except RefError:
            ack(response_action="errors", errors={Block.DRAFT_BODY: STALE_BUTTON})
            return
        subject, text = view_inputs(modal)
        if not subject.strip():
            ack(response_action="errors", errors={Block.DRAFT_SUBJECT: "Write a subject."})
            return
        if not text.strip():
            ack(response_action="errors", errors={Block.DRAFT_BODY: "Write a message."})
            return
        draft = self.services.store.drafts.get(ref.draft_id)
        if draft is None:
            ack(response_action="errors", errors={Block.DRAFT_BODY: "This draft no longer exists."})
            return
        services = self.acting_on(actor, draft.deal_id)
        saved = self._edit_if_changed(
            services,
            draft,
            actor,
            ref.version,
            subject,
            text,
            send_anyway=send_anyway_chosen(modal),
        )
        view = deal_view(services, draft.deal_id)
        if saved.outcome is Outcome.GUARDRAILS and view is not None:
            # Shown to the editor, with "Send anyway" as an explicit choice; nothing saved.
            again = render.edit_modal(
                self.surface.card(draft, view),
                subject=subject,
                body=text,
                error=saved.message,
                override=True,
            )
            ack(response_action="update", view=again)
            return
        if not saved.ok or saved.draft is None:
            ack(
                response_action="errors",
                errors={Block.DRAFT_BODY: self._modal_error(saved, draft, actor)},
            )
            return
        decision = approve(
            services, draft.id, actor, self.clock(), expected_version=saved.draft.version
        )
        if not decision.ok:
            ack(
                response_action="errors",
                errors={Block.DRAFT_BODY: self._modal_error(decision, draft, actor)},
            )
            if saved.message != "No changes.":
                self.surface.update(saved.draft, None, "Edited")
            return
        ack()
        assert decision.draft is not None
        self.surface.update(decision.draft, None, "Approved")
        if actor.slack_user_id:
            self.surface.refresh_home_if_open(actor.slack_user_id)

    def _modal_error(self, decision: Decision, draft: Draft, actor: Actor) -> str:
        if decision.outcome is Outcome.ALREADY_DECIDED:
            current = decision.draft or draft
            return self.already(current, actor)
        return decision.message

    # ------------------------------------------------------------------ App Home

    def on_home_opened(self, body: Body, event: Mapping[str, Any]) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        self.surface.refresh_home(str(event["user"]))

    def on_home_refresh(self, ack: Ack, body: Body) -> None:
        ack()
        user = actor_of(body).slack_user_id
        if user:
            self.surface.refresh_home(user)

    # ------------------------------------------------------------------ /followup

    def ack_command(self, ack: Ack, body: Body) -> None:
        """Answer at once what needs no storage (help, a typo); the rest runs lazily."""
        parsed = parse_command(str(body.get("text") or ""))
        if isinstance(parsed, CommandError):
            ack(render.text_reply(render.escape(parsed.message)).payload())
        elif parsed.verb is Verb.HELP:
            ack(self.help_reply(parsed.topic).payload())
        else:
            ack()

    def help_reply(self, topic: Verb | None) -> render.Reply:
        """The help, with the cadences `enroll` accepts (they live in followup.toml)."""
        if topic not in (None, Verb.ENROLL):
            return render.help_reply(topic)
        cadences = render.escape(cadence_names(self.services.policy.cadences))
        return render.text_reply(f"{help_text(topic)}\nCadences: {cadences}.")

    def run_command(self, body: Body) -> None:
        self.decide(lambda: self._run_command(body))

    def _run_command(self, body: Body) -> None:
        parsed = parse_command(str(body.get("text") or ""))
        if isinstance(parsed, CommandError) or parsed.verb is Verb.HELP:
            return  # answered in the ack
        actor = actor_of(body)
        try:
            reply = self.answer(parsed, actor)
        except Exception:
            log.exception("/followup %s failed", parsed.verb)
            reply = render.text_reply(
                "Something went wrong on our side; nothing was changed. Try again in a minute."
            )
        self.reply(body, reply)

    def reply(self, body: Body, reply: render.Reply, *, replace_original: bool = False) -> None:
        payload = reply.payload()
        if replace_original:
            payload["replace_original"] = True
        url = body.get("response_url")
        try:
            if url:
                self.gateway.respond(str(url), payload)
                return
            channel = body.get("channel_id") or (body.get("channel") or {}).get("id")
            user = actor_of(body).slack_user_id
            if channel and user:
                self.gateway.post_ephemeral(str(channel), user, reply.text, payload.get("blocks"))
        except GatewayError as error:
            log.warning("could not answer /followup: %s", error)

    def answer(self, command: Command, actor: Actor) -> render.Reply:
        services = self.services
        now = self.clock()
        if command.verb is Verb.QUEUE:
            user = actor.slack_user_id or ""
            owners = self.surface.directory.owner_ids_for(
                user, services.store.pipeline.load().owners
            )
            cards = [self.surface.card(d, v) for d, v in owner_queue(services, owners)]
            return render.queue_reply(cards)
        if command.verb is Verb.STATS:
            if not self.may_see_stats(actor):
                services.store.audit.add(
                    AuditEntry(now, actor.id, "refused:stats", "stats", "not an admin or owner")
                )
                return render.text_reply(STATS_REFUSAL)
            return stats_reply(stats_report(services, now, command.days or STATS_DAYS))
        if command.verb is Verb.OPTOUT:
            if command.undo:
                decision = lift_suppression(services, command.email, actor, now)
            else:
                decision = person_opt_out(
                    self.acting_on_address(actor, command.email),
                    command.email,
                    actor,
                    now,
                    source="slack",
                )
            return render.text_reply(render.escape(decision.message))
        pipeline = services.store.pipeline.load()
        if command.verb is Verb.ENROLL:
            target = find_enrolment(
                services.policy.cadences, pipeline, command.deal, command.cadence
            )
            if isinstance(target, str):
                return render.text_reply(render.escape(target))
            command = replace(command, deal=target.query, cadence=target.cadence)
            deals = target.deals
        else:
            deals = find_deals(pipeline, command.deal)
        if not deals:
            return render.text_reply(
                f"No deal matches “{render.clip_escaped(command.deal, 80)}”. Try its title, "
                "the company, or the contact's name."
            )
        if len(deals) > 1:
            choices = [render.Choice(d.id, self._label(d.id, pipeline)) for d in deals]
            return render.picker_reply(command, command.deal, choices)
        return self.run_for_deal(command, deals[0].id, actor)

    def may_see_stats(self, actor: Actor) -> bool:
        """Reply and opt-out rates, routing accuracy and model spend are for the admins and
        the people who own deals, not for every guest in the workspace."""
        user = actor.slack_user_id
        if not user:
            return False
        if user in self.services.policy.admins:
            return True
        owners = self.services.store.pipeline.load().owners
        return bool(self.surface.directory.owner_ids_for(user, owners))

    @staticmethod
    def _label(deal_id: str, pipeline: Any) -> str:
        deal = pipeline.deal(deal_id)
        contacts = [pipeline.contact(c) for c in deal.contact_ids]
        people = [c for c in contacts if c is not None]
        extra = ", ".join(
            dict.fromkeys([*(c.company for c in people if c.company), *(c.name for c in people)])
        )
        status = "" if deal.status is DealStatus.OPEN else f" [{deal.status.value}]"
        label = f"{deal.title} ({extra}){status}" if extra else f"{deal.title}{status}"
        return render.one_line(label)

    def run_for_deal(self, command: Command, deal_id: str, actor: Actor) -> render.Reply:
        services = self.services
        now = self.clock()
        view = deal_view(services, deal_id)
        if view is None:
            return render.text_reply("That deal is no longer in the pipeline.")
        acting = self.acting(actor, view)
        verb = command.verb
        if verb in (Verb.STATUS, Verb.WHY):
            explanation = explain(services, deal_id, now)
            assert explanation is not None
            draft = pending_draft(services, deal_id)
            if verb is Verb.STATUS:
                return render.explanation_reply(explanation, draft)
            if draft is None:
                last = latest_draft(services, deal_id)
                draft = last if last is not None and last.status is DraftStatus.APPROVED else None
            return render.why_reply(explanation, draft)
        if verb is Verb.PAUSE:
            if command.until is not None:
                decision = pause_until_day(acting, deal_id, actor, now, command.until)
            else:
                until = now + command.duration if command.duration else None
                decision = pause(acting, deal_id, actor, now, until=until)
        elif verb is Verb.RESUME:
            decision = resume(acting, deal_id, actor, now)
        elif verb is Verb.SNOOZE:
            assert command.duration is not None
            decision = snooze_deal(acting, deal_id, actor, now, command.duration)
        elif verb is Verb.DEPRIORITIZE:
            decision = deprioritize_deal(acting, deal_id, actor, now)
        elif verb is Verb.ENROLL:
            decision = enroll_deal(acting, deal_id, command.cadence, actor, now)
        else:  # pragma: no cover - every verb is handled above
            return render.help_reply()
        if decision.outcome is Outcome.ALREADY_DECIDED and decision.draft is not None:
            return render.text_reply(render.escape(self.already(decision.draft, actor)))
        return render.text_reply(render.escape(decision.message))

    def on_pick(self, ack: Ack) -> None:
        ack()

    def run_pick(self, body: Body) -> None:
        self.decide(lambda: self._run_pick(body))

    def _run_pick(self, body: Body) -> None:
        try:
            ref = PickRef.decode(action_value(body))
        except RefError:
            self.reply(body, render.text_reply(STALE_BUTTON), replace_original=True)
            return
        command = Command(
            ref.verb,
            deal=ref.deal_id,
            duration=timedelta(minutes=ref.minutes) if ref.minutes else None,
            until=ref.until,
            cadence=ref.cadence,
        )
        actor = actor_of(body)
        try:
            reply = self.run_for_deal(command, ref.deal_id, actor)
        except Exception:
            log.exception("/followup %s on %s failed", ref.verb, ref.deal_id)
            reply = render.text_reply("Something went wrong on our side; nothing was changed.")
        self.reply(body, reply, replace_original=True)


def register(
    app: App,
    *,
    services: Services,
    gateway: SlackGateway,
    clock: Callable[[], datetime] = _now,
    decisions: int = 1,
    wait: bool = True,
    traffic: Traffic | None = None,
) -> Listeners:
    """Attach every listener to `app`. `services.review` must be the Slack review surface."""
    surface = services.review
    if not isinstance(surface, SlackReviewSurface):
        raise TypeError("services.review must be a SlackReviewSurface (see bot.runtime)")
    handlers = Listeners(services, gateway, surface, clock, decisions, wait, traffic)
    app.action(Action.DRAFT_APPROVE)(handlers.on_approve)
    app.action(Action.DRAFT_EDIT)(handlers.on_edit)
    app.action(Action.DRAFT_DISMISS)(handlers.on_dismiss)
    app.action(Action.DRAFT_MORE)(handlers.on_more)
    app.action(Action.DRAFT_EDIT_SAVE)(handlers.on_edit_save)
    app.action(Action.DRAFT_CANCEL)(handlers.on_cancel)
    app.action(Action.DRAFT_RESEND)(handlers.on_resend)
    app.action(Action.HOME_REFRESH)(handlers.on_home_refresh)
    app.action(re.compile(f"^{Action.COMMAND_PICK}-\\d+$"))(
        ack=handlers.on_pick, lazy=[handlers.run_pick]
    )
    app.view(View.DRAFT_EDIT_SUBMIT)(handlers.on_edit_submit)
    app.event("app_home_opened")(handlers.on_home_opened)
    app.command(COMMAND)(ack=handlers.ack_command, lazy=[handlers.run_command])

    @app.error
    def on_error(error: Exception, body: Body) -> None:
        log.exception("Slack listener failed: %s", error, exc_info=error)

    return handlers
