"""Understanding inbound mail: pure functions, no I/O.

`parse_message` turns raw RFC 822 bytes into a `ParsedMessage` (never raises on bad input),
`classify_message` says what the message is (`MailUnderstanding`: a human reply, an
auto-reply, a bounce, an opt-out or a complaint, with the details each kind carries), and
`match_message` ties it to a deal by thread headers first, then by address.

Everything in a message comes from outside: header values are decoded and cleaned of control
characters, never trusted beyond parsing, and nothing here acts on them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.errors
import email.header
import email.utils
import html
import logging
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import Message
from email.policy import compat32
from html.parser import HTMLParser
from typing import Final, Literal

__all__ = [
    "BouncedRecipient",
    "Kind",
    "MailUnderstanding",
    "Match",
    "MatchKind",
    "ParsedMessage",
    "classify_message",
    "extract_alternate_address",
    "extract_return_date",
    "is_auto_reply_subject",
    "match_message",
    "normalize_address",
    "normalize_message_id",
    "parse_message",
    "visible_reply_text",
]

Kind = Literal["reply", "auto_reply", "bounce", "opt_out", "complaint"]
MatchKind = Literal["thread", "contact", "company_domain", "unmatched"]

_MAX_HEADER_CHARS: Final = 4000
_MAX_TEXT_CHARS: Final = 1_000_000
_MAX_SCAN_CHARS: Final = 200_000  # regex work on bodies stops here
_MAX_LINE_CHARS: Final = 2_000  # and on any one line here

# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """What one raw message says, decoded. Header values are cleaned single-line strings."""

    headers: tuple[tuple[str, str], ...]
    from_address: str | None
    from_name: str | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    reply_to: tuple[str, ...]
    subject: str
    date: dt.datetime | None
    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    text: str
    html: str | None
    content_type: str
    # Message-IDs of an original message attached to a report (bounce, complaint): these tie
    # a delivery failure back to the thread it was sent in.
    embedded_message_ids: tuple[str, ...] = ()
    defects: tuple[str, ...] = ()
    message: Message = field(default_factory=Message, compare=False, repr=False)

    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive), or None."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def header_values(self, name: str) -> tuple[str, ...]:
        lname = name.lower()
        return tuple(value for key, value in self.headers if key.lower() == lname)


@dataclass(frozen=True, slots=True)
class BouncedRecipient:
    """One recipient of a delivery failure report."""

    address: str
    status: str | None = None  # enhanced status code, e.g. "5.1.1"
    reply_code: str | None = None  # SMTP reply code, e.g. "550"
    reason: str = "unknown"  # user_unknown, host_unknown, mailbox_full, blocked, ...
    action: str | None = None  # DSN action: failed or delayed
    permanent: bool = True  # False for delays and 4.x.x
    hard: bool = False  # the address itself is dead: suppress it
    diagnostic: str | None = None
    final_address: str | None = None  # where the receiving system forwarded it, if different


@dataclass(frozen=True, slots=True)
class MailUnderstanding:
    """What followup understands of one message."""

    kind: Kind
    return_date: dt.date | None = None
    alternate_address: str | None = None
    failed_recipients: list[str] = field(default_factory=list)
    hard_bounce: bool | None = None
    bounce_status: str | None = None
    visible_text: str | None = None
    bounces: tuple[BouncedRecipient, ...] = ()
    feedback_type: str | None = None  # ARF Feedback-Type of a complaint
    complaint_recipients: list[str] = field(default_factory=list)  # who complained
    mailbox_retired: bool = False  # an auto-reply saying the address is no longer in use
    bulk: bool = False  # Precedence bulk/list/junk or List-Id: list traffic, still a "reply"
    signals: tuple[str, ...] = ()  # why: the evidence behind `kind`, for humans


@dataclass(frozen=True, slots=True)
class Match:
    """Which deal (or contact, or company) an inbound message belongs to."""

    kind: MatchKind
    deal_id: str | None = None
    contact_id: str | None = None
    company_id: str | None = None
    address: str | None = None  # the address that matched (or the sender's)
    message_id: str | None = None  # the known Message-ID that matched a thread


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------

_CONTROL_RE: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")
# In body text: control characters (terminal escapes included) but not tab and newline.
_TEXT_CONTROL_RE: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_WS_RE: Final = re.compile(r"\s+")
_ADDR_RE: Final = re.compile(
    r"(?<![\w.+\-=/%])([A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})(?![\w\-])"
)
_MSGID_RE: Final = re.compile(r"<([^<>\s]{1,500})>")
_REPLY_PREFIX_RE: Final = re.compile(
    r"^\s*(?:(?:re|aw|sv|antw|antwort|r|rif|res|ref|wg|fw|fwd|tr|odp|vs|enc|doorst|vl|ynt)"
    r"\s*(?:\[\d+\])?\s*[:：]\s*)+",
    re.IGNORECASE,
)


def _clean(value: str, limit: int = _MAX_HEADER_CHARS) -> str:
    """One line, no control characters, bounded length."""
    value = _CONTROL_RE.sub(" ", value.replace("\r", " ").replace("\n", " "))
    return _WS_RE.sub(" ", value).strip()[:limit]


def _decode_header_value(raw: object) -> str:
    """Decode an RFC 2047 header value robustly; never raises."""
    if isinstance(raw, email.header.Header):
        try:
            return _clean(str(raw))
        except Exception:  # garbage in, best effort out
            raw = raw.encode()
    text = raw if isinstance(raw, str) else str(raw)
    # compat32 keeps undecodable bytes as surrogates: turn them back into text.
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        data = text.encode("utf-8", "surrogateescape")
        text = _decode_bytes(data, None)
    if "=?" not in text:
        return _clean(text)
    try:
        parts = email.header.decode_header(text)
    except Exception:
        return _clean(text)
    out: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            out.append(_decode_bytes(chunk, charset))
        else:
            out.append(chunk)
    # decode_header drops whitespace between encoded words and plain text inconsistently;
    # joining plain chunks with the encoded ones as-is mirrors make_header's behaviour.
    joined = ""
    for index, piece in enumerate(out):
        if index and parts[index - 1][1] is None and parts[index][1] is None:
            joined += " "
        joined += piece
    return _clean(joined)


_CHARSET_ALIASES: Final = {
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "latin-1",
    "unknown-8bit": "utf-8",
    "unknown": "utf-8",
    "us-ascii": "utf-8",  # mislabelled 8-bit is common; utf-8 is a superset
    "ascii": "utf-8",
    "ansi_x3.4-1968": "utf-8",
    "iso-8859-8-i": "iso-8859-8",
    "ks_c_5601-1987": "cp949",
    "x-sjis": "shift_jis",
    "windows-874": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "iso-8859-1": "cp1252",  # browsers do the same: cp1252 is what senders mean
    "latin1": "cp1252",
}


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes to text: the declared charset, then UTF-8, then cp1252, then Latin-1."""
    candidates: list[str] = []
    if charset:
        name = charset.strip().strip("\"'").lower()
        candidates.append(_CHARSET_ALIASES.get(name, name))
    candidates += ["utf-8", "cp1252"]
    for candidate in candidates:
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    return data.decode("latin-1")


def normalize_address(address: str | None) -> str | None:
    """`Name <A.B@Example.COM>` or `mailto:a@b` -> `a.b@example.com`; None if no address."""
    if not address:
        return None
    text = address.strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    match = _ADDR_RE.search(text)
    if not match:
        return None
    return match.group(1).strip(".").lower()


def normalize_message_id(message_id: str | None) -> str | None:
    """`<ABC@host>`, ` ABC@host ` -> `abc@host` (compared case-insensitively)."""
    if not message_id:
        return None
    text = message_id.strip()
    match = _MSGID_RE.search(text)
    if match:
        text = match.group(1)
    text = text.strip().strip("<>").strip()
    if not text or any(ch.isspace() for ch in text):
        return None
    return text.lower()


def _message_ids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    found = [m.group(1) for m in _MSGID_RE.finditer(value)]
    if not found:
        found = [token for token in value.split() if "@" in token]
    out: list[str] = []
    for item in found:
        norm = normalize_message_id(item)
        if norm and norm not in out:
            out.append(norm)
    return tuple(out)


