"""Guardrail checks for a draft: pure functions, a subject and body in, failures out.

Every draft, from a template or a model, is checked against what the system actually knows
(`GuardrailContext`). A failure is reported, never fixed silently: the drafter regenerates
once and otherwise queues the draft with the failures shown to the person reviewing it.

What is checked:
- competitor names from the configured list (word boundary, case-insensitive), even when the
  lead wrote them first: the lead's text may be read, but a competitor is never written back;
- links (URLs, `www.` hosts, bare domains) that are not in the trusted context (the owner's
  signature, our own fields); a link the lead sent is not repeated;
- e-mail addresses, prices and figures, dates and weekdays that appear nowhere in the context;
- any mention of an attachment when the draft carries none;
- unfilled placeholders: `{{x}}`, `{% x %}`, `{first_name}`, `${x}`, `[Name]`, `<Company>`,
  `%NAME%`, `__NAME__`, `TODO`, `XXX`;
- length: subject present and short, body present and within the word limit;
- the greeting addresses the contact by their real first name (or title and last name).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Check(StrEnum):
    COMPETITOR = "competitor"
    LINK = "link"
    EMAIL_ADDRESS = "email_address"
    PRICE = "price"
    DATE = "date"
    ATTACHMENT = "attachment"
    PLACEHOLDER = "placeholder"
    LENGTH = "length"
    GREETING = "greeting"


@dataclass(frozen=True, slots=True)
class GuardrailFailure:
    check: Check
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class GuardrailContext:
    """What a draft may draw on.

    `trusted_text` is ours (owner signature, our templates' facts); `untrusted_text` is what
    leads and CRM fields said. Prices, dates and addresses may come from either; links only
    from trusted text; competitor names from neither.
    """

    contact_name: str
    trusted_text: tuple[str, ...] = ()
    untrusted_text: tuple[str, ...] = ()
    known_dates: tuple[date, ...] = ()
    known_amounts: tuple[float, ...] = ()
    competitors: tuple[str, ...] = ()
    attachments: tuple[str, ...] = ()
    max_words: int = 180
    max_subject_chars: int = 90
    require_greeting: bool = True


# --------------------------------------------------------------------------- names

_HONORIFICS = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "herr", "frau", "mme", "m", "sr", "sra"}
)
_NAME_TOKEN = re.compile(r"[^\W\d_](?:[^\W\d_]|['’-][^\W\d_])*")


def _name_parts(name: str) -> tuple[str, ...]:
    """The words of a person's name, first name first, without honorifics or an address."""
    text = name.strip()
    if not text or "@" in text:
        return ()
    if text.count(",") == 1:  # "Lee, Jordan": CRM exports often put the family name first
        last, first = (part.strip() for part in text.split(","))
        text = f"{first} {last}"
    words = [w for w in _NAME_TOKEN.findall(text)]
    return tuple(w for w in words if w.lower().rstrip(".") not in _HONORIFICS)


def first_name(name: str) -> str:
    """The first name of a contact's full name; empty when the name is unusable."""
    parts = _name_parts(name)
    return parts[0] if parts else ""


def _word(text: str) -> re.Pattern[str]:
    body = r"\s+".join(re.escape(part) for part in text.split())
    return re.compile(rf"(?<![\w]){body}(?![\w])", re.IGNORECASE)


# --------------------------------------------------------------------------- extraction

_URL = re.compile(r"\bhttps?://[^\s<>\"')\]]+", re.IGNORECASE)
_WWW = re.compile(r"(?<![\w./@-])www\.[^\s<>\"')\]]+", re.IGNORECASE)
_TLDS = (
    "com|net|org|io|co|ai|app|dev|biz|info|me|ly|gg|xyz|tech|cloud|site|online|"
    "us|uk|de|fr|es|it|nl|pt|eu|ch|at|be|se|no|dk|fi|ie|ca|au|nz|in|br|mx|jp"
)
_BARE_DOMAIN = re.compile(
    rf"(?<![\w./@:-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:{_TLDS})(?![\w@-])(?:/[^\s<>\"')\]]*)?",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)

_CURRENCY_SYMBOL = r"(?:US\$|CA\$|AU\$|A\$|C\$|[$€£¥₹])"
_CURRENCY_CODE = r"(?:USD|EUR|GBP|CHF|CAD|AUD|JPY|INR|SEK|NOK|DKK)"
_NUMBER = r"\d(?:[\d,.]*\d)?"
_SCALE = r"(?:\s?(?:k|K|m|M|bn|million|thousand|mil)\b)?"
_PRICE = re.compile(
    rf"{_CURRENCY_SYMBOL}\s?{_NUMBER}{_SCALE}"
    rf"|\b{_CURRENCY_CODE}\s?{_NUMBER}{_SCALE}"
    rf"|\b{_NUMBER}{_SCALE}\s?(?:{_CURRENCY_CODE}\b|{_CURRENCY_SYMBOL}|"
    r"(?:dollars|euros|pounds|bucks)\b)"
    r"|\b\d+(?:[.,]\d+)?\s?(?:%|percent\b|per\s?cent\b)",
)
_ANY_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
_SCALE_WORD = re.compile(r"^\s?(k|m|bn|million|thousand|mil)\b", re.IGNORECASE)

_MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_MONTH = (
    r"(?P<month>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|"
    r"Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_ORD = r"(?:st|nd|rd|th)?"
_DATE_PATTERNS = (
    re.compile(rf"\b{_MONTH}\s+(?P<day>\d{{1,2}}){_ORD}\b(?:,?\s+(?P<year>\d{{4}}))?"),
    re.compile(rf"\b(?P<day>\d{{1,2}}){_ORD}\s+(?:of\s+)?{_MONTH}(?:,?\s+(?P<year>\d{{4}}))?"),
    re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})\b"),
    re.compile(r"\b(?!24/7\b)(?P<a>\d{1,2})/(?P<b>\d{1,2})(?:/(?P<year>\d{2,4}))?\b(?!/)"),
    re.compile(r"\b(?P<a>\d{1,2})\.(?P<b>\d{1,2})\.(?P<year>\d{2,4})\b"),
    re.compile(r"\bthe\s+(?P<day>\d{1,2})(?:st|nd|rd|th)\b", re.IGNORECASE),
)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY = re.compile(
    r"\b(Mon|Tues?|Wed(?:nes)?|Thu(?:rs?)?|Fri|Sat(?:ur)?|Sun)day\b", re.IGNORECASE
)

