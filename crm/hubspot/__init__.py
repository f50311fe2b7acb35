"""HubSpot: a private app token or OAuth, the date-versioned CRM API (`/crm/objects/2026-09/`,
`HUBSPOT_API_VERSION`), incremental sync by search on the modification time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx2

from crm import CrmContext, CrmSetupError
from crm.hubspot.api import HubSpotApi
from crm.hubspot.read import HubSpotReader
from crm.hubspot.settings import HubSpotSettings
from crm.hubspot.write import HubSpotWriter
from crm.mapping import CrmMapping
from crm.source import StreamedCrm
from httploop import Auth, BearerToken
from httploop.oauth import RefreshingToken

# HubSpot keeps archived records for 90 days; a cursor older than a month is resynced in full.
MAX_CURSOR_AGE = timedelta(days=30)


class HubSpotCrm(HubSpotWriter, StreamedCrm):
    name = "hubspot"
    reader: HubSpotReader

    def __init__(
        self,
        api: HubSpotApi,
        mapping: CrmMapping | None = None,
        *,
        max_cursor_age: timedelta = MAX_CURSOR_AGE,
    ) -> None:
        self.api = api
        self.mapping = mapping or CrmMapping()
        self.max_cursor_age = max_cursor_age
        self.reader = HubSpotReader(api, self.mapping, vendor=self.name)

    def stages(self) -> list[tuple[str, str]]:
        """Every deal stage (id, name), for `followup crm check`."""
        return [(s.id, s.label) for s in self.reader.stages().values()]


def auth_from(settings: HubSpotSettings, transport: httpx2.BaseTransport | None = None) -> Auth:
    if settings.access_token is not None:
        return BearerToken(settings.access_token.get_secret_value())
    if settings.refresh_token is not None and settings.client_id:
        return BearerToken(
            RefreshingToken(
                token_url=settings.token_url or settings.api_url.rstrip("/") + "/oauth/v1/token",
                client_id=settings.client_id,
                client_secret=(
                    settings.client_secret.get_secret_value() if settings.client_secret else None
                ),
                refresh_token=settings.refresh_token.get_secret_value(),
                vendor="HubSpot",
                transport=transport,
                timeout=settings.timeout_seconds,
            )
        )
    raise CrmSetupError(
        "CRM_PROVIDER=hubspot needs HUBSPOT_ACCESS_TOKEN (a private app's token), or "
        "HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET and HUBSPOT_REFRESH_TOKEN (an OAuth app)"
    )


def build(
    context: CrmContext,
    *,
    settings: HubSpotSettings | None = None,
    sleep: Callable[[float], None] | None = None,
) -> HubSpotCrm:
    """The registry's entry (`CRM_PROVIDER=hubspot`)."""
    settings = settings or HubSpotSettings(_env_file=context.env_file)  # type: ignore[call-arg]
    api = HubSpotApi(
        settings.api_url,
        auth_from(settings, context.transport),
        version=settings.api_version,
        transport=context.transport,
        timeout=settings.timeout_seconds,
        sleep=sleep,
    )
    return HubSpotCrm(api, context.mapping)