def _addresses(values: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    try:
        pairs = email.utils.getaddresses(list(values))
    except Exception:
        pairs = []
    for _name, addr in pairs:
        norm = normalize_address(addr)
        if norm and norm not in out:
            out.append(norm)
    if not out:
        for value in values:
            for match in _ADDR_RE.finditer(value):
                norm = match.group(1).lower()
                if norm not in out:
                    out.append(norm)
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Bodies
# --------------------------------------------------------------------------------------------


class _HTMLToText(HTMLParser):
    """HTML to readable text; <blockquote> content is marked as quoted with '> '."""

    _BLOCK: Final = frozenset(
        {
            "p",
            "div",
            "br",
            "tr",
            "li",
            "ul",
            "ol",
            "table",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "hr",
            "pre",
            "section",
            "article",
            "header",
            "footer",
            "blockquote",
            "dt",
            "dd",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.skip = 0
        self.quote = 0

    def _newline(self) -> None:
        if self.lines[-1].strip() or (len(self.lines) > 1 and self.lines[-2].strip()):
            self.lines.append("")
        else:
            self.lines[-1] = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip += 1
        elif tag == "br":
            self.lines.append("")
        elif tag in self._BLOCK:
            self._newline()
            if tag == "blockquote":
                self.quote += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip = max(0, self.skip - 1)
        elif tag in self._BLOCK:
            if tag == "blockquote":
                self.quote = max(0, self.quote - 1)
            self._newline()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        text = _WS_RE.sub(" ", data)
        if not text.strip() and not self.lines[-1]:
            return
        if not self.lines[-1] and self.quote:
            self.lines[-1] = "> " * self.quote
        self.lines[-1] += text

    def text(self) -> str:
        lines = [line.rstrip() for line in self.lines]
        out = "\n".join(lines)
        return re.sub(r"\n{3,}", "\n\n", out).strip()


def html_to_text(markup: str) -> str:
    parser = _HTMLToText()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # html.parser is lenient; belt and braces
        return html.unescape(re.sub(r"<[^>]+>", " ", markup))
    return parser.text()


def _part_text(part: Message) -> str:
    """The decoded text of a leaf part; never raises."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        try:
            charset = part.get_content_charset()
        except Exception:
            charset = None
        text = _decode_bytes(payload, charset)
    else:
        raw = part.get_payload()
        text = raw if isinstance(raw, str) else ""
        if any("\udc80" <= ch <= "\udcff" for ch in text):
            text = _decode_bytes(text.encode("utf-8", "surrogateescape"), None)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text[:_MAX_TEXT_CHARS]


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "text/plain"


def _is_attachment(part: Message) -> bool:
    try:
        disposition = (part.get("Content-Disposition") or "").lower()
    except Exception:
        return False
    return disposition.strip().startswith("attachment")


def _bodies(msg: Message) -> tuple[str, str | None]:
    """(first text/plain body, first text/html body) outside attached messages."""
    plain: str | None = None
    markup: str | None = None

    def visit(part: Message, depth: int) -> None:
        nonlocal plain, markup
        if depth > 30:
            return
        ctype = _content_type(part)
        if part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):
                for sub in payload:
                    if isinstance(sub, Message):
                        visit(sub, depth + 1)
            return
        if ctype.startswith("message/") or _is_attachment(part):
            return
        if ctype == "text/plain" and plain is None:
            plain = _part_text(part)
        elif ctype == "text/html" and markup is None:
            markup = _part_text(part)
        elif ctype == "text/enriched" and plain is None:
            plain = re.sub(r"<[^>]+>", "", _part_text(part))

    visit(msg, 0)
    if plain is None and markup is None and not msg.is_multipart():
        # An unknown or broken content type on a single part: read it as text.
        plain = _part_text(msg)
    if plain is not None and not plain.strip() and markup:
        plain = None
    if plain is None:
        return (html_to_text(markup) if markup else ""), markup
    return plain, markup


def _embedded_headers(msg: Message) -> list[Message]:
    """Headers of original messages attached to a report (message/rfc822, text/rfc822-headers)."""
    found: list[Message] = []
    for part in _walk(msg, stop_at_messages=True):
        ctype = _content_type(part)
        if ctype in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                found.append(payload[0])
            elif isinstance(payload, str) and payload.strip():
                found.append(_parse_header_block(payload))
        elif ctype in ("text/rfc822-headers", "message/rfc822-headers", "text/rfc822-header"):
            found.append(_parse_header_block(_part_text(part)))
    return found


def _parse_header_block(text: str) -> Message:
    try:
        return email.message_from_string(text.lstrip("\n"), policy=compat32)
    except Exception:
        return Message()


def _walk(msg: Message, depth: int = 0, *, stop_at_messages: bool = False) -> Iterator[Message]:
    """Like Message.walk, but bounded and tolerant of odd payloads; with `stop_at_messages`,
    attached messages are yielded but not entered."""
    if depth > 30:
        return
    yield msg
    if stop_at_messages and depth and _content_type(msg).startswith("message/"):
        return
    payload = msg.get_payload()
    if isinstance(payload, list):
        for sub in payload:
            if isinstance(sub, Message):
                yield from _walk(sub, depth + 1, stop_at_messages=stop_at_messages)


# --------------------------------------------------------------------------------------------
# parse_message
# --------------------------------------------------------------------------------------------


_BOUNDARY_LINE_RE: Final = re.compile(r"^--([^\s]{1,200})\s*$", re.MULTILINE)


def _repair_multiparts(part: Message, depth: int) -> None:
    """A multipart without a usable boundary (a folded Content-Type whose continuation lost
    its indentation, a typo) is re-split on the boundary its body actually uses."""
    if depth > 30:
        return
    payload = part.get_payload()
    if isinstance(payload, list):
        for sub in payload:
            if isinstance(sub, Message):
                _repair_multiparts(sub, depth + 1)
        return
    if not _content_type(part).startswith("multipart/") or not isinstance(payload, str):
        return
    found = _BOUNDARY_LINE_RE.search(payload)
    if not found:
        return
    boundary = found.group(1).rstrip("-")
    rebuilt = email.message_from_string(
        f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n{payload}', policy=compat32
    )
    parts = rebuilt.get_payload()
    if isinstance(parts, list) and parts:
        part.set_payload(parts)
        part.set_param("boundary", boundary)
        for sub in parts:
            if isinstance(sub, Message):
                _repair_multiparts(sub, depth + 1)


def _parse_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        parsed = None
    if parsed is None:
        # Common garbage: missing comma/day name, trailing junk; try the tuple parser.
        try:
            parts = email.utils.parsedate_tz(value)
        except Exception:
            parts = None
        if not parts:
            return None
        try:
            stamp = email.utils.mktime_tz(parts)
            parsed = dt.datetime.fromtimestamp(stamp, tz=dt.UTC)
        except (OverflowError, ValueError, OSError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse raw RFC 822 bytes. Never raises: broken input yields what can be read."""
    if not isinstance(raw, bytes | bytearray):
        raw = str(raw).encode("utf-8", "replace")
    data = bytes(raw)
    # A leading mbox "From " line is not a header.
    if data.startswith(b"From ") and b"\n" in data[:2000]:
        data = data.split(b"\n", 1)[1]
    try:
        msg = email.message_from_bytes(data, policy=compat32)
    except Exception:  # the stdlib parser is lenient, but never trust it
        msg = email.message_from_string(data.decode("latin-1"), policy=compat32)

    # A repair that fails leaves the message as it was.
    with contextlib.suppress(Exception):
        _repair_multiparts(msg, 0)
    headers: list[tuple[str, str]] = []
    # raw_items: compat32's items() turns 8-bit header bytes into replacement characters.
    for key, value in msg.raw_items():
        name = _clean(str(key), 200)
        if not name:
            continue
        headers.append((name, _decode_header_value(value)))

    def first(name: str) -> str | None:
        lname = name.lower()
        for key, value in headers:
            if key.lower() == lname and value:
                return value
        return None

    def every(name: str) -> list[str]:
        lname = name.lower()
        return [value for key, value in headers if key.lower() == lname and value]

    from_name: str | None = None
    from_address: str | None = None
    # Addresses come from the raw header: an encoded word (=?utf-8?q?...?=) is display text
    # and may not smuggle an address or a line break into the address list.
    raw_values: dict[str, list[str]] = {}
    for key, value in msg.raw_items():
        text_value = value if isinstance(value, str) else str(value)
        raw_values.setdefault(str(key).lower(), []).append(
            _CONTROL_RE.sub(" ", text_value.replace("\r", " ").replace("\n", " "))
        )

    def raw_every(name: str) -> list[str]:
        return [v for v in raw_values.get(name.lower(), []) if v.strip()]

    from_raw = next(iter(raw_every("From")), None)
    if from_raw:
        try:
            name, addr = email.utils.parseaddr(from_raw)
        except Exception:
            name, addr = "", ""
        from_address = normalize_address(addr) or normalize_address(
            re.sub(r"=\?[^?]*\?[bqBQ]\?[^?]*\?=", " ", from_raw)
        )
        from_name = _decode_header_value(name) or None

    try:
        text, markup = _bodies(msg)
    except Exception:  # a body we cannot read is an empty body
        text, markup = "", None

    embedded_ids: list[str] = []
    try:
        for block in _embedded_headers(msg):
            for mid in _message_ids(_decode_header_value(block.get("Message-ID", ""))):
                if mid not in embedded_ids:
                    embedded_ids.append(mid)
    except Exception:
        embedded_ids = []

    message_ids = _message_ids(first("Message-ID"))
    defects = tuple(sorted({type(d).__name__ for d in getattr(msg, "defects", [])}))
    return ParsedMessage(
        headers=tuple(headers),
        from_address=from_address,
        from_name=from_name,
        to=_addresses(raw_every("To")),
        cc=_addresses(raw_every("Cc")),
        reply_to=_addresses(raw_every("Reply-To")),
        subject=first("Subject") or "",
        date=_parse_date(first("Date")),
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=_message_ids(" ".join(every("In-Reply-To"))),
        references=_message_ids(" ".join(every("References"))),
        text=text,
        html=markup,
        content_type=_content_type(msg),
        embedded_message_ids=tuple(embedded_ids),
        defects=defects,
        message=msg,
    )


# --------------------------------------------------------------------------------------------
# Visible reply text: the new text without quoted history and signatures
# --------------------------------------------------------------------------------------------
#
# Each line is labelled (e empty, d delimiter, s mobile signature, b quote header such as
# "On ... wrote:", h a header line of a quoted message, q a '>' quote, t text); the labels form
# a string and regular expressions over that string decide what to keep. The approach and the
# rules follow discourse/email_reply_trimmer (MIT), which the corpus labels come from; the
# marker lists are ours, widened to the languages followup cares about.

_BLANK: Final = r"[ \t\u00a0]"
_DELIM_LINE_RE: Final = re.compile(r"^[ \t\u00a0]*[-_,=+~#*\u1427]+[ \t\u00a0]*$")
# Help-desk markers such as "## Please type your reply above this line ##".
_REPLY_ABOVE_RE: Final = re.compile(r"^[ \t>]*#{2,}.*#{2,}[ \t]*$")
_MOBILE_SIGNATURE_RES: Final = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^[ \t>]*從我的 iPhone 傳送",
        r"^[ \t>]*\w+ from mobile",
        r"^[ \t>]*[(<]*sent (?:from|via|with|by) .+",
        r"^[ \t>]*from my .{1,20}$",
        r"^[ \t>]*get (?:\[)?outlook for (?:ios|android)",
        r"^[ \t>]*(?:gesendet von|envoy[ée] à partir de|enviado desde|verzonden met|inviato da) "
        r"(?:outlook|blackberry|mail|yahoo|samsung|my|mijn|mi|mon|il mio)\b.*",
        r"^[ \t>]*envoy[ée] (?:depuis|de) mon .+",
        r"^[ \t>]*von meinem .+ gesendet",
        r"^[ \t>]*gesendet von meinem .+",
        r"^[ \t>]*diese nachricht wurde von .+ gesendet",
        r"^[ \t>]*enviado desde mi .+",
        r"^[ \t>]*enviado do meu .+",
        r"^[ \t>]*inviato da(?:l mio)? .+(?:iphone|ipad|android|mobile|smartphone|telefono)",
        r"^[ \t>]*verzonden (?:vanaf|met) mijn .+",
        r"^[ \t>]*verstuurd vanaf mijn .+",
        r"^[ \t>]*skickat fr[åa]n min .+",
        r"^[ \t>]*sendt fra min .+",
        r"^[ \t>]*wys[łl]ane z (?:mojego )?.+",
        r"^[ \t>]*отправлено с (?:моего )?.+",
    )
)

# "On <date>, <someone> wrote:" in many languages: (lead word, "wrote" words).
_ON_DATE_WROTE: Final = (
    ("On", "wrote"),
    ("Op", "het volgende geschreven"),
    ("Op", "schreef"),
    ("Le", "a écrit"),
    ("Il", "ha scritto"),
    ("Dnia", r"napisał\(a\)"),
    ("W dniu", r"napisał(?:\(a\))?"),
    ("Em", "escreveu"),
    ("El", "escribió"),
    ("Am", "schrieb"),
    ("Den", "skrev"),
    ("På", "skrev"),
    ("Dne", "napsal"),
)
_SPACES_OR_NEWLINES: Final = r"[ \t\n]+"


def _join_regex(on: str, wrote: str) -> re.Pattern[str]:
    wrote = wrote.replace(" ", _SPACES_OR_NEWLINES)
    return re.compile(
        rf"^([ \t>\-]*{on}\s(?:(?!{on}\s|{wrote}:?)[\s\S]){{0,400}}{wrote}[ \t]*:?[ \t\-]*)$",
        re.MULTILINE,
    )


_ON_DATE_WROTE_JOIN_RES: Final = tuple(_join_regex(on, wrote) for on, wrote in _ON_DATE_WROTE)
_EMBEDDED_RES: Final = (
    *(
        re.compile(rf"^[ \t>\-]*{on}\s.*{wrote}[ \t]*:?[ \t\-]*$", re.IGNORECASE)
        for on, wrote in _ON_DATE_WROTE
    ),
    re.compile(r"^[ \t>]*(?:Op|Am)\s.+\s(?:schreef|schrieb)\s[^:]+:"),
    re.compile(r".+пользователь.+написал:"),
    re.compile(r"^[ \t>]*.+\s(?:написал|написала|написав|написала\(а\))\s*:\s*$"),
    re.compile(r"^[ \t>]*20\d\d-\d\d-\d\d \d\d?:\d\d GMT[+-]\d\d:\d\d [\w \t]+$"),
    re.compile(r"^[ \t>]*.*\d{4}.+<[^@<>\s]+@[^@<>.\s]+\.[^@<>\s]+>:?$"),
    re.compile(r"^[ \t>]*.+ via .+ (?:wrote|schrieb):?[ \t]*$"),
    re.compile(r"^[ \t>]*.+ <.+@.+\..+> (?:wrote|schrieb|a écrit|escribió|ha scritto|escreveu)"),
    re.compile(r"^[ \t>]*Posted by .+ on \d{2}/\d{2}/\d{4}$", re.IGNORECASE),
    re.compile(r"^[ \t>]*Begin forwarded message:", re.IGNORECASE),
    re.compile(r"^[ \t>]*Reply message", re.IGNORECASE),
    re.compile(
        r"^[ \t>*]*-{2,}[ \t]*(?:Forwarded|Original|Reply) Message[ \t]*-{2,}", re.IGNORECASE
    ),
    re.compile(r"^[ \t>*]*-{2,}[ \t]*Message (?:transféré|d'origine)[ \t]*-{2,}", re.IGNORECASE),
    re.compile(
        r"^[ \t>*]*-{2,}[ \t]*(?:Ursprüngliche Nachricht|Weitergeleitete Nachricht)[ \t]*-{2,}",
        re.IGNORECASE,
    ),
    re.compile(r"^[ \t>*]*-{2,}[ \t]*Mensaje (?:original|reenviado)[ \t]*-{2,}", re.IGNORECASE),
    re.compile(r"^[ \t>*]*-{2,}[ \t]*Messaggio (?:originale|inoltrato)[ \t]*-{2,}", re.IGNORECASE),
    re.compile(r"^[ \t>*]*-{2,}[ \t]*Mensagem original[ \t]*-{2,}", re.IGNORECASE),
    re.compile(r"^[ \t>*]*-{2,}[ \t]*Oorspronkelijk bericht[ \t]*-{2,}", re.IGNORECASE),
    re.compile(r"^[ \t>*]*-{2,}[ \t]*Originalmeddelande[ \t]*-{2,}", re.IGNORECASE),
)
_HEADER_DATE_RE: Final = re.compile(
    r"^[ \t>*]*(?:Sendt|Sent|Date|Datum|Gesendet|Enviada em|Enviado|Fecha|Data|Inviato|"
    r"Envoyé|Verzonden|Skickat|Wysłano|Отправлено|Дата)[ \t*]*:.*\d+"
)
_HEADER_TEXT_RE: Final = re.compile(
    r"^[ \t>*]*(?:From|To|Cc|Reply-To|Subject|Fra|Til|Emne|De|À|A|Répondre à|Objet|Von|An|"
    r"Betreff|Para|Assunto|Asunto|Da|Risposta|Oggetto|Van|Aan|Onderwerp|Från|Till|Ämne|Od|Do|"
    r"Temat|От|Кому|Тема|Копия)[ \t*]*:.*\w+"
)


_WROTE_WORDS: Final = (
    r"(?:wrote|writes|schrieb|a écrit|escribió|ha scritto|escreveu|schreef|"
    r"het volgende geschreven|skrev|kirjoitti|napisał(?:\(a\))?|napsal|написал[аи]?|пише|"
    r"написав|írta|yazdı|έγραψε|写道|寫道|が書きました|님이 작성)"
)
_ATTRIBUTION_RE: Final = re.compile(rf"{_WROTE_WORDS}(?:\W.{{0,60}})?\s*:\s*$", re.IGNORECASE)
_DATE_EMAIL_COLON_RE: Final = re.compile(r"\d{4}.+<[^@<>\s]+@[^@<>\s]+\.[^@<>\s]+>\s*:?\s*$")
_TIME_OR_EMAIL_RE: Final = re.compile(r"@|\d{1,2}[:.h]\d{2}")
_DASHED_TITLE_RE: Final = re.compile(r"^[ \t>*]*-{2,}[ \t]*[^\W\d_][^\-]{2,40}?[ \t]*-{2,}[ \t*]*$")
_CONTENTLESS_RE: Final = re.compile(r"^[\s>]*$")


def _is_attribution(text: str) -> bool:
    text = text.strip()
    if len(text) > 350 or not text.endswith((":", ">")):
        return False
    if _ATTRIBUTION_RE.search(text) and _TIME_OR_EMAIL_RE.search(text):
        return True
    return bool(_DATE_EMAIL_COLON_RE.search(text)) and text.endswith(":")


_CONTINUES_RE: Final = re.compile(r"^[ \t]*(?:<|>[ \t]*:|[(\[\"]|[a-zà-ÿа-я]|\S+@)")
_LEAD_RE: Final = re.compile(r"^[ \t>]*(?:On|Am|Le|El|Il|Em|Op|Den|Dnia|W dniu)\s")
_STARTS_ATTRIBUTION_RE: Final = re.compile(
    rf"{_WROTE_WORDS}|<[^<>\s]+@|^[ \t>]*(?:On|Am|Le|El|Il|Em|Op|Den|Dnia|W dniu)\s",
    re.IGNORECASE,
)


def _join_lines(lines: Sequence[str]) -> str:
    out = ""
    for line in lines:
        piece = line.strip(" \t")
        if out and not out.endswith("<") and not piece.startswith(">"):
            out += " "
        out += piece
    return out


def _mark_attributions(lines: list[str], kinds: str) -> str:
    """Quote headers ("On <date>, <someone> wrote:"), also those that clients wrap over two
    or three lines, become 'b'."""
    marks = list(kinds)
    for end, line in enumerate(lines):
        wrapped_tail = line.strip().replace(" ", "") == ">:"
        if (marks[end] not in "tbh" and not wrapped_tail) or not line.rstrip().endswith((":", ">")):
            continue
        if marks[end] == "b" and _LEAD_RE.match(line):
            continue
        start = end
        while start > 0 and end - start < 2 and marks[start - 1] in "tbh":
            previous = lines[start - 1].rstrip()
            if not previous.strip():
                break
            if not (
                previous.endswith(("<", ","))
                or _CONTINUES_RE.match(lines[start])
                or _STARTS_ATTRIBUTION_RE.search(previous)
            ):
                break
            start -= 1
        # Prefer the longest window that reads as an attribution.
        for first in range(start, end + 1):
            if _is_attribution(_join_lines(lines[first : end + 1])):
                for i in range(first, end + 1):
                    marks[i] = "b"
                break
    return "".join(marks)


def _library_wrote_headers() -> tuple[re.Pattern[str], ...]:
    """mail-parser-reply's "On ... wrote:" headers (adds cs, da, ja, ko, sv, zh to ours)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from mailparser_reply.constants import MAIL_LANGUAGES
        except ImportError:  # pragma: no cover - a declared dependency
            return ()
    found: list[re.Pattern[str]] = []
    for spec in MAIL_LANGUAGES.values():
        pattern = spec.get("wrote_header") if isinstance(spec, dict) else None
        if isinstance(pattern, str):
            try:
                found.append(re.compile(pattern))
            except re.error:
                continue
    return tuple(found)


_LIBRARY_WROTE_HEADER_RES: Final = _library_wrote_headers()


def _line_kind(line: str) -> str:
    line = line[:_MAX_LINE_CHARS].replace("\u00a0", " ")
    if not line.strip():
        return "e"
    if _DELIM_LINE_RE.match(line) or _REPLY_ABOVE_RE.match(line):
        return "d"
    if any(r.match(line) for r in _MOBILE_SIGNATURE_RES):
        return "s"
    if (
        any(r.match(line) for r in _EMBEDDED_RES)
        or _DASHED_TITLE_RE.match(line)
        or any(r.match(line) for r in _LIBRARY_WROTE_HEADER_RES)
    ):
        return "b"
    if line.lstrip(" \t").startswith(">"):
        return "q"
    if _HEADER_DATE_RE.match(line) or _HEADER_TEXT_RE.match(line):
        return "h"
    return "t"


def visible_reply_text(text: str) -> str:
    """The new text of a reply, without quoted history, headers of quoted mail or signatures."""
    if not text or not text.strip():
        return ""
    # The new text is at the top; bound the work on pathological input (megabyte lines).
    text = text[:_MAX_SCAN_CHARS].replace("\r\n", "\n").replace("\r", "\n")
    for regex in _ON_DATE_WROTE_JOIN_RES:
        text = regex.sub(lambda m: re.sub(r"\n[\s>\-]*", " ", m.group(0)), text)
    lines = text.split("\n")
    labels: list[str] = []
    in_code = False
    for line in lines:
        if line.strip().startswith("```"):
            in_code = not in_code
            labels.append("t")
        else:
            labels.append("t" if in_code and line.strip() else _line_kind(line))
    kinds = _mark_attributions(lines, "".join(labels))

    def keep(indices: Iterable[int]) -> None:
        nonlocal lines, kinds
        kept = list(indices)
        lines = [lines[i] for i in kept]
        kinds = "".join(kinds[i] for i in kept)

    def drop(kind: str) -> None:
        keep(i for i, k in enumerate(kinds) if k != kind)

    # Everything after the first delimiter line ("--", "____", ...) goes.
    cut = kinds.find("d")
    if cut >= 0:
        keep(range(cut))
    # A mobile signature ends the new text: what follows is the quoted mail, unmarked.
    cut = kinds.find("s")
    if cut >= 0 and "t" in kinds[:cut]:
        keep(range(cut))
    drop("s")
    # A reply written below the quote it answers.
    if re.fullmatch(r"b+e*q[eq]*t[te]*", kinds):
        keep(range(kinds.find("t"), len(kinds)))
    # A quote header followed by no quote, or by a long quote: keep what comes before it.
    for pattern in (r"te*b[^q]*$", r"te*b[eqbh]*[te]*$"):
        found = re.search(pattern, kinds)
        if found:
            keep(range(found.start() + 1))
    # A quote header after the new text, followed mostly by quoted lines with a few
    # unquoted ones (wrapped quote lines, a footer): cut there too.
    found = re.search(r"te*b", kinds)
    if found:
        rest = kinds[found.end() :].replace("e", "")
        if rest and rest.count("q") >= 0.6 * len(rest):
            keep(range(found.start() + 1))
    drop("b")
    # Quoted headers that wrap over several lines.
    found = re.search(r"h+[hte]+h+e", kinds)
    if found:
        kinds = kinds[: found.start()] + "h" * (found.end() - found.start()) + kinds[found.end() :]
    found = re.search(r"t[eq]*h{3,}", kinds)
    if found:
        keep(range(found.start() + 1))
    drop("h")
    if "t" in kinds:
        found = re.search(r"[eq]+$", kinds)
        if found:
            keep(range(found.start()))
    result = "\n".join(line.rstrip() for line in lines).strip()
    result = _TEXT_CONTROL_RE.sub("", result)
    return "" if _CONTENTLESS_RE.match(result) else result


# --------------------------------------------------------------------------------------------
# Bounces (delivery status notifications)
# --------------------------------------------------------------------------------------------

_DAEMON_LOCAL_RE: Final = re.compile(
    r"^(?:mailer[-_.]?daemon|mail[-_.]?daemon|post[-_.]?master|mdaemon|mail[-_.]?delivery[-_.]?"
    r"(?:system|subsystem)?|bounces?|bounce[-_.]?handler|smtp[-_.]?gateway|"
    r"mail[-_.]?administrator|mailadmin|mail[-_.]?service|root)$",
    re.IGNORECASE,
)
_DAEMON_NAME_RE: Final = re.compile(
    r"mail(?:er)?[- ]?daemon|mail delivery (?:subsystem|system|service)|postmaster|"
    r"mail administrator|delivery status notification|mail system|internet mail delivery",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT_RE: Final = re.compile(
    r"undeliver|undelivered|non[- ]?deliver|nondeliverable|not delivered|"
    r"delivery (?:status notification|failure|failed|has failed|problem|notification|report|"
    r"incomplete|delay)|"
    r"returned mail|mail delivery fail|failure notice|failed delivery|could not be delivered|"
    r"returned to sender|mail system error|delivery notification|permanent error|"
    r"warning: (?:could not|message|delayed)|delayed mail|mail could not|"
    r"message (?:not delivered|delayed|status)|\bNDN\b|\bDSN\b|"
    r"unzustellbar|nicht zustellbar|non remis|non distribu|onbestelbaar|"
    r"no se puede entregar|no entregado|mancata consegna|não entregue|"
    r"mail delivery failure|delivery status|kan niet worden bezorgd|failed mail|"
    r"processing error|error sending|mail failure|undeliverable|delivery warning|"
    r"メールエラー|配信エラー|送信エラー|不達|エラー通知",
    re.IGNORECASE,
)
_WEAK_BOUNCE_SUBJECT_RE: Final = re.compile(r"rejected|bounced?\b|returned|failure", re.IGNORECASE)
_BOUNCE_BODY_RE: Final = re.compile(
    r"could ?n[o']t be delivered|was not delivered|wasn't delivered|has not been delivered|"
    r"not yet been delivered|delivery (?:to the following recipients? )?(?:has )?failed|"
    r"delivery has failed|failed to deliver|unable to deliver|cannot deliver|can't deliver|"
    r"permanent (?:fatal )?error|permanent failure|temporary failure|undeliverable|"
    r"the following (?:addresses|address|recipients?)(?: had| has)? (?:permanent )?"
    r"(?:fatal )?(?:errors?|failed)|returned to (?:the )?sender|"
    r"message could not|did not reach|couldn't be delivered|delivery to .{0,80} failed|"
    r"mail delivery software|qmail-send program|transcript of session|"
    r"smtp error from remote|recipient address rejected|user unknown|unknown user|"
    r"no such (?:user|mailbox|recipient|address)|mailbox (?:is )?(?:unavailable|full)|"
    r"over quota|quota exceeded|host unknown|this is the mail system|"
    r"i'm afraid i wasn't able to deliver|error (?:occurred|has occurred) while|"
    r"delivery (?:is )?delayed|will (?:continue|keep) trying|retry (?:time|timeout)|"
    r"has been delayed|is delayed|could not deliver|not be delivered|delivery failure|"
    r"message was rejected|rejected your message|\b5\d\d[ -]\d\.\d{1,3}\.\d{1,3}\b|"
    r"\b5\.\d{1,3}\.\d{1,3}\b|\b55\d\b|address rejected|rejected by|"
    r"nicht zugestellt|konnte nicht zugestellt|non (?:è|e) stato consegnato|"
    r"n'a pas pu être (?:remis|distribu)|no (?:se )?(?:ha )?pudo (?:ser )?entregar|"
    r"não (?:pôde|foi possível) (?:ser )?entregue|error delivering|delivering your (?:mail|"
    r"message)|trouble delivering|permanent errors?|failure reasons|malformed (?:recipient )?"
    r"address|dns lookup failure|invalid (?:user|recipient) address|no such user|"
    r"送信できませんでした|配信できませんでした|届きませんでした|was aborted after|"
    r"following recipients? (?:failed|was|were|could)|account (?:is|has been) disabled|"
    r"has been postponed",
    re.IGNORECASE,
)
_ORIGINAL_MARKER_RE: Final = re.compile(
    r"^[ \t>|*]*(?:-{2,}[ \t]*)?(?:"
    r"original message(?: follows| headers)?|unsent message(?: below| follows)?|"
    r"returned message|message headers follow|"
    r"below (?:this line )?is (?:a copy of )?(?:the )?(?:original )?message|"
    r"(?:this is )?(?:a )?copy of (?:the|your) (?:original )?message|"
    r"the original message (?:follows|headers)|"
    r"included is a copy|original message header|"
    r"your message (?:reads|follows)|headers of (?:the|your) (?:original )?message|"
    r"the header of (?:the|your) (?:original )?message|"
    r"content-type: message/rfc822|text of the message|message text follows|"
    r"\[?original message (?:was )?attached\]?"
    r")",
    re.IGNORECASE,
)
_STATUS_RE: Final = re.compile(r"(?<![\d.])([45])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
_DSN_STATUS_RE: Final = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
_REPLY_CODE_RE: Final = re.compile(
    r"(?<![\d.\-+:/])([245][0-9][0-9])(?=[ \t]|-\d\.\d|-[A-Za-z]|$)", re.MULTILINE
)
_EMBEDDED_HEADERS_START_RE: Final = re.compile(
    r"^(?:Return-Path|Received|Message-Id|DKIM-Signature|X-[\w-]+|From|Date|Subject|To|"
    r"MIME-Version|Content-Type):\s",
    re.IGNORECASE,
)


@dataclass(slots=True)
class _Report:
    """What the bounce detectors work on."""

    notice: str  # the human-readable notification, without the returned original
    dsn_groups: list[dict[str, str]]
    dsn_report: bool  # multipart/report; report-type=delivery-status or a status part
    originals: list[Message]  # headers of the returned original message(s)
    original_text: str  # text after an "original message follows" marker


def _header_block_fields(text: str) -> list[dict[str, str]]:
    """Parse `Name: value` blocks separated by blank lines (a delivery-status body)."""
    groups: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last: str | None = None
    for raw_line in text.replace("\r\n", "\n").split("\n"):
        if not raw_line.strip():
            if current:
                groups.append(current)
            current, last = {}, None
            continue
        if raw_line[:1] in (" ", "\t") and last:
            current[last] += " " + raw_line.strip()
            continue
        name, sep, value = raw_line.partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9\-]{0,60}", name.strip()):
            last = None
            continue
        last = name.strip().lower()
        if last in ("final-recipient", "original-recipient") and (
            last in current
            or ("final-recipient" in current and ("action" in current or "status" in current))
        ):
            # Some MTAs leave out the blank line between recipients.
            groups.append(current)
            current = {}
        current.setdefault(last, value.strip())
    if current:
        groups.append(current)
    return groups


def _delivery_status_text(part: Message) -> str:
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks: list[str] = []
        for block in payload:
            if isinstance(block, Message):
                blocks.append(
                    "\n".join(
                        f"{key}: {_decode_header_value(value)}" for key, value in block.items()
                    )
                )
        return "\n\n".join(blocks)
    return _part_text(part)


def _report(msg: Message, parsed: ParsedMessage) -> _Report:
    notice_parts: list[str] = []
    groups: list[dict[str, str]] = []
    dsn_report = False
    try:
        report_type = str(msg.get_param("report-type") or "").lower()
    except Exception:
        report_type = ""
    if _content_type(msg) == "multipart/report" and report_type == "delivery-status":
        dsn_report = True

    def visit(part: Message, depth: int) -> None:
        nonlocal dsn_report
        if depth > 30:
            return
        ctype = _content_type(part)
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            dsn_report = True
            text = _delivery_status_text(part)
            groups.extend(_header_block_fields(text))
            notice_parts.append(text)
            return
        if ctype in (
            "message/rfc822",
            "message/global",
            "text/rfc822-headers",
            "message/rfc822-headers",
            "text/rfc822-header",
        ):
            return
        if part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):
                for sub in payload:
                    if isinstance(sub, Message):
                        visit(sub, depth + 1)
            return
        if ctype == "text/html":
            notice_parts.append(html_to_text(_part_text(part)))
        elif ctype.startswith("text/") or ctype == "application/octet-stream" or depth == 0:
            if ctype == "application/octet-stream" and _is_attachment(part):
                return
            notice_parts.append(_part_text(part))

    visit(msg, 0)
    notice = "\n\n".join(notice_parts)[:_MAX_SCAN_CHARS]
    original_text = ""
    lines = notice.split("\n")
    for index, line in enumerate(lines):
        if index > 0 and _ORIGINAL_MARKER_RE.match(line):
            original_text = "\n".join(lines[index + 1 :])
            notice = "\n".join(lines[:index])
            break
    else:
        # A notice followed directly by the returned headers ("Received: ...").
        for index in range(2, len(lines)):
            if (
                not lines[index - 1].strip()
                and re.match(r"^(?:Return-Path|Received):\s", lines[index], re.IGNORECASE)
                and _EMBEDDED_HEADERS_START_RE.match(
                    lines[index + 1] if index + 1 < len(lines) else ""
                )
                is not None
            ):
                original_text = "\n".join(lines[index:])
                notice = "\n".join(lines[:index])
                break
    if not groups:
        # DSN fields pasted into a text part (Amazon WorkMail and others).
        for group in _header_block_fields(notice):
            if ("final-recipient" in group or "original-recipient" in group) and (
                "action" in group or "status" in group or "diagnostic-code" in group
            ):
                groups.append(group)
    if not groups:
        # A delivery report forwarded inside another message (a relay's wrapper).
        for part in _walk(msg, stop_at_messages=True):
            if part is msg or _content_type(part) not in ("message/rfc822", "message/global"):
                continue
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                for sub in _walk(inner[0]):
                    if _content_type(sub) in (
                        "message/delivery-status",
                        "message/global-delivery-status",
                    ):
                        groups.extend(_header_block_fields(_delivery_status_text(sub)))
                        dsn_report = True
            if groups:
                break
    originals = _embedded_headers(msg)
    if original_text.strip():
        block = _parse_header_block(original_text.strip("\n"))
        if block.keys():
            originals.append(block)
    return _Report(notice, groups, dsn_report, originals, original_text)


def _dsn_address(value: str | None) -> str | None:
    if not value:
        return None
    _kind, sep, rest = value.partition(";")
    rest = (rest if sep else value).strip().strip("<>").strip()
    if "@" in rest and not any(ch.isspace() for ch in rest) and len(rest) <= 320:
        # Quoted or odd local parts ("a..b"@x) are legal here; keep them as written.
        found = normalize_address(rest)
        return (
            found
            if found
            and found.endswith(rest.lower().split("@")[-1])
            and (len(found) >= len(rest) - 2)
            else rest.lower()
        )
    return normalize_address(rest)


def _status_of(text: str | None) -> str | None:
    """The status of a DSN `Status:` field (2.x.x allowed there, not in free text)."""
    if not text:
        return None
    found = _DSN_STATUS_RE.search(text)
    return ".".join(found.groups()) if found else None


def _specific_status(*texts: str | None) -> str | None:
    """The most specific enhanced status code among several texts (x.0.0 is the least)."""
    best: str | None = None
    for text in texts:
        if not text:
            continue
        for found in _STATUS_RE.finditer(text):
            status = ".".join(found.groups())
            if best is None or (best.endswith(".0.0") and not status.endswith(".0.0")):
                best = status
            if best and not best.endswith(".0.0"):
                return best
    return best


def _reply_code_of(text: str | None) -> str | None:
    if not text:
        return None
    for found in _REPLY_CODE_RE.finditer(text):
        code = found.group(1)
        if code[0] in "45":
            return code
    return None


# Reasons. Order matters: the first family whose words appear wins, so the specific
# non-address reasons (full mailbox, spam, policy) come before "user unknown", whose words
# show up in many generic rejections.
_REASON_PATTERNS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("host_unknown", r"account or domain may not exist"),
        (
            # About us, not the recipient: our sender address, our IP, our host name.
            "rejected",
            r"domain of sender address|sender address rejected|sender (?:domain|address) "
            r".{0,30}(?:does not exist|invalid|unknown|not found|rejected)|after mail from|"
            r"in reply to mail from|my name was rejected|\b(?:helo|ehlo)\b",
        ),
        (
            "blocked",
            r"\bptr\b|reverse (?:dns|lookup)|\brdns\b|blacklisted|blocklisted|spamhaus|"
            r"\bdnsbl\b|\brbl\b|banned sending ip|sending ip|(?:your|the) ip(?: address)? "
            r"(?:\S+ )?(?:is|has been|was)|ip address .{0,40}(?:block|listed|reject|banned)|"
            r"too many recipients|sending limit|rate limit|recipient preferences",
        ),
        (
            "network",
            r"name service error|malformed or unexpected name server|host not found, try again|"
            r"temporary (?:dns|lookup|name)",
        ),
        (
            # Phrases that say "no such recipient" in words other reasons would claim.
            "user_unknown",
            r"recipient address rejected(?::\s*(?:access denied|user unknown|unknown user|"
            r"undeliverable address|invalid recipient|no such user))?\s*(?:\.|$|\[)|"
            r"invalid final delivery userid|recipient name is not recognized|"
            r"not listed in (?:the )?(?:domino )?(?:directory|public name)|no valid recipients?|"
            r"unknown recipient|recipient unknown|user unknown|unknown user|no such user|"
            r"please check if (?:the )?address is correct|"
            r"and other recipients in the same domain",
        ),
        (
            "mailbox_full",
            r"mailbox (?:is )?full|mail ?box full|mailbox size limit|over ?quota|quota (?:exceeded|"
            r"exceed|full)|exceeded (?:storage|(?:the )?quota|.{0,20}quota)|insufficient (?:disk|"
            r"storage|system storage)|user(?:'s)? (?:mailbox|disk) (?:is )?full|"
            r"out of (?:disk|storage) space|storage (?:limit|quota)|full mailbox|"
            r"mailbox (?:has )?exceeded|too much mail|exceeds? (?:his|her|the user's) "
            r"(?:storage|quota)|disk quota|postfach (?:ist )?voll|boîte (?:aux lettres )?pleine|"
            r"casilla llena|mailfolder is full|\bquota\b",
        ),
        (
            "host_unknown",
            r"host (?:or domain name )?(?:not found|unknown)|unknown host|host not found|"
            r"domain (?:not found|does not exist|name not found|unknown|lookup failed)|"
            r"name or service not known|no mx (?:record|host)|mx (?:record )?(?:not found|lookup)|"
            r"unrouteable mail domain|unrouteable domain|no such domain|nxdomain|"
            r"domain (?:is )?(?:invalid|not valid|not reachable|unreachable)|invalid domain|"
            r"bad domain|"
            r"dns (?:error|lookup fail)|unresolvable|could not be resolved|"
            r"host (?:name )?lookup failed|illegal host|hostname (?:not found|unknown)|"
            r"recipient domain .{0,40}(?:not exist|invalid)|domain .{0,40} does not exist|"
            r"(?:^|\s)[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,} does not exist",
        ),
        (
            "not_accept",
            r"does not accept (?:e?-?mail|messages)|not accepting (?:\w+ )?(?:mail|messages)|"
            r"null mx|accepts no mail|domain .{0,60} does not receive|no longer accepts|"
            r"no smtp service|no mx (?:record )?(?:found|for)",
        ),
        (
            "has_moved",
            r"has moved|has been moved|address (?:has )?changed|is now at|new (?:e-?mail )?address "
            r"is|moved to|forwarding address",
        ),
        (
            "suspended",
            r"account (?:has been |is )?(?:disabled|suspended|deactivated|inactive|locked|"
            r"expired|frozen|blocked)|mailbox (?:has been |is )?(?:disabled|suspended|inactive|"
            r"deactivated|locked|frozen)|(?:disabled|suspended|inactive|deactivated|locked|frozen)"
            r" (?:account|mailbox|user)|user (?:account )?(?:is )?(?:disabled|suspended|"
            r"inactive)|temporarily (?:disabled|suspended)|not active|has been (?:disabled|"
            r"suspended)|is (?:currently )?(?:disabled|inactive|suspended)",
        ),
        (
            "spam",
            r"spam|junk mail|\bubce?\b|blacklist|blocklist|block list|black list|spamhaus|"
            r"\bdnsbl\b|\brbl\b|(?<!not )listed (?:in|on|at|by)|reputation|bulk mail|virus|malware|"
            r"content (?:rejected|filter)|message content|looks like|suspicious",
        ),
        (
            "policy",
            r"\bpolicy\b|policies|not authorized|not permitted|relay(?:ing)? (?:denied|not "
            r"permitted|access denied|prohibited)|unable to relay|relay not|access denied|"
            r"authentication (?:required|failed)|\bspf\b|\bdkim\b|\bdmarc\b|sender (?:address )?"
            r"(?:rejected|denied|verify|not)|ptr|reverse (?:dns|lookup)|rdns|"
            r"not (?:on|in) (?:the )?(?:allowed|white|accept)|refused|prohibited|"
            r"restricted|denied|tls|encryption|message (?:size|too (?:big|large))|"
            r"too (?:big|large)|size (?:limit|exceeds)|exceeds? (?:the )?(?:maximum|size)|"
            r"rate limit|too many|try again later|greylist|gr[ae]ylisted",
        ),
        (
            "filtered",
            r"filter|blocked|rejected by (?:the )?(?:recipient|user)|recipient (?:rejected|"
            r"refused)|does not (?:want|wish) to receive|not (?:accept|allow)ed from|"
            r"domain (?:filter|blocked)",
        ),
        (
            "user_unknown",
            r"user (?:unknown|not found|does not exist|doesn't exist|not known|invalid|name is "
            r"not valid)|unknown (?:user|recipient|address|local|mailbox|account|alias)|"
            r"no such (?:user|mailbox|recipient|person|address|account|local user)|"
            r"(?:mailbox|recipient|address|account|addressee|user) (?:(?:was|is) )?"
            r"(?:not found|unknown|unavailable|does ?n[o']t exist|not exist|invalid|"
            r"is not valid|not valid)|"
            r"invalid (?:recipient|mailbox|address|user|account)|bad (?:destination )?"
            r"(?:mailbox|recipient|address)|does not exist|doesn't exist|not a valid "
            r"(?:mailbox|user|recipient|address)|unrouteable address|not listed in|"
            r"no mailbox|mailbox not (?:found|available)|"
            r"recipientnotfound|recipient not found|invalid address|address not present|"
            r"not our customer|no account|no longer (?:valid|available|active|exists?)|"
            r"nonexist|non-existent|nicht vorhanden|unbekannt|inconnu|desconocido|sconosciuto|"
            r"destin[ae]tario (?:inexistente|sconosciuto|desconhecido)|"
            r"mailbox unavailable|user doesn't have|this user doesn't|isn't a valid",
        ),
        (
            "expired",
            r"retry (?:time(?:out)?|period) (?:exceeded|expired)|too long|gave up|giving up|"
            r"could not be delivered (?:for|within)|delivery time expired|expired|"
            r"timed? ?out|time-?out|maximum time|delivery (?:is )?delayed|has been delayed|"
            r"will (?:continue|keep) trying|deferred|not yet been delivered",
        ),
        (
            "network",
            r"connection (?:refused|reset|timed out|lost|closed|failed)|network|unreachable|"
            r"no route|could not connect|unable to connect|lost connection|too many hops|"
            r"loop|routing|protocol",
        ),
        ("system", r"system (?:error|full|not available)|internal (?:server )?error|local error"),
    )
)
_HARD_REASONS: Final = frozenset({"user_unknown", "host_unknown", "has_moved", "not_accept"})
# Reasons about the mailbox itself, told by the server that holds it.
_ADDRESS_REASONS: Final = frozenset({"user_unknown", "has_moved"})
_STATUS_REASONS: Final = {
    "5.1.1": "user_unknown",
    "5.1.10": "user_unknown",
    "5.1.2": "host_unknown",
    "5.1.6": "has_moved",
    "5.2.2": "mailbox_full",
    "4.2.2": "mailbox_full",
    "5.2.1": "suspended",
    "5.2.3": "policy",
    "5.3.4": "policy",
    "5.7.1": "policy",
    "5.4.4": "host_unknown",
    "5.1.3": "user_unknown",
}


_DATA_PHASE_RE: Final = re.compile(
    r"end of data|after data|in reply to (?:end of )?data|final data|>>> data|"
    r"smtp command data|after end of data|data command",
    re.IGNORECASE,
)
_RCPT_PHASE_RE: Final = re.compile(
    r"rcpt to|in reply to rcpt|after rcpt|recipient address rejected|rcpt:", re.IGNORECASE
)


def _reason_by_words(text: str) -> str | None:
    if not text:
        return None
    lowered = text.lower()
    return next((name for name, regex in _REASON_PATTERNS if regex.search(lowered)), None)


def _failure_reason(texts: Sequence[str], status: str | None) -> str:
    """The reason family of one failure. The closest text speaks first (the diagnostic, then
    the lines about this recipient, then the whole notice); a specific address status code
    (5.1.1, 5.1.2, 5.1.6) wins over vaguer words."""
    by_status = _STATUS_REASONS.get(status or "")
    by_words = next((r for r in (_reason_by_words(t) for t in texts) if r), None)
    joined = " ".join(texts)
    if by_words in ("rejected", "blocked"):
        reason = by_words
    elif by_status in ("user_unknown", "host_unknown", "has_moved") and by_words != "mailbox_full":
        reason = by_status
    else:
        reason = by_words or by_status or "unknown"
    # "User unknown" answered to the message body rather than the recipient is a filter
    # (the recipient exists and refuses this mail).
    if (
        reason == "user_unknown"
        and not (status or "").startswith(("5.1.", "4.1."))
        and not re.search(r"invalid recipient|doesn't have a|does not exist", joined, re.I)
        and _DATA_PHASE_RE.search(joined)
        and not _RCPT_PHASE_RE.search(joined)
    ):
        reason = "filtered"
    return reason


# Provider rules: wordings whose meaning only the provider that writes them defines. A rule
# applies when the host reporting the failure, or the remote host that refused the mail,
# belongs to the provider (Reporting-MTA, Remote-MTA, the bounce's sender domain).
_PROVIDER_REASONS: Final[
    tuple[tuple[re.Pattern[str], tuple[tuple[str, re.Pattern[str]], ...]], ...]
] = (
    (
        # Symantec Email Security.cloud (formerly MessageLabs) refuses unknown recipients
        # with its own reply code: "542 <address> Rejected".
        re.compile(r"(?:^|\.)messagelabs\.com$"),
        (("user_unknown", re.compile(r"\b542\b[^\n]{0,120}\brejected\b|no such user", re.I)),),
    ),
)


def _provider_rules(hosts: Iterable[str]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    rules: list[tuple[str, re.Pattern[str]]] = []
    for host in hosts:
        for host_re, host_rules in _PROVIDER_REASONS:
            if host_re.search(host) and host_rules[0] not in rules:
                rules.extend(host_rules)
    return tuple(rules)


def _provider_reason(
    rules: Sequence[tuple[str, re.Pattern[str]]], texts: Sequence[str]
) -> str | None:
    for text in texts:  # the closest text first, as for the generic reasons
        for reason, regex in rules:
            if regex.search(text):
                return reason
    return None


def _report_hosts(parsed: ParsedMessage, groups: Sequence[Mapping[str, str]]) -> list[str]:
    """The hosts that reported or caused a failure, lower case, without the `dns;` type."""
    hosts: list[str] = []
    for group in groups:
        for name in ("reporting-mta", "remote-mta", "received-from-mta"):
            value = group.get(name, "").partition(";")
            host = (value[2] if value[1] else value[0]).strip().strip("[]").lower()
            if host and " " not in host and host not in hosts:
                hosts.append(host)
    sender_domain = (parsed.from_address or "").rpartition("@")[2]
    if sender_domain and sender_domain not in hosts:
        hosts.append(sender_domain)
    return hosts


_GAVE_UP_RE: Final = re.compile(
    r"not going to try again|giving up|gave up|will not be retried|permanent (?:fatal )?error|"
    r"permanent(?:ly)? fail|"
    r"no (?:further|more) (?:attempts|retries)",
    re.IGNORECASE,
)
_RETRYING_RE: Final = re.compile(
    r"will (?:continue|keep) (?:trying|to try)|will be retried|will retry|"
    r"not yet been delivered|temporary failure report|still (?:trying|in the queue)|"
    r"delivery (?:is |has been )?delayed|\bdeferred\b|\bwarning:",
    re.IGNORECASE,
)


def _is_permanent(
    status: str | None, reply_code: str | None, action: str | None, texts: Sequence[str]
) -> bool:
    """Whether the MTA has given up on this recipient (as opposed to still retrying).
    The closest text (diagnostic, then this recipient's lines, then the notice) decides."""
    action = (action or "").lower()
    if action.startswith(("delayed", "delivered", "deliverable", "relayed", "expanded")):
        return False
    if action.startswith("failed"):
        return True
    # A 4xx is only the last attempt's answer: the notice's "I've given up" is the verdict.
    transient = (status or reply_code or "").startswith("4")
    for text in texts:
        if _GAVE_UP_RE.search(text):
            return True
        if _RETRYING_RE.search(text):
            return False
        if (status or reply_code) and not transient:
            break
    if status:
        return status.startswith("5")
    if reply_code:
        return reply_code.startswith("5")
    return not re.search(r"\btemporar|try again later", " ".join(texts), re.IGNORECASE)


_NOT_RECIPIENT_LINE_RE: Final = re.compile(
    r"^[ \t>]*(?:from|sender|reply-to|return-path|message-id|references|in-reply-to|"
    r"x-postfix-sender|x-original-sender|envelope-from|arrival-date|reporting-mta|"
    r"received-from-mta|dkim|x-[\w-]*sender|original-envelope-id)\s*[:=]|"
    r"\b(?:contact|questions?|assistance|help desk|helpdesk|administrator at|"
    r"please (?:send|write|email|e-mail|mail)|envelope-from|mail from:|sender address)\b",
    re.IGNORECASE,
)
_SERVICE_LOCAL_RE: Final = re.compile(
    r"^(?:support|help|abuse|webmaster|hostmaster|noreply|no-reply|donotreply|do-not-reply|"
    r"feedback|security|admin|administrator)$",
    re.IGNORECASE,
)
_RECIPIENT_CONTEXT_RE: Final = re.compile(
    r"\d{3}|\d\.\d|unknown|fail|reject|refus|invalid|not |n't|no such|error|denied|"
    r"undeliver|deliver|unable|rcpt|recipient|mailbox|user|quota|full|exist|blocked|"
    r"to:|:\s*$|\.{3}|expired|delay",
    re.IGNORECASE,
)


def _address_spans(line: str) -> list[tuple[str, int]]:
    spans: list[tuple[str, int]] = []
    for found in _ADDR_RE.finditer(line):
        before = line[: found.start()]
        # Addresses inside URLs or Message-IDs are not recipients.
        if re.search(r"(?:https?://|www\.)\S*$", before) or re.search(r"[?&=/]$", before):
            continue
        if re.search(r"(?:message-?id|msgid|\bid)[\s:=<]*$", before, re.IGNORECASE):
            continue
        spans.append((found.group(1).lower().strip("."), found.start()))
    return spans


_ALIAS_RE: Final = re.compile(
    r"([^\s<>()]+@[^\s<>()]+)>?\s*\((?:expanded|generated) from:?\s*<?"
    r"([^\s<>()]+@[^\s<>()]+?)>?\)",
    re.IGNORECASE,
)


def _aliases(notice: str) -> dict[str, str]:
    """ "a@x (expanded from: b@y)": the address we sent to is b@y."""
    bounded = "\n".join(line[:_MAX_LINE_CHARS] for line in notice.split("\n"))
    return {m.group(1).lower(): m.group(2).lower() for m in _ALIAS_RE.finditer(bounded)}


def _text_recipients(notice: str, exclude: set[str]) -> list[tuple[str, str]]:
    """(address, the text about it) pairs from a free-text delivery failure notice."""
    lines = [line[:_MAX_LINE_CHARS] for line in notice[:_MAX_SCAN_CHARS].split("\n")]
    hits: list[tuple[int, str, bool]] = []  # line index, address, strong
    for index, line in enumerate(lines):
        if _NOT_RECIPIENT_LINE_RE.search(line):
            continue
        for address, start in _address_spans(line):
            local = address.split("@", 1)[0]
            if (
                address in exclude
                or _DAEMON_LOCAL_RE.match(local)
                or _SERVICE_LOCAL_RE.match(local)
            ):
                continue
            head = line[:start].strip(" \t<\"'(>[")
            strong = (
                not head
                or bool(
                    re.search(
                        r"(?:rcpt to|to|for|recipient|address|user|mailbox)\s*:?\s*<?$",
                        head,
                        re.IGNORECASE,
                    )
                )
                or bool(_RECIPIENT_CONTEXT_RE.search(line))
            )
            hits.append((index, address, strong))
    if any(strong for _i, _a, strong in hits):
        hits = [hit for hit in hits if hit[2]]
    aliases = _aliases(notice)
    if aliases:
        hits = [(i, aliases.get(a, a), strong) for i, a, strong in hits]
    found: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    starts = [index for index, _address, _strong in hits]
    for number, (index, address, _strong) in enumerate(hits):
        following = [s for s in starts[number + 1 :] if s > index]
        stop = min(following[0] if following else len(lines), index + 14)
        line = lines[index]
        tail = line[line.lower().find(address) + len(address) :] if address in line.lower() else ""
        if len(re.sub(r"[^A-Za-z]", "", tail)) >= 8:
            # "550 <a@b>... User unknown": the line says it all; only indented lines continue.
            stop = index + 1
            while stop < len(lines) and lines[stop][:1] in (" ", "\t") and lines[stop].strip():
                if stop in starts:
                    break
                stop += 1
        block = "\n".join(lines[index : max(stop, index + 1)])
        if address in seen:
            position = seen[address]
            found[position] = (address, found[position][1] + "\n" + block)
            continue
        seen[address] = len(found)
        found.append((address, block))
    return found


def _flufl_recipients(msg: Message) -> tuple[list[str], list[str]]:
    """flufl.bounce's (temporary, permanent) failures; its detectors cover many old MTAs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from flufl.bounce import all_failures
        except ImportError:  # pragma: no cover - a declared dependency
            return [], []
    logger = logging.getLogger("flufl.bounce")
    previous = logger.disabled
    logger.disabled = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            temporary, permanent = all_failures(msg)
    except Exception:  # third-party heuristics on hostile input
        return [], []
    finally:
        logger.disabled = previous

    def norm(values: Iterable[object]) -> list[str]:
        out: list[str] = []
        for value in values:
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            address = normalize_address(text)
            if address and address not in out:
                out.append(address)
        return out

    return norm(temporary), norm(permanent)


def _scrub(text: str | None) -> str:
    """Reason text without addresses and links (an address like filtered@x says nothing)."""
    if not text:
        return ""
    text = _WS_RE.sub(" ", text)
    return _ADDR_RE.sub(" ", re.sub(r"(?:https?://|www\.)\S+", " ", text))


def _make_recipient(
    address: str,
    *,
    block: str,
    context: str = "",
    status: str | None = None,
    diagnostic: str | None = None,
    action: str | None = None,
    final: str | None = None,
    transient_hint: bool | None = None,
    provider_rules: Sequence[tuple[str, re.Pattern[str]]] = (),
) -> BouncedRecipient:
    """One failed recipient: `block` is the text about it, `context` the whole notice."""
    specific = _specific_status(diagnostic, block)
    if (
        status is None
        or status.endswith(".0.0")
        or (
            specific
            and specific[0] == status[0]
            and not specific.endswith(".0.0")
            and diagnostic
            and specific in diagnostic
        )
    ):
        status = specific or status or _specific_status(context)
    reply_code = _reply_code_of(diagnostic) or _reply_code_of(block) or _reply_code_of(context)
    texts = [t for t in (_scrub(diagnostic), _scrub(block), _scrub(context)) if t.strip()]
    permanent = _is_permanent(status, reply_code, action, texts)
    if transient_hint is True and not status:
        permanent = False
    reason = _provider_reason(provider_rules, texts) or _failure_reason(texts, status)
    if not permanent and reason == "unknown":
        joined = " ".join(texts)
        reason = "expired" if re.search(r"expire|gave up|too long", joined, re.I) else "temporary"
    # Hard: the MTA has given up (a final action, never a delay notice) for a reason that says
    # the address is dead. The reason decides over the code of the last attempt: a receiving
    # server answering "450 4.1.1 User unknown" has said the mailbox does not exist. A 4.x.x
    # about the domain (no MX, DNS errors) stays soft: DNS heals, and the MTA said temporary.
    transient_code = (status or "").startswith("4") or (
        not status and (reply_code or "").startswith("4")
    )
    hard = permanent and reason in (_ADDRESS_REASONS if transient_code else _HARD_REASONS)
    clean_diagnostic = _clean(diagnostic, 1000) if diagnostic else None
    if not clean_diagnostic:
        lines = [line.strip() for line in (block or context).split("\n") if line.strip()]
        clean_diagnostic = _clean(" ".join(lines[:6]), 1000) or None
    return BouncedRecipient(
        address=address,
        status=status,
        reply_code=reply_code,
        reason=reason,
        action=(action.split()[0].lower() if action else None),
        permanent=permanent,
        hard=hard,
        diagnostic=clean_diagnostic,
        final_address=final if final and final != address else None,
    )


def _is_daemon_sender(parsed: ParsedMessage) -> bool:
    address = parsed.from_address or ""
    local = address.split("@", 1)[0]
    if _DAEMON_LOCAL_RE.match(local):
        return True
    if parsed.from_name and _DAEMON_NAME_RE.search(parsed.from_name):
        return True
    return_path = parsed.header("Return-Path") or ""
    return (
        return_path.replace(" ", "") in ("<>", "")
        and "Return-Path" in {k for k, _ in parsed.headers}
        and bool(_DAEMON_NAME_RE.search(parsed.header("From") or ""))
    )


_SUCCESS_ACTIONS: Final = ("delivered", "deliverable", "relayed", "expanded")


def _ses_bounce(notice: str) -> list[BouncedRecipient] | None:
    """An Amazon SES bounce notification (JSON, possibly inside an SNS envelope)."""
    start = notice.find("{")
    if start < 0 or ('"notificationType"' not in notice and '\\"notificationType' not in notice):
        return None
    import json

    data: object = None
    for candidate in (notice[start:], notice[start:].replace("\n", "")):
        try:
            data, _end = json.JSONDecoder().raw_decode(candidate)
            if isinstance(data, dict) and isinstance(data.get("Message"), str):
                data = json.loads(data["Message"])
            break
        except ValueError:
            data = None
    if data is None:
        return None
    if not isinstance(data, dict) or data.get("notificationType") != "Bounce":
        return None
    bounce = data.get("bounce")
    if not isinstance(bounce, dict):
        return None
    transient = str(bounce.get("bounceType", "")).lower() == "transient"
    out: list[BouncedRecipient] = []
    for item in bounce.get("bouncedRecipients") or []:
        if not isinstance(item, dict):
            continue
        address = normalize_address(str(item.get("emailAddress", "")))
        if not address:
            continue
        out.append(
            _make_recipient(
                address,
                block="",
                status=_status_of(str(item.get("status", ""))) or None,
                diagnostic=str(item.get("diagnosticCode", "")) or None,
                action="delayed" if transient else (str(item.get("action", "")) or None),
            )
        )
    return out


def _analyze_bounce(
    parsed: ParsedMessage, signals: list[str]
) -> tuple[bool, list[BouncedRecipient]]:
    """(is a delivery failure report, its failed recipients)."""
    msg = parsed.message
    report = _report(msg, parsed)
    groups = [g for g in report.dsn_groups if "final-recipient" in g or "original-recipient" in g]
    if groups:
        actions = [g.get("action", "").lower() for g in groups]
        if all(a.startswith(_SUCCESS_ACTIONS) for a in actions if a) and all(actions):
            signals.append("delivery-status report: every recipient delivered")
            return False, []
    daemon = _is_daemon_sender(parsed)
    rules = _provider_rules(_report_hosts(parsed, report.dsn_groups))
    ses = _ses_bounce(report.notice)
    if ses:
        signals.append("Amazon SES bounce notification")
        return True, ses
    null_sender = (parsed.header("Return-Path") or "x").replace(" ", "") == "<>"
    bounce_subject = bool(_BOUNCE_SUBJECT_RE.search(parsed.subject)) or (
        (daemon or null_sender) and bool(_WEAK_BOUNCE_SUBJECT_RE.search(parsed.subject))
    )
    bounce_body = bool(_BOUNCE_BODY_RE.search(report.notice[:20000]))
    failed_header = [
        a for v in parsed.header_values("X-Failed-Recipients") for a in _addresses([v])
    ]
    auto_submitted = (parsed.header("Auto-Submitted") or "").lower()
    exclude = {a for a in (parsed.from_address,) if a}
    exclude.update(parsed.to)
    exclude.update(parsed.reply_to)
    for original in report.originals:
        exclude.update(_addresses([_decode_header_value(original.get("From", ""))]))
    return_path = normalize_address(parsed.header("Return-Path"))
    if return_path:
        exclude.add(return_path)

    structured = bool(groups) or report.dsn_report or bool(failed_header)
    # A person answering in the thread ("Re: ...", from a person's address) is never taken
    # for a delivery failure on words alone, whatever the words.
    human_reply = bool(_REPLY_PREFIX_RE.match(parsed.subject)) and not (
        daemon or null_sender or bounce_subject
    )
    likely = structured or (
        not human_reply and (daemon or bounce_subject or (bounce_body and null_sender))
    )
    if not likely:
        return False, []
    recipients: list[BouncedRecipient] = []
    if groups:
        signals.append("delivery-status report (RFC 3464)")
        for group in groups:
            action = group.get("action", "")
            if action.lower().startswith(_SUCCESS_ACTIONS):
                continue
            final = _dsn_address(group.get("final-recipient"))
            sent_to = _dsn_address(group.get("original-recipient"))
            if sent_to and not _ADDR_RE.fullmatch(sent_to):
                sent_to = None
            # The address we sent to is the Original-Recipient; Final-Recipient may be an
            # internal alias the receiving system expanded it to.
            address = sent_to or final
            if not address or any(r.address == address for r in recipients):
                continue
            diagnostic = group.get("diagnostic-code")
            if diagnostic:
                diagnostic = diagnostic.partition(";")[2].strip() or diagnostic
            block = next(
                (b for a, b in _text_recipients(report.notice, exclude) if a in (final, sent_to)),
                "",
            )
            recipients.append(
                _make_recipient(
                    address,
                    block=block,
                    context="" if len(groups) > 1 else report.notice,
                    status=_status_of(group.get("status")),
                    diagnostic=diagnostic,
                    action=action or None,
                    final=final,
                    provider_rules=rules,
                )
            )
        if recipients:
            return True, recipients
    text_hits = _text_recipients(report.notice, exclude)
    blocks = dict(text_hits)
    if failed_header:
        signals.append("X-Failed-Recipients header")
        for address in failed_header:
            recipients.append(
                _make_recipient(
                    address,
                    block=blocks.get(address, ""),
                    context=report.notice if len(failed_header) == 1 else "",
                    provider_rules=rules,
                )
            )
        return True, recipients
    temporary, permanent = _flufl_recipients(msg)
    if temporary or permanent:
        signals.append("flufl.bounce detector")
        order = {a: i for i, (a, _b) in enumerate(text_hits)}
        aliases = _aliases(report.notice)
        permanent = list(dict.fromkeys(aliases.get(a, a) for a in permanent))
        temporary = list(dict.fromkeys(aliases.get(a, a) for a in temporary))
        ordered = sorted(
            [(a, False) for a in permanent] + [(a, True) for a in temporary if a not in permanent],
            key=lambda item: order.get(item[0], len(order)),
        )
        if any(a not in exclude or a in blocks for a, _t in ordered):
            ordered = [(a, t) for a, t in ordered if a not in exclude or a in blocks]
        for address, transient in ordered:
            single = len(ordered) == 1
            recipients.append(
                _make_recipient(
                    address,
                    block=blocks.get(address, ""),
                    context=report.notice if single or address not in blocks else "",
                    transient_hint=transient,
                    provider_rules=rules,
                )
            )
        if recipients:
            return True, recipients
    if not (bounce_body or report.dsn_report):
        return False, []
    if auto_submitted.startswith("auto-replied") and not (
        daemon or report.dsn_report or bounce_subject
    ):
        return False, []
    if text_hits:
        signals.append("delivery failure notice text")
        single = len(text_hits) == 1
        for address, block in text_hits:
            recipients.append(
                _make_recipient(
                    address,
                    block=block,
                    context=report.notice if single else "",
                    provider_rules=rules,
                )
            )
        return True, recipients
    for original in report.originals:
        for address in _addresses([_decode_header_value(original.get("To", ""))]):
            if address not in exclude:
                signals.append("recipient taken from the returned original message")
                recipients.append(
                    _make_recipient(address, block="", context=report.notice, provider_rules=rules)
                )
        if recipients:
            return True, recipients
    signals.append("delivery failure notice without a readable recipient")
    return True, recipients


# --------------------------------------------------------------------------------------------
# Auto-replies
# --------------------------------------------------------------------------------------------

# Subjects that are auto-replies on their own: at the start of the subject (clients prefix
# the original subject) or the whole subject. Languages: en de fr es it pt nl, plus a few.
_AUTO_REPLY_SUBJECT_RE: Final = re.compile(
    r"^\s*(?:\[[^\]]{0,40}\]\s*)?(?:"
    # en
    r"auto(?:matic|mated)?[- ]?(?:reply|response|respon[sd]er|antwort|answer)|autoreply|"
    r"auto[- ]?respons|out of (?:the )?office|\bOOO\b|\bOOF\b|away from (?:the )?office|"
    r"on (?:vacation|holiday|leave|annual leave|parental leave|maternity leave)|"
    r"vacation(?: reply| response| notice| message|\s*:)|holiday(?: notice|\s*:)|"
    r"(?:i am|i'm|i will be|currently) (?:out|away|on leave|on vacation|on holiday|"
    r"travell?ing)|away until|out until|absence notice|"
    r"this is an automated response|thank you for your (?:e-?mail|message)\W*$|"
    # de
    r"abwesenheitsnotiz|abwesenheit|automatische antwort|automatische r[üu]ckantwort|"
    r"au(?:ß|ss)er (?:haus|b[üu]ro|dienst)|nicht im b[üu]ro|urlaubsabwesenheit|im urlaub|"
    r"autoreply|autom\. antwort|"
    # fr
    r"r[ée]ponse automatique|absence du bureau|absent(?:e)? du bureau|message d'absence|"
    r"(?:je suis )?absent(?:e)?\b|en cong[ée]s?|hors du bureau|"
    # es
    r"respuesta autom[áa]tica|fuera de (?:la )?oficina|ausencia|(?:estoy )?de vacaciones|"
    r"respuesta de ausencia|"
    # it
    r"risposta automatica|fuori (?:ufficio|sede)|assenza dall'ufficio|in ferie|"
    r"risposta di assenza|"
    # pt
    r"resposta autom[áa]tica|fora do escrit[óo]rio|aus[êe]ncia|de f[ée]rias|"
    # nl
    r"automatisch antwoord|automatisch(?:e)? (?:antwoord|bericht)|afwezig(?:heid)?|"
    r"niet op kantoor|buiten kantoor|met vakantie|"
    # sv da no fi pl ru
    r"automatiskt svar|frånvaro|autosvar|fravær|automaattinen vastaus|poissa|"
    r"automatyczna odpowiedź|nieobecność|автоответ|ответ автоматически|"
    r"автоматический ответ|отсутств"
    r")",
    re.IGNORECASE,
)
_AUTO_SUBMITTED_VALUES: Final = ("auto-replied", "auto-generated", "auto-notified")
_X_AUTO_HEADERS: Final = (
    "X-Autoreply",
    "X-Autorespond",
    "X-Autoresponse",
    "X-Autoresponder",
    "X-Auto-Response",
    "X-Autoreply-From",
    "X-Auto-Reply-From",
    "X-Mail-Autoreply",
    "X-AutoGenerated",
)


def is_auto_reply_subject(subject: str) -> bool:
    """A vacation / automatic-reply subject in en, de, fr, es, it, pt, nl (and a few more).
    A subject answering in a thread ("Re: ...") is a person's, whatever follows."""
    if not subject or _REPLY_PREFIX_RE.match(subject):
        return False
    return bool(_AUTO_REPLY_SUBJECT_RE.search(subject))


def _auto_reply_signals(parsed: ParsedMessage) -> list[str]:
    signals: list[str] = []
    auto_submitted = (parsed.header("Auto-Submitted") or "").strip().lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        signals.append(f"Auto-Submitted: {auto_submitted[:60]}")
    for name in _X_AUTO_HEADERS:
        value = parsed.header(name)
        if value is not None and value.strip().lower() not in ("no", "false", "0"):
            signals.append(f"{name} header")
    if (parsed.header("X-Apple-Action") or "").strip().upper() == "VACATION":
        signals.append("X-Apple-Action: VACATION")
    if (
        "mailbox rules agent"
        in (parsed.header("X-MS-Exchange-Generated-Message-Source") or "").lower()
    ):
        signals.append("X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent")
    # Exchange/Outlook: an inbox rule loop marker together with the auto-response suppression
    # it sets on its own automatic replies. Either header alone is ordinary Exchange mail.
    if (
        parsed.header("X-MS-Exchange-Inbox-Rules-Loop") is not None
        and parsed.header("X-Auto-Response-Suppress") is not None
    ):
        signals.append("X-MS-Exchange-Inbox-Rules-Loop with X-Auto-Response-Suppress")
    precedence = (parsed.header("Precedence") or "").strip().lower()
    if precedence == "auto_reply":
        signals.append("Precedence: auto_reply")
    if is_auto_reply_subject(parsed.subject):
        signals.append(f"auto-reply subject: {parsed.subject[:80]}")
    return signals


def _is_bulk(parsed: ParsedMessage) -> bool:
    precedence = (parsed.header("Precedence") or "").strip().lower()
    return precedence in ("bulk", "list", "junk") or parsed.header("List-Id") is not None


_RETIRED_RE: Final = re.compile(
    r"no longer (?:in use|active|monitored|valid|with|works? (?:at|for|here))|"
    r"(?:has|have) left (?:the company|\w+)|is no longer (?:employed|with)|"
    r"nicht mehr (?:im unternehmen|erreichbar|aktiv|in benutzung|gültig|bei)|"
    r"n'(?:est|fait) plus (?:partie|utilisée?|active|valide)|ne fait plus partie|"
    r"ya no (?:trabaja|está en uso|es válid|forma parte)|non (?:è|lavora) più|"
    r"não (?:trabalha|está) mais|niet meer (?:in gebruik|werkzaam|actief|bij)",
    re.IGNORECASE,
)
_ALTERNATE_CONTEXT_RE: Final = re.compile(
    r"contact|colleague|reach|write to|e-?mail|address|vertret|wenden|kontakt|zukünftig|"
    r"künftig|neue|new|instead|stattdessen|urgent|dringend|collègue|contacter|nouvelle|"
    r"adresse|compañer|contact[ae]|nueva|dirección|collega|contattare|nuovo|indirizzo|"
    r"colega|contato|novo|endereço|collega|contact op|nieuwe|adres|plaats",
    re.IGNORECASE,
)


def extract_alternate_address(text: str, exclude: Iterable[str] = ()) -> str | None:
    """The first e-mail address an auto-reply offers instead (a colleague, a new address)."""
    skip = {a.lower() for a in exclude if a}
    candidates: list[tuple[int, str]] = []
    lines = [line[:_MAX_LINE_CHARS] for line in text[:_MAX_SCAN_CHARS].split("\n")]
    for index, line in enumerate(lines):
        for found in _ADDR_RE.finditer(line):
            address = found.group(1).lower().strip(".")
            if address in skip:
                continue
            local = address.split("@", 1)[0]
            if _DAEMON_LOCAL_RE.match(local) or local in ("noreply", "no-reply", "donotreply"):
                continue
            context = " ".join(lines[max(0, index - 1) : index + 1])
            rank = 0 if _ALTERNATE_CONTEXT_RE.search(context) else 1
            candidates.append((rank, address))
    if not candidates:
        return None
    best = min(rank for rank, _ in candidates)
    return next(address for rank, address in candidates if rank == best)


# --------------------------------------------------------------------------------------------
# Return dates
# --------------------------------------------------------------------------------------------

_MONTHS: Final = (
    r"jan(?:uary|uar|vier|eiro|naio)?|feb(?:ruary|ruar|rero|braio|ruari)?|f[ée]v(?:rier)?|"
    r"fevereiro|m[äa]r(?:ch|z|s|zo|ço|t)?|apr(?:il|ile)?|avr(?:il)?|abr(?:il)?|"
    r"ma[iy]|mei|mayo|maggio|maio|jun(?:e|i|io|ho)?|juin|giugno|jul(?:y|i|io|ho)?|juil(?:let)?|"
    r"luglio|aug(?:ust|usti)?|ao[uû]t|agosto|sep(?:t(?:ember)?|tembre|tiembre)?|set(?:embro|"
    r"tembre)?|o[ck]t(?:ober|obre|ubre|tobre)?|nov(?:ember|embre|iembre|embro)?|"
    r"de[cz](?:ember|embre|iembre|embro)?|dic(?:embre|iembre)?|gen(?:naio)?|ene(?:ro)?|"
    r"mrt|okt|dez|déc(?:embre)?"
)
_WEEKDAYS: Final = (
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|montag|dienstag|mittwoch|"
    r"donnerstag|freitag|samstag|sonntag|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|"
    r"lunes|martes|miércoles|miercoles|jueves|viernes|sábado|sabado|domingo|lunedì|lunedi|"
    r"martedì|martedi|mercoledì|mercoledi|giovedì|giovedi|venerdì|venerdi|sabato|domenica|"
    r"segunda(?:-feira)?|terça(?:-feira)?|quarta(?:-feira)?|quinta(?:-feira)?|"
    r"sexta(?:-feira)?|maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag"
)
_DATE_TOKEN: Final = (
    rf"(?:(?:{_WEEKDAYS}),?\s+(?:the\s+|le\s+|den\s+|el\s+|il\s+|de\s+)?)?"
    rf"(?:\d{{1,2}}(?:st|nd|rd|th|er|e|º|°)?\.?\s*(?:de\s+|of\s+)?(?:{_MONTHS})\.?"
    rf"(?:\s*(?:de\s+)?,?\s*\d{{4}})?"
    rf"|(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:\s*[-–]\s*\d{{1,2}}(?:st|nd|rd|th)?)?"
    rf"(?:,?\s*\d{{4}})?"
    rf"|\d{{4}}-\d{{2}}-\d{{2}}"
    rf"|\d{{1,2}}[./]\d{{1,2}}\.?(?:[./]\d{{2,4}})?"
    rf"|(?:{_WEEKDAYS})|tomorrow|morgen|demain|mañana|domani|amanhã|next week)"
)
# "back on X", "return on X", "until X", "bis X", "jusqu'au X", "hasta el X", "fino al X",
# "até X", "tot en met X", "from X to Y", "X-Y" (an absence range: back the day after Y).
_RETURN_CUES: Final = (
    r"back (?:in the office |at (?:my )?desk |at work )?(?:on |by |from )?|"
    r"return(?:ing)? (?:to (?:the|my) (?:office|desk|work) )?(?:on |by )?|"
    r"returns? (?:on )?|in the office (?:again )?(?:on |from )|available (?:again )?(?:on |from )|"
    r"wieder (?:im büro |da |erreichbar |zurück )?(?:ab |am )?|zurück (?:ab |am )?|ab dem |"
    r"de retour (?:le |à partir du )?|à partir du |retour (?:le |prévu le )?|"
    r"de vuelta (?:el )?|regreso (?:el )?|vuelvo (?:el )?|a partir del |"
    r"rientro (?:il |previsto il )?|di ritorno (?:il )?|a partire dal |"
    r"regresso (?:em |no dia )?|volto (?:em |no dia )?|a partir de |"
    r"terug (?:op |vanaf )?|weer aanwezig (?:op |vanaf )?|vanaf |\bab (?:dem |kommenden )?"
)
_UNTIL_CUES: Final = (
    r"until|till|through|thru|bis(?:\s+(?:zum|zur|einschließlich|inkl\.?|am))?|"
    r"jusqu'(?:au|à|a)(?:\s+le)?|hasta(?:\s+el)?|fino\s+al?|fino\s+a|"
    r"até(?:\s+(?:o|ao)\s+dia|\s+ao|\s+o)?|t/m|tot\s+en\s+met|tot"
)
_RETURN_RE: Final = re.compile(rf"(?:{_RETURN_CUES})\s*({_DATE_TOKEN})", re.IGNORECASE)
_UNTIL_RE: Final = re.compile(rf"\b(?:{_UNTIL_CUES})\s+({_DATE_TOKEN})", re.IGNORECASE)
_RANGE_RE: Final = re.compile(
    rf"(?:from|vom|du|del|dal|de|van|on)\s+({_DATE_TOKEN})\s*(?:to|until|till|[-–]|bis|au|al|"
    rf"a|to and including|tot(?: en met)?|t/m)\s*({_DATE_TOKEN})|"
    rf"\b((?:{_MONTHS})\.?)\s+(\d{{1,2}})\s*[-–]\s*(\d{{1,2}})\b",
    re.IGNORECASE,
)
_NUMERIC_DATE_RE: Final = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})$|^(\d{1,2})[./](\d{1,2})\.?(?:[./](\d{2,4}))?$"
)


