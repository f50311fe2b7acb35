"""The local pipeline file: the valid rest loads, each broken record is reported precisely."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crm.base import PipelineFormatError
from crm.local import dump_pipeline, load_pipeline_file, load_pipeline_text
from triggers.model import ActivityKind, ContactStatus, DealStatus, Direction

REPO = Path(__file__).resolve().parents[2]

VALID: dict[str, Any] = {
    "owners": [
        {
            "id": "u1",
            "name": "Maya Chen",
            "email": "maya@northwind.studio",
            "slack_user_id": "U01MAYA",
            "timezone": "America/New_York",
        }
    ],
    "contacts": [
        {
            "id": "c1",
            "name": "Jordan Lee",
            "email": "jordan@globex.example",
            "alt_emails": ["j.lee@globex-mail.example"],
            "company": "Globex",
            "timezone": "Europe/Berlin",
            "status": "active",
            "linkedin": "jlee",
        }
    ],
    "deals": [
        {
            "id": "d1",
            "title": "Globex website rebuild",
            "contact_ids": ["c1"],
            "owner_id": "u1",
            "stage": "proposal",
            "stage_entered_at": "2026-11-10T15:00:00Z",
            "status": "open",
            "source": "outbound",
            "quote_expires_at": None,
            "value": 18000,
            "currency": "USD",
        }
    ],
    "activities": [
        {
            "id": "a1",
            "deal_id": "d1",
            "contact_id": "c1",
            "kind": "proposal_sent",
            "at": "2026-11-17T14:00:00Z",
            "subject": "Proposal: website rebuild",
        },
        {
            "id": "a2",
            "deal_id": "d1",
            "contact_id": "c1",
            "kind": "email",
            "direction": "in",
            "at": "2026-11-18T08:12:00+01:00",
            "subject": "Re: Proposal: website rebuild",
            "body": "Thanks, we will review it internally.",
            "from": "jordan@globex.example",
        },
    ],
}


def test_the_spec_example_loads_into_the_domain_model() -> None:
    result = load_pipeline_text(json.dumps(VALID), source="pipeline.json")
    assert result.errors == ()
    pipeline = result.pipeline
    contact = pipeline.contacts[0]
    assert contact.addresses == ("jordan@globex.example", "j.lee@globex-mail.example")
    assert contact.status is ContactStatus.ACTIVE
    assert contact.extra == {"linkedin": "jlee"}
    assert pipeline.deals[0].status is DealStatus.OPEN
    reply = pipeline.activities[1]
    assert (reply.kind, reply.direction, reply.from_address) == (
        ActivityKind.EMAIL,
        Direction.IN,
        "jordan@globex.example",
    )
    assert reply.at == datetime(2026, 11, 18, 7, 12, tzinfo=UTC)


def test_yaml_is_read_too(tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(VALID))
    assert len(load_pipeline_file(path).pipeline.activities) == 2


def test_three_broken_records_are_reported_and_the_rest_loads() -> None:
    broken = json.loads(json.dumps(VALID))
    broken["contacts"].append({"id": "c2", "email": "no-name@x.example"})
    broken["deals"].append(
        {**VALID["deals"][0], "id": "d2", "stage_entered_at": "2026-11-10T15:00:00"}
    )
    broken["activities"].append(
        {"id": "a3", "deal_id": "d1", "kind": "telegram", "at": "2026-11-18T08:12:00Z"}
    )
    result = load_pipeline_text(json.dumps(broken), source="pipeline.json")
    assert [str(p) for p in result.errors] == [
        "pipeline.json: contacts[c2].name: required",
        "pipeline.json: deals[d2].stage_entered_at: a time needs an offset, e.g. 2026-11-20T09:30:00-05:00 or ...Z",
        "pipeline.json: activities[a3].kind: Input should be 'email', 'call', 'meeting', 'proposal_sent', 'quote_sent', 'note' or 'task'",
    ]
    assert [d.id for d in result.pipeline.deals] == ["d1"]
    assert len(result.pipeline.activities) == 2


def test_dangling_references_are_reported() -> None:
    broken = json.loads(json.dumps(VALID))
    broken["deals"][0]["owner_id"] = "u9"
    result = load_pipeline_text(json.dumps(broken), source="p.json")
    assert str(result.errors[0]) == "p.json: deals[d1].owner_id: unknown owner 'u9'"
    # The deal's activities cannot stand alone either.
    assert {p.record_id for p in result.errors} == {"d1", "a1", "a2"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON (line 1, column 2"),
        ("[1, 2]", "a pipeline is an object"),
    ],
)
def test_an_unusable_file_is_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(PipelineFormatError, match=message.replace("(", r"\(")):
        load_pipeline_text(text, source="p.json")


def test_a_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PipelineFormatError, match="no such file"):
        load_pipeline_file(tmp_path / "nope.json")


def test_relative_to_shifts_by_whole_days() -> None:
    document = {**VALID, "relative_to": "2026-11-20T15:00:00Z"}
    later = datetime(2027, 3, 3, 18, 30, tzinfo=UTC)
    result = load_pipeline_text(json.dumps(document), shift_to=later)
    shift = result.pipeline.activities[0].at - datetime(2026, 11, 17, 14, tzinfo=UTC)
    assert shift % timedelta(days=1) == timedelta(0)
    assert (
        timedelta(0) <= later - (datetime(2026, 11, 20, 15, tzinfo=UTC) + shift) < timedelta(days=1)
    )


def test_export_then_import_is_lossless() -> None:
    pipeline = load_pipeline_text(json.dumps(VALID)).pipeline
    again = load_pipeline_text(json.dumps(dump_pipeline(pipeline))).pipeline
    assert again == pipeline


def test_the_sample_pipeline_is_valid() -> None:
    result = load_pipeline_file(REPO / "examples" / "pipeline.json")
    assert result.errors == ()
    pipeline = result.pipeline
    assert len(pipeline.deals) >= 20
    assert len({o.timezone for o in pipeline.owners}) == 2
    assert any(c.status is ContactStatus.DO_NOT_CONTACT for c in pipeline.contacts)
    assert any(d.status is DealStatus.PARKED for d in pipeline.deals)


def test_an_unchanged_file_is_not_read_again(tmp_path: Path) -> None:
    from crm.local import LocalCrm

    path = tmp_path / "pipeline.json"
    path.write_bytes((REPO / "examples" / "pipeline.json").read_bytes())
    crm = LocalCrm(path)
    now = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    first = crm.fetch(now)
    assert first.snapshot
    assert first.pipeline.deals
    assert first.cursor is not None
    # same file, same day: an empty change set, nothing deleted
    again = crm.fetch(now + timedelta(hours=1), first.cursor)
    assert not again.snapshot
    assert again.pipeline.deals == ()
    assert again.cursor == first.cursor
    # a day later the sample's times shift: the file is read again
    assert crm.fetch(now + timedelta(days=1), first.cursor).snapshot
    # an edited file is read again
    document = json.loads(path.read_text(encoding="utf-8"))
    document["deals"] = document["deals"][:3]
    path.write_text(json.dumps(document), encoding="utf-8")
    edited = crm.fetch(now + timedelta(hours=2), first.cursor)
    assert edited.snapshot
    assert len(edited.pipeline.deals) == 3


def test_a_json_file_is_read_record_by_record_in_any_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm import local

    sample = json.loads((REPO / "examples" / "pipeline.json").read_text(encoding="utf-8"))
    # collections in reverse order, relative_to last, records split across tiny chunks
    reordered = {k: sample[k] for k in ("activities", "deals", "contacts", "owners")}
    reordered["relative_to"] = sample.get("relative_to", "2026-11-20T15:00:00Z")
    text = json.dumps(reordered, indent=1)
    path = tmp_path / "pipeline.json"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(local._JsonStream, "CHUNK", 7)
    now = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    streamed = load_pipeline_file(path, shift_to=now)
    whole = load_pipeline_text(text, source=str(path), shift_to=now)
    assert streamed.pipeline == whole.pipeline
    assert streamed.errors == whole.errors
    assert streamed.pipeline.activities[0].at == whole.pipeline.activities[0].at
    # broken JSON is still worded as before, from the whole text
    path.write_text(text[:-40], encoding="utf-8")
    with pytest.raises(PipelineFormatError, match="not valid JSON"):
        load_pipeline_file(path)
