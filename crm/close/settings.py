"""Close's settings (environment, `.env`): an API key, or an OAuth app's client id, secret and
refresh token; the API's base URL."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class CloseSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CLOSE_", env_file=".env", extra="ignore", env_file_encoding="utf-8"
    )

    api_key: SecretStr | None = None  # Settings → Developer → API Keys
    client_id: str | None = None  # or an OAuth app's, with a refresh token
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    api_url: str = "https://api.close.com/api/v1/"
    token_url: str = "https://api.close.com/oauth2/token/"  # noqa: S105 - a URL, not a secret
    timeout_seconds: float = Field(default=20.0, gt=0, le=300)
