"""A small statistical intent classifier for replies, in seven languages, offline.

Character n-grams (1 to 4, inside word boundaries) and word uni- and bigrams of the reply's
visible text, lower-cased and accent-folded, feed a multinomial logistic regression trained
offline by `scripts/train_intent_model.py` on the project's own labelled replies
(tests/data/replies.jsonl, every split except the holdouts). The weights ship inside the
package (`reading/data/intent_model.json`); they are read on the first `predict` and kept for
the process. Standard library only, deterministic, and fast enough to run on every inbound
reply (thousands a second).

The confidence is the model's softmax probability of its label, with a temperature fitted on
out-of-fold predictions of the training data, so that "0.8" means right about four times in
five on replies like the ones it was trained on. The rules decide what must be certain (opt-
out, bounce, auto-reply); this model is for the rest.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

MODEL_PATH = Path(__file__).with_name("data") / "intent_model.json"
FORMAT = 1
SCALE = 1000  # weights are stored as integer thousandths
MAX_CHARS = 1500  # the intent of a reply is in its first lines; longer texts are cut
NGRAMS = (1, 2, 3, 4)

_QUOTE_HEADER = re.compile(
    # The line that introduces the quoted history, in the seven languages of the set.
    r"^\s*(?:on\b.{0,120}\bwrote\s*:|am\b.{0,120}\bschrieb\b.{0,80}:|le\b.{0,120}\ba écrit\s*:"
    r"|el\b.{0,120}\bescribi[oó]\s*:|op\b.{0,120}\bschreef\b.{0,80}:|il\b.{0,120}\bha scritto\s*:"
    r"|em\b.{0,120}\bescreveu\s*:|-{2,}\s*original message\s*-{2,}|from:\s.+)$",
    re.IGNORECASE | re.MULTILINE,
)
_EMAIL = re.compile(r"\S+@\S+")
_URL = re.compile(r"https?://\S+|www\.\S+")
_DIGITS = re.compile(r"\d+")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?|[?!]")


def visible(text: str) -> str:
    """The reply without its quoted history (">" lines and what follows "On ... wrote:")."""
    header = _QUOTE_HEADER.search(text)
    if header:
        text = text[: header.start()]
    lines = [line for line in text.splitlines() if not line.lstrip().startswith(">")]
    return "\n".join(lines)[:MAX_CHARS]


def fold(text: str) -> str:
    """Lower-cased, accents removed, addresses and numbers reduced to a placeholder."""
    text = _URL.sub(" url ", text)
    text = _EMAIL.sub(" email ", text)
    text = _DIGITS.sub("0", text)
    text = text.casefold()
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@functools.lru_cache(maxsize=1 << 16)
def _word_features(word: str) -> tuple[str, ...]:
    """The character n-grams of one word padded with spaces, then the word itself."""
    padded = f" {word} "
    size = len(padded)
    return (*(padded[i : i + n] for n in NGRAMS for i in range(size - n + 1)), "w:" + word)


def features(text: str, lang: str | None = None) -> list[str]:
    """The distinct features of one text, in a fixed order (the order of the weights' sum)."""
    words = _WORD.findall(fold(visible(text)))
    out: list[str] = []
    for word in words:
        out += _word_features(word)
    out += [f"b:{first} {second}" for first, second in itertools.pairwise(words)]
    if not words:
        out.append("w:")  # an empty reply is a feature of its own
    if lang:
        out.append("lang:" + lang.lower()[:2])
    return list(dict.fromkeys(out))


@dataclass(frozen=True, slots=True)
class IntentModel:
    labels: tuple[str, ...]
    bias: tuple[float, ...]
    # One map per label, feature -> weight; every map has the same features (the vocabulary).
    weights: tuple[Mapping[str, float], ...]
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if not self.labels or len({len(self.labels), len(self.bias), len(self.weights)}) != 1:
            raise ValueError("intent model: labels, bias and weights of one length expected")
        if any(w.keys() != self.weights[0].keys() for w in self.weights):
            raise ValueError("intent model: every label's weights need the same features")

    def scores(self, feats: Sequence[str]) -> list[float]:
        scale = 1.0 / math.sqrt(len(feats)) if feats else 1.0
        vocabulary = self.weights[0]
        known = [f for f in feats if f in vocabulary]
        return [
            b + scale * sum(map(w.__getitem__, known))
            for b, w in zip(self.bias, self.weights, strict=True)
        ]

    def probabilities(self, feats: Sequence[str]) -> list[float]:
        return softmax(self.scores(feats), self.temperature)

    def predict(self, text: str, lang: str | None = None) -> tuple[str, float]:
        probs = self.probabilities(features(text, lang))
        best = max(range(len(probs)), key=probs.__getitem__)
        return self.labels[best], probs[best]

    def to_json(self) -> dict[str, object]:
        """Weights as integers (thousandths), one row of labels per feature."""
        rows: dict[str, list[int]] = {}
        for feature in sorted({f for w in self.weights for f in w}):
            row = [round(w.get(feature, 0.0) * SCALE) for w in self.weights]
            if any(row):
                rows[feature] = row
        return {
            "format": FORMAT,
            "labels": list(self.labels),
            "bias": [round(b * SCALE) for b in self.bias],
            "scale": SCALE,
            "temperature": round(self.temperature, 4),
            "weights": rows,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> IntentModel:
        if data.get("format") != FORMAT:
            raise ValueError(f"intent model format {data.get('format')!r}, expected {FORMAT}")
        labels, bias, rows = data.get("labels"), data.get("bias"), data.get("weights")
        temperature, scale = data.get("temperature", 1.0), data.get("scale", SCALE)
        if not (
            isinstance(labels, list)
            and isinstance(bias, list)
            and isinstance(rows, dict)
            and isinstance(temperature, int | float)
            and isinstance(scale, int | float)
            and len(labels) == len(bias)
            and all(isinstance(row, list) and len(row) == len(labels) for row in rows.values())
        ):
            raise ValueError("intent model: labels, bias and weight rows of one length expected")
        weights: list[dict[str, float]] = [{} for _ in labels]
        for feature, row in rows.items():
            for per_label, value in zip(weights, row, strict=True):
                per_label[str(feature)] = value / scale
        return cls(
            labels=tuple(str(label) for label in labels),
            bias=tuple(b / scale for b in bias),
            weights=tuple(weights),
            temperature=float(temperature),
        )


def softmax(scores: Iterable[float], temperature: float = 1.0) -> list[float]:
    scaled = [s / temperature for s in scores]
    top = max(scaled)
    exps = [math.exp(s - top) for s in scaled]
    total = math.fsum(exps)
    return [e / total for e in exps]


def read(path: Path) -> IntentModel:
    """A model file (ValueError when it is not one this code can use)."""
    return IntentModel.from_json(json.loads(path.read_text(encoding="utf-8")))


@functools.cache
def load() -> IntentModel:
    """The shipped model, read on first use and kept for the process."""
    return read(MODEL_PATH)


def predict(text: str, lang: str | None = None) -> tuple[str, float]:
    """The intent label of a reply (an `Intent` value) and the model's confidence, 0..1."""
    return load().predict(text, lang)
