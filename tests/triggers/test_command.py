"""The /followup parser, as a table: what people type, what it means."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from triggers.command import (
    STATS_DAYS,
    Command,
    CommandError,
    Verb,
    help_text,
    parse_command,
    parse_human_duration,
)

D = timedelta(days=1)

PARSED: list[tuple[str, Command]] = [
    ("", Command(Verb.HELP)),
    ("   ", Command(Verb.HELP)),
    ("help", Command(Verb.HELP)),
    ("HELP pause", Command(Verb.HELP, topic=Verb.PAUSE)),
    ("help nonsense", Command(Verb.HELP)),
    ("?", Command(Verb.HELP)),
    ("queue", Command(Verb.QUEUE)),
    ("Queue please", Command(Verb.QUEUE)),
    ("list", Command(Verb.QUEUE)),
    ("status Globex", Command(Verb.STATUS, deal="Globex")),
    ("status   globex   website  ", Command(Verb.STATUS, deal="globex website")),
    ("explain Globex", Command(Verb.STATUS, deal="Globex")),
    ("why “Globex website rebuild”", Command(Verb.WHY, deal="Globex website rebuild")),
    ('why "Jordan Lee"', Command(Verb.WHY, deal="Jordan Lee")),
    ("status AT&amp;T renewal", Command(Verb.STATUS, deal="AT&T renewal")),
    ("pause Globex", Command(Verb.PAUSE, deal="Globex")),
    ("pause Globex for 2w", Command(Verb.PAUSE, deal="Globex", duration=14 * D)),
    ("pause Globex for 3 days", Command(Verb.PAUSE, deal="Globex", duration=3 * D)),
    ("PAUSE Globex FOR 1 week", Command(Verb.PAUSE, deal="Globex", duration=7 * D)),
    ("pause Globex until 2026-12-15", Command(Verb.PAUSE, deal="Globex", until=date(2026, 12, 15))),
    ("pause Design for Acme", Command(Verb.PAUSE, deal="Design for Acme")),
    ("pause Design for Acme for 2w", Command(Verb.PAUSE, deal="Design for Acme", duration=14 * D)),
    ("resume Globex", Command(Verb.RESUME, deal="Globex")),
    ("unpause Globex", Command(Verb.RESUME, deal="Globex")),
    ("snooze Globex 3d", Command(Verb.SNOOZE, deal="Globex", duration=3 * D)),
    ("snooze Globex for 72h", Command(Verb.SNOOZE, deal="Globex", duration=3 * D)),
    ("snooze Globex website 1 week", Command(Verb.SNOOZE, deal="Globex website", duration=7 * D)),
    ("deprioritize Globex", Command(Verb.DEPRIORITIZE, deal="Globex")),
    ("deprioritise Globex", Command(Verb.DEPRIORITIZE, deal="Globex")),
    ("optout Jordan@Globex.example", Command(Verb.OPTOUT, email="jordan@globex.example")),
    ("opt-out jordan@globex.example", Command(Verb.OPTOUT, email="jordan@globex.example")),
    (
        "optout <mailto:jordan@globex.example|jordan@globex.example>",
        Command(Verb.OPTOUT, email="jordan@globex.example"),
    ),
    ("enroll Globex", Command(Verb.ENROLL, deal="Globex")),
    ("enrol globex", Command(Verb.ENROLL, deal="globex")),
    # The last word is a candidate cadence; the bot, which knows the cadences, decides.
    ("enroll Globex re_engagement", Command(Verb.ENROLL, deal="Globex", cadence="re_engagement")),
    (
        "ENROLL  Globex   website  rebuild ",
        Command(Verb.ENROLL, deal="Globex website", cadence="rebuild"),
    ),
    ('enroll "Globex website rebuild"', Command(Verb.ENROLL, deal="Globex website rebuild")),
    (
        "enroll “Globex website” re_engagement",
        Command(Verb.ENROLL, deal="Globex website", cadence="re_engagement"),
    ),
    (
        'enroll "O\'Brien & Co" default',
        Command(Verb.ENROLL, deal="O'Brien & Co", cadence="default"),
    ),
    ('enroll "Globex" "default"', Command(Verb.ENROLL, deal="Globex", cadence="default")),
    ('enroll "Globex website', Command(Verb.ENROLL, deal="Globex", cadence="website")),
    ("enroll AT&amp;T", Command(Verb.ENROLL, deal="AT&T")),
    ("stats", Command(Verb.STATS, days=STATS_DAYS)),
    ("stats 7", Command(Verb.STATS, days=7)),
    ("Stats 90d", Command(Verb.STATS, days=90)),
    ("stats 2w", Command(Verb.STATS, days=14)),
    ("stats 30 days", Command(Verb.STATS, days=30)),
    ("stats 1 week", Command(Verb.STATS, days=7)),
    ("metrics", Command(Verb.STATS, days=30)),
]


@pytest.mark.parametrize(("text", "expected"), PARSED, ids=[t or "<empty>" for t, _ in PARSED])
def test_parses(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


REFUSED: list[tuple[str, str, Verb | None]] = [
    ("frobnicate Globex", "I don't know “frobnicate”", None),
    ("status", "Which deal? `/followup status <deal>`", Verb.STATUS),
    ("why   ", "Which deal?", Verb.WHY),
    ('resume ""', "Which deal?", Verb.RESUME),
    ("pause", "Which deal?", Verb.PAUSE),
    ("pause Globex for 2x", "“2x” is not a duration", Verb.PAUSE),
    ("pause Globex for 0d", "The duration must be more than zero", Verb.PAUSE),
    ("pause Globex for 400d", "more than a year", Verb.PAUSE),
    ("pause Globex until 15/12/2026", "is not a date; write it as YYYY-MM-DD", Verb.PAUSE),
    ("pause Globex until 2026-02-30", "2026-02-30 is not a day of the calendar", Verb.PAUSE),
    ("snooze Globex", "For how long? `/followup snooze <deal> 3d`", Verb.SNOOZE),
    ("snooze 3d", "Which deal, and for how long?", Verb.SNOOZE),
    ("snooze", "Which deal, and for how long?", Verb.SNOOZE),
    ("snooze Globex 3 fortnights", "“3 fortnights” is not a duration", Verb.SNOOZE),
    ("optout", "Which address?", Verb.OPTOUT),
    ("optout jordan", "“jordan” is not an email address", Verb.OPTOUT),
    ("optout a@b", "is not an email address", Verb.OPTOUT),
    ("enroll", "Which deal? `/followup enroll <deal> [cadence]`", Verb.ENROLL),
    ('enroll "" default', "Which deal?", Verb.ENROLL),
    ('enroll "Globex" re engagement', "A cadence's name is one word", Verb.ENROLL),
    ("stats soon", "“soon” is not a number of days; try 7, 30d or 2w.", Verb.STATS),
    ("stats 90m", "is not a number of days", Verb.STATS),
    ("stats 0", "Pick between 1 and 366 days. `/followup stats [days]`", Verb.STATS),
    ("stats 53w", "Pick between 1 and 366 days", Verb.STATS),
]


@pytest.mark.parametrize(("text", "message", "verb"), REFUSED, ids=[t for t, _, _ in REFUSED])
def test_refuses_with_a_helpful_message(text: str, message: str, verb: Verb | None) -> None:
    result = parse_command(text)
    assert isinstance(result, CommandError)
    assert message in result.message
    assert result.verb == verb


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90m", timedelta(minutes=90)), ("2 hours", timedelta(hours=2)), ("1 wk", 7 * D)],
)
def test_human_durations(text: str, expected: timedelta) -> None:
    assert parse_human_duration(text) == expected


def test_an_unknown_word_is_quoted_briefly() -> None:
    result = parse_command("x" * 500)
    assert isinstance(result, CommandError)
    assert len(result.message) < 120


def test_help_lists_every_verb() -> None:
    text = help_text()
    for verb in Verb:
        assert f"`/followup {verb.value}" in text
    assert help_text(Verb.SNOOZE).startswith("`/followup snooze <deal> 3d`")


def test_help_names_enroll_and_stats_with_their_arguments() -> None:
    text = help_text()
    assert "• `/followup enroll <deal> [cadence]`: put the deal's contact in a cadence" in text
    assert "• `/followup stats [days]`: reply rates per cadence step" in text
    assert help_text(Verb.ENROLL).startswith("`/followup enroll <deal> [cadence]`: ")
