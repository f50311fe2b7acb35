"""Configuration: environment variables (and `.env`) plus `followup.toml`.

Environment holds where things are and secrets; `followup.toml` holds behaviour (rules,
cadences, send windows, approvers, channels). Both are validated at start, and an error names
the file, the key and what is allowed.
"""

from __future__ import annotations

import re
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
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm.mapping import CrmMapping, OwnerSettings
from prompts.base import VoiceSettings
from triggers.cadence import (
    ALLOWED_ACTIONS,
    ANGLES,
    BUILTIN_CADENCES,
    DEFAULT_ACTIONS,
    Action,
    Cadence,
    CadenceConfig,
    EnrolRules,
    Playbook,
    ReplyEvent,
    Step,
)
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
from triggers.handoff import DEFAULT_ROLES, DEFAULT_ROUTES, SLACK_USER_ID, Category, RoutingConfig
from triggers.model import DealStatus

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
# A public or private channel's id: files are shared by id, never by name.
SLACK_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")


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
    # The founder's own mailbox (MAIL_PROVIDER=smtp_imap, gmail, graph): see .env.example.
    mail_from: str | None = None  # the mailbox's address; default: SMTP_USERNAME
    mail_oauth_token: SecretStr | None = None  # a bearer/XOAUTH2 access token, used as given
    mail_oauth_refresh_token: SecretStr | None = None  # or fresh tokens from a refresh token
    mail_oauth_client_id: str | None = None
    mail_oauth_client_secret: SecretStr | None = None
    mail_oauth_token_url: str | None = None  # default: Google's, or Microsoft's for graph
    mail_lookback_days: int = Field(default=14, ge=1, le=365)
    mail_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    # How long an outbox worker's claim on a message holds without renewal (it renews it
    # every quarter of this while sending); another worker takes over only after it ran out.
    send_lease_seconds: float = Field(default=120.0, ge=1, le=3600)
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)  # default: by SMTP_SECURITY
    smtp_security: str = Field(default="starttls", pattern="^(starttls|tls|none)$")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    imap_host: str | None = None
    imap_port: int | None = Field(default=None, ge=1, le=65535)  # default: by IMAP_SECURITY
    imap_security: str = Field(default="tls", pattern="^(starttls|tls|none)$")
    imap_username: str | None = None  # default: SMTP_USERNAME
    imap_password: SecretStr | None = None  # default: SMTP_PASSWORD
    imap_sent_folder: str | None = None  # default: the folder the server flags \Sent
    imap_save_sent: bool | None = None  # default: no for Gmail and Microsoft 365, else yes
    gmail_api_url: str = "https://gmail.googleapis.com/gmail/v1/users/me/"
    graph_api_url: str = "https://graph.microsoft.com/v1.0/me/"
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    followup_model: str = "gpt-4o-mini"
    # Drafting with a model: seconds a call may take, and how many drafts in a row may fail
    # before a cycle stops calling the server (the templates write the rest).
    followup_model_timeout: float = Field(default=10.0, gt=0, le=120)
    followup_model_breaker_after: int = Field(default=3, ge=1, le=100)
    log_level: str = "INFO"
    log_format: str = Field(default="text", pattern="^(text|json)$")
    # The health listener (/healthz, /readyz, /metrics) of `followup run`; 0 turns it off.
    health_port: int = Field(default=9108, ge=0, le=65535)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, level: str) -> str:
        if level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"{level!r} is not a log level")
        return level.upper()

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


def _quiet(value: Any) -> timedelta | None:
    if value is None or (isinstance(value, str) and value.strip().lower() == "stage"):
        return None
    return _duration(value)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleSection(_Strict):
    after: Duration
    enabled: bool = True


class StageStaleSection(RuleSection):
    stages: dict[str, Duration] = Field(default_factory=dict)


class LeadNoReplySection(RuleSection):
    max_followups: int = Field(default=3, ge=1, le=20)


RULE_AFTER = {
    "proposal_no_reply": "72h",
    "call_no_next_step": "24h",
    "stage_stale": "7d",
    "quote_expired": "0h",
    "lead_no_reply": "48h",
}


