"""Issue 11 item 14: bad input is a reported problem, never a traceback. Deep nesting and dates
at the calendar's edge in `check` and `import`; strings the store cannot hold (a NUL, a title
longer than its column) on SQLite and PostgreSQL alike, in `import` and in a CRM sync."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import cli.check
import cli.core  # noqa: F401
from cli._app import main_app
from crm.base import PipelineFormatError
from crm.fake import FakeCrm
from crm.local import load_pipeline_text
from flows.cycle import run_cycle
from flows.ports import Policy, Services
from mail.fake import FakeMailbox
from prompts.drafter import TemplateDrafter
from storage.repos import Store
from tests.crm.test_local import VALID
from tests.factories import NOW, proposal_pipeline
from tests.flows.test_inbound import RecordingReview


def with_field(collection: str, field: str, value: Any) -> dict[str, Any]:
    document = copy.deepcopy(VALID)
    document[collection][0][field] = value
    return document


@pytest.mark.parametrize(
    "text",
    [
        '{"owners": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "owners: " + "[" * 100_000 + "]" * 100_000,
    ],
    ids=["json", "yaml"],
)
def test_a_deeply_nested_document_is_one_clear_error(text: str) -> None:
    with pytest.raises(PipelineFormatError, match="nested too deeply"):
        load_pipeline_text(text, source="deep.json" if text.startswith("{") else "deep.yaml")


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1066-10-14T09:00:00Z"]
)
def test_a_date_at_the_calendars_edge_is_a_reported_problem(moment: str) -> None:
    document = with_field("deals", "stage_entered_at", moment)
    result = load_pipeline_text(json.dumps(document), source="p.json")
    [problem, *_] = result.errors
    assert (problem.collection, problem.field) == ("deals", "stage_entered_at")
    assert "1900 to 8999" in problem.problem
    assert [d.id for d in result.pipeline.deals] == []


@pytest.mark.parametrize("reference", ["0001-01-01T00:00:00Z", "9999-12-31T00:00:00Z"])
def test_a_relative_to_at_the_calendars_edge_is_one_clear_error(reference: str) -> None:
    from datetime import UTC, datetime

    with pytest.raises(PipelineFormatError, match="relative_to"):
        load_pipeline_text(
            json.dumps(VALID | {"relative_to": reference}),
            source="p.json",
            shift_to=datetime(2026, 11, 20, tzinfo=UTC),
        )


def test_check_and_import_say_what_is_wrong_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'f.db'}")
    monkeypatch.delenv("FOLLOWUP_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    deep = tmp_path / "deep.json"
    deep.write_text('{"deals": ' + "[" * 100_000 + "]" * 100_000 + "}")
    edge = tmp_path / "edge.json"
    edge.write_text(
        json.dumps(with_field("deals", "stage_entered_at", "0001-01-01T00:00:00+14:00"))
    )
    runner = CliRunner()
    for args, code in (
        (["check", "--pipeline", str(deep), "--at", "2026-11-20T15:00:00Z"], 2),
        (["import", str(deep)], 2),
        (["check", "--pipeline", str(edge), "--at", "2026-11-20T15:00:00Z"], 3),
        (["import", str(edge)], 3),
    ):
        result = runner.invoke(main_app, args)
        assert result.exception is None or isinstance(result.exception, SystemExit), args
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stdout + result.stderr


def test_import_reports_a_title_longer_than_its_column_and_stores_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'f.db'}")
    monkeypatch.delenv("FOLLOWUP_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "long.json"
    document = copy.deepcopy(VALID)
    second = copy.deepcopy(document["deals"][0]) | {"id": "d2", "title": "x" * 600}
    document["deals"].append(second)
    path.write_text(json.dumps(document))
    result = CliRunner().invoke(main_app, ["import", str(path)])
    assert result.exit_code == 3, result.stderr
    assert "deals[d2].title: is 600 characters long; at most 512 can be stored" in result.stderr
    assert "1 deals" in result.stdout


def sync_services(store: Store, crm: FakeCrm) -> Services:
    return Services(
        store=store,
        crm=crm,
        mailbox=FakeMailbox(),
        drafter=TemplateDrafter(),
        review=RecordingReview(),
        policy=Policy(message_id_domain="northwind.example"),
    )


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("title", "x" * 600, "at most 512"),
        ("title", "Globex\x00rebuild", "NUL"),
        ("stage", "s" * 200, "at most 128"),
        ("extra", {"score": float("nan")}, "NaN"),
    ],
)
def test_a_record_the_store_cannot_hold_is_reported_in_every_sync_and_the_cycle_goes_on(
    store: Store, field: str, value: Any, says: str
) -> None:
    from dataclasses import replace

    good = proposal_pipeline()
    changes: dict[str, Any] = {field: value}
    bad_deal = replace(good.deals[0], id="d-bad", **changes)
    pipeline = replace(good, deals=(*good.deals, bad_deal))
    services = sync_services(store, FakeCrm(pipeline))
    for hours in (0, 1):  # the same record in the next sync does not stop that cycle either
        report = run_cycle(services, NOW + timedelta(hours=hours))
        assert report.sync_failed is None
        [problem] = report.sync_problems
        assert (problem.collection, problem.record_id, problem.field) == ("deals", "d-bad", field)
        assert says in problem.problem
        assert [d.id for d in store.pipeline.load().deals] == ["d1"]
    assert len(store.drafts.find()) == 1  # the good deal was evaluated and drafted
