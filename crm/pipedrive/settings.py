"""Pipedrive's settings (environment, `.env`): an API token, or an OAuth app's client id,
secret and refresh token; the company's API base URL."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class PipedriveSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PIPEDRIVE_", env_file=".env", extra="ignore", env_file_encoding="utf-8"
    )

    api_token: SecretStr | None = None  # Settings > Personal preferences > API
    client_id: str | None = None  # or an OAuth app's, with a refresh token
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    # https://<company>.pipedrive.com (or OAuth's api_domain); /api/v2 and /v1 hang off it.
    api_url: str = "https://api.pipedrive.com"
    token_url: str = "https://oauth.pipedrive.com/oauth/token"  # noqa: S105 - a URL
    timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    # Daily tokens a sync leaves for everything else on the account (other apps, people).
    token_reserve: int = Field(default=10_000, ge=0)