def _parse_date_phrase(phrase: str, base: dt.datetime, us_order: bool) -> dt.date | None:
    """A date phrase relative to `base` (the message date), in the future of it."""
    phrase = phrase.strip().strip(".,;:)")
    numeric = _NUMERIC_DATE_RE.match(phrase)
    if numeric:
        try:
            if numeric.group(1):
                return dt.date(int(numeric.group(1)), int(numeric.group(2)), int(numeric.group(3)))
            first, second = int(numeric.group(4)), int(numeric.group(5))
            day, month = (second, first) if us_order and "/" in phrase else (first, second)
            year_text = numeric.group(6)
            if year_text:
                year = int(year_text) + (2000 if len(year_text) == 2 else 0)
                return dt.date(year, month, day)
            candidate = dt.date(base.year, month, day)
            if candidate < base.date() - dt.timedelta(days=1):
                candidate = dt.date(base.year + 1, month, day)
            return candidate
        except ValueError:
            return None
    lowered = phrase.lower()
    if lowered in ("next week",):
        return base.date() + dt.timedelta(days=7 - base.weekday())
    cleaned = re.sub(r"\b(?:the|le|den|el|il|de|of)\b", " ", phrase, flags=re.IGNORECASE)
    cleaned = re.sub(r"(\d)(?:st|nd|rd|th|er|º|°)\b", r"\1", cleaned)
    cleaned = _WS_RE.sub(" ", cleaned).strip(" ,")
    naive_base = base.replace(tzinfo=None)
    settings: dict[str, object] = {
        "RELATIVE_BASE": naive_base,
        "PREFER_DATES_FROM": "future",
        "RETURN_AS_TIMEZONE_AWARE": False,
        "PREFER_DAY_OF_MONTH": "first",
    }
    if not us_order:
        settings["DATE_ORDER"] = "DMY"
    with warnings.catch_warnings():
        # dateparser (and the regex/pytz stacks under it) may warn on import or on some
        # inputs, depending on versions; a warning must never break understanding a message.
        warnings.simplefilter("ignore")
        try:
            import dateparser

            parsed = dateparser.parse(cleaned, settings=settings)
        except Exception:  # a library on hostile text
            parsed = None
    if parsed is None:
        return None
    result = parsed.date()
    if result <= base.date() and not re.search(r"\d{4}", cleaned):
        # A weekday or day-month that already passed means the next one.
        if re.fullmatch(rf"(?:{_WEEKDAYS})", lowered):
            result += dt.timedelta(days=7)
        elif result < base.date():
            try:
                result = result.replace(year=result.year + 1)
            except ValueError:
                return None
    return result


