"""/followup over signed HTTP: every reply ephemeral, deals found by what people call them,
several matches answered with a picker."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.ids import Action
from bot.stats_blocks import duration_text, stats_reply
from crm.fake import FakeCrm
from flows.cadences import (
    CadenceStats,
    DraftStats,
    HandoffStats,
    Stats,
    StepStats,
    cadence_store,
)
from flows.commands import StatsReport
from storage.repos import Store
from tests.bot import payloads
from tests.bot.conftest import ADMIN, MAYA, MONDAY, STRANGER, World, build_world, texts
from tests.bot.fake_slack import FakeSlack
from tests.factories import NOW, activity, contact, deal, owner
from triggers.drafts import DraftStatus, ModelUsageSummary
from triggers.model import ActivityKind, ContactStatus, Pipeline


def test_help_is_answered_at_once_and_only_to_the_asker(world: World) -> None:
    response = world.command("help")
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert "`/followup snooze <deal> 3d`" in body["text"]
    assert world.fake.responses() == []  # nothing else was sent


def test_a_typo_gets_a_helpful_answer(world: World) -> None:
    body = world.command("snooze Globex").json()
    assert body["response_type"] == "ephemeral"
    assert "For how long? `/followup snooze &lt;deal&gt; 3d`" in body["text"]


def test_queue_lists_my_pending_drafts_with_links(world: World) -> None:
    world.cycle()
    [draft] = world.services.store.drafts.find()
    assert world.command("queue").status_code == 200
    reply = world.reply_to()
    assert reply["response_type"] == "ephemeral"
    shown = texts(reply["blocks"])
    assert "1 draft waits for your review" in shown
    assert (
        "*Globex website rebuild* → Jordan Lee · Proposal, no reply · arrives Mon 23 Nov 10:00 in Berlin"
        in shown
    )
    assert f"https://slack.com/archives/C0REVIEW/p{draft.slack_ts.replace('.', '')}" in shown  # type: ignore[union-attr]
    world.command("queue", user=ADMIN)
    assert "Nothing waits for your review" in world.reply_to()["text"]


def test_status_explains_every_rule(world: World) -> None:
    world.cycle()
    world.command("status globex")
    shown = texts(world.reply_to()["blocks"])
    assert "*Globex website rebuild* (dates in Europe/Berlin)" in shown
    assert "Draft #1 waits for review." in shown
    for label in (
        "Proposal, no reply",
        "Call, no next step",
        "Stage gone quiet",
        "Quote expired",
        "Lead went quiet",
    ):
        assert f"*{label}*" in shown
    assert "A draft for this deal is waiting for review" in shown


def test_why_tells_the_reason_and_the_evidence(world: World) -> None:
    world.cycle()
    world.command("why Jordan Lee")
    shown = texts(world.reply_to()["blocks"])
    assert "*Globex website rebuild*: draft #1 (waits for review), Proposal, no reply." in shown
    assert "*Why now:*" in shown
    assert "Proposal: “Proposal: website rebuild”" in shown


def test_pause_for_and_until_then_resume(world: World) -> None:
    [draft] = world.cycle()
    world.command("pause Globex for 2w")
    assert "Globex website rebuild is paused until" in world.reply_to()["text"]
    pause = world.services.store.pauses.active(world.clock())["d1"]
    assert pause.until == world.clock() + timedelta(weeks=2)
    saved = world.services.store.drafts.get(draft.id)
    assert saved is not None
    assert saved.status is DraftStatus.WITHDRAWN
    world.command("resume globex website rebuild")
    assert world.reply_to()["text"] == "Globex website rebuild is watched again."
    world.command("pause Globex until 2026-12-15")
    world.reply_to()
    pause = world.services.store.pauses.active(world.clock())["d1"]
    # The start of that day in the owner's zone (New York).
    assert pause.until is not None
    assert pause.until.astimezone(UTC) == datetime(2026, 12, 15, 5, 0, tzinfo=UTC)
    world.command("pause Globex until 2026-01-01")
    assert "has already begun" in world.reply_to()["text"]


def test_snooze_and_deprioritize_by_command(world: World) -> None:
    [draft] = world.cycle()
    world.command("snooze globex 3d")
    assert world.reply_to()["text"].startswith("Snoozed until Thu 26 Nov")
    saved = world.services.store.drafts.get(draft.id)
    assert saved is not None
    assert saved.status is DraftStatus.SNOOZED
    world.command("deprioritize Globex")
    assert world.reply_to()["text"] == "Globex website rebuild is deprioritized until resumed."
    assert (
        world.services.store.pauses.active(world.clock() + timedelta(days=400))["d1"].until is None
    )


def test_optout_by_command_withdraws_and_suppresses(world: World) -> None:
    [draft] = world.cycle()
    world.command("optout Jordan@Globex.example")
    assert world.reply_to()["text"] == "jordan@globex.example will not be written to again."
    assert world.services.store.suppressions.is_suppressed("jordan@globex.example")
    saved = world.services.store.drafts.get(draft.id)
    assert saved is not None
    assert saved.status is DraftStatus.WITHDRAWN
    _, message = world.draft_message(draft.id)
    assert "*Withdrawn* by <@U01MAYA>: contact opted out" in texts(message["blocks"])


def test_optout_is_for_the_owner_and_admins_and_an_admin_can_undo_a_mistake(
    world: World,
) -> None:
    """Issue 11 item 9: anyone in the workspace could opt out a live prospect, with no undo."""
    [draft] = world.cycle()
    world.command("optout jordan@globex.example", user=STRANGER)
    assert "Only the owner of this contact's deal or a followup admin" in world.reply_to()["text"]
    assert not world.services.store.suppressions.is_suppressed("jordan@globex.example")
    assert world.services.store.drafts.get(draft.id).status is DraftStatus.PENDING  # type: ignore[union-attr]
    refused = world.services.store.audit.recent()[0]
    assert (refused.actor, refused.action) == (f"slack:{STRANGER[0]}", "refused:opt_out")
    world.command("optout jordan@globex.example", user=MAYA)  # the owner, by mistake
    assert world.reply_to()["text"] == "jordan@globex.example will not be written to again."
    world.command("optout undo jordan@globex.example", user=MAYA)  # owners may not undo
    assert world.reply_to()["text"].startswith("Only a followup admin can lift")
    world.command("optout undo jordan@globex.example", user=ADMIN)
    assert "may be written to again" in world.reply_to()["text"]
    assert not world.services.store.suppressions.is_suppressed("jordan@globex.example")
    lifted = world.services.store.audit.recent()[0]
    assert (lifted.actor, lifted.action) == (f"slack:{ADMIN[0]}", "suppression_lifted")
    contact = world.services.store.pipeline.load().contact("c1")
    assert contact is not None
    assert contact.status is ContactStatus.ACTIVE


def test_a_prospects_own_opt_out_or_a_hard_bounce_is_never_lifted(world: World) -> None:
    store = world.services.store
    store.suppressions.add("jordan@globex.example", reason="opt_out", now=NOW, source="inbox")
    world.command("optout undo jordan@globex.example", user=ADMIN)
    assert "stays suppressed: opt out from inbox" in world.reply_to()["text"]
    store.suppressions.add("sam@globex.example", reason="hard_bounce", now=NOW, source="inbox")
    world.command("optout undo sam@globex.example", user=ADMIN)
    assert "stays suppressed: a hard bounce" in world.reply_to()["text"]
    assert store.suppressions.is_suppressed("jordan@globex.example")
    assert store.suppressions.is_suppressed("sam@globex.example")


def test_no_match_is_a_helpful_message(world: World) -> None:
    world.command("status Initech")
    assert world.reply_to()["text"] == (
        "No deal matches “Initech”. Try its title, the company, or the contact's name."
    )


def test_a_stranger_cannot_pause_someone_elses_deal(world: World) -> None:
    world.cycle()
    world.command("pause Globex", user=STRANGER)
    assert world.reply_to()["text"].startswith("Only the deal's owner or a followup admin")
    assert world.services.store.pauses.active(world.clock()) == {}


def two_globex_deals() -> Pipeline:
    maya = owner()
    first = deal()
    second = deal(id="d2", title="Globex support retainer", contact_ids=("c2",))
    people = (contact(), contact(id="c2", name="Pat Kim", email="pat@globex.example"))
    acts = (
        activity(ActivityKind.PROPOSAL_SENT, NOW - timedelta(days=4), subject="Proposal"),
        activity(
            ActivityKind.PROPOSAL_SENT,
            NOW - timedelta(days=4),
            id="a2",
            deal_id="d2",
            contact_id="c2",
        ),
    )
    return Pipeline((maya,), people, (first, second), acts)


@pytest.fixture
def two(store: Store, fake: FakeSlack, served: Any) -> Iterator[World]:
    yield from build_world(store, fake, served, pipeline=two_globex_deals())()


def pick(world: World, picker: dict[str, Any], button: dict[str, Any]) -> dict[str, Any]:
    """Maya clicks `button` in the ephemeral picker; Slack's answer to it. The picker is an
    ephemeral message: its buttons come back with a response_url."""
    message = {"ts": "1700000999.000100", "text": picker["text"], "blocks": picker["blocks"]}
    world.responses += 1
    payload = payloads.block_actions(
        payloads.action(picker["blocks"], button["action_id"]),
        user=MAYA,
        channel="C0REVIEW",
        message=message,
        ephemeral=True,
        response_url=world.fake.response_url(str(world.responses)),
    )
    assert world.interact(payload).status_code == 200
    answer: dict[str, Any] = world.reply_to()
    return answer


def test_several_matches_give_a_picker_and_the_pick_runs_the_command(two: World) -> None:
    two.cycle()
    two.command("snooze globex 1w")
    picker = two.reply_to()
    assert picker["response_type"] == "ephemeral"
    assert "2 deals match “globex”. Which one for `snooze`?" in texts(picker["blocks"])
    buttons = [e for b in picker["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["text"]["text"] for b in buttons] == [
        "Globex support retainer (Globex, Pat Kim)",
        "Globex website rebuild (Globex, Jordan Lee)",
    ]
    answer = pick(two, picker, buttons[1])
    assert answer["replace_original"] is True
    assert answer["text"].startswith("Snoozed until Mon 30 Nov")
    drafts = {d.deal_id: d.status for d in two.services.store.drafts.find()}
    assert drafts == {"d1": DraftStatus.SNOOZED, "d2": DraftStatus.PENDING}


def test_a_deal_is_found_by_contact_name_company_or_title(two: World) -> None:
    two.cycle()
    two.command("why pat kim")
    assert "*Globex support retainer*" in texts(two.reply_to()["blocks"])
    two.command("status “Globex website rebuild”")
    assert "*Globex website rebuild* (dates in" in texts(two.reply_to()["blocks"])


def test_an_opted_out_contact_shows_in_status_as_the_reason(two: World) -> None:
    store = two.services.store
    store.pipeline.sync(two_globex_deals(), NOW)
    store.pipeline.set_contact_status("c2", ContactStatus.DO_NOT_CONTACT, NOW)
    two.command("status retainer")
    assert "No contact can be written to" in texts(two.reply_to()["blocks"])


# --------------------------------------------------------------------------- enroll


def synced(world: World) -> World:
    """The CRM's pipeline in the store, as the first cycle leaves it (and no draft yet)."""
    crm = world.services.crm
    assert isinstance(crm, FakeCrm)
    world.services.store.pipeline.sync(crm.pipeline, world.clock())
    return world