_ATTACHMENT = re.compile(
    r"\b(?:attach(?:ed|ing|ment|ments)?|enclosed|enclosing|PFA)\b|\bfind\s+(?:it\s+)?below\s+the\s+file",
    re.IGNORECASE,
)

_PLACEHOLDERS = (
    re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL),
    re.compile(r"\$\{[^}\n]*\}"),
    re.compile(r"\{\s*[A-Za-z_][\w .-]{0,40}\}"),
    re.compile(r"\[[^\[\]\n]{0,40}[A-Za-z][^\[\]\n]{0,40}\](?!\()"),
    re.compile(r"<\s*[A-Za-z_][A-Za-z _-]{0,30}>"),
    re.compile(r"%[A-Z][A-Z_]+%|__[A-Z][A-Z_]+__"),
    re.compile(r"\b(?:TODO|FIXME|XXX+|INSERT\s+[A-Z]+)\b"),
)

_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|dear|good\s+(?:morning|afternoon|evening)|greetings|hallo|"
    r"guten\s+tag|bonjour|salut|hola|buenos\s+d[ií]as|ciao|buongiorno|ol[áa]|hej|hoi)\b"
    r"[\s,]*(?P<rest>(?:(?:mr|mrs|ms|mx|dr|prof)\.\s*)?[^,!.:;\n—–]*)",
    re.IGNORECASE,
)
_GENERIC_ADDRESSEES = frozenset(
    {"there", "team", "all", "everyone", "folks", "friend", "sir", "madam", "guys", "y'all"}
)


def _normalise_link(link: str) -> str:
    text = link.lower().rstrip(".,;:!?)]}'\"")
    text = re.sub(r"^https?://", "", text)
    text = re.sub(r"^www\.", "", text)
    return text.rstrip("/")


def _links(text: str) -> Iterator[str]:
    without_emails = _EMAIL.sub(" ", text)
    seen: list[tuple[int, int]] = []
    for pattern in (_URL, _WWW, _BARE_DOMAIN):
        for match in pattern.finditer(without_emails):
            if any(start <= match.start() < end for start, end in seen):
                continue
            seen.append(match.span())
            yield match.group(0).rstrip(".,;:!?")


def _number_value(text: str) -> float | None:
    digits = text.strip().rstrip(".,")
    if not digits:
        return None
    # A separator followed by exactly three digits groups thousands; otherwise it is decimal.
    groups = re.split(r"[,.]", digits)
    separators = re.findall(r"[,.]", digits)
    if not separators:
        return float(digits)
    if all(len(g) == 3 for g in groups[1:]):
        return float("".join(groups))
    integer = "".join(groups[:-1])
    return float(f"{integer or '0'}.{groups[-1]}")


