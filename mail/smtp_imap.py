"""The founder's own mailbox over SMTP submission and IMAP.

Sending: SMTP submission with STARTTLS (port 587) or implicit TLS (465), password or XOAUTH2
login. A copy goes to the Sent folder by IMAP APPEND unless the provider files submitted mail
there itself (Gmail, Microsoft 365). Before any submission the Sent folder is searched for the
message's deterministic Message-ID, so a retry after an ambiguous failure (the connection
dropped after DATA) never sends twice.

Reading: INBOX and the Sent folder are polled with UID cursors (one per folder, tied to the
folder's UIDVALIDITY); messages are fetched with BODY.PEEK, so nothing is marked read. The first
read, and a read after a UIDVALIDITY change, look back `lookback` days by INTERNALDATE.

Waiting: where the server offers IDLE (RFC 2177), `wait_for_mail` holds one IDLE on INBOX for a
bounded time and says whether new mail was signalled; `idle_loop` runs that in a thread and
calls back on each arrival. Polling stays the source of truth; IDLE only makes it prompt.

Errors: connection problems, timeouts and 4xx replies are `TransientMailError`; 5xx replies,
refused credentials and unusable configuration are `PermanentMailError`.

One connection per call: a long-running service never holds a stale session.
"""

from __future__ import annotations

import base64
import imaplib
import io
import json
import logging
import re
import select
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from itertools import count
from typing import Literal, cast

from mail._compose import compose
from mail.base import (
    HeaderInjectionError,
    InboundBatch,
    InboundMessage,
    MailError,
    OutgoingMessage,
    PermanentMailError,
    SentReceipt,
    TransientMailError,
    UnknownDeliveryError,
)
from observe.faults import crash_point

log = logging.getLogger(__name__)

Security = Literal["starttls", "tls", "none"]
Token = str | Callable[[], str]

# Where a provider files mail submitted over SMTP in the Sent folder on its own.
_SAVES_SENT_ITSELF = ("gmail.com", "googlemail.com", "office365.com", "outlook.com")
# Sent folder names to try when the server does not flag one \Sent (RFC 6154).
_SENT_NAMES = ("Sent", "Sent Items", "Sent Messages", "Sent Mail", "INBOX.Sent", "INBOX/Sent")
# A message larger than this is read only up to this many bytes (headers and the first parts).
MAX_MESSAGE_BYTES = 10_000_000
_CURSOR_VERSION = 1
# RFC 2177: a client re-issues IDLE at least every 29 minutes, before servers drop it.
IDLE_MAX_SECONDS = 29 * 60.0
# Once IDLE is under way: the longest wait for the rest of a line, or for the answer to DONE.
_IDLE_LINE_TIMEOUT = 5.0
# With a stop event, how often a waiting IDLE looks at it.
_IDLE_STOP_CHECK = 0.25
_IDLE_TAGS = count(1)  # lowercase tags: imaplib's own are uppercase letters and digits
_UNTAGGED_COUNT_RE = re.compile(rb"^\* (\d+) (EXISTS|RECENT|EXPUNGE)\b", re.IGNORECASE)
_LITERAL_RE = re.compile(rb"\{(\d+)\+?\}\r?\n?$")


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: Security = "starttls"
    username: str | None = None
    password: str | None = None
    oauth_token: Token | None = None  # XOAUTH2 access token (or a function returning a fresh one)
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class ImapSettings:
    host: str
    port: int = 993
    security: Security = "tls"
    username: str | None = None
    password: str | None = None
    oauth_token: Token | None = None
    inbox_folder: str = "INBOX"
    sent_folder: str | None = None  # None: the folder flagged \Sent, else a usual name
    timeout: float = 30.0


def _saves_sent_itself(smtp_host: str) -> bool:
    host = smtp_host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in _SAVES_SENT_ITSELF)


