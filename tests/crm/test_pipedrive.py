"""Pipedrive specifics beyond the contract: the daily token budget (mail reads deferred, then
done; a spent budget fails the sync without waiting), the burst window paced, v1 and v2
times, and do-not-contact as a person label."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from crm import CrmContext
from crm.base import CrmRateLimited
from crm.pipedrive import PipedriveCrm, build
from crm.pipedrive.settings import PipedriveSettings
from tests.crm.account import NOW, small_account
from tests.crm.fake_pipedrive import TOKEN
from tests.crm.worlds_http import PipedriveWorld
from triggers.model import ActivityKind, ContactStatus


@pytest.fixture
def world(tmp_path: Path) -> Iterator[PipedriveWorld]:
    made = PipedriveWorld(tmp_path)
    with made.running():
        made.load(small_account())
        yield made


def adapter_for(world: PipedriveWorld, **settings: object) -> PipedriveCrm:
    values = {"api_token": SecretStr(TOKEN), "api_url": world.api.url, **settings}
    return build(
        CrmContext(env_file=None),
        settings=PipedriveSettings(_env_file=None, **values),  # type: ignore[call-arg, arg-type]
        sleep=world.waits.append,
    )


def test_mail_waits_for_the_next_sync_when_the_daily_budget_runs_low(world: PipedriveWorld) -> None:
    crm = adapter_for(world, token_reserve=1_000)
    world.api.spent = world.api.budget - 1_100  # about a hundred tokens left today
    low = crm.fetch(NOW, None)
    assert low.warnings
    assert "read at the next sync" in low.warnings[0]
    assert not [a for a in low.pipeline.activities if a.kind is ActivityKind.EMAIL]
    world.api.spent = 0  # the budget reset overnight
    later = crm.fetch(NOW + timedelta(hours=8), low.cursor)
    emails = [a for a in later.pipeline.activities if a.kind is ActivityKind.EMAIL]
    assert len(emails) == 2
    assert not later.warnings
    crm.close()


def test_a_spent_daily_budget_fails_the_sync_without_waiting(world: PipedriveWorld) -> None:
    crm = adapter_for(world)
    world.api.spent = world.api.budget
    with pytest.raises(CrmRateLimited):
        crm.fetch(NOW, None)
    assert world.waits == []
    crm.close()


def test_a_spent_burst_window_is_waited_out_before_the_next_request(world: PipedriveWorld) -> None:
    crm = adapter_for(world)
    original = world.api.decorate

    def spent_window(request, answer):
        answer = original(request, answer)
        if request.path == "/v1/users":
            answer.headers["x-ratelimit-remaining"] = "0"
        return answer

    world.api.decorate = spent_window  # type: ignore[method-assign]
    crm.fetch(NOW, None)
    assert world.waits == [2.0]
    crm.close()


def test_do_not_contact_is_a_person_label_and_reads_back(world: PipedriveWorld) -> None:
    crm = adapter_for(world)
    first = crm.fetch(NOW, None)
    crm.mark_do_not_contact("21")
    crm.mark_do_not_contact("21")
    assert world.api.v2["persons"]["21"]["label_ids"] == [7]
    assert not [
        r for r in world.api.requests if r.method == "PATCH" and "marketing_status" in str(r.body)
    ]
    later = crm.fetch(NOW + timedelta(minutes=5), first.cursor)
    jordan = next(c for c in later.pipeline.contacts if c.id == "21")
    assert jordan.status is ContactStatus.DO_NOT_CONTACT
    crm.close()


def test_a_handoff_task_is_a_task_activity_due_in_the_owners_calendar(
    world: PipedriveWorld,
) -> None:
    crm = adapter_for(world)
    due = NOW + timedelta(hours=24)
    task_id = crm.create_task("31", "11", "Jordan replied: call back", due)
    assert crm.create_task("31", "11", "Jordan replied: call back", due) == task_id
    task = world.api.v2["activities"][task_id]
    assert (task["type"], task["due_date"], task["due_time"], task["owner_id"], task["done"]) == (
        "task",
        due.strftime("%Y-%m-%d"),
        due.strftime("%H:%M"),
        11,
        False,
    )
    crm.close()


def test_oauth_asks_pipedrives_token_endpoint_with_basic_auth_and_refreshes_on_a_401(
    world: PipedriveWorld,
) -> None:
    import base64

    from tests.crm.loopback import Answer, Request

    grants: list[tuple[dict[str, str], str]] = []
    handle = world.api.handle

    def route(request: Request) -> Answer:
        if request.path == "/oauth/token":
            grants.append((request.body, request.headers.get("authorization", "")))
            return Answer(
                200,
                {"access_token": world.api.token, "expires_in": 3599, "api_domain": world.api.url},
            )
        return handle(request)

    world.api.handle = route  # type: ignore[method-assign]
    crm = adapter_for(
        world,
        api_token=None,
        client_id="cid",
        client_secret=SecretStr("csecret"),
        refresh_token=SecretStr("r1"),
        token_url=world.api.url + "/oauth/token",
    )
    crm.fetch(NOW, None)
    form, authorization = grants[0]
    assert form == {"grant_type": "refresh_token", "client_id": "cid", "refresh_token": "r1"}
    assert authorization == "Basic " + base64.b64encode(b"cid:csecret").decode()
    world.api.token = "rotated"
    crm.fetch(NOW, None)
    assert len(grants) == 2
    crm.close()


def test_a_proposal_stage_passed_between_two_syncs_is_read_from_the_deal_flow(
    world: PipedriveWorld,
) -> None:
    from tests.crm.fake_pipedrive import v1, v2

    crm = adapter_for(world)
    first = crm.fetch(NOW, None)
    world.api.v2["stages"]["4"] = {"id": 4, "name": "Negotiation", "pipeline_id": 1, "order_nr": 4}
    to_proposal, to_negotiation = NOW + timedelta(minutes=1), NOW + timedelta(minutes=2)
    world.api.v2["deals"]["32"] |= {
        "stage_id": 4,
        "stage_change_time": v2(to_negotiation),
        "update_time": v2(to_negotiation),
    }
    world.api.flow["32"] = [
        {
            "object": "dealChange",
            "timestamp": v1(at),
            "data": {
                "id": n,
                "item_id": 32,
                "field_key": "stage_id",
                "old_value": old,
                "new_value": new,
                "log_time": v1(at),
            },
        }
        for n, (old, new, at) in enumerate(((1, 2, to_proposal), (2, 4, to_negotiation)))
    ]
    later = crm.fetch(NOW + timedelta(minutes=5), first.cursor)
    proposals = [a for a in later.pipeline.activities if a.kind is ActivityKind.PROPOSAL_SENT]
    assert [(a.deal_id, a.at) for a in proposals] == [("32", to_proposal)]
    assert next(d for d in later.pipeline.deals if d.id == "32").stage == "Negotiation"
    crm.close()
