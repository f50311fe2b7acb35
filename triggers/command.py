"""The `/followup` slash command: text in, a `Command` (or a `CommandError` saying how to fix
it) out. Pure: no deal lookup, no clock; the bot resolves the deal query and the dates.

Grammar (verbs and keywords are case-insensitive; a deal is named by title, company or
contact name, optionally in quotes):

    help [verb]
    queue
    stats [days]
    status <deal>          why <deal>
    pause <deal> [for <duration> | until <YYYY-MM-DD>]
    resume <deal>
    snooze <deal> [for] <duration>
    deprioritize <deal>
    enroll <deal> [cadence]
    optout <email>         optout undo <email>

`enroll` reads its last word as the cadence (`enroll Globex re_engagement`), unless the deal is
quoted (`enroll "Globex website" re_engagement`). Only the bot knows the cadences: when that
word names none, it reads the whole text as the deal. `stats` takes days (`30`, `30d`, `2w`).

Durations are `90m`, `72h`, `3d`, `2w` (also `3 days`, `1 week`). Slack escapes `&`, `<` and
`>` in command text and may wrap an address as `<mailto:a@b.example|a@b.example>`; both are
undone here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from triggers.durations import parse_duration

__all__ = [
    "ALIASES",
    "STATS_DAYS",
    "USAGE",
    "Command",
    "CommandError",
    "Verb",
    "help_text",
    "parse_command",
    "parse_human_duration",
]


class Verb(StrEnum):
    HELP = "help"
    QUEUE = "queue"
    STATUS = "status"
    WHY = "why"
    PAUSE = "pause"
    RESUME = "resume"
    SNOOZE = "snooze"
    DEPRIORITIZE = "deprioritize"
    ENROLL = "enroll"
    STATS = "stats"
    OPTOUT = "optout"


# Other spellings people type.
ALIASES: dict[str, Verb] = {
    "?": Verb.HELP,
    "list": Verb.QUEUE,
    "mine": Verb.QUEUE,
    "explain": Verb.STATUS,
    "unpause": Verb.RESUME,
    "deprioritise": Verb.DEPRIORITIZE,
    "enrol": Verb.ENROLL,
    "metrics": Verb.STATS,
    "opt-out": Verb.OPTOUT,
    "opt_out": Verb.OPTOUT,
    "unsubscribe": Verb.OPTOUT,
}

USAGE: dict[Verb, tuple[str, str]] = {
    Verb.HELP: ("help", "what you are reading"),
    Verb.QUEUE: ("queue", "your drafts waiting for review"),
    Verb.STATS: (
        "stats [days]",
        "reply rates per cadence step, completion, opt-outs and review figures "
        "(default: the last 30 days)",
    ),
    Verb.STATUS: ("status <deal>", "every rule for the deal: due, not due, and why"),
    Verb.WHY: ("why <deal>", "why the deal's draft exists, or why nothing is due"),
    Verb.PAUSE: (
        "pause <deal> [for 2w | until 2026-12-15]",
        "no drafts for the deal for a while, or until resumed",
    ),
    Verb.RESUME: ("resume <deal>", "watch a paused deal again"),
    Verb.SNOOZE: ("snooze <deal> 3d", "put the deal's draft (or the deal) aside for a while"),
    Verb.DEPRIORITIZE: ("deprioritize <deal>", "stop following up on the deal until resumed"),
    Verb.ENROLL: (
        "enroll <deal> [cadence]",
        "put the deal's contact in a cadence (default: the configured one); "
        "each step comes to you as a draft",
    ),
    Verb.OPTOUT: (
        "optout <email> | optout undo <email>",
        "never write to this address again (the deal's owner or an admin); an admin can undo "
        "one made by mistake",
    ),
}

NEEDS_DEAL = frozenset(
    {Verb.STATUS, Verb.WHY, Verb.PAUSE, Verb.RESUME, Verb.SNOOZE, Verb.DEPRIORITIZE, Verb.ENROLL}
)

# A generous ceiling: anything longer is a typo, not a plan.
MAX_DURATION = timedelta(days=366)
STATS_DAYS = 30  # as `followup stats`


@dataclass(frozen=True, slots=True)
class Command:
    verb: Verb
    deal: str = ""  # the deal query, as typed (quotes removed)
    duration: timedelta | None = None  # pause ... for, snooze
    until: date | None = None  # pause ... until (a date in the deal owner's zone)
    email: str = ""  # optout, lower-cased
    topic: Verb | None = None  # help <verb>
    cadence: str = ""  # enroll: the cadence as typed ("" for the default); see the grammar
    days: int | None = None  # stats: how many days back
    undo: bool = False  # optout undo <email>: lift a suppression made by mistake


@dataclass(frozen=True, slots=True)
class CommandError:
    message: str  # one or two sentences, with the usage to follow
    verb: Verb | None = None


_HUMAN_UNITS = {
    "minute": "m",
    "minutes": "m",
    "mins": "m",
    "hour": "h",
    "hours": "h",
    "hr": "h",
    "hrs": "h",
    "day": "d",
    "days": "d",
    "week": "w",
    "weeks": "w",
    "wk": "w",
    "wks": "w",
}
_HUMAN = re.compile(r"^\s*(\d+)\s*([a-z]+)\s*$", re.IGNORECASE)
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_EMAIL = re.compile(r"^[^@\s<>|\"']+@[^@\s<>|\"']+\.[^@\s<>|\"'.][^@\s<>|\"']*$")
_MAILTO = re.compile(r"<mailto:([^|>]+)(?:\|[^>]*)?>", re.IGNORECASE)
_QUOTES = "\"'“”‘’«»"
# An opening quote and the quotes that may close it (phones and Macs curl them either way).
_CLOSING = {'"': '"”', "'": "'’", "“": '”“"', "”": "”", "‘": "’‘'", "’": "’", "«": "»"}
_STATS_DAYS = re.compile(r"^(\d+)\s*(d|days?|w|wks?|weeks?)?$", re.IGNORECASE)
_PAUSE_TAIL = re.compile(r"^(?P<deal>.*?)\s+(?P<kw>for|until)\s+(?P<arg>\S+(?:\s+\S+)?)\s*$", re.I)
_SNOOZE_TAIL = re.compile(r"^(?P<deal>.*?)\s+(?:for\s+)?(?P<arg>\d+\s*[a-z]+)\s*$", re.IGNORECASE)


def parse_human_duration(text: str) -> timedelta:
    """`3d`, `72h`, `2w`, `90m`, or the same with words (`3 days`, `1 week`); ValueError
    otherwise, naming what is allowed. Zero and more than a year are refused."""
    match = _HUMAN.match(text)
    spelled = text
    if match and match.group(2).lower() in _HUMAN_UNITS:
        spelled = f"{match.group(1)}{_HUMAN_UNITS[match.group(2).lower()]}"
    try:
        delta = parse_duration(spelled)
    except ValueError:
        raise ValueError(
            f"“{text.strip()}” is not a duration; use a number and a unit: 3d, 72h, 2w, 90m"
        ) from None
    if delta <= timedelta(0):
        raise ValueError("the duration must be more than zero")
    if delta > MAX_DURATION:
        raise ValueError("that is more than a year; use `pause <deal>` to pause until resumed")
    return delta


def _unescape(text: str) -> str:
    text = _MAILTO.sub(lambda m: m.group(1), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _unquote(text: str) -> str:
    text = " ".join(text.split())
    while len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return text


def _usage(verb: Verb) -> str:
    return f"`/followup {USAGE[verb][0]}`"


def _verb(word: str) -> Verb | None:
    word = word.lower()
    if word in ALIASES:
        return ALIASES[word]
    try:
        return Verb(word)
    except ValueError:
        return None


def _parse_date(text: str) -> date:
    match = _ISO_DATE.match(text.strip())
    if not match:
        raise ValueError(f"“{text.strip()}” is not a date; write it as YYYY-MM-DD (2026-12-15)")
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise ValueError(f"{text.strip()} is not a day of the calendar") from None


def parse_command(text: str) -> Command | CommandError:
    """Read the text after `/followup`."""
    text = _unescape(text or "").strip()
    if not text:
        return Command(Verb.HELP)
    word, _, rest = text.partition(" ")
    verb = _verb(word)
    rest = rest.strip()
    if verb is None:
        return CommandError(
            f"I don't know “{_unquote(word)[:40]}”. Try `/followup help` for what I can do."
        )
    if verb is Verb.HELP:
        topic = _verb(rest.split(" ", 1)[0]) if rest else None
        return Command(Verb.HELP, topic=topic)
    if verb is Verb.QUEUE:
        return Command(Verb.QUEUE)
    if verb is Verb.STATS:
        return _stats(rest)
    if verb is Verb.ENROLL:
        return _enroll(rest)
    if verb is Verb.OPTOUT:
        undo = False
        head, _, tail = rest.partition(" ")
        if head.lower() in ("undo", "lift") and tail.strip():
            undo, rest = True, tail.strip()
        address = _unquote(rest).lower()
        if not address:
            return CommandError(f"Which address? {_usage(verb)}", verb)
        if not _EMAIL.match(address):
            return CommandError(f"“{address[:80]}” is not an email address. {_usage(verb)}", verb)
        return Command(Verb.OPTOUT, email=address, undo=undo)
    if verb is Verb.PAUSE:
        return _pause(rest)
    if verb is Verb.SNOOZE:
        return _snooze(rest)
    deal = _unquote(rest)
    if not deal:
        return CommandError(f"Which deal? {_usage(verb)}", verb)
    return Command(verb, deal=deal)


def _pause(rest: str) -> Command | CommandError:
    match = _PAUSE_TAIL.match(rest)
    if match is None:
        deal = _unquote(rest)
        if not deal:
            return CommandError(f"Which deal? {_usage(Verb.PAUSE)}", Verb.PAUSE)
        return Command(Verb.PAUSE, deal=deal)
    deal = _unquote(match.group("deal"))
    if not deal:
        return CommandError(f"Which deal? {_usage(Verb.PAUSE)}", Verb.PAUSE)
    argument = match.group("arg")
    if not argument[:1].isdigit():
        # "pause Design for Acme": the words belong to the deal's name, not to a duration.
        return Command(Verb.PAUSE, deal=_unquote(rest))
    try:
        if match.group("kw").lower() == "for":
            return Command(Verb.PAUSE, deal=deal, duration=parse_human_duration(argument))
        return Command(Verb.PAUSE, deal=deal, until=_parse_date(argument))
    except ValueError as error:
        return CommandError(f"{_capital(str(error))}. {_usage(Verb.PAUSE)}", Verb.PAUSE)


def _snooze(rest: str) -> Command | CommandError:
    match = _SNOOZE_TAIL.match(rest)
    if match is None:
        if not _unquote(rest) or _HUMAN.match(rest):
            return CommandError(f"Which deal, and for how long? {_usage(Verb.SNOOZE)}", Verb.SNOOZE)
        return CommandError(f"For how long? {_usage(Verb.SNOOZE)}", Verb.SNOOZE)
    deal = _unquote(match.group("deal"))
    if not deal:
        return CommandError(f"Which deal? {_usage(Verb.SNOOZE)}", Verb.SNOOZE)
    try:
        duration = parse_human_duration(match.group("arg"))
    except ValueError as error:
        return CommandError(f"{_capital(str(error))}. {_usage(Verb.SNOOZE)}", Verb.SNOOZE)
    return Command(Verb.SNOOZE, deal=deal, duration=duration)


def _stats(rest: str) -> Command | CommandError:
    text = _unquote(rest)
    if not text:
        return Command(Verb.STATS, days=STATS_DAYS)
    match = _STATS_DAYS.match(text)
    if match is None:
        return CommandError(
            f"“{text[:40]}” is not a number of days; try 7, 30d or 2w. {_usage(Verb.STATS)}",
            Verb.STATS,
        )
    days = int(match.group(1)) * (7 if (match.group(2) or "d")[0].lower() == "w" else 1)
    if not 1 <= days <= MAX_DURATION.days:
        return CommandError(
            f"Pick between 1 and {MAX_DURATION.days} days. {_usage(Verb.STATS)}", Verb.STATS
        )
    return Command(Verb.STATS, days=days)


def _enroll(rest: str) -> Command | CommandError:
    text = " ".join(rest.split())
    closers = _CLOSING.get(text[:1], "")
    if closers:
        # A quoted deal: whatever follows the closing quote is the cadence.
        close = next((i for i in range(1, len(text)) if text[i] in closers), -1)
        if close != -1:
            deal = _unquote(text[1:close])
            tail = text[close + 1 :].split()
            if not deal:
                return CommandError(f"Which deal? {_usage(Verb.ENROLL)}", Verb.ENROLL)
            if len(tail) > 1:
                return CommandError(
                    f"A cadence's name is one word, such as `re_engagement`. {_usage(Verb.ENROLL)}",
                    Verb.ENROLL,
                )
            return Command(Verb.ENROLL, deal=deal, cadence=_unquote(tail[0]) if tail else "")
        text = text[1:]  # a quote never closed: the name as typed, without it
    words = _unquote(text).split()
    if not words:
        return CommandError(f"Which deal? {_usage(Verb.ENROLL)}", Verb.ENROLL)
    if len(words) == 1:
        return Command(Verb.ENROLL, deal=words[0])
    return Command(Verb.ENROLL, deal=" ".join(words[:-1]), cadence=words[-1])


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def help_text(topic: Verb | None = None) -> str:
    """The help, as Slack mrkdwn (our own text only)."""
    if topic is not None:
        usage, what = USAGE[topic]
        return f"`/followup {usage}`: {what}."
    lines = ["*followup* drafts the follow-ups your deals need; you approve each one.", ""]
    lines += [f"• `/followup {usage}`: {what}" for usage, what in USAGE.values()]
    lines += [
        "",
        "A deal is found by its title, company or contact name (any case). "
        "Durations: `90m`, `72h`, `3d`, `2w`. Only you see these replies.",
    ]
    return "\n".join(lines)
