"""Issue 11 item 8: "not now" re-asked at once. A dismissal quiets the deal for a configurable
period (default: one stage window), whatever rule would fire next."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from crm.fake import FakeCrm
from flows.cycle import run_cycle
from flows.ports import Actor, Policy, Services
from flows.review import dismiss
from mail.fake import FakeMailbox
from prompts.drafter import TemplateDrafter
from settings import load_followup_config
from storage.repos import Store
from tests.factories import NOW, activity, contact, deal, owner
from tests.flows.test_inbound import RecordingReview
from triggers.config import EvaluationConfig, RulesConfig
from triggers.model import ActivityKind, Pipeline

# Two rules due at once: a proposal unanswered for 8 days, and a stage quiet for 8 days.
PIPELINE = Pipeline(
    (owner(),),
    (contact(),),
    (deal(stage_entered_at=NOW - timedelta(days=10)),),
    (activity(ActivityKind.PROPOSAL_SENT, NOW - timedelta(days=8), subject="Proposal"),),
)


def services_for(store: Store, rules: RulesConfig | None = None) -> Services:
    store.pipeline.sync(PIPELINE, NOW - timedelta(days=10))
    evaluation = EvaluationConfig()
    if rules is not None:
        evaluation = replace(evaluation, rules=rules)
    return Services(
        store=store,
        crm=FakeCrm(PIPELINE),
        mailbox=FakeMailbox(),
        drafter=TemplateDrafter(),
        review=RecordingReview(),
        policy=Policy(evaluation=evaluation, message_id_domain="northwind.example"),
    )


def test_not_now_quiets_the_deal_for_one_stage_window_whatever_rule_is_next(store: Store) -> None:
    services = services_for(store)
    [first] = run_cycle(services, NOW).drafted
    assert first.rule == "proposal_no_reply"
    assert dismiss(services, first.id, Actor.operator("maya"), NOW, "not_now").ok
    # The next ticks: stage_stale is due as well, but the deal was just dismissed.
    assert run_cycle(services, NOW + timedelta(minutes=5)).drafted == []
    assert run_cycle(services, NOW + timedelta(days=6, hours=23)).drafted == []
    # One stage window (7 days by default) after the dismissal, the next rule may speak.
    [later] = run_cycle(services, NOW + timedelta(days=7, minutes=5)).drafted
    assert later.rule == "stage_stale"


def test_the_quiet_period_is_configurable(store: Store, tmp_path: Path) -> None:
    config = tmp_path / "followup.toml"
    config.write_text('[rules]\nquiet_after_dismissal = "2d"\n')
    rules = load_followup_config(config).evaluation.rules
    assert rules.quiet_after_dismissal == timedelta(days=2)
    services = services_for(store, rules)
    [first] = run_cycle(services, NOW).drafted
    assert dismiss(services, first.id, Actor.operator("maya"), NOW, "wrong_moment").ok
    assert run_cycle(services, NOW + timedelta(days=1)).drafted == []
    assert len(run_cycle(services, NOW + timedelta(days=2, minutes=5)).drafted) == 1


@pytest.mark.parametrize("value", ["stage", "Stage"])
def test_stage_is_the_default_and_means_one_stage_window(tmp_path: Path, value: str) -> None:
    config = tmp_path / "followup.toml"
    config.write_text(f'[rules]\nquiet_after_dismissal = "{value}"\n')
    rules = load_followup_config(config).evaluation.rules
    assert rules.quiet_after_dismissal is None
    assert load_followup_config(None).evaluation.rules.quiet_for("proposal") == timedelta(days=7)