def _scaled(value: float, scale: str) -> float:
    unit = scale.strip().lower()
    if unit in {"k", "thousand"}:
        return value * 1_000
    if unit in {"m", "million", "mil"}:
        return value * 1_000_000
    if unit == "bn":
        return value * 1_000_000_000
    return value


def _amounts_in(text: str) -> set[float]:
    """Every number in `text`, plain and with a following scale word (`18k`)."""
    found: set[float] = set()
    for match in _ANY_NUMBER.finditer(text):
        value = _number_value(match.group(0))
        if value is None:
            continue
        found.add(round(value, 2))
        scale = _SCALE_WORD.match(text[match.end() : match.end() + 9])
        if scale:
            found.add(round(_scaled(value, scale.group(1)), 2))
    return found


def _price_value(price: str) -> float | None:
    number = _ANY_NUMBER.search(price)
    if number is None:
        return None
    value = _number_value(number.group(0))
    if value is None:
        return None
    scale = _SCALE_WORD.match(price[number.end() :])
    return round(_scaled(value, scale.group(1)) if scale else value, 2)


def _month_number(token: str) -> int:
    return _MONTHS[token[:3].lower()]


@dataclass(frozen=True, slots=True)
class _DateMention:
    text: str
    month: int | None
    day: int
    year: int | None


def _date_mentions(text: str) -> Iterator[_DateMention]:
    taken: list[tuple[int, int]] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            if any(start <= match.start() < end for start, end in taken):
                continue
            taken.append(match.span())
            groups = match.groupdict()
            year = int(groups["year"]) if groups.get("year") else None
            if year is not None and year < 100:
                year += 2000
            if groups.get("a") is not None:
                a, b = int(groups["a"]), int(groups["b"])
                # Ambiguous d/m or m/d: keep whichever reading is a real date; both if both.
                if min(a, b) < 1 or a > 31 or b > 31 or (a > 12 and b > 12):
                    continue
                if a <= 12 and b <= 12:
                    yield _DateMention(match.group(0), a, b, year)
                    yield _DateMention(match.group(0), b, a, year)
                elif a <= 12:
                    yield _DateMention(match.group(0), a, b, year)
                else:
                    yield _DateMention(match.group(0), b, a, year)
                continue
            month_token = groups.get("month")
            month: int | None
            if month_token is None:
                month = None
            elif month_token.isdigit():
                month = int(month_token)
            else:
                month = _month_number(month_token)
            yield _DateMention(match.group(0), month, int(groups["day"]), year)


def _weekday_index(token: str) -> int:
    return next(i for i, name in enumerate(_WEEKDAYS) if name.startswith(token[:3].lower()))


# --------------------------------------------------------------------------- checks


def check_competitors(text: str, competitors: Iterable[str]) -> tuple[str, ...]:
    """The configured competitor names that `text` mentions, in list order."""
    named = []
    for name in competitors:
        if name.strip() and _word(name).search(text):
            named.append(name.strip())
    return tuple(named)


def find_placeholders(text: str) -> tuple[str, ...]:
    found: list[str] = []
    spans: list[tuple[int, int]] = []
    for pattern in _PLACEHOLDERS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < taken_end and taken_start < end for taken_start, taken_end in spans):
                continue
            spans.append((start, end))
            if match.group(0) not in found:
                found.append(match.group(0))
    return tuple(found)


def _greeting_failure(body: str, contact_name: str, require: bool) -> str | None:
    parts = _name_parts(contact_name)
    if not parts:
        return None  # nothing real to greet with; a generic greeting is the honest one
    first = parts[0]
    last = parts[-1] if len(parts) > 1 else ""
    line = next((ln for ln in body.splitlines() if ln.strip()), "")
    greeting = _GREETING.match(line)
    if greeting:
        rest = greeting.group("rest").strip()
        words = [w.lower().rstrip(".") for w in _NAME_TOKEN.findall(rest)]
        if _word(first).search(rest) or _word(contact_name).search(rest):
            return None
        if last and words and words[0] in _HONORIFICS and _word(last).search(rest):
            return None
        if not words or words[0] in _GENERIC_ADDRESSEES:
            return f"the greeting does not use the contact's name: write it to {first}"
        return (
            f"the greeting names {rest!r}, but the contact is {contact_name} (first name {first})"
        )
    if not require:
        return None
    if _word(first).search(line):
        return None
    return f"the draft does not open by addressing {first} by name"


