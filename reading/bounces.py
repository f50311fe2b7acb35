"""Bounces: delivery status notifications, read into one `Bounce` per failed recipient."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
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
from reading.bounce_text import _aliases, _flufl_recipients, _text_recipients
from reading.dsn import (
    _DAEMON_LOCAL_RE,
    _dsn_address,
    _reply_code_of,
    _report,
    _specific_status,
    _status_of,
)
from reading.mime import (
    _ADDR_RE,
    _MAX_SCAN_CHARS,
    _REPLY_PREFIX_RE,
    _WS_RE,
    ParsedMessage,
    _addresses,
    _clean,
    _decode_header_value,
    normalize_address,
)
from triggers.reading import Bounce

# --------------------------------------------------------------------------------------------
# Bounces (delivery status notifications)
# --------------------------------------------------------------------------------------------

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
