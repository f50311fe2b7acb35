"""One return-date extractor: the first day back (or the day to pick up again)."""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, Final, cast

from reading._rx import lazy
from reading.mime import _WS_RE

_QUARTER = lazy(r"\bQ([1-4])(?:\s*(?:'|’)?\s*(\d{4}|\d{2}))?\b", re.IGNORECASE)

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
    rf"|(?:{_MONTHS})\.?\s+\d{{1,2}}(?!\d)(?:st|nd|rd|th)?(?:\s*[-–]\s*\d{{1,2}}(?:st|nd|rd|th)?)?"
    rf"(?:,?\s*\d{{4}})?"
    rf"|\d{{4}}-\d{{2}}-\d{{2}}"
    rf"|\d{{1,2}}[./]\d{{1,2}}\.?(?:[./]\d{{2,4}})?"
    rf"|(?:{_WEEKDAYS}),?\s+(?:the\s+|el\s+|le\s+|den\s+|il\s+|de\s+)?\d{{1,2}}"
    rf"(?:st|nd|rd|th|er|º|°|\.)?(?![\d./])"
    rf"|(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)\b"
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
_RETURN_RE: Final = lazy(rf"(?:{_RETURN_CUES})\s*({_DATE_TOKEN})", re.IGNORECASE)
_UNTIL_RE: Final = lazy(rf"\b(?:{_UNTIL_CUES})\s+({_DATE_TOKEN})", re.IGNORECASE)
_RANGE_RE: Final = lazy(
    rf"(?:from|vom|du|del|dal|de|van|on)\s+({_DATE_TOKEN})\s*(?:to|until|till|[-–]|bis|au|al|"
    rf"a|to and including|tot(?: en met)?|t/m)\s*({_DATE_TOKEN})|"
    rf"\b((?:{_MONTHS})\.?)\s+(\d{{1,2}})\s*[-–]\s*(\d{{1,2}})\b",
    re.IGNORECASE,
)
_DAY_NUMBER_RE: Final = lazy(
    rf"^(?:(?:{_WEEKDAYS}),?\s+)?(?:the\s+|el\s+|le\s+|den\s+|il\s+|de\s+)?(\d{{1,2}})"
    r"(?:st|nd|rd|th|er|º|°|\.)?$",
    re.IGNORECASE,
)
# "until Friday inclusive", "bis einschließlich 4.12.", "t/m vrijdag": the day named is the
# last day away, so the first day back is the next working day.
_INCLUSIVE_RE: Final = lazy(
    r"\b(?:inclusive|inclusively|included|through|thru|einschlie(?:ß|ss)lich|inkl\.?|"
    r"inclus(?:e|ivement)?|y compris|incluido|incluida|inclusive|compreso|compresa|incluso|"
    r"inclu[íi]do|t/m|tot en met)(?!\w)",
    re.IGNORECASE,
)
_NUMERIC_DATE_RE: Final = lazy(
    r"^(\d{4})-(\d{2})-(\d{2})$|^(\d{1,2})[./](\d{1,2})\.?(?:[./](\d{2,4}))?$"
)


# Month and weekday names in the seven languages, by their first letters: most phrases are read
# here, and only the rest goes to dateparser (slow: tens of milliseconds a phrase).
_MONTH_PREFIXES: Final = {
    "jan": 1, "gen": 1, "ene": 1, "feb": 2, "fev": 2, "fév": 2, "mar": 3, "mär": 3, "maa": 3,
    "mrt": 3, "apr": 4, "avr": 4, "abr": 4, "mai": 5, "may": 5, "mei": 5, "mag": 5, "jun": 6,
    "juin": 6, "giu": 6, "jul": 7, "juil": 7, "lug": 7, "aug": 8, "aoû": 8, "aou": 8, "ago": 8,
    "sep": 9, "set": 9, "oct": 10, "okt": 10, "ott": 10, "out": 10, "nov": 11, "dec": 12,
    "déc": 12, "dez": 12, "dic": 12,
}  # fmt: skip
_WEEKDAY_PREFIXES: Final = {
    0: ("mon", "montag", "lun", "segunda", "maandag"),
    1: ("tue", "dienstag", "mar", "terça", "terca", "dinsdag"),
    2: ("wed", "mittwoch", "mer", "mié", "mie", "quarta", "woensdag"),
    3: ("thu", "donnerstag", "jeu", "jue", "gio", "quinta", "donderdag"),
    4: ("fri", "freitag", "ven", "vie", "sexta", "vrijdag"),
    5: ("sat", "samstag", "sam", "sáb", "sab", "zaterdag"),
    6: ("sun", "sonntag", "dim", "dom", "zondag"),
}
_DAY_MONTH_WORD_RE: Final = lazy(r"^(\d{1,2})\.?\s*([^\W\d]{3,12})\.?(?:\s*,?\s*(\d{4}))?$")
_MONTH_WORD_DAY_RE: Final = lazy(r"^([^\W\d]{3,12})\.?\s+(\d{1,2})(?:\s*,?\s*(\d{4}))?$")


