"""The statistical intent classifier, measured on replies it was never trained on."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from reading import intent_model
from reading.intent_model import IntentModel, features, predict

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "replies.jsonl"
LABELS = {
    "interested",
    "meeting_request",
    "question",
    "objection",
    "not_now",
    "not_interested",
    "referral",
    "wrong_person",
    "out_of_office",
    "opt_out",
    "bounce",
    "other",
}
LANGS = ("en", "de", "fr", "es", "nl", "it", "pt")
RECEIVED = "2026-11-20T10:00:00+00:00"


def load_cases() -> list[dict[str, Any]]:
    with DATA.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


CASES = load_cases()
HELD = [case for case in CASES if case["split"].startswith("holdout")]
HOLDOUT6 = [case for case in CASES if case["split"] == "holdout6"]
ISSUE_15 = [case for case in CASES if case["split"] in {"train2", "holdout6"}]


def accuracy(cases: list[dict[str, Any]]) -> float:
    right = sum(1 for c in cases if predict(c["text"], c["lang"])[0] == c["intent"])
    return right / len(cases)


# ------------------------------------------------------------------- the issue-15 labelled set


def test_the_issue_15_replies_cover_every_language_and_label() -> None:
    per_lang = Counter(case["lang"] for case in ISSUE_15)
    assert all(per_lang[lang] >= 40 for lang in LANGS), per_lang
    assert sum(per_lang.values()) >= 280
    for lang in LANGS:
        assert {c["intent"] for c in ISSUE_15 if c["lang"] == lang} == LABELS, lang
    assert {c["intent"] for c in HOLDOUT6} == LABELS
    assert 0.3 <= len(HOLDOUT6) / len(ISSUE_15) <= 0.5
    injection_langs = {c["lang"] for c in ISSUE_15 if c["injection_suspected"]}
    assert injection_langs == set(LANGS)
    # A "no more emails until then" that is a postponement, not an opt-out, in every language.
    postponed = [
        c for c in ISSUE_15 if c["intent"] == "not_now" and c["model_answer"]["intent"] == "opt_out"
    ]
    assert len({c["lang"] for c in postponed}) == len(LANGS)


def test_the_issue_15_replies_are_well_formed() -> None:
    old_fields = {"text", "intent", "sentiment", "injection_suspected", "model_answer", "lang"}
    optional = {"auto_reply", "bounce", "referral", "return_date"}
    for case in [c for c in CASES if c["split"] in {"train2", "train3", "holdout6"}]:
        assert (
            old_fields | {"split", "received"}
            <= set(case)
            <= old_fields
            | optional
            | {
                "split",
                "received",
            }
        ), case
        assert case["received"] == RECEIVED
        assert case["intent"] in LABELS
        assert case["model_answer"]["intent"] in LABELS
        assert isinstance(case["injection_suspected"], bool)
        if case["intent"] == "out_of_office":
            assert "return_date" in case, case["text"]
        if case.get("return_date"):
            back = date.fromisoformat(case["return_date"])
            # The first day back: never in the past, never on a weekend.
            assert back > date(2026, 11, 20), case["text"]
            assert back.weekday() < 5, case["text"]
    with_date = [c for c in ISSUE_15 if c.get("return_date")]
    assert len(with_date) >= 6 * len(LANGS)


def test_the_trainer_never_reads_a_holdout() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import train_intent_model
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    splits = {row["split"] for row in train_intent_model.training_rows(DATA)}
    assert splits == {"dev", "train2", "train3"}


# --------------------------------------------------------------------------- on the holdouts


def test_the_model_learned_intent_on_replies_it_never_saw() -> None:
    # First and only measurement on holdout6 (bench/intent_model.py, before any threshold was
    # set): 68.9% (93/135); 75.9% (289/381) on every holdout. Chance is about 1 in 12. The
    # floors leave a few replies of room for a retrain on more data; they are NOT the issue's
    # 90% aim, which the model alone does not reach.
    assert accuracy(HELD) >= 0.73
    assert accuracy(HOLDOUT6) >= 0.65


# holdout6, first measurement: en 90.0%, de 65.0%, fr 57.9%, es 57.9%, nl 63.2%, it 73.7%,
# pt 73.7% (19-20 replies each). The floor is one reply below the weakest language.
@pytest.mark.parametrize("lang", LANGS)
def test_every_language_of_the_fresh_holdout(lang: str) -> None:
    cases = [case for case in HOLDOUT6 if case["lang"] == lang]
    assert accuracy(cases) >= 0.5


def test_every_label_is_predicted_on_the_holdouts() -> None:
    predicted = {predict(case["text"], case["lang"])[0] for case in HELD}
    assert predicted == LABELS


def test_confidence_is_a_probability_and_means_something() -> None:
    scored = [(predict(c["text"], c["lang"]), c["intent"]) for c in HELD]
    assert all(0.0 <= confidence <= 1.0 for (_, confidence), _ in scored)
    scored.sort(key=lambda item: item[0][1])
    half = len(scored) // 2
    low, high = scored[:half], scored[half:]
    right_low = sum(label == gold for (label, _), gold in low) / len(low)
    right_high = sum(label == gold for (label, _), gold in high) / len(high)
    assert right_high > right_low + 0.1


# ---------------------------------------------------------------------------- behaviour


def test_the_quoted_history_does_not_decide() -> None:
    reply = (
        "Sure, can we meet on Tuesday at 3pm?\n\n"
        "On Mon, 16 Nov 2026 at 09:12, Maya Chen <maya@acme.example> wrote:\n"
        "> If you would rather not hear from us, reply unsubscribe and we will remove you.\n"
    )
    assert predict(reply)[0] == "meeting_request"
    assert predict(reply) == predict("Sure, can we meet on Tuesday at 3pm?")


def test_accents_case_and_numbers_do_not_matter() -> None:
    assert features("Können wir am 3.12. TELEFONIEREN?") == features(
        "konnen wir am 7.11. telefonieren?"
    )
    assert predict("¿Cuánto cuesta por usuario?") == predict("cuanto cuesta por usuario?")


def test_an_empty_reply_still_gets_a_label() -> None:
    label, confidence = predict("")
    assert label in LABELS
    assert 0.0 <= confidence <= 1.0


def test_predictions_are_deterministic() -> None:
    texts = [(case["text"], case["lang"]) for case in HELD[:100]]
    first = [predict(text, lang) for text, lang in texts]
    assert [predict(text, lang) for text, lang in texts] == first
    fresh = intent_model.read(intent_model.MODEL_PATH)
    assert fresh is not intent_model.load()
    assert [fresh.predict(text, lang) for text, lang in texts] == first


def test_training_is_deterministic_and_round_trips(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import train_intent_model
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    rows = train_intent_model.training_rows(DATA)[::6]
    examples = [(features(r["text"], r["lang"]), r["intent"]) for r in rows]
    once = train_intent_model.train(examples, epochs=3)
    twice = train_intent_model.train(list(examples), epochs=3)
    assert once.to_json() == twice.to_json()
    path = tmp_path / "model.json"
    path.write_text(json.dumps(once.to_json()), encoding="utf-8")
    again = intent_model.read(path)
    text = rows[0]["text"]
    assert again.predict(text)[0] == once.predict(text)[0]
    assert again.predict(text)[1] == pytest.approx(once.predict(text)[1], abs=1e-2)


def test_a_damaged_model_file_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"format": 99}), encoding="utf-8")
    with pytest.raises(ValueError, match="format 99"):
        intent_model.read(path)
    path.write_text(
        json.dumps({"format": 1, "labels": ["a", "b"], "bias": [0], "weights": {}}),
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="one length"):
        IntentModel.from_json(json.loads(path.read_text(encoding="utf-8")))


def test_it_keeps_up_with_the_inbound_mail() -> None:
    texts = [(case["text"], case["lang"]) for case in CASES]
    intent_model.load()
    started = time.perf_counter()
    for text, lang in texts:
        predict(text, lang)
    rate = len(texts) / (time.perf_counter() - started)
    # Thousands a second on an idle core (bench/intent_model.py); the floor leaves room for a
    # loaded test machine and still fails a model ten times slower.
    assert rate >= 500, f"{rate:.0f} texts/s"
