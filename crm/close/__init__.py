"""Close: leads (company names), contacts, opportunities (values in cents, statuses of type
active/won/lost plus custom ones), email/call/meeting/note activities and status changes, on
the shared loop; the event log as the change feed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2

from crm import CrmContext, CrmSetupError
from crm.base import CrmRequestError, SyncResult
from crm.close.api import CloseApi, api_key_auth
from crm.close.read import CloseReader
from crm.close.settings import CloseSettings
from crm.mapping import CrmMapping
from crm.source import start
from httploop import Auth, BearerToken
from httploop.oauth import RefreshingToken
from triggers.model import Activity

# Close's event log goes back 30 days; a cursor older than that is resynced in full.
MAX_CURSOR_AGE = timedelta(days=25)


class CloseCrm:
    name = "close"

    def __init__(
        self,
        api: CloseApi,
        mapping: CrmMapping | None = None,
        *,
        max_cursor_age: timedelta = MAX_CURSOR_AGE,
    ) -> None:
        self.api = api
        self.mapping = mapping or CrmMapping()
        self.max_cursor_age = max_cursor_age
        self.reader = CloseReader(api, self.mapping, vendor=self.name)

    def close(self) -> None:
        self.api.http.close()

    @property
    def requests(self) -> int:
        return self.api.http.requests

    def fetch(self, now: datetime, cursor: str | None = None) -> SyncResult:
        run = start(self.name, now, cursor, max_age=self.max_cursor_age)
        return run.result(self.reader.read(run))

    # --- write-back -------------------------------------------------------------------------

    def _lead_of(self, deal_id: str) -> str:
        answer = self.api.http.get(f"opportunity/{deal_id}/", {"_fields": "id,lead_id"})
        lead = answer.get("lead_id") if isinstance(answer, dict) else None
        if not lead:
            raise CrmRequestError(f"Close: opportunity {deal_id} has no lead")
        return str(lead)

    def log_activity(self, activity: Activity) -> None:
        """A sent follow-up as a sent email activity on the deal's lead; a retry finds the one
        it already logged (same subject, same sending time) and logs none."""
        lead = self._lead_of(activity.deal_id)
        sent = activity.at.astimezone(UTC).isoformat()
        since = (activity.at - timedelta(minutes=1)).astimezone(UTC).isoformat()
        for logged in self.api.records(
            "activity/email/", {"lead_id": lead, "date_created__gt": since}
        ):
            if logged.get("subject") == activity.subject and _same_time(logged, activity.at):
                return
        body: dict[str, Any] = {
            "lead_id": lead,
            "status": "sent",
            "direction": "outgoing",
            "subject": activity.subject or "",
            "body_text": activity.body or "",
            "date_sent": sent,
            "to": list(activity.to_addresses),
        }
        if activity.contact_id:
            body["contact_id"] = activity.contact_id
        if activity.from_address:
            body["sender"] = activity.from_address
        self.api.http.post("activity/email/", body)

    def mark_do_not_contact(self, contact_id: str) -> None:
        """Every address of the contact on the organisation's unsubscribe list."""
        contact = self.api.http.get(f"contact/{contact_id}/")
        emails = contact.get("emails") if isinstance(contact, dict) else None
        for entry in emails or []:
            if isinstance(entry, dict) and entry.get("email"):
                # Adding an address twice is harmless: the write is safe to repeat.
                self.api.http.post("unsubscribe/email/", {"email": entry["email"]}, idempotent=True)

    def create_task(self, deal_id: str, owner_id: str, title: str, due_at: datetime) -> str:
        lead = self._lead_of(deal_id)
        day = due_at.astimezone(UTC).date().isoformat()
        for task in self.api.records("task/", {"lead_id": lead}):
            if task.get("text") == title and str(task.get("date", ""))[:10] == day:
                return str(task["id"])
        answer = self.api.http.post(
            "task/",
            {"_type": "lead", "lead_id": lead, "assigned_to": owner_id, "text": title, "date": day},
        )
        return str(answer["id"])

    def mark_reply_received(self, deal_id: str) -> None:
        wanted = self.mapping.reply_received_stage
        if wanted is None:
            return
        for status in self.api.records("status/opportunity/"):
            if wanted.casefold() in {
                str(status.get("id")).casefold(),
                str(status.get("label")).casefold(),
            }:
                self.api.http.put(f"opportunity/{deal_id}/", {"status_id": status["id"]})
                return
        raise CrmRequestError(
            f"Close has no opportunity status '{wanted}'; set [crm.mapping] reply_received_stage "
            "to a status label or id (Settings → Opportunity Statuses)"
        )


def _same_time(logged: dict[str, Any], at: datetime) -> bool:
    from crm.source import parse_time

    when = parse_time(logged.get("date_sent"))
    return when is not None and abs((when - at).total_seconds()) < 1


def auth_from(settings: CloseSettings, transport: httpx2.BaseTransport | None = None) -> Auth:
    if settings.api_key is not None:
        return api_key_auth(settings.api_key.get_secret_value())
    if settings.refresh_token is not None and settings.client_id:
        return BearerToken(
            RefreshingToken(
                token_url=settings.token_url,
                client_id=settings.client_id,
                client_secret=(
                    settings.client_secret.get_secret_value() if settings.client_secret else None
                ),
                refresh_token=settings.refresh_token.get_secret_value(),
                vendor="Close",
                transport=transport,
                timeout=settings.timeout_seconds,
            )
        )
    raise CrmSetupError(
        "CRM_PROVIDER=close needs CLOSE_API_KEY (Settings → Developer → API Keys), or "
        "CLOSE_CLIENT_ID, CLOSE_CLIENT_SECRET and CLOSE_REFRESH_TOKEN (an OAuth app)"
    )


def build(
    context: CrmContext,
    *,
    settings: CloseSettings | None = None,
    sleep: Callable[[float], None] | None = None,
) -> CloseCrm:
    """The registry's entry (`CRM_PROVIDER=close`)."""
    settings = settings or CloseSettings(_env_file=context.env_file)  # type: ignore[call-arg]
    api = CloseApi(
        settings.api_url,
        auth_from(settings, context.transport),
        transport=context.transport,
        timeout=settings.timeout_seconds,
        sleep=sleep,
    )
    return CloseCrm(api, context.mapping)


__all__ = ["CloseCrm", "build"]
