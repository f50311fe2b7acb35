"""SMTP submission and IMAP against real servers on loopback (aiosmtpd, pymap)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from crm.fake import FakeCrm
from flows.cycle import run_cycle
from flows.delivery import deliver_due
from flows.ports import Actor, Policy, Services
from flows.review import approve
from mail.base import (
    HeaderInjectionError,
    OutgoingMessage,
    PermanentMailError,
    SentReceipt,
    TransientMailError,
)
from mail.fake import WorkerDied
from mail.smtp_imap import ImapSettings, SmtpImapMailbox, SmtpSettings, encode_folder
from prompts.drafter import TemplateDrafter
from storage.repos import Store
from tests.factories import NOW, activity, proposal_pipeline
from tests.mailservers import (
    FOUNDER,
    PASSWORD,
    TOKEN,
    Certificate,
    ImapServer,
    SmtpServer,
    free_port,
    imap_server,
    self_signed,
    smtp_server,
)
from triggers.drafts import DraftStatus, OutboxStatus
from triggers.model import ActivityKind

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PROSPECT = "jordan@globex.example"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def imap_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImapServer]:
    with imap_server(tmp_path_factory.mktemp("imap")) as server:
        yield server


@pytest.fixture
def imap(imap_process: ImapServer) -> ImapServer:
    imap_process.reset()  # an empty INBOX and Sent for each test
    return imap_process


@pytest.fixture
def smtp(certificate: Certificate) -> Iterator[SmtpServer]:
    with smtp_server("starttls", certificate) as server:
        yield server


def mailbox_for(
    smtp: SmtpServer,
    imap: ImapServer,
    certificate: Certificate,
    *,
    password: str = PASSWORD,
    oauth: bool = False,
    smtp_login: bool = True,
    cls: type[SmtpImapMailbox] = SmtpImapMailbox,
    **kwargs: object,
) -> SmtpImapMailbox:
    return cls(
        SmtpSettings(
            host=smtp.host,
            port=smtp.port,
            security=smtp.security,  # type: ignore[arg-type]
            username=FOUNDER if smtp_login else None,
            password=None if oauth else password,
            oauth_token=TOKEN if oauth else None,
            timeout=5,
        ),
        ImapSettings(
            host=imap.host,
            port=imap.port,
            security="none",
            username=FOUNDER,
            password=None if oauth else PASSWORD,
            oauth_token=(lambda: TOKEN) if oauth else None,  # a provider of fresh tokens
            timeout=5,
        ),
        ssl_context=certificate.client_context(),
        **kwargs,  # type: ignore[arg-type]
    )


def outgoing(**overrides: object) -> OutgoingMessage:
    values: dict[str, object] = {
        "message_id": "<followup.7.v1@northwind.example>",
        "from_address": FOUNDER,
        "from_name": "Maya Chen",
        "to_address": PROSPECT,
        "to_name": "Jordan Lee",
        "subject": "Re: Proposal: website rebuild",
        "body": "Hi Jordan,\n\nAny questions on the proposal?\n\nMaya\n",
        "in_reply_to": "<proposal-1@northwind.example>",
        "references": ("<intro-1@northwind.example>", "<proposal-1@northwind.example>"),
    }
    return OutgoingMessage(**(values | overrides))  # type: ignore[arg-type]


def parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def reply_from_prospect(message_id: str = "<r1@globex.example>") -> bytes:
    return (
        f"From: Jordan Lee <{PROSPECT}>\r\nTo: Maya Chen <{FOUNDER}>\r\n"
        "Subject: Re: Proposal: website rebuild\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\n"
        f"Message-ID: {message_id}\r\nIn-Reply-To: <proposal-1@northwind.example>\r\n"
        "\r\nLooks good, let's talk Tuesday.\r\n"
    ).encode()


# --- sending ------------------------------------------------------------------------------------


def test_a_follow_up_leaves_in_thread_over_starttls_and_is_filed_in_sent(
    smtp: SmtpServer, imap: ImapServer, certificate: Certificate
) -> None:
    mailbox = mailbox_for(smtp, imap, certificate)
    receipt = mailbox.send(outgoing())
    assert receipt == SentReceipt("<followup.7.v1@northwind.example>")
    [received] = smtp.handler.received
    assert received.mail_from == FOUNDER  # bounces come back to the mailbox followup reads
    assert received.rcpt_tos == [PROSPECT]
    assert received.login == FOUNDER
    message = parsed(received.data)
    assert message["Message-ID"] == "<followup.7.v1@northwind.example>"
    assert message["In-Reply-To"] == "<proposal-1@northwind.example>"
    assert message["References"] == "<intro-1@northwind.example> <proposal-1@northwind.example>"
    assert message["Subject"] == "Re: Proposal: website rebuild"
    assert str(message["To"]) == f"Jordan Lee <{PROSPECT}>"
    [copy] = imap.messages("Sent")
    assert parsed(copy)["Message-ID"] == "<followup.7.v1@northwind.example>"
    assert mailbox.find_sent("<followup.7.v1@northwind.example>") == receipt


def test_a_second_send_of_the_same_message_finds_the_first(
    smtp: SmtpServer, imap: ImapServer, certificate: Certificate
) -> None:
    mailbox = mailbox_for(smtp, imap, certificate)
    first = mailbox.send(outgoing())
    assert mailbox.send(outgoing()) == first
    assert len(smtp.handler.received) == 1
    assert imap.count("Sent") == 1


def test_implicit_tls_with_xoauth2(
    imap: ImapServer, certificate: Certificate, tmp_path: Path
) -> None:
    with smtp_server("tls", certificate) as server:
        mailbox = mailbox_for(server, imap, certificate, oauth=True)
        mailbox.send(outgoing())
        assert server.handler.logins == ["XOAUTH2"]
        assert len(server.handler.received) == 1
        assert mailbox.find_sent(outgoing().message_id) is not None  # IMAP by XOAUTH2 too


def test_plain_smtp_on_loopback_and_no_copy_where_the_provider_files_it(
    imap: ImapServer, certificate: Certificate
) -> None:
    with smtp_server("none", None) as server:
        mailbox = mailbox_for(
            server, imap, certificate, smtp_login=False, save_sent=False, mailbox_address=FOUNDER
        )
        mailbox.send(outgoing(references=(), in_reply_to=None, subject="Website rebuild"))
        message = parsed(server.handler.received[0].data)
        assert message["In-Reply-To"] is None
        assert message["References"] is None
        assert imap.count("Sent") == 0


def test_providers_that_file_sent_mail_themselves_get_no_second_copy() -> None:
    def saves(host: str) -> bool:
        return SmtpImapMailbox(SmtpSettings(host=host), ImapSettings(host="imap")).save_sent

    assert not saves("smtp.gmail.com")
    assert not saves("smtp.office365.com")
    assert saves("mail.example.org")


@pytest.mark.parametrize(
    "overrides",
    [
        {"to_name": "Jordan\r\nBcc: victim@example.org"},
        {"from_name": "Maya\nX-Injected: 1"},
        {"subject": "Hello\r\nBcc: victim@example.org"},
        {"to_address": "jordan@globex.example\r\nRCPT TO:<x@y.z>"},
    ],
)
def test_line_breaks_in_names_and_subjects_are_refused_before_any_connection(
    overrides: dict[str, str],
) -> None:
    closed = free_port()  # nothing listens: any connection attempt would fail differently
    mailbox = SmtpImapMailbox(
        SmtpSettings(host="127.0.0.1", port=closed, security="none"),
        ImapSettings(host="127.0.0.1", port=closed, security="none"),
    )
    with pytest.raises(HeaderInjectionError):
        mailbox.send(outgoing(**overrides))


@pytest.mark.parametrize(
    ("where", "reply", "error"),
    [
        ("rcpt", "450 4.2.1 Mailbox busy, try later", TransientMailError),
        ("rcpt", "550 5.1.1 No such user", PermanentMailError),
        ("data", "451 4.3.0 Local problem", TransientMailError),
        ("data", "554 5.7.1 Message rejected as spam", PermanentMailError),
        ("data", "550 5.4.5 Daily user sending quota exceeded", TransientMailError),
    ],
)
def test_smtp_replies_map_to_transient_or_permanent(
    smtp: SmtpServer,
    imap: ImapServer,
    certificate: Certificate,
    where: str,
    reply: str,
    error: type[Exception],
) -> None:
    if where == "rcpt":
        smtp.handler.rcpt_replies[PROSPECT] = reply
    else:
        smtp.handler.data_replies.append(reply)
    with pytest.raises(error, match=reply.split()[0]):
        mailbox_for(smtp, imap, certificate).send(outgoing())
    assert smtp.handler.received == []
    assert imap.count("Sent") == 0  # nothing filed as sent that did not leave


def test_refused_credentials_are_permanent(
    smtp: SmtpServer, imap: ImapServer, certificate: Certificate
) -> None:
    with pytest.raises(PermanentMailError, match="535"):
        mailbox_for(smtp, imap, certificate, password="wrong").send(outgoing())


def test_an_unreachable_server_is_transient(imap: ImapServer, certificate: Certificate) -> None:
    closed = free_port()
    mailbox = SmtpImapMailbox(
        SmtpSettings(host="127.0.0.1", port=closed, security="starttls", timeout=2),
        ImapSettings(
            host=imap.host, port=imap.port, security="none", username=FOUNDER, password=PASSWORD
        ),
    )
    with pytest.raises(TransientMailError, match="connection"):
        mailbox.send(outgoing())


def test_an_untrusted_certificate_is_permanent(
    smtp: SmtpServer, imap: ImapServer, certificate: Certificate
) -> None:
    mailbox = mailbox_for(smtp, imap, certificate)
    stranger = SmtpImapMailbox(mailbox.smtp, mailbox.imap)  # the system's trust store only
    with pytest.raises(PermanentMailError, match="certificate"):
        stranger.send(outgoing())


def test_imap_refused_login_is_permanent_and_imap_down_is_transient(
    imap: ImapServer,
) -> None:
    wrong = SmtpImapMailbox(
        SmtpSettings(host="127.0.0.1"),
        ImapSettings(
            host=imap.host,
            port=imap.port,
            security="none",
            username=FOUNDER,
            password="wrong",
            timeout=5,
        ),
    )
    with pytest.raises(PermanentMailError, match="login refused"):
        wrong.fetch_since(None)
    down = SmtpImapMailbox(
        SmtpSettings(host="127.0.0.1"),
        ImapSettings(host="127.0.0.1", port=free_port(), security="none", timeout=2),
    )
    with pytest.raises(TransientMailError):
        down.find_sent("<x@y>")


# --- reading ------------------------------------------------------------------------------------


def test_replies_in_inbox_and_hand_sent_mail_are_read_once_with_uid_cursors(
    smtp: SmtpServer, imap: ImapServer, certificate: Certificate
) -> None:
    mailbox = mailbox_for(smtp, imap, certificate)
    imap.deliver(reply_from_prospect())
    by_hand = (
        f"From: Maya Chen <{FOUNDER}>\r\nTo: {PROSPECT}\r\nSubject: Quick note\r\n"
        "Message-ID: <hand-1@northwind.example>\r\n\r\nSent from my laptop.\r\n"
    ).encode()
    imap.deliver(by_hand, "Sent")
    batch = mailbox.fetch_since(None)
    assert [(m.folder, parsed(m.raw)["Message-ID"]) for m in batch.messages] == [
        ("inbox", "<r1@globex.example>"),
        ("sent", "<hand-1@northwind.example>"),
    ]
    assert batch.cursor is not None
    again = mailbox.fetch_since(batch.cursor)
    assert again.messages == ()
    assert again.cursor == batch.cursor
    imap.deliver(reply_from_prospect("<r2@globex.example>"))
    later = mailbox.fetch_since(batch.cursor)
    assert [parsed(m.raw)["Message-ID"] for m in later.messages] == ["<r2@globex.example>"]
    # Nothing was marked read: the founder still sees the replies as new.
    with imap.client() as client:
        client.select("INBOX", readonly=True)
        assert client.uid("SEARCH", "UNSEEN")[1][0].split().__len__() == 2


def test_a_changed_uidvalidity_rereads_the_lookback_window(
    smtp: SmtpServer, imap: ImapServer, certificate: Certificate
) -> None:
    mailbox = mailbox_for(smtp, imap, certificate)
    imap.deliver(reply_from_prospect())
    stale = '{"v":1,"inbox":[1,999],"sent":[1,999]}'
    batch = mailbox.fetch_since(stale)
    assert [m.folder for m in batch.messages] == ["inbox"]
    assert mailbox.fetch_since("not json").messages == batch.messages


def test_reading_is_batched(smtp: SmtpServer, imap: ImapServer, certificate: Certificate) -> None:
    mailbox = mailbox_for(smtp, imap, certificate, batch_size=2)
    for n in range(3):
        imap.deliver(reply_from_prospect(f"<r{n}@globex.example>"))
    first = mailbox.fetch_since(None)
    second = mailbox.fetch_since(first.cursor)
    assert len(first.messages) == 2
    assert len(second.messages) == 1
    assert mailbox.fetch_since(second.cursor).messages == ()


def test_find_sent_matches_the_whole_message_id(
    smtp: SmtpServer, imap: ImapServer, certificate: Certificate
) -> None:
    imap.deliver(
        b"From: x@northwind.example\r\nMessage-ID: <followup.17.v1@northwind.example>\r\n\r\nx\r\n",
        "Sent",
    )
    mailbox = mailbox_for(smtp, imap, certificate)
    assert mailbox.find_sent("<followup.1.v1@northwind.example>") is None
    assert mailbox.find_sent("<followup.17.v1@northwind.example>") is not None
    with pytest.raises(HeaderInjectionError):
        mailbox.find_sent('<a"\r\n@b>')


def test_the_sent_folder_is_found_by_its_special_use_or_name(
    smtp: SmtpServer, imap: ImapServer, certificate: Certificate
) -> None:
    imap.deliver(b"Message-ID: <m1@x>\r\n\r\nx\r\n", "Sent Items")
    mailbox = mailbox_for(smtp, imap, certificate)
    mailbox.imap = ImapSettings(
        host=imap.host,
        port=imap.port,
        security="none",
        username=FOUNDER,
        password=PASSWORD,
        sent_folder="Sent Items",
    )
    assert mailbox.find_sent("<m1@x>") is not None
    assert encode_folder("Éléments envoyés") == "&AMk-l&AOk-ments envoy&AOk-s"
    assert encode_folder("R&D") == "R&-D"


# --- exactly once through the outbox worker -------------------------------------------------------


class DyingMailbox(SmtpImapMailbox):
    """The real mailbox; the worker process dies right after the message left."""

    def send(self, message: OutgoingMessage) -> SentReceipt:
        super().send(message)
        raise WorkerDied


class Silent:
    def publish(self, draft: object, view: object) -> None:
        return None

    def update(self, draft: object, view: object, outcome: str) -> None:
        return None


def services_with(store: Store, mailbox: SmtpImapMailbox) -> Services:
    proposal_mail = activity(
        ActivityKind.EMAIL,
        NOW - timedelta(days=4, minutes=1),
        id="a-proposal-mail",
        subject="Proposal: website rebuild",
        message_id="<proposal-mail-1@northwind.example>",
        to_addresses=(PROSPECT,),
    )
    pipeline = proposal_pipeline(proposal_mail)
    owner = pipeline.owners[0]
    pipeline = replace(pipeline, owners=(replace(owner, email=FOUNDER),))
    return Services(
        store=store,
        crm=FakeCrm(pipeline),
        mailbox=mailbox,
        drafter=TemplateDrafter(),
        review=Silent(),
        policy=Policy(message_id_domain="northwind.example"),
    )


def test_a_crash_after_the_message_left_is_resolved_from_the_sent_folder(
    sqlite_store: Store, smtp: SmtpServer, imap: ImapServer, certificate: Certificate
) -> None:
    real = mailbox_for(smtp, imap, certificate, clock=lambda: MONDAY)
    dying = mailbox_for(smtp, imap, certificate, cls=DyingMailbox, clock=lambda: MONDAY)
    services = services_with(sqlite_store, dying)
    [draft] = run_cycle(services, MONDAY, inbound=False).drafted
    assert approve(services, draft.id, Actor.operator(), MONDAY).ok
    with pytest.raises(WorkerDied):
        deliver_due(services, MONDAY)
    [row] = sqlite_store.outbox.find()
    assert row.status is OutboxStatus.SENDING
    # The restarted worker, with the plain mailbox: IMAP Sent says the message left.
    services.mailbox = real
    report = deliver_due(services, MONDAY + timedelta(minutes=10))
    assert report.recovered == [draft.id]
    assert report.sent == []
    assert len(smtp.handler.received) == 1
    assert sqlite_store.drafts.get(draft.id).status is DraftStatus.SENT  # type: ignore[union-attr]
    sent = parsed(smtp.handler.received[0].data)
    assert sent["Message-ID"] == row.message_id
    assert sent["In-Reply-To"] == "<proposal-mail-1@northwind.example>"
    assert sent["Subject"] == "Re: Proposal: website rebuild"


def test_a_crash_between_claim_and_send_sends_once_after_restart(
    sqlite_store: Store, smtp: SmtpServer, imap: ImapServer, certificate: Certificate
) -> None:
    services = services_with(sqlite_store, mailbox_for(smtp, imap, certificate))
    [draft] = run_cycle(services, MONDAY, inbound=False).drafted
    approve(services, draft.id, Actor.operator(), MONDAY)
    sqlite_store.outbox.claim_due(MONDAY)  # claimed, then the worker died before sending
    report = deliver_due(services, MONDAY + timedelta(minutes=10))
    assert report.sent == [draft.id]
    assert deliver_due(services, MONDAY + timedelta(minutes=20)).sent == []
    assert len(smtp.handler.received) == 1
    assert imap.count("Sent") == 1


# --- wiring -------------------------------------------------------------------------------------


def test_build_mailbox_wires_smtp_imap_from_settings() -> None:
    from app import SetupError, build_mailbox
    from settings import MailProvider, Settings

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        mail_provider=MailProvider.SMTP_IMAP,
        smtp_host="smtp.fastmail.com",
        smtp_security="tls",
        smtp_username=FOUNDER,
        smtp_password=PASSWORD,  # type: ignore[arg-type]
        imap_host="imap.fastmail.com",
        imap_sent_folder="Sent Items",
    )
    mailbox = build_mailbox(settings)
    assert isinstance(mailbox, SmtpImapMailbox)
    assert (mailbox.smtp.port, mailbox.imap.port) == (465, 993)
    assert mailbox.imap.username == FOUNDER
    assert mailbox.imap.password == PASSWORD
    assert mailbox.mailbox_address == FOUNDER
    assert mailbox.save_sent
    assert mailbox.imap.sent_folder == "Sent Items"
    gmail = build_mailbox(
        settings.model_copy(
            update={
                "smtp_host": "smtp.gmail.com",
                "smtp_security": "starttls",
                "smtp_password": None,
                "mail_oauth_token": settings.smtp_password,
            }
        )
    )
    assert isinstance(gmail, SmtpImapMailbox)
    assert gmail.smtp.port == 587
    assert gmail.smtp.oauth_token == PASSWORD
    assert not gmail.save_sent  # Gmail files submitted mail itself
    with pytest.raises(SetupError, match="IMAP_HOST"):
        build_mailbox(settings.model_copy(update={"imap_host": None}))
    with pytest.raises(SetupError, match="SMTP_PASSWORD or MAIL_OAUTH_TOKEN"):
        build_mailbox(settings.model_copy(update={"smtp_password": None}))


# --- the inbox flow over real IMAP --------------------------------------------------------------


def test_a_reply_in_inbox_stops_drafting_and_mail_sent_by_hand_is_a_touch(
    sqlite_store: Store, smtp: SmtpServer, imap: ImapServer, certificate: Certificate
) -> None:
    from flows.inbound import read_inbox
    from triggers.model import Direction

    services = services_with(sqlite_store, mailbox_for(smtp, imap, certificate))
    [draft] = run_cycle(services, MONDAY).drafted  # nothing in the mailbox yet
    imap.deliver(reply_from_prospect().replace(b"10:00:00 +0100", b"10:30:00 +0000"))
    imap.deliver(
        (
            f"From: Maya Chen <{FOUNDER}>\r\nTo: {PROSPECT}\r\nSubject: Re: Proposal\r\n"
            "Date: Mon, 23 Nov 2026 10:45:00 +0000\r\nMessage-ID: <hand-1@northwind.example>\r\n"
            "In-Reply-To: <r1@globex.example>\r\n\r\nGreat, Tuesday 10am works.\r\n"
        ).encode(),
        "Sent",
    )
    report = run_cycle(services, MONDAY + timedelta(hours=2))
    assert report.inbound == 2
    assert sqlite_store.sync_state.get("mail:smtp_imap") is not None
    assert sqlite_store.drafts.get(draft.id).status is DraftStatus.WITHDRAWN  # type: ignore[union-attr]
    found = {
        a.message_id: a.direction
        for a in sqlite_store.pipeline.load().activities
        if a.id.startswith("mail-")
    }
    assert found == {
        "<r1@globex.example>": Direction.IN,
        "<hand-1@northwind.example>": Direction.OUT,
    }
    assert read_inbox(services, MONDAY + timedelta(hours=3)) == 0  # the cursor moved on
