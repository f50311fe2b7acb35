"""The vendors' worlds for the contract suite: the neutral account put into each loopback
vendor's shape, and the adapter from the registry's `build` pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from crm import CrmContext
from crm.hubspot import HubSpotCrm
from crm.hubspot import build as build_hubspot
from crm.hubspot.settings import HubSpotSettings
from tests.crm.account import STAGES, T0, Account
from tests.crm.fake_hubspot import TOKEN, FakeHubSpot, error, iso, rate_limited

HUBSPOT_STAGES = {"qualified": "qualifiedtobuy", "proposal": "proposalsent", "won": "closedwon"}


def hubspot_pipelines() -> list[dict[str, Any]]:
    def stage(
        stage_id: str, label: str, closed: bool, probability: str, order: int
    ) -> dict[str, Any]:
        return {
            "label": label,
            "displayOrder": order,
            "metadata": {"isClosed": str(closed).lower(), "probability": probability},
            "id": stage_id,
            "createdAt": "1970-01-01T00:00:00Z",
            "updatedAt": "1970-01-01T00:00:00Z",
            "archived": False,
        }

    return [
        {
            "label": "Sales Pipeline",
            "displayOrder": 0,
            "id": "default",
            "stages": [
                stage("qualifiedtobuy", STAGES["qualified"], False, "0.4", 0),
                stage("proposalsent", STAGES["proposal"], False, "0.6", 1),
                stage("closedwon", STAGES["won"], True, "1.0", 2),
                stage("closedlost", "Closed Lost", True, "0.0", 3),
            ],
        }
    ]


class HubSpotWorld:
    name = "hubspot"
    incremental = True
    faults = frozenset({"5xx", "timeout", "401", "429"})
    rate_limit_wait = 10.0  # TEN_SECONDLY_ROLLING without Retry-After

    def __init__(self, tmp: Path) -> None:
        self.api = FakeHubSpot()
        self.waits: list[float] = []
        self._adapter: HubSpotCrm | None = None
        self._served = 0

    @contextmanager
    def running(self) -> Iterator[HubSpotWorld]:
        with self.api.running():
            try:
                yield self
            finally:
                if self._adapter is not None:
                    self._adapter.close()

    @property
    def adapter(self) -> HubSpotCrm:
        if self._adapter is None:
            settings = HubSpotSettings(
                _env_file=None,  # type: ignore[call-arg]
                access_token=SecretStr(TOKEN),
                api_url=self.api.url,
                timeout_seconds=0.5,
            )
            self._adapter = build_hubspot(
                CrmContext(env_file=None), settings=settings, sleep=self.waits.append
            )
        return self._adapter

    def load(self, account: Account) -> None:
        api = self.api
        api.pipelines = hubspot_pipelines()
        api.owners = [
            {
                "id": o.id,
                "email": o.email,
                "type": "PERSON",
                "firstName": o.first,
                "lastName": o.last,
                "userId": int(o.id) + 1000,
                "createdAt": iso(T0),
                "updatedAt": iso(T0),
                "archived": False,
            }
            for o in account.owners
        ]
        for c in account.contacts:
            api.put(
                "contacts",
                c.id,
                {"firstname": c.first, "lastname": c.last, "email": c.email, "company": c.company},
                at=T0 - timedelta(days=10),
            )
        for d in account.deals:
            stage = HUBSPOT_STAGES[d.stage]
            api.put(
                "deals",
                d.id,
                {
                    "dealname": d.title,
                    "amount": f"{d.amount:.2f}",
                    "deal_currency_code": "USD",
                    "dealstage": stage,
                    "pipeline": "default",
                    "hubspot_owner_id": d.owner,
                    f"hs_v2_date_entered_{stage}": iso(d.entered),
                },
                at=d.entered,
                links={"contacts": list(d.contacts)},
            )
        for a in account.activities:
            links = {"deals": [a.deal], "contacts": [a.contact]}
            if a.kind.startswith("email"):
                props = {
                    "hs_email_direction": "INCOMING_EMAIL" if a.kind == "email_in" else "EMAIL",
                    "hs_email_subject": a.subject,
                    "hs_email_text": a.body,
                    "hs_timestamp": iso(a.at),
                }
                api.put("emails", a.id, props, at=a.at, links=links)
            elif a.kind == "call":
                props = {"hs_call_body": a.body, "hs_timestamp": iso(a.at)}
                api.put("calls", a.id, props, at=a.at, links=links)
            elif a.kind == "meeting":
                assert a.scheduled_for is not None
                props = {
                    "hs_meeting_title": a.subject,
                    "hs_meeting_start_time": iso(a.scheduled_for),
                    "hs_timestamp": iso(a.scheduled_for),
                    "hs_createdate": iso(a.at),
                }
                api.put("meetings", a.id, props, at=a.at, links=links)
            else:
                props = {"hs_note_body": a.body, "hs_timestamp": iso(a.at)}
                api.put("notes", a.id, props, at=a.at, links=links)

    def rename(self, deal_id: str, title: str, at: datetime) -> None:
        self.api.put("deals", deal_id, {"dealname": title}, at=at)

    def delete(self, deal_id: str, at: datetime) -> None:
        self.api.archive("deals", deal_id, at)

    def add_malformed(self, at: datetime) -> str:
        self.api.put(
            "deals",
            "39",
            {"dealname": "Lost stage", "dealstage": "nosuchstage", "hubspot_owner_id": "11"},
            at=at,
        )
        return "39"

    def fault(self, kind: str) -> None:
        if kind == "5xx":
            self.api.fail("", error(502, "Bad gateway", "INTERNAL_ERROR"), times=8)
        elif kind == "timeout":
            self.api.fail("", delay=0.8, times=8)
        elif kind == "401":
            self.api.token = "pat-na1-revoked"
        elif kind == "429":
            self.api.fail("GET /crm/owners", rate_limited("TEN_SECONDLY_ROLLING"))
        else:  # pragma: no cover
            raise ValueError(kind)

    def served_deals(self) -> int:
        total = self.api.served_count.get("deals", 0)
        fresh, self._served = total - self._served, total
        return fresh


HTTP_WORLDS: dict[str, Any] = {"hubspot": HubSpotWorld}
