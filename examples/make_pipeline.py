"""Generate examples/pipeline.json, the sample pipeline of the demo.

    python examples/make_pipeline.py            # rewrite examples/pipeline.json
    python examples/make_pipeline.py --check    # validate the committed file, change nothing

Every time is written as a local wall-clock time in the zone of whoever acted (the owner for
what we send, the contact for what they send) and stored as an ISO 8601 instant with its
offset. All of it is laid out relative to `RELATIVE_TO`, a Friday afternoon; the local CRM
adapter shifts every time by (now - relative_to) when it loads the demo, so the same deals
are due on any date; it moves the dates and weekdays written inside subjects and bodies
("Tuesday 3 Nov", "the 23rd", "valid until Monday 16 November") by the same days, so a reader
(or a model) never sees an email contradict its own timestamp. The intent per deal (which rule
fires at RELATIVE_TO, or why none does) is in `INTENT` below and in each deal's
`extra.demo_intent`.

Studio, people, companies and domains are fictional; every domain is under `.example`.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

RELATIVE_TO = "2026-11-20T15:00:00Z"
OUT = Path(__file__).with_name("pipeline.json")
STUDIO = "fernhill-studio.example"
HELLO = f"hello@{STUDIO}"

BER = "Europe/Berlin"
LON = "Europe/London"
VIE = "Europe/Vienna"
NYC = "America/New_York"
LAX = "America/Los_Angeles"
SIN = "Asia/Singapore"
SYD = "Australia/Sydney"

# What each deal is for, as of RELATIVE_TO (the demo's "now").
INTENT: dict[str, str] = {
    "d01": "due: proposal_no_reply (proposal Mon 16 Nov, no reply)",
    "d02": "due: proposal_no_reply (proposal Wed 11 Nov, nudge Mon 16 Nov, no reply)",
    "d03": "due: proposal_no_reply (proposal Tue 17 Nov Sydney time, no reply)",
    "d04": "due: call_no_next_step (call Wed 18 Nov, nothing booked or sent since)",
    "d05": "due: call_no_next_step (call Tue 17 Nov, contact has no time zone: owner's applies)",
    "d06": "due: stage_stale (qualified since 26 Oct, last touch 29 Oct)",
    "d07": "due: stage_stale (negotiation, 10-day window; last touch 4 Nov)",
    "d08": "due: stage_stale (discovery since 15 Oct, last touch 27 Oct)",
    "d09": "due: quote_expired (quote expired Mon 16 Nov, nothing sent since)",
    "d10": "due: quote_expired (quote expired Thu 19 Nov, nothing sent since)",
    "d11": "not due: quote sent Wed 18 Nov, valid until 4 Dec; proposal was answered",
    "d12": "due: lead_no_reply (inbound lead answered once on 12 Nov, silence since)",
    "d13": "due: lead_no_reply (answered 16 Nov, one follow-up 18 Nov, silence since)",
    "d14": "not due: lead_no_reply exhausted (answered, then 3 follow-ups unanswered)",
    "d15": "not due: ball in our court (latest message is the lead's, Thu 19 Nov)",
    "d16": "not due: next step exists (workshop booked for Tue 24 Nov)",
    "d17": "not due: proposal answered (reply 17 Nov, we acknowledged)",
    "d18": "not due: call recap sent the same day (touch after the call)",
    "d19": "not due: quote expired 13 Nov but the final outreach went out 16 Nov",
    "d20": "not due: parked (would be proposal_no_reply if open)",
    "d21": "not due: on_hold (client budget freeze until January)",
    "d22": "not due: won",
    "d23": "not due: lost",
    "d24": "not due: only contact opted out (do_not_contact), so no primary contact",
    "d25": "not due: recent activity (negotiation, we replied Thu 19 Nov)",
}


def when(local: str, zone: str) -> datetime:
    """`2026-11-16 15:00` wall-clock in `zone` -> aware datetime."""
    return datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(zone))


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


owners: list[dict[str, Any]] = [
    {
        "id": "u1",
        "name": "Maya Chen",
        "email": f"maya@{STUDIO}",
        "slack_user_id": "U04MAYACHEN",
        "timezone": NYC,
    },
    {
        "id": "u2",
        "name": "Jonas Albrecht",
        "email": f"jonas@{STUDIO}",
        "slack_user_id": "U04JONASALB",
        "timezone": BER,
    },
]
OWNER_TZ = {o["id"]: o["timezone"] for o in owners}
OWNER_EMAIL = {o["id"]: o["email"] for o in owners}
OWNER_FIRST = {o["id"]: o["name"].split()[0] for o in owners}

contacts: list[dict[str, Any]] = []


def contact(
    cid: str,
    name: str,
    email: str,
    company: str,
    tz: str | None,
    *,
    title: str,
    alt: tuple[str, ...] = (),
    status: str = "active",
) -> None:
    record: dict[str, Any] = {
        "id": cid,
        "name": name,
        "email": email,
        "alt_emails": list(alt),
        "company": company,
        "timezone": tz,
        "status": status,
        "title": title,
    }
    contacts.append(record)


contact(
    "c01",
    "Lena Hoffmann",
    "lena.hoffmann@brightwater-logistik.example",
    "Brightwater Logistik GmbH",
    BER,
    title="Head of Marketing",
    alt=("l.hoffmann@brightwater-mail.example",),
)
contact(
    "c02",
    "Oliver Grant",
    "oliver.grant@kestrel-brokers.example",
    "Kestrel Insurance Brokers Ltd",
    LON,
    title="Head of Digital",
)
contact(
    "c03",
    "Priya Nair",
    "priya.nair@saltbushhealth.example",
    "Saltbush Health",
    SYD,
    title="Operations Lead",
)
contact(
    "c04",
    "Mark Ellison",
    "mark.ellison@saltbushhealth.example",
    "Saltbush Health",
    SYD,
    title="CFO",
)
contact(
    "c05",
    "Dana Ortiz",
    "dana@redwoodtrail.example",
    "Redwood Trail Outfitters",
    LAX,
    title="Director of E-commerce",
)
contact(
    "c06",
    "Sam Whitfield",
    "swhitfield@copperline-cu.example",
    "Copperline Credit Union",
    None,
    title="Digital Services Manager",
)
contact(
    "c07",
    "Felix Brandt",
    "felix.brandt@nordlicht-energie.example",
    "Nordlicht Energie AG",
    BER,
    title="Product Owner, Customer Portal",
)
contact(
    "c08",
    "Hannah Reiter",
    "h.reiter@alpenrose-hotels.example",
    "Alpenrose Hotels",
    VIE,
    title="Head of E-Commerce",
)
contact(
    "c09",
    "Stefan Maier",
    "s.maier@alpenrose-hotels.example",
    "Alpenrose Hotels",
    VIE,
    title="Procurement",
)
contact(
    "c10",
    "Tom Bradley",
    "tom.bradley@marlowpike.example",
    "Marlow & Pike Publishing",
    LON,
    title="Digital Publishing Manager",
)
contact(
    "c11",
    "Tan Wei Ling",
    "weiling.tan@vantagefreight.example",
    "Vantage Freight Pte Ltd",
    SIN,
    title="Operations Director",
    alt=("wl.tan@vantagefreight-sg.example",),
)
contact(
    "c12",
    "Rachel Okafor",
    "rachel.okafor@harrowgate-dental.example",
    "Harrowgate Dental Group",
    LON,
    title="Practice Group Manager",
    alt=("r.okafor@hdg-practices.example",),
)
contact(
    "c13",
    "Kevin Marsh",
    "kmarsh@tidewater-analytics.example",
    "Tidewater Analytics",
    LAX,
    title="VP Operations",
)
contact(
    "c14", "Arjun Mehta", "arjun@lumenpay.example", "Lumen Pay Pte Ltd", SIN, title="Growth Lead"
)
contact(
    "c15",
    "Ellie Parkinson",
    "ellie@quarrylanebakery.example",
    "Quarry Lane Bakeries",
    LON,
    title="Founder",
)
contact(
    "c16",
    "Jack Nguyen",
    "jack@bondiphysio.example",
    "Bondi Physio Collective",
    SYD,
    title="Practice Owner",
)
contact(
    "c17",
    "Nadia Kowalski",
    "nadia@greyhaven-architects.example",
    "Greyhaven Architects",
    LON,
    title="Studio Manager",
)
contact(
    "c18",
    "Claire Dubois",
    "cdubois@juniperridge.example",
    "Juniper Ridge Schools Foundation",
    LAX,
    title="Director of Development",
)
contact(
    "c19",
    "Sofie Lindqvist",
    "sofie@fjordandpine.example",
    "Fjord & Pine Interiors",
    BER,
    title="Co-founder",
)
contact(
    "c20",
    "Miriam Schulte",
    "m.schulte@elbtal-kultur.example",
    "Elbtal Kulturstiftung",
    BER,
    title="Data & CRM Lead",
)
contact(
    "c21",
    "Brian Costa",
    "bcosta@summitridgecredit.example",
    "Summit Ridge Credit",
    LAX,
    title="Marketing Director",
)
contact(
    "c22",
    "Victoria Hale",
    "victoria.hale@oakmoor-estates.example",
    "Oakmoor Estates",
    LON,
    title="Marketing Manager",
)
contact(
    "c23",
    "Amelia Brooks",
    "amelia.brooks@kingfishercare.example",
    "Kingfisher Care Homes",
    SYD,
    title="Learning & Development Manager",
)
contact(
    "c24",
    "Daniel Koh",
    "daniel@merlioncraft.example",
    "Merlion Craft Brewing",
    SIN,
    title="Managing Director",
)
contact(
    "c25",
    "Henry Cartwright",
    "h.cartwright@ashcombe-legal.example",
    "Ashcombe Legal LLP",
    LON,
    title="Business Development Partner",
)
contact(
    "c26",
    "Chloe Adams",
    "chloe.adams@sablereed.example",
    "Sable & Reed Recruitment",
    LON,
    title="Marketing Lead",
    status="do_not_contact",
)
contact(
    "c27",
    "Ravi Shah",
    "ravi.shah@hollowbrookfoods.example",
    "Hollowbrook Foods",
    LON,
    title="Head of Data",
)
contact(
    "c28",
    "Ines Carvalho",
    "ines.carvalho@hollowbrookfoods.example",
    "Hollowbrook Foods",
    LON,
    title="Finance Business Partner",
)
contact(
    "c29",
    "Tobias Krüger",
    "tobias.krueger@brightwater-logistik.example",
    "Brightwater Logistik GmbH",
    BER,
    title="IT Lead",
)
contact(
    "c30",
    "Grace Lim",
    "accounts@merlioncraft.example",
    "Merlion Craft Brewing",
    SIN,
    title="Finance & Accounts",
)

CONTACT = {c["id"]: c for c in contacts}

deals: list[dict[str, Any]] = []


def deal(
    did: str,
    title: str,
    contact_ids: list[str],
    owner: str,
    stage: str,
    stage_entered: datetime,
    *,
    value: int,
    currency: str,
    status: str = "open",
    source: str = "outbound",
    quote_expires: datetime | None = None,
    service: str,
) -> None:
    deals.append(
        {
            "id": did,
            "title": title,
            "contact_ids": contact_ids,
            "owner_id": owner,
            "stage": stage,
            "stage_entered_at": iso(stage_entered),
            "status": status,
            "source": source,
            "quote_expires_at": iso(quote_expires) if quote_expires else None,
            "value": value,
            "currency": currency,
            "service": service,
            "demo_intent": INTENT[did],
        }
    )


DEAL_OWNER: dict[str, str] = {}
activities: list[dict[str, Any]] = []
_counter = 0


def _mid(moment: datetime, domain: str) -> str:
    global _counter
    _counter += 1
    stamp = moment.astimezone(UTC).strftime("%Y%m%d%H%M%S")
    return f"<{stamp}.{_counter:04d}@{domain}>"


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[1]


class Thread:
    """One email conversation on a deal; each message replies to the previous one."""

    def __init__(self, did: str, n: int, subject: str) -> None:
        self.did = did
        self.id = f"thr-{did}-{n}"
        self.subject = subject
        self.last: str | None = None
        self.replies = 0

    def _subject(self) -> str:
        return self.subject if self.last is None else f"Re: {self.subject}"

    def out(
        self,
        local: str,
        cid: str,
        body: str,
        *,
        to: list[str] | None = None,
        subject: str | None = None,
    ) -> str:
        owner = DEAL_OWNER[self.did]
        moment = when(local, OWNER_TZ[owner])
        mid = _mid(moment, STUDIO)
        activities.append(
            {
                "deal_id": self.did,
                "contact_id": cid,
                "kind": "email",
                "direction": "out",
                "at": iso(moment),
                "subject": subject or self._subject(),
                "body": body.strip(),
                "thread_id": self.id,
                "message_id": mid,
                "in_reply_to": self.last,
                "from": OWNER_EMAIL[owner],
                "to": to or [CONTACT[cid]["email"]],
            }
        )
        self.last = mid
        return mid

    def inbound(
        self,
        local: str,
        cid: str,
        body: str,
        *,
        sender: str | None = None,
        to: list[str] | None = None,
        subject: str | None = None,
    ) -> str:
        c = CONTACT[cid]
        address = sender or c["email"]
        zone = c["timezone"] or OWNER_TZ[DEAL_OWNER[self.did]]
        moment = when(local, zone)
        mid = _mid(moment, _domain(address))
        activities.append(
            {
                "deal_id": self.did,
                "contact_id": cid,
                "kind": "email",
                "direction": "in",
                "at": iso(moment),
                "subject": subject or self._subject(),
                "body": body.strip(),
                "thread_id": self.id,
                "message_id": mid,
                "in_reply_to": self.last,
                "from": address,
                "to": to or [OWNER_EMAIL[DEAL_OWNER[self.did]]],
            }
        )
        self.last = mid
        return mid


def _owner_time(did: str, local: str) -> datetime:
    return when(local, OWNER_TZ[DEAL_OWNER[did]])


def call(did: str, local: str, cid: str, subject: str, notes: str, outcome: str) -> None:
    activities.append(
        {
            "deal_id": did,
            "contact_id": cid,
            "kind": "call",
            "at": iso(_owner_time(did, local)),
            "subject": subject,
            "body": notes.strip(),
            "outcome": outcome,
        }
    )


def meeting(did: str, booked: str, held: str, cid: str, subject: str, agenda: str) -> None:
    activities.append(
        {
            "deal_id": did,
            "contact_id": cid,
            "kind": "meeting",
            "at": iso(_owner_time(did, booked)),
            "scheduled_for": iso(_owner_time(did, held)),
            "subject": subject,
            "body": agenda.strip(),
        }
    )


def sent(did: str, kind: str, local: str, cid: str, subject: str, body: str) -> None:
    """A proposal_sent or quote_sent (a touch), logged by the CRM with its covering note."""
    activities.append(
        {
            "deal_id": did,
            "contact_id": cid,
            "kind": kind,
            "at": iso(_owner_time(did, local)),
            "subject": subject,
            "body": body.strip(),
        }
    )


def note(did: str, local: str, cid: str | None, body: str) -> None:
    activities.append(
        {
            "deal_id": did,
            "contact_id": cid,
            "kind": "note",
            "at": iso(_owner_time(did, local)),
            "body": body.strip(),
        }
    )


def owns(did: str, owner: str) -> str:
    DEAL_OWNER[did] = owner
    return did


# ---------------------------------------------------------------------------------------------
# d01 Brightwater Logistik: website rebuild. proposal_no_reply due.
d = owns("d01", "u2")
t = Thread(d, 1, "Brightwater's website and the new Hamburg depot")
t.out(
    "2026-10-27 10:05",
    "c01",
    """
