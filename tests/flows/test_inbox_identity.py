"""Issue 11 item 6: no inbound message is skipped because of its name, its order or when it
arrived. The outbox mailbox's inbox/ folder is read by identity (the store's seen-set), so a
reply whose file name sorts before one already read is still read, and nothing is read twice."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from crm.fake import FakeCrm
from flows.cycle import run_cycle
from flows.delivery import deliver_due
from flows.inbound import read_inbox
from flows.ports import Actor, Policy, Services
from flows.review import approve
from mail.outbox import OutboxMailbox
from prompts.drafter import TemplateDrafter
from storage.repos import Store
from tests.factories import NOW, proposal_pipeline
from tests.flows.test_inbound import JORDAN, MONDAY, RecordingReview, inbox_activities, mail
from triggers.drafts import DraftStatus


def outbox_services(store: Store, directory: Path) -> Services:
    pipeline = proposal_pipeline()
    store.pipeline.sync(pipeline, NOW - timedelta(days=10))
    return Services(
        store=store,
        crm=FakeCrm(pipeline),
        mailbox=OutboxMailbox(directory),
        drafter=TemplateDrafter(),
        review=RecordingReview(),
        policy=Policy(message_id_domain="northwind.example"),
    )


def drop(directory: Path, name: str, raw: bytes) -> None:
    inbox = directory / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / name).write_bytes(raw)


def test_a_reply_named_before_one_already_read_is_still_read(store: Store, tmp_path: Path) -> None:
    services = outbox_services(store, tmp_path)
    drop(tmp_path, "reply-oliver.eml", mail(message_id="<oliver@globex.example>"))
    assert read_inbox(services, MONDAY) == 1
    # "felix" sorts before "reply-oliver": the old cursor (the last name read) skipped it forever.
    drop(tmp_path, "felix.eml", mail(message_id="<felix@globex.example>", body="Yes, go ahead."))
    assert read_inbox(services, MONDAY + timedelta(minutes=5)) == 1
    ids = sorted(a.message_id or "" for a in inbox_activities(store))
    assert ids == ["<felix@globex.example>", "<oliver@globex.example>"]
    # Nothing is handed over twice, and a file rewritten with new content is new mail.
    assert read_inbox(services, MONDAY + timedelta(minutes=10)) == 0
    drop(tmp_path, "felix.eml", mail(message_id="<felix-2@globex.example>", body="Also Friday?"))
    assert read_inbox(services, MONDAY + timedelta(minutes=15)) == 1
    assert "<felix-2@globex.example>" in {a.message_id for a in inbox_activities(store)}


# --- issue 11 item 13: the inbox is read right before a message leaves ------------------------


def test_an_opt_out_sitting_unread_in_the_inbox_stops_the_send(
    store: Store, tmp_path: Path
) -> None:
    services = outbox_services(store, tmp_path)
    [draft] = run_cycle(services, MONDAY).drafted
    assert approve(services, draft.id, Actor.operator("maya"), MONDAY).ok
    # It arrives after the last cycle read the inbox and before the worker sends.
    stop = "Please unsubscribe me, I do not want any more emails.\n"
    drop(tmp_path, "stop.eml", mail(message_id="<stop@globex.example>", body=stop))
    report = deliver_due(services, MONDAY + timedelta(seconds=3))
    assert report.sent == []
    assert not (tmp_path / "sent").exists() or list((tmp_path / "sent").iterdir()) == []
    assert store.suppressions.is_suppressed(JORDAN)
    status = store.drafts.get(draft.id).status  # type: ignore[union-attr]
    assert status in (DraftStatus.WITHDRAWN, DraftStatus.FAILED)


def test_a_reply_sitting_unread_in_the_inbox_stops_the_send(store: Store, tmp_path: Path) -> None:
    services = outbox_services(store, tmp_path)
    [draft] = run_cycle(services, MONDAY).drafted
    assert approve(services, draft.id, Actor.operator("maya"), MONDAY).ok
    drop(tmp_path, "r.eml", mail(message_id="<r@globex.example>", at=MONDAY, body="Yes, call me."))
    assert deliver_due(services, MONDAY + timedelta(seconds=3)).sent == []
    assert store.drafts.get(draft.id).status is not DraftStatus.SENT  # type: ignore[union-attr]