def check_draft(subject: str, body: str, context: GuardrailContext) -> tuple[GuardrailFailure, ...]:
    """Every guardrail failure of one draft, in a stable order; empty when it passes."""
    failures: list[GuardrailFailure] = []

    def fail(check: Check, message: str) -> None:
        failures.append(GuardrailFailure(check, message))

    text = f"{subject}\n{body}"
    trusted = "\n".join(context.trusted_text)
    everything = "\n".join((*context.trusted_text, *context.untrusted_text))

    for name in check_competitors(text, context.competitors):
        fail(Check.COMPETITOR, f"names the competitor {name!r}; competitors are never written")

    # What the context knows (its links, addresses, figures, dates) is gathered only when the
    # draft mentions something of that sort: most template drafts mention few, and scanning
    # the deal's whole history for each was most of the cost of drafting thousands at once.
    links = list(dict.fromkeys(_links(text)))
    if links:
        known_links = {_normalise_link(link) for link in _links(trusted)}
        for link in links:
            if _normalise_link(link) not in known_links:
                fail(Check.LINK, f"contains the link {link!r}, which is not in the context")

    addresses = list(dict.fromkeys(_EMAIL.findall(text)))
    if addresses:
        known_emails = {e.lower() for e in _EMAIL.findall(everything)}
        for address in addresses:
            if address.lower() not in known_emails:
                fail(
                    Check.EMAIL_ADDRESS,
                    f"contains the address {address!r}, which is not in the context",
                )

    prices = list(dict.fromkeys(m.group(0).strip() for m in _PRICE.finditer(text)))
    if prices:
        known_amounts = _amounts_in(everything) | {round(a, 2) for a in context.known_amounts}
        for match in prices:
            value = _price_value(match)
            if value is None or value not in known_amounts:
                fail(
                    Check.PRICE,
                    f"mentions the price or figure {match!r}, which is not in the context",
                )

    mentions: dict[str, list[_DateMention]] = {}
    for mention in _date_mentions(text):
        mentions.setdefault(mention.text, []).append(mention)
    if mentions:
        known_days = {(d.month, d.day) for d in context.known_dates}
        known_day_numbers = {d.day for d in context.known_dates}
        known_years = {d.year for d in context.known_dates}
        for mention in _date_mentions(everything):
            if mention.month is not None:
                known_days.add((mention.month, mention.day))
            known_day_numbers.add(mention.day)
            if mention.year is not None:
                known_years.add(mention.year)
        reported: set[str] = set()
        for written, readings in mentions.items():
            ok = any(
                (
                    (r.month, r.day) in known_days
                    if r.month is not None
                    else r.day in known_day_numbers
                )
                and (r.year is None or r.year in known_years)
                for r in readings
            )
            if not ok and written not in reported:
                reported.add(written)
                fail(Check.DATE, f"mentions the date {written!r}, which is not in the context")

    weekdays = list(dict.fromkeys(m.group(0) for m in _WEEKDAY.finditer(text)))
    if weekdays:
        known_weekdays = {d.weekday() for d in context.known_dates}
        known_weekdays |= {_weekday_index(m.group(1)) for m in _WEEKDAY.finditer(everything)}
        for match in weekdays:
            weekday_match = _WEEKDAY.match(match)
            assert weekday_match is not None
            if _weekday_index(weekday_match.group(1)) not in known_weekdays:
                fail(Check.DATE, f"mentions {match!r}, a day that is not in the context")

    if not context.attachments:
        for match in dict.fromkeys(m.group(0) for m in _ATTACHMENT.finditer(text)):
            fail(
                Check.ATTACHMENT, f"mentions an attachment ({match!r}), but the draft carries none"
            )

    for placeholder in find_placeholders(text):
        fail(Check.PLACEHOLDER, f"contains the unfilled placeholder {placeholder!r}")

    if not subject.strip():
        fail(Check.LENGTH, "the subject is empty")
    elif "\n" in subject.strip():
        fail(Check.LENGTH, "the subject spans several lines")
    elif len(subject.strip()) > context.max_subject_chars:
        fail(
            Check.LENGTH,
            f"the subject has {len(subject.strip())} characters; "
            f"the limit is {context.max_subject_chars}",
        )
    words = len(body.split())
    if words == 0:
        fail(Check.LENGTH, "the body is empty")
    elif words > context.max_words:
        fail(Check.LENGTH, f"the body has {words} words; the limit is {context.max_words}")

    greeting = _greeting_failure(body, context.contact_name, context.require_greeting)
    if greeting:
        fail(Check.GREETING, greeting)

    return tuple(failures)
