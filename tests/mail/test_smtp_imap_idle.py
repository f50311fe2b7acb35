"""IMAP IDLE against the real IMAP server on loopback (pymap, which offers IDLE)."""

from __future__ import annotations

import imaplib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mail.base import TransientMailError
from mail.smtp_imap import ImapSettings, SmtpImapMailbox, SmtpSettings, idle_loop
from tests.mailservers import FOUNDER, PASSWORD, ImapServer, free_port, imap_server


@pytest.fixture(scope="module")
def imap_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImapServer]:
    with imap_server(tmp_path_factory.mktemp("imap-idle")) as server:
        yield server


@pytest.fixture
def imap(imap_process: ImapServer) -> ImapServer:
    imap_process.reset()
    return imap_process


def mailbox_for(imap: ImapServer, *, port: int | None = None) -> SmtpImapMailbox:
    return SmtpImapMailbox(
        SmtpSettings(host="127.0.0.1", port=free_port(), security="none"),  # never used here
        ImapSettings(
            host=imap.host,
            port=port or imap.port,
            security="none",
            username=FOUNDER,
            password=PASSWORD,
            timeout=5,
        ),
    )


def message(number: int) -> bytes:
    return (
        f"From: Jordan Lee <jordan@globex.example>\r\nTo: {FOUNDER}\r\n"
        f"Subject: Re: Proposal {number}\r\nMessage-ID: <idle-{number}@globex.example>\r\n"
        "\r\nLooks good.\r\n"
    ).encode()


def deliver_later(imap: ImapServer, delay: float, number: int = 1) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        imap.deliver(message(number))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_idle_signals_mail_appended_while_waiting(imap: ImapServer) -> None:
    mailbox = mailbox_for(imap)
    imap.deliver(message(0))  # mail already there is not news
    delivery = deliver_later(imap, 1.0)
    started = time.monotonic()
    assert mailbox.wait_for_mail(10) is True
    elapsed = time.monotonic() - started
    delivery.join(5)
    assert mailbox.idle_supported is True
    # Only IDLE can have said so: the message came a second after the wait began.
    assert 0.9 <= elapsed < 3.0


def test_idle_times_out_and_catches_mail_between_waits(imap: ImapServer) -> None:
    mailbox = mailbox_for(imap)
    started = time.monotonic()
    assert mailbox.wait_for_mail(1.0) is False
    assert 0.9 <= time.monotonic() - started < 3.0

    imap.deliver(message(1))  # while nobody waits
    started = time.monotonic()
    assert mailbox.wait_for_mail(10) is True
    assert time.monotonic() - started < 2.0
    assert mailbox.wait_for_mail(0.5) is False  # signalled once, not again


def test_stop_event_ends_a_long_wait(imap: ImapServer) -> None:
    mailbox = mailbox_for(imap)
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    assert mailbox.wait_for_mail(600, stop=stop) is False
    assert time.monotonic() - started < 3.0


def test_idle_loop_calls_back_once_per_arrival_and_stops(imap: ImapServer) -> None:
    mailbox = mailbox_for(imap)
    assert mailbox.wait_for_mail(0.1) is False  # a baseline: later arrivals are all news
    calls: list[float] = []
    called = threading.Condition()

    def on_mail() -> None:
        with called:
            calls.append(time.monotonic())
            called.notify_all()

    stop = threading.Event()
    loop = threading.Thread(target=idle_loop, args=(mailbox, on_mail, stop), daemon=True)
    loop.start()
    try:
        for number in (1, 2):
            imap.deliver(message(number))
            with called:
                assert called.wait_for(lambda: len(calls) >= number, timeout=5)  # noqa: B023
        time.sleep(0.5)  # no late, duplicate call
        assert len(calls) == 2
    finally:
        stop.set()
        loop.join(3)
    assert not loop.is_alive()
    assert len(calls) == 2


def test_without_idle_the_wait_returns_at_once_and_the_loop_ends(
    imap: ImapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imaplib.IMAP4, "capability", lambda self: ("OK", [b"IMAP4rev1"]))
    mailbox = mailbox_for(imap)
    started = time.monotonic()
    assert mailbox.wait_for_mail(30) is False
    assert mailbox.idle_supported is False
    loop = threading.Thread(
        target=idle_loop, args=(mailbox, lambda: None, threading.Event()), daemon=True
    )
    loop.start()
    loop.join(3)
    assert not loop.is_alive()
    assert time.monotonic() - started < 2.0


def test_connection_problems_are_transient_and_the_loop_backs_off(imap: ImapServer) -> None:
    mailbox = mailbox_for(imap, port=free_port())  # nothing listens there
    with pytest.raises(TransientMailError):
        mailbox.wait_for_mail(1)

    stop = threading.Event()
    attempts: list[float] = []
    original = mailbox.wait_for_mail

    def counting(timeout: float, *, stop: threading.Event | None = None) -> bool:
        attempts.append(time.monotonic())
        return original(timeout, stop=stop)

    mailbox.wait_for_mail = counting  # type: ignore[method-assign]
    loop = threading.Thread(
        target=idle_loop, args=(mailbox, lambda: None, stop), kwargs={"backoff": 30}, daemon=True
    )
    loop.start()
    time.sleep(0.5)
    stop.set()  # ends the back-off pause at once
    loop.join(3)
    assert not loop.is_alive()
    assert len(attempts) == 1


def test_the_service_wakes_its_cycle_when_mail_arrives(imap: ImapServer, tmp_path: Path) -> None:
    from app import watch_inbox
    from mail.outbox import OutboxMailbox

    assert watch_inbox(OutboxMailbox(tmp_path), lambda: None) is None  # a folder: polling only
    mailbox = mailbox_for(imap)
    assert mailbox.wait_for_mail(0.1) is False
    woke = threading.Event()
    stop = watch_inbox(mailbox, woke.set)
    assert stop is not None
    try:
        imap.deliver(message(1))
        assert woke.wait(5)
    finally:
        stop.set()
