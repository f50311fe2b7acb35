"""Salesforce write-backs, each idempotent: the text a write leaves carries its marker
(`crm.writeback.marker`), and before creating a Task the writer reads the tasks on that
opportunity with that subject and day (SOQL cannot filter a long text field) and looks for the
marker in their descriptions, so a replay after a lost answer finds the first task.

- sent follow-up: a completed Task of subtype Email on the opportunity (and the contact)
- drafted (`[crm] log_drafts`): a completed Task saying a follow-up was drafted
- do-not-contact: `Contact.HasOptedOutOfEmail = true`
- handoff task: an open Task for the routed owner, due on the day given
- reply received: `Opportunity.StageName` set to `[crm.mapping] reply_received_stage`
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crm import writeback
from crm.base import CrmRequestError, WriteBack, WriteKind
from crm.salesforce.query import soql, soql_ids

if TYPE_CHECKING:
    from crm.mapping import CrmMapping
    from crm.salesforce.client import SalesforceApi

SUBJECT_MAX = 255
DESCRIPTION_MAX = 32_000


class SalesforceWriter(writeback.DirectWrites):
    api: SalesforceApi
    mapping: CrmMapping

    def write(self, op: WriteBack) -> str | None:
        p = op.payload
        if op.kind is WriteKind.SENT:
            return self._create_task(
                op.key,
                {
                    "WhatId": str(p["deal_id"]),
                    "WhoId": p.get("contact_id") or None,
                    "Subject": str(p.get("subject") or "Follow-up"),
                    "Description": str(p.get("body") or ""),
                    "Status": "Completed",
                    "TaskSubtype": "Email",
                    "ActivityDate": _day(writeback.when(p, "at")),
                },
            )
        if op.kind is WriteKind.DRAFTED:
            return self._create_task(
                op.key,
                {
                    "WhatId": str(p["deal_id"]),
                    "WhoId": p.get("contact_id") or None,
                    "Subject": f"followup drafted: {p.get('subject')}",
                    "Description": "A follow-up was drafted and waits for review.",
                    "Status": "Completed",
                    "ActivityDate": _day(writeback.when(p, "at")),
                },
            )
        if op.kind is WriteKind.TASK:
            return self._create_task(
                op.key,
                {
                    "WhatId": str(p["deal_id"]),
                    "OwnerId": str(p["owner_id"]),
                    "Subject": str(p["title"]),
                    "Description": "Handed off by followup.",
                    "Status": "Not Started",
                    "ActivityDate": _day(writeback.when(p, "due")),
                },
            )
        if op.kind is WriteKind.DO_NOT_CONTACT:
            contact_id = str(p["contact_id"])
            self.api.update("Contact", contact_id, {"HasOptedOutOfEmail": True})
            return contact_id
        if op.kind is WriteKind.REPLY_STAGE:
            stage = self.mapping.reply_received_stage
            if stage is None:
                return None
            try:
                self.api.update("Opportunity", str(p["deal_id"]), {"StageName": stage})
            except CrmRequestError as error:
                raise CrmRequestError(
                    f"{error}; is '{stage}' a stage of this org's Opportunity StageName "
                    "picklist ([crm.mapping] reply_received_stage)?",
                    error.status,
                ) from error
            return stage
        raise CrmRequestError(f"Salesforce cannot write {op.kind}")

    def _create_task(self, key: str, values: dict[str, Any]) -> str:
        values = {k: v for k, v in values.items() if v is not None}
        values["Subject"] = str(values["Subject"])[:SUBJECT_MAX]
        # Description is a 32,000-character long text: the body gives way to the marker.
        room = DESCRIPTION_MAX - len(writeback.marked("", key))
        values["Description"] = writeback.marked(str(values.get("Description", ""))[:room], key)
        token = writeback.marker(key)
        for row in self.api.query(
            soql(
                "Id, Description",
                "Task",
                f"WhatId = {soql_ids([values['WhatId']])}",
                f"Subject = {soql_ids([values['Subject']])}",
                f"ActivityDate = {values['ActivityDate']}",
            )
        ):
            if token in str(row.get("Description") or ""):
                return str(row["Id"])
        return self.api.create("Task", values)


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()
