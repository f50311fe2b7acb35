"""Salesforce: Opportunity, OpportunityContactRole, Contact, User, Task, Event, EmailMessage,
OpportunityHistory and Quote through simple-salesforce (`adapter.py`, `client.py`)."""

from __future__ import annotations

from crm import CrmContext, CrmSetupError
from crm.salesforce.adapter import SalesforceCrm
from crm.salesforce.client import Credentials, SalesforceApi, make_session
from crm.salesforce.settings import SalesforceSettings
from httploop import HttpLoop


def _secret(value: object) -> str | None:
    getter = getattr(value, "get_secret_value", None)
    return None if getter is None else str(getter())


def credentials(settings: SalesforceSettings) -> Credentials:
    key = None
    if settings.private_key_file is not None:
        try:
            key = settings.private_key_file.read_text()
        except OSError as error:
            raise CrmSetupError(
                f"SALESFORCE_PRIVATE_KEY_FILE={settings.private_key_file} cannot be read "
                f"({error.strerror}); point it at the connected app certificate's private key"
            ) from error
    found = Credentials(
        login_url=settings.login_url,
        instance_url=settings.instance_url,
        access_token=_secret(settings.access_token),
        client_id=settings.client_id,
        client_secret=_secret(settings.client_secret),
        username=settings.username,
        private_key=key,
        refresh_token=_secret(settings.refresh_token),
        password=_secret(settings.password),
        security_token=_secret(settings.security_token) or "",
    )
    if found.flow == "none":
        raise CrmSetupError(
            "CRM_PROVIDER=salesforce needs credentials: SALESFORCE_CLIENT_ID with "
            "SALESFORCE_USERNAME and SALESFORCE_PRIVATE_KEY_FILE (JWT bearer), or "
            "SALESFORCE_CLIENT_ID with SALESFORCE_REFRESH_TOKEN, or SALESFORCE_CLIENT_ID, "
            "SALESFORCE_USERNAME, SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN"
        )
    return found


def build(context: CrmContext) -> SalesforceCrm:
    settings = SalesforceSettings(_env_file=context.env_file)  # type: ignore[call-arg]
    verify: str | bool = str(settings.ca_bundle) if settings.ca_bundle else True
    api = SalesforceApi(
        credentials(settings),
        version=settings.api_version,
        session=make_session(settings.timeout_seconds, verify),
        login=HttpLoop(
            settings.login_url,
            vendor="Salesforce",
            transport=context.transport,
            timeout=settings.timeout_seconds,
        ),
        share=settings.api_share,
    )
    return SalesforceCrm(
        api,
        context.mapping,
        quotes=settings.quotes,
        email_messages=settings.email_messages,
        multi_currency=settings.multi_currency,
    )


__all__ = ["SalesforceCrm", "build"]