Hallo Lena,

congratulations on opening the Hamburg depot, I saw the announcement on LinkedIn. I had a look
at brightwater-logistik.example while I was there: the depot finder still lists six sites and
the quote form breaks on mobile at the postcode step.

We're a small studio that rebuilds websites for logistics and industrial firms (most recently
for a cold-chain operator in Bremen). Would a 30-minute call to compare notes be useful? No
pitch deck, I promise.

Best,
Jonas
""",
)
t.inbound(
    "2026-10-28 08:47",
    "c01",
    """
Hi Jonas,

funny timing. The site runs on a TYPO3 version nobody here wants to touch and our agency
contract ended in the summer. Tobias (IT) and I have been talking about a rebuild for Q1.

Next week Tuesday afternoon would work for a call.

Viele Grüße
Lena

Sent from my phone
""",
    sender="l.hoffmann@brightwater-mail.example",
)
t.out(
    "2026-10-28 11:20",
    "c01",
    """
Hi Lena,

Tuesday 3 Nov at 14:00 works; I'll call you on the number in your signature. If Tobias can
join for the last 10 minutes, we can cover hosting and the TYPO3 export as well.

Jonas
""",
    to=["l.hoffmann@brightwater-mail.example"],
)
call(
    d,
    "2026-11-03 14:00",
    "c01",
    "Discovery call: Brightwater website",
    """
40 min with Lena, Tobias joined at the end.
- TYPO3 9, ~140 pages, ~400 PDF spec sheets, DE + EN. Quote form is their main lead source
  (~60 requests/month, half from mobile).
