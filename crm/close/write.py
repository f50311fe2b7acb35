"""Close write-backs, each idempotent: the text a write leaves carries its marker
(`crm.writeback.marker`), and before creating anything the writer reads the lead's recent
activities or tasks for it, so a replay after a lost answer finds the first one.

- sent follow-up: an email activity (status `sent`, direction `outgoing`) on the deal's lead
- drafted (`[crm] log_drafts`): a note on the lead
- do-not-contact: every address of the contact on the organisation's unsubscribe list
- handoff task: a lead task for the routed person, due on the day given
- reply received: the opportunity moved to the status `[crm.mapping] reply_received_stage`
  names (by label or id)
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any

from crm import writeback
from crm.base import CrmRequestError, WriteBack, WriteKind

if TYPE_CHECKING:
    from crm.close.api import CloseApi
    from crm.mapping import CrmMapping

LOOKBACK = timedelta(days=2)  # how far back a replay looks for what it may have written


class CloseWriter(writeback.DirectWrites):
    api: CloseApi
    mapping: CrmMapping

    def write(self, op: WriteBack) -> str | None:
        p = op.payload
        if op.kind is WriteKind.SENT:
            at = writeback.when(p, "at")
            body: dict[str, Any] = {
                "status": "sent",
                "direction": "outgoing",
                "subject": str(p.get("subject") or ""),
                "body_text": writeback.marked(str(p.get("body") or ""), op.key),
                "date_sent": at.astimezone(UTC).isoformat(),
                "to": list(p.get("to") or []),
            }
            if p.get("from"):
                body["sender"] = p["from"]
            return self._activity("email", "body_text", op.key, str(p["deal_id"]), p, body)
        if op.kind is WriteKind.DRAFTED:
            note = writeback.marked(f"followup drafted a follow-up: {p.get('subject')}", op.key)
            return self._activity("note", "note", op.key, str(p["deal_id"]), p, {"note": note})
        if op.kind is WriteKind.TASK:
            return self._task(op.key, p)
        if op.kind is WriteKind.DO_NOT_CONTACT:
            contact_id = str(p["contact_id"])
            contact = self.api.http.get(f"contact/{contact_id}/")
            emails = contact.get("emails") if isinstance(contact, dict) else None
            for entry in emails or []:
                if isinstance(entry, dict) and entry.get("email"):
                    # The unsubscribe list is a set: adding an address twice is harmless.
                    self.api.http.post(
                        "unsubscribe/email/", {"email": entry["email"]}, idempotent=True
                    )
            return contact_id
        if op.kind is WriteKind.REPLY_STAGE:
            return self._reply_status(str(p["deal_id"]))
        raise CrmRequestError(f"Close cannot write {op.kind}")

    def _lead_of(self, deal_id: str) -> str:
        answer = self.api.http.get(f"opportunity/{deal_id}/", {"_fields": "id,lead_id"})
        lead = answer.get("lead_id") if isinstance(answer, dict) else None
        if not lead:
            raise CrmRequestError(f"Close: opportunity {deal_id} has no lead")
        return str(lead)

    def _activity(
        self,
        kind: str,
        text_field: str,
        key: str,
        deal_id: str,
        p: Any,
        body: dict[str, Any],
    ) -> str:
        lead = self._lead_of(deal_id)
        token = writeback.marker(key)
        since = (writeback.when(p, "at") - LOOKBACK).astimezone(UTC).isoformat()
        for logged in self.api.records(
            f"activity/{kind}/", {"lead_id": lead, "date_created__gt": since}
        ):
            if token in str(logged.get(text_field) or ""):
                return str(logged["id"])
        body = {"lead_id": lead, **body}
        if p.get("contact_id"):
            body["contact_id"] = p["contact_id"]
        created = self.api.http.post(f"activity/{kind}/", body)
        return str((created or {}).get("id"))

    def _task(self, key: str, p: Any) -> str:
        lead = self._lead_of(str(p["deal_id"]))
        token = writeback.marker(key)
        for task in self.api.records("task/", {"lead_id": lead}):
            if token in str(task.get("text") or ""):
                return str(task["id"])
        due = writeback.when(p, "due").astimezone(UTC).date().isoformat()
        created = self.api.http.post(
            "task/",
            {
                "_type": "lead",
                "lead_id": lead,
                "assigned_to": str(p["owner_id"]),
                "text": writeback.marked(str(p["title"]), key),
                "date": due,
            },
        )
        return str((created or {}).get("id"))

    def _reply_status(self, deal_id: str) -> str | None:
        wanted = self.mapping.reply_received_stage
        if wanted is None:
            return None
        for status in self.api.records("status/opportunity/"):
            names = {str(status.get("id")).casefold(), str(status.get("label")).casefold()}
            if wanted.casefold() in names:
                self.api.http.put(f"opportunity/{deal_id}/", {"status_id": status["id"]})
                return str(status["id"])
        raise CrmRequestError(
            f"Close has no opportunity status '{wanted}'; set [crm.mapping] reply_received_stage "
            "to a status label or id (Settings → Opportunity Statuses)"
        )
