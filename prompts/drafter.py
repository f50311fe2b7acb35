"""The two drafters: Jinja2 templates (the default, no network) and a model with a fallback.

Template files
--------------
One file per rule (`proposal_no_reply.j2`, `call_no_next_step.j2`, `stage_stale.j2`,
`quote_expired.j2`, `lead_no_reply.j2`), one per cadence angle (`value.j2`,
`social_proof.j2`, `check_in.j2`, `recap.j2`, `re_engagement.j2`, `final_outreach.j2`) and
`opt_out_confirmation.j2`. A template renders plain text: the first non-blank line is
`Subject: ...`, everything after it is the body (leading and trailing blank lines dropped,
three or more newlines collapsed to one blank line). The variables are listed in
`prompts.build.TEMPLATE_VARIABLES`; rendering uses `StrictUndefined`.

A folder of overrides (`templates_dir` in followup.toml) may hold any of these files; those
present replace the built-in ones. Every template is validated when the drafter is built: a
syntax error, an unknown variable or filter, a file name that is not a known template, or a
render without a `Subject:` line raises `TemplateValidationError` naming the file and line.

Guardrails
----------
Every draft is checked with `triggers.guardrails.check_draft`. A model draft that fails is
regenerated once with the failures as feedback; a draft that still fails (and any failing
template draft: rendering again would give the same text) is returned with
`guardrail_failures` set, unaltered, for the reviewer to see.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from jinja2 import FileSystemLoader, StrictUndefined, Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import TemplateError as JinjaTemplateError
from jinja2.sandbox import SandboxedEnvironment

from prompts.base import (
    OPT_OUT_CONFIRMATION,
    Angle,
    DraftContext,
    DraftResult,
    ModelError,
    ModelResponseError,
    ModelUnavailableError,
    ModelUsage,
    TemplateNotFoundError,
    TemplateValidationError,
)
from prompts.build import (
    ANGLE_DESCRIPTIONS,
    DRAFT_SCHEMA,
    RULE_DESCRIPTIONS,
    TEMPLATE_VARIABLES,
    build_messages,
    deal_facts,
    guardrail_context,
    owner_tasks,
    prompt_warnings,
    response_format,
    template_variables,
    written_from,
)
from triggers.config import RuleName
from triggers.guardrails import check_draft

if TYPE_CHECKING:  # the SDK loads with the model drafter, not with every command
    import openai

BUILTIN_TEMPLATE_DIR = Path(__file__).with_name("templates")
TEMPLATE_NAMES: tuple[str, ...] = (
    *(rule.value for rule in RuleName),
    *(angle.value for angle in Angle),
    OPT_OUT_CONFIRMATION,
)
log = logging.getLogger(__name__)
TEMPLATE_NOTICE_PREFIX = "drafted from template: "
REGENERATION_FAILED_NOTICE = "guardrails failed and the model was unavailable to regenerate"

_SUBJECT_LINE = re.compile(r"^\s*Subject:[ \t]*(?P<subject>.*)$", re.IGNORECASE)
_FACT_VARIABLES = (
    "first_name",
    "greeting_names",
    "company",
    "deal_name",
    "stage",
    "last_topic",
    "proposal_topic",
    "offer_number",
    "last_call_when",
    "days_quiet",
    "quote_expired_on",
    "asked_for",
    "promised",
    "event",
    "need",
    "deadline",
    "waiting_on",
    "waiting_detail",
)
_SAMPLE_VALUES: Mapping[str, Any] = {
    **{name: f"sample {name}" for name in TEMPLATE_VARIABLES},
    "days_quiet": 30,
}


# --------------------------------------------------------------------------- angles


def choose_angle(requested: str | None, used: Sequence[str]) -> tuple[str | None, str]:
    """The angle to write with, and a note when it differs from the one requested.

    Never the same cadence angle twice in a row: when `requested` equals the last angle used,
    the next angle in the natural order (after the requested one) is taken, preferring one not
    used yet and keeping `final_outreach` for when nothing else is left. With no angle
    requested, the first angle not used yet (or not used last) is taken.
    """
    last = used[-1] if used else None
    if requested == OPT_OUT_CONFIRMATION or (requested is not None and requested != last):
        return requested, ""
    order = list(Angle)
    start = order.index(Angle(requested)) + 1 if requested in order else 0
    rotated = order[start:] + order[:start]
    tiers = (
        [a for a in rotated if a != last and a is not Angle.FINAL_OUTREACH and a not in used],
        [a for a in rotated if a != last and a is not Angle.FINAL_OUTREACH],
        [a for a in rotated if a != last],
    )
    chosen = next(tier[0] for tier in tiers if tier).value
    if requested is None:
        return chosen, f"No angle was requested, so this uses {chosen!r}."
    return chosen, (
        f"{requested!r} was also the last angle used, so this uses {chosen!r} instead "
        "(never the same angle twice in a row)."
    )


def resolve_angle(context: DraftContext) -> tuple[str | None, str]:
    """The angle for `context` (None for a rule without one) and a note when it changed."""
    if context.rule and not context.angle:
        return None, ""
    return choose_angle(context.angle or None, context.angles_used)


def _why_angle(context: DraftContext, angle: str | None) -> str:
    if context.rule:
        description = RULE_DESCRIPTIONS.get(context.rule, "a follow-up is due")
        return f"Rule {context.rule}: {description}."
    if angle:
        return f"{angle}: {ANGLE_DESCRIPTIONS.get(angle, angle)}."
    return ""


# --------------------------------------------------------------------------- templates


def parse_rendered(text: str) -> tuple[str, str] | None:
    """Split a rendered template into subject and body; None without a Subject line."""
    lines = text.strip().splitlines()
    if not lines:
        return None
    match = _SUBJECT_LINE.match(lines[0])
    if match is None:
        return None
    body = "\n".join(line.rstrip() for line in lines[1:]).strip()
    body = re.sub(r"\n{3,}", "\n\n", body)
    return " ".join(match.group("subject").split()), body


def _first_line_of(ast: nodes.Template, name: str) -> int | None:
    for node in ast.find_all(nodes.Name):
        if node.name == name and node.ctx == "load":
            return int(node.lineno)
    return None


@dataclass(frozen=True, slots=True)
class _LoadedTemplate:
    name: str
    path: str
    source: str
    template: Template
    variables: frozenset[str] = field(default_factory=frozenset)


class TemplateDrafter:
    """Drafts from Jinja2 templates; `template_dir` holds optional per-file overrides."""

    def __init__(self, template_dir: Path | None = None) -> None:
        folders: list[Path] = []
        if template_dir is not None:
            if not template_dir.is_dir():
                raise TemplateValidationError(
                    "the templates folder does not exist", path=str(template_dir), line=None
                )
            for path in sorted(template_dir.glob("*.j2")):
                if path.stem not in TEMPLATE_NAMES:
                    known = ", ".join(TEMPLATE_NAMES)
                    raise TemplateValidationError(
                        f"{path.name!r} is not a known template; known: {known}",
                        path=str(path),
                        line=None,
                    )
            folders.append(template_dir)
        folders.append(BUILTIN_TEMPLATE_DIR)
        self._env = SandboxedEnvironment(
            loader=FileSystemLoader(folders),
            undefined=StrictUndefined,
            autoescape=False,  # plain-text email, never HTML
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self._templates = {name: self._load(name) for name in TEMPLATE_NAMES}

    def _load(self, name: str) -> _LoadedTemplate:
        filename = f"{name}.j2"
        try:
            source, path, _ = self._env.loader.get_source(self._env, filename)  # type: ignore[union-attr]
        except JinjaTemplateError as error:
            raise TemplateNotFoundError(f"no template {filename}: {error}") from error
        path = path or filename
        try:
            ast = self._env.parse(source, name=filename, filename=path)
            template = self._env.from_string(source)
        except TemplateSyntaxError as error:
            message = error.message or str(error)
            raise TemplateValidationError(message, path=path, line=error.lineno) from error
        unknown = sorted(meta.find_undeclared_variables(ast) - TEMPLATE_VARIABLES.keys())
        if unknown:
            first = unknown[0]
            raise TemplateValidationError(
                f"unknown variable {first!r}; known: {', '.join(TEMPLATE_VARIABLES)}",
                path=path,
                line=_first_line_of(ast, first),
            )
        try:
            sample = template.render(dict(_SAMPLE_VALUES))
        except JinjaTemplateError as error:
            line = getattr(error, "lineno", None)
            message = f"does not render: {error}"
            raise TemplateValidationError(message, path=path, line=line) from error
        if parse_rendered(sample) is None:
            raise TemplateValidationError(
                "the first line must be 'Subject: ...', followed by the body", path=path, line=1
            )
        variables = frozenset(meta.find_undeclared_variables(ast))
        return _LoadedTemplate(name, path, source, template, variables)

    def template_for(self, context: DraftContext, angle: str | None) -> str:
        name = context.rule or angle
        if name is None or name not in self._templates:
            raise TemplateNotFoundError(
                f"no template for rule {context.rule!r} / angle {angle!r}; "
                f"known: {', '.join(TEMPLATE_NAMES)}"
            )
        return name

    def render(self, context: DraftContext, angle: str | None) -> tuple[str, str, tuple[str, ...]]:
        """Subject, body and the facts the template used, without running the guardrails."""
        loaded = self._templates[self.template_for(context, angle)]
        values = template_variables(context, angle)
        try:
            text = loaded.template.render(values)
        except JinjaTemplateError as error:
            raise TemplateValidationError(
                f"does not render: {error}", path=loaded.path, line=getattr(error, "lineno", None)
            ) from error
        parsed = parse_rendered(text)
        if parsed is None:
            raise TemplateValidationError(
                "rendered without a 'Subject:' first line", path=loaded.path, line=1
            )
        facts = tuple(
            f"{name}: {values[name]}"
            for name in _FACT_VARIABLES
            if name in loaded.variables and values[name] not in ("", None)
        )
        return parsed[0], parsed[1], facts

    def draft(self, context: DraftContext) -> DraftResult:
        angle, note = resolve_angle(context)
        subject, body, facts = self.render(context, angle)
        source = self._templates[self.template_for(context, angle)].source
        failures = check_draft(subject, body, guardrail_context(context, trusted_extra=(source,)))
        return DraftResult(
            subject=subject,
            body=body,
            source="template",
            angle=angle,
            facts_used=facts,
            why_angle=" ".join(p for p in (note, _why_angle(context, angle)) if p),
            guardrail_failures=tuple(f.message for f in failures),
            warnings=(*prompt_warnings(context), *owner_tasks(context)),
            written_from=written_from(context),
            cc=deal_facts(context).cc,
        )


# --------------------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class ModelDraft:
    subject: str
    body: str
    facts_used: tuple[str, ...]
    why_angle: str


_FENCE = re.compile(r"```(?:json|JSON)?\s*(?P<inner>.*?)\s*```", re.DOTALL)


def _json_text(content: str) -> str:
    """The JSON object in an answer: as it is, inside a ```json fence, or after a line of prose."""
    text = content.strip()
    if text.startswith("{"):
        return text
    fenced = _FENCE.search(text)
    if fenced:
        return fenced.group("inner")
    start, end = text.find("{"), text.rfind("}")
    if start >= 0 and end > start:
        return text[start : end + 1]
    return text


def parse_model_draft(content: str | None) -> ModelDraft:
    """The structured answer, or ModelResponseError when it is not the JSON asked for.

    Many local servers wrap the JSON in a ```json fence or put a sentence before it; both are
    accepted. An answer with no JSON object at all is prose."""
    if not content:
        raise ModelResponseError("the model returned no content", kind="prose")
    try:
        data = json.loads(_json_text(content))
    except json.JSONDecodeError as error:
        raise ModelResponseError(
            f"the model answered in prose, not the JSON asked for: {error}", kind="prose"
        ) from error
    if not isinstance(data, dict):
        raise ModelResponseError("the model's answer is not a JSON object", kind="schema")
    subject, body = data.get("subject"), data.get("body")
    facts, why = data.get("facts_used", []), data.get("why_angle", "")
    if not isinstance(subject, str) or not isinstance(body, str):
        raise ModelResponseError(
            "the model's answer lacks a string subject and body", kind="schema"
        )
    if not isinstance(facts, list) or not all(isinstance(f, str) for f in facts):
        raise ModelResponseError("facts_used is not a list of strings", kind="schema")
    if not isinstance(why, str):
        raise ModelResponseError("why_angle is not a string", kind="schema")
    return ModelDraft(subject.strip(), body.strip(), tuple(facts), why.strip())


_RETRYABLE_STATUS = frozenset({408, 409, 429})


def _model_error(error: openai.OpenAIError, timeout: float) -> ModelError:
    import openai

    if isinstance(error, openai.APITimeoutError):
        return ModelUnavailableError(
            f"the model timed out after {timeout:g} s", retryable=True, kind="timeout"
        )
    if isinstance(error, openai.APIConnectionError):
        return ModelUnavailableError(
            "cannot reach the model server", retryable=True, kind="connection"
        )
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        retryable = status >= 500 or status in _RETRYABLE_STATUS
        if status == 429:
            kind, what = "rate_limit", "the model server is rate-limiting"
        elif status >= 500:
            kind, what = "server_error", "the model server failed"
        elif status in (401, 403):
            kind, what = "auth", "the model server refused the API key"
        else:
            kind, what = "client_error", "the model server rejected the request"
            if status in (400, 422):
                what += " (does it support JSON-schema structured output?)"
        return ModelUnavailableError(f"{what} (HTTP {status})", retryable=retryable, kind=kind)
    return ModelUnavailableError(f"model call failed: {error}", retryable=False, kind="error")


class _Meter:
    """Usage summed over the calls made for one draft: every call and its time; tokens only of
    the calls whose answer was used (a failed call's tokens are not usage)."""

    def __init__(self, model: str) -> None:
        self.usage = ModelUsage(model=model)

    def add(self, *, model: str, prompt: int, completion: int, started: float, now: float) -> None:
        self.usage = self.usage + ModelUsage(
            model=model,
            prompt_tokens=prompt,
            completion_tokens=completion,
            milliseconds=round((now - started) * 1000),
            calls=1,
        )


class LLMDrafter:
    """Drafts with a model on any OpenAI-compatible server, falling back to the templates.

    Each call has a short `timeout` and no SDK-level retries; the drafter itself retries at
    most once (`retries` is 0 or 1) on a timeout, connection error, 408/409/429, 5xx or an
    answer that is not the JSON asked for. When the model stays unavailable the template
    drafter writes the draft, with a notice that says why ("drafted from template: the model
    timed out after 10 s"). After `breaker_after` drafts in a row failed that way, the drafter
    stops calling the server until `begin_cycle()` (the cycle calls it on every pass), so a
    hung server costs one or two timeouts a cycle, not two per draft. Each failure kind is
    logged once per cycle. A draft that fails the guardrails twice falls back to the template,
    with the failures in the notice.
    """

    def __init__(
        self,
        client: openai.OpenAI,
        model: str,
        fallback: TemplateDrafter,
        *,
        timeout: float = 10.0,
        retries: int = 1,
        retry_backoff: float = 0.5,
        temperature: float | None = None,
        breaker_after: int = 3,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if retries not in (0, 1):
            raise ValueError("retries must be 0 or 1: at most one retry, then the templates")
        self._client = client.with_options(timeout=timeout, max_retries=0)
        self._model = model
        self._timeout = timeout
        self._fallback = fallback
        self._retries = retries
        self._retry_backoff = retry_backoff
        self._temperature = temperature
        self._breaker_after = max(1, breaker_after)
        self._clock = clock
        self._sleep = sleep
        self._failures_in_a_row = 0
        self._plain_json = False  # the server rejected JSON-schema output: ask for plain JSON
        self._logged: set[str] = set()
        self.fallbacks: Counter[str] = Counter()  # this cycle's fallbacks by failure kind

    def _response_format(self) -> dict[str, Any]:
        if self._plain_json:
            return {"type": "json_object"}
        return response_format("followup_draft", DRAFT_SCHEMA)

    def begin_cycle(self) -> None:
        """A new cycle: close the breaker, log each failure kind again, reset the counts."""
        self._failures_in_a_row = 0
        self._logged.clear()
        self.fallbacks.clear()

    @property
    def breaker_open(self) -> bool:
        return self._failures_in_a_row >= self._breaker_after

    def _call(self, messages: list[dict[str, str]], meter: _Meter) -> ModelDraft:
        extra: dict[str, Any] = {}
        if self._temperature is not None:
            extra["temperature"] = self._temperature
        started = self._clock()
        import openai

        try:
            completion = self._client.chat.completions.create(
                model=self._model,
                messages=cast(Any, messages),
                response_format=cast(Any, self._response_format()),
                **extra,
            )
        except openai.OpenAIError as error:
            meter.add(model=self._model, prompt=0, completion=0, started=started, now=self._clock())
            raise _model_error(error, self._timeout) from error
        now = self._clock()
        if not completion.choices:
            meter.add(model=self._model, prompt=0, completion=0, started=started, now=now)
            raise ModelResponseError("the model returned no choices", kind="schema")
        choice = completion.choices[0]
        try:
            if choice.message.refusal:
                raise ModelResponseError(
                    f"the model refused: {choice.message.refusal}", retryable=False, kind="refusal"
                )
            if choice.finish_reason == "length":
                raise ModelResponseError(
                    "the model's answer was cut off (finish_reason=length)", kind="cut_off"
                )
            answer = parse_model_draft(choice.message.content)
        except ModelError:
            meter.add(model=self._model, prompt=0, completion=0, started=started, now=now)
            raise
        usage = completion.usage
        meter.add(
            model=completion.model or self._model,
            prompt=usage.prompt_tokens if usage else 0,
            completion=usage.completion_tokens if usage else 0,
            started=started,
            now=now,
        )
        return answer

    def _generate(
        self, context: DraftContext, angle: str | None, meter: _Meter, feedback: Sequence[str]
    ) -> ModelDraft:
        if self.breaker_open:
            raise ModelUnavailableError(
                f"the model failed {self._failures_in_a_row} drafts in a row this cycle; "
                "not called again until the next cycle",
                retryable=False,
                kind="breaker_open",
            )
        messages = build_messages(context, angle=angle, feedback=feedback)
        last_error: ModelError | None = None
        for attempt in range(1 + self._retries):
            if attempt and self._retry_backoff:
                self._sleep(self._retry_backoff)
            try:
                answer = self._call(messages, meter)
            except ModelError as error:
                if (
                    error.kind == "client_error"
                    and "HTTP 400" in str(error)
                    and not self._plain_json
                ):
                    # Many local servers reject `json_schema`; ask once more for a JSON object.
                    self._plain_json = True
                    log.warning("the model server rejected JSON-schema output; asking for JSON")
                    try:
                        answer = self._call(messages, meter)
                    except ModelError as again:
                        error = again
                    else:
                        self._failures_in_a_row = 0
                        return answer
                last_error = error
                if not error.retryable:
                    break
            else:
                self._failures_in_a_row = 0
                return answer
        assert last_error is not None
        if last_error.kind != "breaker_open":
            self._failures_in_a_row += 1
        raise last_error

    def _fall_back(
        self, context: DraftContext, reason: str, kind: str, meter: _Meter
    ) -> DraftResult:
        self.fallbacks[kind] += 1
        if kind not in self._logged:
            self._logged.add(kind)
            log.warning("drafting with the templates: %s [%s]", reason, kind)
        fallback = self._fallback.draft(context)
        return replace(fallback, notice=f"{TEMPLATE_NOTICE_PREFIX}{reason}", usage=meter.usage)

    def draft(self, context: DraftContext) -> DraftResult:
        angle, note = resolve_angle(context)
        meter = _Meter(self._model)
        guard = guardrail_context(context)
        try:
            answer = self._generate(context, angle, meter, feedback=())
        except ModelError as error:
            return self._fall_back(context, str(error), error.kind, meter)
        body = _with_signature(answer.body, context)
        failures = check_draft(answer.subject, body, guard)
        notice: str | None = None
        if failures:
            feedback = tuple(f.message for f in failures)
            try:
                retry = self._generate(context, angle, meter, feedback=feedback)
            except ModelError:
                notice = REGENERATION_FAILED_NOTICE
            else:
                answer = retry
                body = _with_signature(answer.body, context)
                failures = check_draft(answer.subject, body, guard)
                if failures:
                    reasons = "; ".join(f.message for f in failures[:3])
                    return self._fall_back(
                        context,
                        f"the model's draft failed the checks twice: {reasons}",
                        "guardrails",
                        meter,
                    )
        return DraftResult(
            subject=answer.subject,
            body=body,
            source="model",
            angle=angle,
            facts_used=answer.facts_used,
            why_angle=" ".join(p for p in (note, answer.why_angle) if p),
            notice=notice,
            guardrail_failures=tuple(f.message for f in failures),
            usage=meter.usage,
            warnings=(*prompt_warnings(context), *owner_tasks(context)),
            written_from=written_from(context),
            cc=deal_facts(context).cc,
        )


def _with_signature(body: str, context: DraftContext) -> str:
    """The body, with the owner's signature appended when the model left it out."""
    signature = deal_facts(context).signature
    if not signature:
        return body
    tail = " ".join(body.strip().splitlines()[-4:])
    if " ".join(signature.split()) in " ".join(tail.split()):
        return body
    closing = "\n".join(p for p in (context.voice.sign_off.strip(), signature) if p)
    return f"{body.rstrip()}\n\n{closing}"
