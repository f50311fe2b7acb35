"""Close into the normalized pipeline.

A full sync lists users, opportunity statuses, leads (for company names), contacts,
opportunities, status changes (for stage-entered times) and the email, call, meeting and note
activities. An incremental sync lists the opportunities updated since the watermark
(`date_updated__gt`, the one object with a reliable filter) and reads the event log for the
rest (leads, contacts, activities, deletions), rescanning the last five minutes as Close
advises; events seen in that overlap are not applied twice. Close ties activities to the lead,
not to an opportunity: an activity belongs to the lead's most recently updated open
opportunity.

Close keeps no "which status since when" on an opportunity, and ties activities to leads, so
the cursor carries both: each opportunity's status with the time it entered it, and each
lead's opportunities. An incremental sync then needs no request per changed record; only an
opportunity whose status changed with no status change in the log (or that the cursor does not
know) has its latest status change looked up, and a lead the cursor does not know has its
opportunities listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from crm.base import CrmRequestError
from crm.close.api import CloseApi
from crm.mapping import CrmMapping, stage_history_activities
from crm.source import SyncRun, parse_time
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

OVERLAP = timedelta(minutes=5)  # Close's advice: rescan the last five minutes of events
ACTIVITY_TYPES = ("email", "call", "meeting", "note")
STATUS_CHANGE = "activity/status_change/opportunity/"
LOGGED_EMAIL = frozenset({"sent", "inbox"})  # not drafts, scheduled, outbox or errors


@dataclass(slots=True)
class _Read:
    """What one sync gathered, keyed by id."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    leads: dict[str, str] = field(default_factory=dict)  # id -> display name
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    opportunities: dict[str, dict[str, Any]] = field(default_factory=dict)
    entered: dict[str, list[tuple[str, str, datetime]]] = field(default_factory=dict)
    activities: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    lead_opportunities: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class CloseReader:
    def __init__(self, api: CloseApi, mapping: CrmMapping, *, vendor: str = "close") -> None:
        self.api = api
        self.mapping = mapping
        self.vendor = vendor

    def read(self, run: SyncRun) -> Pipeline:
        got = _Read()
        statuses = {
            str(s["id"]): (str(s.get("label", "")), str(s.get("type", "active")))
            for s in self.api.records("status/opportunity/")
            if s.get("id")
        }
        if run.full:
            self._read_all(run, got)
        else:
            self._read_changes(run, got)
        self._complete(run, got)
        pipeline = self._pipeline(run, got, statuses)
        self._carry(run, got, pipeline)
        return pipeline

    # --- what to ask for --------------------------------------------------------------------

    def _read_all(self, run: SyncRun, got: _Read) -> None:
        got.users = {str(u["id"]): u for u in self.api.records("user/") if u.get("id")}
        got.leads = {
            str(lead["id"]): str(lead.get("display_name") or lead.get("name") or "")
            for lead in self.api.records("lead/", {"_fields": "id,display_name,name"})
            if lead.get("id")
        }
        got.contacts = {str(c["id"]): c for c in self.api.records("contact/") if c.get("id")}
        self._opportunities(run, got, None)
        # The long lists are read in windows by date: Close caps how deep `_skip` may go.
        for change in self.api.windowed(STATUS_CHANGE, "date_created"):
            self._status_change(got, change)
        for kind in ACTIVITY_TYPES:
            for record in self.api.windowed(f"activity/{kind}/", "date_created"):
                if record.get("id"):
                    got.activities[str(record["id"])] = (kind, record)
        # The event log starts where this full read began.
        mark = run.mark("event")
        mark.at, mark.ids = run.now, set()

    def _read_changes(self, run: SyncRun, got: _Read) -> None:
        self._opportunities(run, got, run.since("opportunity"))
        mark = run.mark("event")
        since = (mark.at or run.now) - OVERLAP
        seen, newest = set(mark.ids), mark.at
        recent: set[str] = set()
        applied: set[str] = set()
        events = list(self.api.events({"date_updated__gte": since.isoformat()}))
        for event in events:
            when = parse_time(event.get("date_updated"))
            if when is not None and (newest is None or when > newest):
                newest = when
        for event in events:
            when = parse_time(event.get("date_updated"))
            if when is None:
                continue
            # Close updates an event in place when actions pile up on one object (same id, a
            # later date_updated): the pair, not the id, says whether it was applied.
            event_key = f"{event.get('id')}@{event.get('date_updated')}"
            if newest is not None and when >= newest - OVERLAP:
                recent.add(event_key)
            if event_key in seen:
                continue  # read in the last sync's overlap
            key = f"{event.get('object_type')}:{event.get('object_id')}"
            if key in applied:
                continue  # newest first: a later event already gave this object's state
            applied.add(key)
            self._apply(run, got, event)
        mark.at = newest
        mark.ids = recent

    def _opportunities(self, run: SyncRun, got: _Read, since: datetime | None) -> None:
        params: dict[str, Any] = {}
        if since is not None:
            params["date_updated__gt"] = since.isoformat()
        for record in self.api.windowed("opportunity/", "date_updated", params):
            opp_id = str(record.get("id"))
            if run.news("opportunity", opp_id, parse_time(record.get("date_updated"))):
                got.opportunities[opp_id] = record

    def _apply(self, run: SyncRun, got: _Read, event: dict[str, Any]) -> None:
        kind, object_id = str(event.get("object_type", "")), str(event.get("object_id"))
        raw = event.get("data")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        deleted = event.get("action") == "deleted"
        if not data and not deleted:
            # A key that is not an admin's gets an event's data only while it is an hour old:
            # the object is read as it is now.
            data = self._object(kind, object_id)
            if not data:
                return
        if kind == "opportunity":
            if deleted:
                run.deleted_deals.add(object_id)
        elif kind == "lead" and not deleted:
            got.leads[object_id] = str(data.get("display_name") or data.get("name") or "")
        elif kind == "contact":
            if deleted:
                run.deleted_contacts.add(object_id)
            else:
                got.contacts[object_id] = data
        elif kind == "activity.opportunity_status_change" and not deleted:
            self._status_change(got, data)
        elif kind.startswith("activity.") and kind.split(".", 1)[1] in ACTIVITY_TYPES:
            if deleted:
                run.deleted_activities.add(object_id)
            elif data:
                got.activities[object_id] = (kind.split(".", 1)[1], data)

    def _object(self, kind: str, object_id: str) -> dict[str, Any]:
        path = {"lead": "lead", "contact": "contact", "opportunity": "opportunity"}.get(kind)
        if path is None and kind.startswith("activity."):
            sub = kind.split(".", 1)[1]
            path = (
                "activity/status_change/opportunity"
                if sub == "opportunity_status_change"
                else f"activity/{sub}"
                if sub in ACTIVITY_TYPES
                else None
            )
        if path is None:
            return {}
        try:
            answer = self.api.http.get(f"{path}/{object_id}/")
        except CrmRequestError:
            return {}  # gone since (a delete event follows)
        return answer if isinstance(answer, dict) else {}

    @staticmethod
    def _status_change(got: _Read, change: dict[str, Any]) -> None:
        opp_id, status = change.get("opportunity_id"), change.get("new_status_id")
        when = parse_time(change.get("activity_at") or change.get("date_created"))
        if opp_id and status and when:
            label = str(change.get("new_status_label") or status)
            got.entered.setdefault(str(opp_id), []).append((str(status), label, when))

    def _complete(self, run: SyncRun, got: _Read) -> None:
        """What a change set needs to make whole deals, from the cursor where it can."""
        if run.full:
            for record in got.opportunities.values():
                got.lead_opportunities.setdefault(str(record.get("lead_id")), []).append(record)
            return
        carried = run.previous.extra if run.previous is not None else {}
        known_entered: dict[str, list[str]] = carried.get("entered", {})
        carried_leads: dict[str, list[dict[str, Any]]] = carried.get("leads", {})
        for lead, opportunities in carried_leads.items():
            got.lead_opportunities[lead] = [dict(o) for o in opportunities]
        for opp_id, record in got.opportunities.items():
            lead_id = str(record.get("lead_id"))
            mine = [o for o in got.lead_opportunities.get(lead_id, []) if o.get("id") != opp_id]
            got.lead_opportunities[lead_id] = [*mine, record]
            current = str(record.get("status_id"))
            before = known_entered.get(opp_id)
            if before is not None and before[0] == current and opp_id not in got.entered:
                when = parse_time(before[1])
                if when is not None:  # the status it had at the last sync, since then
                    got.entered[opp_id] = [(current, str(record.get("status_label")), when)]
                    continue
            if not any(status == current for status, _, _ in got.entered.get(opp_id, [])):
                answer = self.api.http.get(
                    STATUS_CHANGE,
                    {"opportunity_id": opp_id, "_order_by": "-date_created", "_limit": 1},
                )
                for change in (answer or {}).get("data") or []:
                    self._status_change(got, change)
        known_leads = {str(c.get("lead_id")) for c in got.contacts.values()}
        for record in got.opportunities.values():
            lead = str(record.get("lead_id"))
            if not record.get("contact_id") and lead not in known_leads:
                known_leads.add(lead)
                for contact in self.api.records("contact/", {"lead_id": lead}):
                    got.contacts[str(contact["id"])] = contact
        for _, activity in got.activities.values():
            lead = str(activity.get("lead_id"))
            if lead not in got.lead_opportunities:
                got.lead_opportunities[lead] = list(
                    self.api.records("opportunity/", {"lead_id": lead})
                )
        for contact in got.contacts.values():
            lead = str(contact.get("lead_id") or "")
            if lead and lead not in got.leads:
                answer = self.api.http.get(f"lead/{lead}/", {"_fields": "id,display_name,name"})
                if isinstance(answer, dict):
                    got.leads[lead] = str(answer.get("display_name") or answer.get("name") or "")

    def _carry(self, run: SyncRun, got: _Read, pipeline: Pipeline) -> None:
        """The next cursor's carry-over: each deal's status and since when, and each lead's
        opportunities (id, status type, last update), updated by what this sync read."""
        carried = {} if run.full or run.previous is None else run.previous.extra
        entered: dict[str, list[str]] = dict(carried.get("entered", {}))
        for deal in pipeline.deals:
            status = str(got.opportunities.get(deal.id, {}).get("status_id"))
            entered[deal.id] = [status, deal.stage_entered_at.isoformat()]
        leads: dict[str, list[dict[str, Any]]] = {
            lead: [dict(o) for o in opportunities]
            for lead, opportunities in carried.get("leads", {}).items()
        }
        for lead, opportunities in got.lead_opportunities.items():
            leads[lead] = [
                {
                    "id": str(o.get("id")),
                    "status_type": o.get("status_type"),
                    "date_updated": o.get("date_updated"),
                }
                for o in opportunities
            ]
        gone = run.deleted_deals
        for opp_id in gone:
            entered.pop(opp_id, None)
        for lead, opportunities in leads.items():
            leads[lead] = [o for o in opportunities if o["id"] not in gone]
        run.extra["entered"] = entered
        run.extra["leads"] = leads

    # --- mapping ----------------------------------------------------------------------------

    def _pipeline(self, run: SyncRun, got: _Read, statuses: dict[str, tuple[str, str]]) -> Pipeline:
        owners = tuple(o for o in (self._owner(run, u) for u in got.users.values()) if o)
        contacts = tuple(
            c for c in (self._contact(run, got, r) for r in got.contacts.values()) if c
        )
        deals: list[Deal] = []
        activities: list[Activity] = []
        for record in got.opportunities.values():
            deal = self._deal(run, got, record, statuses)
            if deal is None:
                continue
            deals.append(deal)
            history = {s: (label, at) for s, label, at in got.entered.get(deal.id, [])}
            activities.extend(stage_history_activities(deal, history, self.mapping))
        for activity_id, (kind, record) in got.activities.items():
            activity = self._activity(run, got, activity_id, kind, record)
            if activity is not None:
                activities.append(activity)
        return Pipeline(owners, contacts, tuple(deals), tuple(activities))

    def _owner(self, run: SyncRun, user: dict[str, Any]) -> Owner | None:
        email = user.get("email")
        if not email:
            run.problem("owners", user.get("id"), "email", "the user has no email address")
            return None
        name = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p)
        return self.mapping.owner(Owner(id=str(user["id"]), name=name or str(email), email=email))

    def _contact(self, run: SyncRun, got: _Read, record: dict[str, Any]) -> Contact | None:
        contact_id = str(record.get("id"))
        emails = [e for e in record.get("emails") or [] if isinstance(e, dict) and e.get("email")]
        primary = emails[0] if emails else None
        status = ContactStatus.ACTIVE
        if primary is not None and primary.get("is_unsubscribed"):
            status = ContactStatus.DO_NOT_CONTACT
        return Contact(
            id=contact_id,
            name=str(record.get("name") or (primary or {}).get("email") or contact_id),
            email=str(primary["email"]) if primary else None,
            company=got.leads.get(str(record.get("lead_id"))) or None,
            timezone=record.get("timezone") or None,
            status=status,
            alt_emails=tuple(str(e["email"]) for e in emails[1:] if not e.get("is_unsubscribed")),
        )

    def _deal(
        self,
        run: SyncRun,
        got: _Read,
        record: dict[str, Any],
        statuses: dict[str, tuple[str, str]],
    ) -> Deal | None:
        opp_id = str(record.get("id"))
        status_id = str(record.get("status_id") or "")
        label = str(record.get("status_label") or statuses.get(status_id, ("", ""))[0])
        if not status_id or not label:
            run.problem("deals", opp_id, "status_id", "the opportunity has no status")
            return None
        if not record.get("user_id"):
            run.problem("deals", opp_id, "user_id", "the opportunity has no user (owner)")
            return None
        entered = [at for s, _, at in got.entered.get(opp_id, []) if s == status_id]
        created = parse_time(record.get("date_created"))
        stage_entered = max(entered) if entered else created
        if stage_entered is None:
            run.problem("deals", opp_id, "date_created", "no status change and no creation time")
            return None
        status_type = str(record.get("status_type") or statuses.get(status_id, ("", "active"))[1])
        status = {"won": DealStatus.WON, "lost": DealStatus.LOST}.get(status_type)
        if status is None:
            status = self.mapping.parked_status(status_id, label) or DealStatus.OPEN
        lead = str(record.get("lead_id"))
        if record.get("contact_id"):
            contact_ids: tuple[str, ...] = (str(record["contact_id"]),)
        else:
            contact_ids = tuple(
                cid for cid, c in got.contacts.items() if str(c.get("lead_id")) == lead
            )
        value = record.get("value")
        try:
            amount = None if value is None else int(value) / 100  # Close keeps cents
        except (TypeError, ValueError):
            run.problem("deals", opp_id, "value", f"{value!r} is not an amount in cents")
            return None
        # Close opportunities have no name: the note's first line says what it is, else the
        # lead (the company) does.
        note = str(record.get("note") or "").strip().splitlines()
        lead_name = str(record.get("lead_name") or got.leads.get(lead) or opp_id)
        return Deal(
            id=opp_id,
            title=note[0].strip() if note else lead_name,
            contact_ids=contact_ids,
            owner_id=str(record["user_id"]),
            stage=label,
            stage_entered_at=stage_entered,
            status=status,
            value=amount,
            currency=record.get("value_currency") or None,
            # The lead's page shows its opportunities: "Open in CRM".
            extra={"lead_id": lead, "url": f"https://app.close.com/lead/{lead}/"},
        )

    def _deal_of(self, got: _Read, lead: str) -> str | None:
        """A lead's activity belongs to its most recently updated open opportunity (or its
        latest one, when none is open)."""
        opportunities = got.lead_opportunities.get(lead) or []
        if not opportunities:
            return None
        ranked = sorted(
            opportunities,
            key=lambda o: (o.get("status_type") == "active", str(o.get("date_updated"))),
        )
        return str(ranked[-1]["id"])

    def _activity(
        self, run: SyncRun, got: _Read, activity_id: str, kind: str, record: dict[str, Any]
    ) -> Activity | None:
        deal_id = self._deal_of(got, str(record.get("lead_id")))
        if deal_id is None:
            return None  # a lead with no opportunity is not a deal yet
        at = parse_time(
            record.get("date_sent") or record.get("activity_at") or record.get("date_created")
        )
        if at is None:
            run.problem("activities", activity_id, "date_created", "the activity has no time")
            return None
        contact = record.get("contact_id") or None
        if kind == "email":
            if record.get("status") not in LOGGED_EMAIL:
                return None
            ids = record.get("message_ids") or []
            return Activity(
                id=activity_id,
                deal_id=deal_id,
                kind=ActivityKind.EMAIL,
                at=at,
                contact_id=contact,
                direction=Direction.IN if record.get("direction") == "incoming" else Direction.OUT,
                subject=record.get("subject") or None,
                body=record.get("body_text") or None,
                thread_id=record.get("thread_id") or None,
                message_id=str(ids[0]) if ids else None,
                in_reply_to=record.get("in_reply_to_id") or None,
                from_address=_address(record.get("sender")),
                to_addresses=tuple(a for a in map(_address, record.get("to") or []) if a),
            )
        if kind == "call":
            return Activity(
                id=activity_id,
                deal_id=deal_id,
                kind=ActivityKind.CALL,
                at=at,
                contact_id=contact,
                body=record.get("note") or None,
                outcome=record.get("disposition") or record.get("outcome_id") or None,
            )
        if kind == "meeting":
            starts = parse_time(record.get("starts_at"))
            return Activity(
                id=activity_id,
                deal_id=deal_id,
                kind=ActivityKind.MEETING,
                at=parse_time(record.get("date_created")) or at,
                contact_id=contact,
                subject=record.get("title") or None,
                body=record.get("note") or None,
                scheduled_for=starts,
            )
        return Activity(
            id=activity_id,
            deal_id=deal_id,
            kind=ActivityKind.NOTE,
            at=at,
            contact_id=contact,
            subject=record.get("title") or None,
            body=record.get("note") or None,
        )


def _address(value: Any) -> str | None:
    """`Name <a@b>` or `a@b` to `a@b`."""
    if not value:
        return None
    text = str(value)
    if "<" in text and text.endswith(">"):
        text = text[text.rindex("<") + 1 : -1]
    return text.strip().lower() or None