- Pain: depot finder maintained by hand, no analytics they trust, slow on mobile.
- Budget "mid five figures", wants launch before the trade fair in April.
- Tobias wants EU hosting and SSO for editors.
Next: content & sitemap workshop in person, then proposal.
""",
    "connected",
)
meeting(
    d,
    "2026-11-03 14:40",
    "2026-11-10 10:00",
    "c01",
    "Workshop: sitemap & content audit (Brightwater, Berlin office)",
    """
Agenda: sitemap walk-through, quote-form flow, PDF library, editor roles, hosting constraints.
Attendees: Lena Hoffmann, Tobias Krüger, Jonas Albrecht.
""",
)
t2 = Thread(d, 2, "Workshop notes and next steps")
t2.out(
    "2026-11-10 16:00",
    "c01",
    """
Hi Lena, hi Tobias,

thanks for the morning. Notes are attached; the short version:
1. Keep the URL structure for the top 30 pages (they carry most organic traffic).
2. Quote form becomes three steps with postcode lookup; requests go to the existing inbox.
3. Depot finder fed from the ERP export Tobias showed us.

I'll send the proposal by Monday.

Jonas
""",
    to=[
        "lena.hoffmann@brightwater-logistik.example",
        "tobias.krueger@brightwater-logistik.example",
    ],
)
t2.inbound(
    "2026-11-11 09:12",
    "c01",
    """
Great session, thank you. Could you include the cost of migrating the ~400 PDFs as a separate
line? Procurement will ask.

Lena
""",
)
t2.out(
    "2026-11-11 09:40",
    "c01",
    """
Will do, it'll be its own line item (with and without re-tagging). Proposal on Monday.

Jonas
""",
)
sent(
    d,
    "proposal_sent",
    "2026-11-16 15:00",
    "c01",
    "Proposal: Brightwater website rebuild",
    """
Hi Lena,

attached is our proposal for the rebuild: discovery already done, design and build in three
sprints, launch mid-March, two weeks of hypercare. EUR 38,000 fixed, plus EUR 4,200 for the PDF
migration as requested. Happy to walk Tobias through the hosting section separately.

Jonas
""",
)
deal(
    d,
    "Brightwater Logistik: website rebuild",
    ["c01", "c29"],
    "u2",
    "proposal",
    when("2026-11-16 15:00", BER),
    value=42200,
    currency="EUR",
    service="website rebuild",
)

# ---------------------------------------------------------------------------------------------
# d02 Kestrel Insurance Brokers: analytics & CRM data audit. proposal_no_reply due.
d = owns("d02", "u2")
t = Thread(d, 1, "Attribution after GA4: the session from the MeasureCamp")
t.out(
    "2026-10-29 10:30",
    "c02",
    """
Hi Oliver,

good to meet you at MeasureCamp London. You mentioned that since the GA4 move nobody at Kestrel
trusts the lead-source numbers, and that the CRM and GA4 disagree by about 40%.

That gap is usually three or four fixable things (consent mode, a broken cross-domain setup,
duplicate CRM records). We do a fixed-price audit that finds them in two weeks. Worth a call?

Jonas Albrecht
Fernhill Studio
""",
)
t.inbound(
    "2026-10-30 12:14",
    "c02",
    """
Hi Jonas,

yes, please. Our board pack this quarter had three different "leads" numbers in it, which was
a fun meeting. Wednesday 4th at noon?

Oliver
""",
)
t.out(
    "2026-10-30 13:31",
    "c02",
    """
Wednesday 4 Nov, 12:00 UK time is in the diary. Talk then.

Jonas
""",
)
call(
    d,
    "2026-11-04 13:00",
    "c02",
    "Discovery call: Kestrel data audit",
    """
Oliver + their Salesforce admin (Priyanka).
- GA4 (no server-side tagging), Salesforce Sales Cloud, quote engine on a subdomain.
- Cross-domain tracking missing between site and quote engine: likely the 40% gap.
- ~9k duplicate leads in Salesforce from a 2024 import.
- Wants findings before budget round in December.
Next: read-only access to GA4 + Salesforce report, then proposal.
""",
    "connected",
)
t.out(
    "2026-11-04 17:10",
    "c02",
    """
Hi Oliver,

thanks for the time today. As discussed, to scope the audit properly we need read-only access
to the GA4 property and a Salesforce report of leads created since January (no personal data
needed, IDs and source fields are enough).

Jonas
""",
    subject="Kestrel audit: access for scoping",
)
t.inbound(
    "2026-11-06 09:05",
    "c02",
    """
Done: you should have Viewer on GA4 and Priyanka has shared the report. Shout if anything's
missing.

Oliver
""",
    subject="Re: Kestrel audit: access for scoping",
)
t.out(
    "2026-11-06 10:20",
    "c02",
    """
Got both, thank you. Proposal early next week.

Jonas
""",
    subject="Re: Kestrel audit: access for scoping",
)
sent(
    d,
    "proposal_sent",
    "2026-11-11 11:00",
    "c02",
    "Proposal: Kestrel analytics & CRM data audit",
    """
Hi Oliver,

here's the proposal: a two-week audit of GA4, the quote-engine tracking and the Salesforce lead
data, ending with a findings workshop and a prioritised fix list. GBP 14,500 fixed. We could
start on 23 Nov and present before your December budget round.

Jonas
""",
)
t3 = Thread(d, 3, "Proposal: Kestrel analytics & CRM data audit")
t3.out(
    "2026-11-16 10:30",
    "c02",
    """
Hi Oliver,

just checking the proposal reached you and didn't end up in quarantine (it had a PDF
attached). To present before the December budget round we'd need to start on the 23rd.

Jonas
""",
    subject="Re: Proposal: Kestrel analytics & CRM data audit",
)
deal(
    d,
    "Kestrel Insurance Brokers: analytics & CRM data audit",
    ["c02"],
    "u2",
    "proposal",
    when("2026-11-11 11:00", BER),
    value=14500,
    currency="GBP",
    service="data audit",
)

# ---------------------------------------------------------------------------------------------
# d03 Saltbush Health: analytics training for clinic managers. proposal_no_reply due.
d = owns("d03", "u1")
t = Thread(d, 1, "Intro via Tessa Grayson: reporting training for clinic managers")
t.out(
    "2026-11-04 17:30",
    "c03",
    """
Hi Priya,

Tessa Grayson suggested I get in touch; she mentioned your clinic managers are getting a new
Looker Studio dashboard in the new year and nobody has been shown how to use it.

We run half-day, hands-on sessions for exactly that: managers leave able to answer their own
questions from the dashboard. Happy to share how we ran it for a physio group in Melbourne.

Best,
Maya Chen
Fernhill Studio
""",
)
t.inbound(
    "2026-11-05 11:02",
    "c03",
    """
Hi Maya,

thanks for reaching out, Tessa speaks highly of you. We have 12 clinic managers across NSW and
the ACT, most of whom live in spreadsheets. Could we talk early next week? Tuesday morning my
time is best.

Priya
""",
)
t.out(
    "2026-11-05 18:15",
    "c03",
    """
Tuesday 10 Nov, 9:00 Sydney time (Monday 5pm for me) works. I've sent an invite.

Maya
""",
)
meeting(
    d,
    "2026-11-05 18:20",
    "2026-11-09 17:00",
    "c03",
    "Video call: clinic manager training scope",
    """
Scope of training: number of sessions, in person vs. online, dashboard readiness, budget.
""",
)
t.inbound(
    "2026-11-11 14:05",
    "c04",
    """
Hi Maya,

Priya looped me in. Before this goes further, could the proposal show the price per
participant and whether it can be delivered before 30 June? We'd fund it from this financial
year's training budget.

Regards,
Mark Ellison
CFO, Saltbush Health
""",
    to=["maya@fernhill-studio.example", "priya.nair@saltbushhealth.example"],
)
t.out(
    "2026-11-11 19:00",
    "c04",
    """
Hi Mark, hi Priya,

absolutely: per-participant pricing, and delivery in February and March, well before 30 June.
You'll have the proposal early next week.

Maya
""",
    to=["mark.ellison@saltbushhealth.example", "priya.nair@saltbushhealth.example"],
)
sent(
    d,
    "proposal_sent",
    "2026-11-16 17:00",
    "c03",
    "Proposal: Looker Studio training for Saltbush clinic managers",
    """
Hi Priya, hi Mark,

attached: two half-day sessions (online, groups of six) plus a one-hour clinic per manager four
weeks later. AUD 1,830 per participant, AUD 21,960 for twelve. Delivery February–March 2027.

