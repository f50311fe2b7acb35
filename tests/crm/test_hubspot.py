"""HubSpot specifics beyond the contract: OAuth refreshed once on a 401, the search's
10,000-result ceiling re-windowed, a daily limit not waited for, merged deals, a stale cursor
resynced in full, and the mapping's options."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from crm import CrmContext
from crm.base import CrmAuthError, CrmRateLimited
from crm.hubspot import HubSpotCrm, build
from crm.hubspot.read import hubspot_zone
from crm.hubspot.settings import HubSpotSettings
from crm.mapping import CrmMapping, OwnerSettings
from tests.crm.account import NOW, small_account
from tests.crm.fake_hubspot import iso, rate_limited
from tests.crm.loopback import Answer, Request
from tests.crm.worlds_http import HubSpotWorld
from triggers.model import DealStatus


@pytest.fixture
def world(tmp_path: Path) -> Iterator[HubSpotWorld]:
    made = HubSpotWorld(tmp_path)
    with made.running():
        made.load(small_account())
        yield made


def adapter_for(
    world: HubSpotWorld, mapping: CrmMapping | None = None, **settings: object
) -> HubSpotCrm:
    values = {"access_token": SecretStr("pat-na1-test-token"), "api_url": world.api.url, **settings}
    crm = build(
        CrmContext(mapping=mapping or CrmMapping(), env_file=None),
        settings=HubSpotSettings(_env_file=None, **values),  # type: ignore[call-arg, arg-type]
        sleep=world.waits.append,
    )
    return crm


class TokenEndpoint:
    """HubSpot's OAuth token endpoint on the same loopback server."""

    def __init__(self, world: HubSpotWorld) -> None:
        self.grants: list[dict[str, str]] = []
        handle = world.api.handle

        def route(request: Request) -> Answer:
            if request.path == "/oauth/v1/token":
                self.grants.append(request.body)
                return Answer(
                    200,
                    {
                        "access_token": world.api.token,
                        "expires_in": 1800,
                        "refresh_token": request.body["refresh_token"],
                    },
                )
            return handle(request)

        world.api.handle = route  # type: ignore[method-assign]


def test_oauth_refreshes_once_on_a_401_and_then_gives_up(world: HubSpotWorld) -> None:
    tokens = TokenEndpoint(world)
    crm = adapter_for(
        world,
        access_token=None,
        client_id="client-1",
        client_secret=SecretStr("s3cret"),
        refresh_token=SecretStr("refresh-1"),
    )
    crm.fetch(NOW, None)
    assert len(tokens.grants) == 1
    assert tokens.grants[0]["grant_type"] == "refresh_token"
    world.api.token = "rotated-by-hubspot"  # the cached access token is now refused
    crm.fetch(NOW, None)
    assert len(tokens.grants) == 2  # refreshed once, and the sync went on
    refreshed_sync = len(tokens.grants)
    world.api.token = "never-matches"

    world.api.fail("POST /oauth/v1/token", Answer(400, {"error": "invalid_grant"}), times=5)
    with pytest.raises(CrmAuthError, match="refused"):
        crm.fetch(NOW, None)
    assert len(tokens.grants) == refreshed_sync  # the refused refresh is not retried in a loop
    crm.close()


def test_a_search_past_10000_results_is_rewindowed_on_the_last_time_seen(
    world: HubSpotWorld,
) -> None:
    crm = adapter_for(world)
    first = crm.fetch(NOW, None)
    start = NOW + timedelta(minutes=1)
    for n in range(10_250):
        world.api.put(
            "deals",
            str(50_000 + n),
            {
                "dealname": f"Bulk {n}",
                "dealstage": "qualifiedtobuy",
                "hubspot_owner_id": "11",
                "hs_v2_date_entered_qualifiedtobuy": iso(start),
            },
            at=start + timedelta(milliseconds=n * 10),
        )
    later = crm.fetch(NOW + timedelta(hours=1), first.cursor)
    assert len(later.pipeline.deals) == 10_250
    searches = [r for r in world.api.requests if r.line.endswith("/deals/search")]
    assert max(int(r.body.get("after") or 0) for r in searches) < 10_000
    windows = {r.body["filterGroups"][0]["filters"][0]["value"] for r in searches}
    assert len(windows) == 2  # one re-window before the ceiling
    crm.close()


