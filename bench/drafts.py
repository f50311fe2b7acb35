"""Draft quality: each drafter scored on the labelled situations, and the guardrails on the
good and bad drafts.

For every drafter (the templates; the model path against a loopback OpenAI-compatible server
answering with scripted drafts, some of them bad on the first try so the guardrails and the
regeneration are exercised) over tests/data/draft_situations.json:
- must-mention coverage (items met / items), must-not violations (drafts with any);
- grammar and style problems found by proselint (a prose linter that runs offline; no
  LanguageTool: it needs a server download and Debian does not package it), per 100 words;
- length (median and max words of the body); guardrail-flagged drafts; model fallbacks.
Then the guardrails alone over tests/data/draft_samples.json: the catch rate on the bad drafts
(aim >= 95%) per kind, and the false alarms on the good ones (aim <= 2%).

Run: .venv/bin/python bench/drafts.py [--show] [--templates DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import openai
from proselint.checks import __register__ as proselint_checks
from proselint.registry import CheckRegistry
from proselint.tools import LintFile

from prompts.base import DraftResult
from prompts.build import guardrail_context
from prompts.drafter import LLMDrafter, TemplateDrafter
from tests.prompts.fake_openai import FakeOpenAI, Reply, completion
from tests.prompts.situations import DRAFT_SAMPLES, build, coverage, situation, situations
from triggers.guardrails import check_draft


@dataclass
class Score:
    name: str
    met: int = 0
    items: int = 0
    violating: int = 0
    grammar: int = 0
    words: list[int] = field(default_factory=list)
    flagged: int = 0
    fallbacks: int = 0
    drafts: int = 0
    problems: Counter[str] = field(default_factory=Counter)


def grammar_problems(body: str) -> list[str]:
    """proselint's findings on the body (the signature block left out)."""
    registry = CheckRegistry()
    if not registry.checks:
        registry.register_many(proselint_checks)
    text = body.rsplit("\n\n", 1)[0] if "\n\n" in body else body
    return [result.check_result.check_path for result in LintFile("draft", text).lint()]


def score(name: str, draft: Callable[[dict[str, Any]], DraftResult], show: bool) -> Score:
    result = Score(name)
    for spec in situations():
        made = draft(spec)
        met, items, violations = coverage(spec, made.subject, made.body)
        result.drafts += 1
        result.met += met
        result.items += items
        result.violating += bool(violations)
        found = grammar_problems(made.body)
        result.grammar += len(found)
        result.problems.update(found)
        result.words.append(len(made.body.split()))
        result.flagged += bool(made.guardrail_failures)
        result.fallbacks += made.source != "model" and name != "templates"
        if show and (violations or met < items or made.guardrail_failures or found):
            print(f"--- {name} {spec['id']}: {met}/{items} {violations} {found}")
            print(made.guardrail_failures)
            print(made.subject)
            print(made.body)
    return result


def report(s: Score) -> None:
    words = sum(s.words)
    print(f"{s.name}:")
    print(f"  must-mention coverage   {s.met}/{s.items} = {s.met / s.items:.1%}")
    print(f"  must-not violations     {s.violating}/{s.drafts} drafts")
    print(
        f"  grammar/style problems  {s.grammar} ({100 * s.grammar / max(words, 1):.2f} per 100 "
        f"words) {dict(s.problems.most_common(4))}"
    )
    print(f"  length (words)          median {statistics.median(s.words):.0f}, max {max(s.words)}")
    print(f"  guardrail-flagged       {s.flagged}/{s.drafts}")
    if s.name != "templates":
        print(f"  template fallbacks      {s.fallbacks}/{s.drafts}")


def samples() -> dict[str, list[dict[str, Any]]]:
    data: dict[str, list[dict[str, Any]]] = json.loads(DRAFT_SAMPLES.read_text(encoding="utf-8"))
    return data


def scripted_answers() -> dict[str, list[dict[str, Any]]]:
    """Per situation, what the fake model answers: every fourth starts with a bad draft."""
    data = samples()
    good = {s["situation"]: s for s in data["good"] if s["kind"] == "good"}
    bad: dict[str, dict[str, Any]] = {}
    for sample in data["bad"]:
        bad.setdefault(sample["situation"], sample)
    answers: dict[str, list[dict[str, Any]]] = {}
    for index, spec in enumerate(situations()):
        chosen = [good[spec["id"]]]
        if index % 4 == 0 and spec["id"] in bad:
            chosen.insert(0, bad[spec["id"]])
        answers[spec["id"]] = [
            {
                "subject": s["subject"],
                "body": s["body"],
                "facts_used": ["scripted"],
                "why_angle": "scripted",
            }
            for s in chosen
        ]
    return answers


@contextmanager
def model_drafter() -> Iterator[tuple[LLMDrafter, FakeOpenAI]]:
    server = FakeOpenAI().start()
    client = openai.OpenAI(api_key="sk-bench", base_url=server.base_url, max_retries=0)
    try:
        yield LLMDrafter(client, "fake-model-1", TemplateDrafter(), retry_backoff=0), server
    finally:
        client.close()
        server.close()


def guardrails(show: bool) -> None:
    data = samples()
    caught: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for sample in data["bad"]:
        context = build(situation(sample["situation"])).context
        total[sample["kind"]] += 1
        if check_draft(sample["subject"], sample["body"], guardrail_context(context)):
            caught[sample["kind"]] += 1
        elif show:
            print(f"MISSED {sample['kind']} {sample['situation']}: {sample['body']!r}")
    alarms = 0
    for sample in data["good"]:
        context = build(situation(sample["situation"])).context
        failures = check_draft(sample["subject"], sample["body"], guardrail_context(context))
        alarms += bool(failures)
        if failures and show:
            print(f"FALSE ALARM {sample['situation']}: {[f.message for f in failures]}")
    bad, good = sum(total.values()), len(data["good"])
    print("guardrails:")
    print(
        f"  catch rate on bad drafts   {sum(caught.values())}/{bad} = "
        f"{sum(caught.values()) / bad:.1%}"
    )
    print("    " + ", ".join(f"{k} {caught[k]}/{n}" for k, n in sorted(total.items())))
    print(f"  false alarms on good ones  {alarms}/{good} = {alarms / good:.1%}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="print every draft with a problem")
    parser.add_argument(
        "--templates", type=Path, help="score this folder of template overrides (e.g. older ones)"
    )
    args = parser.parse_args()
    print(f"{len(situations())} labelled situations")
    templates = TemplateDrafter(args.templates)
    report(score("templates", lambda spec: templates.draft(build(spec).context), args.show))

    answers = scripted_answers()
    with model_drafter() as (drafter, server):

        def by_model(spec: dict[str, Any]) -> DraftResult:
            for payload in answers[spec["id"]]:
                server.replies.append(Reply(200, completion(json.dumps(payload))))
            made = drafter.draft(build(spec).context)
            server.replies.clear()
            return made

        report(score("model (loopback server, scripted drafts)", by_model, args.show))
        print(f"  model calls             {len(server.requests)}")
    guardrails(args.show)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
