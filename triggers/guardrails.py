"""Guardrail checks for a draft: pure functions, a subject and body in, failures out.

Every draft, from a template or a model, is checked against what the system actually knows
(`GuardrailContext`). A failure is reported, never fixed silently: the drafter regenerates
once and otherwise queues the draft with the failures shown to the person reviewing it.

What is checked:
- competitor names from the configured list (case-insensitive, also written with spaces,
  hyphens or dots between the parts or run together), even when the lead wrote them first;
- links (URLs, `www.` hosts, bare domains and scheme-less links such as `notion.so/x`) that are
  not in the trusted context (the owner's signature, our templates, the thread's subject);
- e-mail addresses, prices and figures (with a currency, a scale such as "7.5k", in words such
  as "seven thousand euros" or "siebentausend Euro", in another currency than the context's),
  percentages, discounts and "free" offers, dates and weekdays that appear nowhere in the
  context;
- what only the prospect wrote is unverified: an address or a figure found only in their
  emails is flagged, so is an offer of other clients' contact details and a draft that copies
  their text back (a run of `COPY_RUN_WORDS` words);
- any mention of an attachment when the draft carries none (also "im Anhang", "ci-joint");
- unfilled placeholders: `{{x}}`, `{% x %}`, `{first_name}`, `${x}`, `[Name]`, `<Company>`,
  `%NAME%`, `__NAME__`, `TODO`, `XXX`, `TBD`, `TBC`, `XX`, `???`;
- length: subject present and short, body present and within the word limit;
- the greeting addresses the contact by their given name (`greeting_names`, by culture: "Wei
  Ling" for "Tan Wei Ling"), or an honorific and the family name.

`injection_signals` is the injection detector run on every untrusted block that goes into a
prompt; its findings are shown to the reviewer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from triggers.people import name_parts as _people_name_parts


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
    UNVERIFIED = "unverified"  # found only in the prospect's own text, or copied from it


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
    currency: str | None = None  # of `known_amounts` (the deal's value)
    competitors: tuple[str, ...] = ()
    attachments: tuple[str, ...] = ()
    max_words: int = 180
    max_subject_chars: int = 90
    require_greeting: bool = True
    # What only the prospect wrote (their emails): read, never taken as verified.
    prospect_text: tuple[str, ...] = ()
    # The names a greeting may use (the given name by the contact's culture); empty: the first
    # word of `contact_name`, or any of its words after an honorific.
    greeting_names: tuple[str, ...] = ()


# --------------------------------------------------------------------------- names

_HONORIFICS = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "herr", "frau", "mme", "m", "sr", "sra"}
)
_NAME_TOKEN = re.compile(r"[^\W\d_](?:[^\W\d_]|['’-][^\W\d_])*")


def _name_parts(name: str) -> tuple[str, ...]:
    """The words of a person's name, first name first, without honorifics or an address."""
    return _people_name_parts(name)


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
    "us|uk|de|fr|es|it|nl|pt|eu|ch|at|be|se|no|dk|fi|ie|ca|au|nz|in|br|mx|jp|sg|hk|"
    "so|to|sh|cc|tv|fm|page|link|studio|agency|digital|team|tools|website|space|store|shop|"
    "design|works|club|pro|live|email|example"
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