Maya
""",
)
deal(
    d,
    "Saltbush Health: analytics training for clinic managers",
    ["c03", "c04"],
    "u1",
    "proposal",
    when("2026-11-16 17:00", NYC),
    value=21960,
    currency="AUD",
    service="training",
)

# ---------------------------------------------------------------------------------------------
# d04 Redwood Trail Outfitters: Shopify Plus migration. call_no_next_step due.
d = owns("d04", "u1")
t = Thread(d, 1, "Magento license renewal in March?")
t.out(
    "2026-11-09 10:15",
    "c05",
    """
Hi Dana,

I noticed Redwood Trail is hiring a Magento developer. If the reason is the March renewal and
the upgrade that comes with it, it might be worth comparing with a move to Shopify Plus: we've
migrated three outdoor retailers in the last two years, catalogues of 5–15k SKUs.

Open to a 30-minute call?

Maya
""",
)
t.inbound(
    "2026-11-10 09:02",
    "c05",
    """
Hi Maya,

good timing. We're on Magento 2.4 and the renewal quote just came in. Can we talk Wednesday
the 18th? Mornings are best before the warehouse gets busy.

Dana
""",
)
t.out(
    "2026-11-10 13:30",
    "c05",
    """
Wednesday 18 Nov at 8:00 Pacific works. I'll call your cell; invite on its way.

Maya
""",
)
call(
    d,
    "2026-11-18 11:00",
    "c05",
    "Discovery call: Redwood Trail replatform",
    """
45 min with Dana.
- Magento 2.4.5, ~11k SKUs, 3 warehouses, NetSuite ERP (Celigo connector today).
- Renewal due 31 March; they'd rather migrate than renew if it's realistic.
- Peak is Black Friday through Christmas: no launch or freeze before mid-January.
- Decision: Dana + CFO. Budget not set; asked for a ballpark and a timeline.
- Concern: SEO loss on migration (they lost traffic in a 2021 redesign).
Told her I'd send a ballpark with an SEO migration plan outline.
""",
    "interested",
)
deal(
    d,
    "Redwood Trail Outfitters: Shopify Plus migration",
    ["c05"],
    "u1",
    "discovery",
    when("2026-11-10 13:30", NYC),
    value=42000,
    currency="USD",
    service="website rebuild",
)

# ---------------------------------------------------------------------------------------------
# d05 Copperline Credit Union: accessibility audit. call_no_next_step due (contact has no tz).
d = owns("d05", "u1")
t = Thread(d, 1, "WCAG 2.2 audit for copperline-cu.example")
t.out(
    "2026-11-06 11:00",
    "c06",
    """
Hi Sam,

a quick automated scan of copperline-cu.example flags 37 WCAG 2.2 AA issues, mostly in the
loan application (focus order and error messages). Credit unions have been getting demand
letters about exactly these. We do a fixed-price manual audit with a remediation plan your
developers can work from.

Would a short call be useful?

Maya Chen
""",
)
t.inbound(
    "2026-11-09 08:50",
    "c06",
    """
Maya,

we got a demand letter last year, so yes, this is on our radar. Tuesday 17th, 9:30 Eastern?

Sam Whitfield
Digital Services Manager, Copperline Credit Union
""",
)
t.out(
    "2026-11-09 15:20",
    "c06",
    """
Tuesday 17 Nov at 9:30 ET is booked. I'll call your desk line.

Maya
""",
)
call(
    d,
    "2026-11-17 09:30",
    "c06",
    "Call: Copperline accessibility audit",
    """
25 min with Sam.
- Site on a vendor CMS (Banno), loan application is custom.
- Last year's demand letter settled; board wants an audit on file before Q1.
- Needs board approval for anything above $15k; next board meeting 10 Dec.
- Asked for a one-page scope he can put in the board pack.
""",
    "needs_approval",
)
deal(
    d,
    "Copperline Credit Union: accessibility audit (WCAG 2.2)",
    ["c06"],
    "u1",
    "qualified",
    when("2026-11-09 15:20", NYC),
    value=16500,
    currency="USD",
    service="accessibility audit",
)

# ---------------------------------------------------------------------------------------------
# d06 Nordlicht Energie: customer portal UX review. stage_stale due (qualified).
d = owns("d06", "u2")
t = Thread(d, 1, "Customer portal: the meter-reading flow")
t.out(
    "2026-10-21 10:00",
    "c07",
    """
Hallo Felix,

I tried submitting a meter reading on the Nordlicht customer portal on my phone: seven screens,
and the photo upload failed twice. We do short UX reviews for utilities' self-service portals,
with usability tests on real customers. Would you be open to a call?

Jonas
""",
)
t.inbound(
    "2026-10-22 16:40",
    "c07",
    """
Hi Jonas,

you're not the only one; it's our second-biggest reason for calls to the service centre. Let's
talk on Monday the 26th at 11.

Felix
""",
)
t.out("2026-10-22 17:05", "c07", "Monday 26 Oct, 11:00 is booked. Talk then.\n\nJonas")
call(
    d,
    "2026-10-26 11:00",
    "c07",
    "Call: Nordlicht portal UX review",
    """
30 min with Felix.
- ~310k portal users; meter reading and address change drive most service calls.
- Product team of 4, two-week sprints, release freeze until mid-November.
- Budget available in Q4/Q1 for "quick wins"; a review with 8 user tests fits.
""",
    "qualified",
)
t.out(
    "2026-10-26 15:30",
    "c07",
    """
Hi Felix,

thanks for the call. As promised, a sketch of the review: 8 moderated tests (meter reading,
address change, bill download), heuristic review, and a prioritised list of fixes sized for
your sprints. Around EUR 12,000.

Jonas
""",
    subject="Portal UX review: outline",
)
t.inbound(
    "2026-10-29 09:10",
    "c07",
    """
Thanks Jonas, looks sensible. We're in a release freeze until mid-November; can you get back
to me after that?

Felix
""",
    subject="Re: Portal UX review: outline",
)
t.out(
    "2026-10-29 10:02",
    "c07",
    """
Of course, good luck with the release. I'll check in once the freeze is over.

Jonas
""",
    subject="Re: Portal UX review: outline",
)
deal(
    d,
    "Nordlicht Energie: customer portal UX review",
    ["c07"],
    "u2",
    "qualified",
    when("2026-10-26 11:30", BER),
    value=12000,
    currency="EUR",
    service="UX review",
)

# ---------------------------------------------------------------------------------------------
# d07 Alpenrose Hotels: booking engine integration retainer. stage_stale due (negotiation, 10d).
d = owns("d07", "u2")
sent(
    d,
    "proposal_sent",
    "2026-10-14 14:00",
    "c08",
    "Proposal: booking engine integration & care retainer",
    """
Hannah,

attached: integration of the new booking engine across the 9 hotel sites, then a monthly
retainer (24 hours) for changes, monitoring and seasonal campaigns. EUR 4,800 per month.

Jonas
""",
)
t = Thread(d, 1, "Proposal: booking engine integration & care retainer")
t.inbound(
    "2026-10-16 11:25",
    "c08",
    """
Hi Jonas,

we'd like to go ahead. Stefan Maier in procurement will handle contract terms; I've copied him.

Hannah
""",
    to=["jonas@fernhill-studio.example", "s.maier@alpenrose-hotels.example"],
)
t.out(
    "2026-10-16 13:00",
    "c08",
    """
Wonderful news, thank you Hannah. Stefan, I'll send an invite for a short terms call.

Jonas
""",
    to=["h.reiter@alpenrose-hotels.example", "s.maier@alpenrose-hotels.example"],
)
meeting(
    d,
    "2026-10-20 09:30",
    "2026-10-27 10:00",
    "c09",
    "Contract terms call (Alpenrose procurement)",
    """
MSA, SOW, minimum term, liability, payment terms.
""",
)
t2 = Thread(d, 2, "Alpenrose: MSA and SOW")
t2.out(
    "2026-10-28 15:00",
    "c09",
    """
Hello Stefan,

thanks for yesterday's call. Attached are our MSA and the SOW with the 6-month minimum term we
discussed and payment at 30 days.

Best regards,
Jonas Albrecht
""",
)
t2.inbound(
    "2026-11-03 10:45",
    "c09",
    """
Dear Mr Albrecht,

our legal department is reviewing the documents. Clause 9 (limitation of liability) will need
to change: we require a cap of at least 1x the annual fees.

Kind regards
Stefan Maier
Procurement, Alpenrose Hotels
""",
)
t2.out(
    "2026-11-04 10:30",
    "c09",
    """
Dear Mr Maier,

understood. Our insurer allows a cap of 1x annual fees, so I've updated clause 9 accordingly;
the revised MSA is attached. Everything else is unchanged.