def _month_of(word: str) -> int | None:
    if word.startswith(("mart", "mardi")):  # martes, martedì, mardi: a weekday
        return None
    for length in (4, 3):
        found = _MONTH_PREFIXES.get(word[:length])
        if found is not None:
            return found
    return None


def _quick_date(phrase: str, today: dt.date) -> dt.date | None:
    """A day and a month name, or a weekday alone, read without dateparser."""
    words = phrase.split()
    if len(words) == 1 and not phrase[:1].isdigit():
        word = phrase.strip(".,")
        for weekday, names in _WEEKDAY_PREFIXES.items():
            if any(word == n or (len(n) > 3 and word.startswith(n)) for n in names) or (
                len(word) > 3 and word[:3] in names
            ):
                ahead = (weekday - today.weekday()) % 7 or 7
                return today + dt.timedelta(days=ahead)
        return None
    found = _DAY_MONTH_WORD_RE.match(phrase)
    if found:
        day, month, year = int(found.group(1)), _month_of(found.group(2)), found.group(3)
    else:
        found = _MONTH_WORD_DAY_RE.match(phrase)
        if not found:
            return None
        day, month, year = int(found.group(2)), _month_of(found.group(1)), found.group(3)
    if month is None:
        return None
    try:
        if year:
            return dt.date(int(year), month, day)
        candidate = dt.date(today.year, month, day)
        if candidate < today - dt.timedelta(days=1):
            candidate = dt.date(today.year + 1, month, day)
    except ValueError:
        return None
    return candidate


def _parse_date_phrase(phrase: str, base: dt.datetime, us_order: bool) -> dt.date | None:
    """A date phrase relative to `base` (the message date), in the future of it."""
    phrase = phrase.strip().strip(".,;:)")
    day_only = _DAY_NUMBER_RE.match(phrase)
    if day_only:
        # "the 14th", "lunes 14", "Monday the 14th": the day number decides, the next one.
        return _next_day_of_month(int(day_only.group(1)), base.date() - dt.timedelta(days=1))
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
    quick = _quick_date(cleaned.lower(), base.date())
    if quick is not None:
        return quick
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

            parsed = dateparser.parse(cleaned, languages=_DATE_LANGUAGES, settings=settings)
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


def extract_return_date(text: str, sent: dt.datetime) -> dt.date | None:
    """The date an out-of-office says its writer is back, relative to the message date.

    "back on Monday", "returning on May 5th", "until 15.12.", "bis 3. Januar", "July 10-31"
    (an absence range: back the day after). None when no date is stated."""
    if not text:
        return None
    base = sent
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
            return next_working_day(end)
    found = _UNTIL_RE.search(flat)
    if found:
        end = _parse_date_phrase(found.group(1), base, us_order)
        if end:
            around = flat[max(0, found.start() - 30) : found.end() + 30]
            if _INCLUSIVE_RE.search(around):
                return next_working_day(end)
            # "Away until May 5" / "bis 15.12.": back on the stated day.
            return end
    return None


def next_working_day(last_day_away: date) -> date:
    """The first day back after the last day away (Friday -> Monday)."""
    day = last_day_away + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def first_day_back(text: str, *, sent: datetime | None, now: datetime) -> date | None:
    """The one return-date extractor: the first day the writer is back (out-of-office), or
    the day a reply asks to pick up again; relative to when it was written (`now` when the
    message says nothing), never before that day."""
    base = sent if sent is not None and sent.tzinfo is not None else now
    found = extract_return_date(text, base) or extract_resume_date(text[:_MAX_DATE_TEXT], base)
    if found is None or found < base.date():
        return None
    return found


# --------------------------------------------------------------------------- dates

