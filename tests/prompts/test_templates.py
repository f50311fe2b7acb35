from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from prompts.base import (
    OPT_OUT_CONFIRMATION,
    Angle,
    TemplateNotFoundError,
    TemplateValidationError,
    VoiceSettings,
)
from prompts.build import TEMPLATE_VARIABLES
from prompts.drafter import (
    BUILTIN_TEMPLATE_DIR,
    TEMPLATE_NAMES,
    TemplateDrafter,
    choose_angle,
    parse_rendered,
)
from tests.prompts.factories import CONTACT, PROPOSAL, make_context, make_view
from triggers.config import RuleName


@pytest.fixture(scope="module")
def drafter() -> TemplateDrafter:
    return TemplateDrafter()


def test_one_template_per_rule_angle_and_the_opt_out_confirmation() -> None:
    files = {path.stem for path in BUILTIN_TEMPLATE_DIR.glob("*.j2")}
    assert files == set(TEMPLATE_NAMES)
    assert {r.value for r in RuleName} | {a.value for a in Angle} | {OPT_OUT_CONFIRMATION} == files


@pytest.mark.parametrize("rule", [r.value for r in RuleName])
def test_every_rule_template_renders_cleanly(drafter: TemplateDrafter, rule: str) -> None:
    result = drafter.draft(make_context(rule=rule))
    assert result.source == "template"
    assert result.guardrail_failures == ()
    assert result.subject
    assert "\n" not in result.subject
    assert result.body.startswith("Hi Jordan,")
    assert result.body.endswith("Best,\nMaya")
    assert "{" not in result.body
    assert "  " not in result.body
    assert len(result.body.split()) <= 150
    assert result.why_angle.startswith(f"Rule {rule}")
    assert {"first_name: Jordan", "greeting_names: Jordan"} & set(result.facts_used)


@pytest.mark.parametrize("angle", [a.value for a in Angle])
def test_every_angle_template_renders_cleanly(drafter: TemplateDrafter, angle: str) -> None:
    result = drafter.draft(make_context(rule=None, angle=angle))
    assert result.angle == angle
    assert result.guardrail_failures == ()
    assert result.body.startswith("Hi Jordan,")
    assert result.body.endswith("Best,\nMaya")


def test_templates_use_the_pipeline(drafter: TemplateDrafter) -> None:
    proposal = drafter.draft(make_context(rule="proposal_no_reply"))
    assert proposal.subject == "Re: Proposal: website rebuild"
    assert "the proposal for the website rebuild" in proposal.body  # not the CRM title
    assert "Globex website rebuild" not in proposal.body
    quote = drafter.draft(make_context(rule="quote_expired"))
    assert "expired on 20 November" in quote.body  # Jordan is in Berlin: day first
    call = drafter.draft(make_context(rule="call_no_next_step"))
    assert "the call on Tuesday" in call.body  # 17 Nov, in Jordan's time zone
    recap = drafter.draft(make_context(rule=None, angle="recap"))
    assert "the proposal stage" in recap.body


def test_without_history_subjects_are_not_fake_replies(drafter: TemplateDrafter) -> None:
    view = make_view(replace(PROPOSAL, subject=None))
    for rule in ("proposal_no_reply", "lead_no_reply"):
        result = drafter.draft(make_context(rule=rule, view=view))
        assert not result.subject.startswith("Re:")
        assert "the website rebuild" in result.subject  # the short name, not the CRM title
        assert result.guardrail_failures == ()


def test_opt_out_confirmation_is_one_line(drafter: TemplateDrafter) -> None:
    result = drafter.draft(make_context(rule=None, angle=OPT_OUT_CONFIRMATION))
    assert "\n" not in result.body
    assert result.body.startswith("Understood, Jordan:")
    assert result.guardrail_failures == ()


def test_voice_settings_shape_the_closing(drafter: TemplateDrafter) -> None:
    voice = VoiceSettings(signature="Maya Chen\nNorthwind Studio", sign_off="Cheers,")
    result = drafter.draft(make_context(voice=voice))
    assert result.body.endswith("Cheers,\nMaya Chen\nNorthwind Studio")


def test_contact_without_a_name_gets_a_plain_greeting(drafter: TemplateDrafter) -> None:
    nameless = replace(CONTACT, name="")
    result = drafter.draft(make_context(contact=nameless))
    assert result.body.startswith("Hi there,")
    assert result.guardrail_failures == ()


def test_guardrail_failures_are_reported_not_fixed(tmp_path: Path) -> None:
    (tmp_path / "check_in.j2").write_text(
        "Subject: Hello\n\nHi {{ first_name }}, unlike Acme Agency we ship. [Case study]\n"
    )
    result = TemplateDrafter(tmp_path).draft(make_context(rule=None, angle="check_in"))
    assert "Acme Agency" in result.body  # never silently altered
    assert len(result.guardrail_failures) == 2
    assert "competitor 'Acme Agency'" in result.guardrail_failures[0]
    assert "placeholder '[Case study]'" in result.guardrail_failures[1]


def test_a_link_written_in_an_override_template_is_trusted(tmp_path: Path) -> None:
    (tmp_path / "check_in.j2").write_text(
        "Subject: Hello\n\nHi {{ first_name }}, book a slot: https://cal.northwind.studio/maya\n"
    )
    result = TemplateDrafter(tmp_path).draft(make_context(rule=None, angle="check_in"))
    assert result.guardrail_failures == ()


