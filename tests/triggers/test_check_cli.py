"""`followup check` and `followup explain` as a user runs them on a pipeline file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli._app import main_app

PIPELINE: dict[str, Any] = {
    "owners": [
        {"id": "u1", "name": "Maya Chen", "email": "maya@northwind.studio",
         "timezone": "America/New_York"},
    ],
    "contacts": [
        {"id": "c1", "name": "Jordan Lee", "email": "jordan@globex.example",
         "alt_emails": ["j.lee@globex-mail.example"], "timezone": "Europe/Berlin",
         "status": "active"},
        {"id": "c2", "name": "Ana [bold]Ruiz[/bold]", "email": "ana@initech.example",
         "status": "active"},
        {"id": "c3", "name": "Opted Out", "email": "gone@umbrella.example",
         "status": "do_not_contact"},
    ],
    "deals": [
        {"id": "d1", "title": "Globex website rebuild", "contact_ids": ["c1"], "owner_id": "u1",
         "stage": "proposal", "stage_entered_at": "2026-11-10T15:00:00Z", "status": "open"},
        {"id": "d2", "title": "Initech <!channel> portal", "contact_ids": ["c2"],
         "owner_id": "u1", "stage": "negotiation", "stage_entered_at": "2026-11-15T12:00:00Z",
         "status": "open", "quote_expires_at": "2026-11-19T17:00:00-05:00"},
        {"id": "d3", "title": "Umbrella audit", "contact_ids": ["c3"], "owner_id": "u1",
         "stage": "proposal", "stage_entered_at": "2026-11-01T09:00:00Z", "status": "open"},
    ],
    "activities": [
        {"id": "a1", "deal_id": "d1", "contact_id": "c1", "kind": "proposal_sent",
         "at": "2026-11-17T14:00:00Z", "subject": "Proposal: website rebuild"},
        {"id": "a2", "deal_id": "d3", "contact_id": "c3", "kind": "proposal_sent",
         "at": "2026-11-02T14:00:00Z"},
    ],
}  # fmt: skip
AT = "2026-11-21T10:00:00Z"  # a Saturday


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from cli import check  # noqa: F401  (registers the commands)

    monkeypatch.chdir(tmp_path)  # no ./followup.toml: the defaults
    monkeypatch.delenv("FOLLOWUP_CONFIG", raising=False)
    (tmp_path / "pipeline.json").write_text(json.dumps(PIPELINE), encoding="utf-8")
    return tmp_path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main_app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_check_json(files: Path) -> None:
    status, out, _ = run("check", "--pipeline", "pipeline.json", "--at", AT, "--json")
    assert status == 0
    assert json.loads(out) == [
        {
            "deal_id": "d2",
            "contact_id": "c2",
            "rule": "quote_expired",
            "due_at": "2026-11-19T22:00:00Z",
            "send_at": "2026-11-23T14:00:00Z",  # Ana has no zone: the owner's, New York
            "reason": "Quote expired Thu 19 Nov, no word from them since",
        },
        {
            "deal_id": "d1",
            "contact_id": "c1",
            "rule": "proposal_no_reply",
            "due_at": "2026-11-20T14:00:00Z",
            "send_at": "2026-11-23T08:00:00Z",
            "reason": "Proposal sent Tue 17 Nov, no reply in 3 days",
        },
    ]


def test_check_table(files: Path) -> None:
    status, out, _ = run("check", "--pipeline", "pipeline.json", "--at", AT)
    assert status == 0
    assert "2 deals due as of Sat 21 Nov 2026 10:00 UTC:" in out
    flat = " ".join(out.split())
    assert "proposal_no_reply" in out
    assert "quote_expired" in out
    assert "[bold]" in out  # a contact's name is shown as written, never as markup
    assert "Globex" in flat


def test_check_nothing_due_still_exits_zero(files: Path) -> None:
    status, out, _ = run("check", "--pipeline", "pipeline.json", "--at", "2026-11-18T10:00:00Z")
    assert (status, out.strip()) == (0, "Nothing due as of Wed 18 Nov 2026 10:00 UTC.")
    status, out, _ = run(
        "check", "--pipeline", "pipeline.json", "--at", "2026-11-18T10:00:00Z", "--json"
    )
    assert (status, json.loads(out)) == (0, [])


def test_at_accepts_offsets(files: Path) -> None:
    status, out, _ = run(
        "check", "--pipeline", "pipeline.json", "--at", "2026-11-20T09:00:00-05:00", "--json"
    )
    assert status == 0
    assert [row["deal_id"] for row in json.loads(out)] == ["d2", "d1"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--at", "2026-11-21T10:00:00"), "has no offset"),
        (("--at", "next friday"), "is not an ISO 8601 time"),
        (("--config", "missing.toml"), "missing.toml"),
    ],
)
def test_unusable_input_exits_2(files: Path, args: tuple[str, ...], message: str) -> None:
    status, _, err = run("check", "--pipeline", "pipeline.json", *args)
    assert status == 2
    assert message in err


def test_missing_pipeline_file_exits_2(files: Path) -> None:
    status, _, err = run("check", "--pipeline", "nope.json", "--at", AT)
    assert status == 2
    assert "nope.json" in err


def test_malformed_records_are_reported_and_skipped(files: Path) -> None:
    broken = json.loads(json.dumps(PIPELINE))
    broken["activities"].append({"id": "a9", "deal_id": "d1", "kind": "email", "at": "soon"})
    (files / "broken.json").write_text(json.dumps(broken), encoding="utf-8")
    status, out, err = run("check", "--pipeline", "broken.json", "--at", AT, "--json")
    assert status == 3
    assert len(json.loads(out)) == 2  # the rest is evaluated
    assert "a9" in err


def test_config_file_changes_the_rules(files: Path) -> None:
    (files / "rules.toml").write_text(
        '[rules.proposal_no_reply]\nafter = "5d"\n[rules.quote_expired]\nafter = "0h"\n'
        "enabled = false\n",
        encoding="utf-8",
    )
    status, out, _ = run(
        "check", "--pipeline", "pipeline.json", "--at", AT, "--json", "--config", "rules.toml"
    )
    assert status == 0
    assert json.loads(out) == []


def test_explain(files: Path) -> None:
    status, out, _ = run("explain", "d1", "--pipeline", "pipeline.json", "--at", AT)
    assert status == 0
    flat = " ".join(out.split())
    assert "d1 Globex website rebuild as of Sat 21 Nov 2026 10:00 UTC; dates in Europe/Berlin" in (
        flat
    )
    for rule in ("quote_expired", "call_no_next_step", "proposal_no_reply", "stage_stale"):
        assert rule in out
    assert "No quote expiry date" in flat
    assert "Due: proposal_no_reply for c1: Proposal sent Tue 17 Nov, no reply in 3 days." in flat
    assert "Send at Mon 23 Nov 2026 09:00 CET (08:00 UTC)." in flat


def test_explain_says_why_nothing_is_due(files: Path) -> None:
    status, out, _ = run("explain", "d3", "--pipeline", "pipeline.json", "--at", AT)
    assert status == 0
    flat = " ".join(out.split())
    assert "stop: No contact can be written to: Opted Out (c3) status is do_not_contact" in flat
    assert "Nothing due" in flat


def test_explain_unknown_deal_exits_1(files: Path) -> None:
    status, _, err = run("explain", "d9", "--pipeline", "pipeline.json", "--at", AT)
    assert status == 1
    assert "no deal 'd9'" in err
