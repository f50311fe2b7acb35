"""Salesforce's settings (environment, `.env`): one of three ways to sign in, the instance and
API version, and how much of the org's daily API allocation followup may spend."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# Pinned: simple-salesforce's default (59.0) is years old. Winter '27 is 67.0.
API_VERSION = "66.0"


class SalesforceSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SALESFORCE_", env_file=".env", extra="ignore", env_file_encoding="utf-8"
    )

    # The org's own URL (https://<my-domain>.my.salesforce.com); default: the token answer's.
    instance_url: str | None = None
    login_url: str = "https://login.salesforce.com"  # https://test.salesforce.com for sandboxes
    api_version: str = Field(default=API_VERSION, pattern=r"^\d{2,3}\.0$")
    client_id: str | None = None  # the connected app's consumer key
    client_secret: SecretStr | None = None
    username: str | None = None  # the integration user
    private_key_file: Path | None = None  # JWT bearer: the key of the app's certificate
    refresh_token: SecretStr | None = None
    password: SecretStr | None = None  # username + password + security token (trials)
    security_token: SecretStr | None = None
    access_token: SecretStr | None = None  # a session id, used as given
    api_share: float = Field(default=0.5, gt=0, le=1)  # of the org's 24-hour allocation
    quotes: bool = False  # the org has Quotes on: read Quote.ExpirationDate
    email_messages: bool = False  # Enhanced Email on: read EmailMessage
    multi_currency: bool = False  # read CurrencyIsoCode (exists only in multi-currency orgs)
    ca_bundle: Path | None = None  # a private CA (a TLS-inspecting proxy, a test instance)
    timeout_seconds: float = Field(default=20.0, gt=0, le=300)
