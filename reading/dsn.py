"""Delivery status notifications (RFC 3464): the report's fields, per recipient."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from typing import Final

from reading._rx import lazy
from reading.mime import (
    _MAX_SCAN_CHARS,
    ParsedMessage,
    _content_type,
    _decode_header_value,
    _embedded_headers,
    _is_attachment,
    _parse_header_block,
    _part_text,
    _walk,
    html_to_text,
    normalize_address,
)

_DAEMON_LOCAL_RE: Final = lazy(
    r"^(?:mailer[-_.]?daemon|mail[-_.]?daemon|post[-_.]?master|mdaemon|mail[-_.]?delivery[-_.]?"
    r"(?:system|subsystem)?|bounces?|bounce[-_.]?handler|smtp[-_.]?gateway|"
    r"mail[-_.]?administrator|mailadmin|mail[-_.]?service|root)$",
    re.IGNORECASE,
)
_ORIGINAL_MARKER_RE: Final = lazy(
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
_STATUS_RE: Final = lazy(r"(?<![\d.])([45])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
_DSN_STATUS_RE: Final = lazy(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
_REPLY_CODE_RE: Final = lazy(
    r"(?<![\d.\-+:/])([245][0-9][0-9])(?=[ \t]|-\d\.\d|-[A-Za-z]|$)", re.MULTILINE
)
_EMBEDDED_HEADERS_START_RE: Final = lazy(
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