class RulesSection(_Strict):
    proposal_no_reply: RuleSection = RuleSection(after=timedelta(hours=72))
    call_no_next_step: RuleSection = RuleSection(after=timedelta(hours=24))
    stage_stale: StageStaleSection = StageStaleSection(after=timedelta(days=7))
    quote_expired: RuleSection = RuleSection(after=timedelta(0))
    lead_no_reply: LeadNoReplySection = LeadNoReplySection(after=timedelta(hours=48))
    # "stage": one stage window (the deal's stage_stale window); else a duration.
    quiet_after_dismissal: Annotated[timedelta | None, BeforeValidator(_quiet)] = None
    # At most this many new drafts per cycle (oldest due first); the rest wait for the next
    # cycles, so an import of a big pipeline is spread over days. 0: no limit.
    max_new_drafts_per_cycle: int = Field(default=25, ge=0, le=100_000)

    @model_validator(mode="before")
    @classmethod
    def _default_after(cls, data: Any) -> Any:
        """`[rules.X] enabled = false` alone is enough: `after` keeps its default."""
        if isinstance(data, dict):
            data = dict(data)
            for rule, after in RULE_AFTER.items():
                if isinstance(data.get(rule), dict) and "after" not in data[rule]:
                    data[rule] = {"after": after, **data[rule]}
        return data

    def to_domain(self) -> RulesConfig:
        return RulesConfig(
            quiet_after_dismissal=self.quiet_after_dismissal,
            proposal_no_reply=RuleConfig(**self.proposal_no_reply.model_dump()),
            call_no_next_step=RuleConfig(**self.call_no_next_step.model_dump()),
            stage_stale=StageStaleConfig(**self.stage_stale.model_dump()),
            quote_expired=RuleConfig(**self.quote_expired.model_dump()),
            lead_no_reply=LeadNoReplyConfig(**self.lead_no_reply.model_dump()),
        )


class SendingSection(_Strict):
    """`[sending]`: how much leaves each mailbox, and how fast (defaults keep a founder's
    mailbox safe). A message over the cap or too soon after the last one waits its turn."""

    daily_cap: int = Field(default=50, ge=0, le=100_000)  # per mailbox per 24 h; 0: no cap
    spacing: Duration = timedelta(minutes=1)  # between two sends of one mailbox; "0m": none


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
    # @mention the deal's owner on each new draft in the review channel.
    mention_owner: bool = True
    # More new drafts than this in one cycle: one summary message (count per rule and the
    # first drafts) instead of one message each; the rest are in the App Home and `queue`.
    summary_above: int = Field(default=10, ge=1, le=10_000)

    # Messages are updated in place and charts shared by channel id; a "#name" would post once
    # and then fail every update.
    @field_validator("review_channel")
    @classmethod
    def _channel_id(cls, channel: str | None) -> str | None:
        if channel is not None and not SLACK_CHANNEL_ID.match(channel):
            raise ValueError(
                f"{channel!r} is not a Slack channel id such as C0123ABCD "
                "(in Slack: the channel's details, at the bottom)"
            )
        return channel


class VoiceSection(_Strict):
    """How one owner writes; every key optional, falling back to `[drafting]`, then the
    product's defaults."""

    signature: str | None = None
    sign_off: str | None = None
    tone: str | None = Field(default=None, min_length=1, max_length=300)
    max_words: int | None = Field(default=None, ge=20, le=1000)


class DraftingSection(VoiceSection):
    templates_dir: Path | None = None
    competitors: list[str] = Field(default_factory=list)
    # Per owner, keyed by the owner's id in the pipeline: a team's reps each sign as themselves.
    owners: dict[str, VoiceSection] = Field(default_factory=dict)

    def voice(self, owner_id: str | None = None) -> VoiceSettings:
        """The voice for `owner_id`'s drafts: the owner's keys, then `[drafting]`, then defaults."""
        layers = [layer for layer in (self.owners.get(owner_id or ""), self) if layer is not None]
        default = VoiceSettings()

        def pick(key: str) -> Any:
            chosen = (getattr(layer, key) for layer in layers if getattr(layer, key) is not None)
            return next(chosen, getattr(default, key))

        return VoiceSettings(
            signature=pick("signature"),
            sign_off=pick("sign_off"),
            tone=pick("tone"),
            max_words=pick("max_words"),
        )

    def owner_voices(self) -> dict[str, VoiceSettings]:
        return {owner_id: self.voice(owner_id) for owner_id in self.owners}


