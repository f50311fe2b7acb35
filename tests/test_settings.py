"""followup.toml is validated at start; errors name the file, the key and what is allowed."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from settings import ConfigError, Settings, load_followup_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "followup.toml"
    path.write_text(text)
    return path


def test_defaults_are_the_products() -> None:
    evaluation = load_followup_config(None).evaluation
    assert evaluation.rules.proposal_no_reply.after == timedelta(hours=72)
    assert evaluation.rules.lead_no_reply.max_followups == 3
    assert evaluation.send_window.days == frozenset(range(5))
    assert (evaluation.send_window.start, evaluation.send_window.end) == (time(9), time(17))


def test_the_issue_example_is_accepted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[rules.proposal_no_reply]
after = "72h"
[rules.stage_stale]
after = "7d"
stages = { negotiation = "10d", proposal = "5d" }
[rules.lead_no_reply]
after = "48h"
max_followups = 3
[rules.quote_expired]
after = "0h"
enabled = false
[send_window]
days = ["mon", "tue", "wed", "thu", "fri"]
start = "09:00"
end = "17:00"
timezone = "UTC"
holidays = "DE"
[slack]
review_channel = "C0REVIEW"
drafts_to = "owner_dm"
admins = ["U0ADMIN"]
""",
    )
    config = load_followup_config(path)
    rules = config.evaluation.rules
    assert rules.stage_stale.window_for("negotiation") == timedelta(days=10)
    assert rules.stage_stale.window_for("discovery") == timedelta(days=7)
    assert not rules.quote_expired.enabled
    assert config.slack.admins == ["U0ADMIN"]
    assert len(config.evaluation.send_window.holiday_dates) > 20


def test_every_problem_is_named_with_its_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[rules.stage_stale]
after = "7x"
[send_window]
days = ["mon", "funday"]
timezone = "Mars/Base"
[slack]
drafts_to = "everyone"
colour = "blue"
""",
    )
    with pytest.raises(ConfigError) as raised:
        load_followup_config(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: 5 problem(s)")
    assert (
        "rules.stage_stale.after: '7x' is not a duration; use a number and a unit: 90m, 72h, 7d, 2w"
        in message
    )
    assert (
        "send_window.days: unknown day(s) ['funday']; allowed: mon, tue, wed, thu, fri, sat, sun"
        in message
    )
    assert "send_window.timezone: 'Mars/Base' is not an IANA time zone" in message
    assert "slack.drafts_to:" in message
    assert "slack.colour: unknown key" in message


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[rules\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_followup_config(path)


def test_an_inverted_window_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[send_window]\nstart = "17:00"\nend = "09:00"\n')
    with pytest.raises(ConfigError, match=r"send_window.end must be after send_window.start"):
        load_followup_config(path)


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@127.0.0.1/db")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9999/api/")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret-value")
    monkeypatch.setenv("CRM_PROVIDER", "local")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url.startswith("postgresql")
    assert settings.slack_api_url == "http://127.0.0.1:9999/api/"
    assert "xoxb-secret-value" not in repr(settings)


def test_an_unknown_provider_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_PROVIDER", "excel")
    with pytest.raises(ValueError, match="crm_provider"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_each_owner_writes_in_their_own_voice(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[drafting]
sign_off = "Cheers,"
tone = "plain and brief"
[drafting.owners.u_maya]
signature = "Maya Chen, founder"
max_words = 90
[drafting.owners.u_leo]
sign_off = "Best regards,"
""",
    )
    drafting = load_followup_config(path).drafting
    maya, leo, anyone = drafting.voice("u_maya"), drafting.voice("u_leo"), drafting.voice("u_x")
    assert (maya.signature, maya.sign_off, maya.tone, maya.max_words) == (
        "Maya Chen, founder",
        "Cheers,",
        "plain and brief",
        90,
    )
    assert (leo.signature, leo.sign_off) == ("", "Best regards,")  # "": the owner's first name
    assert anyone == drafting.voice()
    assert anyone.max_words == 150
    assert set(drafting.owner_voices()) == {"u_maya", "u_leo"}


def test_a_voice_key_out_of_range_names_the_owner(tmp_path: Path) -> None:
    path = write(tmp_path, "[drafting.owners.u_maya]\nmax_words = 5\n")
    with pytest.raises(ConfigError) as error:
        load_followup_config(path)
    assert "drafting.owners.u_maya.max_words" in str(error.value)


def test_the_review_channel_must_be_a_channel_id(tmp_path: Path) -> None:
    path = write(tmp_path, '[slack]\nreview_channel = "#sales"\n')
    with pytest.raises(ConfigError) as error:
        load_followup_config(path)
    assert "slack.review_channel" in str(error.value)
    assert "not a Slack channel id" in str(error.value)