def test_override_folder_replaces_only_the_files_it_holds(tmp_path: Path) -> None:
    (tmp_path / "stage_stale.j2").write_text(
        "{# ours #}\nSubject: {{ deal_title }}?\n\nHey {{ first_name }}, still on?\n\n{{ signature }}"
    )
    drafter = TemplateDrafter(tmp_path)
    stale = drafter.draft(make_context(rule="stage_stale"))
    assert (stale.subject, stale.body) == (
        "Globex website rebuild?",
        "Hey Jordan, still on?\n\nMaya",
    )
    assert drafter.draft(make_context(rule="proposal_no_reply")).body.startswith("Hi Jordan,")


def test_unknown_variable_fails_at_load_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "value.j2"
    path.write_text("Subject: Hi\n\nHi {{ first_name }},\n\n{{ first_nmae }} is a typo\n")
    with pytest.raises(TemplateValidationError) as caught:
        TemplateDrafter(tmp_path)
    assert caught.value.path == str(path)
    assert caught.value.line == 5
    assert str(caught.value).startswith(f"{path}:5: unknown variable 'first_nmae'")


def test_attribute_of_unknown_variable_fails_at_load(tmp_path: Path) -> None:
    path = tmp_path / "recap.j2"
    path.write_text("Subject: Hi\n\n{% if true %}\n{{ deal.title }}\n{% endif %}\n")
    with pytest.raises(TemplateValidationError, match=r"recap\.j2:4: unknown variable 'deal'"):
        TemplateDrafter(tmp_path)


def test_syntax_error_fails_at_load_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "recap.j2").write_text("Subject: Hi\n\n{% if first_name %}\nHi\n")
    with pytest.raises(TemplateValidationError, match=r"recap\.j2:\d+: "):
        TemplateDrafter(tmp_path)


def test_unknown_filter_fails_at_load(tmp_path: Path) -> None:
    (tmp_path / "recap.j2").write_text("Subject: Hi\n\n{{ first_name | shout }}\n")
    with pytest.raises(TemplateValidationError, match=r"recap\.j2:3: .*shout"):
        TemplateDrafter(tmp_path)


def test_template_without_subject_line_fails_at_load(tmp_path: Path) -> None:
    (tmp_path / "recap.j2").write_text("Hi {{ first_name }}\n")
    with pytest.raises(TemplateValidationError, match=r"recap\.j2:1: the first line must be"):
        TemplateDrafter(tmp_path)


def test_misnamed_override_fails_at_load(tmp_path: Path) -> None:
    (tmp_path / "proposal_noreply.j2").write_text("Subject: x\n\nbody\n")
    with pytest.raises(TemplateValidationError, match="not a known template"):
        TemplateDrafter(tmp_path)


def test_missing_override_folder_fails(tmp_path: Path) -> None:
    with pytest.raises(TemplateValidationError, match="does not exist"):
        TemplateDrafter(tmp_path / "nope")


def test_templates_cannot_reach_python_internals(tmp_path: Path) -> None:
    (tmp_path / "recap.j2").write_text(
        "Subject: x\n\n{{ first_name.__class__.__mro__[1].__subclasses__() }}\n"
    )
    with pytest.raises(TemplateValidationError, match="does not render"):
        TemplateDrafter(tmp_path)


def test_unknown_angle_without_rule_is_an_error(drafter: TemplateDrafter) -> None:
    with pytest.raises(TemplateNotFoundError):
        drafter.draft(make_context(rule=None, angle="flattery"))


def test_the_same_angle_is_never_used_twice_in_a_row(drafter: TemplateDrafter) -> None:
    result = drafter.draft(
        make_context(rule=None, angle="value", angles_used=("check_in", "value"))
    )
    assert result.angle == "social_proof"
    assert "'value' was also the last angle used" in result.why_angle


@pytest.mark.parametrize(
    ("requested", "used", "chosen"),
    [
        ("value", (), "value"),
        ("value", ("value",), "social_proof"),
        ("recap", ("value", "social_proof", "check_in", "recap"), "re_engagement"),
        ("re_engagement", ("value", "re_engagement"), "social_proof"),
        ("final_outreach", ("final_outreach",), "value"),
        (None, ("value",), "social_proof"),
        (None, (), "value"),
        ("check_in", ("value",), "check_in"),
        (OPT_OUT_CONFIRMATION, (OPT_OUT_CONFIRMATION,), OPT_OUT_CONFIRMATION),
    ],
)
def test_choose_angle(requested: str | None, used: tuple[str, ...], chosen: str) -> None:
    assert choose_angle(requested, used)[0] == chosen


def test_every_known_variable_is_documented() -> None:
    assert all(description for description in TEMPLATE_VARIABLES.values())


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("Subject: Hi\n\nBody", ("Hi", "Body")),
        ("\n\nsubject:   Hi   there \nBody\n\n\n\nEnd  \n", ("Hi there", "Body\n\nEnd")),
        ("Hi\n\nBody", None),
        ("", None),
    ],
)
def test_parse_rendered(text: str, parsed: tuple[str, str] | None) -> None:
    assert parse_rendered(text) == parsed