def xoauth2_string(user: str, token: str) -> str:
    """The SASL XOAUTH2 initial response (before base64), as Google and Microsoft specify it."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def _token(value: Token) -> str:
    return value() if callable(value) else value


def _quote(text: str) -> str:
    """An IMAP quoted string; CR, LF and NUL cannot be quoted and are refused."""
    if any(ch in text for ch in "\r\n\x00"):
        raise HeaderInjectionError("a line break cannot be part of an IMAP argument")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_folder(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501 section 5.1.3)."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = "".join(pending).encode("utf-16-be")
            encoded = base64.b64encode(data).decode("ascii").rstrip("=").replace("/", ",")
            out.append(f"&{encoded}-")
            pending.clear()

    for ch in name:
        if " " <= ch <= "~":
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


_LIST_RE = re.compile(rb'^\((?P<flags>[^)]*)\)\s+(?P<delim>"(?:[^"\\]|\\.)*"|NIL)\s+(?P<name>.+)$')


def _list_entries(data: list[object]) -> Iterator[tuple[frozenset[str], str]]:
    """(flags, raw folder name) of each LIST response line."""
    for item in data:
        line: bytes
        name_literal: bytes | None = None
        if isinstance(item, tuple):
            line, name_literal = bytes(item[0]), bytes(item[1])
        elif isinstance(item, bytes):
            line = item
        else:
            continue
        found = _LIST_RE.match(line.strip())
        if not found:
            continue
        flags = frozenset(
            f.lower() for f in found.group("flags").decode("ascii", "replace").split()
        )
        raw = name_literal if name_literal is not None else found.group("name").strip()
        if raw.startswith(b"{") and name_literal is None:
            continue
        if raw.startswith(b'"') and raw.endswith(b'"'):
            raw = re.sub(rb"\\(.)", rb"\1", raw[1:-1])
        yield flags, raw.decode("ascii", "replace")


def _error_from_imap(error: Exception, doing: str) -> MailError:
    text = str(error)
    if isinstance(error, ssl.SSLCertVerificationError):
        return PermanentMailError(f"IMAP {doing}: the server's certificate is not trusted: {text}")
    if isinstance(error, imaplib.IMAP4.abort | OSError):
        return TransientMailError(f"IMAP {doing}: connection problem: {text}")
    lowered = text.lower()
    if any(code in lowered for code in ("[unavailable]", "[inuse]", "[limit]", "try again")):
        return TransientMailError(f"IMAP {doing}: server busy: {text}")
    return PermanentMailError(f"IMAP {doing}: {text}")


def _error_from_smtp(error: Exception) -> MailError:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        replies = list(error.recipients.items())
        detail = "; ".join(f"{who}: {code} {_text(msg)}" for who, (code, msg) in replies)
        if all(400 <= code < 500 for _, (code, _m) in replies):
            return TransientMailError(f"SMTP recipient deferred: {detail}")
        return PermanentMailError(f"SMTP recipient refused: {detail}")
    if isinstance(error, smtplib.SMTPResponseException):
        code, message = error.smtp_code, _text(error.smtp_error)
        what = "login refused" if isinstance(error, smtplib.SMTPAuthenticationError) else "reply"
        detail = f"SMTP {what}: {code} {message}"
        # 5.4.5 is a sending quota (Gmail answers 550 5.4.5): it clears by itself.
        if 400 <= code < 500 or re.search(r"\b5\.4\.5\b", message):
            return TransientMailError(detail)
        return PermanentMailError(detail)
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return PermanentMailError(f"SMTP server does not support what is configured: {error}")
    if isinstance(error, ssl.SSLCertVerificationError):
        return PermanentMailError(f"SMTP: the server's certificate is not trusted: {error}")
    if isinstance(error, smtplib.SMTPServerDisconnected | OSError):
        return TransientMailError(f"SMTP connection problem: {error}")
    return PermanentMailError(f"SMTP: {error}")


def _mail_and_rcpt(client: smtplib.SMTP, sender: str, recipient: str) -> None:
    """MAIL FROM and RCPT TO, as smtplib's sendmail does them (SMTPUTF8 when needed)."""
    client.ehlo_or_helo_if_needed()
    options: list[str] = []
    if not (sender.isascii() and recipient.isascii()):
        if not client.has_extn("smtputf8"):
            raise smtplib.SMTPNotSupportedError(
                "an address is not ASCII and the server does not offer SMTPUTF8"
            )
        options = ["SMTPUTF8", "BODY=8BITMIME"]
    code, reply = client.mail(sender, options)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    code, reply = client.rcpt(recipient)
    if code not in (250, 251):
        raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})


