"""Pipedrive write-backs, each idempotent (it looks for the write's marker before creating):

- sent follow-up and drafted (`[crm] log_drafts`): a v1 note on the deal (Pipedrive keeps no
  sent-email object an API may create)
- do-not-contact: the person label `[crm.mapping] do_not_contact_label` (or a mapped custom
  field), since `marketing_status` can be set only once
- handoff task: a v2 activity of type `task`, due at the given time, for the deal's owner
- reply received: the deal moved to `[crm.mapping] reply_received_stage`
"""

from __future__ import annotations

import html
from datetime import UTC
from typing import TYPE_CHECKING, Any

from crm import writeback
from crm.base import CrmRequestError, WriteBack, WriteKind
from crm.pipedrive.api import COST

if TYPE_CHECKING:
    from crm.mapping import CrmMapping
    from crm.pipedrive.api import PipedriveApi


class PipedriveWriter(writeback.DirectWrites):
    api: PipedriveApi
    mapping: CrmMapping

    def write(self, op: WriteBack) -> str | None:
        p = op.payload
        if op.kind in (WriteKind.SENT, WriteKind.DRAFTED):
            if op.kind is WriteKind.SENT:
                text = (
                    f"<b>Follow-up sent by followup:</b> {html.escape(str(p.get('subject')))}"
                    f"<br>{html.escape(str(p.get('body') or '')).replace(chr(10), '<br>')}"
                )
            else:
                text = f"followup drafted a follow-up: {html.escape(str(p.get('subject')))}"
            return self._note(op.key, str(p["deal_id"]), p.get("contact_id"), text)
        if op.kind is WriteKind.TASK:
            return self._task(op.key, p)
        if op.kind is WriteKind.DO_NOT_CONTACT:
            return self._do_not_contact(str(p["contact_id"]))
        if op.kind is WriteKind.REPLY_STAGE:
            stage = self._reply_stage()
            if stage is None:
                return None
            self.api.http.patch(
                f"api/v2/deals/{p['deal_id']}", {"stage_id": int(stage)}, cost=COST["write"]
            )
            return stage
        raise CrmRequestError(f"Pipedrive cannot write {op.kind}")

    def _note(self, key: str, deal_id: str, contact_id: Any, text: str) -> str:
        token = writeback.marker(key)
        for page in self.api.v1_list("notes", {"deal_id": deal_id}):
            for note in page:
                if token in str(note.get("content") or ""):
                    return str(note.get("id"))
        body: dict[str, Any] = {
            "content": writeback.marked(text, key).replace("\n", "<br>"),
            "deal_id": int(deal_id),
        }
        if contact_id:
            body["person_id"] = int(contact_id)
        created = self.api.http.post("v1/notes", body, cost=COST["v1_write"])
        return str(((created or {}).get("data") or {}).get("id"))

    def _task(self, key: str, p: Any) -> str:
        token = writeback.marker(key)
        for page in self.api.v2_list("activities", {"deal_id": p["deal_id"], "done": "false"}):
            for activity in page:
                if token in str(activity.get("note") or ""):
                    return str(activity.get("id"))
        due = writeback.when(p, "due").astimezone(UTC)
        created = self.api.http.post(
            "api/v2/activities",
            {
                "type": "task",
                "subject": p["title"],
                "due_date": due.strftime("%Y-%m-%d"),
                "due_time": due.strftime("%H:%M"),
                "owner_id": int(p["owner_id"]),
                "deal_id": int(p["deal_id"]),
                "done": False,
                "note": writeback.marked("Handed off by followup.", key),
            },
            cost=COST["write"],
        )
        return str(((created or {}).get("data") or {}).get("id"))

    def _do_not_contact(self, contact_id: str) -> str:
        path = f"api/v2/persons/{contact_id}"
        field = self.mapping.do_not_contact_property
        if field:
            self.api.http.patch(path, {"custom_fields": {field: True}}, cost=COST["write"])
            return contact_id
        wanted = self.mapping.do_not_contact_label.casefold()
        label_id = None
        for page in self.api.v1_list("personFields"):
            for record in page:
                if record.get("key") not in ("label", "label_ids"):
                    continue
                for option in record.get("options") or []:
                    if str(option.get("label")).casefold() == wanted:
                        label_id = option.get("id")
        if label_id is None:
            raise CrmRequestError(
                f"Pipedrive has no person label {self.mapping.do_not_contact_label!r}; add it "
                "(Contacts > Labels) or set [crm.mapping] do_not_contact_property"
            )
        person = self.api.http.get(path, cost=COST["get"])
        labels = list(((person or {}).get("data") or {}).get("label_ids") or [])
        if label_id not in labels:
            self.api.http.patch(path, {"label_ids": [*labels, label_id]}, cost=COST["write"])
        return contact_id

    def _reply_stage(self) -> str | None:
        wanted = self.mapping.reply_received_stage
        if not wanted:
            return None
        for page in self.api.v2_list("stages"):
            for stage in page:
                if wanted.casefold() in (str(stage.get("id")), str(stage.get("name")).casefold()):
                    return str(stage.get("id"))
        raise CrmRequestError(
            f"[crm.mapping] reply_received_stage {wanted!r} is no Pipedrive stage"
        )