_MAX_DATE_TEXT = 3_000  # dateparser is slow: a stated date sits near the top
_DATE_LANGUAGES = ["en", "de", "fr", "es", "it", "pt", "nl"]
_DATE_SETTINGS: Mapping[str, Any] = {
    "PREFER_DATES_FROM": "future",
    "PREFER_DAY_OF_MONTH": "first",
    "RETURN_AS_TIMEZONE_AWARE": False,
}
_MONTH_WORDS = (
    "january february march april june july august september october november december "
    "jan feb apr jun jul aug sep sept oct nov dec "
    "januar februar märz mai juni juli oktober dezember "
    "janvier février mars avril juin juillet août septembre octobre novembre décembre "
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre "
    "gennaio febbraio aprile maggio giugno luglio settembre ottobre dicembre "
    "janeiro fevereiro março maio junho julho setembro outubro novembro dezembro "
    "januari februari maart mei augustus"
)
_DAY_WORDS = (
    "monday tuesday wednesday thursday friday saturday sunday "
    "montag dienstag mittwoch donnerstag freitag samstag sonntag "
    "lundi mardi mercredi jeudi vendredi samedi dimanche "
    "lunes martes miércoles jueves viernes sábado domingo "
    "lunedì martedì mercoledì giovedì venerdì sabato domenica "
    "segunda-feira terça-feira quarta-feira quinta-feira sexta-feira "
    "maandag dinsdag woensdag donderdag vrijdag zaterdag zondag "
    "tomorrow morgen demain mañana domani amanhã"
)
_RELATIVE_WORDS = (
    "weeks? months? years? wochen? monate? monaten jahre? semaines? mois ans? années? "
    "semanas? mes(?:es)? años? settimane? mesi? anni? anos? weken maand(?:en)? jaar"
)
_DATE_HINT = lazy(
    r"\d|\bMay\b|(?i:\b(?:"
    + "|".join(re.escape(w) for w in (_MONTH_WORDS + " " + _DAY_WORDS).split())
    + "|"
    + "|".join(_RELATIVE_WORDS.split())
    + r")\b)"
)
_SEASON_WORDS: Mapping[str, str] = {
    **dict.fromkeys(
        ("spring", "primavera", "printemps", "frühling", "frühjahr", "voorjaar", "lente"), "spring"
    ),
    **dict.fromkeys(("summer", "verano", "été", "sommer", "estate", "verão", "zomer"), "summer"),
    **dict.fromkeys(
        ("autumn", "fall", "otoño", "automne", "herbst", "autunno", "outono", "najaar", "herfst"),
        "autumn",
    ),
    **dict.fromkeys(("winter", "invierno", "hiver", "inverno"), "winter"),
    "holidays": "holidays",
}
_SEASON_STARTS: Mapping[str, tuple[int, int]] = {
    "spring": (3, 20),
    "summer": (6, 21),
    "autumn": (9, 22),
    "winter": (12, 21),
    "holidays": (12, 20),
}
_SEASON_ENDS: Mapping[str, tuple[int, int]] = {
    "spring": (6, 21),
    "summer": (9, 1),
    "autumn": (12, 21),
    "winter": (3, 20),
    "holidays": (1, 5),
}
_SEASON = lazy(
    r"\b(?P<after>after|following|post|end of|nach|après|después de|dopo|depois de|na)?\s*"
    r"(?:the |der |dem |den |l'|el |la |il |o |de |het )?(?P<season>"
    + "|".join(_SEASON_WORDS)
    + r")\b",
    re.IGNORECASE,
)
_NEXT_QUARTER = lazy(
    r"\bnext quarter\b|\bnächste[ns]? quartal\b|\bprochain trimestre\b|\bpróximo trimestre\b|"
    r"\bprossimo trimestre\b|\bvolgend kwartaal\b",
    re.IGNORECASE,
)
_NEXT_YEAR = lazy(
    r"\bnext year\b|\bnew year\b|\bnächste[ns]? jahr\b|\bl'année prochaine\b|"
    r"\bprochaine année\b|\bpróximo (?:año|ano)\b|\bprossimo anno\b|\banno prossimo\b|"
    r"\bvolgend jaar\b",
    re.IGNORECASE,
)
_NTH = lazy(r"^(?:on |after |until )?(?:the )?(\d{1,2})(?:st|nd|rd|th)$", re.IGNORECASE)
# dateparser may take a following word into the phrase ("4.12. im Urlaub").
_DAY_MONTH = lazy(r"^(\d{1,2})\.(\d{1,2})\.?(\d{2,4})?(?:\s|$)")


def _next_occurrence(month: int, day: int, today: date) -> date:
    found = date(today.year, month, day)
    return found if found > today else date(today.year + 1, month, day)


def _quarter_start(quarter: int, year_text: str | None, base: date) -> date:
    month = 3 * (quarter - 1) + 1
    if year_text:
        year = int(year_text)
        return date(year + 2000 if year < 100 else year, month, 1)
    return _next_occurrence(month, 1, base)


