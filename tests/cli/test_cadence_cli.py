"""`followup enroll`, `followup stats`, `followup questions` and `followup answer`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli._app import main_app

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in (
        "DATABASE_URL",
        "PIPELINE_FILE",
        "OUTBOX_DIR",
        "FOLLOWUP_CONFIG",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "OPENAI_API_KEY",
        "CRM_PROVIDER",
        "MAIL_PROVIDER",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'followup.db'}")
    monkeypatch.setenv("OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("PIPELINE_FILE", str(REPO / "examples" / "pipeline.json"))
    monkeypatch.setenv("USER", "maya")
    from cli import cadence, core  # noqa: F401  (registers the commands)

    assert invoke("import", str(REPO / "examples" / "pipeline.json"))[0] in (0, 3)
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main_app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_enroll_a_deals_contact(env: Path) -> None:
    code, out, err = invoke("enroll", "d02")
    assert code == 0, err
    assert out == (
        "Oliver Grant is in cadence default on Kestrel Insurance Brokers: analytics & CRM "
        "data audit. Step 2 is due now.\n"
    )
    code, out, err = invoke("enroll", "d02", "--cadence", "re_engagement")
    assert code == 1
    assert "already in cadence default" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("enroll", "nope"), "There is no deal 'nope'."),
        (("enroll", "d02", "--cadence", "nurture"), "There is no cadence 'nurture'"),
        (("enroll", "d01", "--contact", "c02"), "'c02' is not a contact of"),
    ],
)
def test_enroll_refusals_exit_1_with_the_reason(
    env: Path, args: tuple[str, ...], message: str
) -> None:
    code, _, err = invoke(*args)
    assert code == 1
    assert message in err


def test_stats_as_json_and_as_text_and_the_chart(env: Path) -> None:
    assert invoke("enroll", "d02")[0] == 0
    code, out, err = invoke("stats", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["cadences"][0]["cadence"] == "default"
    assert data["cadences"][0]["enrolled"] == 1
    assert data["reply_rate_per_step"] == [
        {"cadence": "default", "step": 1, "angle": None, "sent": 1, "replies": 0, "reply_rate": 0.0}
    ]
    assert set(data) >= {
        "positive_reply_rate",
        "re_engagement_rate",
        "average_touches_before_reply",
        "drafts_per_rule",
        "median_minutes_to_decision",
        "handoffs",
    }
    chart = env / "chart.png"
    code, out, err = invoke("stats", "--chart", str(chart), "--days", "7")
    assert code == 0, err
    assert "Reply rate per cadence step:" in out
    assert "default step 1: 0 of 1 (0%)" in out
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert invoke("stats", "--days", "0")[0] == 2


def test_questions_and_answers(env: Path) -> None:
    code, out, _ = invoke("questions")
    assert (code, out.strip()) == (0, "No open questions.")
    code, _, err = invoke("answer", "1", "stop", "--until", "soon")
    assert code == 2
    assert "is not a date" in err
    code, _, err = invoke("answer", "99", "stop")
    assert code == 1
    assert "There is no question #99." in err
