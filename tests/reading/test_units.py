"""Focused tests of reading/: return dates, vacation subjects, Exchange header quirks,
garbled headers, opt-outs, matching."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from reading import (
    Known,
    ParsedMessage,
    normalize_address,
    normalize_message_id,
    parse_message,
    read,
    understand,
)
from reading.autoreply import is_auto_reply_subject
from reading.dates import extract_return_date
from reading.match import match_message as _match
from reading.quotes import visible_reply_text
from triggers.reading import Match, Reading

SENT = dt.datetime(2024, 6, 5, 9, 30, tzinfo=dt.UTC)  # a Wednesday
NOW = dt.datetime(2024, 6, 5, 10, 0, tzinfo=dt.UTC)


def classify_message(message: bytes | ParsedMessage) -> Reading:
    if isinstance(message, ParsedMessage):
        return understand(message, now=NOW)
    return read(message, now=NOW)


def match_message(
    parsed: ParsedMessage,
    ids: dict[str, str],
    contacts: dict[str, str],
    domains: dict[str, str] | None = None,
    *,
    understanding: Reading | None = None,
) -> Match:
    return _match(parsed, Known.of(ids, contacts, domains), understanding)


def raw(headers: dict[str, str] | list[tuple[str, str]], body: str = "Hello") -> bytes:
    items = headers.items() if isinstance(headers, dict) else headers
    head = "".join(f"{k}: {v}\r\n" for k, v in items)
    return (head + "\r\n" + body).encode("utf-8")


BASE = {
    "From": "Dana Prospect <dana@acme.example>",
    "To": "founder@followup.example",
    "Date": "Wed, 05 Jun 2024 09:30:00 +0000",
    "Message-ID": "<reply-1@acme.example>",
}


# --- return dates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I am out of the office and back on Monday.", "2024-06-10"),
        ("Back on Friday", "2024-06-07"),
        ("I'm away until 15.12.", "2024-12-15"),
        ("Out of office until 15.12.2024", "2024-12-15"),
        ("I will be traveling for work on July 10-31.", "2024-08-01"),
        ("I am returning to the office on June 20th.", "2024-06-20"),
        ("Away until July 3", "2024-07-03"),
        # the last day away is a Friday: the first day back is Monday (issue 15)
        ("I'm on leave from 10 June to 14 June.", "2024-06-17"),
        ("Ich bin bis zum 3. Juli nicht im Büro.", "2024-07-03"),
        ("Ab Montag wieder erreichbar.", "2024-06-10"),
        ("Je serai de retour le 8 juillet.", "2024-07-08"),
        ("Estoy de vacaciones hasta el 12 de julio.", "2024-07-12"),
        ("Sarò fuori ufficio fino al 31 luglio.", "2024-07-31"),
        ("Estou de férias até 10/07.", "2024-07-10"),
        ("Ik ben afwezig tot en met 12 juli.", "2024-07-15"),  # inclusive, a Friday
        ("Back on 2024-06-24", "2024-06-24"),
        ("Back on 7 January.", "2025-01-07"),  # already passed this year: next year
    ],
)
def test_return_date_phrases(text: str, expected: str) -> None:
    found = extract_return_date(text, SENT)
    assert found is not None
    assert found.isoformat() == expected


def test_no_return_date_when_none_is_stated() -> None:
    assert extract_return_date("I am out of the office with limited access to email.", SENT) is None
    assert extract_return_date("", SENT) is None


def test_return_date_from_a_whole_out_of_office() -> None:
    message = raw(
        {**BASE, "Subject": "Abwesenheitsnotiz: Ihr Angebot", "Auto-Submitted": "auto-replied"},
        "Vielen Dank für Ihre Nachricht. Ich bin bis zum 14.06. im Urlaub.\n"
        "In dringenden Fällen wenden Sie sich bitte an max.mustermann@acme.example.",
    )
    result = classify_message(message)
    assert result.kind == "auto_reply"
    assert result.return_date == dt.date(2024, 6, 14)
    assert result.alternate_address == "max.mustermann@acme.example"


# --- vacation subjects --------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        "Automatic reply: Your proposal",  # en
        "Out of Office: Your proposal",
        "OOO until Monday",
        "Auto-Reply: Follow-up",
        "Abwesenheitsnotiz: Ihr Angebot",  # de
        "Automatische Antwort: Ihr Angebot",
        "Réponse automatique : votre proposition",  # fr
        "Absent du bureau",
        "Respuesta automática: su propuesta",  # es
        "Fuera de la oficina",
        "Risposta automatica: la vostra proposta",  # it
        "Fuori ufficio",
        "Resposta automática: a sua proposta",  # pt
        "Fora do escritório",
        "Automatisch antwoord: uw voorstel",  # nl
        "Afwezig: uw voorstel",
        "Автоответ: предложение",  # ru
    ],
)
def test_vacation_subjects(subject: str) -> None:
    assert is_auto_reply_subject(subject)
    assert classify_message(raw({**BASE, "Subject": subject})).kind == "auto_reply"


@pytest.mark.parametrize(
    "subject",
    [
        "Re: Out of office policy for the pilot",  # a person answering in the thread
        "AW: Abwesenheitsnotiz",
        "Re: vacation plans and the proposal",
        "Your proposal",
        "Quick question about pricing",
    ],
)
def test_human_subjects_are_not_vacation(subject: str) -> None:
    assert not is_auto_reply_subject(subject)
    assert classify_message(raw({**BASE, "Subject": subject})).kind == "reply"


# --- Exchange and list quirks -------------------------------------------------------------


def test_x_auto_response_suppress_alone_is_not_an_out_of_office() -> None:
    message = raw({**BASE, "Subject": "Re: Your proposal", "X-Auto-Response-Suppress": "All"})
    assert classify_message(message).kind == "reply"


def test_rules_loop_alone_is_not_an_out_of_office() -> None:
    message = raw(
        {**BASE, "Subject": "Re: Your proposal", "X-MS-Exchange-Inbox-Rules-Loop": "d@acme.example"}
    )
    assert classify_message(message).kind == "reply"


def test_rules_loop_with_suppress_is_an_out_of_office() -> None:
    message = raw(
        {
            **BASE,
            "Subject": "Your proposal",
            "X-Auto-Response-Suppress": "All",
            "X-MS-Exchange-Inbox-Rules-Loop": "dana@acme.example",
        }
    )
    assert classify_message(message).kind == "auto_reply"


def test_precedence_list_alone_is_not_an_out_of_office() -> None:
    message = raw({**BASE, "Subject": "Weekly digest", "Precedence": "list"})
    result = classify_message(message)
    assert result.kind == "reply"
    assert result.bulk


@pytest.mark.parametrize(
    ("name", "value", "auto"),
    [
        ("Auto-Submitted", "auto-replied", True),
        ("Auto-Submitted", "auto-generated", True),
        ("Auto-Submitted", "no", False),
        ("Auto-Submitted", "No", False),
        ("X-Autoreply", "yes", True),
        ("X-Autorespond", "yes", True),
        ("X-Autoreply", "no", False),
        ("Precedence", "auto_reply", True),
    ],
)
def test_auto_reply_headers(name: str, value: str, auto: bool) -> None:
    message = raw({**BASE, "Subject": "Re: Your proposal", name: value})
    assert (classify_message(message).kind == "auto_reply") is auto


DSN = (
    "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.followup.example>\r\n"
    "To: founder@followup.example\r\n"
    "Subject: Delivery Status Notification (Failure)\r\n"
    "Auto-Submitted: auto-replied\r\n"
    "Date: Wed, 05 Jun 2024 09:30:00 +0000\r\n"
    "MIME-Version: 1.0\r\n"
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n'
    "\r\n"
    "--b\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "Your message could not be delivered.\r\n"
    "--b\r\n"
    "Content-Type: message/delivery-status\r\n"
    "\r\n"
    "Reporting-MTA: dns; mx.followup.example\r\n"
    "\r\n"
    "Original-Recipient: rfc822; Dana@Acme.example\r\n"
    "Final-Recipient: rfc822; dana.p@mail.acme.example\r\n"
    "Action: failed\r\n"
    "Status: 5.1.1\r\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <dana.p@mail.acme.example>: User unknown\r\n"
    "--b\r\n"
    "Content-Type: text/rfc822-headers\r\n"
    "\r\n"
    "Message-ID: <sent-42@followup.example>\r\n"
    "To: dana@acme.example\r\n"
    "--b--\r\n"
)


def test_a_dsn_is_a_bounce_not_an_auto_reply() -> None:
    result = classify_message(DSN.encode())
    assert result.kind == "bounce"
    assert list(result.failed_recipients) == ["dana@acme.example"]  # the address we sent to
    assert result.hard_bounce is True
    assert result.bounces[0].status == "5.1.1"
    assert result.bounces[0].final_address == "dana.p@mail.acme.example"


def test_mailbox_full_is_not_hard() -> None:
    text = DSN.replace("Status: 5.1.1", "Status: 5.2.2").replace(
        "550 5.1.1 <dana.p@mail.acme.example>: User unknown", "552 5.2.2 Mailbox full"
    )
    result = classify_message(text.encode())
    assert result.kind == "bounce"
    assert result.hard_bounce is False
    assert result.bounces[0].reason == "mailbox_full"


def test_delayed_is_soft() -> None:
    text = DSN.replace("Action: failed", "Action: delayed").replace(
        "Status: 5.1.1", "Status: 4.4.1"
    )
    text = text.replace(
        "550 5.1.1 <dana.p@mail.acme.example>: User unknown", "connection timed out"
    )
    result = classify_message(text.encode())
    assert result.kind == "bounce"
    assert result.hard_bounce is False
    assert not result.bounces[0].permanent


def _dsn(action: str, status: str, diagnostic: str, mta: str = "mx.followup.example") -> bytes:
    return (
        DSN.replace("Action: failed", f"Action: {action}")
        .replace("Status: 5.1.1", f"Status: {status}")
        .replace("550 5.1.1 <dana.p@mail.acme.example>: User unknown", diagnostic)
        .replace("Reporting-MTA: dns; mx.followup.example", f"Reporting-MTA: dns; {mta}")
        .encode()
    )


UNKNOWN_450 = "450 4.1.1 <dana@acme.example>: Recipient address rejected: User unknown"


@pytest.mark.parametrize(
    ("action", "hard"),
    [
        ("failed", True),  # the queue gave up; the server said the user does not exist
        ("delayed", False),  # still retrying: nothing is final yet
    ],
)
def test_user_unknown_on_4xx_is_hard_once_the_mta_gives_up(action: str, hard: bool) -> None:
    result = classify_message(_dsn(action, "4.1.1", UNKNOWN_450))
    assert result.kind == "bounce"
    assert list(result.failed_recipients) == ["dana@acme.example"]
    assert result.bounces[0].reason == "user_unknown"
    assert result.hard_bounce is hard
    assert result.bounces[0].permanent is hard


@pytest.mark.parametrize(
    ("status", "hard"),
    [
        ("4.0.0", False),  # a DNS answer can heal, and the MTA itself called it temporary
        ("5.1.2", True),
    ],
)
def test_domain_not_found_is_hard_only_on_a_permanent_status(status: str, hard: bool) -> None:
    diagnostic = "DNS Error: lookup of acme.example responded NXDOMAIN Domain name not found"
    result = classify_message(_dsn("failed", status, diagnostic))
    assert result.bounces[0].reason == "host_unknown"
    assert result.hard_bounce is hard


QMAIL_450 = (
    "From: MAILER-DAEMON@mx.followup.example\r\n"
    "To: founder@followup.example\r\n"
    "Subject: failure notice\r\n"
    "Date: Wed, 05 Jun 2024 09:30:00 +0000\r\n"
    "\r\n"
    "Hi. This is the qmail-send program at mx.followup.example.\r\n"
    "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n"
    "{verdict}\r\n"
    "\r\n"
    "<dana@acme.example>:\r\n"
    "Remote host said: 450 4.1.1 <dana@acme.example>: User unknown\r\n"
    "\r\n"
    "--- Below this line is a copy of the message.\r\n"
)


@pytest.mark.parametrize(
    ("verdict", "hard"),
    [
        ("This is a permanent error; I've given up. Sorry it didn't work out.", True),
        ("This is a temporary error; I will keep trying to deliver it.", False),
    ],
)
def test_non_standard_notice_decides_by_giving_up(verdict: str, hard: bool) -> None:
    result = classify_message(QMAIL_450.format(verdict=verdict).encode())
    assert result.kind == "bounce"
    assert list(result.failed_recipients) == ["dana@acme.example"]
    assert result.hard_bounce is hard


@pytest.mark.parametrize(
    ("mta", "hard"),
    [
        ("server-7.bemta-12.messagelabs.com", True),  # MessageLabs' "542 ... Rejected"
        ("mx.followup.example", False),  # elsewhere "542 Rejected" names no reason
    ],
)
def test_provider_rule_applies_to_its_provider_only(mta: str, hard: bool) -> None:
    result = classify_message(_dsn("failed", "5.0.0", "542 dana@acme.example Rejected", mta))
    assert result.kind == "bounce"
    assert (result.bounces[0].reason == "user_unknown") is hard
    assert result.hard_bounce is hard


# --- garbled headers ----------------------------------------------------------------------


def test_crlf_and_control_junk_in_headers_never_escape() -> None:
    message = (
        b"From: =?utf-8?q?Evil=0D=0ABcc=3A_victim=40example=2Ecom?= <evil@bad.example>\r\n"
        b"From: second@bad.example\r\n"
        b"To: founder@followup.example,\r\n\tother@followup.example\r\n"
        b"Subject: =?utf-8?q?hello=0D=0AX-Injected=3A_1?=\r\n"
        b"Subject: duplicate\r\n"
        b"Date: not a date at all\r\n"
        b"Message-ID: <a@b> <c@d>\r\n"
        b"In-Reply-To: garbage without brackets\r\n"
        b"X-Weird:\x00\x01\x7f value\r\n"
        b"Broken header line without colon\r\n"
        b"Content-Type: text/plain; charset=does-not-exist\r\n"
        b"\r\n"
        b"Body \xff\xfe with bad bytes\r\n"
    )
    parsed = parse_message(message)
    for _name, value in parsed.headers:
        assert "\r" not in value
        assert "\n" not in value
        assert "\x00" not in value
    assert "\n" not in parsed.subject
    assert "\r" not in parsed.subject
    assert parsed.from_address == "evil@bad.example"
    assert parsed.date is None
    assert parsed.message_id == "a@b"
    assert parsed.to == ("founder@followup.example", "other@followup.example")
    assert "Body" in parsed.text
    classify_message(parsed)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\r\n\r\n",
        b"no headers at all, just text",
        b"From: \r\nSubject:\r\n\r\n",
        b"Content-Type: multipart/mixed\r\n\r\n--x\r\nno boundary param\r\n--x--\r\n",
        b'Content-Type: multipart/mixed; boundary="zz"\r\n\r\n--zz\r\nContent-Type: text/plain;'
        b" charset=iso-2022-jp\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@not base64@@@\r\n",
        b"Content-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822;\r\nStatus: x\r\n",
        b"Content-Type: text/html\r\n\r\n<p>Hi <b>there</b><script>alert(1)</script>",
        b"\xff\xfe\x00\x00garbage\x00bytes",
        b"From: a@b\r\n" * 5000,
    ],
)
def test_hostile_input_never_raises(data: bytes) -> None:
    parsed = parse_message(data)
    classify_message(parsed)


def test_html_only_body_becomes_text() -> None:
    message = raw(
        {**BASE, "Subject": "Re: proposal", "Content-Type": "text/html; charset=utf-8"},
        "<html><body><p>Sounds good, let's talk Tuesday.</p>"
        "<blockquote><p>Old message</p></blockquote></body></html>",
    )
    result = classify_message(message)
    assert result.visible_text == "Sounds good, let's talk Tuesday."


def test_pathological_long_line_is_fast() -> None:
    body = "Yes, please.\n\nOn Mon, Jun 3, 2024 at 9:00 AM Founder wrote:\n" + ">" * 800_000
    started = time.perf_counter()
    assert visible_reply_text(body) == "Yes, please."
    classify_message(raw({**BASE, "Subject": "Re: x"}, body))
    assert time.perf_counter() - started < 5


# --- opt-outs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Re: Your proposal", "Please remove me from your list."),
        ("Re: Your proposal", "Stop emailing me."),
        ("unsubscribe", ""),
        ("Re: Ihr Angebot", "Bitte entfernen Sie mich aus Ihrem Verteiler. Keine E-Mails mehr."),
        ("Re: votre offre", "Merci de me désabonner."),
        ("Re: su oferta", "Por favor, darme de baja."),
        ("Re: la vostra offerta", "Cancellami dalla lista, grazie."),
        ("Re: a sua oferta", "Por favor, me remova. Não quero receber mais."),
        ("Re: uw voorstel", "Graag afmelden, geen e-mails meer."),
    ],
)
def test_opt_out_requests(subject: str, body: str) -> None:
    assert classify_message(raw({**BASE, "Subject": subject}, body)).kind == "opt_out"


def test_newsletter_footer_and_quoted_footer_are_not_opt_outs() -> None:
    body = (
        "Thanks, Tuesday works.\n\n"
        "On Mon, Jun 3, 2024 at 9:00 AM Founder <founder@followup.example> wrote:\n"
        "> Reply STOP or unsubscribe here: https://example.com/u\n"
    )
    assert classify_message(raw({**BASE, "Subject": "Re: Proposal"}, body)).kind == "reply"
    footer = "Our news.\n\nTo unsubscribe from these mailings, click here."
    assert classify_message(raw({**BASE, "Subject": "News"}, footer)).kind == "reply"


# --- matching -----------------------------------------------------------------------------

KNOWN_IDS = {"<Sent-42@followup.example>": "deal-1", "sent-7@followup.example": "deal-2"}
CONTACTS = {"Dana@Acme.example": "contact-dana"}
DOMAINS = {"acme.example": "company-acme", "gmail.com": "company-wrong"}


def test_match_by_thread_headers_first() -> None:
    message = raw(
        {
            **BASE,
            "From": "stranger@elsewhere.example",
            "Subject": "Re: x",
            "In-Reply-To": "<other@x>",
            "References": "<sent-7@followup.example> <SENT-42@followup.example>",
        }
    )
    match = match_message(parse_message(message), KNOWN_IDS, CONTACTS, DOMAINS)
    assert match == Match(
        kind="thread",
        deal_id="deal-1",
        address="stranger@elsewhere.example",
        message_id="sent-42@followup.example",
    )


def test_match_by_contact_address() -> None:
    match = match_message(parse_message(raw({**BASE, "Subject": "Hi"})), KNOWN_IDS, CONTACTS)
    assert match.kind == "contact"
    assert match.contact_id == "contact-dana"


def test_unknown_sender_at_known_company_is_reported() -> None:
    message = raw({**BASE, "From": "Lee <lee@eu.acme.example>", "Subject": "Hi"})
    match = match_message(parse_message(message), KNOWN_IDS, CONTACTS, DOMAINS)
    assert match.kind == "company_domain"
    assert match.company_id == "company-acme"
    assert match.address == "lee@eu.acme.example"


def test_freemail_domains_never_match_a_company() -> None:
    message = raw({**BASE, "From": "someone@gmail.com", "Subject": "Hi"})
    match = match_message(parse_message(message), KNOWN_IDS, CONTACTS, DOMAINS)
    assert match.kind == "unmatched"


def test_bounce_matches_through_the_returned_original() -> None:
    parsed = parse_message(DSN.encode())
    understanding = classify_message(parsed)
    match = match_message(parsed, KNOWN_IDS, CONTACTS, understanding=understanding)
    assert match.kind == "thread"
    assert match.deal_id == "deal-1"
    by_address = match_message(parsed, {}, CONTACTS, understanding=understanding)
    assert by_address.kind == "contact"
    assert by_address.address == "dana@acme.example"


def test_normalizers() -> None:
    assert normalize_address("Dana <Dana@Acme.Example>") == "dana@acme.example"
    assert normalize_address("mailto:x@y.example") == "x@y.example"
    assert normalize_address("no address") is None
    assert normalize_message_id(" <ABC@host> ") == "abc@host"
    assert normalize_message_id("") is None
