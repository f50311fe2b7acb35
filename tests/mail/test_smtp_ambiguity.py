"""When SMTP leaves it unknowable whether a message left (the server took the message and the
connection dropped before its 250), followup never resends on a guess: it looks in the Sent
folder, and when the message is not there it holds it and asks the reviewer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from crm.fake import FakeCrm
from flows.cycle import run_cycle
from flows.delivery import deliver_due
from flows.ports import Actor, Policy, Services
from flows.review import approve, cancel, resend
from mail.base import OutgoingMessage, UnknownDeliveryError
from mail.smtp_imap import ImapSettings, SmtpImapMailbox, SmtpSettings
from prompts.drafter import TemplateDrafter
from storage.repos import Store
from tests.factories import proposal_pipeline
from tests.mailservers import (
    FOUNDER,
    PASSWORD,
    ImapServer,
    SmtpServer,
    imap_server,
    require,
    smtp_server,
)
from triggers.drafts import Draft, DraftStatus, OutboxStatus

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def imap_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImapServer]:
    with imap_server(tmp_path_factory.mktemp("imap")) as server:
        yield server


@pytest.fixture
def imap(imap_process: ImapServer) -> ImapServer:
    imap_process.reset()
    return imap_process


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    require("aiosmtpd")
    with smtp_server("none", None) as server:
        yield server


def mailbox(smtp: SmtpServer, imap: ImapServer, *, save_sent: bool = True) -> SmtpImapMailbox:
    return SmtpImapMailbox(
        SmtpSettings(host=smtp.host, port=smtp.port, security="none", timeout=5),
        ImapSettings(
            host=imap.host,
            port=imap.port,
            security="none",
            username=FOUNDER,
            password=PASSWORD,
            timeout=5,
        ),
        mailbox_address=FOUNDER,
        save_sent=save_sent,
        clock=lambda: MONDAY,
    )


class Review:
    def __init__(self) -> None:
        self.updates: list[tuple[int, str]] = []

    def publish(self, draft: Draft, view: object) -> None:
        return None

    def update(self, draft: Draft, view: object, outcome: str) -> None:
        self.updates.append((draft.id, outcome))


def services_with(store: Store, box: SmtpImapMailbox) -> Services:
    pipeline = proposal_pipeline()
    owner = replace(pipeline.owners[0], email=FOUNDER)
    return Services(
        store=store,
        crm=FakeCrm(replace(pipeline, owners=(owner,))),
        mailbox=box,
        drafter=TemplateDrafter(),
        review=Review(),
        policy=Policy(),
    )


def test_a_dropped_connection_after_data_is_unknown_not_a_retry(
    smtp: SmtpServer, imap: ImapServer
) -> None:
    smtp.handler.drop_after_data = 1
    box = mailbox(smtp, imap)
    message = OutgoingMessage(
        message_id="<abc.def@northwind.example>",
        from_address=FOUNDER,
        from_name="Maya",
        to_address="jordan@globex.example",
        to_name="Jordan",
        subject="Hello",
        body=".a line that starts with a dot\nand another\n",
    )
    with pytest.raises(UnknownDeliveryError):
        box.send(message)
    [received] = smtp.handler.received  # the server has it
    assert b"\n.a line that starts with a dot" in received.data.replace(b"\r\n", b"\n")


def test_an_ambiguous_send_is_held_and_the_reviewer_decides(
    sqlite_store: Store, smtp: SmtpServer, imap: ImapServer
) -> None:
    smtp.handler.drop_after_data = 1
    services = services_with(sqlite_store, mailbox(smtp, imap))
    [draft] = run_cycle(services, MONDAY, inbound=False).drafted
    assert approve(services, draft.id, Actor.operator(), MONDAY).ok
    report = deliver_due(services, MONDAY)
    assert report.sent == []
    [(held, reason)] = report.held
    assert held == draft.id
    assert "may already have been sent" in reason
    [row] = sqlite_store.outbox.find()
    assert row.status is OutboxStatus.HELD
    assert services.review.updates[-1][1].startswith("May already have been sent")  # type: ignore[attr-defined]
    # Later passes do not send it again on their own (the measured bug: 8 of 8 sent twice).
    deliver_due(services, MONDAY + timedelta(minutes=10))
    deliver_due(services, MONDAY + timedelta(hours=2))
    assert len(smtp.handler.received) == 1
    # The reviewer checked their Sent mail and says: don't resend.
    assert cancel(services, draft.id, Actor.operator(), MONDAY + timedelta(hours=3)).ok
    assert sqlite_store.drafts.get(draft.id).status is DraftStatus.WITHDRAWN  # type: ignore[union-attr]
    assert len(smtp.handler.received) == 1


def test_the_reviewer_may_resend_a_held_message(
    sqlite_store: Store, smtp: SmtpServer, imap: ImapServer
) -> None:
    smtp.handler.drop_after_data = 1
    services = services_with(sqlite_store, mailbox(smtp, imap))
    [draft] = run_cycle(services, MONDAY, inbound=False).drafted
    approve(services, draft.id, Actor.operator(), MONDAY)
    deliver_due(services, MONDAY)
    assert resend(services, draft.id, Actor.operator(), MONDAY + timedelta(minutes=5)).ok
    report = deliver_due(services, MONDAY + timedelta(minutes=5))
    assert report.sent == [draft.id]
    assert len(smtp.handler.received) == 2  # the person chose this, knowing
    assert sqlite_store.drafts.get(draft.id).status is DraftStatus.SENT  # type: ignore[union-attr]
    assert imap.count("Sent") == 1


def test_a_held_message_the_provider_filed_in_sent_is_recorded_as_sent(
    sqlite_store: Store, smtp: SmtpServer, imap: ImapServer
) -> None:
    smtp.handler.drop_after_data = 1
    services = services_with(sqlite_store, mailbox(smtp, imap, save_sent=False))
    [draft] = run_cycle(services, MONDAY, inbound=False).drafted
    approve(services, draft.id, Actor.operator(), MONDAY)
    assert deliver_due(services, MONDAY).held
    # The provider files submitted mail in Sent itself, a moment later.
    imap.deliver(smtp.handler.received[0].data, "Sent")
    report = deliver_due(services, MONDAY + timedelta(minutes=1))
    assert report.recovered == [draft.id]
    assert sqlite_store.drafts.get(draft.id).status is DraftStatus.SENT  # type: ignore[union-attr]
    assert len(smtp.handler.received) == 1