Best regards,
Jonas Albrecht
""",
)
deal(
    d,
    "Alpenrose Hotels: booking engine integration & retainer",
    ["c08", "c09"],
    "u2",
    "negotiation",
    when("2026-10-27 11:00", BER),
    value=57600,
    currency="EUR",
    service="retainer",
)

# ---------------------------------------------------------------------------------------------
# d08 Marlow & Pike Publishing: content audit. stage_stale due (discovery).
d = owns("d08", "u2")
t = Thread(d, 1, "Your backlist pages and the CMS move")
t.out(
    "2026-10-12 11:00",
    "c10",
    """
Hi Tom,

I read that Marlow & Pike is moving off its old CMS next year. Publishers' backlist pages are
usually where the migration risk hides (thousands of thin pages, some of which still sell).
We do a content audit that tells you what to migrate, merge or retire, with the traffic and
sales data behind each call.

Jonas Albrecht
Fernhill Studio
""",
)
t.inbound(
    "2026-10-14 15:20",
    "c10",
    """
Hi Jonas,

that's exactly the argument we're having internally. Could you come by the office for a
workshop with editorial and marketing? Week of the 19th.

Tom
""",
)
t.out(
    "2026-10-15 11:00",
    "c10",
    """
Gladly. Thursday 22 Oct at 14:00 at your Southwark office. I'll bring a sample analysis of
your 200 most visited backlist pages.

Jonas
""",
)
meeting(
    d,
    "2026-10-15 11:05",
    "2026-10-22 15:00",
    "c10",
    "Discovery workshop (Marlow & Pike, Southwark)",
    """
Content audit scope: backlist, author pages, series pages; data sources (GA4, Nielsen BookScan
exports); decision owners.
""",
)
t.out(
    "2026-10-23 10:30",
    "c10",
    """
Hi Tom,

thanks to you and the team for yesterday. Recap: ~14k URLs, of which ~2,300 get traffic; we'd
classify all of them and deliver a migration map plus redirects. Estimate GBP 9,500, four weeks.

Jonas
""",
    subject="Workshop recap and estimate",
)
t.inbound(
    "2026-10-27 11:20",
    "c10",
    """
Thanks Jonas. I'll circulate this internally and come back to you shortly.

Tom
""",
    subject="Re: Workshop recap and estimate",
)
t.out(
    "2026-10-27 12:45",
    "c10",
    "Thanks Tom, speak soon.\n\nJonas",
    subject="Re: Workshop recap and estimate",
)
deal(
    d,
    "Marlow & Pike Publishing: content audit & migration map",
    ["c10"],
    "u2",
    "discovery",
    when("2026-10-15 11:00", BER),
    value=9500,
    currency="GBP",
    service="content audit",
)

# ---------------------------------------------------------------------------------------------
# d09 Vantage Freight: warehouse dashboard. quote_expired due (expired Mon 16 Nov 23:59 SGT).
d = owns("d09", "u1")
sent(
    d,
    "proposal_sent",
    "2026-10-13 20:00",
    "c11",
    "Proposal: warehouse operations dashboard",
    """
Hi Wei Ling,

as discussed: a live dashboard over the WMS and TMS data for the three Singapore warehouses
(dock utilisation, pick rates, late shipments), built in Power BI with a nightly refresh.

Maya
""",
)
t = Thread(d, 1, "Proposal: warehouse operations dashboard")
t.inbound(
    "2026-10-14 10:30",
    "c11",
    """
Hi Maya,

looks good. Finance needs a formal quotation on your letterhead, in SGD, before they can raise
the PO. Could we also do a short call to confirm the scope?

Wei Ling
""",
    sender="wl.tan@vantagefreight-sg.example",
)
t.out(
    "2026-10-14 21:00",
    "c11",
    """
Of course. Invite sent for Wednesday 21 Oct 8:30am your time; the quotation will follow once we
have confirmed the scope.

Maya
""",
)
meeting(
    d,
    "2026-10-14 21:05",
    "2026-10-20 20:30",
    "c11",
    "Scope sign-off call (Vantage Freight)",
    """
Confirm data sources, KPIs, refresh frequency, users and licences.
""",
)
sent(
    d,
    "quote_sent",
    "2026-11-02 20:30",
    "c11",
    "Quotation Q-2026-041: warehouse dashboard",
    """
Hi Wei Ling,

please find attached quotation Q-2026-041 for SGD 48,000, valid until Monday 16 November.

Maya
""",
)
t2 = Thread(d, 2, "Quotation Q-2026-041: warehouse dashboard")
t2.inbound(
    "2026-11-04 10:15",
    "c11",
    """
Received, thank you. I've passed it to finance to raise the PO.

Wei Ling
""",
)
t2.out(
    "2026-11-04 08:40", "c11", "Thank you, Wei Ling. Shout if finance needs anything else.\n\nMaya"
)
t2.out(
    "2026-11-16 08:00",
    "c11",
    """
Hi Wei Ling,

a quick reminder that quotation Q-2026-041 is valid until today. If the PO needs a little
longer, just let me know and I'll extend it.

Maya
""",
)
deal(
    d,
    "Vantage Freight: warehouse operations dashboard",
    ["c11"],
    "u1",
    "closing",
    when("2026-11-02 20:30", NYC),
    value=48000,
    currency="SGD",
    service="dashboard build",
    quote_expires=when("2026-11-16 23:59", SIN),
)

# ---------------------------------------------------------------------------------------------
# d10 Harrowgate Dental: booking site + retainer. quote_expired due (expired Thu 19 Nov 17:00 UK).
d = owns("d10", "u2")
sent(
    d,
    "proposal_sent",
    "2026-10-20 11:00",
    "c12",
    "Proposal: patient booking site and care plan",
    """
Hi Rachel,

attached is the proposal for the new group site with online booking for all seven practices,
plus a monthly care plan.

Jonas
""",
)
t = Thread(d, 1, "Proposal: patient booking site and care plan")
t.inbound(
    "2026-10-22 13:10",
    "c12",
    """
Hi Jonas,

the board liked it but would rather commit in phases: booking first, the rest in spring. Could
you price it that way?

Rachel
""",
    sender="r.okafor@hdg-practices.example",
)
t.out(
    "2026-10-23 09:15",
    "c12",
    """
Phasing makes sense. I'll send a formal phased quote.

Jonas
""",
    to=["r.okafor@hdg-practices.example"],
)
sent(
    d,
    "quote_sent",
    "2026-11-05 12:00",
    "c12",
    "Quote: Harrowgate booking site, phase 1 + phase 2",
    """
Hi Rachel,

phase 1 (booking, GBP 14,000) and phase 2 (content and SEO, GBP 12,000), valid until
19 November so it covers your board meeting.

Jonas
""",
)
t2 = Thread(d, 2, "Quote: Harrowgate booking site, phase 1 + phase 2")
t2.inbound(
    "2026-11-09 16:05",
    "c12",
    """
Thanks. The board meets on the 18th and I'll recommend phase 1.

Rachel
""",
)
t2.out(
    "2026-11-09 17:30",
    "c12",
    "Great, fingers crossed. Let me know if you need anything for the board pack.\n\nJonas",
)
t2.out(
    "2026-11-17 11:00",
    "c12",
    """
Hi Rachel,

ahead of tomorrow's board meeting: here's a one-page summary of phase 1 with the timeline
(live before the February half term), in case it helps.

Jonas
""",
)
deal(
    d,
    "Harrowgate Dental Group: booking site + care plan",
    ["c12"],
    "u2",
    "negotiation",
    when("2026-10-23 09:15", BER),
    value=26000,
    currency="GBP",
    service="website rebuild",
    quote_expires=when("2026-11-19 17:00", LON),
)

# ---------------------------------------------------------------------------------------------
# d11 Tidewater Analytics: BI retainer. Not due: quote valid until 4 Dec, proposal answered.
d = owns("d11", "u1")
t = Thread(d, 1, "Your Looker reporting backlog")
t.out(
    "2026-10-26 12:00",
    "c13",
    """
Hi Kevin,

your job ad for a "BI engineer, 6-month contract" caught my eye. If the backlog is the real
problem rather than headcount, a retainer might cover it for less: a fixed monthly block of
analytics engineering hours, no recruiting.

Maya Chen
""",
)
t.inbound(
    "2026-10-27 10:30",
    "c13",
    """
Maya, worth a conversation. Tuesday next week?

Kevin
""",
)
meeting(
    d,
    "2026-10-27 14:00",
    "2026-11-03 13:00",
    "c13",
    "Scoping call: Tidewater BI retainer",
    """
Backlog review, dbt project state, on-call expectations, monthly hours.
""",
)
sent(
    d,
    "proposal_sent",
    "2026-11-06 11:00",
    "c13",
    "Proposal: analytics engineering retainer",
    """
Kevin, attached: 40 hours a month, dbt + Looker, USD 6,000/month, 6-month initial term.
""",
)
t2 = Thread(d, 2, "Proposal: analytics engineering retainer")
t2.inbound(
    "2026-11-09 09:40",
    "c13",
    """