def enrolments(world: World) -> list[tuple[str, str, str, str]]:
    found = cadence_store(world.services).enrolments.find()
    return [(e.deal_id, e.contact_id, e.cadence, e.enrolled_by) for e in found]


def test_help_lists_enroll_and_stats_and_the_cadences(world: World) -> None:
    text = world.command("help").json()["text"]
    assert "`/followup enroll <deal> [cadence]`: put the deal's contact in a cadence" in text
    assert "`/followup stats [days]`: reply rates per cadence step" in text
    assert text.endswith("Cadences: default (the default), re_engagement.")
    topic = world.command("help enroll").json()["text"]
    assert topic.startswith("`/followup enroll <deal> [cadence]`: ")
    assert topic.endswith("Cadences: default (the default), re_engagement.")


def test_the_owner_enrols_a_deal_in_the_default_cadence(world: World) -> None:
    synced(world)
    assert world.command("enroll globex").status_code == 200
    reply = world.reply_to()
    assert reply["response_type"] == "ephemeral"
    assert reply["text"] == (
        "Jordan Lee is in cadence default on Globex website rebuild. Step 2 is due now. "
        "Each step comes to review as a draft; a reply from them stops it."
    )
    assert enrolments(world) == [("d1", "c1", "default", "slack:U01MAYA")]
    world.command("enroll Jordan Lee re_engagement", user=ADMIN)
    assert world.reply_to()["text"] == (
        "Jordan Lee is already in cadence default (since Mon 23 Nov); one cadence at a time."
    )
    assert len(enrolments(world)) == 1