def test_a_daily_limit_fails_the_sync_at_once_and_keeps_nothing_half_done(
    world: HubSpotWorld,
) -> None:
    crm = adapter_for(world)
    world.api.fail("GET /crm/owners", rate_limited("DAILY"), times=5)
    with pytest.raises(CrmRateLimited, match="daily"):
        crm.fetch(NOW, None)
    assert world.waits == []  # a daily limit is not slept on
    crm.close()


def test_a_secondly_limit_waits_one_second(world: HubSpotWorld) -> None:
    crm = adapter_for(world)
    world.api.fail("GET /crm/owners", rate_limited("SECONDLY"))
    crm.fetch(NOW, None)
    assert world.waits == [1.0]
    crm.close()


def test_a_merged_deal_leaves_and_the_survivor_stays(world: HubSpotWorld) -> None:
    crm = adapter_for(world)
    first = crm.fetch(NOW, None)
    world.api.archive("deals", "32", NOW + timedelta(minutes=1))
    world.api.put("deals", "33", {"hs_merged_object_ids": "32"}, at=NOW + timedelta(minutes=1))
    world.api.archive("contacts", "22", NOW + timedelta(minutes=1))
    later = crm.fetch(NOW + timedelta(minutes=5), first.cursor)
    assert later.deleted.deal_ids == {"32"}
    assert later.deleted.contact_ids == {"22"}
    assert [d.id for d in later.pipeline.deals] == ["33"]
    crm.close()


def test_a_cursor_older_than_a_month_is_a_full_resync(world: HubSpotWorld) -> None:
    crm = adapter_for(world)
    first = crm.fetch(NOW, None)
    assert first.snapshot
    soon = crm.fetch(NOW + timedelta(days=1), first.cursor)
    assert not soon.snapshot
    world.api.objects["deals"].pop("32")  # gone beyond the archive HubSpot keeps
    stale = crm.fetch(NOW + timedelta(days=40), soon.cursor)
    assert stale.snapshot
    assert stale.deleted.deal_ids == {"32"}
    assert json.loads(stale.cursor or "{}")["full_at"].startswith(
        str((NOW + timedelta(days=40)).date())
    )
    crm.close()


def test_mapping_parks_a_stage_and_gives_owners_their_zone_and_slack_id(
    world: HubSpotWorld,
) -> None:
    mapping = CrmMapping(
        statuses={"qualifiedtobuy": DealStatus.ON_HOLD},
        owners={"maya@northwind.studio": OwnerSettings("Europe/Berlin", "U01MAYA")},
    )
    crm = adapter_for(world, mapping)
    result = crm.fetch(NOW, None)
    deal = next(d for d in result.pipeline.deals if d.id == "32")
    assert deal.status is DealStatus.ON_HOLD
    owner = result.pipeline.owners[0]
    assert (owner.timezone, owner.slack_user_id) == ("Europe/Berlin", "U01MAYA")
    crm.close()


def test_hubspot_time_zone_options_read_as_iana_names() -> None:
    assert hubspot_zone("america_slash_new_york") == "America/New_York"
    assert hubspot_zone("europe_slash_berlin") == "Europe/Berlin"
    assert hubspot_zone("not_a_zone") is None
    assert hubspot_zone(None) is None


def test_a_contact_without_a_company_property_takes_its_associated_company(
    world: HubSpotWorld,
) -> None:
    world.api.put("companies", "61", {"name": "Globex Corporation"})
    world.api.put("contacts", "21", {"company": None}, at=NOW - timedelta(days=1))
    world.api.link("contacts", "21", "companies", ["61"])
    crm = adapter_for(world)
    jordan = next(c for c in crm.fetch(NOW, None).pipeline.contacts if c.id == "21")
    assert jordan.company == "Globex Corporation"
    crm.close()


def test_an_unknown_provider_is_one_line_naming_the_choices() -> None:
    from crm import CrmSetupError
    from crm import build as build_crm

    with pytest.raises(CrmSetupError, match=r"CRM_PROVIDER=zoho is not available.*salesforce"):
        build_crm("zoho")


