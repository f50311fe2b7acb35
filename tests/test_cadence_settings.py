"""`[cadences]` and `[routing]` in followup.toml: validated at start, errors name the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from settings import ConfigError, load_followup_config
from triggers.cadence import DEFAULT_CADENCE, RE_ENGAGEMENT_CADENCE, Action, ReplyEvent
from triggers.handoff import Category


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "followup.toml"
    path.write_text(text)
    return path


def test_the_defaults_are_the_issues() -> None:
    config = load_followup_config(None)
    cadences = config.cadences.to_domain()
    assert cadences.cadences == {"default": DEFAULT_CADENCE, "re_engagement": RE_ENGAGEMENT_CADENCE}
    assert cadences.stop_on_company_reply
    assert (cadences.out_of_office_days, cadences.resume_after_return_days) == (5, 1)
    assert cadences.playbook.action(ReplyEvent.NOT_NOW) is Action.PAUSE_AND_CONFIRM
    assert cadences.playbook.action(ReplyEvent.AMBIGUOUS) is Action.ASK_OWNER
    assert (cadences.enrol.stages, cadences.enrol.inbound_leads, cadences.enrol.silent) == (
        {},
        "",
        "",
    )
    routing = config.routing.to_domain()
    assert routing.routes[Category.BUYING_SIGNAL] == "account_executive"
    assert routing.routes[Category.COMPLAINT] == "manager"
    assert routing.routes[Category.NOT_INTERESTED] == "owner"


def test_a_full_configuration(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[cadences]
default_cadence = "nurture"
stop_on_company_reply = false
not_now_days = 45

[cadences.enrol]
stages = { proposal = "nurture" }
silent = "re_engagement"
silent_after = "45d"

[cadences.playbook]
positive = "ask_owner"
bounce = "stop"
confirm_opt_out = false

[cadences.nurture]
max_touches = 3
archive_after_days = 10
[[cadences.nurture.steps]]
days = 2
angle = "value"
business_days = true
[[cadences.nurture.steps]]
days = 5
angle = "recap"
template = "check_in"
max_lines = 4

[routing]
buying_signal = "U0AE"
complaint = "manager"
[routing.roles]
manager = "U0BOSS"
""",
    )
    config = load_followup_config(path)
    cadences = config.cadences.to_domain()
    nurture = cadences.cadences["nurture"]
    assert (nurture.max_touches, nurture.first_step, nurture.archive_after_days) == (3, 2, 10)
    assert [s.angle for s in nurture.steps] == ["value", "recap"]
    assert nurture.steps[0].business_days
    assert (nurture.steps[1].template_name, nurture.steps[1].max_lines) == ("check_in", 4)
    assert cadences.default == "nurture"
    assert not cadences.stop_on_company_reply
    assert cadences.enrol.stages == {"proposal": "nurture"}
    assert cadences.enrol.silent_after == timedelta(days=45)
    assert cadences.playbook.action(ReplyEvent.POSITIVE) is Action.ASK_OWNER
    assert not cadences.playbook.confirm_opt_out
    assert "re_engagement" in cadences.cadences
    routing = config.routing.to_domain()
    assert routing.routes[Category.BUYING_SIGNAL] == "U0AE"
    assert routing.roles == {"manager": "U0BOSS"}


def test_a_cadence_without_max_touches_runs_every_step(tmp_path: Path) -> None:
    path = write(tmp_path, '[[cadences.short.steps]]\ndays = 2\nangle = "value"\n')
    short = load_followup_config(path).cadences.to_domain().cadences["short"]
    assert short.max_touches == 2  # touch 1 and the one step


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[cadences]\nbogus = 3\n", "cadences: unknown key 'bogus'; allowed: default_cadence,"),
        (
            '[[cadences.x.steps]]\ndays = 2\nangle = "valeu"\n',
            "cadences.x.steps.0.angle: 'valeu' is not an angle; allowed: value, social_proof,",
        ),
        (
            '[[cadences.x.steps]]\ndays = 2\nangle = "value"\n'
            '[[cadences.x.steps]]\ndays = 2\nangle = "value"\n',
            "cadences.x: steps.1.angle: 'value' repeats the previous step's angle",
        ),
        ('[[cadences.x.steps]]\ndays = -1\nangle = "value"\n', "cadences.x.steps.0.days:"),
        ("[cadences.x]\nfirst_step = 1\n", "cadences.x.steps: Field required"),
        (
            '[cadences.enrol]\nstages = { proposal = "nurture" }\n',
            "cadences: enrol.stages.proposal: no cadence 'nurture'; defined: default, "
            "re_engagement",
        ),
        (
            '[cadences.playbook]\nopt_out = "pause"\n',
            "cadences.playbook.opt_out: 'pause' is not allowed; allowed: stop",
        ),
        (
            '[cadences.playbook]\nnot_now = "keep_going"\n',
            "cadences.playbook.not_now: 'keep_going' is not allowed; allowed: "
            "pause_and_confirm, ask_owner, stop",
        ),
        (
            '[routing]\nbuying_signal = "bob"\n',
            "routing.buying_signal: 'bob' is not allowed; allowed: owner, a role "
            "(account_executive, manager) or a Slack user id such as U0123ABCD",
        ),
        (
            '[routing.roles]\nmanager = "boss"\n',
            "routing.roles: manager: 'boss' is not a Slack user id",
        ),
        ('[routing]\nnobody = "owner"\n', "routing.nobody: unknown key"),
    ],
)
def test_errors_name_the_key_and_what_is_allowed(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_followup_config(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)