def extract_return_date(text: str, sent: dt.datetime | None) -> dt.date | None:
    """The date an out-of-office says its writer is back, relative to the message date.

    "back on Monday", "returning on May 5th", "until 15.12.", "bis 3. Januar", "July 10-31"
    (an absence range: back the day after). None when no date is stated."""
    if not text:
        return None
    base = sent or dt.datetime.now(tz=dt.UTC)
    flat = _WS_RE.sub(" ", text)[:5000]
    us_order = not re.search(
        r"\b(?:bis|jusqu|hasta|fino|até|tot|zurück|retour|rientro|terug|vom|du|del|dal)\b",
        flat,
        re.IGNORECASE,
    )
    found = _RETURN_RE.search(flat)
    if found:
        result = _parse_date_phrase(found.group(1), base, us_order)
        if result:
            return result
    found = _RANGE_RE.search(flat)
    if found:
        if found.group(2):
            end = _parse_date_phrase(found.group(2), base, us_order)
        else:
            end = _parse_date_phrase(f"{found.group(3)} {found.group(5)}", base, us_order)
        if end:
            return end + dt.timedelta(days=1)
    found = _UNTIL_RE.search(flat)
    if found:
        end = _parse_date_phrase(found.group(1), base, us_order)
        if end:
            # "Away until May 5" / "bis 15.12.": back on the stated day.
            return end
    return None


