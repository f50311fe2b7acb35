"""`ReviewSurface` on Slack: every new draft gets a message, and the message follows the draft.

Flows call `publish` and `update` from wherever they run (a listener thread, the scheduler);
both only queue the draft's id. One worker thread renders the draft's *current* state from
storage and posts or updates its message, so updates never arrive out of order, a burst of
changes to one draft becomes one call, and a slow or rate-limited Slack never holds up a
flow. A call that fails for a transient reason is retried with backoff; a draft whose first
post never happened is found again by `reconcile` (run at start and by the scheduler).
Nothing is dropped on an outage.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from slack_sdk.models.views import View

from bot import render
from bot.gateway import GatewayError, SlackGateway, SlackRefused, SlackUnavailable
from bot.traffic import GIVE_WAY, Traffic
from flows.commands import owner_queue
from flows.outgoing import plan_message
from flows.ports import Services
from flows.review import deal_view
from triggers.drafts import Draft, DraftStatus
from triggers.evaluate import build_views
from triggers.model import DealView, Owner
from triggers.windows import recipient_zone

log = logging.getLogger(__name__)

JobKind = Literal["draft", "home"]
Job = tuple[JobKind, str]
RETRY_DELAYS = (1.0, 2.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0)
_GONE = {"message_not_found", "channel_not_found", "cant_update_message", "is_archived"}


@dataclass(frozen=True, slots=True)
class Destination:
    review_channel: str | None = None
    drafts_to: str = "channel"  # or "owner_dm"
    # More new drafts than this at once: one summary message instead of one message each.
    summary_above: int = 10


class Directory:
    """Who is who in Slack: an owner's user id (by `slack_user_id`, else by email) and a
    user's time zone. Lookups are cached by the gateway; an outage reads as unknown."""

    def __init__(self, gateway: SlackGateway) -> None:
        self.gateway = gateway
        self._by_email: set[str] = set()
        self._lock = threading.Lock()

    def slack_id(self, owner: Owner | None, *, strict: bool = False) -> str | None:
        if owner is None:
            return None
        if owner.slack_user_id:
            return owner.slack_user_id
        if not owner.email:
            return None
        try:
            found = self.gateway.user_for_email(owner.email)
        except GatewayError as error:
            if strict:
                raise
            log.warning("could not look %s up in Slack: %s", owner.id, error)
            return None
        if found is not None:
            with self._lock:
                self._by_email.add(found)
        return found

    def matched_by_email(self, user_id: str | None) -> bool:
        """Whether this Slack user was found as some owner by email. Every draft's owner is
        resolved when its message is rendered, so before anyone can click on it."""
        with self._lock:
            return user_id is not None and user_id in self._by_email

    def owner_ids_for(self, user_id: str, owners: Iterable[Owner]) -> set[str]:
        return {o.id for o in owners if self.slack_id(o) == user_id}

    def zone_of(self, user_id: str | None, view: DealView | None) -> str | None:
        if not user_id:
            return None
        owner = view.owner if view is not None else None
        if owner is not None and owner.timezone and owner.slack_user_id == user_id:
            return owner.timezone
        try:
            return self.gateway.user_zone(user_id)
        except GatewayError as error:
            log.warning("could not read %s's time zone: %s", user_id, error)
            return None


def crm_url(view: DealView | None) -> str | None:
    """A deal's page in the CRM (`Deal.crm_url`), for the "Open in CRM" menu item."""
    return None if view is None else view.deal.crm_url


