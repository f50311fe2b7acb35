"""Which language a message is written in, from its common words (enough to answer in kind)."""

from __future__ import annotations

import re

_WORDS: dict[str, frozenset[str]] = {
    "English": frozenset(
        [
            "the",
            "and",
            "is",
            "are",
            "we",
            "you",
            "to",
            "of",
            "for",
            "with",
            "this",
            "that",
            "have",
            "will",
            "can",
        ]
    ),
    "German": frozenset(
        [
            "der",
            "die",
            "das",
            "und",
            "ist",
            "wir",
            "sie",
            "ich",
            "nicht",
            "mit",
            "für",
            "ein",
            "eine",
            "auf",
            "gerne",
        ]
    ),
    "French": frozenset(
        [
            "le",
            "la",
            "les",
            "et",
            "est",
            "nous",
            "vous",
            "je",
            "pas",
            "avec",
            "pour",
            "une",
            "des",
            "sur",
            "merci",
        ]
    ),
    "Spanish": frozenset(
        [
            "el",
            "la",
            "los",
            "las",
            "y",
            "es",
            "nosotros",
            "usted",
            "para",
            "con",
            "una",
            "por",
            "gracias",
            "que",
        ]
    ),
    "Dutch": frozenset(
        ["de", "het", "een", "en", "is", "wij", "jij", "niet", "met", "voor", "op", "dank", "graag"]
    ),
    "Italian": frozenset(
        [
            "il",
            "lo",
            "la",
            "gli",
            "e",
            "è",
            "noi",
            "voi",
            "non",
            "con",
            "per",
            "una",
            "grazie",
            "che",
        ]
    ),
    "Portuguese": frozenset(
        [
            "o",
            "a",
            "os",
            "as",
            "e",
            "é",
            "nós",
            "você",
            "não",
            "com",
            "para",
            "uma",
            "obrigado",
            "que",
        ]
    ),
}
_TOKEN = re.compile(r"[^\W\d_]+")


def guess_language(text: str) -> str | None:
    """'German' for a German message; None when it is too short to tell."""
    words = [w.lower() for w in _TOKEN.findall(text)]
    if len(words) < 6:
        return None
    scores = {lang: sum(w in vocab for w in words) for lang, vocab in _WORDS.items()}
    best = max(scores, key=lambda lang: scores[lang])
    if scores[best] < 3 or (scores[best] <= scores["English"] and best != "English"):
        return None
    return best