Approved in principle. Procurement needs a formal quote with the term and rate card.

Kevin
""",
)
t2.out("2026-11-09 14:00", "c13", "Will do, you'll have it next week.\n\nMaya")
sent(
    d,
    "quote_sent",
    "2026-11-18 14:00",
    "c13",
    "Quote Q-2026-047: analytics engineering retainer",
    """
Hi Kevin,

the formal quote for procurement is attached: USD 6,000/month for 6 months, valid until
4 December.

Maya
""",
)
deal(
    d,
    "Tidewater Analytics: analytics engineering retainer",
    ["c13"],
    "u1",
    "closing",
    when("2026-11-18 14:00", NYC),
    value=36000,
    currency="USD",
    service="retainer",
    quote_expires=when("2026-12-04 17:00", LAX),
)

# ---------------------------------------------------------------------------------------------
# d12 Lumen Pay: site localisation, inbound lead answered once. lead_no_reply due.
d = owns("d12", "u1")
t = Thread(d, 1, "Website enquiry: localising our marketing site (ID/TH/VN)")
t.inbound(
    "2026-11-12 09:14",
    "c14",
    """
Name: Arjun Mehta
Company: Lumen Pay
Message: We're launching in Indonesia, Thailand and Vietnam in Q1 and need our Webflow
marketing site localised (about 40 pages, plus a blog). Looking for a partner who can handle
the setup and work with our translators. Budget is flexible for the right team.
""",
    to=[HELLO],
)
t.out(
    "2026-11-12 09:00",
    "c14",
    """
Hi Arjun,

thanks for getting in touch, and congratulations on the expansion. Localising a Webflow site of
that size is something we've done twice this year (a fintech in Jakarta and a travel app).

A couple of questions so we can come back with something useful:
- Are the translations already done, or do you need us to manage a vendor?
- Do you need localised URLs and hreflang for SEO, or subfolders only?

Would 20 minutes this week or next work? I'm in New York but can do your mornings.

Maya
""",
)
deal(
    d,
    "Lumen Pay: marketing site localisation",
    ["c14"],
    "u1",
    "lead",
    when("2026-11-12 09:14", SIN),
    value=18000,
    currency="USD",
    service="website localisation",
    source="inbound",
)

# ---------------------------------------------------------------------------------------------
# d13 Quarry Lane Bakeries: inbound lead, answered + 1 follow-up. lead_no_reply due.
d = owns("d13", "u2")
t = Thread(d, 1, "Ordering site for our café customers")
t.inbound(
    "2026-11-16 08:02",
    "c15",
    """
Hello,

we bake for about 40 cafés in South London and they order through a website someone built for
us in 2017. It's slow, breaks on phones and we re-type every order into Xero. Is this the kind
of thing you do? Rough cost?

Thanks,
Ellie Parkinson
Quarry Lane Bakeries
""",
    to=[HELLO],
)
t.out(
    "2026-11-16 11:30",
    "c15",
    """
Hi Ellie,

yes, that's very much our kind of project. Most B2B ordering sites like yours land between
GBP 9,000 and 14,000, depending on how standing orders and the Xero sync work.

Could you tell me roughly how many orders a day you get, and whether cafés have their own
prices? Then I can give you a firmer number. A 20-minute call works too.

Jonas
""",
)
t.out(
    "2026-11-18 12:00",
    "c15",
    """
Hi Ellie,

following up with two examples of wholesale ordering sites we've built (a coffee roaster and a
dairy), both with standing orders and Xero invoices created automatically. Happy to show you
either on a short call.

Jonas
""",
)
deal(
    d,
    "Quarry Lane Bakeries: wholesale ordering site",
    ["c15"],
    "u2",
    "lead",
    when("2026-11-16 08:02", LON),
    value=11000,
    currency="GBP",
    service="website rebuild",
    source="inbound",
)

# ---------------------------------------------------------------------------------------------
# d14 Bondi Physio: inbound lead, answered then 3 follow-ups unanswered. Not due (exhausted).
d = owns("d14", "u1")
t = Thread(d, 1, "New website + online booking?")
t.inbound(
    "2026-10-28 10:05",
    "c16",
    """
Hi there, we're a physio clinic in Bondi with 6 practitioners. Looking for a new site with
online booking (we use Cliniko). What would something like that cost? Cheers, Jack
""",
    to=[HELLO],
)
t.out(
    "2026-10-28 09:30",
    "c16",
    """
Hi Jack,

thanks for the note. A site with Cliniko booking for a six-practitioner clinic is usually
AUD 8,000–10,000. I'd love to hear what's not working with the current one; would a quick
call this week suit?

Maya
""",
)
t.out(
    "2026-11-02 17:00",
    "c16",
    """
Hi Jack, just bumping this up in case it got buried. Here's a clinic site we launched in
Brisbane last month, with Cliniko booking on every practitioner page.

Maya
""",
)
t.out(
    "2026-11-09 17:00",
    "c16",
    """
Hi Jack, is the website still a priority for this summer? If timing's off, no problem at all.

Maya
""",
)
t.out(
    "2026-11-16 17:00",
    "c16",
    """
Hi Jack,

I'll close the loop here so I'm not cluttering your inbox. If the website comes back on the
list, just reply to this email and we'll pick it up.

Maya
""",
)
deal(
    d,
    "Bondi Physio Collective: website + Cliniko booking",
    ["c16"],
    "u1",
    "lead",
    when("2026-10-28 10:05", SYD),
    value=9000,
    currency="AUD",
    service="website rebuild",
    source="inbound",
)

# ---------------------------------------------------------------------------------------------
# d15 Greyhaven Architects: inbound, latest message is theirs. Not due: ball in our court.
d = owns("d15", "u2")
t = Thread(d, 1, "Portfolio website rebuild")
t.inbound(
    "2026-11-10 09:30",
    "c17",
    """
Hi,

we're a 20-person architecture practice in Bristol. Our portfolio site is on Squarespace and
no longer reflects the work we do. We'd like a rebuild in the first half of next year. Could
you tell us how you'd approach it?

Nadia Kowalski
Studio Manager, Greyhaven Architects
""",
    to=[HELLO],
)
t.out(
    "2026-11-10 13:00",
    "c17",
    """
Hi Nadia,

thanks for reaching out. For practices like yours we usually start with a one-day workshop on
which projects to feature and how, then design and build over about eight weeks.

What's your budget range, and do you have good photography of recent projects?

Jonas
""",
)
t.inbound(
    "2026-11-11 08:45",
    "c17",
    """
Hi Jonas,

budget is around GBP 20k. Photography is patchy: great for five projects, phone snaps for the
rest.

Nadia
""",
)
t.out(
    "2026-11-11 14:00",
    "c17",
    """
Thanks Nadia, that's helpful. At GBP 20k we'd do the workshop, a custom design, a CMS your team
can update, and case studies for up to 12 projects. Photography would be on top; we work with
a photographer in Bristol.

Jonas
""",
)
t.inbound(
    "2026-11-19 16:40",
    "c17",
    """
Hi Jonas,

sorry for the delay, we had a competition deadline. The partners are keen. A few questions:
1. Who hosts the site, and what does it cost per year?
2. Could you start in January?
3. Can your photographer do six projects in one week?

Nadia
""",
)
deal(
    d,
    "Greyhaven Architects: portfolio site rebuild",
    ["c17"],
    "u2",
    "qualified",
    when("2026-11-11 14:00", BER),
    value=20000,
    currency="GBP",
    service="website rebuild",
    source="inbound",
)

# ---------------------------------------------------------------------------------------------
# d16 Juniper Ridge Schools Foundation: donor portal. Not due: workshop booked for 24 Nov.
d = owns("d16", "u1")
t = Thread(d, 1, "Donor portal for Juniper Ridge")
t.out(
    "2026-11-10 12:30",
    "c18",
    """
Hi Claire,

I saw Juniper Ridge's year-end campaign. Donors currently leave your site for a third-party
form with a different look; we build donor portals that keep the giving flow on your site and
sync to Raiser's Edge. Would you like to see one?

Maya
""",
)
t.inbound(
    "2026-11-11 09:15",
    "c18",
    """
Hi Maya, yes. Monday afternoon?

Claire
""",
)
t.out("2026-11-11 13:00", "c18", "Monday 16 Nov, 1pm Pacific. I'll call you.\n\nMaya")
call(
    d,
    "2026-11-16 16:00",
    "c18",
    "Call: Juniper Ridge donor portal",
    """
35 min with Claire.
- Raiser's Edge NXT, Blackbaud Checkout today; ~4,000 donors, 60% give in Nov–Dec.
- Wants recurring gifts and a donor login for receipts.
- Wants a workshop with their web developer and the database manager.
""",
    "interested",
)
meeting(
    d,
    "2026-11-17 10:00",
    "2026-11-24 13:00",
    "c18",
    "Discovery workshop: donor portal (Juniper Ridge)",
    """
