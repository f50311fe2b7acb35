"""A user's mistake is one line naming the fix, with the documented exit status: the real
`followup` executable, run as a user runs it (a subprocess), never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FOLLOWUP = Path(sys.executable).with_name("followup")
SAMPLE = REPO / "examples" / "pipeline.json"


def run(cwd: Path, *args: str, **env: str) -> tuple[int, str, str]:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ")}
    base |= {"PIPELINE_FILE": str(SAMPLE), "OUTBOX_DIR": str(cwd / "outbox")}
    done = subprocess.run(
        [str(FOLLOWUP), *args],
        cwd=cwd,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def one_error(err: str) -> str:
    """The stderr of a refused start: one line, no traceback."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    assert run(tmp_path, "db", "upgrade")[0] == 0
    return tmp_path


@pytest.mark.parametrize(
    ("env", "status", "expected"),
    [
        ({"MAIL_PROVIDER": "pigeon"}, 2, "MAIL_PROVIDER: "),
        ({"SMTP_SECURITY": "ssl"}, 2, "SMTP_SECURITY: "),
        ({"LOG_LEVEL": "LOUD"}, 2, "LOG_LEVEL: 'LOUD' is not a log level"),
        ({"DATABASE_URL": "not a url"}, 2, "DATABASE_URL is not a database followup can use"),
        ({"DATABASE_URL": "mysql://u@localhost/db"}, 2, "'mysql' is not supported"),
        (
            {"DATABASE_URL": "postgresql+psycopg://u:hunter22@127.0.0.1:1/db"},
            1,
            "DATABASE_URL: cannot reach the database",
        ),
        ({"FOLLOWUP_CONFIG": "nope.toml"}, 2, "FOLLOWUP_CONFIG: nope.toml: no such file"),
    ],
)
def test_a_broken_environment_is_one_line(
    home: Path, env: dict[str, str], status: int, expected: str
) -> None:
    code, _, err = run(home, "queue", **env)
    line = one_error(err)
    assert code == status
    assert expected in line
    assert "hunter22" not in err  # a password in the URL is never shown


def test_a_typo_in_the_database_path_creates_nothing(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, "queue", DATABASE_URL="sqlite:///folowup.db")
    assert code == 2
    assert "folowup.db does not exist; create it with `followup db upgrade`" in one_error(err)
    assert not (tmp_path / "folowup.db").exists()


def test_a_missing_templates_dir_and_a_broken_template(home: Path) -> None:
    (home / "followup.toml").write_text('[drafting]\ntemplates_dir = "mine"\n')
    code, _, err = run(home, "queue")
    assert code == 2
    assert "mine: the templates folder does not exist" in one_error(err)
    (home / "mine").mkdir()
    (home / "mine" / "proposal_no_reply.j2").write_text("no subject line\n")
    code, _, err = run(home, "queue")
    assert code == 2
    assert "proposal_no_reply.j2:1: the first line must be 'Subject: ...'" in one_error(err)


def test_export_and_chart_to_a_missing_folder(home: Path) -> None:
    code, _, err = run(home, "export", "nowhere/pipeline.json")
    assert code == 2
    assert "the folder nowhere does not exist" in one_error(err)
    code, _, err = run(home, "stats", "--chart", "nowhere/chart.png")
    assert code == 2
    assert "--chart: nowhere/chart.png: the folder nowhere does not exist" in one_error(err)


def test_first_tick_without_a_pipeline_file_says_there_is_nothing_to_evaluate(home: Path) -> None:
    code, out, err = run(home, "tick", PIPELINE_FILE=str(home / "missing.json"))
    assert code == 2
    assert "evaluating the last synced pipeline" not in err
    assert "nothing was synced before" in err
    assert "missing.json: no such file" in err
    assert "Traceback" not in err
    assert out == ""


def test_tick_after_a_good_sync_says_it_used_the_last_pipeline_and_exits_partial(
    home: Path,
) -> None:
    assert run(home, "tick")[0] == 0
    code, out, err = run(home, "tick", PIPELINE_FILE=str(home / "missing.json"))
    assert code == 3
    assert "CRM sync failed, evaluating the last synced pipeline" in err
    assert "deals synced" in out


def test_an_unknown_command_option_is_usage_not_a_traceback(home: Path) -> None:
    code, _, err = run(home, "queue", "--colour")
    assert code == 2
    assert "No such option" in err
    assert "Traceback" not in err


def test_version_short_help_and_sections_shown_literally(home: Path) -> None:
    code, out, _ = run(home, "--version")
    assert code == 0
    assert out.startswith("followup ")
    code, out, _ = run(home, "-h")
    assert code == 0
    assert "--install-completion" in out
    code, out, _ = run(home, "digest", "--help")
    assert "[digest]" in out  # a followup.toml section, not swallowed as markup


def test_an_invalid_contact_email_or_zone_is_reported(home: Path) -> None:
    document = json.loads(SAMPLE.read_text())
    document["contacts"][0]["email"] = "not-an-address"
    document["contacts"][1]["timezone"] = "Mars/Base"
    path = home / "p.json"
    path.write_text(json.dumps(document))
    code, _, err = run(home, "import", str(path))
    assert code == 3
    first, second = document["contacts"][0]["id"], document["contacts"][1]["id"]
    assert f"contacts[{first}].email" in err
    assert f"contacts[{second}].timezone" in err