# --------------------------------------------------------------------------------------------
# Opt-outs and complaints
# --------------------------------------------------------------------------------------------

_OPT_OUT_RE: Final = re.compile(
    r"\bunsubscribe\b|\bremove me\b|\btake me off\b|\bopt[- ]?out\b|"
    r"\bstop (?:e-?mailing|emailing|sending|contacting|writing to|messaging|spamming) me\b|"
    r"\b(?:do not|don't|dont|please don't|never) (?:e-?mail|contact|write to|message) me\b|"
    r"\bremove (?:my (?:e-?mail|address|name)|us) from\b|\bno (?:more|further) e-?mails?\b|"
    r"\bnot interested,? (?:please )?remove\b|"
    # de
    r"\babmelden\b|\babbestellen\b|\baustragen\b|\btragen sie mich\b|"
    r"\bbitte (?:entfernen sie mich|löschen sie mich|keine (?:weiteren )?(?:e-?mails|nachrichten))|"
    r"\bkeine (?:weiteren )?(?:e-?mails|werbung|nachrichten) mehr\b|"
    r"\b(?:kontaktieren|schreiben|anschreiben) sie mich (?:bitte )?nicht mehr\b|"
    r"\baus (?:ihrem|dem) verteiler\b|"
    # fr
    r"\bd[ée]sabonner\b|\bd[ée]sinscri|\bd[ée]sabonnement\b|\bretirez[- ]moi\b|"
    r"\bsupprimez[- ]moi\b|\bne (?:me )?(?:contactez|[ée]crivez) plus\b|"
    r"\bne plus (?:recevoir|[êe]tre contact)|\barr[êe]tez de m'(?:envoyer|[ée]crire|contacter)\b|"
    # es
    r"\bdar(?:me)? de baja\b|\bdarse de baja\b|\bbaja de (?:la|su) lista\b|"
    r"\bcancelar (?:la )?suscripci[óo]n\b|\bno me (?:env[íi]en|escriban|contacten) m[áa]s\b|"
    r"\bdejen de (?:enviarme|escribirme|contactarme)\b|\belim[íi]n(?:enme|ame|arme) de\b|"
    r"\bno quiero recibir\b|"
    # it
    r"\bcancellami\b|\bdisiscri|\brimuovetemi\b|\brimuovermi\b|"
    r"\bannulla(?:re)? (?:l')?iscrizione\b|"
    r"\bnon (?:voglio|desidero) (?:più )?ricevere\b|\bsmettete di (?:inviarmi|scrivermi|"
    r"contattarmi)\b|\bnon contattatemi più\b|"
    # pt
    r"\bdescadastr|\bcancelar (?:a )?inscri[çc][ãa]o\b|\bremova-me\b|\bme remova\b|"
    r"\bremover meu (?:e-?mail|endere[çc]o)\b|\bparem de me (?:enviar|contatar|mandar)\b|"
    r"\bn[ãa]o quero (?:mais )?receber\b|"
    # nl
    r"\bafmelden\b|\buitschrijven\b|\bverwijder (?:mij|me)\b|\bstop met (?:mailen|e-?mailen)\b|"
    r"\bgeen (?:e-?mails|mails|berichten) meer\b|\bniet meer (?:mailen|benaderen|contacteren)\b",
    re.IGNORECASE,
)
# Footers of newsletters ("to unsubscribe, click here") are instructions, not requests.
_OPT_OUT_INSTRUCTION_RE: Final = re.compile(
    r"\b(?:to|if you (?:wish|want|would like) to|you (?:can|may))\s+(?:\w+\s+){0,3}"
    r"(?:unsubscribe|opt[- ]?out|be removed)|click|link|here\b|https?://|"
    r"\bum sich abzumelden\b|\bpour vous d[ée]sabonner\b|\bpara darse de baja\b|"
    r"\bper disiscriverti\b|\bpara (?:se )?descadastrar\b|\bom je af te melden\b",
    re.IGNORECASE,
)


