"""The command line as a user runs it, without Slack."""

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
    from cli import check, core, mail  # noqa: F401  (registers the commands)

    assert invoke("db", "upgrade")[0] == 0  # only `db upgrade`, `demo` and `import` create it
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main_app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_import_reports_each_broken_record_and_exits_partial(env: Path) -> None:
    document = json.loads((REPO / "examples" / "pipeline.json").read_text())
    document["contacts"].append({"id": "cX", "email": "x@example.com"})
    document["deals"].append({**document["deals"][0], "id": "dX", "owner_id": "nobody"})
    document["activities"].append({**document["activities"][0], "id": "aX", "at": "yesterday"})
    path = env / "broken.json"
    path.write_text(json.dumps(document))
    code, out, err = invoke("import", str(path))
    assert code == 3
    assert "Loaded 2 owners" in out
    assert "3 record(s) skipped:" in err
    assert f"{path}: contacts[cX].name: required" in err
    assert f"{path}: deals[dX].owner_id: unknown owner 'nobody'" in err
    assert f"{path}: activities[aX].at: Input should be a valid datetime" in err


def test_import_of_a_file_that_is_not_a_pipeline_is_one_error(env: Path) -> None:
    path = env / "notes.json"
    path.write_text("these are my notes, not json")
    code, _, err = invoke("import", str(path))
    assert code == 2
    assert err.strip().startswith(f"error: {path}: not valid JSON (line 1, column 1")
    assert "Traceback" not in err


def test_export_writes_what_import_reads(env: Path) -> None:
    assert invoke("import", str(REPO / "examples" / "pipeline.json"))[0] == 0
    code, out, _ = invoke("export", str(env / "out.yaml"))
    assert code == 0
    assert "Wrote 25 deals" in out
    assert invoke("import", str(env / "out.yaml"))[0] == 0


def test_tick_queue_show_approve_dismiss(env: Path) -> None:
    code, out, _ = invoke("tick")
    assert code == 0
    assert "drafted" in out
    code, out, _ = invoke("queue", "--json")
    drafts = json.loads(out)
    assert len(drafts) >= 8
    assert all(d["status"] == "pending" and d["reason"] for d in drafts)
    first, second = drafts[0]["id"], drafts[1]["id"]
    code, out, _ = invoke("show", str(first))
    assert code == 0
    assert f"Draft #{first} (pending, version 1)" in out
    assert "Why now:" in out
    code, out, _ = invoke("approve", str(first))
    assert code == 0
    assert "Sent draft" in out or "Approved; arrives" in out
    code, _, err = invoke("approve", str(first))
    assert code == 1
    assert "already approved" in err or "already sent" in err
    code, out, _ = invoke("dismiss", str(second), "--reason", "wrong_moment")
    assert code == 0
    assert "Dismissed" in out
    remaining = json.loads(invoke("queue", "--json")[1])
    assert {first, second}.isdisjoint(d["id"] for d in remaining)


def test_a_bad_config_is_named_not_a_traceback(env: Path) -> None:
    (env / "followup.toml").write_text('[send_window]\ntimezone = "Mars/Base"\n')
    code, _, err = invoke("queue")
    assert code == 2
    assert "followup.toml: 1 problem(s)" in err
    assert "send_window.timezone" in err


def test_demo_prints_the_queue_with_reasons(env: Path) -> None:
    code, out, _ = invoke("demo")
    assert code == 0
    assert "Synced 25 deals" in out
    assert "Review queue:" in out
    assert out.count("Why now:") >= 8
    assert "Nothing was sent." in out
