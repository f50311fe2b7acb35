"""HubSpot write-backs, each idempotent: before creating an engagement it searches for the
write's marker (`crm.writeback.marker`) in the text it would write, so a replay after a lost
answer finds the first one instead of writing a second.

- sent follow-up: an email engagement (`hs_email_direction: EMAIL`) on the deal and contact
- drafted (`[crm] log_drafts`): a note on the deal
- do-not-contact: communication preferences `unsubscribe-all` (or a mapped contact property)
- handoff task: a task due at the given time for the deal's owner
- reply received: the deal moved to `[crm.mapping] reply_received_stage`
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crm import writeback
from crm.base import CrmRequestError, WriteBack, WriteKind

if TYPE_CHECKING:
    from crm.hubspot.api import HubSpotApi
    from crm.mapping import CrmMapping

# HubSpot-defined association type ids.
EMAIL_TO_DEAL, EMAIL_TO_CONTACT = 210, 198
NOTE_TO_DEAL, TASK_TO_DEAL = 214, 216


def _to(object_id: str, type_id: int) -> dict[str, Any]:
    return {
        "to": {"id": object_id},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


def _ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


class HubSpotWriter(writeback.DirectWrites):
    api: HubSpotApi
    mapping: CrmMapping

    def write(self, op: WriteBack) -> str | None:
        p = op.payload
        if op.kind is WriteKind.SENT:
            return self._create(
                "emails",
                op.key,
                "hs_email_text",
                {
                    "hs_timestamp": _ms(writeback.when(p, "at")),
                    "hs_email_direction": "EMAIL",
                    "hs_email_status": "SENT",
                    "hs_email_subject": p.get("subject") or "",
                    "hs_email_text": writeback.marked(str(p.get("body") or ""), op.key),
                    "hs_email_headers": json.dumps(
                        {
                            "from": {"email": p.get("from") or ""},
                            "to": [{"email": a} for a in p.get("to") or []],
                            "cc": [],
                            "bcc": [],
                        }
                    ),
                },
                [_to(str(p["deal_id"]), EMAIL_TO_DEAL)]
                + ([_to(str(p["contact_id"]), EMAIL_TO_CONTACT)] if p.get("contact_id") else []),
            )
        if op.kind is WriteKind.DRAFTED:
            return self._create(
                "notes",
                op.key,
                "hs_note_body",
                {
                    "hs_timestamp": _ms(writeback.when(p, "at")),
                    "hs_note_body": writeback.marked(
                        f"followup drafted a follow-up: {p.get('subject')}", op.key
                    ),
                },
                [_to(str(p["deal_id"]), NOTE_TO_DEAL)],
            )
        if op.kind is WriteKind.TASK:
            return self._create(
                "tasks",
                op.key,
                "hs_task_body",
                {
                    "hs_timestamp": _ms(writeback.when(p, "due")),
                    "hs_task_subject": p["title"],
                    "hs_task_body": writeback.marked("Handed off by followup.", op.key),
                    "hs_task_status": "NOT_STARTED",
                    "hs_task_type": "TODO",
                    "hubspot_owner_id": p["owner_id"],
                },
                [_to(str(p["deal_id"]), TASK_TO_DEAL)],
            )
        if op.kind is WriteKind.DO_NOT_CONTACT:
            return self._do_not_contact(str(p["contact_id"]))
        if op.kind is WriteKind.REPLY_STAGE:
            stage = self._reply_stage()
            if stage is None:
                return None
            self.api.http.patch(
                f"{self.api.objects('deals')}/{p['deal_id']}", {"properties": {"dealstage": stage}}
            )
            return stage
        raise CrmRequestError(f"HubSpot cannot write {op.kind}")

    def _create(
        self,
        object_type: str,
        key: str,
        text_property: str,
        properties: dict[str, Any],
        associations: list[dict[str, Any]],
    ) -> str:
        token = writeback.marker(key)
        found = self.api.http.post(
            f"{self.api.objects(object_type)}/search",
            {
                "filterGroups": [
                    {
                        "filters": [
                            {
                                "propertyName": text_property,
                                "operator": "CONTAINS_TOKEN",
                                "value": token,
                            }
                        ]
                    }
                ],
                "properties": [text_property],
                "limit": 1,
            },
            idempotent=True,
        )
        results = found.get("results", []) if isinstance(found, dict) else []
        if results:
            return str(results[0].get("id"))
        created = self.api.http.post(
            self.api.objects(object_type),
            {"properties": properties, "associations": associations},
        )
        return str(created.get("id")) if isinstance(created, dict) else ""

    def _do_not_contact(self, contact_id: str) -> str:
        objects = self.api.objects("contacts")
        prop = self.mapping.do_not_contact_property
        if prop:
            self.api.http.patch(f"{objects}/{contact_id}", {"properties": {prop: "true"}})
            return contact_id
        record = self.api.http.get(f"{objects}/{contact_id}", {"properties": "email"})
        email = ((record or {}).get("properties") or {}).get("email")
        if not email:
            raise CrmRequestError(f"HubSpot contact {contact_id} has no email to unsubscribe")
        path = f"communication-preferences/{self.api.version}/statuses/{email}/unsubscribe-all"
        self.api.http.post(path, {"channel": "EMAIL"}, idempotent=True)
        return str(email)

    def _reply_stage(self) -> str | None:
        wanted = self.mapping.reply_received_stage
        if not wanted:
            return None
        for pipeline in self.api.pipelines():
            for stage in pipeline.get("stages", []):
                if wanted.casefold() in (
                    str(stage.get("id")).casefold(),
                    str(stage.get("label")).casefold(),
                ):
                    return str(stage.get("id"))
        raise CrmRequestError(
            f"[crm.mapping] reply_received_stage {wanted!r} is no HubSpot deal stage"
        )