def _opt_out_phrase(subject: str, text: str) -> str | None:
    """The opt-out request in a subject or in the new text of a reply, if there is one."""
    subject_clean = _REPLY_PREFIX_RE.sub("", subject)
    found = _OPT_OUT_RE.search(subject_clean)
    if found and not _OPT_OUT_INSTRUCTION_RE.search(subject_clean):
        return found.group(0)
    head = text[:1500]
    for sentence in re.split(r"(?<=[.!?])\s+|\n", head):
        found = _OPT_OUT_RE.search(sentence)
        if found and not _OPT_OUT_INSTRUCTION_RE.search(sentence):
            return found.group(0)
    return None


def _complaint(parsed: ParsedMessage) -> tuple[bool, str | None, list[str]]:
    """An abuse report: ARF (RFC 5965) or Hotmail's JMRP format; (is one, feedback type, who
    complained: Original-Rcpt-To / Removal-Recipient, else the reported message's To)."""
    msg = parsed.message
    complainants: list[str] = []
    try:
        report_type = str(msg.get_param("report-type") or "").lower()
    except Exception:
        report_type = ""
    feedback_type: str | None = None
    is_report = _content_type(msg) == "multipart/report" and report_type == "feedback-report"
    for part in _walk(msg, stop_at_messages=True):
        if _content_type(part) == "message/feedback-report":
            is_report = True
            text = _delivery_status_text(part)
            for group in _header_block_fields(text):
                if "feedback-type" in group and feedback_type is None:
                    feedback_type = _clean(group["feedback-type"], 40).lower() or None
            for found in re.finditer(
                r"^(?:Original-Rcpt-To|Removal-Recipient):\s*(.+)$", text, re.I | re.M
            ):
                address = normalize_address(found.group(1))
                if address and address not in complainants:
                    complainants.append(address)
    originals = _embedded_headers(msg)
    if is_report:
        if not complainants:
            for original in originals:
                for address in _addresses([_decode_header_value(original.get("To", ""))]):
                    if address not in complainants:
                        complainants.append(address)
        return True, feedback_type, complainants
    # Hotmail/Outlook.com JMRP: the complained-about message with X-HmXmrOriginalRecipient.
    for headers in (parsed.message, *originals):
        value = headers.get("X-HmXmrOriginalRecipient")
        if value is not None:
            address = normalize_address(_decode_header_value(value))
            return True, "abuse", [address] if address else []
    return False, None, []


