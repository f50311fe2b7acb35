"""Handoff: categories, routing, and the five-second summary with sentiment first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import activity, contact, deal, owner
from triggers.handoff import (
    Category,
    Handoff,
    HandoffFacts,
    RoutingConfig,
    category_for,
    escape_slack,
    one_sentence,
    pricing_signal,
    relevant_history,
    route_for,
    sentiment_phrase,
    slack_text,
    summary_text,
)
from triggers.model import ActivityKind, DealView

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
MAYA = owner()


@pytest.mark.parametrize(
    ("intent", "sentiment", "text", "category"),
    [
        ("interested", "warm", "Sounds great", Category.BUYING_SIGNAL),
        ("meeting_request", "neutral", "Can we talk Tuesday?", Category.BUYING_SIGNAL),
        (
            "interested",
            "frustration",
            "Seriously, send the contract already!!",
            Category.BUYING_SIGNAL,
        ),
        ("not_interested", "frustration", "Stop this, enough.", Category.COMPLAINT),
        ("question", "neutral", "Our lawyer wants to see the DPA.", Category.COMPLAINT),
        ("opt_out", "neutral", "Remove me or I will report you under GDPR", Category.COMPLAINT),
        ("opt_out", "neutral", "Please remove me", Category.OPT_OUT),
        ("not_interested", "deflection", "We went another way", Category.NOT_INTERESTED),
        ("objection", "neutral", "Too expensive", Category.OBJECTION),
        ("wrong_person", "neutral", "Not my area", Category.REFERRAL),
        ("not_now", "deflection", "Next quarter", Category.NOT_NOW),
        ("other", "neutral", "ok", Category.OTHER),
        ("pricing_clicks", "warm", "", Category.BUYING_SIGNAL),
    ],
)
def test_categories(intent: str, sentiment: str, text: str, category: Category) -> None:
    assert category_for(intent, sentiment, text) is category


@pytest.mark.parametrize(
    ("sentiment", "intent", "phrase"),
    [
        ("warm", "question", "warm interest"),
        ("deflection", "not_now", "polite deflection"),
        ("frustration", "opt_out", "frustration"),
        ("neutral", "meeting_request", "warm interest"),
        ("neutral", "not_interested", "polite deflection"),
        ("neutral", "objection", "neutral"),
    ],
)
def test_sentiment_phrases(sentiment: str, intent: str, phrase: str) -> None:
    assert sentiment_phrase(sentiment, intent) == phrase


def test_routing_by_intent_with_fallback_to_the_owner() -> None:
    config = RoutingConfig(roles={"account_executive": "U0AE"})
    buying = route_for(config, Category.BUYING_SIGNAL, MAYA)
    assert (buying.slack_user_id, buying.label, buying.note) == (
        "U0AE",
        "the account executive",
        "",
    )
    complaint = route_for(config, Category.COMPLAINT, MAYA)
    assert complaint.slack_user_id == "U01MAYA"  # no manager configured
    assert complaint.note == "no manager configured: routed to the owner"
    closing = route_for(config, Category.NOT_INTERESTED, MAYA)
    assert (closing.slack_user_id, closing.label) == ("U01MAYA", "Maya Chen (owner)")
    direct = route_for(
        RoutingConfig(routes={Category.OBJECTION: "U0COACH"}), Category.OBJECTION, MAYA
    )
    assert direct.slack_user_id == "U0COACH"
    assert route_for(RoutingConfig(), Category.QUESTION, None).slack_user_id is None


@pytest.mark.parametrize(
    ("routes", "roles", "message"),
    [
        ({Category.BUYING_SIGNAL: "bob"}, {}, "routing.buying_signal: 'bob' is not allowed"),
        ({}, {"manager": "boss"}, "routing.roles.manager: 'boss' is not a Slack user id"),
    ],
)
def test_routing_config_is_validated(
    routes: dict[Category, str], roles: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        RoutingConfig(routes=routes or RoutingConfig().routes, roles=roles)


def test_one_sentence() -> None:
    assert one_sentence("Sounds great!  Can we talk\nnext week? Thanks") == "Sounds great!"
    assert one_sentence("  ") == ""
    long = one_sentence("word " * 100, limit=20)
    assert len(long) == 20
    assert long.endswith("…")


def test_relevant_history_is_latest_first_and_short() -> None:
    view = DealView(
        deal(),
        (contact(),),
        MAYA,
        (
            activity(ActivityKind.MEETING, NOW - timedelta(days=20), subject="Product demo"),
            activity(ActivityKind.PROPOSAL_SENT, NOW - timedelta(days=10)),
            activity(ActivityKind.CALL, NOW - timedelta(days=30)),
            activity(ActivityKind.NOTE, NOW - timedelta(days=2)),
            activity(ActivityKind.CALL, NOW + timedelta(days=1)),  # after the reply
        ),
    )
    earlier = [("not_now", NOW - timedelta(days=15)), ("interested", NOW - timedelta(days=40))]
    history = relevant_history(view, contact(), NOW, "UTC", earlier)
    assert history == (
        "proposal sent Tue 10 Nov",
        "said “not now” on Thu 5 Nov",
        "demo on Sat 31 Oct",
    )


def facts(**overrides: object) -> HandoffFacts:
    values: dict[str, object] = {
        "sentiment": "warm interest",
        "who": "Jordan Lee",
        "company": "Globex",
        "said": "Can we set up a call next week to go through pricing?",
        "stage_before": "proposal",
        "step": 3,
        "cadence": "default",
        "angle": "social_proof",
        "history": ("demo on Thu 12 Nov",),
        "route_label": "the account executive",
        "task_due_at": NOW + timedelta(hours=24),
        "zone": "Europe/Berlin",
    }
    return HandoffFacts(**(values | overrides))  # type: ignore[arg-type]


def test_the_summary_reads_sentiment_first_then_the_five_second_facts() -> None:
    text = summary_text(facts())
    lines = text.splitlines()
    assert (
        lines[0] == "Warm interest: Jordan Lee (Globex) replied to step 3 of default, social proof"
    )
    assert lines[1] == "“Can we set up a call next week to go through pricing?”"
    assert lines[2] == "Stage before the reply: proposal"
    assert lines[3] == "History: demo on Thu 12 Nov"
    assert lines[4] == "For the account executive; task due Sat 21 Nov 16:00"
    bare = summary_text(
        facts(step=None, cadence=None, history=(), route_label="", task_due_at=None)
    )
    assert bare.splitlines()[0] == "Warm interest: Jordan Lee (Globex) replied"
    assert len(bare.splitlines()) == 3


def handoff(summary: str, routed_to: str | None = "U0AE") -> Handoff:
    return Handoff(
        id=1,
        deal_id="d1",
        contact_id="c1",
        enrolment_id=1,
        source_key="<m1@globex.example>",
        received_at=NOW,
        intent="interested",
        sentiment="warm",
        category=Category.BUYING_SIGNAL,
        route_target="account_executive",
        routed_to=routed_to,
        route_label="the account executive",
        step=3,
        cadence="default",
        stage_before="proposal",
        summary=summary,
        created_at=NOW,
    )


def test_slack_text_escapes_what_came_from_outside_and_mentions_the_route() -> None:
    hostile = "Warm interest: Jordan <!channel> replied\n“see <https://evil.example|here> & more”"
    text = slack_text(handoff(hostile))
    assert text.startswith("<@U0AE> *Warm interest*: Jordan &lt;!channel&gt; replied\n")
    assert "&lt;https://evil.example|here&gt; &amp; more" in text
    assert "<!channel>" not in text
    assert slack_text(handoff("Neutral: x", routed_to=None)) == "*Neutral*: x"
    assert escape_slack("a<b>&c") == "a&lt;b&gt;&amp;c"


@pytest.mark.parametrize(
    ("acted_by", "routed_to", "correct"),
    [
        (None, "U0AE", None),
        ("U0AE", "U0AE", True),
        ("slack:U0AE", "U0AE", True),
        ("U01MAYA", "U0AE", False),
        ("cli:maya", None, False),
    ],
)
def test_routed_correctly(
    acted_by: str | None, routed_to: str | None, correct: bool | None
) -> None:
    from dataclasses import replace

    assert replace(handoff("x", routed_to), acted_by=acted_by).routed_correctly is correct


def test_pricing_clicked_twice_in_a_week_is_a_signal() -> None:
    assert pricing_signal([NOW - timedelta(days=1)], NOW) == []
    assert pricing_signal([NOW - timedelta(days=9), NOW - timedelta(days=1)], NOW) == []
    clicks = [NOW - timedelta(days=1), NOW - timedelta(days=6), NOW + timedelta(days=1)]
    assert pricing_signal(clicks, NOW) == [NOW - timedelta(days=6), NOW - timedelta(days=1)]