# A figure with a scale but no currency ("7.5k", "12K", "3 mil"): still a price in an email.
_SCALED_FIGURE = re.compile(
    r"\b\d+(?:[.,]\d+)?\s?(?:k|K|bn)\b|\b\d+(?:[.,]\d+)?\s?(?:million|mil)\b"
)
_NUMBER_WORDS: dict[str, int] = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        ]
    )
}
_NUMBER_WORDS |= {
    w: 10 * i
    for i, w in enumerate(
        ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"], 2
    )
}
_MULTIPLIERS = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "grand": 1_000}
_FOREIGN_NUMBER = (
    r"(?:ein|zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|zwanzig|dreißig|vierzig|fünfzig|"
    r"hundert|tausend|un|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|vingt|trente|cent|mille|"
    r"uno|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|veinte|cien|mil)"
)
_CURRENCY_WORDS = (
    r"(?:dollars?|euros?|pounds?|bucks|quid|francs?|yen|rupees?|Euro|Dollar|Pfund|Franken|"
    r"livres?|dólares|dolares|libras)"
)
_WORD_PRICE = re.compile(
    r"\b(?P<words>(?:(?:[a-z]+|" + _FOREIGN_NUMBER + r"[a-zäöüß]*)[\s-]+){0,5}?"
    r"(?:[a-z]+|" + _FOREIGN_NUMBER + r"[a-zäöüß]*))\s+" + _CURRENCY_WORDS + r"\b",
    re.IGNORECASE,
)
_WORD_PERCENT = re.compile(
    r"\b(?P<words>[a-z]+(?:[\s-][a-z]+){0,2})\s+(?:percent|per\s?cent|Prozent|pour\s?cent|"
    r"por\s?ciento|procent)\b",
    re.IGNORECASE,
)
_PERCENT_SIGN = re.compile(r"\d+(?:[.,]\d+)?\s?(?:%|Prozent\b|pour\s?cent\b|por\s?ciento\b)")
_FREE = re.compile(
    r"\bfor free\b|\bfree of charge\b|\b(?:at|for) no (?:extra |additional )?(?:cost|charge)\b|"
    r"\bno charge\b|\bcomplimentary\b|\bon the house\b|\bwithout charge\b|"
    r"\bfree (?:trial|audit|month|months|pilot|consultation|session|workshop|review|upgrade|"
    r"setup|set-up|migration|onboarding|training|hours?|days?|weeks?|version|copy|license|"
    r"licence|support)\b|\bkostenlos\w*|\bkostenfrei\w*|\bgratis\b|\bgratuit\w*|\bsans frais\b|"
    r"\bunentgeltlich\w*|\bsin coste\b|\bsin costo\b",
    re.IGNORECASE,
)
_DISCOUNT = re.compile(
    r"\b(?:discount(?:ed|s)?|rebate|money[- ]off|half[- ]price|price cut|Rabatt\w*|Nachlass|"
    r"remise|réduction|descuento|sconto|korting)\b",
    re.IGNORECASE,
)

# Text that tries to steer a model: instructions addressed to an assistant, requests to add
# recipients, share data or confirm terms. Run on every untrusted block that enters a prompt.
_INJECTION_PATTERNS = (
    r"\b(?:ignore|disregard|forget|override|bypass)\b.{0,30}\b(?:previous|prior|above|earlier|"
    r"all|your|the|system|these)\b.{0,20}\b(?:instructions?|prompts?|rules|guidelines|context)\b",
    r"\b(?:new|updated|real|actual) instructions?\s*:",
    r"\bsystem prompt\b|\bdeveloper mode\b|\bjailbreak\b",
    r"</?\s*(?:system|untrusted|instructions?|assistant)\s*>|\[(?:system|inst)\]|<\|im_start\|>",
    r"\b(?:assistant|ai|bot|model|gpt|llm|chatgpt)\s*[,:]\s*(?:please\s+)?[a-z]+",
    r"\b(?:you are|you're) now (?:a|an|in|my)\b|\bpretend (?:to be|you are)\b",
    r"\b(?:add|cc|bcc|include|copy)\s+[\w.+-]+@[\w-]+(?:\.[\w-]+)+\s+(?:to|on|in)\b",
    r"\b(?:share|send|give|forward|export|provide)\b.{0,30}\b(?:contact|details|emails?|"
    r"addresses|data|list)\b.{0,20}\b(?:other|your|all)\s+(?:clients?|customers?|leads?)\b",
    r"\bconfirm\b.{0,30}\b(?:discount|price|rate|\d+\s?%)",
)
_INJECTION = re.compile("|".join(_INJECTION_PATTERNS), re.IGNORECASE | re.DOTALL)
_OTHER_CLIENTS = re.compile(
    r"\b(?:other|our|existing)\s+(?:clients?|customers?)'?\b.{0,60}\b(?:contact|details|emails?|"
    r"addresses|phone|list)\b|\b(?:contact|details|emails?|addresses|list)\b.{0,40}\b(?:other|"
    r"our|existing)\s+(?:clients?|customers?)\b",
    re.IGNORECASE | re.DOTALL,
)
COPY_RUN_WORDS = 12
_COPY_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")


def injection_signals(text: str) -> tuple[str, ...]:
    """What in `text` reads like an instruction to a model rather than an email to a person."""
    return tuple(dict.fromkeys(" ".join(m.group(0).split()) for m in _INJECTION.finditer(text)))


