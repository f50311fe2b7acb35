"""What is Salesforce's own beyond the contract suite: the three sign-ins, the org's API
allocation (403 REQUEST_LIMIT_EXCEEDED, Sforce-Limit-Info and followup's share), the
long-transaction refusal that is worth retrying, paging by nextRecordsUrl, and idempotent
write-backs, all through simple-salesforce against the loopback org."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from crm.base import CrmAuthError, CrmRateLimited
from crm.mapping import CrmMapping
from crm.salesforce.adapter import SalesforceCrm, country_timezone
from crm.salesforce.client import Credentials
from tests.crm.account import NOW, small_account
from tests.crm.loopback import Answer
from tests.crm.worlds_salesforce import CONSUMER_KEY, USER, SalesforceWorld, rsa_key_pair
from triggers.model import Activity, ActivityKind, Direction


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SalesforceWorld]:
    made = SalesforceWorld(tmp_path)
    with made.running():
        made.load(small_account())
        yield made


def test_a_spent_daily_allocation_is_a_rate_limit_not_an_auth_error(
    world: SalesforceWorld,
) -> None:
    world.org.api_used = world.org.api_max
    with pytest.raises(CrmRateLimited, match="daily API allocation is spent"):
        world.adapter.fetch(NOW)


def test_followup_stops_at_its_share_of_the_allocation(world: SalesforceWorld) -> None:
    world.org.api_max = 100
    world.org.api_used = 49
    with pytest.raises(CrmRateLimited, match=r"share of the org's daily API allocation.*50/100"):
        world.adapter.fetch(NOW)
    # It stopped on the usage the org reported, before spending more.
    assert world.org.api_used == 50


def test_a_long_transaction_refusal_is_retried(world: SalesforceWorld) -> None:
    body = [
        {
            "message": "ConcurrentPerOrgLongTxn Limit exceeded.",
            "errorCode": "REQUEST_LIMIT_EXCEEDED",
        }
    ]
    world.api.fail("GET /services/data/", Answer(403, body))
    result = world.adapter.fetch(NOW)
    assert {d.id for d in result.pipeline.deals} == {"31", "32", "33"}
    assert world.waits == [2.0]


def test_an_expired_session_signs_in_again_once(world: SalesforceWorld) -> None:
    world.adapter.fetch(NOW)
    world.org.tokens.clear()  # the session expired; the JWT still signs in
    result = world.adapter.fetch(NOW + timedelta(minutes=5))
    assert result.errors == ()
    sign_ins = world.api.served("POST /services/oauth2/token")
    assert len(sign_ins) == 2


def test_a_key_the_app_does_not_know_is_refused_with_the_fix(world: SalesforceWorld) -> None:
    other_key, _ = rsa_key_pair()
    crm = world.build()
    crm.api.credentials = Credentials(
        login_url=world.api.url, client_id=CONSUMER_KEY, username=USER, private_key=other_key
    )
    with pytest.raises(CrmAuthError, match=r"JWT bearer sign-in \(400\).*SALESFORCE_"):
        crm.fetch(NOW)
    crm.close()


@pytest.mark.parametrize("flow", ["refresh token", "password"])
def test_the_refresh_token_and_password_sign_ins(world: SalesforceWorld, flow: str) -> None:
    crm = world.build()
    if flow == "refresh token":
        credentials = Credentials(
            login_url=world.api.url, client_id=CONSUMER_KEY, refresh_token="5Aep-refresh"
        )
    else:
        world.org.users = {USER: "hunter2TOKEN"}
        credentials = Credentials(
            login_url=world.api.url,
            client_id=CONSUMER_KEY,
            client_secret="shh",
            username=USER,
            password="hunter2",
            security_token="TOKEN",
        )
    assert credentials.flow == flow
    crm.api.credentials = credentials
    assert len(crm.fetch(NOW).pipeline.deals) == 3
    crm.close()


def test_large_results_follow_next_records_url(world: SalesforceWorld) -> None:
    world.org.batch_size = 2
    for n in range(5):
        world.org.put(
            "Opportunity",
            {
                "Id": f"5{n}",
                "Name": f"Extra {n}",
                "StageName": "Qualified",
                "OwnerId": "11",
                "IsClosed": False,
                "IsWon": False,
                "CreatedDate": "2026-11-02T09:00:00.000+0000",
            },
        )
    # They were saved after the account (the org's clock moved on): read once settled.
    result = world.adapter.fetch(NOW + timedelta(minutes=10))
    assert len(result.pipeline.deals) == 8
    assert len(world.api.served("GET /services/data/v66.0/query/01g")) >= 3


def test_time_zones_from_the_user_and_the_contact_country(world: SalesforceWorld) -> None:
    world.org.put("Contact", {"Id": "21", "MailingCountryCode": "DE"})
    pipeline = world.adapter.fetch(NOW).pipeline
    owner = pipeline.owner("11")
    deal = pipeline.deal("31")
    assert deal is not None
    assert deal.crm_url == f"{world.api.url}/lightning/r/Opportunity/31/view"  # Open in CRM
    assert owner is not None
    assert owner.timezone == "America/New_York"
    jordan = pipeline.contact("21")
    assert jordan is not None
    assert jordan.timezone == "Europe/Berlin"
    assert country_timezone("US") is None  # several zones: the owner's zone decides
    assert country_timezone("SG") == "Asia/Singapore"


def test_a_sent_follow_up_is_logged_once_however_often_it_is_retried(
    world: SalesforceWorld,
) -> None:
    sent = Activity(
        id="followup:9",
        deal_id="31",
        kind=ActivityKind.EMAIL,
        at=NOW,
        contact_id="21",
        direction=Direction.OUT,
        subject="Re: Proposal",
        body="Hi Jordan, any questions on the proposal?",
    )
    world.adapter.log_activity(sent)
    world.adapter.log_activity(sent)
    tasks = [t for t in world.org.records["Task"].values() if t.get("TaskSubtype") == "Email"]
    assert len(tasks) == 1
    assert tasks[0]["Status"] == "Completed"
    assert (tasks[0]["WhatId"], tasks[0]["WhoId"]) == ("31", "21")
    assert tasks[0]["Description"].startswith("Hi Jordan")


def test_opt_out_handoff_task_and_reply_stage(world: SalesforceWorld) -> None:
    crm: SalesforceCrm = world.adapter
    before = crm.fetch(NOW)
    world.org.clock = lambda: NOW + timedelta(minutes=1)
    crm.mark_do_not_contact("21")
    assert world.org.records["Contact"]["21"]["HasOptedOutOfEmail"] is True
    first = crm.create_task("31", "11", "Reply from Jordan: call back", NOW + timedelta(hours=24))
    again = crm.create_task("31", "11", "Reply from Jordan: call back", NOW + timedelta(hours=24))
    assert first == again
    task = world.org.records["Task"][first]
    assert (task["OwnerId"], task["ActivityDate"], task["Status"]) == (
        "11",
        (NOW + timedelta(hours=24)).date().isoformat(),
        "Not Started",
    )
    crm.mapping = CrmMapping(reply_received_stage="Negotiation/Review")
    crm.mark_reply_received("31")
    assert world.org.records["Opportunity"]["31"]["StageName"] == "Negotiation/Review"
    # A changed contact role or a stage change shows in the next incremental sync.
    result = crm.fetch(NOW + timedelta(minutes=10), before.cursor)
    assert result.snapshot is False
    assert [d.stage for d in result.pipeline.deals if d.id == "31"] == ["Negotiation/Review"]


def test_a_long_body_is_cut_to_the_task_description_and_keeps_its_marker(
    world: SalesforceWorld,
) -> None:
    sent = Activity(
        id="followup:long",
        deal_id="31",
        kind=ActivityKind.EMAIL,
        at=NOW,
        contact_id="21",
        direction=Direction.OUT,
        subject="Re: Proposal",
        body="word " * 10_000,  # 50,000 characters: more than Task.Description holds
    )
    world.adapter.log_activity(sent)
    world.adapter.log_activity(sent)
    tasks = [t for t in world.org.records["Task"].values() if t.get("TaskSubtype") == "Email"]
    assert len(tasks) == 1
    assert len(tasks[0]["Description"]) <= 32_000
    assert "followup ref" in tasks[0]["Description"]
