"""What reviewers change: which templates get edited or dismissed most, and the edits they make
most often, offered back as template suggestions.

Pure: drafts in (each keeps the text it was drafted with and the text that was approved),
figures out. A sentence a reviewer deletes from several drafts of one template is a sentence
the template should not write; a sentence several reviewers add is one it should.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from triggers.drafts import Draft, DraftStatus

TEMPLATE_FALLBACK_PREFIX = "drafted from template: "
MIN_REPEATS = 2  # an edit made on at least this many drafts becomes a suggestion
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
_DECIDED_EDITABLE = (DraftStatus.APPROVED, DraftStatus.SENT, DraftStatus.FAILED)


@dataclass(frozen=True, slots=True)
class TemplateEdits:
    template: str  # the rule or angle whose template wrote the draft
    source: str  # "template" or "model"
    drafted: int
    approved_unchanged: int
    edited: int
    dismissed: int
    fallbacks: int  # model drafts that fell back to the template

    @property
    def edit_or_dismiss_rate(self) -> float:
        return (self.edited + self.dismissed) / self.drafted if self.drafted else 0.0


@dataclass(frozen=True, slots=True)
class Suggestion:
    template: str
    change: str  # "remove" or "add" (or "subject")
    text: str
    drafts: int  # on how many drafts reviewers made this edit
    edited: int  # of how many edited drafts of this template

    def __str__(self) -> str:
        where = f"{self.template}.j2"
        if self.change == "remove":
            verb = f"reviewers deleted {self.text!r}"
            advice = f"consider taking it out of {where}"
        elif self.change == "subject":
            verb = f"reviewers changed the subject to {self.text!r}"
            advice = f"consider that subject in {where}"
        else:
            verb = f"reviewers added {self.text!r}"
            advice = f"consider writing it in {where}"
        return f"{self.template}: {verb} in {self.drafts} of {self.edited} edited drafts; {advice}"


@dataclass(frozen=True, slots=True)
class EditReport:
    templates: tuple[TemplateEdits, ...]  # most edited or dismissed first
    suggestions: tuple[Suggestion, ...]  # most repeated first


def template_of(draft: Draft) -> str:
    return draft.rule or draft.angle or draft.trigger


def _sentences(text: str) -> list[str]:
    return [" ".join(s.split()) for s in _SENTENCE.findall(text) if len(s.split()) >= 3]


def _is_fallback(draft: Draft) -> bool:
    return bool(draft.notice and draft.notice.startswith(TEMPLATE_FALLBACK_PREFIX))


def edit_report(drafts: Sequence[Draft], *, limit: int = 5) -> EditReport:
    counts: dict[tuple[str, str], Counter[str]] = {}
    removed: dict[str, Counter[str]] = {}
    added: dict[str, Counter[str]] = {}
    subjects: dict[str, Counter[str]] = {}
    edited_per_template: Counter[str] = Counter()
    for draft in drafts:
        name = template_of(draft)
        tally = counts.setdefault((name, draft.source), Counter())
        tally["drafted"] += 1
        if _is_fallback(draft):
            tally["fallbacks"] += 1
        if draft.status is DraftStatus.DISMISSED:
            tally["dismissed"] += 1
            continue
        if draft.status not in _DECIDED_EDITABLE and not draft.edited:
            continue
        if not draft.edited:
            tally["approved_unchanged"] += 1
            continue
        tally["edited"] += 1
        edited_per_template[name] += 1
        before, after = set(_sentences(draft.original_body)), set(_sentences(draft.body))
        removed.setdefault(name, Counter()).update(before - after)
        added.setdefault(name, Counter()).update(after - before)
        if draft.subject != draft.original_subject:
            subjects.setdefault(name, Counter())[" ".join(draft.subject.split())] += 1
    templates = sorted(
        (
            TemplateEdits(
                template=name,
                source=source,
                drafted=t["drafted"],
                approved_unchanged=t["approved_unchanged"],
                edited=t["edited"],
                dismissed=t["dismissed"],
                fallbacks=t["fallbacks"],
            )
            for (name, source), t in counts.items()
        ),
        key=lambda t: (-t.edit_or_dismiss_rate, -t.drafted, t.template),
    )
    suggestions: list[Suggestion] = []
    for change, table in (("remove", removed), ("add", added), ("subject", subjects)):
        for name, counter in table.items():
            for text, times in counter.items():
                if times >= MIN_REPEATS:
                    suggestions.append(
                        Suggestion(name, change, text, times, edited_per_template[name])
                    )
    suggestions.sort(key=lambda s: (-s.drafts, s.template, s.change, s.text))
    return EditReport(tuple(templates), tuple(suggestions[:limit]))
