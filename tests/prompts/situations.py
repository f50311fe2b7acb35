"""Load tests/data/draft_situations.json into the contexts a drafter reads.

Shared by the drafting tests and `bench/drafts.py`. Each activity gets a Message-ID and an
In-Reply-To chaining it to the previous message of its thread, so threading can be checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from prompts.base import DraftContext
from triggers.model import (
    Activity,
    ActivityKind,
    Contact,
    Deal,
    DealSource,
    DealView,
    Direction,
    Owner,
)

DATA = Path(__file__).resolve().parent.parent / "data"
SITUATIONS = DATA / "draft_situations.json"
DRAFT_SAMPLES = DATA / "draft_samples.json"


@cache
def situations() -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(SITUATIONS.read_text(encoding="utf-8")))


def situation(situation_id: str) -> dict[str, Any]:
    return next(s for s in situations() if s["id"] == situation_id)


@dataclass(frozen=True, slots=True)
class Built:
    spec: dict[str, Any]
    context: DraftContext

    def thread_message_id(self, thread: str) -> str | None:
        """The Message-ID of the last message of `thread`."""
        found = [a for a in self.context.view.activities if a.thread_id == thread]
        return sorted(found, key=lambda a: a.at)[-1].message_id if found else None


def _activity(
    spec: dict[str, Any],
    index: int,
    item: dict[str, Any],
    now: datetime,
    contacts: dict[str, Contact],
    owner: Owner,
    last_in_thread: dict[str, str],
) -> Activity:
    at = now - timedelta(days=float(item["days_ago"]))
    kind = ActivityKind(item["kind"])
    contact = contacts[item.get("contact") or "c1"]
    direction = Direction(item["direction"]) if item.get("direction") else None
    thread = item.get("thread") if kind is ActivityKind.EMAIL else None
    message_id = in_reply_to = None
    sender: str | None = None
    to: Sequence[str] = ()
    if kind is ActivityKind.EMAIL:
        domain = "fernhill-studio.example" if direction is Direction.OUT else "lead.example"
        message_id = f"<{spec['id']}.{index}@{domain}>"
        in_reply_to = last_in_thread.get(thread or "")
        last_in_thread[thread or ""] = message_id
        if direction is Direction.OUT:
            sender = owner.email
            to = item.get("to") or [contact.email or ""]
        else:
            sender = item.get("from") or contact.email
            to = item.get("to") or [owner.email]
    return Activity(
        id=f"a{index}",
        deal_id="d1",
        kind=kind,
        at=at,
        contact_id=contact.id,
        direction=direction,
        subject=item.get("subject"),
        body=item.get("body"),
        outcome=item.get("outcome"),
        thread_id=thread,
        message_id=message_id,
        in_reply_to=in_reply_to,
        from_address=sender,
        to_addresses=tuple(to),
    )


def build(spec: dict[str, Any], *, angles_used: tuple[str, ...] = ()) -> Built:
    now = datetime.fromisoformat(spec["now"].replace("Z", "+00:00"))
    o = spec["owner"]
    owner = Owner(id=o["id"], name=o["name"], email=o["email"], timezone=o["timezone"])
    contacts = {
        c["id"]: Contact(
            id=c["id"],
            name=c["name"],
            email=c["email"],
            company=c.get("company"),
            timezone=c.get("timezone"),
        )
        for c in spec["contacts"]
    }
    d = spec["deal"]
    expires = d.get("quote_expires_days_ago")
    deal = Deal(
        id="d1",
        title=d["title"],
        contact_ids=tuple(contacts),
        owner_id=owner.id,
        stage=d["stage"],
        stage_entered_at=now - timedelta(days=d["stage_days"]),
        source=DealSource(d.get("source", "outbound")),
        value=d.get("value"),
        currency=d.get("currency"),
        quote_expires_at=now - timedelta(days=expires) if expires is not None else None,
        extra=dict(d.get("extra", {})),
    )
    threads: dict[str, str] = {}
    ordered = sorted(spec["activities"], key=lambda a: -float(a["days_ago"]))
    activities = tuple(
        _activity(spec, i, item, now, contacts, owner, threads) for i, item in enumerate(ordered)
    )
    view = DealView(
        deal=deal, contacts=tuple(contacts.values()), owner=owner, activities=activities
    )
    context = DraftContext(
        view=view,
        contact=contacts[spec["recipient"]],
        rule=spec.get("rule"),
        angle=spec.get("angle"),
        reason=spec["reason"],
        evidence=tuple(spec.get("evidence", ())),
        now=now,
        angles_used=angles_used,
        competitors=tuple(spec.get("competitors", ())),
    )
    return Built(spec, context)


def mentions(text: str, alternatives: Sequence[str]) -> bool:
    lowered = text.lower()
    return any(alt.lower() in lowered for alt in alternatives)


def coverage(spec: dict[str, Any], subject: str, body: str) -> tuple[int, int, list[str]]:
    """(must-mention items met, items, the must-not strings found)."""
    text = f"{subject}\n{body}"
    met = sum(1 for item in spec["must_mention"] if mentions(text, item))
    violations = [bad for bad in spec["must_not"] if bad.lower() in text.lower()]
    limit = spec.get("max_questions")
    if limit is not None and len(re.findall(r"\?", body)) > limit:
        violations.append(f"more than {limit} question(s)")
    return met, len(spec["must_mention"]), violations
