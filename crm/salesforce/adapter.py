"""Salesforce into the normalized pipeline, and followup's write-backs out of it.

Streams and their cursors (`SystemModstamp`, or `CreatedDate` for history rows, each read with
`> since ORDER BY ... ASC`): User, Contact, Opportunity, OpportunityContactRole,
OpportunityHistory, Task, Event, and, where the org has them, EmailMessage and Quote. An
incremental sync asks for what changed, then re-reads the opportunities a changed contact role
or stage-history row touches (by id, 200 at a time), so a deal is always whole. Deletions come
from `queryAll ... IsDeleted = true`; a cursor older than the 15 days Salesforce keeps them
starts a full sync.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from crm.base import RecordProblem, SyncResult
from crm.mapping import CrmMapping, stage_history_activities
from crm.salesforce.client import SalesforceApi
from crm.salesforce.query import soql, soql_ids, soql_time
from crm.salesforce.write import SalesforceWriter
from crm.source import SyncRun, chunks, parse_time, start
from triggers.model import (
    Activity,
    ActivityKind,
    Contact,
    ContactStatus,
    Deal,
    DealStatus,
    Direction,
    Owner,
    Pipeline,
)

log = logging.getLogger(__name__)
VENDOR = "salesforce"
DELETIONS_KEPT = timedelta(days=14)  # Salesforce keeps deleted records 15 days
SOQL_IN_BATCH = 200
DELETABLE = ("Opportunity", "Contact", "Task", "Event")
SETTLE = timedelta(minutes=2)  # covers commit latency and clock skew with the org

USER_FIELDS = "Id, Name, Email, TimeZoneSidKey, SystemModstamp"
CONTACT_FIELDS = (
    "Id, FirstName, LastName, Name, Email, Account.Name, HasOptedOutOfEmail, DoNotCall, "
    "IsEmailBounced, MailingCountryCode, SystemModstamp"
)
OPPORTUNITY_FIELDS = (
    "Id, Name, StageName, Amount, CloseDate, OwnerId, IsClosed, IsWon, LeadSource, "
    "CreatedDate, SystemModstamp"
)
ROLE_FIELDS = "Id, OpportunityId, ContactId, IsPrimary, Role, SystemModstamp"
HISTORY_FIELDS = "Id, OpportunityId, StageName, CreatedDate"
TASK_FIELDS = (
    "Id, WhatId, WhoId, Subject, Description, TaskSubtype, CallDisposition, Status, "
    "ActivityDate, CreatedDate, SystemModstamp"
)
EVENT_FIELDS = "Id, WhatId, WhoId, Subject, Description, StartDateTime, CreatedDate, SystemModstamp"
EMAIL_FIELDS = (
    "Id, RelatedToId, Incoming, FromAddress, ToAddress, Subject, TextBody, MessageDate, "
    "ThreadIdentifier, MessageIdentifier, SystemModstamp"
)


def _changed(
    fields: str, sobject: str, stamp: str, since: datetime | None, until: datetime, extra: str = ""
) -> str:
    """What changed after the watermark and up to `until`, which trails the clock by
    `SETTLE`: a change is read once its second is over everywhere, so a record saved in the
    watermark's own second is never skipped and none is read twice."""
    where = [f"{stamp} <= {soql_time(until)}"]
    if since:
        where.insert(0, f"{stamp} > {soql_time(since)}")
    if extra:
        where.append(extra)
    return soql(fields, sobject, *where, order=stamp)


@dataclass(slots=True)
class _Deals:
    """Opportunities with their contact roles and stage history, keyed by id."""

    opportunities: dict[str, dict[str, Any]]
    roles: dict[str, list[dict[str, Any]]]
    history: dict[str, list[dict[str, Any]]]


