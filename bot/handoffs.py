"""`HandoffSurface` on Slack: a handoff is a message to the person it is routed to, sentiment
first, and an owner's question is a row of buttons, one per choice.

A handoff goes to the routed person's DM when their Slack user id is known (from the routing
map, the owner's `slack_user_id`, or the owner's email), else to the review channel; the
@mention leads either way. The text is `triggers.handoff.slack_text`, which escapes everything
that came from outside; here bare broadcast keywords are broken too. Button values are
`AnswerRef`s (ids and the choice, never text). A click acks, is authorized like every draft
action (`flows.review.may_act`, with the owner-by-email bridge of `Listeners.acting`), answers
through `flows.cadences.answer_question` (a conditional update: a double click answers once)
and then replaces the message with the question's outcome.

Posting is inline. A handoff that does not reach Slack (an outage after the gateway's retries,
a refusal, nowhere to post) raises `NotPosted`: the flow keeps it as unposted and posts it
again later (`flows.cadences.post_unposted_handoffs`). A question without a handoff is best
effort. When the CRM keeps no tasks, `remind` schedules the playbook's Slack reminder
(`chat.scheduleMessage`) in the person's DM.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Ack, App
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot import render
from bot.gateway import GatewayError, SlackGateway, is_outage
from bot.ids import Action
from bot.ids import Block as BlockId
from bot.listeners import STALE_BUTTON, Body, Listeners, action_value, actor_of
from bot.refs import AnswerRef, HandoffRef, RefError
from bot.surface import Directory, SlackReviewSurface
from flows.cadences import answer_question, cadence_store
from flows.ports import NotPosted
from flows.replies import done_handoff
from flows.review import Outcome, deal_view
from triggers.cadence import Choice, OwnerQuestion
from triggers.handoff import SLACK_USER_ID, Handoff, slack_text
from triggers.model import DealView

log = logging.getLogger(__name__)

__all__ = [
    "HandoffListeners",
    "SlackHandoffSurface",
    "answer_action_id",
    "handoff_message",
    "register_handoffs",
]

_ANSWERED = {
    Choice.PAUSE_UNTIL: "paused",
    Choice.KEEP_RUNNING: "kept running",
    Choice.STOP: "stopped",
}


def _now() -> datetime:
    return datetime.now(UTC)


def answer_action_id(choice: Choice) -> str:
    return f"{Action.QUESTION_ANSWER}-{choice.value}"


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=render.clip(text or " ", render.SECTION_TEXT_MAX), verbatim=True)


def _button_label(question: OwnerQuestion, choice: Choice) -> str:
    if choice is Choice.PAUSE_UNTIL:
        day = question.proposed_until
        return f"Pause until {day:%a} {day.day} {day:%b}" if day is not None else "Pause"
    return "Keep running" if choice is Choice.KEEP_RUNNING else "Stop"


def _question_blocks(
    question: OwnerQuestion, handoff_id: int | None, owner_user: str | None
) -> list[Block]:
    who = f"<@{owner_user}> " if owner_user else ""
    blocks: list[Block] = [SectionBlock(text=_md(f"{who}{render.escape(question.text)}"))]
    if question.status == "open":
        buttons = [
            ButtonElement(
                text=PlainTextObject(text=_button_label(question, choice), emoji=True),
                action_id=answer_action_id(choice),
                value=AnswerRef(question.id, choice, handoff_id).encode(),
                style="danger" if choice is Choice.STOP else None,
            )
            for choice in question.choices
        ]
        blocks.append(ActionsBlock(block_id=BlockId.QUESTION_ACTIONS, elements=buttons))
        return blocks
    if question.status == "answered" and question.answer:
        try:
            word = _ANSWERED[Choice(question.answer)]
        except ValueError:
            word = render.escape(question.answer)
        if question.answer_until is not None:
            day = question.answer_until
            word = f"{word} until {day:%a} {day.day} {day:%b %Y}"
        line = f"Answered: {word}, by {render.actor_mention(question.answered_by)}"
    else:
        line = f"This question was {render.escape(question.status)}."
    blocks.append(ContextBlock(elements=[_md(line)]))
    return blocks


def _done_block(handoff: Handoff) -> Block:
    """ "Done" while nobody acted on the handoff; afterwards who did, and when."""
    if handoff.acted_at is None:
        return ActionsBlock(
            block_id=BlockId.HANDOFF_ACTIONS,
            elements=[
                ButtonElement(
                    text=PlainTextObject(text="Done", emoji=True),
                    action_id=Action.HANDOFF_DONE,
                    value=HandoffRef(handoff.id).encode(),
                    style="primary",
                )
            ],
        )
    what = render.escape((handoff.action or "done").replace("_", " "))
    when = f"{handoff.acted_at:%a %d %b %H:%M} UTC"
    user = _valid_user(handoff.acted_by)  # a Slack user is recorded by their id
    who = f"<@{user}>" if user else render.actor_mention(handoff.acted_by)
    return ContextBlock(elements=[_md(f"{what.capitalize()} by {who}, {when}")])


def _valid_user(user_id: str | None) -> str | None:
    return user_id if user_id and SLACK_USER_ID.match(user_id) else None


def handoff_message(
    handoff: Handoff | None,
    question: OwnerQuestion | None,
    *,
    owner_user: str | None = None,
) -> render.Message:
    """The handoff (sentiment first, the @mention in front) and the question with its buttons
    while it is open, or its answer once answered. `owner_user` is @mentioned on the question
    when it is not the person the handoff is for."""
    blocks: list[Block] = []
    text = ""
    if handoff is not None:
        routed = _valid_user(handoff.routed_to)
        text = render.inert_broadcasts(slack_text(replace(handoff, routed_to=routed)))
        blocks.append(SectionBlock(text=_md(text)))
        blocks.append(_done_block(handoff))
    if question is not None:
        routed = _valid_user(handoff.routed_to) if handoff is not None else None
        mention = _valid_user(owner_user)
        blocks.extend(
            _question_blocks(
                question,
                handoff.id if handoff is not None else None,
                mention if mention != routed else None,
            )
        )
        if not text:
            who = f"<@{mention}> " if mention else ""
            text = f"{who}{render.escape(question.text)}"
    first = text.split("\n", 1)[0] if text else "followup"
    return render.check_message(render.Message(render.clip(first, 300), blocks))


class SlackHandoffSurface:
    """Posts handoffs and owner questions; `refresh` redraws one after an answer."""

    def __init__(
        self,
        gateway: SlackGateway,
        directory: Directory,
        review_channel: str | None,
    ) -> None:
        self.gateway = gateway
        self.directory = directory
        self.review_channel = review_channel

    @classmethod
    def on(cls, review: SlackReviewSurface) -> SlackHandoffSurface:
        """The handoff surface sharing the review surface's gateway, directory and channel."""
        return cls(review.gateway, review.directory, review.destination.review_channel)

    # ------------------------------------------------------------------ HandoffSurface

    def post_handoff(
        self, handoff: Handoff, view: DealView, question: OwnerQuestion | None
    ) -> None:
        owner_user = _valid_user(self._owner_user(view))
        routed = _valid_user(handoff.routed_to) or (
            owner_user if handoff.routed_to is None else None
        )
        shown = replace(handoff, routed_to=routed)
        message = handoff_message(shown, question, owner_user=owner_user)
        self._post(routed, message, f"handoff {handoff.id}")

    def ask_owner(self, question: OwnerQuestion, view: DealView) -> None:
        owner_user = _valid_user(self._owner_user(view))
        message = handoff_message(None, question, owner_user=owner_user)
        try:
            self._post(owner_user, message, f"question {question.id}")
        except NotPosted as error:
            log.error("%s", error)

    # ------------------------------------------------------------------ Reminders

    def remind(self, user: str | None, view: DealView, text: str, at: datetime) -> str:
        who = _valid_user(user) or _valid_user(self._owner_user(view))
        if who is None:
            raise NotPosted("a reminder needs a Slack user to remind", outage=False)
        line = f"<@{who}> Reminder: {render.escape(render.one_line(text))}"
        message = render.check_message(
            render.Message(render.clip(line, 300), [SectionBlock(text=_md(line))])
        )
        try:
            return self.gateway.schedule_message(
                self.gateway.dm_channel(who),
                message.text,
                int(at.timestamp()),
                message.blocks_json(),
            )
        except GatewayError as error:
            raise NotPosted(
                f"the reminder was not scheduled: {error}",
                outage=is_outage(error),
            ) from error

    # ------------------------------------------------------------------ after an answer

    def refresh(
        self,
        channel: str,
        ts: str,
        handoff: Handoff | None,
        question: OwnerQuestion,
        view: DealView | None,
    ) -> None:
        owner_user = _valid_user(self._owner_user(view))
        if handoff is not None and handoff.routed_to is None:
            handoff = replace(handoff, routed_to=owner_user)
        message = handoff_message(handoff, question, owner_user=owner_user)
        try:
            self.gateway.update_message(channel, ts, message.text, message.blocks_json())
        except GatewayError as error:
            log.warning("question %s's message was not updated: %s", question.id, error)

    def refresh_handoff(
        self,
        channel: str,
        ts: str,
        handoff: Handoff,
        question: OwnerQuestion | None,
        view: DealView | None,
    ) -> None:
        """Redraw a handoff after "Done" (with its question, if it came with one)."""
        owner_user = _valid_user(self._owner_user(view))
        if handoff.routed_to is None:
            handoff = replace(handoff, routed_to=owner_user)
        message = handoff_message(handoff, question, owner_user=owner_user)
        try:
            self.gateway.update_message(channel, ts, message.text, message.blocks_json())
        except GatewayError as error:
            log.warning("handoff %s's message was not updated: %s", handoff.id, error)

    # ------------------------------------------------------------------ helpers

    def _owner_user(self, view: DealView | None) -> str | None:
        return self.directory.slack_id(view.owner if view is not None else None)

    def _post(self, user: str | None, message: render.Message, what: str) -> None:
        try:
            channel = self.gateway.dm_channel(user) if user else self.review_channel
            if channel is None:
                raise NotPosted(
                    f"{what} has nowhere to go: set [slack] review_channel, or route it to "
                    "someone with a Slack user id",
                    outage=False,
                )
            self.gateway.post_message(channel, message.text, message.blocks_json())
        except GatewayError as error:
            raise NotPosted(
                f"{what} was not posted to Slack: {error}",
                outage=is_outage(error),
            ) from error


