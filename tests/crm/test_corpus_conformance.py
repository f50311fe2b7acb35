"""The loopback vendors checked against the vendors' own material in the shared corpora
(skipped without it): every request the Pipedrive adapter makes is an operation of Pipedrive's
published OpenAPI files, with declared parameters, and the fake charges the spec's token cost;
the HubSpot and Pipedrive fakes answer with the record fields and rate-limit headers of real
recorded responses."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from crm import writeback
from tests.conftest import corpus_file
from tests.crm.account import NOW, small_account
from tests.crm.worlds_http import HubSpotWorld, PipedriveWorld
from triggers.model import Activity, ActivityKind, Direction


def spec(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        corpus_file("crm", "pipedrive", "openapi", name).read_text()
    )
    return loaded


def recorded(vendor: str, name: str) -> dict[str, Any]:
    """The one recorded call of a nango sample: {response, headers, status}."""
    document = json.loads(corpus_file("crm", vendor, "nango", name).read_text())
    calls = [call for paths in document["api"].values() for call in paths.values()]
    first: dict[str, Any] = calls[0]
    return first


def operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    for template, item in document["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            found: dict[str, Any] = item[method.lower()]
            return found
    return None


@pytest.fixture
def pipedrive(tmp_path: Path) -> Iterator[PipedriveWorld]:
    world = PipedriveWorld(tmp_path)
    with world.running():
        world.load(small_account())
        yield world


def test_every_pipedrive_request_is_a_published_operation_at_its_token_cost(
    pipedrive: PipedriveWorld,
) -> None:
    v1, v2 = spec("v1.yaml"), spec("v2.yaml")
    crm = pipedrive.adapter
    first = crm.fetch(NOW, None)
    pipedrive.rename("32", "Renamed", NOW + timedelta(minutes=1))
    crm.fetch(NOW + timedelta(minutes=5), first.cursor)
    crm.write(
        writeback.sent(Activity("s1", "31", ActivityKind.EMAIL, NOW, "21", Direction.OUT, "Hi"))
    )
    crm.write(writeback.task("31", "11", "Call back", NOW + timedelta(days=1)))
    crm.write(writeback.do_not_contact("22"))
    wrong = []
    assert len({r.line for r in pipedrive.api.requests}) > 12  # reads, v1 and v2, and writes
    for request in pipedrive.api.requests:
        if request.path.startswith("/api/v2/"):
            document, path = v2, request.path.removeprefix("/api/v2")
        else:
            document, path = v1, request.path.removeprefix("/v1")
        found = operation(document, request.method, path)
        if found is None:
            wrong.append(f"{request.line}: no such operation")
            continue
        declared = {p.get("name") for p in found.get("parameters", []) if "name" in p}
        extra = set(request.query) - declared
        if extra:
            wrong.append(f"{request.line}: undeclared parameters {sorted(extra)}")
        if found.get("x-token-cost") != pipedrive.api.cost_of(request):
            wrong.append(
                f"{request.line}: the fake charges {pipedrive.api.cost_of(request)}, "
                f"the spec {found.get('x-token-cost')}"
            )
    assert not wrong, "\n".join(wrong)
    crm.close()


def test_pipedrive_fake_records_and_headers_match_the_recorded_ones(
    pipedrive: PipedriveWorld,
) -> None:
    deal = recorded("pipedrive", "get-deal.test.json")
    real_fields = set(deal["response"]["data"])
    ours = set(pipedrive.api.v2["deals"]["31"]) - {
        "last_incoming_mail_time",
        "last_outgoing_mail_time",
    }
    assert ours <= real_fields, sorted(ours - real_fields)
    users = recorded("pipedrive", "list-users.test.json")
    assert set(pipedrive.api.users[0]) <= set(users["response"]["data"][0])
    crm = pipedrive.adapter
    crm.fetch(NOW, None)
    rate_headers = {k.lower() for k in deal["headers"] if "ratelimit" in k.lower()}
    sent = {k.lower() for k in crm.api.http.loop.last_headers if "ratelimit" in k.lower()}
    assert rate_headers <= sent
    crm.close()


def test_hubspot_fake_records_and_headers_match_the_recorded_ones(tmp_path: Path) -> None:
    deals = recorded("hubspot", "deals.test.json")
    pipelines = recorded("hubspot", "fetch-pipelines.test.json")
    owners = recorded("hubspot", "owners.test.json")
    world = HubSpotWorld(tmp_path)
    with world.running():
        world.load(small_account())
        crm = world.adapter
        crm.fetch(NOW, None)
        real = set(deals["response"]["results"][0]) | {"associations", "archivedAt"}
        ours = world.api._shape(
            "deals", world.api.objects["deals"]["31"], ["dealname"], ["contacts"]
        )
        assert set(ours) <= real, sorted(set(ours) - real)
        real_stage = set(pipelines["response"]["results"][0]["stages"][0])
        our_stage = set(world.api.pipelines[0]["stages"][0])
        assert our_stage <= real_stage
        assert set(world.api.owners[0]) <= set(owners["response"]["results"][0])
        rate_headers = {
            k.lower() for k in deals["headers"] if k.lower().startswith("x-hubspot-ratelimit")
        }
        sent = {
            k.lower()
            for k in crm.api.http.loop.last_headers
            if k.lower().startswith("x-hubspot-ratelimit")
        }
        assert rate_headers <= sent
        crm.close()
