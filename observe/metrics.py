"""Prometheus metrics, one module: what each counter means and the calls that move it.

The store counts draft and message events where they happen (`draft_event`,
`message_event`), the Slack gateway counts its errors (`error`), the service counts cycles
(`cycle_done`), the flows count through `Services.metrics` (`FlowMetrics`), and the outbox
depth and age are read from the database at each scrape (`OutboxCollector`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series
REGISTRY = CollectorRegistry(auto_describe=True)

CYCLES = Counter(
    "followup_cycles",
    "Cycles run, by outcome (ok, sync_failed, failed)",
    ["outcome"],
    registry=REGISTRY,
)
CYCLE_SECONDS = Histogram(
    "followup_cycle_duration_seconds",
    "How long one cycle took",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
    registry=REGISTRY,
)
LAST_CYCLE = Gauge(
    "followup_last_cycle_timestamp_seconds", "When the last cycle ended", registry=REGISTRY
)
DRAFTS = Counter(
    "followup_drafts",
    "Draft events per rule: created, approved, edited, dismissed, withdrawn, snoozed, sent, failed",
    ["event", "rule"],
    registry=REGISTRY,
)
MESSAGES = Counter(
    "followup_messages",
    "Outgoing messages: sent, failed, refused (at the send-time check), held (send limits)",
    ["outcome"],
    registry=REGISTRY,
)
ERRORS = Counter(
    "followup_errors",
    "Errors by system (slack, crm, mail) and kind",
    ["system", "kind"],
    registry=REGISTRY,
)
INBOUND = Counter(
    "followup_inbound_messages",
    "Inbound messages by verdict (reply, auto_reply, bounce, opt_out, complaint...)",
    ["verdict"],
    registry=REGISTRY,
)

_DRAFT_EVENTS = {
    "approved": "approved",
    "dismissed": "dismissed",
    "withdrawn": "withdrawn",
    "snoozed": "snoozed",
    "sent": "sent",
    "failed": "failed",
}


def draft_event(event: str, rule: str | None) -> None:
    """A draft was created or edited, or moved to a status (its value: approved, sent...)."""
    name = _DRAFT_EVENTS.get(event, event)
    DRAFTS.labels(event=name, rule=rule or "cadence").inc()


def message_event(outcome: str) -> None:
    MESSAGES.labels(outcome=outcome).inc()


def error(system: str, kind: str) -> None:
    ERRORS.labels(system=system, kind=kind or "unknown").inc()


def cycle_done(report: Any, seconds: float, *, failed: bool = False) -> None:
    outcome = "failed" if failed else ("sync_failed" if report.sync_failed else "ok")
    CYCLES.labels(outcome=outcome).inc()
    CYCLE_SECONDS.observe(seconds)
    LAST_CYCLE.set(datetime.now(UTC).timestamp())


def delivery_done(report: Any) -> None:
    for _ in report.retrying:
        error("mail", "transient")
    for _ in report.failed:
        error("mail", "permanent")


class FlowMetrics:
    """`Services.metrics` for the flows (which do not import Prometheus themselves)."""

    def inbound(self, verdict: str) -> None:
        INBOUND.labels(verdict=verdict).inc()

    def error(self, system: str, kind: str) -> None:
        error(system, kind)


class OutboxCollector(Collector):
    """Outbox depth by status and the age of the oldest queued message, read at scrape."""

    def __init__(self, rows: Callable[[], list[Any]]) -> None:
        self.rows = rows

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "followup_outbox_depth", "Approved messages in the outbox, by status", labels=["status"]
        )
        age = GaugeMetricFamily(
            "followup_outbox_oldest_age_seconds", "Age of the oldest queued message's due time"
        )
        try:
            rows = self.rows()
        except Exception:  # the database is down: /readyz says so; no outbox figures
            return
        counts: dict[str, int] = {}
        now = datetime.now(UTC)
        oldest: datetime | None = None
        for row in rows:
            counts[row.status.value] = counts.get(row.status.value, 0) + 1
            if row.status.value == "queued" and (oldest is None or row.send_at < oldest):
                oldest = row.send_at
        for status in ("queued", "sending"):
            depth.add_metric([status], counts.get(status, 0))
        age.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        yield depth
        yield age


def watch_outbox(rows: Callable[[], list[Any]]) -> None:
    """Register the outbox collector (once per process)."""
    global _outbox
    if _outbox is not None:
        REGISTRY.unregister(_outbox)
    _outbox = OutboxCollector(rows)
    REGISTRY.register(_outbox)


_outbox: OutboxCollector | None = None


def exposition() -> bytes:
    return generate_latest(REGISTRY)