# --------------------------------------------------------------------------------------------
# classify_message
# --------------------------------------------------------------------------------------------


def classify_message(msg: ParsedMessage | bytes) -> MailUnderstanding:
    """What one inbound message is. Order: complaint, bounce, auto-reply, opt-out, reply.

    A delivery report is never taken for an auto-reply, and a person's reply never for an
    auto-reply: auto-replies need a header (RFC 3834 Auto-Submitted, X-Autoreply, ...) or an
    unmistakable subject; `X-Auto-Response-Suppress` or `Precedence: list` alone are not
    enough (Exchange and mailing lists set them on ordinary mail)."""
    parsed = msg if isinstance(msg, ParsedMessage) else parse_message(msg)
    signals: list[str] = []
    bulk = _is_bulk(parsed)
    try:
        complaint, feedback_type, complainants = _complaint(parsed)
    except Exception:  # hostile structure: fall through to the other checks
        complaint, feedback_type, complainants = False, None, []
    if complaint:
        signals.append(f"feedback report ({feedback_type or 'unknown type'})")
        return MailUnderstanding(
            kind="complaint",
            feedback_type=feedback_type,
            complaint_recipients=complainants,
            bulk=bulk,
            signals=tuple(signals),
        )

    try:
        is_bounce, bounced = _analyze_bounce(parsed, signals)
    except Exception:  # never let a strange report break the inbox
        is_bounce, bounced = False, []
        signals.append("bounce analysis failed")
    if is_bounce:
        statuses = [b.status for b in bounced if b.status]
        return MailUnderstanding(
            kind="bounce",
            failed_recipients=[b.address for b in bounced],
            # Hard only when every failed recipient is dead; per-recipient detail in `bounces`.
            hard_bounce=(all(b.hard for b in bounced) if bounced else None),
            bounce_status=statuses[0] if statuses else None,
            bounces=tuple(bounced),
            bulk=bulk,
            signals=tuple(signals),
        )

    visible = visible_reply_text(parsed.text)
    if (parsed.header("X-Apple-Unsubscribe") or "").strip().lower() == "true":
        # Apple Mail's "unsubscribe" button sends this (with Auto-Submitted set).
        return MailUnderstanding(
            kind="opt_out",
            visible_text=visible or None,
            bulk=bulk,
            signals=(*signals, "X-Apple-Unsubscribe: true"),
        )
    auto = _auto_reply_signals(parsed)
    receipt = any("every recipient delivered" in s for s in signals) or any(
        _content_type(p) == "message/disposition-notification"
        for p in _walk(parsed.message, stop_at_messages=True)
    )
    if auto or receipt:
        if receipt and not auto:
            auto = ["delivery or read receipt"]
        body = parsed.subject + "\n" + visible
        exclude = {parsed.from_address or "", *parsed.to, *parsed.cc, *parsed.reply_to}
        return_path = normalize_address(parsed.header("Return-Path"))
        if return_path:
            exclude.add(return_path)
        return MailUnderstanding(
            kind="auto_reply",
            return_date=extract_return_date(body, parsed.date),
            alternate_address=extract_alternate_address(visible, exclude),
            visible_text=visible or None,
            mailbox_retired=bool(_RETIRED_RE.search(body)),
            bulk=bulk,
            signals=tuple(signals + auto),
        )

    phrase = _opt_out_phrase(parsed.subject, visible)
    if phrase:
        return MailUnderstanding(
            kind="opt_out",
            visible_text=visible or None,
            bulk=bulk,
            signals=(*signals, f"opt-out request: {phrase!r}"),
        )
    if bulk:
        signals.append("list or bulk mail (Precedence/List-Id): still a reply, not an auto-reply")
    return MailUnderstanding(
        kind="reply", visible_text=visible or None, bulk=bulk, signals=tuple(signals)
    )


