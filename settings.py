"""Configuration: environment variables (and `.env`) plus `followup.toml`.

Environment holds where things are and secrets; `followup.toml` holds behaviour (rules,
cadences, send windows, approvers, channels). Both are validated at start, and an error names
the file, the key and what is allowed.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from triggers.config import (
    WEEKDAYS,
    EvaluationConfig,
    LeadNoReplyConfig,
    RuleConfig,
    RulesConfig,
    SendWindowConfig,
    StageStaleConfig,
)
from triggers.durations import parse_duration

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class CrmProvider(StrEnum):
    LOCAL = "local"
    HUBSPOT = "hubspot"
    PIPEDRIVE = "pipedrive"
    SALESFORCE = "salesforce"
    CLOSE = "close"


class MailProvider(StrEnum):
    OUTBOX = "outbox"
    SMTP_IMAP = "smtp_imap"
    GMAIL = "gmail"
    GRAPH = "graph"


class Settings(BaseSettings):
    """Every variable is documented in `.env.example`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_file_encoding="utf-8")

    database_url: str = "sqlite:///followup.db"
    followup_config: Path = Path("followup.toml")
    crm_provider: CrmProvider = CrmProvider.LOCAL
    pipeline_file: Path = Path("examples/pipeline.json")
    mail_provider: MailProvider = MailProvider.OUTBOX
    outbox_dir: Path = Path("outbox")
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    followup_model: str = "gpt-4o-mini"
    log_level: str = "INFO"

    @property
    def slack_configured(self) -> bool:
        return self.slack_bot_token is not None and self.slack_signing_secret is not None


class ConfigError(Exception):
    """`followup.toml` is unreadable or invalid; the message names file, key and what is allowed."""


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError("a duration is a string such as 72h, 7d or 2w")
    return parse_duration(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleSection(_Strict):
    after: Duration
    enabled: bool = True


class StageStaleSection(RuleSection):
    stages: dict[str, Duration] = Field(default_factory=dict)


class LeadNoReplySection(RuleSection):
    max_followups: int = Field(default=3, ge=1, le=20)


class RulesSection(_Strict):
    proposal_no_reply: RuleSection = RuleSection(after=timedelta(hours=72))
    call_no_next_step: RuleSection = RuleSection(after=timedelta(hours=24))
    stage_stale: StageStaleSection = StageStaleSection(after=timedelta(days=7))
    quote_expired: RuleSection = RuleSection(after=timedelta(0))
    lead_no_reply: LeadNoReplySection = LeadNoReplySection(after=timedelta(hours=48))

    def to_domain(self) -> RulesConfig:
        return RulesConfig(
            proposal_no_reply=RuleConfig(**self.proposal_no_reply.model_dump()),
            call_no_next_step=RuleConfig(**self.call_no_next_step.model_dump()),
            stage_stale=StageStaleConfig(**self.stage_stale.model_dump()),
            quote_expired=RuleConfig(**self.quote_expired.model_dump()),
            lead_no_reply=LeadNoReplyConfig(**self.lead_no_reply.model_dump()),
        )


class SendWindowSection(_Strict):
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    start: time = time(9, 0)
    end: time = time(17, 0)
    timezone: str = "UTC"
    holidays: str = ""
    # owner id -> list of dates the owner is out of office
    owner_away: dict[str, list[date]] = Field(default_factory=dict)

    @field_validator("days")
    @classmethod
    def _known_days(cls, days: list[str]) -> list[str]:
        unknown = [d for d in days if d.lower() not in WEEKDAYS]
        if unknown:
            raise ValueError(f"unknown day(s) {unknown}; allowed: {', '.join(WEEKDAYS)}")
        if not days:
            raise ValueError("at least one day is needed")
        return [d.lower() for d in days]

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"{zone!r} is not an IANA time zone such as Europe/Berlin") from error
        return zone

    @field_validator("holidays")
    @classmethod
    def _known_country(cls, country: str) -> str:
        if not country:
            return ""
        import holidays

        if country.upper() not in holidays.list_supported_countries():
            raise ValueError(f"{country!r} is not a country the holidays package knows (e.g. US)")
        return country.upper()

    def to_domain(self, years: range) -> SendWindowConfig:
        holiday_dates: frozenset[date] = frozenset()
        if self.holidays:
            import holidays

            holiday_dates = frozenset(holidays.country_holidays(self.holidays, years=years).keys())
        if self.end <= self.start:
            raise ValueError("send_window.end must be after send_window.start")
        return SendWindowConfig(
            days=frozenset(WEEKDAYS.index(d) for d in self.days),
            start=self.start,
            end=self.end,
            timezone=self.timezone,
            holiday_country=self.holidays,
            holiday_dates=holiday_dates,
            owner_away={owner: frozenset(days) for owner, days in self.owner_away.items()},
        )


class SlackSection(_Strict):
    review_channel: str | None = None
    drafts_to: str = Field(default="channel", pattern="^(channel|owner_dm)$")
    admins: list[str] = Field(default_factory=list)


class DraftingSection(_Strict):
    templates_dir: Path | None = None
    competitors: list[str] = Field(default_factory=list)
    signature: str | None = None


class FollowupConfig(_Strict):
    """The validated content of `followup.toml`."""

    rules: RulesSection = RulesSection()
    send_window: SendWindowSection = SendWindowSection()
    slack: SlackSection = SlackSection()
    drafting: DraftingSection = DraftingSection()
    # Sections owned by capabilities that read them themselves (cadences, routing).
    cadences: dict[str, Any] = Field(default_factory=dict)
    routing: dict[str, Any] = Field(default_factory=dict)
    source: Path | None = Field(default=None, exclude=True)

    @property
    def evaluation(self) -> EvaluationConfig:
        today = datetime.now(UTC).date()
        years = range(today.year - 1, today.year + 3)
        return EvaluationConfig(
            rules=self.rules.to_domain(), send_window=self.send_window.to_domain(years)
        )


def load_followup_config(path: Path | None, *, required: bool = False) -> FollowupConfig:
    """Read and validate `followup.toml`; a missing file means the defaults unless required."""
    if path is None or not path.exists():
        if required and path is not None:
            raise ConfigError(f"{path}: no such file")
        return FollowupConfig()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from error
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from error
    try:
        config = FollowupConfig.model_validate(raw)
        config.evaluation  # noqa: B018 - builds the domain config so cross-field errors surface now
    except ValidationError as error:
        raise ConfigError(_describe(path, error)) from error
    except ValueError as error:
        raise ConfigError(f"{path}: {error}") from error
    return config.model_copy(update={"source": path})


def _describe(path: Path, error: ValidationError) -> str:
    lines = [f"{path}: {error.error_count()} problem(s)"]
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"  {key}: {message}")
    return "\n".join(lines)
