"""Volume controls: how much leaves one mailbox, and how fast.

A founder's mailbox that sends 200 messages in a minute looks like spam to its provider, so
each mailbox (the sender address) has a daily cap and a spacing between sends. A message over
the cap or too close to the previous one is held: it stays queued and leaves at the first
moment both allow. `delivery` asks `hold_until` once per claimed row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flows.ports import Services
from triggers.drafts import OutboxMessage, OutboxStatus

DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class SendLimits:
    """`[sending]` in followup.toml; None / zero turn a limit off."""

    daily_cap: int | None = None  # messages per mailbox per rolling 24 hours
    spacing: timedelta = timedelta(0)  # at least this long between two sends of one mailbox


@dataclass(frozen=True, slots=True)
class Held:
    until: datetime
    why: str


def hold_until(
    services: Services, row: OutboxMessage, now: datetime, limits: SendLimits
) -> Held | None:
    """None when `row` may leave now; else when it may, and why not now."""
    if not limits.daily_cap and not limits.spacing:
        return None
    sent = services.store.outbox.sent_times(row.from_address, now - DAY)
    if limits.daily_cap and len(sent) >= limits.daily_cap:
        # The oldest send in the window ages out first.
        until = sent[len(sent) - limits.daily_cap] + DAY
        return Held(until, f"daily cap of {limits.daily_cap} reached for {row.from_address}")
    if limits.spacing and sent and now - sent[-1] < limits.spacing:
        return Held(sent[-1] + limits.spacing, f"spacing sends {limits.spacing} apart")
    return None


def hold_row(services: Services, row: OutboxMessage, worker: str, now: datetime) -> str | None:
    """Put a row `worker` claimed back in the queue when the limits hold it; why, or None to
    send."""
    held = hold_until(services, row, now, services.policy.send_limits)
    if held is None:
        return None
    services.store.outbox.finish(
        row.id,
        OutboxStatus.QUEUED,
        now=now,
        owner=worker,
        retry_at=held.until,
        error=f"held: {held.why}",
        held=True,
    )
    return held.why


def held_messages(services: Services) -> list[OutboxMessage]:
    """Approved messages the limits hold back (shown in the queue and in Slack)."""
    queued = services.store.outbox.find(statuses=[OutboxStatus.QUEUED])
    held = [r for r in queued if (r.last_error or "").startswith("held: ")]
    return sorted(held, key=lambda r: r.send_at)
