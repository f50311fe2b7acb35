"""Train the statistical intent classifier shipped in reading/data/intent_model.json.

It learns from tests/data/replies.jsonl, on every split EXCEPT the holdouts (any split whose
name starts with "holdout": holdout, holdout2 ... holdout6 are never read here, for training
or for tuning), so the holdouts stay an honest measure of wording the model never saw. The
temperature of the confidence is fitted on out-of-fold predictions of the training rows.

Deterministic: the same rows give byte-identical weights. Standard library only.

  .venv/bin/python scripts/train_intent_model.py           # train and write the model
  .venv/bin/python scripts/train_intent_model.py --cv 5    # k-fold accuracy on training rows
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reading.intent_model import MODEL_PATH, IntentModel, features, softmax  # noqa: E402

DATA = ROOT / "tests" / "data" / "replies.jsonl"
LABELS = (
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
)
SEED = 15
EPOCHS = 15
LEARNING_RATE = 2.0
L2 = 0.0  # weight decay per epoch; 5-fold accuracy was best without
MIN_DF = 2  # a feature seen in one training reply only is noise
BALANCE = 0.5  # 0: classes as they come, 1: every class weighs the same in total
PRUNE = 1e-3  # weights smaller than this are dropped from the shipped file


def is_holdout(split: str) -> bool:
    return split.startswith("holdout")


def training_rows(path: Path = DATA) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    return [row for row in rows if not is_holdout(row["split"])]


def train(
    examples: list[tuple[list[str], str]],
    *,
    epochs: int = EPOCHS,
    learning_rate: float = LEARNING_RATE,
    l2: float = L2,
    min_df: int = MIN_DF,
    seed: int = SEED,
    balance: float = BALANCE,
) -> IntentModel:
    """Multinomial logistic regression by SGD on binary features scaled to unit length."""
    df = Counter(f for feats, _ in examples for f in set(feats))
    vocab = {f for f, n in df.items() if n >= min_df or f.startswith("lang:")}
    data = [([f for f in feats if f in vocab], LABELS.index(label)) for feats, label in examples]
    counts = Counter(y for _, y in data)
    # Classes weighted towards balance (a power of the inverse frequency).
    mean = len(data) / len(counts)
    class_weight = [(mean / counts[c]) ** balance if counts[c] else 0.0 for c in range(len(LABELS))]
    weights: list[dict[str, float]] = [defaultdict(float) for _ in LABELS]
    bias = [0.0] * len(LABELS)
    order = list(range(len(data)))
    rng = random.Random(seed)
    for epoch in range(epochs):
        rng.shuffle(order)
        rate = learning_rate / (1.0 + 0.1 * epoch)
        for i in order:
            feats, y = data[i]
            scale = 1.0 / math.sqrt(len(feats)) if feats else 1.0
            scores = [
                b + scale * sum(map(w.__getitem__, feats))
                for b, w in zip(bias, weights, strict=True)
            ]
            probs = softmax(scores)
            for c, p in enumerate(probs):
                gradient = (p - (c == y)) * class_weight[y]
                if abs(gradient) < 1e-5:
                    continue
                step = rate * gradient * scale
                w = weights[c]
                for f in feats:
                    w[f] -= step
                bias[c] -= rate * gradient * 0.1
        shrink = 1.0 - rate * l2 * len(data)
        for w in weights:
            for f in w:
                w[f] *= shrink
    kept = sorted({f for w in weights for f, v in w.items() if abs(v) >= PRUNE})
    dense = tuple({f: (w[f] if abs(w[f]) >= PRUNE else 0.0) for f in kept} for w in weights)
    return IntentModel(labels=LABELS, bias=tuple(bias), weights=dense)


def folds(n: int, k: int, seed: int = SEED) -> list[list[int]]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return [order[i::k] for i in range(k)]


def out_of_fold(
    examples: list[tuple[list[str], str]], k: int, **options: Any
) -> list[tuple[list[float], str]]:
    """Each training row scored by a model trained on the other folds: (scores, gold)."""
    result: list[tuple[list[float], str]] = [([], "")] * len(examples)
    for fold in folds(len(examples), k):
        held = set(fold)
        model = train([e for i, e in enumerate(examples) if i not in held], **options)
        for i in fold:
            result[i] = (model.scores(examples[i][0]), examples[i][1])
    return result


def fit_temperature(scored: list[tuple[list[float], str]]) -> float:
    """The softmax temperature with the least negative log-likelihood (a grid, deterministic)."""

    def nll(t: float) -> float:
        return -sum(math.log(max(softmax(s, t)[LABELS.index(gold)], 1e-12)) for s, gold in scored)

    grid = [round(0.2 + 0.05 * i, 2) for i in range(57)]  # 0.2 .. 3.0
    return min(grid, key=nll)


def report_cv(scored: list[tuple[list[float], str]], rows: list[dict[str, Any]]) -> None:
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for (s, gold), row in zip(scored, rows, strict=True):
        got = LABELS[max(range(len(s)), key=s.__getitem__)]
        for key in (row["lang"], "all"):
            total[key] += 1
            right[key] += got == gold
    for key in sorted(total):
        print(f"  {key:<4} {right[key] / total[key]:6.1%}  ({right[key]}/{total[key]})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cv", type=int, default=0, help="k-fold accuracy on training rows")
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args(argv)

    rows = training_rows()
    splits = Counter(row["split"] for row in rows)
    print(f"training on {len(rows)} replies, splits {dict(sorted(splits.items()))}")
    print("holdout splits (holdout, holdout2 ... holdout6) are not read")
    examples = [(features(row["text"], row["lang"]), row["intent"]) for row in rows]
    scored = out_of_fold(examples, args.cv or 5)
    if args.cv:
        print(f"{args.cv}-fold accuracy on the training rows:")
        report_cv(scored, rows)
        return 0
    temperature = fit_temperature(scored)
    model = train(examples)
    model = IntentModel(model.labels, model.bias, model.weights, temperature)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(model.to_json(), ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    size = sum(1 for w in model.weights for v in w.values() if v)
    print(f"wrote {args.out}: {size} weights, temperature {temperature}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