# --- cadences and handoff routing (issue 7) --------------------------------------------------


class StepSection(_Strict):
    days: int = Field(ge=0, le=365)  # gap after the previous touch
    angle: str
    template: str = ""  # default: the angle's own template
    business_days: bool = False
    max_lines: int | None = Field(default=None, ge=1, le=50)

    @field_validator("angle", "template")
    @classmethod
    def _known_angle(cls, value: str, info: ValidationInfo) -> str:
        if (value or info.field_name == "angle") and value not in ANGLES:
            raise ValueError(f"{value!r} is not an angle; allowed: {', '.join(ANGLES)}")
        return value


class CadenceSection(_Strict):
    steps: list[StepSection] = Field(min_length=1)
    max_touches: int | None = Field(default=None, ge=1, le=50)  # default: every step
    first_step: int = Field(default=2, ge=1, le=2)
    archive_after_days: int = Field(default=7, ge=0, le=365)
    description: str = ""

    @model_validator(mode="after")
    def _no_angle_twice(self) -> CadenceSection:
        for index in range(1, len(self.steps)):
            if self.steps[index].angle == self.steps[index - 1].angle:
                raise ValueError(
                    f"steps.{index}.angle: {self.steps[index].angle!r} repeats the previous "
                    "step's angle; never the same angle twice in a row"
                )
        return self

    def to_domain(self, name: str) -> Cadence:
        return Cadence(
            name=name,
            steps=tuple(Step(**step.model_dump()) for step in self.steps),
            max_touches=self.max_touches or self.first_step + len(self.steps) - 1,
            first_step=self.first_step,
            archive_after_days=self.archive_after_days,
            description=self.description,
        )


class EnrolSection(_Strict):
    stages: dict[str, str] = Field(default_factory=dict)  # CRM stage -> cadence
    inbound_leads: str = ""  # cadence for inbound leads; "" is off
    silent: str = ""  # cadence for contacts silent `silent_after` or longer; "" is off
    silent_after: Duration = timedelta(days=30)


def _action_field(default: Action) -> Any:
    return Field(default=default.value)


class PlaybookSection(_Strict):
    positive: str = _action_field(DEFAULT_ACTIONS[ReplyEvent.POSITIVE])
    question: str = _action_field(DEFAULT_ACTIONS[ReplyEvent.QUESTION])
    objection: str = _action_field(DEFAULT_ACTIONS[ReplyEvent.OBJECTION])
    not_interested: str = _action_field(DEFAULT_ACTIONS[ReplyEvent.NOT_INTERESTED])
    referral: str = _action_field(DEFAULT_ACTIONS[ReplyEvent.REFERRAL])
    not_now: str = _action_field(DEFAULT_ACTIONS[ReplyEvent.NOT_NOW])
    ambiguous: str = _action_field(DEFAULT_ACTIONS[ReplyEvent.AMBIGUOUS])
    out_of_office: str = _action_field(DEFAULT_ACTIONS[ReplyEvent.OUT_OF_OFFICE])
    bounce: str = _action_field(DEFAULT_ACTIONS[ReplyEvent.BOUNCE])
    opt_out: str = _action_field(DEFAULT_ACTIONS[ReplyEvent.OPT_OUT])
    confirm_opt_out: bool = True  # draft the one-line confirmation for approval

    @field_validator(*(event.value for event in ReplyEvent))
    @classmethod
    def _allowed(cls, value: str, info: ValidationInfo) -> str:
        assert info.field_name is not None
        allowed = [a.value for a in ALLOWED_ACTIONS[ReplyEvent(info.field_name)]]
        if value not in allowed:
            raise ValueError(f"{value!r} is not allowed; allowed: {', '.join(allowed)}")
        return value

    def to_domain(self) -> Playbook:
        actions = {event: Action(getattr(self, event.value)) for event in ReplyEvent}
        return Playbook(actions=actions, confirm_opt_out=self.confirm_opt_out)


