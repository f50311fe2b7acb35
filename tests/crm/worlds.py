"""The worlds the contract suite runs in: each holds an account in its vendor's shape, an
adapter pointed at it, and the faults it can stage."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from crm.base import CrmAdapter
from crm.fake import FakeCrm
from crm.local import LocalCrm
from tests.crm.account import STAGES, Account
from triggers.model import (
    Activity,
    ActivityKind,
    Contact,
    Deal,
    DealStatus,
    Direction,
    Owner,
    Pipeline,
)


class World(Protocol):
    name: str
    incremental: bool  # asks only for changes (and can count what it served)
    faults: frozenset[str]  # of "5xx", "timeout", "401", "429"
    waits: list[float]  # what the adapter slept, in seconds
    rate_limit_wait: float  # what the vendor's 429 (staged by `fault("429")`) asks for

    @property
    def adapter(self) -> CrmAdapter: ...

    def load(self, account: Account) -> None: ...

    def rename(self, deal_id: str, title: str, at: datetime) -> None: ...

    def delete(self, deal_id: str, at: datetime) -> None: ...

    def add_malformed(self, at: datetime) -> str:
        """Add one deal the adapter cannot map; its id."""

    def fault(self, kind: str) -> None: ...

    def served_deals(self) -> int:
        """Deal records the vendor served since the last call (incremental worlds)."""


def normalized(account: Account) -> Pipeline:
    """The account as the local file and the fake hold it (a proposal stage carries its
    proposal_sent, as the vendors' mapping derives it)."""
    owners = tuple(Owner(o.id, f"{o.first} {o.last}", o.email) for o in account.owners)
    contacts = tuple(
        Contact(c.id, f"{c.first} {c.last}", c.email, company=c.company) for c in account.contacts
    )
    deals = tuple(
        Deal(
            id=d.id,
            title=d.title,
            contact_ids=d.contacts,
            owner_id=d.owner,
            stage=STAGES[d.stage],
            stage_entered_at=d.entered,
            status=DealStatus(d.status),
            value=d.amount,
            currency="USD",
        )
        for d in account.deals
    )
    kinds = {
        "email_in": (ActivityKind.EMAIL, Direction.IN),
        "email_out": (ActivityKind.EMAIL, Direction.OUT),
        "call": (ActivityKind.CALL, None),
        "meeting": (ActivityKind.MEETING, None),
        "note": (ActivityKind.NOTE, None),
    }
    activities = [
        Activity(
            id=a.id,
            deal_id=a.deal,
            kind=kinds[a.kind][0],
            direction=kinds[a.kind][1],
            at=a.at,
            contact_id=a.contact,
            subject=a.subject or None,
            body=a.body or None,
            scheduled_for=a.scheduled_for,
        )
        for a in account.activities
    ]
    activities += [
        Activity(f"{d.id}:stage", d.id, ActivityKind.PROPOSAL_SENT, d.entered, d.contacts[0])
        for d in account.deals
        if d.stage == "proposal"
    ]
    return Pipeline(owners, contacts, deals, tuple(activities))


class FakeWorld:
    name = "fake"
    incremental = False
    faults = frozenset({"5xx"})
    rate_limit_wait = 0.0

    def __init__(self, tmp: Path) -> None:
        self.crm = FakeCrm(Pipeline())
        self.waits: list[float] = []

    @property
    def adapter(self) -> CrmAdapter:
        return self.crm

    def load(self, account: Account) -> None:
        self.crm.pipeline = normalized(account)

    def rename(self, deal_id: str, title: str, at: datetime) -> None:
        p = self.crm.pipeline
        deals = tuple(replace(d, title=title) if d.id == deal_id else d for d in p.deals)
        self.crm.pipeline = replace(p, deals=deals)

    def delete(self, deal_id: str, at: datetime) -> None:
        p = self.crm.pipeline
        self.crm.pipeline = replace(
            p,
            deals=tuple(d for d in p.deals if d.id != deal_id),
            activities=tuple(a for a in p.activities if a.deal_id != deal_id),
        )
        self.crm.deleted.add(deal_id)

    def add_malformed(self, at: datetime) -> str:
        self.crm.malformed.append("39")
        return "39"

    def fault(self, kind: str) -> None:
        self.crm.down = True

    def served_deals(self) -> int:
        return len(self.crm.pipeline.deals)


class LocalWorld:
    name = "local"
    incremental = False
    faults = frozenset({"5xx"})  # an unreadable file stands for an outage
    rate_limit_wait = 0.0

    def __init__(self, tmp: Path) -> None:
        self.path = tmp / "pipeline.json"
        self.crm = LocalCrm(self.path, shift=False)
        self.waits: list[float] = []

    @property
    def adapter(self) -> CrmAdapter:
        return self.crm

    def _read(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.path.read_text())
        return document

    def _write(self, document: dict[str, Any]) -> None:
        self.path.write_text(json.dumps(document))

    def load(self, account: Account) -> None:
        from crm.local import dump_pipeline

        self._write(dump_pipeline(normalized(account)))

    def rename(self, deal_id: str, title: str, at: datetime) -> None:
        document = self._read()
        for deal in document["deals"]:
            if deal["id"] == deal_id:
                deal["title"] = title
        self._write(document)

    def delete(self, deal_id: str, at: datetime) -> None:
        document = self._read()
        document["deals"] = [d for d in document["deals"] if d["id"] != deal_id]
        document["activities"] = [a for a in document["activities"] if a["deal_id"] != deal_id]
        self._write(document)

    def add_malformed(self, at: datetime) -> str:
        document = self._read()
        document["deals"].append(
            {
                "id": "39",
                "title": "No time",
                "contact_ids": ["21"],
                "owner_id": "11",
                "stage": "Qualified",
                "stage_entered_at": "2026-11-03T09:00:00",
            }
        )
        self._write(document)
        return "39"

    def fault(self, kind: str) -> None:
        self.path.write_text("{ not json")

    def served_deals(self) -> int:
        return len(self._read()["deals"])
