"""Bounces: delivery status notifications, read into one `Bounce` per failed recipient."""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from typing import Final

from reading._rx import Lazy, lazy
from reading._rx import rx as _rx
from reading.bounce_reasons import (
    ADDRESS_REASONS,
    HARD_REASONS,
    PROVIDER_REASONS,
    REASON_FAMILIES,
    STATUS_REASONS,
)
from reading.mime import (
    _ADDR_RE,
    _MAX_LINE_CHARS,
    _MAX_SCAN_CHARS,
    _REPLY_PREFIX_RE,
    _WS_RE,
    ParsedMessage,
    _addresses,
    _clean,
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
from triggers.reading import Bounce

# --------------------------------------------------------------------------------------------
# Bounces (delivery status notifications)
# --------------------------------------------------------------------------------------------

_DAEMON_LOCAL_RE: Final = lazy(
    r"^(?:mailer[-_.]?daemon|mail[-_.]?daemon|post[-_.]?master|mdaemon|mail[-_.]?delivery[-_.]?"
    r"(?:system|subsystem)?|bounces?|bounce[-_.]?handler|smtp[-_.]?gateway|"
    r"mail[-_.]?administrator|mailadmin|mail[-_.]?service|root)$",
    re.IGNORECASE,
)
_DAEMON_NAME_RE: Final = lazy(
    r"mail(?:er)?[- ]?daemon|mail delivery (?:subsystem|system|service)|postmaster|"
    r"mail administrator|delivery status notification|mail system|internet mail delivery",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT_RE: Final = lazy(
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
_WEAK_BOUNCE_SUBJECT_RE: Final = lazy(r"rejected|bounced?\b|returned|failure", re.IGNORECASE)
_BOUNCE_BODY_RE: Final = lazy(
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


# The reason tables (reading/bounce_reasons.py), compiled on first use.
_REASON_PATTERNS: Final[tuple[tuple[str, Lazy], ...]] = tuple(
    (name, lazy(pattern, re.IGNORECASE)) for name, pattern in REASON_FAMILIES
)
_HARD_REASONS: Final = HARD_REASONS
_ADDRESS_REASONS: Final = ADDRESS_REASONS
_STATUS_REASONS: Final = STATUS_REASONS


_DATA_PHASE_RE: Final = lazy(
    r"end of data|after data|in reply to (?:end of )?data|final data|>>> data|"
    r"smtp command data|after end of data|data command",
    re.IGNORECASE,
)
_RCPT_PHASE_RE: Final = lazy(
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


_PROVIDER_REASONS: Final[tuple[tuple[Lazy, tuple[tuple[str, Lazy], ...]], ...]] = tuple(
    (lazy(host), tuple((reason, lazy(pattern, re.IGNORECASE)) for reason, pattern in rules))
    for host, rules in PROVIDER_REASONS
)


def _provider_rules(hosts: Iterable[str]) -> tuple[tuple[str, Lazy], ...]:
    rules: list[tuple[str, Lazy]] = []
    for host in hosts:
        for host_re, host_rules in _PROVIDER_REASONS:
            if host_re.search(host) and host_rules[0] not in rules:
                rules.extend(host_rules)
    return tuple(rules)


def _provider_reason(rules: Sequence[tuple[str, Lazy]], texts: Sequence[str]) -> str | None:
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


_GAVE_UP_RE: Final = lazy(
    r"not going to try again|giving up|gave up|will not be retried|permanent (?:fatal )?error|"
    r"permanent(?:ly)? fail|"
    r"no (?:further|more) (?:attempts|retries)",
    re.IGNORECASE,
)
_RETRYING_RE: Final = lazy(
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


_NOT_RECIPIENT_LINE_RE: Final = lazy(
    r"^[ \t>]*(?:from|sender|reply-to|return-path|message-id|references|in-reply-to|"
    r"x-postfix-sender|x-original-sender|envelope-from|arrival-date|reporting-mta|"
    r"received-from-mta|dkim|x-[\w-]*sender|original-envelope-id)\s*[:=]|"
    r"\b(?:contact|questions?|assistance|help desk|helpdesk|administrator at|"
    r"please (?:send|write|email|e-mail|mail)|envelope-from|mail from:|sender address)\b",
    re.IGNORECASE,
)
_SERVICE_LOCAL_RE: Final = lazy(
    r"^(?:support|help|abuse|webmaster|hostmaster|noreply|no-reply|donotreply|do-not-reply|"
    r"feedback|security|admin|administrator)$",
    re.IGNORECASE,
)
_RECIPIENT_CONTEXT_RE: Final = lazy(
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


_ALIAS_RE: Final = lazy(
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
    provider_rules: Sequence[tuple[str, Lazy]] = (),
) -> Bounce:
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
    return Bounce(
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


def _ses_bounce(notice: str) -> list[Bounce] | None:
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
    out: list[Bounce] = []
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


def _analyze_bounce(parsed: ParsedMessage, signals: list[str]) -> tuple[bool, list[Bounce]]:
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
    recipients: list[Bounce] = []
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


_BOUNCE = _rx(
    r"\bdelivery (?:status notification|has failed|to the following recipients? failed)",
    r"\bmail delivery (?:failed|subsystem)",
    r"\bundeliverable\b",
    r"\baddress (?:not found|couldn'?t be found|rejected)",
    r"\bmailbox (?:unavailable|not found|does not exist)",
    r"\b(?:user|recipient) unknown\b",
    r"\b550[ -]5\.1\.1\b",
    r"\bmessage (?:was )?not delivered\b",
    r"\bunzustellbar\b",
    r"\bnon remis\b",
)

# Between "stop" and what is stopped only filler may stand ("stop sending me these emails");
# any other word means something else is stopped ("stop apologizing for following up").


def analyze_bounce(parsed: ParsedMessage, signals: list[str]) -> tuple[bool, list[Bounce]]:
    """Is this a delivery failure report, and for whom (one `Bounce` per recipient)."""
    return _analyze_bounce(parsed, signals)


def bounce_words(text: str) -> bool:
    """Delivery-failure words in a message's own text."""
    return bool(_BOUNCE.search(text[:_MAX_SCAN_CHARS]))
