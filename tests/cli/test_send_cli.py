"""`followup cancel` and `followup resend` as a user runs them, without Slack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli._app import main_app

REPO = Path(__file__).resolve().parents[2]
# A send window that is (almost) never open: an approval waits in the outbox.
CLOSED = '[send_window]\ndays = ["mon"]\nstart = "00:00"\nend = "00:01"\n'


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "OPENAI_API_KEY", "MAIL_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "followup.toml").write_text(CLOSED)
    monkeypatch.setenv("FOLLOWUP_CONFIG", str(tmp_path / "followup.toml"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'followup.db'}")
    monkeypatch.setenv("OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("PIPELINE_FILE", str(REPO / "examples" / "pipeline.json"))
    monkeypatch.setenv("CRM_PROVIDER", "local")
    from cli import core, send  # noqa: F401  (registers the commands)

    assert invoke("db", "upgrade")[0] == 0  # a new SQLite store is made by db upgrade
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main_app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cancel_stops_an_approved_message_before_it_leaves(env: Path) -> None:
    assert invoke("tick")[0] == 0
    first = json.loads(invoke("queue", "--json")[1])[0]["id"]
    code, out, _ = invoke("approve", str(first))
    assert code == 0
    assert "Approved; arrives" in out
    code, out, _ = invoke("show", str(first))
    assert "Outbox: queued" in out
    code, out, err = invoke("cancel", str(first))
    assert (code, out.strip(), err) == (0, f"Cancelled draft #{first}; it will not be sent.", "")
    code, _, err = invoke("cancel", str(first))
    assert code == 1
    assert f"Draft #{first} was already withdrawn" in err
    assert invoke("tick")[0] == 0
    assert list((env / "outbox").glob("sent/*.eml")) == []
    code, _, err = invoke("cancel", "9999")
    assert (code, err.strip()) == (1, "There is no draft #9999.")


def test_cancel_of_a_pending_draft_says_to_dismiss_it(env: Path) -> None:
    assert invoke("tick")[0] == 0
    first = json.loads(invoke("queue", "--json")[1])[0]["id"]
    code, _, err = invoke("cancel", str(first))
    assert code == 1
    assert "not approved yet; dismiss it instead" in err
    assert "Traceback" not in err


def test_resend_refuses_a_message_nobody_asked_about(env: Path) -> None:
    assert invoke("tick")[0] == 0
    first = json.loads(invoke("queue", "--json")[1])[0]["id"]
    invoke("approve", str(first))
    code, _, err = invoke("resend", str(first))
    assert code == 1
    assert "is not waiting for a resend decision (its message is queued)" in err