def _next_day_of_month(day: int, today: date) -> date | None:
    year, month = today.year, today.month
    for _ in range(3):
        try:
            candidate = date(year, month, day)
        except ValueError:
            candidate = None
        if candidate is not None and candidate > today:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def _hit_date(phrase: str, moment: datetime, today: date) -> date | None:
    nth = _NTH.match(phrase.strip())
    if nth:
        return _next_day_of_month(int(nth.group(1)), today)
    numeric = _DAY_MONTH.match(phrase.strip())
    if numeric:  # 7.12. is the 7th of December here, never 07:12
        day, month, year_text = int(numeric.group(1)), int(numeric.group(2)), numeric.group(3)
        try:
            if year_text:
                year = int(year_text)
                return date(year + 2000 if year < 100 else year, month, day)
            return _next_occurrence(month, day, today)
        except ValueError:
            return None
    if not _DATE_HINT.search(phrase):
        return None
    return moment.date()


def extract_resume_date(text: str, base: datetime) -> date | None:
    """When the reply says to pick up again ("Q2", "after the summer", "back on 3 March")."""
    today = base.date()
    quarter = _QUARTER.search(text)
    if quarter:
        return _quarter_start(int(quarter.group(1)), quarter.group(2), today)
    if _NEXT_QUARTER.search(text):
        q = (today.month - 1) // 3 + 1
        return _quarter_start(q % 4 + 1, None, today)
    if _NEXT_YEAR.search(text):
        return date(today.year + 1, 1, 1)
    season = _SEASON.search(text)
    if season:
        name = _SEASON_WORDS[season.group("season").lower()]
        month, day = (_SEASON_ENDS if season.group("after") else _SEASON_STARTS)[name]
        return _next_occurrence(month, day, today)
    if not _DATE_HINT.search(text[:_MAX_DATE_TEXT]):
        return None  # no digit, month, weekday or relative word: nothing for dateparser
    settings = cast(Any, {**_DATE_SETTINGS, "RELATIVE_BASE": base.replace(tzinfo=None)})
    text = re.sub(r"\b(?:dia|día|el día|le jour|il giorno) (\d{1,2})\b", r"\1", text, flags=re.I)
    # All languages at once first; dateparser then settles on one language for the whole
    # text, so a date it missed is looked for again one language at a time.
    from dateparser.search import search_dates  # heavy: imported when first needed

    text = text[:_MAX_DATE_TEXT]
    for languages in (_DATE_LANGUAGES, *([lang] for lang in _DATE_LANGUAGES)):
        hits = search_dates(text, languages=languages, settings=settings) or []
        position = 0
        for phrase, moment in hits:
            start = text.find(phrase, position)
            position = max(position, start)
            if not _after_cue(text[: max(start, 0)], phrase):
                continue  # "thanks for your email of 3 November" is no resume date
            found = _hit_date(phrase, moment, today)
            if found is None or not today < found <= today + timedelta(days=730):
                continue
            if found > today + timedelta(days=330) and not re.search(r"\d{4}", phrase):
                continue  # a past date pushed into next year by "prefer future"
            return found
    return None


_RESUME_CUES = frozenset(
    [
        "until",
        "till",
        "til",
        "through",
        "thru",
        "after",
        "from",
        "on",
        "in",
        "by",
        "around",
        "back",
        "return",
        "returning",
        "returns",
        "early",
        "mid",
        "late",
        "end",
        "start",
        "beginning",
        "next",
        "before",
        "again",
        "then",
        "bis",
        "ab",
        "nach",
        "am",
        "anfang",
        "ende",
        "wieder",
        "zurück",
        "jusqu'au",
        "jusqu'à",
        "au",
        "le",
        "dès",
        "après",
        "début",
        "fin",
        "retour",
        "hasta",
        "en",
        "desde",
        "el",
        "después",
        "principios",
        "finales",
        "vuelta",
        "regresaré",
        "fino",
        "al",
        "dal",
        "dopo",
        "il",
        "entro",
        "rientrerò",
        "rientro",
        "até",
        "depois",
        "no",
        "dia",
        "em",
        "retornarei",
        "volta",
        "tot",
        "vanaf",
        "na",
        "op",
        "begin",
        "eind",
        "per",
        "terug",
    ]
)


def _after_cue(before: str, phrase: str) -> bool:
    words = [w.lower() for w in re.findall(r"[\w'’]+", before)[-4:]]
    first = phrase.split()[0].lower() if phrase.split() else ""
    return first in _RESUME_CUES or any(word in _RESUME_CUES for word in words)
