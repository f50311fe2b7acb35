"""Bounce notices without a DSN: the failed recipients named in the text, and flufl.bounce."""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterable
from email.message import Message
from typing import Final

from reading._rx import lazy
from reading.dsn import _DAEMON_LOCAL_RE
from reading.mime import (
    _ADDR_RE,
    _MAX_LINE_CHARS,
    _MAX_SCAN_CHARS,
    normalize_address,
)

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
