"""Intent on the held-out replies: rules only, the statistical model, and the two combined.

Every holdout split of tests/data/replies.jsonl (holdout ... holdout5, and issue 15's
holdout6, written before the model existed) is read; none of them is ever trained on
(scripts/train_intent_model.py skips them). Per language, the share of replies whose intent is
right, for:

  rules    reading.read_text as shipped (rules, then the statistical model), no model server
  model    reading.intent_model.predict alone
  combo    rules first for opt-out, out-of-office and bounce (and an auto-reply header), the
           model for the rest
  fallback rules, and the model only where the rules say `other` (when confident, >= 0.5)

then the model's recall per label on holdout6, today's rules against the rest of issue 15's
quality bar on holdout6 (opt-out, first day back, injection), and texts per second.

  .venv/bin/python bench/intent_model.py
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reading import read_text  # noqa: E402
from reading.intent_model import _word_features, load, predict  # noqa: E402
from triggers.reading import Intent, Reading  # noqa: E402

DATA = ROOT / "tests" / "data" / "replies.jsonl"
RECEIVED = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
CERTAIN = {Intent.OPT_OUT, Intent.OUT_OF_OFFICE, Intent.BOUNCE}
LANGS = ("en", "de", "fr", "es", "nl", "it", "pt")
MODES = ("rules", "model", "combo", "fallback")


def rules(case: dict[str, Any]) -> Reading:
    """What followup reads of the reply as shipped (reading/: its rules, and the statistical
    model for what they leave open)."""
    kind = "auto_reply" if case.get("auto_reply") else "bounce" if case.get("bounce") else None
    return read_text(case["text"], sent=RECEIVED, now=RECEIVED, kind=kind)


def verdicts(case: dict[str, Any]) -> dict[str, str]:
    by_rules = rules(case)
    label, confidence = predict(case["text"], case["lang"])
    settled = by_rules.intent in CERTAIN or "auto_reply: header" in by_rules.matched
    fallback = by_rules.intent.value
    if by_rules.intent is Intent.OTHER and confidence >= 0.5:
        fallback = label
    return {
        "rules": by_rules.intent.value,
        "model": label,
        "combo": by_rules.intent.value if settled else label,
        "fallback": fallback,
    }


def table(title: str, cases: list[dict[str, Any]], got: list[dict[str, str]]) -> None:
    print(f"\n{title}")
    print(f"  {'lang':<6}{'n':>5}" + "".join(f"{mode:>10}" for mode in MODES))
    for lang in (*LANGS, "all"):
        chosen = [
            (case, verdict)
            for case, verdict in zip(cases, got, strict=True)
            if lang in ("all", case["lang"])
        ]
        if not chosen:
            continue
        cells = "".join(
            f"{sum(v[mode] == c['intent'] for c, v in chosen) / len(chosen):>10.1%}"
            for mode in MODES
        )
        print(f"  {lang:<6}{len(chosen):>5}{cells}")


def recall_by_label(cases: list[dict[str, Any]], got: list[dict[str, str]], mode: str) -> None:
    support = Counter(case["intent"] for case in cases)
    right = Counter(
        case["intent"] for case, v in zip(cases, got, strict=True) if v[mode] == case["intent"]
    )
    predicted = Counter(v[mode] for v in got)
    print(f"\n{mode}, per label on holdout6: recall (right/support), times predicted")
    for intent in Intent:
        n = support[intent.value]
        recall = f"{right[intent.value] / n:6.1%}" if n else "     -"
        times = predicted[intent.value]
        print(f"  {intent.value:<16}{recall}  ({right[intent.value]}/{n}), {times}")


def rules_on_the_bar(cases: list[dict[str, Any]]) -> None:
    """Opt-out, return date and injection by today's rules on the fresh holdout."""
    labels = [rules(case) for case in cases]
    gold = [case["intent"] == "opt_out" for case in cases]
    got = [label.intent is Intent.OPT_OUT for label in labels]
    tp = sum(g and p for g, p in zip(gold, got, strict=True))
    print("\nreading/ (rules, then the statistical model) on holdout6, the rest of the quality bar")
    print(f"  opt-out recall     {tp}/{sum(gold)}   precision {tp}/{sum(got)}")
    dated = [(c, label) for c, label in zip(cases, labels, strict=True) if c.get("return_date")]
    back = sum(1 for c, label in dated if str(label.resume_on) == c["return_date"])
    print(f"  first day back     {back}/{len(dated)} (resume_on equal to return_date)")
    inj = [c["injection_suspected"] for c in cases]
    flagged = [label.injection_suspected for label in labels]
    caught = sum(g and p for g, p in zip(inj, flagged, strict=True))
    false = sum(p and not g for g, p in zip(inj, flagged, strict=True))
    clean = len(inj) - sum(inj)
    print(f"  injection recall   {caught}/{sum(inj)}   false positives {false}/{clean}")


def speed(texts: list[tuple[str, str]]) -> None:
    load()
    _word_features.cache_clear()
    started = time.perf_counter()
    for text, lang in texts:
        predict(text, lang)
    cold = len(texts) / (time.perf_counter() - started)
    rounds = max(1, 3000 // len(texts))
    started = time.perf_counter()
    for _ in range(rounds):
        for text, lang in texts:
            predict(text, lang)
    warm = rounds * len(texts) / (time.perf_counter() - started)
    started = time.perf_counter()
    for text, _ in texts:
        read_text(text, sent=RECEIVED, now=RECEIVED)
    rules_rate = len(texts) / (time.perf_counter() - started)
    print(
        f"\nspeed: model {cold:,.0f} texts/s on a first pass (every word new to its cache), "
        f"{warm:,.0f} texts/s after; rules {rules_rate:,.0f} texts/s"
    )


def main() -> int:
    with DATA.open(encoding="utf-8") as lines:
        cases = [json.loads(line) for line in lines if line.strip()]
    held = [case for case in cases if case["split"].startswith("holdout")]
    print(f"intent on holdouts of {DATA.relative_to(ROOT)}: {len(held)} replies, never trained on")
    got = [verdicts(case) for case in held]
    old = [i for i, case in enumerate(held) if case["split"] != "holdout6"]
    new = [i for i, case in enumerate(held) if case["split"] == "holdout6"]
    table(
        "holdout ... holdout5 (the rules were fixed on them after their first measurement)",
        [held[i] for i in old],
        [got[i] for i in old],
    )
    table(
        "holdout6 (issue 15, written before the model; rules and model never saw it)",
        [held[i] for i in new],
        [got[i] for i in new],
    )
    table("every holdout", held, got)
    recall_by_label([held[i] for i in new], [got[i] for i in new], "model")
    recall_by_label([held[i] for i in new], [got[i] for i in new], "combo")
    rules_on_the_bar([held[i] for i in new])
    speed([(case["text"], case["lang"]) for case in cases])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