def test_enroll_in_a_named_cadence_or_hear_which_exist(world: World) -> None:
    synced(world)
    world.command("enroll Globex website nurture")
    assert world.reply_to()["text"] == (
        "There is no cadence “nurture”. The cadences are: default (the default), re_engagement."
    )
    world.command("enroll Globex website rebuild")  # "rebuild" ends the deal's title
    assert world.reply_to()["text"].startswith("Jordan Lee is in cadence default on Globex")
    assert enrolments(world) == [("d1", "c1", "default", "slack:U01MAYA")]


def test_enroll_of_an_unknown_deal_is_a_helpful_message(world: World) -> None:
    synced(world)
    world.command("enroll Initech re_engagement")
    assert world.reply_to()["text"] == (
        "No deal matches “Initech”. Try its title, the company, or the contact's name."
    )


def test_a_stranger_cannot_enroll_and_is_audited(world: World) -> None:
    synced(world)
    world.command("enroll Globex re_engagement", user=STRANGER)
    reply = world.reply_to()
    assert reply["response_type"] == "ephemeral"
    assert reply["text"] == (
        "Only the deal's owner or a followup admin can do that; nothing was changed."
    )
    assert enrolments(world) == []
    refused = [
        (e.action, e.subject)
        for e in world.services.store.audit.recent()
        if e.actor == "slack:U0STRANGER"
    ]
    assert refused == [("refused:enroll", "deal:d1")]


