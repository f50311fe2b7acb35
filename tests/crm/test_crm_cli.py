"""`followup crm check` and `followup crm sync [--full]` as a user runs them, against the
loopback HubSpot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli._app import main_app
from tests.crm.account import small_account
from tests.crm.fake_hubspot import TOKEN
from tests.crm.worlds_http import HubSpotWorld


@pytest.fixture
def hubspot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubSpotWorld]:
    world = HubSpotWorld(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "OPENAI_API_KEY", "MAIL_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    with world.running():
        world.load(small_account())
        monkeypatch.setenv("CRM_PROVIDER", "hubspot")
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
        monkeypatch.setenv("HUBSPOT_API_URL", world.api.url)
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'followup.db'}")
        monkeypatch.setenv("OUTBOX_DIR", str(tmp_path / "outbox"))
        (tmp_path / "followup.toml").write_text("")
        monkeypatch.setenv("FOLLOWUP_CONFIG", str(tmp_path / "followup.toml"))
        from cli import core, crm  # noqa: F401  (registers the commands)

        yield world


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main_app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_check_shows_counts_a_sample_and_each_mapping_problem_and_writes_nothing(
    hubspot: HubSpotWorld, tmp_path: Path
) -> None:
    (tmp_path / "followup.toml").write_text(
        '[crm.mapping]\nproposal_stages = ["Contract sent"]\n'
        '[crm.mapping.owners."maya@northwind.studio"]\ntimezone = "America/New_York"\n'
    )
    code, out, err = invoke("crm", "check")
    assert code == 0, err
    assert "Connected to hubspot" in out
    assert "1 owners, 2 contacts, 3 deals (2 open, 1 won)" in out
    assert "Globex website rebuild [Proposal Sent, since 2026-11-03]" in out
    assert (
        "stage 'Proposal Sent' (proposalsent) is not mapped to proposal_sent; add it to "
        "[crm.mapping] proposal_stages"
    ) in out
    assert "no stage is mapped to proposal_sent" in out
    assert "has no Slack id" in out
    assert "has no time zone" not in out  # configured
    assert not (tmp_path / "followup.db").exists()
    writes = [
        r.line
        for r in hubspot.api.requests
        if r.method != "GET" and not r.path.endswith(("/search", "/batch/read"))
    ]
    assert writes == []


def test_check_with_a_revoked_token_is_one_line_with_the_fix(hubspot: HubSpotWorld) -> None:
    hubspot.api.token = "pat-revoked"
    code, out, err = invoke("crm", "check")
    assert code == 1
    assert err.startswith("error: HubSpot refused the credentials (401)")
    assert "HUBSPOT_ACCESS_TOKEN" in err
    assert "Traceback" not in err + out


def test_check_without_a_token_names_the_variables(
    hubspot: HubSpotWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN")
    code, _, err = invoke("crm", "check")
    assert code == 2
    assert "HUBSPOT_ACCESS_TOKEN" in err


def test_sync_then_full_sync_removes_a_deal_the_crm_forgot(hubspot: HubSpotWorld) -> None:
    assert invoke("db", "upgrade")[0] == 0  # a new SQLite store is made by db upgrade
    code, out, err = invoke("crm", "sync")
    assert code == 0, err
    assert "Synced 3 deal(s) from hubspot (3 new or changed)" in out
    code, out, _ = invoke("crm", "sync")
    assert "Synced 0 deal(s)" in out  # incremental: nothing changed
    hubspot.api.objects["deals"].pop("32")  # purged, beyond what an incremental sync sees
    code, out, _ = invoke("crm", "sync", "--full")
    assert code == 0
    assert "Synced 2 deal(s)" in out
    code, out, _ = invoke("export", "pipeline.json")
    exported = Path("pipeline.json").read_text()
    assert '"Initech audit"' not in exported
    assert '"Globex website rebuild"' in exported