def _dot_stuffed(mime: EmailMessage) -> bytes:
    """The message as DATA carries it: CRLF lines, leading dots doubled, ending in CRLF.CRLF."""
    data = mime.as_bytes(policy=SMTP_POLICY)
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _ok(result: tuple[str, Sequence[object]], doing: str) -> list[object]:
    status, data = result
    if status != "OK":
        detail = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
        raise imaplib.IMAP4.error(f"{doing} answered {status}: {detail}")
    return list(data)


@dataclass(frozen=True, slots=True)
class _FolderCursor:
    validity: int
    uid: int


class SmtpImapMailbox:
    """Send by SMTP submission, read and look up sent mail by IMAP."""

    name = "smtp_imap"

    def __init__(
        self,
        smtp: SmtpSettings,
        imap: ImapSettings,
        *,
        mailbox_address: str | None = None,
        save_sent: bool | None = None,
        lookback: timedelta = timedelta(days=14),
        batch_size: int = 100,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.smtp = smtp
        self.imap = imap
        # The envelope sender: bounces come back here, to the mailbox this class reads.
        self.mailbox_address = mailbox_address or smtp.username or imap.username
        self.save_sent = (not _saves_sent_itself(smtp.host)) if save_sent is None else save_sent
        self.lookback = lookback
        self.batch_size = batch_size
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.clock = clock
        # What waiting learned: whether the server offers IDLE (None: not asked yet), and INBOX's
        # (UIDVALIDITY, UIDNEXT) after the last wait, to catch mail that came between two waits.
        self.idle_supported: bool | None = None
        self._idle_mark: tuple[int, int] | None = None

    # --- sending ----------------------------------------------------------------------------

    def send(self, message: OutgoingMessage) -> SentReceipt:
        # Refuses CR/LF (and unwritable addresses) before any connection.
        mime = compose(message, date=self.clock(), sender=self.mailbox_address)
        found = self.find_sent(message.message_id)
        if found is not None:
            log.info("%s is already among sent mail; not sending it again", message.message_id)
            return found
        self._submit(mime, message)
        if self.save_sent:
            try:
                self._append_sent(mime)
            except MailError as error:
                # The message left; only the copy is missing. Recovery may then not find it,
                # which is why the window between submission and this copy is kept this short.
                log.warning("sent %s but could not file a copy: %s", message.message_id, error)
        return SentReceipt(provider_id=message.message_id)

    def _submit(self, mime: EmailMessage, message: OutgoingMessage) -> None:
        """MAIL, RCPT, DATA. A failure before the message's last line was sent is a plain
        error (nothing was accepted); from then until the 250 arrives it is unknown whether
        the server took the message: `UnknownDeliveryError`, never retried blindly."""
        settings = self.smtp
        sender = self.mailbox_address or message.from_address
        try:
            client = self._smtp_connect()
        except (smtplib.SMTPException, OSError) as error:
            raise _error_from_smtp(error) from error
        try:
            try:
                self._smtp_login(client)
                _mail_and_rcpt(client, sender, message.to_address)
                client.putcmd("data")
                code, reply = client.getreply()
                if code != 354:
                    raise smtplib.SMTPDataError(code, reply)
            except (smtplib.SMTPException, OSError) as error:
                raise _error_from_smtp(error) from error
            try:
                client.send(_dot_stuffed(mime))
                code, reply = client.getreply()
            except (smtplib.SMTPException, OSError) as error:
                raise UnknownDeliveryError(
                    f"the connection to {settings.host} failed after the message was handed "
                    f"over, before the server confirmed it: {error}"
                ) from error
            if code != 250:
                raise _error_from_smtp(smtplib.SMTPDataError(code, reply))
        finally:
            with suppress(smtplib.SMTPException, OSError):
                client.quit()
        crash_point("submitted")
        log.info("submitted %s to %s via %s", message.message_id, message.to_address, settings.host)

    def _smtp_connect(self) -> smtplib.SMTP:
        s = self.smtp
        if s.security == "tls":
            return smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self.ssl_context)
        client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            client.ehlo()
            if s.security == "starttls":
                client.starttls(context=self.ssl_context)
                client.ehlo()
        except BaseException:
            with suppress(Exception):
                client.close()
            raise
        return client

    def _smtp_login(self, client: smtplib.SMTP) -> None:
        s = self.smtp
        if s.oauth_token is not None:
            user = s.username or self.mailbox_address or ""
            token = _token(s.oauth_token)

            def xoauth2(challenge: bytes | None = None) -> str:
                # On failure the server sends an error challenge; an empty reply ends the exchange.
                return xoauth2_string(user, token) if challenge is None else ""

            client.ehlo_or_helo_if_needed()
            client.auth("XOAUTH2", xoauth2, initial_response_ok=True)
        elif s.username and s.password is not None:
            client.login(s.username, s.password)

    # --- IMAP -------------------------------------------------------------------------------

    @contextmanager
    def _imap_session(self, doing: str) -> Iterator[imaplib.IMAP4]:
        s = self.imap
        try:
            client: imaplib.IMAP4
            if s.security == "tls":
                client = imaplib.IMAP4_SSL(
                    s.host, s.port, ssl_context=self.ssl_context, timeout=s.timeout
                )
            else:
                client = imaplib.IMAP4(s.host, s.port, timeout=s.timeout)
                if s.security == "starttls":
                    client.starttls(ssl_context=self.ssl_context)
        except (imaplib.IMAP4.error, OSError) as error:
            raise _error_from_imap(error, f"connecting to {s.host}:{s.port}") from error
        try:
            try:
                self._imap_login(client)
            except (imaplib.IMAP4.error, OSError) as error:
                mapped = _error_from_imap(error, "login")
                if isinstance(mapped, PermanentMailError):
                    mapped = PermanentMailError(f"IMAP login refused: {error}")
                raise mapped from error
            try:
                yield client
            except (imaplib.IMAP4.error, OSError) as error:
                raise _error_from_imap(error, doing) from error
        finally:
            with suppress(Exception):
                client.logout()

    def _imap_login(self, client: imaplib.IMAP4) -> None:
        s = self.imap
        user = s.username or self.mailbox_address or ""
        if s.oauth_token is not None:
            payload = xoauth2_string(user, _token(s.oauth_token)).encode()
            client.authenticate("XOAUTH2", lambda _challenge: payload)
        else:
            client.login(user, s.password or "")

    def _sent_folder(self, client: imaplib.IMAP4) -> str:
        """The Sent folder's encoded name: configured, else flagged \\Sent, else a usual name."""
        if self.imap.sent_folder:
            return encode_folder(self.imap.sent_folder)
        entries = list(_list_entries(_ok(client.list(), "LIST")))
        for flags, name in entries:
            if "\\sent" in flags:
                return name
        names = {name.lower(): name for _flags, name in entries}
        for candidate in _SENT_NAMES:
            if candidate.lower() in names:
                return names[candidate.lower()]
        return "Sent"

    @staticmethod
    def _examine(client: imaplib.IMAP4, folder: str) -> int | None:
        """Select `folder` read-only; its UIDVALIDITY, or None when it does not exist."""
        status, _data = client.select(_quote(folder), readonly=True)
        if status != "OK":
            return None
        _name, values = client.response("UIDVALIDITY")
        for value in reversed(values or []):
            if isinstance(value, bytes) and value.strip().isdigit():
                return int(value)
        raise imaplib.IMAP4.error(f"{folder} gave no UIDVALIDITY")

    @staticmethod
    def _search(client: imaplib.IMAP4, *criteria: str) -> list[int]:
        data = _ok(client.uid("SEARCH", *criteria), "SEARCH")
        uids: list[int] = []
        for line in data:
            if isinstance(line, bytes):
                uids += [int(u) for u in line.split() if u.isdigit()]
        return sorted(set(uids))

    def _append_sent(self, mime: EmailMessage) -> None:
        data = mime.as_bytes(policy=SMTP_POLICY)
        with self._imap_session("filing the sent copy") as client:
            folder = self._sent_folder(client)
            status, _ = client.append(_quote(folder), "(\\Seen)", None, data)
            if status != "OK":
                _ok(client.create(_quote(folder)), "CREATE")
                _ok(client.append(_quote(folder), "(\\Seen)", None, data), "APPEND")

    def find_sent(self, message_id: str) -> SentReceipt | None:
        wanted = message_id.strip()
        if not wanted:
            return None
        with self._imap_session("searching sent mail") as client:
            folder = self._sent_folder(client)
            if self._examine(client, folder) is None:
                return None
            for uid in self._search(client, "HEADER", "Message-ID", _quote(wanted)):
                header = self._fetch(client, uid, "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]")
                if header is None:
                    continue
                found = re.search(rb"<[^<>\s]+>", header)
                if found and found.group(0).decode("utf-8", "replace").lower() == wanted.lower():
                    return SentReceipt(provider_id=wanted)
        return None

    # --- reading ----------------------------------------------------------------------------

    def fetch_since(self, cursor: str | None) -> InboundBatch:
        cursors = _load_cursor(cursor)
        messages: list[InboundMessage] = []
        with self._imap_session("reading mail") as client:
            folders: list[tuple[Literal["inbox", "sent"], str]] = [
                ("inbox", encode_folder(self.imap.inbox_folder)),
                ("sent", self._sent_folder(client)),
            ]
            for key, folder in folders:
                validity = self._examine(client, folder)
                if validity is None:
                    log.info("IMAP folder %s does not exist; not read", folder)
                    continue
                previous = cursors.get(key)
                if previous is None or previous.validity != validity:
                    since = (self.clock() - self.lookback).strftime("%d-%b-%Y")
                    uids = self._search(client, "SINCE", since)
                    if previous is not None:
                        log.warning("%s changed UIDVALIDITY; reading the last %s", folder, since)
                    last = 0
                else:
                    last = previous.uid
                    uids = self._search(client, "UID", f"{last + 1}:*")
                uids = [u for u in uids if u > last][: self.batch_size]
                for uid in uids:
                    raw = self._fetch_message(client, uid)
                    if raw is not None:
                        messages.append(
                            InboundMessage(
                                raw=raw, folder=key, provider_id=f"{key}:{validity}:{uid}"
                            )
                        )
                    last = uid
                cursors[key] = _FolderCursor(validity, last)
        return InboundBatch(tuple(messages), _dump_cursor(cursors))

    def _fetch_message(self, client: imaplib.IMAP4, uid: int) -> bytes | None:
        size_data = _ok(client.uid("FETCH", str(uid), "(RFC822.SIZE)"), "FETCH")
        size = next(
            (
                int(m.group(1))
                for line in size_data
                if isinstance(line, bytes) and (m := re.search(rb"RFC822\.SIZE (\d+)", line))
            ),
            0,
        )
        part = "BODY.PEEK[]" if size <= MAX_MESSAGE_BYTES else f"BODY.PEEK[]<0.{MAX_MESSAGE_BYTES}>"
        return self._fetch(client, uid, part)

    @staticmethod
    def _fetch(client: imaplib.IMAP4, uid: int, item: str) -> bytes | None:
        data = _ok(client.uid("FETCH", str(uid), f"({item})"), "FETCH")
        for entry in data:
            if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], bytes):
                return entry[1]
        return None

    # --- waiting ----------------------------------------------------------------------------

    def wait_for_mail(self, timeout: float, *, stop: threading.Event | None = None) -> bool:
        """Wait up to `timeout` seconds (at most 29 minutes) for new mail in INBOX by IDLE.

        True when the server signalled new mail (or INBOX gained mail since the previous wait
        ended), False when the time ran out or `stop` was set. False at once when the server
        does not offer IDLE (`idle_supported` is then False): the caller polls on its schedule.
        Once IDLE is under way the wait ends within `timeout` plus a few seconds.
        """
        timeout = min(max(timeout, 0.0), IDLE_MAX_SECONDS)
        folder = encode_folder(self.imap.inbox_folder)
        with self._imap_session("waiting for mail") as client:
            capabilities = b" ".join(
                line for line in _ok(client.capability(), "CAPABILITY") if isinstance(line, bytes)
            )
            self.idle_supported = b"IDLE" in capabilities.upper().split()
            if not self.idle_supported:
                return False
            selected = self._select_inbox(client, folder)
            if selected is None:
                log.info("IMAP folder %s does not exist; not waiting on it", folder)
                return False
            exists, mark = selected
            previous, self._idle_mark = self._idle_mark, mark
            came_between = (  # mail that arrived while nobody was waiting
                previous is not None
                and mark is not None
                and previous[0] == mark[0]
                and mark[1] > previous[1]
            )
            if came_between:
                return True
            signalled = _idle(client, exists, timeout, stop)
            if signalled:
                after = self._select_inbox(client, folder)
                self._idle_mark = after[1] if after is not None else None
            return signalled

    @staticmethod
    def _select_inbox(
        client: imaplib.IMAP4, folder: str
    ) -> tuple[int, tuple[int, int] | None] | None:
        """Examine `folder`: its message count and (UIDVALIDITY, UIDNEXT) when both are given."""
        status, data = client.select(_quote(folder), readonly=True)
        if status != "OK":
            return None
        exists = next((int(d) for d in data if isinstance(d, bytes) and d.isdigit()), 0)
        numbers: list[int | None] = []
        for code in ("UIDVALIDITY", "UIDNEXT"):
            _name, values = client.response(code)
            found = [int(v) for v in values or [] if isinstance(v, bytes) and v.strip().isdigit()]
            numbers.append(found[-1] if found else None)
        validity, uidnext = numbers
        mark = (validity, uidnext) if validity is not None and uidnext is not None else None
        return exists, mark