def test_enroll_picker_carries_the_cadence(two: World) -> None:
    synced(two)
    two.command("enroll globex re_engagement")
    picker = two.reply_to()
    assert "2 deals match “globex”. Which one for `enroll`?" in texts(picker["blocks"])
    buttons = [e for b in picker["blocks"] if b["type"] == "actions" for e in b["elements"]]
    answer = pick(two, picker, buttons[0])  # the support retainer
    assert answer["replace_original"] is True
    assert answer["text"].startswith(
        "Pat Kim is in cadence re_engagement on Globex support retainer."
    )
    assert enrolments(two) == [("d2", "c2", "re_engagement", "slack:U01MAYA")]


def test_an_opted_out_contact_is_named_and_not_enrolled(two: World) -> None:
    store = two.services.store
    store.pipeline.sync(two_globex_deals(), NOW)
    store.pipeline.set_contact_status("c2", ContactStatus.DO_NOT_CONTACT, NOW)
    two.command("enroll retainer")
    assert two.reply_to()["text"] == (
        "No contact of Globex support retainer can be written to: Pat Kim (opted out); "
        "nothing was changed."
    )
    assert enrolments(two) == []


@pytest.fixture
def hostile(store: Store, fake: FakeSlack, served: Any) -> Iterator[World]:
    people = (contact(name="<!channel> <https://evil.example|click>"),)
    pipeline = Pipeline((owner(),), people, (deal(),), ())
    yield from build_world(store, fake, served, pipeline=pipeline)()


def test_enroll_reply_escapes_names_from_the_crm(hostile: World) -> None:
    synced(hostile)
    hostile.command("enroll globex")
    text = hostile.reply_to()["text"]
    assert text.startswith(
        "&lt;!channel&gt; &lt;https://evil.example|click&gt; is in cadence default on Globex"
    )
    assert "<!channel>" not in text
    assert "<https://" not in text


# --------------------------------------------------------------------------- stats


def test_stats_shows_the_metrics_as_blocks(world: World) -> None:
    [draft] = world.cycle()
    world.now[0] += timedelta(hours=2)
    world.click(draft.id, Action.DRAFT_APPROVE)
    assert world.command("stats").status_code == 200
    reply = world.reply_to()
    assert reply["response_type"] == "ephemeral"
    assert reply["text"] == "followup stats, last 30 days: 0 replies to 0 touches"
    blocks = reply["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Stats: last 30 days"},
    }
    shown = texts(blocks)
    for line in (
        "Sat 24 Oct 2026 to Mon 23 Nov 2026 (UTC) · 0 replies to 0 cadence touches",
        "*Reply rate per cadence step*\nNo cadence touches yet.",
        "*Positive reply rate*\n–",
        "*Median time from draft to decision*\n2 h 00 min",
        "*Drafts per rule: approved unchanged · edited · dismissed*\n"
        "• Proposal, no reply: 1 unchanged · 0 edited · 0 dismissed, of 1 drafted",
        "Handoffs: 0, 0 acted on, routing accuracy –",
        "*Model use*\nNone: every draft came from a template.",
    ):
        assert line in shown
    world.command("stats 1w")
    assert world.reply_to()["blocks"][0]["text"]["text"] == "Stats: last 7 days"


