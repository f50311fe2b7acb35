"""`read(raw, *, known, now)`: one reading of each message (issue 15)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from reading import Known, Unreadable, read
from triggers.reading import Intent, OptOut, Reading

NOW = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)


def message(body: str, *, subject: str = "Re: Proposal", headers: str = "") -> bytes:
    return (
        "From: Jordan Lee <jordan@globex.example>\r\nTo: maya@northwind.example\r\n"
        f"Subject: {subject}\r\nDate: Wed, 18 Nov 2026 09:00:00 +0000\r\n"
        "Message-ID: <r1@globex.example>\r\nIn-Reply-To: <p1@northwind.example>\r\n"
        f"{headers}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def test_an_unmistakable_out_of_office_without_a_header_is_an_auto_reply() -> None:
    reading = read(
        message(
            "I am out of the office until Monday 23 November with no access to email. "
            "For urgent matters please contact sam@globex.example.",
            subject="Proposal",
        ),
        now=NOW,
    )
    assert (reading.kind, reading.intent) == ("auto_reply", Intent.OUT_OF_OFFICE)
    assert reading.return_date == date(2026, 11, 23)
    assert reading.alternate_address == "sam@globex.example"


def test_a_person_who_was_out_of_office_last_week_is_a_person() -> None:
    reading = read(
        message("Sorry, I was out of office last week. Can we set up a call on Tuesday?"),
        now=NOW,
    )
    assert reading.kind == "reply"
    assert reading.intent is Intent.MEETING_REQUEST


def test_a_colleagues_name_broken_across_lines_is_read_not_a_crash() -> None:
    """Issue 15: a German out-of-office with the colleague's name over two lines crashed
    `inspect-email` in `_first_name_in`."""
    body = (
        "Ich bin bis 27.11. nicht im Büro. Bitte wenden Sie sich an meine Kollegin Anna\n"
        "Schmidt (anna.schmidt@globex.example)."
    )
    reading = read(message(body, headers="Auto-Submitted: auto-replied\r\n"), now=NOW)
    assert reading.kind == "auto_reply"
    assert reading.alternate_address == "anna.schmidt@globex.example"
    assert reading.referral == "Anna Schmidt <anna.schmidt@globex.example>"


@pytest.mark.parametrize(
    ("body", "kind", "opt_out"),
    [
        ("STOP", "opt_out", OptOut.SURE),
        ("Unsubscribe.", "opt_out", OptOut.SURE),
        ("Bitte nehmen Sie mich aus Ihrem Verteiler.", "opt_out", OptOut.SURE),
        ("Merci de ne plus me contacter.", "opt_out", OptOut.SURE),
        ("Por favor, denme de baja de su lista.", "opt_out", OptOut.SURE),
        # a pause, not an end: a person checks
        (
            "Wir melden uns nächste Woche; bis dahin bitte keine weiteren E-Mails.",
            "reply",
            OptOut.CHECK,
        ),
        ("Honestly, this feels like spam to me.", "reply", OptOut.CHECK),
        ("Sounds good, let's talk Tuesday.", "reply", OptOut.NONE),
        ("Please don't stop sending these, they help.", "reply", OptOut.NONE),
    ],
)
def test_opt_out_is_decided_once(body: str, kind: str, opt_out: OptOut) -> None:
    reading = read(message(body), now=NOW)
    assert (reading.kind, reading.opt_out) == (kind, opt_out)


def test_apples_unsubscribe_button_is_an_opt_out() -> None:
    reading = read(
        message("", headers="X-Apple-Unsubscribe: true\r\nAuto-Submitted: auto-generated\r\n"),
        now=NOW,
    )
    assert (reading.kind, reading.opt_out) == ("opt_out", OptOut.SURE)


def test_known_threads_and_addresses_match() -> None:
    known = Known.of({"<P1@northwind.example>": "d1"}, {"Jordan@Globex.example": "c1"})
    reading = read(message("Thanks!"), known=known, now=NOW)
    assert reading.match is not None
    assert (reading.match.kind, reading.match.deal_id) == ("thread", "d1")


def test_the_reading_survives_its_stored_form() -> None:
    reading = read(
        message("I am out of the office until 24.11.", headers="Auto-Submitted: auto-replied\r\n"),
        known=Known.of({"p1@northwind.example": "d1"}),
        now=NOW,
    )
    assert Reading.from_json(reading.to_json()) == reading


def test_bytes_that_are_no_message_are_unreadable_with_the_reason() -> None:
    with pytest.raises(Unreadable, match="not an e-mail message"):
        read(b"", now=NOW)


def test_a_request_inside_parts_nested_beyond_any_real_mail_is_still_read() -> None:
    """Issue 11, item 14: deep nesting crashed; now the parts are read flat, text kept."""
    body = "".join(
        f"--b{i}\r\nContent-Type: multipart/mixed; boundary=b{i + 1}\r\n\r\n" for i in range(400)
    )
    body += "--b400\r\nContent-Type: text/plain\r\n\r\nPlease remove me from your list.\r\n"
    raw = message(body, headers="MIME-Version: 1.0\r\n").replace(
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n--b0",
        b"Content-Type: multipart/mixed; boundary=b0\r\n\r\n--b0",
        1,
    )
    reading = read(raw, now=NOW)
    assert (reading.kind, reading.visible_text) == ("opt_out", "Please remove me from your list.")
