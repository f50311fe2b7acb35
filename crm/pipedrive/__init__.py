"""Pipedrive: an API token or OAuth, API v2 with cursor paging and `updated_since`, v1 where
v2 has nothing yet, and the daily token budget honoured."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx2

from crm import CrmContext, CrmSetupError
from crm.mapping import CrmMapping
from crm.pipedrive.api import PipedriveApi
from crm.pipedrive.read import PipedriveReader
from crm.pipedrive.settings import PipedriveSettings
from crm.pipedrive.write import PipedriveWriter
from crm.source import StreamedCrm
from httploop import Auth, BearerToken, HeaderToken
from httploop.oauth import RefreshingToken

# Pipedrive lists deleted deals for 30 days; an older cursor is resynced in full.
MAX_CURSOR_AGE = timedelta(days=25)


class PipedriveCrm(PipedriveWriter, StreamedCrm):
    name = "pipedrive"
    reader: PipedriveReader

    def __init__(
        self,
        api: PipedriveApi,
        mapping: CrmMapping | None = None,
        *,
        max_cursor_age: timedelta = MAX_CURSOR_AGE,
    ) -> None:
        self.api = api
        self.mapping = mapping or CrmMapping()
        self.max_cursor_age = max_cursor_age
        self.reader = PipedriveReader(api, self.mapping, vendor=self.name)

    def stages(self) -> list[tuple[str, str]]:
        """Every deal stage (id, name), for `followup crm check`."""
        return [(s.id, s.name) for s in self.reader.stages().values()]


def auth_from(settings: PipedriveSettings, transport: httpx2.BaseTransport | None = None) -> Auth:
    if settings.api_token is not None:
        return HeaderToken("x-api-token", settings.api_token.get_secret_value())
    if settings.refresh_token is not None and settings.client_id:
        return BearerToken(
            RefreshingToken(
                token_url=settings.token_url,
                client_id=settings.client_id,
                client_secret=(
                    settings.client_secret.get_secret_value() if settings.client_secret else None
                ),
                refresh_token=settings.refresh_token.get_secret_value(),
                vendor="Pipedrive",
                basic_auth=True,
                transport=transport,
                timeout=settings.timeout_seconds,
            )
        )
    raise CrmSetupError(
        "CRM_PROVIDER=pipedrive needs PIPEDRIVE_API_TOKEN, or PIPEDRIVE_CLIENT_ID, "
        "PIPEDRIVE_CLIENT_SECRET and PIPEDRIVE_REFRESH_TOKEN (an OAuth app)"
    )


def build(
    context: CrmContext,
    *,
    settings: PipedriveSettings | None = None,
    sleep: Callable[[float], None] | None = None,
) -> PipedriveCrm:
    """The registry's entry (`CRM_PROVIDER=pipedrive`)."""
    settings = settings or PipedriveSettings(_env_file=context.env_file)  # type: ignore[call-arg]
    api = PipedriveApi(
        settings.api_url,
        auth_from(settings, context.transport),
        transport=context.transport,
        timeout=settings.timeout_seconds,
        sleep=sleep,
        token_reserve=settings.token_reserve,
    )
    return PipedriveCrm(api, context.mapping)