# --------------------------------------------------------------------------------------------
# match_message
# --------------------------------------------------------------------------------------------

# Mailbox providers shared by many companies: a sender's domain here says nothing about which
# company they work for, whatever a CRM's domain list claims.
_FREEMAIL: Final = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "gmx.de",
        "gmx.net",
        "gmx.com",
        "web.de",
        "t-online.de",
        "proton.me",
        "protonmail.com",
        "mail.com",
        "yandex.com",
        "yandex.ru",
        "mail.ru",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "libero.it",
        "qq.com",
        "163.com",
        "zoho.com",
        "fastmail.com",
        "hey.com",
    }
)


def match_message(
    msg: ParsedMessage,
    known_message_ids: Mapping[str, str],
    address_to_contact: Mapping[str, str],
    company_domains: Mapping[str, str] | None = None,
    *,
    understanding: MailUnderstanding | None = None,
) -> Match:
    """Tie an inbound message to a deal, a contact or a company.

    1. Thread headers: In-Reply-To, then References (newest first), then the Message-ID of an
       original attached to a bounce or complaint, against `known_message_ids`
       (Message-ID -> deal id).
    2. Addresses: the sender, Reply-To, and for a bounce its failed recipients, against
       `address_to_contact` (address -> contact id).
    3. An unknown sender whose domain is in `company_domains` (domain -> company id, also
       matching subdomains) is reported as `company_domain`, never dropped.
    Keys are compared case-insensitively, with or without angle brackets."""
    ids = {normalize_message_id(k): v for k, v in known_message_ids.items()}
    ids.pop(None, None)
    thread = [*msg.in_reply_to, *reversed(msg.references), *msg.embedded_message_ids]
    for message_id in thread:
        deal = ids.get(message_id)
        if deal is not None:
            return Match(
                kind="thread", deal_id=deal, address=msg.from_address, message_id=message_id
            )

    contacts = {normalize_address(k): v for k, v in address_to_contact.items()}
    contacts.pop(None, None)
    candidates: list[str] = []
    if understanding is not None and understanding.kind == "bounce":
        candidates += understanding.failed_recipients
    candidates += [a for a in (msg.from_address, *msg.reply_to) if a]
    for address in candidates:
        contact = contacts.get(address.lower())
        if contact is not None:
            return Match(kind="contact", contact_id=contact, address=address)

    domains = {k.lower().strip().lstrip("@"): v for k, v in (company_domains or {}).items()}
    for address in candidates:
        domain = address.rsplit("@", 1)[-1].lower()
        if domain in _FREEMAIL:
            continue
        labels = domain.split(".")
        for start in range(len(labels) - 1):
            company = domains.get(".".join(labels[start:]))
            if company is not None:
                return Match(kind="company_domain", company_id=company, address=address)
    return Match(kind="unmatched", address=msg.from_address)
