"""The contract suite's Salesforce world: the neutral account as a Salesforce org (Users,
Contacts with their Account, Opportunities with contact roles and stage history, Tasks, Events
and EmailMessages), served over TLS by `fake_salesforce`, read by the real adapter through
simple-salesforce with a JWT bearer sign-in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import httpx2

from crm.salesforce.adapter import SalesforceCrm
from crm.salesforce.client import Credentials, SalesforceApi, make_session
from httploop import HttpLoop
from tests.crm.account import NOW, STAGES, T0, Account
from tests.crm.fake_salesforce import API_VERSION, SalesforceOrg
from tests.crm.fake_salesforce import SalesforceApi as FakeApi
from tests.crm.loopback import Answer
from tests.mailservers import self_signed

CONSUMER_KEY = "3MVG9-contract"
USER = "integration@northwind.studio"


def rsa_key_pair() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class SalesforceWorld:
    name = "salesforce"
    incremental = True
    faults = frozenset({"5xx", "timeout", "401"})

    def __init__(self, tmp: Path) -> None:
        self.private_key, public_key = rsa_key_pair()
        self.org = SalesforceOrg(
            consumer_key=CONSUMER_KEY,
            jwt_subjects={USER},
            jwt_public_key=public_key,
        )
        self.api = FakeApi(self.org)
        self.certificate = self_signed(tmp)
        self.waits: list[float] = []
        self._adapter: SalesforceCrm | None = None

    @contextmanager
    def running(self) -> Iterator[SalesforceWorld]:
        with self.api.running(tls=self.certificate.server_context()):
            try:
                yield self
            finally:
                if self._adapter is not None:
                    self._adapter.close()

    def build(self, *, timeout: float = 2.0, share: float = 0.5) -> SalesforceCrm:
        credentials = Credentials(
            login_url=self.api.url,
            client_id=CONSUMER_KEY,
            username=USER,
            private_key=self.private_key,
        )
        api = SalesforceApi(
            credentials,
            version=API_VERSION,
            session=make_session(timeout, str(self.certificate.cert), backoff=0.01),
            login=HttpLoop(
                self.api.url,
                vendor="Salesforce",
                transport=httpx2.HTTPTransport(verify=self.certificate.client_context()),
                timeout=timeout,
                sleep=self.waits.append,
            ),
            share=share,
            sleep=self.waits.append,
        )
        return SalesforceCrm(api, email_messages=True)

    @property
    def adapter(self) -> SalesforceCrm:
        if self._adapter is None:
            self._adapter = self.build()
        return self._adapter

    def load(self, account: Account) -> None:
        org = self.org
        org.clock = lambda: T0  # the account was written before the first sync
        for o in account.owners:
            org.put(
                "User",
                {
                    "Id": o.id,
                    "Name": f"{o.first} {o.last}",
                    "Email": o.email,
                    "TimeZoneSidKey": "America/New_York",
                },
            )
        companies = {c.company for c in account.contacts}
        accounts = {name: org.put("Account", {"Name": name}) for name in sorted(companies)}
        for c in account.contacts:
            org.put(
                "Contact",
                {
                    "Id": c.id,
                    "FirstName": c.first,
                    "LastName": c.last,
                    "Name": f"{c.first} {c.last}",
                    "Email": c.email,
                    "AccountId": accounts[c.company],
                    "HasOptedOutOfEmail": False,
                    "DoNotCall": False,
                    "IsEmailBounced": False,
                    "MailingCountryCode": None,
                },
            )
        for d in account.deals:
            org.put(
                "Opportunity",
                {
                    "Id": d.id,
                    "Name": d.title,
                    "StageName": STAGES[d.stage],
                    "Amount": d.amount,
                    "CloseDate": "2026-12-31",
                    "OwnerId": d.owner,
                    "IsClosed": d.status != "open",
                    "IsWon": d.status == "won",
                    "LeadSource": "Outbound",
                    "CreatedDate": _sf(d.entered - timedelta(days=1)),
                },
            )
            for index, contact in enumerate(d.contacts):
                org.put(
                    "OpportunityContactRole",
                    {
                        "OpportunityId": d.id,
                        "ContactId": contact,
                        "IsPrimary": index == 0,
                        "Role": "Decision Maker",
                    },
                )
            org.put(
                "OpportunityHistory",
                {
                    "OpportunityId": d.id,
                    "StageName": STAGES[d.stage],
                    "CreatedDate": _sf(d.entered),
                },
            )
        emails = {c.id: c.email for c in account.contacts}
        founder = account.owners[0].email
        for a in account.activities:
            if a.kind in ("email_in", "email_out"):
                inbound = a.kind == "email_in"
                org.put(
                    "EmailMessage",
                    {
                        "Id": a.id,
                        "RelatedToId": a.deal,
                        "Incoming": a.kind == "email_in",
                        "FromAddress": emails[a.contact] if inbound else founder,
                        "ToAddress": founder if inbound else emails[a.contact],
                        "Subject": a.subject,
                        "TextBody": a.body,
                        "MessageDate": _sf(a.at),
                        "ThreadIdentifier": None,
                        "MessageIdentifier": None,
                    },
                )
            elif a.kind == "meeting":
                org.put(
                    "Event",
                    {
                        "Id": a.id,
                        "WhatId": a.deal,
                        "WhoId": a.contact,
                        "Subject": a.subject,
                        "Description": a.body or None,
                        "StartDateTime": _sf(a.scheduled_for or a.at),
                        "CreatedDate": _sf(a.at),
                    },
                )
            else:
                org.put(
                    "Task",
                    {
                        "Id": a.id,
                        "WhatId": a.deal,
                        "WhoId": a.contact,
                        "Subject": a.subject or None,
                        "Description": a.body or None,
                        "TaskSubtype": "Call" if a.kind == "call" else None,
                        "CallDisposition": None,
                        "Status": "Completed",
                        "ActivityDate": None,
                        "CreatedDate": _sf(a.at),
                    },
                )

        # Writes from here on are stamped after the first sync.
        org.clock = lambda: NOW + timedelta(minutes=1)

    def writes(self) -> dict[str, int]:
        tasks = list(self.org.records.get("Task", {}).values())
        marked = [t for t in tasks if "followup ref" in str(t.get("Description") or "")]
        return {
            "sent": sum(t.get("TaskSubtype") == "Email" for t in marked),
            "task": sum(t.get("Status") == "Not Started" for t in marked),
            "do_not_contact": sum(
                bool(c.get("HasOptedOutOfEmail")) for c in self.org.records["Contact"].values()
            ),
        }

    def lose_next_answer(self, line: str) -> None:
        self.api.fail(line, delay=2.5)  # longer than the client waits: the answer is lost

    def rename(self, deal_id: str, title: str, at: datetime) -> None:
        self.org.put("Opportunity", {"Id": deal_id, "Name": title}, at=at)

    def delete(self, deal_id: str, at: datetime) -> None:
        self.org.delete("Opportunity", deal_id, at=at)

    def add_malformed(self, at: datetime) -> str:
        self.org.put(
            "Opportunity",
            {
                "Id": "39",
                "Name": "No stage",
                "StageName": None,
                "Amount": None,
                "OwnerId": "11",
                "IsClosed": False,
                "IsWon": False,
                "CreatedDate": _sf(at),
            },
            at=at,
        )
        return "39"

    def fault(self, kind: str) -> None:
        if kind == "5xx":
            self.api.fail(
                "GET /services/data/",
                Answer(503, [{"errorCode": "SERVER_UNAVAILABLE", "message": "try later"}]),
                times=20,
            )
        elif kind == "timeout":
            if self._adapter is not None:
                self._adapter.close()
            self._adapter = self.build(timeout=0.3)
            self.api.fail("GET /services/data/", delay=0.6, times=20)
        elif kind == "401":
            self.org.tokens.clear()
            self.org.jwt_subjects.clear()

    def served_deals(self) -> int:
        return self.org.served.pop("Opportunity", 0)


def _sf(moment: datetime) -> str:
    from tests.crm.fake_salesforce import sf_time

    return sf_time(moment)


SALESFORCE_WORLDS = {"salesforce": SalesforceWorld}
