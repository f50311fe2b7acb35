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
from crm.pipedrive import PipedriveCrm
from crm.pipedrive import build as build_pipedrive
from crm.pipedrive.settings import PipedriveSettings
from tests.crm.account import STAGES, T0, Account
from tests.crm.fake_hubspot import TOKEN, FakeHubSpot, error, iso, rate_limited
from tests.crm.fake_pipedrive import TOKEN as PD_TOKEN
from tests.crm.fake_pipedrive import FakePipedrive
from tests.crm.fake_pipedrive import failure as pd_failure
from tests.crm.fake_pipedrive import v1 as pd_v1
from tests.crm.fake_pipedrive import v2 as pd_v2

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

    def writes(self) -> dict[str, int]:
        def marked(object_type: str, prop: str) -> int:
            return sum(
                "followup ref" in str(r.properties.get(prop) or "")
                for r in self.api.objects.get(object_type, {}).values()
            )

        return {
            "sent": marked("emails", "hs_email_text"),
            "task": marked("tasks", "hs_task_body"),
            "do_not_contact": len(self.api.unsubscribed),
        }

    def lose_next_answer(self, line: str) -> None:
        self.api.fail(line, delay=0.8)

    def deal_stage(self, deal_id: str) -> str:
        return str(self.api.objects["deals"][deal_id].properties["dealstage"])


PIPEDRIVE_STAGES = {"qualified": 1, "proposal": 2, "won": 1}
ORGS = {"Globex": 51, "Initech": 52}


