"""The contract suite's Close world: the neutral account as a Close organisation (a lead per
company with its contacts, opportunities in cents with custom statuses and status changes,
email/call/meeting/note activities on the lead, and the event log), served by `fake_close`,
read by the adapter from the registry's `build`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from crm import CrmContext
from crm.close import CloseCrm
from crm.close import build as build_close
from crm.close.settings import CloseSettings
from tests.crm.account import NOW, STAGES, T0, Account
from tests.crm.fake_close import CloseApi, CloseOrg, close_time
from tests.crm.loopback import Answer

API_KEY = "api_contract_key"
STATUS_TYPES = {"qualified": "active", "proposal": "active", "won": "won"}


class CloseWorld:
    name = "close"
    incremental = True
    faults = frozenset({"5xx", "timeout", "401", "429"})
    rate_limit_wait = 1.5  # the RateLimit header's reset=

    def __init__(self, tmp: Path) -> None:
        self.org = CloseOrg(api_keys={API_KEY})
        self.api = CloseApi(self.org)
        self.waits: list[float] = []
        self._adapter: CloseCrm | None = None
        self._served = 0

    @contextmanager
    def running(self) -> Iterator[CloseWorld]:
        with self.api.running():
            try:
                yield self
            finally:
                if self._adapter is not None:
                    self._adapter.close()

    @property
    def adapter(self) -> CloseCrm:
        if self._adapter is None:
            settings = CloseSettings(
                _env_file=None,  # type: ignore[call-arg]
                api_key=SecretStr(API_KEY),
                api_url=f"{self.api.url}/api/v1/",
                timeout_seconds=0.5,
            )
            self._adapter = build_close(
                CrmContext(env_file=None), settings=settings, sleep=self.waits.append
            )
        return self._adapter

    def _at(self, moment: datetime) -> None:
        self.org.clock = lambda: moment

    def load(self, account: Account) -> None:
        org = self.org
        self._at(T0)
        org.users = [
            {"id": o.id, "first_name": o.first, "last_name": o.last, "email": o.email}
            for o in account.owners
        ]
        org.statuses = [
            {"id": f"stat_{key}", "label": label, "type": STATUS_TYPES[key]}
            for key, label in STAGES.items()
        ]
        leads = {c.company: f"lead_{c.company.lower()}" for c in account.contacts}
        for company, lead_id in leads.items():
            org.leads.append(_stamped({"id": lead_id, "display_name": company, "name": company}))
        lead_of = {c.id: leads[c.company] for c in account.contacts}
        for c in account.contacts:
            org.contacts.append(
                _stamped(
                    {
                        "id": c.id,
                        "lead_id": lead_of[c.id],
                        "name": f"{c.first} {c.last}",
                        "emails": [{"email": c.email, "type": "office", "is_unsubscribed": False}],
                        "phones": [],
                    }
                )
            )
        for d in account.deals:
            lead = lead_of[d.contacts[0]]
            org.opportunities.append(
                _stamped(
                    {
                        "id": d.id,
                        "lead_id": lead,
                        "lead_name": next(k for k, v in leads.items() if v == lead),
                        "contact_id": d.contacts[0],
                        "user_id": d.owner,
                        "status_id": f"stat_{d.stage}",
                        "status_label": STAGES[d.stage],
                        "status_type": STATUS_TYPES[d.stage],
                        "value": int(d.amount * 100),
                        "value_currency": "USD",
                        "value_period": "one_time",
                        "note": d.title,
                    },
                    at=d.entered,
                )
            )
            org.status_changes.append(
                _stamped(
                    {
                        "id": f"acti_sc_{d.id}",
                        "opportunity_id": d.id,
                        "lead_id": lead,
                        "new_status_id": f"stat_{d.stage}",
                        "new_status_label": STAGES[d.stage],
                        "activity_at": close_time(d.entered),
                    },
                    at=d.entered,
                )
            )
        for a in account.activities:
            record: dict[str, Any] = {
                "id": a.id,
                "lead_id": lead_of[a.contact],
                "contact_id": a.contact,
            }
            if a.kind in ("email_in", "email_out"):
                kind = "email"
                record |= {
                    "direction": "incoming" if a.kind == "email_in" else "outgoing",
                    "status": "inbox" if a.kind == "email_in" else "sent",
                    "subject": a.subject,
                    "body_text": a.body,
                    "date_sent": close_time(a.at),
                    "message_ids": [],
                    "to": [],
                }
            elif a.kind == "call":
                kind = "call"
                record |= {"note": a.body, "direction": "outbound", "duration": 600}
            elif a.kind == "meeting":
                kind = "meeting"
                record |= {"title": a.subject, "starts_at": close_time(a.scheduled_for or a.at)}
            else:
                kind = "note"
                record |= {"note": a.body}
            org.activities[kind].append(_stamped(record, at=a.at))

        self._at(NOW + timedelta(minutes=1))  # writes from here on come after the first sync

    def writes(self) -> dict[str, int]:
        org = self.org
        return {
            "sent": sum("followup ref" in str(a.get("body_text")) for a in org.activities["email"]),
            "task": sum("followup ref" in str(t.get("text")) for t in org.tasks),
            "do_not_contact": len(org.unsubscribed),
        }

    def lose_next_answer(self, line: str) -> None:
        self.api.fail(line, delay=0.8)  # longer than the client waits: the answer is lost

    def _opportunity(self, deal_id: str) -> dict[str, Any]:
        return next(o for o in self.org.opportunities if o["id"] == deal_id)

    def rename(self, deal_id: str, title: str, at: datetime) -> None:
        self._at(at)
        record = self._opportunity(deal_id)
        record.update(note=title, date_updated=close_time(at))
        self.org.log_event("opportunity", record)

    def delete(self, deal_id: str, at: datetime) -> None:
        self._at(at)
        record = self._opportunity(deal_id)
        self.org.opportunities.remove(record)
        self.org.log_event("opportunity", record, "deleted")

    def add_malformed(self, at: datetime) -> str:
        self.org.opportunities.append(
            _stamped(
                {
                    "id": "39",
                    "lead_id": "lead_globex",
                    "lead_name": "Globex",
                    "user_id": "11",
                    "status_id": None,
                    "status_label": None,
                    "value": 100,
                },
                at=at,
            )
        )
        return "39"

    def fault(self, kind: str) -> None:
        if kind == "5xx":
            self.api.fail("GET /api/v1/", Answer(503, {"error": "Service unavailable"}), times=20)
        elif kind == "timeout":
            self.api.fail("GET /api/v1/", delay=0.8, times=20)
        elif kind == "401":
            self.org.api_keys.clear()
        elif kind == "429":
            self.api.fail(
                "GET /api/v1/opportunity/",
                Answer(
                    429,
                    {"error": {"rate_reset": 1.5, "message": "API call count exceeded"}},
                    {"RateLimit": "limit=100, remaining=0, reset=1.5"},
                ),
            )

    def served_deals(self) -> int:
        served, self._served = (
            self.org.served_opportunities - self._served,
            self.org.served_opportunities,
        )
        return served


def _stamped(record: dict[str, Any], *, at: datetime = T0) -> dict[str, Any]:
    return {**record, "date_created": close_time(at), "date_updated": close_time(at)}


CLOSE_WORLDS = {"close": CloseWorld}
