"""MIME and headers: raw RFC 822 bytes to a `ParsedMessage`, never raising on bad input."""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.errors
import email.header
import email.utils
import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.policy import compat32
from html.parser import HTMLParser
from typing import Final

from reading._rx import lazy

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

    @classmethod
    def of_text(cls, subject: str, text: str) -> ParsedMessage:
        """A message known only by its subject and text (as a CRM records an email)."""
        return cls(
            headers=(),
            from_address=None,
            from_name=None,
            to=(),
            cc=(),
            reply_to=(),
            subject=subject,
            date=None,
            message_id=None,
            in_reply_to=(),
            references=(),
            text=text,
            html=None,
            content_type="text/plain",
        )

    def header_values(self, name: str) -> tuple[str, ...]:
        lname = name.lower()
        return tuple(value for key, value in self.headers if key.lower() == lname)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------

_CONTROL_RE: Final = lazy(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")
# In body text: control characters (terminal escapes included) but not tab and newline.
_TEXT_CONTROL_RE: Final = lazy(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_WS_RE: Final = lazy(r"\s+")
_ADDR_RE: Final = lazy(
    r"(?<![\w.+\-=/%])([A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})(?![\w\-])"
)
_EMAIL = lazy(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_MSGID_RE: Final = lazy(r"<([^<>\s]{1,500})>")
_REPLY_PREFIX_RE: Final = lazy(
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


_BOUNDARY_LINE_RE: Final = lazy(r"^--([^\s]{1,200})\s*$", re.MULTILINE)


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


_MAX_DEPTH: Final = 24  # real mail nests a few levels; a bounce with its original, ten at most


_MAX_NESTED_PARTS: Final = 200
_STRUCTURE_LINE_RE: Final = lazy(
    r"^(?:--[^\s]{1,200}|(?:content-[\w-]+|mime-version|from|to|subject|date|message-id):[^\n]*)"
    r"[ \t]*(?:\n|$)",
    re.IGNORECASE | re.MULTILINE,
)


def _nesting_hint(data: bytes) -> int:
    """How many parts may nest: boundary declarations and attached messages (the stdlib
    parser is quadratic in the nesting depth before it gives up)."""
    lowered = data[:_MAX_TEXT_CHARS].lower()
    return lowered.count(b"boundary=") + lowered.count(b"message/rfc822")


def _flat(data: bytes) -> Message:
    head, _, body = data.replace(b"\r\n", b"\n").partition(b"\n\n")
    msg = email.message_from_bytes(head + b"\n\n", policy=compat32)
    for name in ("Content-Type", "Content-Transfer-Encoding"):
        del msg[name]
    msg["Content-Type"] = "text/plain; charset=utf-8"
    # The text of the parts, without their boundaries and headers.
    text = _STRUCTURE_LINE_RE.sub("", body.decode("utf-8", "replace")[:_MAX_TEXT_CHARS])
    msg.set_payload(text.strip("\n"))
    msg.defects.append(email.errors.MessageDefect("nested too deeply: read as plain text"))
    return msg


def _prune(msg: Message) -> None:
    stack: list[tuple[Message, int]] = [(msg, 0)]
    while stack:
        part, depth = stack.pop()
        payload = part.get_payload()
        if not isinstance(payload, list):
            continue
        if depth >= _MAX_DEPTH:
            part.set_payload([])
            part.defects.append(email.errors.MessageDefect("parts nested too deeply: cut off"))
            continue
        stack.extend((sub, depth + 1) for sub in payload if isinstance(sub, Message))


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
        if _nesting_hint(data) > _MAX_NESTED_PARTS:
            raise RecursionError("more nested parts than any real mail")  # not worth parsing
        msg = email.message_from_bytes(data, policy=compat32)
    except RecursionError:
        # Multiparts (or attached messages) nested deeper than the parser can follow: the
        # headers, and the body as plain text.
        msg = _flat(data)
    except Exception:  # the stdlib parser is lenient, but never trust it
        try:
            msg = email.message_from_string(data.decode("latin-1"), policy=compat32)
        except RecursionError:
            msg = _flat(data)
    # Whatever walks the tree later (the stdlib's walk and as_string, flufl.bounce) recurses:
    # parts nested deeper than any real mail are cut off here.
    _prune(msg)

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