def _idle(client: imaplib.IMAP4, exists: int, timeout: float, stop: threading.Event | None) -> bool:
    """One IDLE on the selected folder: whether its message count grew within `timeout`."""
    tag = f"idle{next(_IDLE_TAGS)}".encode()
    signalled = False

    def note(line: bytes) -> None:
        nonlocal exists, signalled
        literal = _LITERAL_RE.search(line)
        if literal:  # nothing expected here carries one; read it so the next line is a line
            client.read(int(literal.group(1)))
            client.readline()
        found = _UNTAGGED_COUNT_RE.match(line)
        if not found:
            return
        number, kind = int(found.group(1)), found.group(2).upper()
        if kind == b"EXISTS":
            signalled = signalled or number > exists
            exists = number
        elif kind == b"EXPUNGE":
            exists = max(exists - 1, 0)
        elif number > 0:  # RECENT
            signalled = True

    def finish_on(line: bytes) -> bool:
        if not line.startswith(tag + b" "):
            return False
        if line[len(tag) + 1 :].split(b" ", 1)[0].upper() != b"OK":
            raise imaplib.IMAP4.error(f"IDLE answered {line.decode('utf-8', 'replace').strip()}")
        return True

    sock = client.socket()
    previous_timeout = sock.gettimeout()
    sock.settimeout(_IDLE_LINE_TIMEOUT)
    try:
        client.send(tag + b" IDLE\r\n")
        while not (line := client.readline()).startswith(b"+"):
            if finish_on(line):
                raise imaplib.IMAP4.error("IDLE ended before it began")
            note(line)
        deadline = time.monotonic() + timeout
        while not signalled and not (stop is not None and stop.is_set()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            wait = min(remaining, _IDLE_STOP_CHECK) if stop is not None else remaining
            if _line_waiting(client, wait):
                note(client.readline())
        client.send(b"DONE\r\n")
        while not finish_on(line := client.readline()):
            note(line)
    finally:
        with suppress(OSError):
            sock.settimeout(previous_timeout)
    return signalled


def _line_waiting(client: imaplib.IMAP4, seconds: float) -> bool:
    """Whether the server began sending something within `seconds`, without reading it.

    imaplib reads through a buffered file over the socket: bytes already buffered count, and a
    timed-out read would leave that file unusable, so waiting is done with select() instead.
    """
    reader = cast(io.BufferedReader, client.file)  # so on Python 3.11 to 3.13
    sock = client.socket()
    deadline = time.monotonic() + seconds
    polled = False
    while True:
        previous_timeout = sock.gettimeout()
        sock.settimeout(0.0)
        try:
            data: bytes | None = reader.peek(1)
        except (BlockingIOError, ssl.SSLWantReadError):
            data = None  # a TLS record only partly here
        finally:
            sock.settimeout(previous_timeout)
        if data:
            return True
        if data == b"" and polled:  # readable, yet nothing to read: the server hung up
            raise imaplib.IMAP4.abort("the server closed the connection during IDLE")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        polled = bool(select.select([sock], [], [], remaining)[0])


def idle_loop(
    mailbox: SmtpImapMailbox,
    on_mail: Callable[[], None],
    stop: threading.Event,
    *,
    timeout: float = IDLE_MAX_SECONDS,
    backoff: float = 30.0,
) -> None:
    """Call `on_mail()` each time new mail is signalled in INBOX, until `stop` is set.

    Meant for a thread of its own beside the regular poll: `on_mail` would typically read with
    `fetch_since`. A `TransientMailError` (from waiting or from `on_mail`) is logged and
    followed by a pause of `backoff` seconds; a `PermanentMailError` ends the loop by raising.
    Returns when `stop` is set, or at once when the server does not offer IDLE.
    """
    while not stop.is_set():
        try:
            if mailbox.wait_for_mail(timeout, stop=stop):
                if stop.is_set():
                    return
                on_mail()
            elif mailbox.idle_supported is False:
                log.info("the IMAP server does not offer IDLE; new mail is found by polling")
                return
        except TransientMailError as error:
            log.warning("waiting for mail failed (%s); trying again in %.0f s", error, backoff)
            stop.wait(backoff)


def _load_cursor(cursor: str | None) -> dict[str, _FolderCursor]:
    if not cursor:
        return {}
    try:
        raw = json.loads(cursor)
        return {
            key: _FolderCursor(int(value[0]), int(value[1]))
            for key, value in raw.items()
            if key in ("inbox", "sent")
        }
    except (ValueError, TypeError, IndexError, AttributeError):
        log.warning("unreadable IMAP cursor %r; reading from the look-back window", cursor)
        return {}


def _dump_cursor(cursors: dict[str, _FolderCursor]) -> str:
    data: dict[str, object] = {"v": _CURSOR_VERSION}
    data.update({key: [c.validity, c.uid] for key, c in sorted(cursors.items())})
    return json.dumps(data, separators=(",", ":"))
