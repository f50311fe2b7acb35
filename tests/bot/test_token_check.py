"""Junk Slack tokens stop `followup run` at start with one line naming the token (checked
against the loopback Slack Web API: auth.test for the bot token, apps.connections.open for the
app-level one), never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.bot import payloads
from tests.bot.conftest import TOKEN
from tests.bot.fake_slack import FakeSlack

REPO = Path(__file__).resolve().parents[2]
FOLLOWUP = Path(sys.executable).with_name("followup")


def run(tmp_path: Path, slack: FakeSlack, **env: str) -> tuple[int, str]:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    base |= {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}",
        "PIPELINE_FILE": str(REPO / "examples" / "pipeline.json"),
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "SLACK_API_URL": slack.api_url,
        "SLACK_SIGNING_SECRET": "a-signing-secret",
        "HEALTH_PORT": "0",
    }
    done = subprocess.run(
        [str(FOLLOWUP), "run"],
        env=base | env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stderr


def test_a_junk_bot_token_and_a_junk_app_token_are_named(tmp_path: Path) -> None:
    subprocess.run(
        [str(FOLLOWUP), "db", "upgrade"],
        env={"PATH": os.environ["PATH"], "DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}"},
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    with FakeSlack(payloads.spec_path(), TOKEN) as slack:
        slack.app_token = "xapp-the-real-one"
        code, err = run(tmp_path, slack, SLACK_BOT_TOKEN="xoxb-junk", SLACK_APP_TOKEN="xapp-x")
        assert code == 2
        assert "Traceback" not in err
        [line] = [line for line in err.splitlines() if line.startswith("error:")]
        assert "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in line

        code, err = run(tmp_path, slack, SLACK_BOT_TOKEN=TOKEN, SLACK_APP_TOKEN="xapp-junk")
        assert code == 2
        assert "Traceback" not in err
        [line] = [line for line in err.splitlines() if line.startswith("error:")]
        assert "Slack refused SLACK_APP_TOKEN for Socket Mode (invalid_auth)" in line
        assert "xapp-junk" not in err  # a token is never shown