class CadencesSection(_Strict):
    """`[cadences]`: options, `[cadences.enrol]`, `[cadences.playbook]`, and one
    `[cadences.<name>]` table per cadence (`default` and `re_engagement` are built in; a table
    of the same name replaces one)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, CadenceSection] = Field(init=False)

    default_cadence: str = "default"  # what `followup enroll` uses without --cadence
    stop_on_company_reply: bool = True
    out_of_office_days: int = Field(default=5, ge=0, le=60)
    resume_after_return_days: int = Field(default=1, ge=0, le=30)
    not_now_days: int = Field(default=30, ge=1, le=365)
    enrol: EnrolSection = EnrolSection()
    playbook: PlaybookSection = PlaybookSection()

    @model_validator(mode="before")
    @classmethod
    def _tables_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            options = set(cls.model_fields)
            for key, value in data.items():
                if key not in options and not isinstance(value, dict):
                    allowed = ", ".join(sorted(options))
                    raise ValueError(
                        f"unknown key {key!r}; allowed: {allowed}, or a [cadences.<name>] "
                        "table that defines a cadence"
                    )
        return data

    @model_validator(mode="after")
    def _consistent(self) -> CadencesSection:
        self.to_domain()  # raises CadenceConfigError (a ValueError) naming the key
        return self

    @property
    def definitions(self) -> dict[str, CadenceSection]:
        return dict(self.model_extra or {})

    def to_domain(self) -> CadenceConfig:
        cadences = dict(BUILTIN_CADENCES)
        cadences |= {name: section.to_domain(name) for name, section in self.definitions.items()}
        return CadenceConfig(
            cadences=cadences,
            default=self.default_cadence,
            stop_on_company_reply=self.stop_on_company_reply,
            out_of_office_days=self.out_of_office_days,
            resume_after_return_days=self.resume_after_return_days,
            not_now_days=self.not_now_days,
            enrol=EnrolRules(
                stages=dict(self.enrol.stages),
                inbound_leads=self.enrol.inbound_leads,
                silent=self.enrol.silent,
                silent_after=self.enrol.silent_after,
            ),
            playbook=self.playbook.to_domain(),
        )


def _route_field(category: Category) -> Any:
    return Field(default=DEFAULT_ROUTES[category])


class RoutingSection(_Strict):
    """`[routing]`: who gets each kind of reply: `owner`, a role from `[routing.roles]`
    (`account_executive` and `manager` fall back to the owner until filled) or a Slack user
    id."""

    roles: dict[str, str] = Field(default_factory=dict)  # role -> Slack user id
    buying_signal: str = _route_field(Category.BUYING_SIGNAL)
    question: str = _route_field(Category.QUESTION)
    objection: str = _route_field(Category.OBJECTION)
    not_interested: str = _route_field(Category.NOT_INTERESTED)
    referral: str = _route_field(Category.REFERRAL)
    not_now: str = _route_field(Category.NOT_NOW)
    opt_out: str = _route_field(Category.OPT_OUT)
    complaint: str = _route_field(Category.COMPLAINT)
    other: str = _route_field(Category.OTHER)

    @field_validator("roles")
    @classmethod
    def _user_ids(cls, roles: dict[str, str]) -> dict[str, str]:
        for role, user in roles.items():
            if not SLACK_USER_ID.match(user):
                raise ValueError(f"{role}: {user!r} is not a Slack user id such as U0123ABCD")
        return roles

    @field_validator(*(category.value for category in Category))
    @classmethod
    def _target(cls, target: str, info: ValidationInfo) -> str:
        roles = set(info.data.get("roles") or ()) | set(DEFAULT_ROLES)
        if target == "owner" or target in roles or SLACK_USER_ID.match(target):
            return target
        raise ValueError(
            f"{target!r} is not allowed; allowed: owner, a role ({', '.join(sorted(roles))}) "
            "or a Slack user id such as U0123ABCD"
        )

    def to_domain(self) -> RoutingConfig:
        routes = {category: getattr(self, category.value) for category in Category}
        return RoutingConfig(routes=routes, roles=dict(self.roles))


class DigestSection(_Strict):
    """`[digest]`: the weekly digest in Slack, posted on `day` at `time` in `timezone`, to
    `channel` (default: `[slack] review_channel`)."""

    enabled: bool = True
    day: str = "mon"
    at: time = Field(default=time(9, 0), alias="time")
    timezone: str = "UTC"
    channel: str | None = None

    @field_validator("day")
    @classmethod
    def _known_day(cls, day: str) -> str:
        if day.lower() not in WEEKDAYS:
            raise ValueError(f"unknown day {day!r}; allowed: {', '.join(WEEKDAYS)}")
        return day.lower()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        return SendWindowSection._known_zone(zone)

    @field_validator("channel")
    @classmethod
    def _channel_id(cls, channel: str | None) -> str | None:
        if channel is not None and not SLACK_CHANNEL_ID.match(channel):
            raise ValueError(f"{channel!r} is not a Slack channel id such as C0123ABCD")
        return channel


_MAPPING_DEFAULTS = CrmMapping()


class CrmOwnerSection(_Strict):
    timezone: str | None = None
    slack_user_id: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str | None) -> str | None:
        if zone is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError) as error:
                raise ValueError(f"{zone!r} is not an IANA time zone") from error
        return zone

    @field_validator("slack_user_id")
    @classmethod
    def _user_id(cls, value: str | None) -> str | None:
        if value is not None and not SLACK_USER_ID.match(value):
            raise ValueError(f"{value!r} is not a Slack user id such as U0123ABCD")
        return value


class CrmMappingSection(_Strict):
    """`[crm.mapping]`: how the CRM's stages, types and properties read as the rules' facts."""

    proposal_stages: list[str] = list(_MAPPING_DEFAULTS.proposal_stages)
    quote_stages: list[str] = list(_MAPPING_DEFAULTS.quote_stages)
    statuses: dict[str, DealStatus] = dict(_MAPPING_DEFAULTS.statuses)
    call_types: list[str] = list(_MAPPING_DEFAULTS.call_types)
    meeting_types: list[str] = list(_MAPPING_DEFAULTS.meeting_types)
    quote_expiry_property: str | None = _MAPPING_DEFAULTS.quote_expiry_property
    source_property: str | None = None
    inbound_sources: list[str] = list(_MAPPING_DEFAULTS.inbound_sources)
    reply_received_stage: str | None = None
    do_not_contact_property: str | None = None
    do_not_contact_label: str = _MAPPING_DEFAULTS.do_not_contact_label
    owners: dict[str, CrmOwnerSection] = Field(default_factory=dict)

    @field_validator("statuses")
    @classmethod
    def _parking_only(cls, statuses: dict[str, DealStatus]) -> dict[str, DealStatus]:
        for name, status in statuses.items():
            if status is DealStatus.OPEN:
                raise ValueError(f"{name!r}: a mapped status parks a deal; 'open' is the default")
        return statuses

    def to_domain(self) -> CrmMapping:
        return CrmMapping(
            proposal_stages=tuple(self.proposal_stages),
            quote_stages=tuple(self.quote_stages),
            statuses=dict(self.statuses),
            call_types=tuple(self.call_types),
            meeting_types=tuple(self.meeting_types),
            quote_expiry_property=self.quote_expiry_property,
            source_property=self.source_property,
            inbound_sources=tuple(self.inbound_sources),
            reply_received_stage=self.reply_received_stage,
            do_not_contact_property=self.do_not_contact_property,
            do_not_contact_label=self.do_not_contact_label,
            owners={
                key: OwnerSettings(o.timezone, o.slack_user_id) for key, o in self.owners.items()
            },
        )


class CrmSection(_Strict):
    """`[crm]`: write-back options and `[crm.mapping]`."""

    log_drafts: bool = False  # also log on the deal that a follow-up was drafted, and when
    mapping: CrmMappingSection = CrmMappingSection()


class FollowupConfig(_Strict):
    """The validated content of `followup.toml`."""

    rules: RulesSection = RulesSection()
    send_window: SendWindowSection = SendWindowSection()
    slack: SlackSection = SlackSection()
    drafting: DraftingSection = DraftingSection()
    cadences: CadencesSection = CadencesSection()
    routing: RoutingSection = RoutingSection()
    digest: DigestSection = DigestSection()
    crm: CrmSection = CrmSection()
    sending: SendingSection = SendingSection()
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
