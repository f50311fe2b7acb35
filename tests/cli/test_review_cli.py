"""The review surface without Slack: edit, snooze, pause, resume, deprioritize, queue filters,
and times in the contact's zone and the owner's; each the twin of a Slack action."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli._app import main_app

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("FOLLOWUP_CONFIG", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'followup.db'}")
    monkeypatch.setenv("OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("PIPELINE_FILE", str(REPO / "examples" / "pipeline.json"))
    monkeypatch.setenv("CRM_PROVIDER", "local")
    monkeypatch.setenv("MAIL_PROVIDER", "outbox")
    from cli import core, review  # noqa: F401  (registers the commands)

    assert invoke("db", "upgrade")[0] == 0
    assert invoke("tick")[0] == 0
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main_app, list(args))
    return result.exit_code, result.stdout, result.stderr


def queue() -> list[dict[str, object]]:
    drafts: list[dict[str, object]] = json.loads(invoke("queue", "--json")[1])
    return drafts


def test_edit_with_options_and_with_the_editor(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    draft = queue()[0]
    code, out, _ = invoke("edit", str(draft["id"]), "--subject", "Quick question")
    assert code == 0
    assert f"Saved draft #{draft['id']} (version 2)" in out
    edited = next(d for d in queue() if d["id"] == draft["id"])
    assert edited["subject"] == "Quick question"
    assert edited["body"] == draft["body"]

    editor = env / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/^Subject: .*/Subject: From the editor/' \"$1\"\n")
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("EDITOR", str(editor))
    code, out, _ = invoke("edit", str(draft["id"]))
    assert code == 0, out
    edited = next(d for d in queue() if d["id"] == draft["id"])
    assert edited["subject"] == "From the editor"
    assert edited["version"] == 3
    code, _, err = invoke("edit", str(draft["id"]), "--body", "   ")
    assert code == 1
    assert "must not be empty" in err


def test_snooze_a_draft_then_pause_and_resume_its_deal(env: Path) -> None:
    drafts = queue()
    first = drafts[0]
    code, out, _ = invoke("snooze", str(first["id"]), "3d")
    assert code == 0
    assert "Snoozed until" in out
    assert first["id"] not in [d["id"] for d in queue()]
    code, _, err = invoke("snooze", str(first["id"]), "soon")
    assert code == 2
    assert "'soon' is not a duration" in err

    second = drafts[1]
    deal = str(second["deal_id"])
    code, out, _ = invoke("pause", deal, "for", "2w")
    assert code == 0
    assert "is paused until" in out
    assert second["id"] not in [d["id"] for d in queue()]  # withdrawn with the pause
    code, out, _ = invoke("resume", deal)
    assert code == 0
    assert "is watched again" in out
    code, _, err = invoke("resume", deal)
    assert code == 1
    assert "was not paused" in err
    code, out, _ = invoke("pause", deal, "until", "2099-01-15")
    assert code == 0
    assert "until Thu 15 Jan 2099" in out
    code, _, err = invoke("pause", deal, "until", "someday")
    assert code == 2
    code, _, err = invoke("pause", "no such deal anywhere")
    assert code == 1
    assert "No deal matches" in err


def test_queue_filters_and_one_line_per_draft(env: Path) -> None:
    drafts = queue()
    rule = str(drafts[0]["rule"])
    code, out, _ = invoke("queue", "--rule", rule, "--json")
    assert {d["rule"] for d in json.loads(out)} == {rule}
    code, out, _ = invoke("queue", "--limit", "2", "--short")
    assert code == 0
    assert f"Review queue: 2 of {len(drafts)} draft(s)" in out
    assert len([line for line in out.splitlines() if line.startswith("#")]) == 2
    owners = json.loads((REPO / "examples" / "pipeline.json").read_text())["owners"]
    code, out, _ = invoke("queue", "--owner", owners[0]["id"], "--json")
    mine = json.loads(out)
    code, out, _ = invoke("queue", "--owner", owners[1]["email"], "--json")
    theirs = json.loads(out)
    assert mine
    assert theirs
    assert len(mine) + len(theirs) == len(drafts)


def test_show_and_approve_give_the_contacts_zone_and_the_owners(env: Path) -> None:
    pipeline = json.loads((REPO / "examples" / "pipeline.json").read_text())
    zones = {c["id"]: c.get("timezone") for c in pipeline["contacts"]}
    owner_zones = {o["id"]: o.get("timezone") for o in pipeline["owners"]}
    deals = {d["id"]: d for d in pipeline["deals"]}
    draft = next(
        d
        for d in queue()
        if zones.get(str(d["contact_id"]))
        and zones[str(d["contact_id"])] != owner_zones[deals[str(d["deal_id"])]["owner_id"]]
    )
    contact_zone = zones[str(draft["contact_id"])]
    owner_zone = owner_zones[deals[str(draft["deal_id"])]["owner_id"]]
    code, out, _ = invoke("show", str(draft["id"]))
    arrives = next(line for line in out.splitlines() if line.startswith("Arrives:"))
    assert contact_zone in arrives
    assert f"{owner_zone} for the owner" in arrives
    assert "UTC" in arrives
    code, out, _ = invoke("approve", str(draft["id"]))
    assert code == 0
    if "Approved; arrives" in out:
        assert contact_zone in out
        assert owner_zone in out


def test_why_explains_a_stored_deal_with_its_latest_draft(env: Path) -> None:
    draft = queue()[0]
    code, out, _ = invoke("why", str(draft["deal_id"]))
    assert code == 0
    assert str(draft["rule"]) in out
    assert f"Latest draft: #{draft['id']} (pending)" in out
