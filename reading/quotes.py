"""Quoted history: the new text of a reply, without quotes, signatures or legal footers."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from typing import Final

from reading._rx import Lazy, lazy
from reading.mime import _MAX_LINE_CHARS, _MAX_SCAN_CHARS, _TEXT_CONTROL_RE

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
_DELIM_LINE_RE: Final = lazy(r"^[ \t\u00a0]*[-_,=+~#*\u1427]+[ \t\u00a0]*$")
# Help-desk markers such as "## Please type your reply above this line ##".
_REPLY_ABOVE_RE: Final = lazy(r"^[ \t>]*#{2,}.*#{2,}[ \t]*$")
_MOBILE_SIGNATURE_RES: Final = tuple(
    lazy(p, re.IGNORECASE)
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


def _join_regex(on: str, wrote: str) -> Lazy:
    wrote = wrote.replace(" ", _SPACES_OR_NEWLINES)
    return lazy(
        rf"^([ \t>\-]*{on}\s(?:(?!{on}\s|{wrote}:?)[\s\S]){{0,400}}{wrote}[ \t]*:?[ \t\-]*)$",
        re.MULTILINE,
    )


_ON_DATE_WROTE_JOIN_RES: Final = tuple(_join_regex(on, wrote) for on, wrote in _ON_DATE_WROTE)
_EMBEDDED_RES: Final = (
    *(
        lazy(rf"^[ \t>\-]*{on}\s.*{wrote}[ \t]*:?[ \t\-]*$", re.IGNORECASE)
        for on, wrote in _ON_DATE_WROTE
    ),
    lazy(r"^[ \t>]*(?:Op|Am)\s.+\s(?:schreef|schrieb)\s[^:]+:"),
    lazy(r".+пользователь.+написал:"),
    lazy(r"^[ \t>]*.+\s(?:написал|написала|написав|написала\(а\))\s*:\s*$"),
    lazy(r"^[ \t>]*20\d\d-\d\d-\d\d \d\d?:\d\d GMT[+-]\d\d:\d\d [\w \t]+$"),
    lazy(r"^[ \t>]*.*\d{4}.+<[^@<>\s]+@[^@<>.\s]+\.[^@<>\s]+>:?$"),
    lazy(r"^[ \t>]*.+ via .+ (?:wrote|schrieb):?[ \t]*$"),
    lazy(r"^[ \t>]*.+ <.+@.+\..+> (?:wrote|schrieb|a écrit|escribió|ha scritto|escreveu)"),
    lazy(r"^[ \t>]*Posted by .+ on \d{2}/\d{2}/\d{4}$", re.IGNORECASE),
    lazy(r"^[ \t>]*Begin forwarded message:", re.IGNORECASE),
    lazy(r"^[ \t>]*Reply message", re.IGNORECASE),
    lazy(r"^[ \t>*]*-{2,}[ \t]*(?:Forwarded|Original|Reply) Message[ \t]*-{2,}", re.IGNORECASE),
    lazy(r"^[ \t>*]*-{2,}[ \t]*Message (?:transféré|d'origine)[ \t]*-{2,}", re.IGNORECASE),
    lazy(
        r"^[ \t>*]*-{2,}[ \t]*(?:Ursprüngliche Nachricht|Weitergeleitete Nachricht)[ \t]*-{2,}",
        re.IGNORECASE,
    ),
    lazy(r"^[ \t>*]*-{2,}[ \t]*Mensaje (?:original|reenviado)[ \t]*-{2,}", re.IGNORECASE),
    lazy(r"^[ \t>*]*-{2,}[ \t]*Messaggio (?:originale|inoltrato)[ \t]*-{2,}", re.IGNORECASE),
    lazy(r"^[ \t>*]*-{2,}[ \t]*Mensagem original[ \t]*-{2,}", re.IGNORECASE),
    lazy(r"^[ \t>*]*-{2,}[ \t]*Oorspronkelijk bericht[ \t]*-{2,}", re.IGNORECASE),
    lazy(r"^[ \t>*]*-{2,}[ \t]*Originalmeddelande[ \t]*-{2,}", re.IGNORECASE),
)
_HEADER_DATE_RE: Final = lazy(
    r"^[ \t>*]*(?:Sendt|Sent|Date|Datum|Gesendet|Enviada em|Enviado|Fecha|Data|Inviato|"
    r"Envoyé|Verzonden|Skickat|Wysłano|Отправлено|Дата)[ \t*]*:.*\d+"
)
_HEADER_TEXT_RE: Final = lazy(
    r"^[ \t>*]*(?:From|To|Cc|Reply-To|Subject|Fra|Til|Emne|De|À|A|Répondre à|Objet|Von|An|"
    r"Betreff|Para|Assunto|Asunto|Da|Risposta|Oggetto|Van|Aan|Onderwerp|Från|Till|Ämne|Od|Do|"
    r"Temat|От|Кому|Тема|Копия)[ \t*]*:.*\w+"
)


_WROTE_WORDS: Final = (
    r"(?:wrote|writes|schrieb|a écrit|escribió|ha scritto|escreveu|schreef|"
    r"het volgende geschreven|skrev|kirjoitti|napisał(?:\(a\))?|napsal|написал[аи]?|пише|"
    r"написав|írta|yazdı|έγραψε|写道|寫道|が書きました|님이 작성)"
)
_ATTRIBUTION_RE: Final = lazy(rf"{_WROTE_WORDS}(?:\W.{{0,60}})?\s*:\s*$", re.IGNORECASE)
_DATE_EMAIL_COLON_RE: Final = lazy(r"\d{4}.+<[^@<>\s]+@[^@<>\s]+\.[^@<>\s]+>\s*:?\s*$")
_TIME_OR_EMAIL_RE: Final = lazy(r"@|\d{1,2}[:.h]\d{2}")
_DASHED_TITLE_RE: Final = lazy(r"^[ \t>*]*-{2,}[ \t]*[^\W\d_][^\-]{2,40}?[ \t]*-{2,}[ \t*]*$")
_CONTENTLESS_RE: Final = lazy(r"^[\s>]*$")


def _is_attribution(text: str) -> bool:
    text = text.strip()
    if len(text) > 350 or not text.endswith((":", ">")):
        return False
    if _ATTRIBUTION_RE.search(text) and _TIME_OR_EMAIL_RE.search(text):
        return True
    return bool(_DATE_EMAIL_COLON_RE.search(text)) and text.endswith(":")


_CONTINUES_RE: Final = lazy(r"^[ \t]*(?:<|>[ \t]*:|[(\[\"]|[a-zà-ÿа-я]|\S+@)")
_LEAD_RE: Final = lazy(r"^[ \t>]*(?:On|Am|Le|El|Il|Em|Op|Den|Dnia|W dniu)\s")
_STARTS_ATTRIBUTION_RE: Final = lazy(
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


def _library_wrote_headers() -> tuple[Lazy, ...]:
    """mail-parser-reply's "On ... wrote:" headers (adds cs, da, ja, ko, sv, zh to ours)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from mailparser_reply.constants import MAIL_LANGUAGES
        except ImportError:  # pragma: no cover - a declared dependency
            return ()
    found: list[Lazy] = []
    for spec in MAIL_LANGUAGES.values():
        pattern = spec.get("wrote_header") if isinstance(spec, dict) else None
        if isinstance(pattern, str):
            try:
                found.append(lazy(pattern))
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


