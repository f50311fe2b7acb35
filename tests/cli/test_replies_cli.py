"""`followup tick` says what the inbox held; `followup handoffs` lists the replies routed to
people until `followup handoffs done ID`; `followup optout` and `followup suppress --lift`
(issue 11 items 7 and 9)."""

from __future__ import annotations

from email.utils import format_datetime, make_msgid
from pathlib import Path

import cli.replies  # noqa: F401  (registers the commands)
from tests.cli.test_cadence_cli import env, invoke  # noqa: F401

OLIVER = "oliver.grant@kestrel-brokers.example"


def drop_reply(directory: Path, body: str, name: str = "reply.eml") -> None:
    from datetime import UTC, datetime

    inbox = directory / "outbox" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    raw = (
        f"From: Oliver Grant <{OLIVER}>\r\nTo: Jonas <jonas@fernhill-studio.example>\r\n"
        f"Subject: Re: the data audit\r\nDate: {format_datetime(datetime.now(UTC))}\r\n"
        f"Message-ID: {make_msgid(domain='kestrel-brokers.example')}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body
    )
    (inbox / name).write_bytes(raw.encode())


def test_tick_says_what_the_inbox_held_and_handoffs_lists_it_until_done(env: Path) -> None:  # noqa: F811
    drop_reply(env, "Thanks Jonas, this looks good. Can we start in January?\r\n")
    code, out, err = invoke("tick")
    assert code == 0, err
    assert "Inbox: 1 new message(s)" in out
    assert f"reply from {OLIVER}: " in out
    assert "handed to" in out
    code, out, err = invoke("handoffs")
    assert code == 0, err
    first = out.splitlines()[0]
    assert first.startswith("#1  ")
    assert "Oliver Grant" in first
    assert "followup handoffs done 1" in out
    code, out, err = invoke("handoffs", "done", "1", "--action", "replied")
    assert (code, out.strip()) == (0, "Handoff #1 marked replied."), err
    assert invoke("handoffs")[1].strip() == "No replies waiting for a person."
    assert "done (replied by cli:maya)" in invoke("handoffs", "--all")[1]
    code, _, err = invoke("handoffs", "done", "99")
    assert (code, err.strip()) == (1, "There is no handoff #99.")


def test_optout_from_the_cli_can_be_lifted_a_prospects_own_cannot(env: Path) -> None:  # noqa: F811
    code, out, err = invoke("optout", OLIVER)
    assert code == 0, err
    assert "will not be written to again" in out
    assert f"{OLIVER}  opt out via cli" in invoke("suppress")[1]
    code, out, err = invoke("suppress", "--lift", OLIVER)
    assert code == 0, err
    assert "may be written to again" in out
    assert invoke("suppress")[1].strip() == "Nothing is suppressed."
    # the prospect's own opt-out, read from the inbox, stays
    drop_reply(env, "Please unsubscribe me from these emails.\r\n", name="stop.eml")
    assert invoke("tick")[0] == 0
    assert f"{OLIVER}  opt out via inbox" in invoke("suppress")[1]
    code, _, err = invoke("suppress", "--lift", OLIVER)
    assert code == 1
    assert "stays suppressed: opt out from inbox" in err
