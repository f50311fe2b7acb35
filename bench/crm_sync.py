"""CRM sync at account scale: requests and seconds for a full sync and for an incremental sync
after 1% of the account changed, against the floor each vendor's rate limit allows, and the
adapter's peak memory. Run: .venv/bin/python bench/crm_sync.py [--deals 10000] [--vendor hubspot]

Each vendor is its loopback fake (tests/crm/fake_*.py) serving an account of DEALS deals, as
many contacts, ten owners and 10 x DEALS engagements, at the vendor's page sizes (HubSpot: 100
a list page, 200 a search page; Pipedrive: 500 a v2 page, 500 a v1 page). The fake runs in a
child process, so the memory figure is the adapter's alone (tracemalloc peak of the sync).
The floors: HubSpot 110 requests per 10 s for list and batch calls (an OAuth app; private apps
on Free/Starter get 100) and 5 searches a second (HubSpot's documented search limit);
Pipedrive 80 requests per 2 s and a daily token budget of 150,000 at each call's x-token-cost.
Salesforce (through simple-salesforce, over TLS): no per-second limit, a rolling 24-hour org
allocation (100,000 requests assumed here, Enterprise's base) of which followup takes at most
SALESFORCE_API_SHARE (50%): the floor is the share of a day the requests use; SOQL pages hold
2,000 records. Close: 100 a list page, 50 an event page; Close documents its limits per
endpoint group without figures, so the floor assumes 20 requests a second (say so when you
quote it).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402

from crm import CrmContext  # noqa: E402
from crm.base import SyncResult  # noqa: E402

T0 = datetime(2026, 9, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 30, tzinfo=UTC)
OWNERS = 10
SALESFORCE_DAILY = 100_000
CLOSE_RATE = 20


# ---------------------------------------------------------------------- the accounts (child)
def hubspot_account(deals: int) -> Any:
    from tests.crm.fake_hubspot import FakeHubSpot, iso
    from tests.crm.worlds_http import hubspot_pipelines

    api = FakeHubSpot()
    api.pipelines = hubspot_pipelines()
    api.owners = [
        {
            "id": str(o),
            "email": f"owner{o}@seller.example",
            "firstName": "Owner",
            "lastName": str(o),
        }
        for o in range(1, OWNERS + 1)
    ]
    stages = ["qualifiedtobuy", "proposalsent", "closedwon"]
    for n in range(deals):
        at = T0 + timedelta(minutes=n)
        api.put(
            "contacts",
            str(1_000_000 + n),
            {
                "firstname": "Buyer",
                "lastname": str(n),
                "email": f"buyer{n}@client{n % 500}.example",
                "company": f"Client {n % 500}",
            },
            at=at,
        )
        stage = stages[n % 3]
        api.put(
            "deals",
            str(2_000_000 + n),
            {
                "dealname": f"Deal {n}",
                "amount": "1000",
                "dealstage": stage,
                "pipeline": "default",
                "hubspot_owner_id": str(1 + n % OWNERS),
                f"hs_v2_date_entered_{stage}": iso(at),
            },
            at=at,
            links={"contacts": [str(1_000_000 + n)]},
        )
    kinds = ["emails"] * 4 + ["calls"] * 2 + ["meetings", "tasks"] + ["notes"] * 2
    for n in range(deals * 10):
        kind = kinds[n % 10]
        at = T0 + timedelta(seconds=30 * n)
        props = {"hs_timestamp": iso(at)}
        if kind == "emails":
            props |= {
                "hs_email_direction": "EMAIL" if n % 2 else "INCOMING_EMAIL",
                "hs_email_subject": "Re: proposal",
                "hs_email_text": "Thanks, more soon.",
            }
        elif kind == "meetings":
            props |= {
                "hs_meeting_start_time": iso(at + timedelta(days=2)),
                "hs_createdate": iso(at),
            }
        deal = n // 10
        api.put(
            kind,
            str(10_000_000 + n),
            props,
            at=at,
            links={"deals": [str(2_000_000 + deal)], "contacts": [str(1_000_000 + deal)]},
        )
    return api


def hubspot_change(api: Any, fraction: float, at: datetime) -> int:
    deals = sorted(api.objects["deals"])
    step = max(1, round(1 / fraction))
    changed = 0
    for n, deal_id in enumerate(deals):
        if n % step == 0:
            api.put("deals", deal_id, {"dealname": f"Deal {deal_id} (renamed)"}, at=at)
            changed += 1
    for kind in ("emails", "calls", "meetings", "tasks", "notes"):
        for n, record_id in enumerate(sorted(api.objects.get(kind, {}))):
            if n % step == 0:
                api.put(
                    kind,
                    record_id,
                    {"hs_timestamp": api.objects[kind][record_id].properties["hs_timestamp"]},
                    at=at,
                )
                changed += 1
    return changed


def pipedrive_account(deals: int) -> Any:
    from tests.crm.fake_pipedrive import FakePipedrive, v1, v2

    api = FakePipedrive()
    api.users = [
        {
            "id": o,
            "name": f"Owner {o}",
            "email": f"owner{o}@seller.example",
            "timezone_name": "Europe/Berlin",
            "active_flag": True,
        }
        for o in range(1, OWNERS + 1)
    ]
    for stage_id, name in ((1, "Qualified"), (2, "Proposal Made"), (3, "Negotiations Started")):
        api.v2["stages"][str(stage_id)] = {
            "id": stage_id,
            "name": name,
            "pipeline_id": 1,
            "order_nr": stage_id,
        }
    api.v2["pipelines"]["1"] = {"id": 1, "name": "Sales"}
    api.fields["personFields"] = [
        {"key": "label_ids", "name": "Labels", "options": [{"id": 7, "label": "Do not contact"}]}
    ]
    for org in range(500):
        api.v2["organizations"][str(org + 1)] = {
            "id": org + 1,
            "name": f"Client {org}",
            "update_time": v2(T0),
        }
    for n in range(deals):
        at = T0 + timedelta(minutes=n)
        api.v2["persons"][str(n + 1)] = {
            "id": n + 1,
            "name": f"Buyer {n}",
            "org_id": 1 + n % 500,
            "emails": [{"value": f"buyer{n}@client.example", "primary": True}],
            "update_time": v2(at),
            "label_ids": [],
        }
        deal = {
            "id": n + 1,
            "title": f"Deal {n}",
            "owner_id": 1 + n % OWNERS,
            "person_id": n + 1,
            "stage_id": 1 + n % 3,
            "pipeline_id": 1,
            "value": 1000,
            "currency": "EUR",
            "add_time": v2(at),
            "update_time": v2(at),
            "stage_change_time": v2(at),
            "status": "open" if n % 4 else "won",
            "is_deleted": False,
            "label_ids": [],
        }
        api.v2["deals"][str(n + 1)] = deal
    for n in range(deals * 10):
        deal_id = 1 + n // 10
        at = T0 + timedelta(seconds=30 * n)
        slot = n % 10
        if slot < 5:  # calls, meetings and tasks
            kind = ("call", "call", "meeting", "task", "call")[slot]
            api.v2["activities"][str(n + 1)] = {
                "id": n + 1,
                "type": kind,
                "subject": kind,
                "deal_id": deal_id,
                "person_id": deal_id,
                "done": kind == "call",
                "due_date": at.strftime("%Y-%m-%d"),
                "due_time": "10:00",
                "marked_as_done_time": v2(at),
                "add_time": v2(at),
                "update_time": v2(at),
            }
        elif slot < 8:
            api.notes[str(n + 1)] = {
                "id": n + 1,
                "content": "<p>Spoke to them</p>",
                "deal_id": deal_id,
                "person_id": deal_id,
                "add_time": v1(at),
                "update_time": v1(at),
            }
        else:
            inbound = slot == 8
            api.mail.setdefault(str(deal_id), []).append(
                {
                    "object": "mailMessage",
                    "timestamp": v1(at),
                    "data": {
                        "id": n + 1,
                        "subject": "Re: proposal",
                        "snippet": "Thanks",
                        "sent_flag": 0 if inbound else 1,
                        "from": [
                            {"email_address": "x@client.example", "linked_person_id": deal_id}
                        ],
                        "to": [{"email_address": "owner@seller.example"}],
                        "message_time": v1(at),
                    },
                }
            )
            api.v2["deals"][str(deal_id)][
                "last_incoming_mail_time" if inbound else "last_outgoing_mail_time"
            ] = v1(at)
    return api


def pipedrive_change(api: Any, fraction: float, at: datetime) -> int:
    from tests.crm.fake_pipedrive import v1, v2

    step = max(1, round(1 / fraction))
    changed = 0
    for table in ("deals", "activities"):
        for n, record in enumerate(api.v2[table].values()):
            if n % step == 0:
                record["update_time"] = v2(at)
                changed += 1
    for n, note in enumerate(api.notes.values()):
        if n % step == 0:
            note["update_time"] = v1(at)
            changed += 1
    return changed


def salesforce_account(deals: int) -> Any:
    from tests.crm.fake_salesforce import SalesforceApi, SalesforceOrg, sf_time
    from tests.crm.worlds_salesforce import CONSUMER_KEY, USER, rsa_key_pair

    private, public = rsa_key_pair()
    org = SalesforceOrg(
        consumer_key=CONSUMER_KEY, jwt_subjects={USER}, jwt_public_key=public, api_max=10**9
    )
    org.private_key = private  # type: ignore[attr-defined]
    for o in range(1, OWNERS + 1):
        org.put(
            "User",
            {
                "Id": f"005{o:012d}",
                "Name": f"Owner {o}",
                "Email": f"owner{o}@seller.example",
                "TimeZoneSidKey": "Europe/Berlin",
            },
            at=T0,
        )
    for a in range(500):
        org.put("Account", {"Id": f"001{a:012d}", "Name": f"Client {a}"}, at=T0)
    stages = ["Qualification", "Proposal/Price Quote", "Closed Won"]
    for n in range(deals):
        at = T0 + timedelta(minutes=n)
        contact, opp = f"003{n:012d}", f"006{n:012d}"
        org.put(
            "Contact",
            {
                "Id": contact,
                "FirstName": "Buyer",
                "LastName": str(n),
                "Name": f"Buyer {n}",
                "Email": f"buyer{n}@client{n % 500}.example",
                "AccountId": f"001{n % 500:012d}",
                "HasOptedOutOfEmail": False,
                "DoNotCall": False,
                "IsEmailBounced": False,
                "MailingCountryCode": "DE",
            },
            at=at,
        )
        stage = stages[n % 3]
        org.put(
            "Opportunity",
            {
                "Id": opp,
                "Name": f"Deal {n}",
                "StageName": stage,
                "Amount": 1000,
                "CloseDate": "2026-12-31",
                "OwnerId": f"005{1 + n % OWNERS:012d}",
                "IsClosed": stage == "Closed Won",
                "IsWon": stage == "Closed Won",
                "LeadSource": "Web",
                "CreatedDate": sf_time(at),
            },
            at=at,
        )
        org.put(
            "OpportunityContactRole",
            {
                "OpportunityId": opp,
                "ContactId": contact,
                "IsPrimary": True,
                "Role": "Decision Maker",
            },
            at=at,
        )
        org.put(
            "OpportunityHistory",
            {"OpportunityId": opp, "StageName": stage, "CreatedDate": sf_time(at)},
            at=at,
        )
    for n in range(deals * 10):
        at = T0 + timedelta(seconds=30 * n)
        opp, contact = f"006{n // 10:012d}", f"003{n // 10:012d}"
        slot = n % 10
        if slot == 6:
            org.put(
                "Event",
                {
                    "WhatId": opp,
                    "WhoId": contact,
                    "Subject": "Demo",
                    "Description": None,
                    "StartDateTime": sf_time(at + timedelta(days=2)),
                    "CreatedDate": sf_time(at),
                },
                at=at,
            )
        else:
            subtype = "Email" if slot < 4 else ("Call" if slot < 6 else None)
            org.put(
                "Task",
                {
                    "WhatId": opp,
                    "WhoId": contact,
                    "Subject": "Re: proposal",
                    "Description": "Thanks, more soon.",
                    "TaskSubtype": subtype,
                    "CallDisposition": None,
                    "Status": "Completed",
                    "ActivityDate": None,
                    "CreatedDate": sf_time(at),
                },
                at=at,
            )
    return SalesforceApi(org)


def salesforce_change(api: Any, fraction: float, at: datetime) -> int:
    step = max(1, round(1 / fraction))
    changed = 0
    for sobject in ("Opportunity", "Task", "Event"):
        for n, record_id in enumerate(sorted(api.org.records[sobject])):
            if n % step == 0:
                api.org.put(sobject, {"Id": record_id}, at=at)
                changed += 1
    return changed


def close_account(deals: int) -> Any:
    from tests.crm.fake_close import CloseApi, CloseOrg, close_time

    org = CloseOrg(api_keys={"bench_key"}, limit=10**9)
    org.clock = lambda: T0

    def stamp(at: datetime) -> dict[str, str]:
        return {"date_created": close_time(at), "date_updated": close_time(at)}

    org.users = [
        {
            "id": f"user_{o}",
            "first_name": "Owner",
            "last_name": str(o),
            "email": f"owner{o}@seller.example",
        }
        for o in range(1, OWNERS + 1)
    ]
    org.statuses = [
        {"id": f"stat_{k}", "label": k, "type": t}
        for k, t in (("Qualified", "active"), ("Proposal Sent", "active"), ("Won", "won"))
    ]
    for index in range(500):
        org.leads.append({"id": f"lead_{index}", "display_name": f"Client {index}", **stamp(T0)})
    statuses = ["Qualified", "Proposal Sent", "Won"]
    for n in range(deals):
        at = T0 + timedelta(minutes=n)
        lead = f"lead_{n % 500}"
        org.contacts.append(
            {
                "id": f"cont_{n}",
                "lead_id": lead,
                "name": f"Buyer {n}",
                "emails": [{"email": f"buyer{n}@client.example", "is_unsubscribed": False}],
                **stamp(at),
            }
        )
        status = statuses[n % 3]
        org.opportunities.append(
            {
                "id": f"oppo_{n}",
                "lead_id": lead,
                "lead_name": lead,
                "contact_id": f"cont_{n}",
                "user_id": f"user_{1 + n % OWNERS}",
                "status_id": f"stat_{status}",
                "status_label": status,
                "status_type": "won" if status == "Won" else "active",
                "value": 100000,
                "value_currency": "EUR",
                "note": f"Deal {n}",
                **stamp(at),
            }
        )
        org.status_changes.append(
            {
                "id": f"acti_sc{n}",
                "opportunity_id": f"oppo_{n}",
                "lead_id": lead,
                "new_status_id": f"stat_{status}",
                "new_status_label": status,
                "activity_at": close_time(at),
                **stamp(at),
            }
        )
    kinds = ["email"] * 4 + ["call"] * 2 + ["meeting"] + ["note"] * 3
    for n in range(deals * 10):
        at = T0 + timedelta(seconds=30 * n)
        kind = kinds[n % 10]
        record = {
            "id": f"acti_{n}",
            "lead_id": f"lead_{(n // 10) % 500}",
            "contact_id": f"cont_{n // 10}",
            **stamp(at),
        }
        if kind == "email":
            record |= {
                "direction": "incoming" if n % 2 else "outgoing",
                "status": "inbox" if n % 2 else "sent",
                "subject": "Re: proposal",
                "body_text": "Thanks",
                "date_sent": close_time(at),
            }
        elif kind == "meeting":
            record |= {"title": "Demo", "starts_at": close_time(at + timedelta(days=2))}
        else:
            record |= {"note": "Spoke to them"}
        org.activities[kind].append(record)
    return CloseApi(org)


def close_change(api: Any, fraction: float, at: datetime) -> int:
    org = api.org
    org.clock = lambda: at
    step = max(1, round(1 / fraction))
    changed = 0
    for n, record in enumerate(org.opportunities):
        if n % step == 0:
            record["date_updated"] = at.isoformat()
            org.log_event("opportunity", record)
            changed += 1
    for kind in ("email", "call", "meeting", "note"):
        for n, record in enumerate(org.activities[kind]):
            if n % step == 0:
                record["date_updated"] = at.isoformat()
                org.log_event(f"activity.{kind}", record)
                changed += 1
    return changed


ACCOUNTS: dict[str, tuple[Callable[[int], Any], Callable[[Any, float, datetime], int]]] = {
    "hubspot": (hubspot_account, hubspot_change),
    "pipedrive": (pipedrive_account, pipedrive_change),
    "salesforce": (salesforce_account, salesforce_change),
    "close": (close_account, close_change),
}


def serve(vendor: str, deals: int, conn: Connection) -> None:
    build, changer = ACCOUNTS[vendor]
    api = build(deals)
    tls = None
    if vendor == "salesforce":
        import tempfile

        from tests.mailservers import self_signed

        certificate = self_signed(Path(tempfile.mkdtemp()))
        tls = certificate.server_context()
    with api.running(tls=tls) if tls else api.running():
        extra = (
            {"cert": str(certificate.cert), "key": api.org.private_key}
            if vendor == "salesforce"
            else {}
        )
        conn.send((api.url, extra))
        while True:
            command = conn.recv()
            if command == "stop":
                return
            if command == "stats":
                conn.send(
                    {
                        "requests": len(api.requests),
                        "spent": getattr(api, "spent", 0),
                        "searches": sum(r.path.endswith("/search") for r in api.requests),
                    }
                )
            elif command[0] == "change":
                conn.send(changer(api, command[1], command[2]))
            elif command == "reset":
                api.requests.clear()
                if hasattr(api, "spent"):
                    api.spent = 0
                conn.send(True)


# ---------------------------------------------------------------------- the adapter (parent)
def adapter(vendor: str, url: str, extra: dict[str, Any]) -> Any:
    context = CrmContext(env_file=None)
    if vendor == "salesforce":
        import httpx2

        from crm.salesforce.adapter import SalesforceCrm
        from crm.salesforce.client import Credentials, SalesforceApi, make_session
        from httploop import HttpLoop
        from tests.crm.fake_salesforce import API_VERSION
        from tests.crm.worlds_salesforce import CONSUMER_KEY, USER

        credentials = Credentials(
            login_url=url, client_id=CONSUMER_KEY, username=USER, private_key=extra["key"]
        )
        api = SalesforceApi(
            credentials,
            version=API_VERSION,
            session=make_session(120, extra["cert"]),
            login=HttpLoop(
                url, vendor="Salesforce", transport=httpx2.HTTPTransport(verify=extra["cert"])
            ),
        )
        return SalesforceCrm(api)
    if vendor == "close":
        from crm.close import build as build_close
        from crm.close.settings import CloseSettings

        close_settings = CloseSettings(
            _env_file=None,  # type: ignore[call-arg]
            api_key=SecretStr("bench_key"),
            api_url=f"{url}/api/v1/",
            timeout_seconds=120,
        )
        return build_close(context, settings=close_settings, sleep=lambda s: None)
    if vendor == "hubspot":
        from crm.hubspot import build
        from crm.hubspot.settings import HubSpotSettings
        from tests.crm.fake_hubspot import TOKEN

        settings = HubSpotSettings(
            _env_file=None,
            access_token=SecretStr(TOKEN),
            api_url=url,  # type: ignore[call-arg]
            timeout_seconds=120,
        )
        return build(context, settings=settings, sleep=lambda s: None)
    from crm.pipedrive import build as build_pd
    from crm.pipedrive.settings import PipedriveSettings
    from tests.crm.fake_pipedrive import TOKEN as PD_TOKEN

    pd = PipedriveSettings(
        _env_file=None,
        api_token=SecretStr(PD_TOKEN),
        api_url=url,  # type: ignore[call-arg]
        timeout_seconds=120,
    )
    return build_pd(context, settings=pd, sleep=lambda s: None)


def floor_seconds(vendor: str, stats: dict[str, int]) -> tuple[float, str]:
    if vendor == "salesforce":
        share = stats["requests"] / (0.5 * SALESFORCE_DAILY)
        return 0.0, (
            f"no per-second limit; {stats['requests']} requests = {share:.3%} of followup's "
            f"half of a {SALESFORCE_DAILY:,}/day allocation"
        )
    if vendor == "close":
        return stats["requests"] / CLOSE_RATE, f"{stats['requests']} at an assumed {CLOSE_RATE}/s"
    if vendor == "hubspot":
        searches = stats["searches"]
        others = stats["requests"] - searches
        seconds = max(others / 11.0, searches / 5.0)
        return seconds, f"{others} list/batch at 110/10 s, {searches} searches at 5/s"
    burst = stats["requests"] / 40.0
    tokens = stats["spent"]
    days = tokens / 150_000
    return (
        burst,
        f"burst {stats['requests']} at 80/2 s; {tokens} tokens = {days:.2f} of a 150,000 day",
    )


def measure(
    vendor: str, crm: Any, conn: Connection, cursor: str | None, now: datetime, trace: bool = False
) -> tuple[SyncResult, dict[str, Any]]:
    conn.send("reset")
    conn.recv()
    started = time.perf_counter()
    result = crm.fetch(now, cursor)
    seconds = time.perf_counter() - started
    conn.send("stats")
    stats = conn.recv()
    peak = 0
    if trace:  # again, traced (tracemalloc slows Python down, so not in the timed run)
        conn.send("reset")
        conn.recv()
        tracemalloc.start()
        crm.fetch(now, cursor)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return result, {"seconds": seconds, "peak_mb": peak / 1e6, **stats}


def run(vendor: str, deals: int) -> None:
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(vendor, deals, child), daemon=True)
    built = time.perf_counter()
    server.start()
    url, extra = parent.recv()
    print(
        f"\n{vendor}: {deals:,} deals, {deals:,} contacts, {deals * 10:,} engagements "
        f"(account built in {time.perf_counter() - built:.0f} s)"
    )
    crm = adapter(vendor, url, extra)
    full, f = measure(vendor, crm, parent, None, NOW, trace=True)
    floor, why = floor_seconds(vendor, f)
    print(
        f"  full sync:        {f['requests']:>6} requests  {f['seconds']:7.1f} s  "
        f"(rate-limit floor {floor:7.1f} s: {why})  peak {f['peak_mb']:.0f} MB  "
        f"-> {len(full.pipeline.deals):,} deals, {len(full.pipeline.activities):,} activities"
        + (f"; {full.warnings[0]}" if full.warnings else "")
    )
    cursor = full.cursor
    if full.warnings:  # Pipedrive: finish the deferred mail on the next day's budget
        rest, r = measure(vendor, crm, parent, cursor, NOW + timedelta(hours=1))
        print(
            f"  next sync (mail left over): {r['requests']} requests, {r['seconds']:.1f} s"
            + (f"; {rest.warnings[0]}" if rest.warnings else "")
        )
        cursor = rest.cursor
    at = NOW + timedelta(hours=2)
    parent.send(("change", 0.01, at))
    changed = parent.recv()
    later, i = measure(vendor, crm, parent, cursor, at + timedelta(minutes=5), trace=True)
    floor, why = floor_seconds(vendor, i)
    page = {"hubspot": 200, "pipedrive": 500, "salesforce": 2000, "close": 100}[vendor]
    pages = math.ceil(changed / page)
    print(
        f"  1% incremental:   {i['requests']:>6} requests  {i['seconds']:7.1f} s  "
        f"(rate-limit floor {floor:7.1f} s: {why})  peak {i['peak_mb']:.0f} MB  "
        f"-> {changed:,} records changed, {len(later.pipeline.deals):,} deals and "
        f"{len(later.pipeline.activities):,} activities returned; ceil(changed/page) = {pages}"
    )
    crm.close()
    parent.send("stop")
    server.join(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument(
        "--vendor", choices=[*ACCOUNTS, "all"], default="all", help="one vendor, or all four"
    )
    args = parser.parse_args()
    for vendor in list(ACCOUNTS) if args.vendor == "all" else [args.vendor]:
        run(vendor, args.deals)


if __name__ == "__main__":
    main()
