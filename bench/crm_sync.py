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
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import sys
import time
import tracemalloc
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


def serve(vendor: str, deals: int, conn: Connection) -> None:
    api = hubspot_account(deals) if vendor == "hubspot" else pipedrive_account(deals)
    with api.running():
        conn.send(api.url)
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
                changer = hubspot_change if vendor == "hubspot" else pipedrive_change
                conn.send(changer(api, command[1], command[2]))
            elif command == "reset":
                api.requests.clear()
                if hasattr(api, "spent"):
                    api.spent = 0
                conn.send(True)


# ---------------------------------------------------------------------- the adapter (parent)
def adapter(vendor: str, url: str) -> Any:
    context = CrmContext(env_file=None)
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
    url = parent.recv()
    print(
        f"\n{vendor}: {deals:,} deals, {deals:,} contacts, {deals * 10:,} engagements "
        f"(account built in {time.perf_counter() - built:.0f} s)"
    )
    crm = adapter(vendor, url)
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
    pages = math.ceil(changed / (200 if vendor == "hubspot" else 500))
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
    parser.add_argument("--vendor", choices=["hubspot", "pipedrive", "both"], default="both")
    args = parser.parse_args()
    for vendor in ["hubspot", "pipedrive"] if args.vendor == "both" else [args.vendor]:
        run(vendor, args.deals)


if __name__ == "__main__":
    main()