class SalesforceCrm(SalesforceWriter):
    name = VENDOR

    def __init__(
        self,
        api: SalesforceApi,
        mapping: CrmMapping | None = None,
        *,
        quotes: bool = False,
        email_messages: bool = False,
        multi_currency: bool = False,
    ) -> None:
        self.api = api
        self.mapping = mapping or CrmMapping()
        self.quotes = quotes
        self.email_messages = email_messages
        self.multi_currency = multi_currency

    @property
    def requests(self) -> int:
        return self.api.requests

    def close(self) -> None:
        self.api.close()

    # --- read ------------------------------------------------------------------------------

    def fetch(self, now: datetime, cursor: str | None = None) -> SyncResult:
        run = start(VENDOR, now, cursor, max_age=DELETIONS_KEPT)
        # Deletions are asked for from where each stream stood before this sync read it.
        deletions_from = {s: run.since(s) for s in DELETABLE}
        owners = [self._owner(r, run) for r in self._stream(run, "User", USER_FIELDS)]
        deals = self._deals(run)
        contact_ids = {
            str(role["ContactId"])
            for roles in deals.roles.values()
            for role in roles
            if role.get("ContactId")
        }
        contacts = {
            str(r["Id"]): r for r in self._stream(run, "Contact", CONTACT_FIELDS) if r.get("Id")
        }
        missing = contact_ids - set(contacts)
        for batch in chunks(sorted(missing), SOQL_IN_BATCH):
            for record in self.api.query(
                soql(CONTACT_FIELDS, "Contact", f"Id IN ({soql_ids(batch)})")
            ):
                contacts[str(record["Id"])] = record
        expiries = self._quote_expiries(set(deals.opportunities)) if self.quotes else {}
        mapped_deals: list[Deal] = []
        activities: list[Activity] = []
        for opp_id, record in deals.opportunities.items():
            deal = self._deal(record, deals, expiries.get(opp_id), run)
            if deal is None:
                continue
            mapped_deals.append(deal)
            activities.extend(self._stage_activities(deal, deals.history.get(opp_id, [])))
        by_address = {
            address: str(record["Id"])
            for record in contacts.values()
            for address in [str(record.get("Email") or "").lower()]
            if address
        }
        if self.email_messages and not run.full:
            # A change set holds only the contacts that changed: the rest are looked up by the
            # addresses the changed emails name.
            by_address |= self._contacts_by_address(run)
        activities.extend(self._activities(run, by_address))
        if not run.full:
            self._deletions(run, deletions_from, now)
        pipeline = Pipeline(
            owners=tuple(o for o in owners if o is not None),
            contacts=tuple(
                c for c in (self._contact(r, run) for r in contacts.values()) if c is not None
            ),
            deals=tuple(mapped_deals),
            activities=tuple(activities),
        )
        return run.result(pipeline)

    def _stream(
        self,
        run: SyncRun,
        sobject: str,
        fields: str,
        *,
        stamp: str = "SystemModstamp",
        extra: str = "",
    ) -> Iterator[dict[str, Any]]:
        soql = _changed(fields, sobject, stamp, run.since(sobject), run.now - SETTLE, extra)
        for record in self.api.query(soql):
            updated = _time(record.get(stamp))
            if run.news(sobject, str(record.get("Id")), updated):
                yield record

    def _deals(self, run: SyncRun) -> _Deals:
        opportunities = {
            str(r["Id"]): r for r in self._stream(run, "Opportunity", OPPORTUNITY_FIELDS)
        }
        roles: dict[str, list[dict[str, Any]]] = {}
        history: dict[str, list[dict[str, Any]]] = {}
        if run.full:
            for role in self._stream(run, "OpportunityContactRole", ROLE_FIELDS):
                roles.setdefault(str(role.get("OpportunityId")), []).append(role)
            for row in self._stream(run, "OpportunityHistory", HISTORY_FIELDS, stamp="CreatedDate"):
                history.setdefault(str(row.get("OpportunityId")), []).append(row)
            return _Deals(opportunities, roles, history)
        # Incremental: whatever a changed role or history row touches is read whole again.
        touched = set(opportunities)
        touched |= {
            str(r.get("OpportunityId"))
            for r in self._stream(run, "OpportunityContactRole", ROLE_FIELDS)
        }
        touched |= {
            str(r.get("OpportunityId"))
            for r in self._stream(run, "OpportunityHistory", HISTORY_FIELDS, stamp="CreatedDate")
        }
        for batch in chunks(sorted(touched - set(opportunities)), SOQL_IN_BATCH):
            for record in self.api.query(
                soql(OPPORTUNITY_FIELDS, "Opportunity", f"Id IN ({soql_ids(batch)})")
            ):
                opportunities[str(record["Id"])] = record
        for batch in chunks(sorted(opportunities), SOQL_IN_BATCH):
            where = f"OpportunityId IN ({soql_ids(batch)})"
            for role in self.api.query(soql(ROLE_FIELDS, "OpportunityContactRole", where)):
                roles.setdefault(str(role.get("OpportunityId")), []).append(role)
            for row in self.api.query(
                soql(HISTORY_FIELDS, "OpportunityHistory", where, order="CreatedDate")
            ):
                history.setdefault(str(row.get("OpportunityId")), []).append(row)
        return _Deals(opportunities, roles, history)

    def _contacts_by_address(self, run: SyncRun) -> dict[str, str]:
        addresses: set[str] = set()
        soql_text = _changed(
            "FromAddress, ToAddress",
            "EmailMessage",
            "SystemModstamp",
            run.since("EmailMessage"),
            run.now - SETTLE,
            "RelatedTo.Type = 'Opportunity'",
        )
        for record in self.api.query(soql_text):
            addresses.add(str(record.get("FromAddress") or "").strip().lower())
            for to in str(record.get("ToAddress") or "").split(";"):
                addresses.add(to.strip().lower())
        addresses.discard("")
        found: dict[str, str] = {}
        for batch in chunks(sorted(addresses), SOQL_IN_BATCH):
            for row in self.api.query(
                soql("Id, Email", "Contact", f"Email IN ({soql_ids(batch)})")
            ):
                if row.get("Email"):
                    found[str(row["Email"]).lower()] = str(row["Id"])
        return found

    def _quote_expiries(self, opp_ids: set[str]) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        for batch in chunks(sorted(opp_ids), SOQL_IN_BATCH):
            for row in self.api.query(
                soql(
                    "OpportunityId, ExpirationDate, IsSyncing",
                    "Quote",
                    f"OpportunityId IN ({soql_ids(batch)})",
                    order="ExpirationDate",
                )
            ):
                when = _time(row.get("ExpirationDate"))
                if when is not None:
                    found[str(row["OpportunityId"])] = when
        return found

    def _activities(self, run: SyncRun, by_address: dict[str, str]) -> Iterator[Activity]:
        on_deals = "What.Type = 'Opportunity'"
        for record in self._stream(run, "Task", TASK_FIELDS, extra=on_deals):
            activity = self._task(record, run)
            if activity is not None:
                yield activity
        for record in self._stream(run, "Event", EVENT_FIELDS, extra=on_deals):
            activity = self._event(record, run)
            if activity is not None:
                yield activity
        if self.email_messages:
            for record in self._stream(
                run, "EmailMessage", EMAIL_FIELDS, extra="RelatedTo.Type = 'Opportunity'"
            ):
                activity = self._email(record, run, by_address)
                if activity is not None:
                    yield activity

    def _deletions(
        self, run: SyncRun, deletions_from: dict[str, datetime | None], now: datetime
    ) -> None:
        targets = {
            "Opportunity": run.deleted_deals,
            "Contact": run.deleted_contacts,
            "Task": run.deleted_activities,
            "Event": run.deleted_activities,
        }
        for sobject, into in targets.items():
            since = deletions_from.get(sobject) or (now - DELETIONS_KEPT)
            query = soql(
                "Id",
                sobject,
                "IsDeleted = true",
                f"SystemModstamp > {soql_time(since - timedelta(minutes=5))}",
            )
            into.update(str(r["Id"]) for r in self.api.query(query, include_deleted=True))

    # --- mapping ---------------------------------------------------------------------------

    def _owner(self, record: dict[str, Any], run: SyncRun) -> Owner | None:
        user_id, email = record.get("Id"), record.get("Email")
        if not user_id or not email:
            run.problem("owners", user_id, "Email", "the user has no email address")
            return None
        owner = Owner(
            id=str(user_id),
            name=str(record.get("Name") or email),
            email=str(email),
            timezone=record.get("TimeZoneSidKey") or None,
        )
        return self.mapping.owner(owner)

    def _contact(self, record: dict[str, Any], run: SyncRun) -> Contact | None:
        contact_id = str(record.get("Id"))
        name = record.get("Name") or " ".join(
            p for p in (record.get("FirstName"), record.get("LastName")) if p
        )
        status = ContactStatus.ACTIVE
        if record.get("HasOptedOutOfEmail"):
            status = ContactStatus.DO_NOT_CONTACT
        elif record.get("IsEmailBounced"):
            status = ContactStatus.BOUNCED
        account = record.get("Account")
        return Contact(
            id=contact_id,
            name=str(name or record.get("Email") or contact_id),
            email=record.get("Email") or None,
            company=account.get("Name") if isinstance(account, dict) else None,
            timezone=country_timezone(record.get("MailingCountryCode")),
            status=status,
        )

    def _deal(
        self,
        record: dict[str, Any],
        deals: _Deals,
        quote_expiry: datetime | None,
        run: SyncRun,
    ) -> Deal | None:
        opp_id = str(record.get("Id"))
        stage = record.get("StageName")
        if not stage:
            run.problem("deals", opp_id, "StageName", "the opportunity has no stage")
            return None
        if not record.get("OwnerId"):
            run.problem("deals", opp_id, "OwnerId", "the opportunity has no owner")
            return None
        roles = sorted(
            deals.roles.get(opp_id, []),
            key=lambda r: (not r.get("IsPrimary"), str(r.get("ContactId"))),
        )
        try:
            entered = self._stage_entered(record, deals.history.get(opp_id, []))
            amount = record.get("Amount")
            value = None if amount is None else float(amount)
        except (TypeError, ValueError) as error:
            run.problem(
                "deals", opp_id, "StageName", f"unreadable stage history or amount: {error}"
            )
            return None
        if record.get("IsClosed"):
            status = DealStatus.WON if record.get("IsWon") else DealStatus.LOST
        else:
            status = self.mapping.parked_status(str(stage)) or DealStatus.OPEN
        return Deal(
            id=opp_id,
            title=str(record.get("Name") or opp_id),
            contact_ids=tuple(
                dict.fromkeys(str(r["ContactId"]) for r in roles if r.get("ContactId"))
            ),
            owner_id=str(record["OwnerId"]),
            stage=str(stage),
            stage_entered_at=entered,
            status=status,
            source=self.mapping.source(record.get("LeadSource")),
            quote_expires_at=quote_expiry,
            value=value,
            currency=record.get("CurrencyIsoCode") if self.multi_currency else None,
            extra=self._link(opp_id),
        )

    def _link(self, opp_id: str) -> dict[str, Any]:
        """The opportunity's page in Lightning, for "Open in CRM"."""
        base = self.api.instance_url
        if not base:
            return {}
        return {"url": f"{base.rstrip('/')}/lightning/r/Opportunity/{opp_id}/view"}

    @staticmethod
    def _stage_entered(record: dict[str, Any], history: list[dict[str, Any]]) -> datetime:
        """When the opportunity entered its current stage: the latest history row of that
        stage that follows a row of another stage (history also logs amount changes)."""
        stage = record.get("StageName")
        rows = sorted(history, key=lambda r: str(r.get("CreatedDate")))
        entered: datetime | None = None
        previous: str | None = None
        for row in rows:
            if row.get("StageName") == stage and previous != stage:
                entered = _time(row.get("CreatedDate"))
            previous = row.get("StageName")
        created = _time(record.get("CreatedDate"))
        when = entered or created
        if when is None:
            raise ValueError("no stage history and no CreatedDate")
        return when

    def _stage_activities(self, deal: Deal, history: list[dict[str, Any]]) -> list[Activity]:
        entered: dict[str, tuple[str, datetime]] = {}
        for row in sorted(history, key=lambda r: str(r.get("CreatedDate"))):
            name, at = row.get("StageName"), _time(row.get("CreatedDate"))
            if name and at and str(name) not in entered:
                entered[str(name)] = (str(name), at)
        return stage_history_activities(deal, entered, self.mapping)

    def _task(self, record: dict[str, Any], run: SyncRun) -> Activity | None:
        deal_id = record.get("WhatId")
        if not deal_id:
            return None
        at = _time(record.get("CreatedDate"))
        if at is None:
            run.problem("activities", record.get("Id"), "CreatedDate", "the task has no time")
            return None
        subtype = str(record.get("TaskSubtype") or "Task")
        kind = self.mapping.activity_kind(subtype) or {
            "Email": ActivityKind.EMAIL,
            "Call": ActivityKind.CALL,
        }.get(subtype)
        if kind is None:
            # "Log an activity" makes a completed task: a note of what happened; an open one
            # is a task still to do.
            done = str(record.get("Status") or "").casefold() == "completed"
            kind = ActivityKind.NOTE if done else ActivityKind.TASK
        return Activity(
            id=str(record["Id"]),
            deal_id=str(deal_id),
            kind=kind,
            at=at,
            contact_id=record.get("WhoId") or None,
            # A logged email task is one we sent: Salesforce logs received mail as
            # EmailMessage.
            direction=Direction.OUT if kind is ActivityKind.EMAIL else None,
            subject=record.get("Subject") or None,
            body=record.get("Description") or None,
            outcome=record.get("CallDisposition") or None,
            scheduled_for=_time(record.get("ActivityDate")) if kind is ActivityKind.TASK else None,
        )

    def _event(self, record: dict[str, Any], run: SyncRun) -> Activity | None:
        deal_id = record.get("WhatId")
        if not deal_id:
            return None
        at, starts = _time(record.get("CreatedDate")), _time(record.get("StartDateTime"))
        if at is None or starts is None:
            run.problem("activities", record.get("Id"), "StartDateTime", "the event has no time")
            return None
        return Activity(
            id=str(record["Id"]),
            deal_id=str(deal_id),
            kind=ActivityKind.MEETING,
            at=at,
            contact_id=record.get("WhoId") or None,
            subject=record.get("Subject") or None,
            body=record.get("Description") or None,
            scheduled_for=starts,
        )

    def _email(
        self, record: dict[str, Any], run: SyncRun, by_address: dict[str, str]
    ) -> Activity | None:
        deal_id = record.get("RelatedToId")
        if not deal_id:
            return None
        at = _time(record.get("MessageDate"))
        if at is None:
            run.problem("activities", record.get("Id"), "MessageDate", "the email has no time")
            return None
        to = tuple(a.strip() for a in str(record.get("ToAddress") or "").split(";") if a.strip())
        incoming = bool(record.get("Incoming"))
        sender = str(record.get("FromAddress") or "")
        counterpart = sender if incoming else (to[0] if to else "")
        return Activity(
            id=str(record["Id"]),
            deal_id=str(deal_id),
            kind=ActivityKind.EMAIL,
            at=at,
            contact_id=by_address.get(counterpart.lower()),
            direction=Direction.IN if incoming else Direction.OUT,
            subject=record.get("Subject") or None,
            body=record.get("TextBody") or None,
            thread_id=record.get("ThreadIdentifier") or None,
            message_id=record.get("MessageIdentifier") or None,
            from_address=record.get("FromAddress") or None,
            to_addresses=to,
        )


def _time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    text = str(value)
    if len(text) > 19 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"  # Salesforce writes +0000
    return parse_time(text)


def country_timezone(code: Any) -> str | None:
    """The time zone of a country whose zones all keep one clock (DE, FR, SG...); None for
    the US, Brazil, Australia and the others that span several."""
    if not isinstance(code, str) or len(code) != 2:
        return None
    import pytz

    zones = pytz.country_timezones.get(code.upper(), [])
    if not zones:
        return None
    probes = (datetime(2026, 1, 15, 12, tzinfo=UTC), datetime(2026, 7, 15, 12, tzinfo=UTC))
    clocks = {tuple(probe.astimezone(ZoneInfo(z)).utcoffset() for probe in probes) for z in zones}
    return str(zones[0]) if len(clocks) == 1 else None


__all__ = ["RecordProblem", "SalesforceCrm", "country_timezone"]
