"""Close: leads (company names), contacts, opportunities (values in cents, statuses of type
active/won/lost plus custom ones), email/call/meeting/note activities and status changes, on
the shared loop; the event log as the change feed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx2

from crm import CrmContext, CrmSetupError
from crm.close.api import CloseApi, api_key_auth
from crm.close.read import CloseReader
from crm.close.settings import CloseSettings
from crm.close.write import CloseWriter
from crm.mapping import CrmMapping
from crm.source import StreamedCrm
from httploop import Auth, BearerToken
from httploop.oauth import RefreshingToken

# Close's event log goes back 30 days; a cursor older than that is resynced in full.
MAX_CURSOR_AGE = timedelta(days=25)


class CloseCrm(CloseWriter, StreamedCrm):
    name = "close"
    reader: CloseReader

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