class HandoffListeners:
    """The answer buttons, on the draft listeners' helpers (tell, decide, acting)."""

    def __init__(
        self,
        listeners: Listeners,
        surface: SlackHandoffSurface,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.listeners = listeners
        self.surface = surface
        self.clock = clock

    def on_answer(self, ack: Ack, body: Body) -> None:
        ack()
        self.listeners.decide(lambda: self._answer(body))

    def _answer(self, body: Body) -> None:
        listeners = self.listeners
        services = listeners.services
        actor = actor_of(body)
        try:
            ref = AnswerRef.decode(action_value(body))
        except RefError:
            listeners.tell(body, STALE_BUTTON)
            return
        store = cadence_store(services)
        question = store.questions.get(ref.question_id)
        if question is None:
            listeners.tell(body, "That question is gone; nothing was changed.")
            return
        view = deal_view(services, question.deal_id)
        result = answer_question(
            listeners.acting(actor, view), question.id, ref.choice.value, actor, self.clock()
        )
        current = store.questions.get(question.id) or question
        if result.outcome is Outcome.ALREADY_DECIDED:
            # A double click (or Slack's retry) is answered by the message itself.
            if (current.answered_by, current.answer) != (actor.id, ref.choice.value):
                listeners.tell(body, result.message)
        elif not result.ok:
            listeners.tell(body, result.message)
            return
        elif ref.handoff_id is not None:  # answering the handoff's question is acting on it
            done_handoff(services, ref.handoff_id, actor, self.clock(), action="answered")
        self._redraw(body, ref, current, view)

    def on_done(self, ack: Ack, body: Body) -> None:
        ack()
        self.listeners.decide(lambda: self._done(body))

    def _done(self, body: Body) -> None:
        """ "Done" on a handoff: the routed person, the deal's owner or an admin records that
        they acted (anyone else is told no, and audited); the message then says who did."""
        listeners = self.listeners
        services = listeners.services
        try:
            ref = HandoffRef.decode(action_value(body))
        except RefError:
            listeners.tell(body, STALE_BUTTON)
            return
        store = cadence_store(services)
        handoff = store.handoffs.get(ref.handoff_id)
        if handoff is None:
            listeners.tell(body, "That handoff is gone; nothing was changed.")
            return
        actor = actor_of(body)
        view = deal_view(services, handoff.deal_id)
        result = done_handoff(listeners.acting(actor, view), handoff.id, actor, self.clock())
        if result.outcome is Outcome.FORBIDDEN or result.outcome is Outcome.NOT_FOUND:
            listeners.tell(body, result.message)
            return
        current = store.handoffs.get(handoff.id) or handoff
        delivery = store.handoffs.delivery(handoff.id)
        question_id = delivery.question_id if delivery is not None else None
        question = store.questions.get(question_id) if question_id is not None else None
        container: Mapping[str, Any] = body.get("container") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
        if channel and ts and not container.get("is_ephemeral"):
            self.surface.refresh_handoff(str(channel), str(ts), current, question, view)

    def _redraw(
        self, body: Body, ref: AnswerRef, question: OwnerQuestion, view: DealView | None
    ) -> None:
        container: Mapping[str, Any] = body.get("container") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
        if not channel or not ts or container.get("is_ephemeral"):
            return
        handoff = None
        if ref.handoff_id is not None:
            handoff = cadence_store(self.listeners.services).handoffs.get(ref.handoff_id)
        self.surface.refresh(str(channel), str(ts), handoff, question, view)


def register_handoffs(
    app: App,
    listeners: Listeners,
    surface: SlackHandoffSurface,
    clock: Callable[[], datetime] = _now,
) -> HandoffListeners:
    """Attach the answer buttons' listener to `app`."""
    handlers = HandoffListeners(listeners, surface, clock)
    app.action(re.compile(f"^{Action.QUESTION_ANSWER}-[a-z_]+$"))(handlers.on_answer)
    app.action(Action.HANDOFF_DONE)(handlers.on_done)
    return handlers
