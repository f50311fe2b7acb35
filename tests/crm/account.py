"""One small sales account, written once in neutral terms; each world (local file, in-memory
fake, loopback HubSpot, loopback Pipedrive) puts it into its vendor's shape, and the contract
suite checks that every adapter maps it back to the same pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=14)

# Neutral stage keys, with the label each vendor shows.
STAGES = {"qualified": "Qualified", "proposal": "Proposal Sent", "won": "Closed Won"}


@dataclass(frozen=True, slots=True)
class AOwner:
    id: str
    first: str
    last: str
    email: str


@dataclass(frozen=True, slots=True)
class AContact:
    id: str
    first: str
    last: str
    email: str
    company: str


@dataclass(frozen=True, slots=True)
class ADeal:
    id: str
    title: str
    owner: str
    contacts: tuple[str, ...]
    stage: str  # a key of STAGES
    entered: datetime
    amount: float
    status: str = "open"  # open, won, lost


@dataclass(frozen=True, slots=True)
class AActivity:
    id: str
    deal: str
    contact: str
    kind: str  # email_in, email_out, call, meeting, note
    at: datetime
    subject: str = ""
    body: str = ""
    scheduled_for: datetime | None = None


@dataclass(slots=True)
class Account:
    owners: list[AOwner] = field(default_factory=list)
    contacts: list[AContact] = field(default_factory=list)
    deals: list[ADeal] = field(default_factory=list)
    activities: list[AActivity] = field(default_factory=list)


def small_account() -> Account:
    day = timedelta(days=1)
    return Account(
        owners=[AOwner("11", "Maya", "Chen", "maya@northwind.studio")],
        contacts=[
            AContact("21", "Jordan", "Lee", "jordan@globex.example", "Globex"),
            AContact("22", "Sam", "Park", "sam@initech.example", "Initech"),
        ],
        deals=[
            ADeal("31", "Globex website rebuild", "11", ("21",), "proposal", T0 + day, 18000),
            ADeal("32", "Initech audit", "11", ("22",), "qualified", T0 + 2 * day, 5000),
            ADeal("33", "Initech retainer", "11", ("22",), "won", T0, 9000, status="won"),
        ],
        activities=[
            AActivity("41", "31", "21", "email_out", T0 + day, "Proposal", "Here it is."),
            AActivity("42", "31", "21", "email_in", T0 + 3 * day, "Re: Proposal", "Thanks."),
            AActivity("43", "32", "22", "call", T0 + 4 * day, body="Discussed scope"),
            AActivity(
                "44", "32", "22", "meeting", T0 + 5 * day, "Kick-off", scheduled_for=T0 + 9 * day
            ),
            AActivity("45", "31", "21", "note", T0 + 6 * day, body="Sent pricing"),
        ],
    )
