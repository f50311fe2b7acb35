"""HubSpot's settings (environment, `.env`): a private app's access token, or an OAuth app's
client id, secret and refresh token; the API's base URL and date version."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class HubSpotSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HUBSPOT_", env_file=".env", extra="ignore", env_file_encoding="utf-8"
    )

    access_token: SecretStr | None = None  # a private app's token (pat-...)
    client_id: str | None = None  # or an OAuth app's, with a refresh token
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    api_url: str = "https://api.hubapi.com"
    token_url: str | None = None  # default: <api_url>/oauth/v1/token
    api_version: str = Field(default="2026-09", pattern=r"^\d{4}-\d{2}$")
    timeout_seconds: float = Field(default=20.0, gt=0, le=300)