@pytest.mark.parametrize(
    ("vendor", "named"),
    [("salesforce", "SALESFORCE_CLIENT_ID"), ("close", "CLOSE_API_KEY")],
)
def test_a_vendor_without_credentials_names_the_variables_to_set(
    vendor: str, named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm import CrmContext, CrmSetupError
    from crm import build as build_crm

    for key in list(os.environ):
        if key.startswith(("SALESFORCE_", "CLOSE_")):
            monkeypatch.delenv(key)
    with pytest.raises(CrmSetupError, match=named):
        build_crm(vendor, CrmContext(env_file=None))


def test_the_cycle_performs_queued_write_backs_and_audits_one_the_crm_keeps_refusing(
    world: HubSpotWorld, tmp_path: Path
) -> None:
    from types import SimpleNamespace
    from typing import cast

    from crm.writeback import queued
    from flows.cycle import CycleReport, flush_crm_writes
    from flows.ports import Services
    from storage.crm_queue import CrmWriteQueue
    from storage.db import make_engine, migrate
    from storage.repos import Store

    engine = make_engine(f"sqlite:///{tmp_path / 'q.db'}")
    migrate(engine)
    store = Store(engine)
    crm = queued(adapter_for(world), CrmWriteQueue(engine), clock=lambda: NOW, log_drafts=True)
    services = cast(Services, SimpleNamespace(store=store, crm=crm))
    world.api.put("contacts", "29", {"firstname": "No", "lastname": "Email"})
    crm.log_draft("31", "21", "Checking in on the proposal", NOW)  # type: ignore[attr-defined]
    crm.mark_do_not_contact("29")
    report = CycleReport(now=NOW)
    flush_crm_writes(services, NOW, report)
    assert report.crm_writes == 1
    notes = [
        r.properties["hs_note_body"]
        for r in world.api.objects["notes"].values()
        if "followup ref" in str(r.properties.get("hs_note_body"))
    ]
    assert len(notes) == 1
    assert notes[0].startswith("followup drafted a follow-up: Checking in on the proposal")
    assert report.crm_writes_waiting  # the contact without an email, retried later
    at = NOW
    for _ in range(6):
        at += timedelta(hours=7)
        flush_crm_writes(services, at, CycleReport(now=at))
    audit = [e for e in store.audit.recent() if e.action == "writeback_given_up"]
    assert len(audit) == 1
    assert "has no email to unsubscribe" in audit[0].detail
    crm.close()  # type: ignore[attr-defined]
    engine.dispose()


def test_an_incremental_sync_costs_pages_of_changes_not_pages_of_the_account(
    world: HubSpotWorld,
) -> None:
    crm = adapter_for(world)
    for n in range(2_000):  # an account of 2,000 more deals
        world.api.put(
            "deals",
            str(60_000 + n),
            {
                "dealname": f"Deal {n}",
                "dealstage": "qualifiedtobuy",
                "hubspot_owner_id": "11",
                "hs_v2_date_entered_qualifiedtobuy": iso(NOW - timedelta(days=30)),
            },
            at=NOW - timedelta(days=30),
        )
    first = crm.fetch(NOW, None)
    quiet_start = len(world.api.requests)
    quiet = crm.fetch(NOW + timedelta(minutes=5), first.cursor)
    quiet_requests = len(world.api.requests) - quiet_start
    for n in range(450):
        world.api.put(
            "deals", str(60_000 + n), {"dealname": f"Renamed {n}"}, at=NOW + timedelta(minutes=6)
        )
    busy_start = len(world.api.requests)
    busy = crm.fetch(NOW + timedelta(minutes=10), quiet.cursor)
    lines = [r.line for r in world.api.requests[busy_start:]]
    assert len(busy.pipeline.deals) == 450
    assert lines.count("POST /crm/objects/2026-09/deals/search") == 3  # ceil(450 / 200)
    # Each page of changes costs its search and one batch read of its associations.
    assert len(lines) - quiet_requests == 3 + 3 - 1  # the quiet sync's empty search page was one
    crm.close()