def test_stats_are_for_admins_and_deal_owners_only(world: World) -> None:
    world.cycle()
    world.command("stats", user=STRANGER)
    reply = world.reply_to()
    assert reply["response_type"] == "ephemeral"
    assert reply["text"] == "Only followup admins and people who own deals can see the stats."
    assert texts(reply["blocks"]) == reply["text"]  # no figures
    refused = [
        (e.action, e.subject)
        for e in world.services.store.audit.recent()
        if e.actor == "slack:U0STRANGER"
    ]
    assert refused == [("refused:stats", "stats")]
    world.command("stats", user=ADMIN)  # an admin who owns no deal
    assert world.reply_to()["blocks"][0]["text"]["text"] == "Stats: last 30 days"


def test_stats_with_a_bad_number_of_days_is_answered_at_once(world: World) -> None:
    body = world.command("stats soon").json()
    assert body["response_type"] == "ephemeral"
    assert body["text"] == (
        "“soon” is not a number of days; try 7, 30d or 2w. `/followup stats [days]`"
    )


def figures(cadences: int = 1) -> StatsReport:
    since = MONDAY - timedelta(days=30)
    names = ["default", *(f"nurture_{i}" for i in range(1, cadences))]
    return StatsReport(
        30,
        Stats(
            since=since,
            now=MONDAY,
            steps=tuple(
                StepStats(name, step, angle, sent, replies)
                for name in names
                for step, angle, sent, replies in (
                    (1, None, 20, 2),
                    (2, "value", 18, 3),
                    (3, "social_proof", 15, 0),
                )
            ),
            cadences=tuple(CadenceStats(name, 20, 6, 5, 3, 4, 14, 1, 2.2) for name in names),
            positive_reply_rate=0.15,
            re_engagement_rate=None,
            average_touches_before_reply=2.2,
            drafts=(
                DraftStats("proposal_no_reply", 12, 7, 3, 2, 0, 0, 0),
                DraftStats("cadence:default:2", 18, 15, 1, 1, 0, 1, 0),
                DraftStats("<!here> custom", 1, 0, 0, 1, 0, 0, 0),
            ),
            median_minutes_to_decision=3 * 24 * 60 + 95,
            handoffs=HandoffStats(5, {"buying_signal": 5}, 4, 3),
        ),
        [ModelUsageSummary("gpt-4.1-mini", 9, 11, 15200, 2100, 820.0, 1900.0)],
    )


def test_stats_blocks_show_every_metric() -> None:
    reply = stats_reply(figures())
    payload = reply.payload()
    assert payload["response_type"] == "ephemeral"
    shown = texts(payload["blocks"])
    for line in (
        "• default step 1: *10%*, 2 of 20 replied",
        "• default step 2 (value): *17%*, 3 of 18 replied",
        "• default step 3 (social proof): *0%*, 0 of 15 replied",
        "*Positive reply rate*\n15%",
        "*Re-engagement rate*\n–",
        "*Average touches before a reply*\n2.2",
        "*Median time from draft to decision*\n3 d 1 h",
        "*default*: 20 enrolled, 6 running\nPositive replies: 15%\nCompletion: 29%\nOpt-outs: 5%",
        "• Proposal, no reply: 7 unchanged · 3 edited · 2 dismissed, of 12 drafted",
        "• Cadence default, step 2: 15 unchanged · 1 edited · 1 dismissed, of 18 drafted",
        "• &lt;!here&gt; custom: 0 unchanged",
        "Handoffs: 5, 4 acted on, routing accuracy 75%",
        "• gpt-4.1-mini: 9 drafts, 11 calls, 15,200 tokens in / 2,100 out, 820 ms median, "
        "1900 ms p95",
    ):
        assert line in shown
    assert "<!here>" not in shown


@pytest.mark.parametrize(
    ("minutes", "text"),
    [
        (None, "–"),
        (0.4, "0 min"),
        (59.6, "1 h 00 min"),
        (61, "1 h 01 min"),
        (47 * 60 + 59, "47 h 59 min"),
        (48 * 60, "2 d 0 h"),
    ],
)
def test_waits_read_as_people_say_them(minutes: float | None, text: str) -> None:
    assert duration_text(minutes) == text


def test_stats_for_hundreds_of_cadences_stay_within_slacks_limits() -> None:
    payload = stats_reply(figures(cadences=500)).payload()
    assert len(payload["blocks"]) <= 50
    shown = texts(payload["blocks"])
    assert "…and 1460 more steps; `followup stats` on the server lists them all." in shown
    assert "…and 480 more cadences; `followup stats` on the server lists them all." in shown
    assert "• gpt-4.1-mini: 9 drafts" in shown  # what comes after is still there
    for block in payload["blocks"]:
        assert len(block.get("fields", [])) <= 10
        assert len((block.get("text") or {}).get("text", "")) <= 3000
