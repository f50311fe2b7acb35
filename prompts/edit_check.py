"""The guardrails every draft passes, for the text a person typed in an edit: the same
`triggers.guardrails.check_draft` over the same context the draft was written from, with the
draft as it was made counted as trusted (what it already said is no news)."""

from __future__ import annotations

from prompts.base import DraftContext
from prompts.build import guardrail_context
from triggers.guardrails import check_draft


class DraftGuardrails:
    """`flows.ports.EditGuardrails` over the drafts' own checks."""

    def check(
        self, context: DraftContext, subject: str, body: str, *, trusted: tuple[str, ...]
    ) -> tuple[str, ...]:
        failures = check_draft(subject, body, guardrail_context(context, trusted_extra=trusted))
        return tuple(f.message for f in failures)