class PipedriveWorld:
    name = "pipedrive"
    incremental = True
    faults = frozenset({"5xx", "timeout", "401", "429"})
    rate_limit_wait = 2.0  # x-ratelimit-reset

    def __init__(self, tmp: Path) -> None:
        self.api = FakePipedrive()
        self.waits: list[float] = []
        self._adapter: PipedriveCrm | None = None
        self._served = 0

    @contextmanager
    def running(self) -> Iterator[PipedriveWorld]:
        with self.api.running():
            try:
                yield self
            finally:
                if self._adapter is not None:
                    self._adapter.close()

    @property
    def adapter(self) -> PipedriveCrm:
        if self._adapter is None:
            settings = PipedriveSettings(
                _env_file=None,  # type: ignore[call-arg]
                api_token=SecretStr(PD_TOKEN),
                api_url=self.api.url,
                timeout_seconds=0.5,
            )
            self._adapter = build_pipedrive(
                CrmContext(env_file=None), settings=settings, sleep=self.waits.append
            )
        return self._adapter

    def load(self, account: Account) -> None:
        api = self.api
        api.users = [
            {
                "id": int(o.id),
                "name": f"{o.first} {o.last}",
                "email": o.email,
                "timezone_name": "America/New_York",
                "active_flag": True,
            }
            for o in account.owners
        ]
        api.v2["pipelines"]["1"] = {"id": 1, "name": "Sales", "order_nr": 1}
        for order, (key, stage_id) in enumerate(PIPEDRIVE_STAGES.items()):
            if key != "won":
                api.v2["stages"][str(stage_id)] = {
                    "id": stage_id,
                    "name": STAGES[key],
                    "pipeline_id": 1,
                    "order_nr": order,
                    "deal_probability": 100,
                    "is_deleted": False,
                }
        api.fields["personFields"] = [
            {
                "key": "label_ids",
                "name": "Labels",
                "field_type": "set",
                "options": [{"id": 7, "label": "Do not contact"}, {"id": 8, "label": "Customer"}],
            }
        ]
        api.fields["dealFields"] = [
            {
                "key": "label",
                "name": "Label",
                "field_type": "set",
                "options": [{"id": 3, "label": "On hold"}],
            }
        ]
        for name, org_id in ORGS.items():
            api.v2["organizations"][str(org_id)] = {
                "id": org_id,
                "name": name,
                "update_time": pd_v2(T0),
                "is_deleted": False,
            }
        for c in account.contacts:
            api.v2["persons"][c.id] = {
                "id": int(c.id),
                "name": f"{c.first} {c.last}",
                "first_name": c.first,
                "last_name": c.last,
                "emails": [{"value": c.email, "primary": True, "label": "work"}],
                "org_id": ORGS[c.company],
                "label_ids": [],
                "add_time": pd_v2(T0 - timedelta(days=10)),
                "update_time": pd_v2(T0 - timedelta(days=10)),
                "is_deleted": False,
                "custom_fields": {},
            }
        for d in account.deals:
            api.v2["deals"][d.id] = {
                "id": int(d.id),
                "title": d.title,
                "owner_id": int(d.owner),
                "person_id": int(d.contacts[0]),
                "stage_id": PIPEDRIVE_STAGES[d.stage],
                "pipeline_id": 1,
                "value": d.amount,
                "currency": "USD",
                "add_time": pd_v2(T0 - timedelta(days=20)),
                "update_time": pd_v2(d.entered),
                "stage_change_time": pd_v2(d.entered),
                "status": d.status,
                "is_deleted": False,
                "label_ids": [],
                "custom_fields": {},
                "origin": "ManuallyCreated",
            }
        for a in account.activities:
            if a.kind.startswith("email"):
                inbound = a.kind == "email_in"
                user = {"email_address": account.owners[0].email, "name": "Maya Chen"}
                person = {
                    "email_address": next(c.email for c in account.contacts if c.id == a.contact),
                    "linked_person_id": int(a.contact),
                }
                self.api.mail.setdefault(a.deal, []).append(
                    {
                        "object": "mailMessage",
                        "timestamp": pd_v1(a.at),
                        "data": {
                            "id": int(a.id),
                            "from": [person if inbound else user],
                            "to": [user if inbound else person],
                            "subject": a.subject,
                            "snippet": a.body,
                            "mail_thread_id": 9001,
                            "sent_flag": 0 if inbound else 1,
                            "message_time": pd_v1(a.at),
                            "add_time": pd_v1(a.at),
                            "mua_message_id": f"<{a.id}@mail.example>",
                        },
                    }
                )
                key = "last_incoming_mail_time" if inbound else "last_outgoing_mail_time"
                api.v2["deals"][a.deal][key] = pd_v1(a.at)
            elif a.kind == "note":
                api.notes[a.id] = {
                    "id": int(a.id),
                    "content": f"<p>{a.body}</p>",
                    "deal_id": int(a.deal),
                    "person_id": int(a.contact),
                    "add_time": pd_v1(a.at),
                    "update_time": pd_v1(a.at),
                    "active_flag": True,
                }
            else:
                record: dict[str, Any] = {
                    "id": int(a.id),
                    "subject": a.subject or a.kind,
                    "type": a.kind,
                    "owner_id": 11,
                    "deal_id": int(a.deal),
                    "person_id": int(a.contact),
                    "add_time": pd_v2(a.at),
                    "update_time": pd_v2(a.at),
                    "is_deleted": False,
                    "note": a.body or None,
                }
                if a.kind == "call":
                    record |= {
                        "done": True,
                        "marked_as_done_time": pd_v2(a.at),
                        "due_date": a.at.strftime("%Y-%m-%d"),
                        "due_time": a.at.strftime("%H:%M"),
                    }
                else:
                    assert a.scheduled_for is not None
                    record |= {
                        "done": False,
                        "due_date": a.scheduled_for.strftime("%Y-%m-%d"),
                        "due_time": a.scheduled_for.strftime("%H:%M"),
                    }
                api.v2["activities"][a.id] = record

    def rename(self, deal_id: str, title: str, at: datetime) -> None:
        self.api.v2["deals"][deal_id] |= {"title": title, "update_time": pd_v2(at)}

    def delete(self, deal_id: str, at: datetime) -> None:
        self.api.v2["deals"][deal_id] |= {
            "is_deleted": True,
            "status": "deleted",
            "update_time": pd_v2(at),
        }

    def add_malformed(self, at: datetime) -> str:
        record = dict(self.api.v2["deals"]["32"])
        record |= {"id": 39, "title": "Lost stage", "stage_id": 999, "update_time": pd_v2(at)}
        self.api.v2["deals"]["39"] = record
        return "39"

    def fault(self, kind: str) -> None:
        if kind == "5xx":
            self.api.fail("", pd_failure(502, "Bad gateway"), times=8)
        elif kind == "timeout":
            self.api.fail("", delay=0.8, times=8)
        elif kind == "401":
            self.api.token = "pd-revoked"
        elif kind == "429":
            self.api.fail("GET /v1/users", pd_failure(429, "Rate limit exceeded"))
        else:  # pragma: no cover
            raise ValueError(kind)

    def served_deals(self) -> int:
        total = self.api.served_count.get("deals", 0)
        fresh, self._served = total - self._served, total
        return fresh

    def writes(self) -> dict[str, int]:
        return {
            "sent": sum("followup ref" in str(n["content"]) for n in self.api.notes.values()),
            "task": sum(a.get("type") == "task" for a in self.api.v2["activities"].values()),
            "do_not_contact": sum(
                7 in (p.get("label_ids") or []) for p in self.api.v2["persons"].values()
            ),
        }

    def lose_next_answer(self, line: str) -> None:
        self.api.fail(line, delay=0.8)

    def deal_stage(self, deal_id: str) -> str:
        stage_id = self.api.v2["deals"][deal_id]["stage_id"]
        return str(self.api.v2["stages"][str(stage_id)]["name"])


HTTP_WORLDS: dict[str, Any] = {"hubspot": HubSpotWorld, "pipedrive": PipedriveWorld}