def _words_value(words: str) -> float | None:
    """'seven thousand five hundred' -> 7500; None when a word is not an English number."""
    total = current = 0
    seen = False
    for word in re.split(r"[\s-]+", words.lower()):
        if word == "and" or word in {"a", "an"}:
            continue
        if word in _NUMBER_WORDS:
            current += _NUMBER_WORDS[word]
            seen = True
        elif word in _MULTIPLIERS:
            current = max(current, 1) * _MULTIPLIERS[word]
            if _MULTIPLIERS[word] >= 1_000:
                total += current
                current = 0
            seen = True
        else:
            return None
    return float(total + current) if seen else None


def _number_phrase(words: str) -> str | None:
    """The trailing run of number words of `words` ('the seven thousand' -> 'seven thousand')."""
    tokens = re.split(r"[\s-]+", words.strip())
    run: list[str] = []
    for token in reversed(tokens):
        low = token.lower()
        if (
            low in _NUMBER_WORDS
            or low in _MULTIPLIERS
            or low == "and"
            or re.fullmatch(_FOREIGN_NUMBER + r"[a-zäöüß]*", low)
        ):
            run.append(token)
        else:
            break
    while run and run[-1].lower() == "and":
        run.pop()
    return " ".join(reversed(run)) or None


def _squash(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def _competitor_variants(text: str, name: str) -> bool:
    """`name` written with spaces, hyphens, dots or nothing between its parts."""
    if _word(name).search(text):
        return True
    target = _squash(name)
    if len(target) < 4:
        return False
    tokens = [_squash(t) for t in re.findall(r"[\w]+", text)]
    for size in (1, 2, 3):
        for i in range(len(tokens) - size + 1):
            if "".join(tokens[i : i + size]) == target:
                return True
    return False


def _copied_run(text: str, sources: Iterable[str], size: int = COPY_RUN_WORDS) -> str | None:
    """A run of `size` words of `text` that appears word for word in one of `sources`."""
    words = [w.lower() for w in _COPY_TOKEN.findall(text)]
    if len(words) < size:
        return None
    grams: set[tuple[str, ...]] = set()
    for source in sources:
        tokens = [w.lower() for w in _COPY_TOKEN.findall(source)]
        grams |= {tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}
    for i in range(len(words) - size + 1):
        gram = tuple(words[i : i + size])
        if gram in grams:
            return " ".join(gram)
    return None


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
    r"\b(?:attach(?:ed|ing|ment|ments)?|enclosed|enclosing|PFA)\b|\bfind\s+(?:it\s+)?below\s+the\s+file"
    r"|\b(?:im\s+Anhang|anbei|beigefügt|ci-joint|pièces?\s+jointes?|adjunto|en\s+anexo|"
    r"in\s+allegato|bijgevoegd)\b",
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
    re.compile(
        r"\b(?:TBD|TBC|TBA|tbd|tbc|N/A)\b|(?<![\w])(?:XX|xx)(?![\w])|\b[Xx]{2,}[.,:]?[Xx]*\b"
    ),
    re.compile(r"\?\?+|_{3,}|\.\.\.\]|\[\s*\.\.\.\s*\]|\[…\]|<\.\.\.>"),
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


_CURRENCY_CODES = {
    "us$": "USD",
    "$": "USD",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "₹": "INR",
    "a$": "AUD",
    "au$": "AUD",
    "c$": "CAD",
    "ca$": "CAD",
    "dollars": "USD",
    "euros": "EUR",
    "pounds": "GBP",
}


def _currency_of(price: str) -> str | None:
    code = re.search(rf"\b{_CURRENCY_CODE}\b", price)
    if code:
        return code.group(0).upper()
    lowered = price.lower()
    for token in sorted(_CURRENCY_CODES, key=len, reverse=True):
        if token in lowered:
            return _CURRENCY_CODES[token]
    return None


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
        if name.strip() and _competitor_variants(text, name):
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


def _greeting_failure(
    body: str, contact_name: str, require: bool, names: tuple[str, ...] = ()
) -> str | None:
    parts = _name_parts(contact_name)
    if not parts:
        return None  # nothing real to greet with; a generic greeting is the honest one
    first = names[0] if names else parts[0]
    family = [p for p in parts if p not in first.split()]
    line = next((ln for ln in body.splitlines() if ln.strip()), "")
    greeting = _GREETING.match(line)
    if greeting:
        rest = greeting.group("rest").strip()
        words = [w.lower().rstrip(".") for w in _NAME_TOKEN.findall(rest)]
        if _word(first).search(rest) or _word(contact_name).search(rest):
            return None
        if (
            family
            and words
            and words[0] in _HONORIFICS
            and any(_word(f).search(rest) for f in family)
        ):
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
    prospect = "\n".join(context.prospect_text)
    if addresses:
        known_emails = {e.lower() for e in _EMAIL.findall(everything)}
        for address in addresses:
            if address.lower() not in known_emails:
                fail(
                    Check.EMAIL_ADDRESS,
                    f"contains the address {address!r}, which is not in the context",
                )
        prospect_emails = {e.lower() for e in _EMAIL.findall(prospect)} - known_emails
        for address in addresses:
            if address.lower() in prospect_emails:
                fail(
                    Check.UNVERIFIED,
                    f"contains the address {address!r}, found only in the prospect's own "
                    "email: unverified, never added on their say-so",
                )

    known_amounts = _amounts_in(everything) | {round(a, 2) for a in context.known_amounts}
    prospect_amounts = _amounts_in(prospect) - known_amounts
    priced: list[tuple[int, int]] = []

    known_priced = {
        (_price_value(m.group(0)), _currency_of(m.group(0))) for m in _PRICE.finditer(everything)
    }
    known_priced |= {(round(a, 2), context.currency) for a in context.known_amounts}

    def wrong_currency(written: str, value: float | None) -> bool:
        code = _currency_of(written)
        if value is None or code is None or (value, code) in known_priced:
            return False
        return any(v == value and c not in (None, code) for v, c in known_priced)

    def price(written: str, value: float | None, span: tuple[int, int]) -> None:
        if any(start <= span[0] < end for start, end in priced):
            return
        priced.append(span)
        if wrong_currency(written, value):
            fail(Check.PRICE, f"mentions {written!r}, in a currency the context does not have")
            return
        if value is not None and value in known_amounts:
            return
        if value is not None and value in prospect_amounts:
            fail(
                Check.UNVERIFIED,
                f"mentions {written!r}, a figure found only in the prospect's own email: "
                "unverified, never confirmed on their say-so",
            )
            return
        fail(Check.PRICE, f"mentions the price or figure {written!r}, which is not in the context")

    for found in _PRICE.finditer(text):
        price(found.group(0).strip(), _price_value(found.group(0)), found.span())
    for found in _PERCENT_SIGN.finditer(text):
        price(found.group(0).strip(), _price_value(found.group(0)), found.span())
    for found in _SCALED_FIGURE.finditer(text):
        price(found.group(0).strip(), _price_value(found.group(0)), found.span())
    for pattern in (_WORD_PRICE, _WORD_PERCENT):
        for found in pattern.finditer(text):
            phrase = _number_phrase(found.group("words"))
            if phrase is None:
                continue
            start = found.start("words") + found.group("words").rfind(phrase.split()[0])
            price(
                f"{phrase}{found.group(0)[len(found.group('words')) :]}",
                _words_value(phrase),
                (start, found.end()),
            )
    lowered_context = everything.lower()
    for offer in dict.fromkeys(m.group(0) for m in _FREE.finditer(text)):
        if offer.lower() not in lowered_context:
            fail(Check.PRICE, f"offers something free ({offer!r}), which nobody agreed")
    for word in dict.fromkeys(m.group(0) for m in _DISCOUNT.finditer(text)):
        if word.lower() not in lowered_context:
            where = " (only the prospect mentioned it)" if word.lower() in prospect.lower() else ""
            fail(Check.PRICE, f"mentions a {word!r}{where}, which nobody agreed")
    if _OTHER_CLIENTS.search(text):
        fail(Check.UNVERIFIED, "offers other clients' contact details, which are never shared")
    copied = _copied_run(body, context.prospect_text)
    if copied:
        fail(
            Check.UNVERIFIED,
            f"copies the prospect's own words ({copied!r}…): write a reply, not their email back",
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

    greeting = _greeting_failure(
        body, context.contact_name, context.require_greeting, context.greeting_names
    )
    if greeting:
        fail(Check.GREETING, greeting)

    return tuple(failures)