With Claire, their web developer and the database manager. Giving flows, Raiser's Edge sync,
receipts, recurring gifts.
""",
)
t.out(
    "2026-11-17 10:05",
    "c18",
    """
Hi Claire,

the workshop is confirmed for Tuesday 24 Nov, 10am Pacific; invite sent to you and the team.
I'll bring two example giving flows.

Maya
""",
)
deal(
    d,
    "Juniper Ridge Schools Foundation: donor portal",
    ["c18"],
    "u1",
    "discovery",
    when("2026-11-16 16:00", NYC),
    value=30000,
    currency="USD",
    service="web app",
)

# ---------------------------------------------------------------------------------------------
# d17 Fjord & Pine Interiors: e-commerce. Not due: proposal answered, we acknowledged.
d = owns("d17", "u2")
t = Thread(d, 1, "Fjord & Pine online shop")
t.out(
    "2026-10-30 10:00",
    "c19",
    """
Hej Sofie,

I visited your showroom in Prenzlauer Berg last weekend. Your online shop doesn't do the
furniture justice (and doesn't offer delivery slots). We build shops for interior brands; may
I show you two?

Jonas
""",
)
t.inbound("2026-11-02 09:30", "c19", "Hi Jonas, sure. Thursday at the showroom, 10am?\n\nSofie")
meeting(
    d,
    "2026-11-02 10:00",
    "2026-11-05 10:00",
    "c19",
    "Showroom meeting: Fjord & Pine shop",
    """
Current Shopware shop, delivery slots, product configurator, budget.
""",
)
sent(
    d,
    "proposal_sent",
    "2026-11-16 10:00",
    "c19",
    "Proposal: Fjord & Pine online shop",
    """
Sofie, attached: Shopify shop with delivery slot booking and a fabric configurator.
EUR 21,000, launch before the spring collection.
""",
)
t2 = Thread(d, 2, "Proposal: Fjord & Pine online shop")
t2.inbound(
    "2026-11-17 16:20",
    "c19",
    """
Thanks Jonas! We'll review it with our investor and come back to you by 1 December.

Sofie
""",
)
t2.out(
    "2026-11-17 17:05",
    "c19",
    """
Sounds good, Sofie. One note for the investor: the configurator could move to phase 2 if you
want to bring the first invoice down. Talk by 1 December.

Jonas
""",
)
deal(
    d,
    "Fjord & Pine Interiors: online shop",
    ["c19"],
    "u2",
    "proposal",
    when("2026-11-16 10:00", BER),
    value=21000,
    currency="EUR",
    service="e-commerce",
)

# ---------------------------------------------------------------------------------------------
# d18 Elbtal Kulturstiftung: data audit. Not due: recap sent after the call.
d = owns("d18", "u2")
t = Thread(d, 1, "Ticketing and CRM data at the Kulturstiftung")
t.out(
    "2026-11-05 14:00",
    "c20",
    """
Hallo Frau Schulte,

museums and foundations we work with often find that ticketing, shop and newsletter data never
meet, so nobody knows who their regular visitors are. We do a short data audit that maps what
you have and what it would take to join it up. Would a call be of interest?

Jonas Albrecht
""",
)
t.inbound(
    "2026-11-06 11:00",
    "c20",
    """
Hallo Herr Albrecht,

ja, gern. We're evaluating a new CRM next year and need to know what we'd be migrating.
Wednesday 18 November, 10:00?

Miriam Schulte
""",
)
t.out(
    "2026-11-06 11:30",
    "c20",
    "Wednesday 18 November, 10:00 is booked. I'll call you.\n\nJonas Albrecht",
)
call(
    d,
    "2026-11-18 10:00",
    "c20",
    "Call: Elbtal data audit",
    """
45 min with Miriam Schulte.
- Ticketing (Eventim.Inhouse), shop (WooCommerce), newsletter (CleverReach), donors in Excel.
- CRM tender planned for Q2 2027; wants the audit as input for the tender.
- Will send export samples (anonymised) by Monday.
""",
    "connected",
)
t.out(
    "2026-11-18 14:00",
    "c20",
    """
Hallo Frau Schulte,

thank you for this morning. Recap and next steps:
1. You send anonymised export samples from ticketing, shop and newsletter by Monday.
2. We send a scoped audit proposal by the end of next week.
3. Target: findings ready before your tender documents in February.

Jonas Albrecht
""",
    subject="Recap: data audit call",
)
deal(
    d,
    "Elbtal Kulturstiftung: visitor data audit",
    ["c20"],
    "u2",
    "discovery",
    when("2026-11-06 11:30", BER),
    value=15000,
    currency="EUR",
    service="data audit",
)

# ---------------------------------------------------------------------------------------------
# d19 Summit Ridge Credit: quote expired 13 Nov, final outreach sent 16 Nov. Not due.
d = owns("d19", "u1")
sent(
    d,
    "proposal_sent",
    "2026-10-19 12:00",
    "c21",
    "Proposal: Summit Ridge landing pages & CRO",
    """
Brian, attached: landing page system plus three months of conversion testing for the HELOC
campaign.
""",
)
t = Thread(d, 1, "Proposal: Summit Ridge landing pages & CRO")
t.inbound(
    "2026-10-21 10:10",
    "c21",
    "Maya, this looks right. Send me a formal quote and I'll get it signed.\n\nBrian",
)
t.out("2026-10-21 14:00", "c21", "Will do, thanks Brian.\n\nMaya")
sent(
    d,
    "quote_sent",
    "2026-10-30 11:00",
    "c21",
    "Quote Q-2026-039: landing pages & CRO",
    """
Brian, quote attached: USD 19,500, valid for two weeks (until 13 November).
""",
)
t2 = Thread(d, 2, "Quote Q-2026-039: landing pages & CRO")
t2.out(
    "2026-11-09 11:00",
    "c21",
    "Hi Brian, a reminder that the quote is valid through Friday. Anything holding it up?\n\nMaya",
)
t2.out(
    "2026-11-16 10:00",
    "c21",
    """
Hi Brian,

the quote lapsed on Friday. No problem: I can reissue it with the same pricing through the end
of the year. Just say the word.

Maya
""",
)
deal(
    d,
    "Summit Ridge Credit: landing pages & CRO",
    ["c21"],
    "u1",
    "closing",
    when("2026-10-30 11:00", NYC),
    value=19500,
    currency="USD",
    service="CRO",
    quote_expires=when("2026-11-13 17:00", LAX),
)

# ---------------------------------------------------------------------------------------------
# d20 Oakmoor Estates: parked. Unanswered proposal, would be due if open.
d = owns("d20", "u2")
t = Thread(d, 1, "Oakmoor listings site")
t.out(
    "2026-09-28 11:00",
    "c22",
    "Hi Victoria, following our chat at the Property Week event, here are the "
    "examples I mentioned.\n\nJonas",
)
t.inbound("2026-09-29 10:00", "c22", "Thanks Jonas, could you send a proposal?\n\nVictoria")
sent(
    d,
    "proposal_sent",
    "2026-10-05 11:00",
    "c22",
    "Proposal: Oakmoor property listings site",
    """
Victoria, attached: listings site with Rightmove/Zoopla feed import and valuation booking.
GBP 24,000.
""",
)
note(
    d,
    "2026-10-20 18:30",
    "c22",
    """
Met Victoria at the PropTech London meetup. They're doing a full rebrand first; the website
waits until the new brand is signed off, February 2027 at the earliest. Parked until then.
""",
)
deal(
    d,
    "Oakmoor Estates: property listings site",
    ["c22"],
    "u2",
    "proposal",
    when("2026-10-05 11:00", BER),
    value=24000,
    currency="GBP",
    service="website rebuild",
    status="parked",
)

# ---------------------------------------------------------------------------------------------
# d21 Kingfisher Care Homes: training programme, on hold (budget freeze).
d = owns("d21", "u1")
sent(
    d,
    "proposal_sent",
    "2026-10-07 18:00",
    "c23",
    "Proposal: digital skills training for care home managers",
    """
Amelia, attached: four online sessions for 30 managers on rostering and reporting tools.
""",
)
t = Thread(d, 1, "Proposal: digital skills training for care home managers")
t.inbound(
    "2026-10-12 11:30",
    "c23",
    "Hi Maya, we'd like to discuss the dates and a discount for 30+ seats.\n\nAmelia",
)
meeting(
    d,
    "2026-10-12 19:00",
    "2026-10-19 18:00",
    "c23",
    "Call: training dates and pricing (Kingfisher)",
    "Dates, seat pricing, payment schedule.",
)
t.inbound(
    "2026-10-30 09:15",
    "c23",
    """
Hi Maya,

bad news, I'm afraid: head office has frozen all discretionary spend until the new budget on
1 January. Could we put this on hold and pick it up then?

Amelia
""",
)
t.out(
    "2026-10-29 19:30",
    "c23",
    """
Hi Amelia,

understood, thanks for letting me know. I'll put it on hold and check in the first week of
January.

Maya
""",
)
deal(
    d,
    "Kingfisher Care Homes: digital skills training",
    ["c23"],
    "u1",
    "negotiation",
    when("2026-10-19 18:00", NYC),
    value=18000,
    currency="AUD",
    service="training",
    status="on_hold",
)

# ---------------------------------------------------------------------------------------------
# d22 Merlion Craft Brewing: won.
d = owns("d22", "u1")
sent(
    d,
    "proposal_sent",
    "2026-10-21 20:00",
    "c24",
    "Proposal: Merlion webshop and subscriptions",
    """
Daniel, attached: Shopify shop with beer-club subscriptions and age verification.
""",
)
t = Thread(d, 1, "Proposal: Merlion webshop and subscriptions")
t.inbound(
    "2026-10-23 14:20",
    "c24",
    "Maya, let's do it. Please send a quote to Grace in accounts.\n\nDaniel",
)
sent(
    d,
    "quote_sent",
    "2026-11-02 20:00",
    "c30",
    "Quotation Q-2026-040: Merlion webshop",
    """
Grace, quotation attached (SGD 24,000). Daniel has approved the scope.
""",
)
t2 = Thread(d, 2, "Quotation Q-2026-040: Merlion webshop")
t2.inbound(
    "2026-11-11 09:40",
    "c30",
    "Dear Maya, please find the signed quotation attached. PO to follow.\n\nGrace "
    "Lim\nFinance & Accounts",
    to=["maya@fernhill-studio.example", "daniel@merlioncraft.example"],
)
t2.out(
    "2026-11-10 21:30",
    "c30",
    "Thank you Grace! Daniel, I'll send kickoff dates tomorrow.\n\nMaya",
    to=["accounts@merlioncraft.example", "daniel@merlioncraft.example"],
)
deal(
    d,
    "Merlion Craft Brewing: webshop + beer club",
    ["c24", "c30"],
    "u1",
    "won",
    when("2026-11-10 21:00", NYC),
    value=24000,
    currency="SGD",
    service="e-commerce",
    status="won",
)

# ---------------------------------------------------------------------------------------------
# d23 Ashcombe Legal: lost.
d = owns("d23", "u2")
sent(
    d,
    "proposal_sent",
    "2026-10-23 11:00",
    "c25",
    "Proposal: Ashcombe Legal website rebuild",
    """
Henry, attached: the rebuild with a matter-type finder and partner profiles. GBP 32,000.
""",
)
t = Thread(d, 1, "Proposal: Ashcombe Legal website rebuild")
t.inbound(
    "2026-10-28 09:40",
    "c25",
    "Jonas, two questions: can you integrate with our case management system, and "
    "who hosts?\n\nHenry",
)
t.out(
    "2026-10-28 11:15",
    "c25",
    "Hi Henry, yes via its API (we've done it for another firm), and we host in the "
    "UK on AWS London.\n\nJonas",
)
t.inbound(
    "2026-11-06 15:00",
    "c25",
    """
Jonas,

thank you for your time. We've decided to go with an agency that already works with our case
management vendor. I hope we can work together on something else in the future.

Henry
""",
)
t.out(
    "2026-11-06 16:45",
    "c25",
    "Thanks for letting me know, Henry, and good luck with the launch.\n\nJonas",
)
deal(
    d,
    "Ashcombe Legal: website rebuild",
    ["c25"],
    "u2",
    "lost",
    when("2026-11-06 15:00", LON),
    value=32000,
    currency="GBP",
    service="website rebuild",
    status="lost",
)

# ---------------------------------------------------------------------------------------------
# d24 Sable & Reed: the only contact opted out. Not due (no primary contact).
d = owns("d24", "u2")
t = Thread(d, 1, "Sable & Reed careers site")
t.out(
    "2026-10-19 10:00",
    "c26",
    "Hi Chloe, your careers pages still list roles from 2025. We build job boards "
    "that sync with your ATS; interested?\n\nJonas",
)
t.inbound(
    "2026-10-20 12:30", "c26", "Hi Jonas, yes, we use Bullhorn. Can we chat Thursday?\n\nChloe"
)
call(
    d,
    "2026-10-22 15:00",
    "c26",
    "Call: Sable & Reed careers site",
    """
Bullhorn ATS, ~120 live roles, wants job alerts and a candidate login. Budget GBP 10-15k.
""",
    "interested",
)
t.out("2026-10-22 17:00", "c26", "Thanks Chloe, proposal next week.\n\nJonas")
sent(
    d,
    "proposal_sent",
    "2026-11-02 11:00",
    "c26",
    "Proposal: Sable & Reed careers site",
    """
Chloe, attached: careers site with Bullhorn sync, job alerts and candidate login. GBP 13,500.
""",
)
note(
    d,
    "2026-11-09 09:20",
    "c26",
    """
Chloe unsubscribed through the link in our newsletter footer (9 Nov). Contact flagged
do_not_contact in the CRM. Do not email; find another contact at Sable & Reed if we pursue this.
""",
)
deal(
    d,
    "Sable & Reed Recruitment: careers site refresh",
    ["c26"],
    "u2",
    "proposal",
    when("2026-11-02 11:00", BER),
    value=13500,
    currency="GBP",
    service="website rebuild",
)

# ---------------------------------------------------------------------------------------------
# d25 Hollowbrook Foods: analytics retainer in negotiation, recent activity. Not due.
d = owns("d25", "u2")
sent(
    d,
    "proposal_sent",
    "2026-10-28 11:00",
    "c27",
    "Proposal: Hollowbrook data & analytics retainer",
    """
Ravi, attached: 32 hours a month of analytics engineering and reporting, GBP 5,500 a month.
""",
)
t = Thread(d, 1, "Proposal: Hollowbrook data & analytics retainer")
t.inbound(
    "2026-10-30 10:00",
    "c27",
    "Jonas, this is what we need. Let's meet with finance next week.\n\nRavi",
)
meeting(
    d,
    "2026-10-30 11:30",
    "2026-11-05 15:00",
    "c27",
    "Terms meeting: Hollowbrook retainer",
    "With Ravi Shah and Ines Carvalho (finance).",
)
t2 = Thread(d, 2, "Hollowbrook retainer: contract")
t2.out(
    "2026-11-12 10:00",
    "c27",
    "Ravi, Ines: the contract with the terms from our meeting is attached.\n\nJonas",
    to=["ravi.shah@hollowbrookfoods.example", "ines.carvalho@hollowbrookfoods.example"],
)
t2.inbound(
    "2026-11-18 14:30",
    "c28",
    """
Hi Jonas,

finance asks for 60-day payment terms, which is our standard for suppliers. Is that possible?

Ines
""",
)
t2.out(
    "2026-11-19 10:30",
    "c28",
    """
Hi Ines,

we can do 45 days; 60 is hard for a studio our size. If 45 works, I'll update the contract
today.

Jonas
""",
    to=["ines.carvalho@hollowbrookfoods.example", "ravi.shah@hollowbrookfoods.example"],
)
deal(
    d,
    "Hollowbrook Foods: data & analytics retainer",
    ["c27", "c28"],
    "u2",
    "negotiation",
    when("2026-11-12 10:00", BER),
    value=66000,
    currency="GBP",
    service="retainer",
)


# ---------------------------------------------------------------------------------------------
def build() -> dict[str, Any]:
    order = {did: n for n, did in enumerate(sorted(DEAL_OWNER))}
    ordered = sorted(
        activities, key=lambda a: (order[a["deal_id"]], datetime.fromisoformat(a["at"]))
    )
    numbered = []
    for n, activity in enumerate(ordered, start=1):
        record = {"id": f"a{n:03d}", **{k: v for k, v in activity.items() if v is not None}}
        numbered.append(record)
    return {
        "relative_to": RELATIVE_TO,
        "description": (
            "Sample pipeline of Fernhill Studio, a fictional web and data studio. Every time is "
            "relative to relative_to; the demo shifts them by (now - relative_to) on load."
        ),
        "owners": owners,
        "contacts": [{k: v for k, v in c.items() if v not in (None, [])} for c in contacts],
        "deals": sorted(deals, key=lambda x: x["id"]),
        "activities": numbered,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file")
    args = parser.parse_args()
    text = json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
    if args.check:
        if OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is out of date; run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}: {len(deals)} deals, {len(activities)} activities")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