# A legal footer: confidentiality plus "intended recipient", in any of the seven languages.
# Two independent searches (each linear), never one pattern of two lookaheads at every
# position: that was quadratic in the paragraph (4 s at a 20 KB line, minutes at 3 MB).
_CONFIDENTIAL = lazy(
    r"\b(?:confidential|vertraulich|confidentiel|confidencial|riservat|vertrouwelijk)",
    re.IGNORECASE,
)
_INTENDED = lazy(
    r"\b(?:intended recipient|not the intended|destinataire|empfänger|destinatario|"
    r"destinatário|geadresseerde)",
    re.IGNORECASE,
)
_ATTRIBUTION = lazy(r"^(?:On .{5,200} wrote:|-{2,} ?Original Message ?-{2,}|From: .+@.+)$")


def _is_disclaimer(paragraph: str) -> bool:
    return bool(_CONFIDENTIAL.search(paragraph)) and bool(_INTENDED.search(paragraph))


def own_words(visible: str) -> str:
    """The reply's own words from its visible text (`visible_reply_text`): no quoted history
    (any language), signature or legal footer."""
    lines: list[str] = []
    for line in visible.splitlines():
        stripped = line.strip()
        if len(stripped) <= 400 and _ATTRIBUTION.match(stripped):
            break
        if stripped.startswith(">"):
            continue
        lines.append(line)
    paragraphs = re.split(r"\n\s*\n", "\n".join(lines).strip())
    while len(paragraphs) > 1 and _is_disclaimer(paragraphs[-1]):
        paragraphs.pop()
    return "\n\n".join(paragraphs).strip()