class SlackReviewSurface:
    """Posts drafts for review and keeps each message in step with its draft."""

    def __init__(
        self,
        gateway: SlackGateway,
        destination: Destination,
        *,
        background: bool = True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
    ) -> None:
        self.gateway = gateway
        self.directory = Directory(gateway)
        self.destination = destination
        self.background = background
        self.clock = clock
        self.retry_delays = retry_delays
        self._services: Services | None = None
        self._outcomes: dict[int, str] = {}
        self._home_users: set[str] = set()
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Job]] = []
        self._queued: dict[Job, float] = {}
        self._attempts: dict[Job, int] = {}
        self._busy = False
        self._stopping = False
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._traffic: Traffic | None = None

    # ------------------------------------------------------------------ wiring

    def bind(self, services: Services) -> None:
        self._services = services

    def give_way_to(self, traffic: Traffic) -> None:
        """Let Slack's requests in flight go first (for at most GIVE_WAY seconds a batch):
        rendering and posting is work for the same GIL as the acks."""
        self._traffic = traffic

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("SlackReviewSurface.bind(services) was not called")
        return self._services

    def start(self) -> None:
        """Run the worker thread (the service does; the CLI calls Slack inline instead)."""
        with self._cond:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping = False
            self.background = True
            self._thread = threading.Thread(target=self._work, name="slack-surface", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no job is queued or running (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._busy or self._queued:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    # ------------------------------------------------------------------ ReviewSurface

    def publish(self, draft: Draft, view: DealView) -> None:
        self._submit(("draft", str(draft.id)))

    def publish_batch(self, items: Sequence[tuple[Draft, DealView]]) -> None:
        """Many new drafts at once (a big import): one summary message in the review channel
        with the count per rule and the first few, which are posted as usual; the rest wait in
        the Home tab and the CLI queue without a message (and without a ping) each."""
        channel = self.destination.review_channel
        if len(items) <= self.destination.summary_above or not channel:
            for draft, view in items:
                self.publish(draft, view)
            return
        from flows.volume import held_messages

        cards = [self.card(draft, view) for draft, view in items]
        summary = render.batch_summary(
            cards, render.SUMMARY_SHOWN, held=len(held_messages(self.services))
        )
        try:
            self.gateway.post_message(channel, summary.text, summary.blocks_json())
        except GatewayError as error:
            log.warning("the summary of %d new drafts was not posted: %s", len(items), error)
            for draft, view in items:
                self.publish(draft, view)
            return
        for draft, view in items[: render.SUMMARY_SHOWN]:
            self.publish(draft, view)
        for draft, _ in items[render.SUMMARY_SHOWN :]:
            self.services.store.drafts.set_slack_message(draft.id, channel, render.SUMMARIZED)

    def update(self, draft: Draft, view: DealView | None, outcome: str) -> None:
        with self._cond:
            self._outcomes[draft.id] = outcome
        self._submit(("draft", str(draft.id)))

    def refresh_home(self, user_id: str) -> None:
        with self._cond:
            self._home_users.add(user_id)
        self._submit(("home", user_id))

    def resync(self, draft_id: int) -> None:
        """Show the draft's current state again (after a lost race, a retry, a double click)."""
        self._submit(("draft", str(draft_id)))

    def refresh_home_if_open(self, user_id: str) -> None:
        """Refresh a person's App Home if they have opened it since the service started."""
        with self._cond:
            known = user_id in self._home_users
        if known:
            self._submit(("home", user_id))

    def reconcile(self) -> int:
        """Queue every pending draft that has no message yet (an outage, a crash)."""
        missing = [
            d
            for d in self.services.store.drafts.find(statuses=[DraftStatus.PENDING])
            if not d.slack_ts
        ]
        for draft in missing:
            self._submit(("draft", str(draft.id)))
        return len(missing)

    # ------------------------------------------------------------------ rendering

    def card(self, draft: Draft, view: DealView | None = None) -> render.DraftCard:
        services = self.services
        view = view if view is not None else deal_view(services, draft.deal_id)
        window = services.policy.evaluation.send_window
        contact = None
        if view is not None:
            contact = next((c for c in view.contacts if c.id == draft.contact_id), None)
        owner = view.owner if view is not None else None
        owner_zone = recipient_zone(None, owner, window)
        decider = render.slack_user_of(draft.decided_by)
        arrival = None
        if draft.status in (DraftStatus.APPROVED, DraftStatus.SENT):
            row = services.store.outbox.for_draft(draft.id)
            arrival = row.send_at if row is not None else None
        paused_until = None
        if draft.status is DraftStatus.SNOOZED:
            found = services.store.pauses.active(self.clock()).get(draft.deal_id)
            paused_until = found.until if found is not None else None
        with self._cond:
            outcome = self._outcomes.get(draft.id)
        plan = None
        row = None
        if view is not None and draft.status in (DraftStatus.PENDING, DraftStatus.APPROVED):
            plan = plan_message(services, draft, view, self.clock())
            if draft.status is DraftStatus.APPROVED:
                row = services.store.outbox.for_draft(draft.id)
        return render.DraftCard(
            draft=draft,
            view=view,
            recipient_zone=recipient_zone(contact, owner, window),
            owner_zone=owner_zone,
            owner_slack_id=self.directory.slack_id(owner),
            mention_owner=services.policy.mention_owner,
            decider_zone=self.directory.zone_of(decider, view) or owner_zone,
            arrival=arrival,
            paused_until=paused_until,
            outcome=outcome,
            crm_url=crm_url(view),
            subject=plan.subject if plan else None,
            send_at=plan.send_at if plan else None,
            hold=plan.hold.reason if plan and plan.hold else None,
            outbox_status=row.status.value if row else None,
            outbox_note=row.last_error if row else None,
        )

    def home(self, user_id: str) -> View:
        services = self.services
        pipeline = services.store.pipeline.load()
        owner_ids = self.directory.owner_ids_for(user_id, pipeline.owners)
        cards = [self.card(d, v) for d, v in owner_queue(services, owner_ids)]
        from flows.volume import held_messages

        held = held_messages(services)
        note = None
        if held:
            why = (held[0].last_error or "").removeprefix("held: ")
            note = (
                f"{len(held)} approved message(s) are held back by the send limits ({why}); "
                f"the next leaves {held[0].send_at:%a %d %b %H:%M} UTC."
            )
        return render.home_view(cards, note=note)

    # ------------------------------------------------------------------ the worker

    def _submit(self, job: Job, delay: float = 0.0) -> None:
        if not self.background:
            self._run_inline(job)
            return
        with self._cond:
            due = time.monotonic() + delay
            if job in self._queued and self._queued[job] <= due:
                return
            self._queued[job] = due
            heapq.heappush(self._heap, (due, next(self._seq), job))
            self._cond.notify_all()

    def _run_inline(self, job: Job) -> None:
        try:
            self._run(job)
        except GatewayError as error:
            log.warning("Slack %s %s not updated: %s", *job, error)
        except Exception:
            log.exception("Slack %s %s could not be rendered", *job)

    def _next_jobs(self, limit: int = 50) -> list[Job]:
        """Every job that is due (at most `limit`), waiting for the first one."""
        with self._cond:
            while not self._stopping:
                jobs: list[Job] = []
                while self._heap and len(jobs) < limit:
                    due, _, job = self._heap[0]
                    if due > time.monotonic():
                        break
                    heapq.heappop(self._heap)
                    if self._queued.get(job) != due:
                        continue  # superseded by an earlier entry for the same job
                    del self._queued[job]
                    jobs.append(job)
                if jobs:
                    self._busy = True
                    return jobs
                if self._heap:
                    self._cond.wait(self._heap[0][0] - time.monotonic())
                else:
                    self._cond.wait()
            return []

    def _work(self) -> None:
        while True:
            jobs = self._next_jobs()
            if not jobs:
                return
            if self._traffic is not None:
                self._traffic.wait_quiet(GIVE_WAY)
            try:
                # A burst (a cycle's new drafts, many clicks) shares one read of the pipeline.
                views = self._views() if sum(kind == "draft" for kind, _ in jobs) > 1 else None
                for job in jobs:
                    self._attempt(job, views)
            except Exception:
                log.exception("Slack jobs %s could not be run", jobs)
                for job in jobs:
                    self._submit(job, self.retry_delays[-1])
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _views(self) -> dict[str, DealView]:
        pipeline = self.services.store.pipeline.load()
        return {view.deal.id: view for view in build_views(pipeline)}

    def _attempt(self, job: Job, views: dict[str, DealView] | None) -> None:
        try:
            self._run(job, views)
            self._attempts.pop(job, None)
        except SlackUnavailable as error:
            attempt = self._attempts.get(job, 0)
            self._attempts[job] = attempt + 1
            delay = self.retry_delays[min(attempt, len(self.retry_delays) - 1)]
            log.warning("Slack unavailable for %s %s, retrying in %.0fs: %s", *job, delay, error)
            self._submit(job, delay)
        except SlackRefused as error:
            self._attempts.pop(job, None)
            log.error("Slack refused %s %s: %s", *job, error)
        except Exception:
            self._attempts.pop(job, None)
            log.exception("Slack %s %s could not be rendered", *job)

    def _run(self, job: Job, views: dict[str, DealView] | None = None) -> None:
        kind, key = job
        if kind == "home":
            self.gateway.publish_home(key, self.home(key))
            return
        self._sync_draft(int(key), views)

    def _sync_draft(self, draft_id: int, views: dict[str, DealView] | None = None) -> None:
        services = self.services
        draft = services.store.drafts.get(draft_id)
        if draft is None:
            return
        if draft.slack_ts == render.SUMMARIZED:
            return  # shown only in a batch summary: no message of its own to keep in step
        view = views.get(draft.deal_id) if views is not None else deal_view(services, draft.deal_id)
        card = self.card(draft, view)
        message = render.draft_message(card)
        blocks = message.blocks_json()
        if draft.slack_channel and draft.slack_ts:
            try:
                self.gateway.update_message(
                    draft.slack_channel, draft.slack_ts, message.text, blocks
                )
            except SlackRefused as error:
                if error.error not in _GONE or draft.status is not DraftStatus.PENDING:
                    raise
                log.warning("draft %s's message is gone (%s); posting it again", draft_id, error)
                self._post(draft, view, message)
        elif draft.status is DraftStatus.PENDING:
            self._post(draft, view, message)
        else:
            return  # decided before it was ever shown: nothing to update
        owner_user = card.owner_slack_id
        with self._cond:
            follow = owner_user is not None and owner_user in self._home_users
        if follow and owner_user is not None:
            self._submit(("home", owner_user))

    def _post(self, draft: Draft, view: DealView | None, message: render.Message) -> None:
        channel = self._channel_for(view)
        if channel is None:
            log.error(
                "draft %s has nowhere to go: set [slack] review_channel, or give its owner a "
                "slack_user_id or an email known to Slack",
                draft.id,
            )
            return
        posted = self.gateway.post_message(channel, message.text, message.blocks_json())
        self.services.store.drafts.set_slack_message(draft.id, posted.channel, posted.ts)

    def _channel_for(self, view: DealView | None) -> str | None:
        owner = view.owner if view is not None else None
        channel = self.destination.review_channel
        if self.destination.drafts_to == "owner_dm" or not channel:
            user = self.directory.slack_id(owner, strict=True)
            if user is not None:
                return self.gateway.dm_channel(user)
        return channel
