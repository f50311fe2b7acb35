"""Send windows: the first instant a message may arrive, in the recipient's own zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from tests.triggers._build import contact, owner
from triggers.config import SendWindowConfig
from triggers.windows import in_window, next_send_time, recipient_zone

WORKDAYS = SendWindowConfig()  # Mon-Fri 09:00-17:00
EVERY_DAY = frozenset(range(7))


def z(text: str) -> datetime:
    """`"2026-11-17 14:00"` in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


CASES = [
    # (id, earliest UTC, zone, window, owner, expected UTC)
    ("inside the window stays", "2026-11-17 10:00", "Europe/Berlin", WORKDAYS, None,
     "2026-11-17 10:00"),
    ("before the start waits for 09:00 local", "2026-11-17 06:00", "Europe/Berlin", WORKDAYS,
     None, "2026-11-17 08:00"),
    ("exactly 09:00 local is inside", "2026-11-17 08:00", "Europe/Berlin", WORKDAYS, None,
     "2026-11-17 08:00"),
    ("exactly 17:00 local is outside", "2026-11-17 16:00", "Europe/Berlin", WORKDAYS, None,
     "2026-11-18 08:00"),
    ("Friday evening waits for Monday", "2026-11-20 16:30", "Europe/Berlin", WORKDAYS, None,
     "2026-11-23 08:00"),
    ("Saturday waits for Monday", "2026-11-21 12:00", "America/New_York", WORKDAYS, None,
     "2026-11-23 14:00"),
    ("the weekday is the recipient's: Monday 06:00 UTC is Monday 15:00 in Tokyo",
     "2026-11-23 06:00", "Asia/Tokyo", WORKDAYS, None, "2026-11-23 06:00"),
    ("Sunday night UTC is Monday morning in Tokyo", "2026-11-22 23:30", "Asia/Tokyo", WORKDAYS,
     None, "2026-11-23 00:00"),
    # America/New_York falls back on Sun 1 Nov 2026: 09:00 EDT is 13:00 UTC, 09:00 EST 14:00.
    ("New York before the fall-back", "2026-10-30 12:00", "America/New_York", WORKDAYS, None,
     "2026-10-30 13:00"),
    ("New York across the fall-back", "2026-10-30 22:00", "America/New_York", WORKDAYS, None,
     "2026-11-02 14:00"),
    ("New York: 16:59 EST on the Monday after", "2026-11-02 21:59", "America/New_York",
     WORKDAYS, None, "2026-11-02 21:59"),
    # Europe/Berlin falls back on Sun 25 Oct 2026 and springs forward on Sun 29 Mar 2026.
    ("Berlin before the fall-back", "2026-10-23 06:30", "Europe/Berlin", WORKDAYS, None,
     "2026-10-23 07:00"),
    ("Berlin across the fall-back", "2026-10-23 16:00", "Europe/Berlin", WORKDAYS, None,
     "2026-10-26 08:00"),
    ("Berlin before the spring-forward", "2026-03-26 07:30", "Europe/Berlin", WORKDAYS, None,
     "2026-03-26 08:00"),
    ("Berlin across the spring-forward", "2026-03-27 16:00", "Europe/Berlin", WORKDAYS, None,
     "2026-03-30 07:00"),
]  # fmt: skip

NIGHT = SendWindowConfig(days=EVERY_DAY, start=time(2, 30), end=time(4, 0))
SHORT = SendWindowConfig(days=EVERY_DAY, start=time(2, 30), end=time(2, 45))
EARLY = SendWindowConfig(days=EVERY_DAY, start=time(1, 0), end=time(2, 30))
OVERNIGHT = SendWindowConfig(days=frozenset({4}), start=time(22, 0), end=time(6, 0))
XMAS = SendWindowConfig(holiday_dates=frozenset({date(2026, 12, 25)}))
AWAY = SendWindowConfig(owner_away={"u1": frozenset({date(2026, 11, 23)})})

ODD_TIMES = [
    ("a start time that does not exist opens at the change", "2026-03-28 12:00",
     "Europe/Berlin", NIGHT, None, "2026-03-29 01:00"),
    ("New York: 02:30 does not exist on 8 Mar", "2026-03-07 12:00", "America/New_York", NIGHT,
     None, "2026-03-08 07:00"),
    ("a start time that happens twice opens at its first occurrence", "2026-10-24 12:00",
     "Europe/Berlin", NIGHT, None, "2026-10-25 00:30"),
    ("the second 02:40 is after a window that ended at the first 02:45", "2026-10-25 01:40",
     "Europe/Berlin", SHORT, None, "2026-10-26 01:30"),
    ("an end time that does not exist closes at the change", "2026-03-29 00:59",
     "Europe/Berlin", EARLY, None, "2026-03-29 00:59"),
    ("after that change the window is closed till 01:00 CEST", "2026-03-29 01:00",
     "Europe/Berlin", EARLY, None, "2026-03-29 23:00"),
    ("an overnight window, evening", "2026-11-20 12:00", "UTC", OVERNIGHT, None,
     "2026-11-20 22:00"),
    ("an overnight window belongs to the day it starts", "2026-11-21 03:00", "UTC", OVERNIGHT,
     None, "2026-11-21 03:00"),
    ("an overnight window ends at its end", "2026-11-21 06:00", "UTC", OVERNIGHT, None,
     "2026-11-27 22:00"),
    ("a public holiday is skipped", "2026-12-24 16:30", "Europe/Berlin", XMAS, None,
     "2026-12-28 08:00"),
    ("holidays are the recipient's dates", "2026-12-24 23:30", "Asia/Tokyo", XMAS, None,
     "2026-12-28 00:00"),
    ("the owner's away day is skipped", "2026-11-20 16:30", "Europe/Berlin", AWAY, "u1",
     "2026-11-24 08:00"),
    ("another owner's away day is not", "2026-11-20 16:30", "Europe/Berlin", AWAY, "u2",
     "2026-11-23 08:00"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("earliest", "zone", "window", "owner_id", "expected"),
    [c[1:] for c in CASES + ODD_TIMES],
    ids=[c[0] for c in CASES + ODD_TIMES],
)
def test_next_send_time(
    earliest: str, zone: str, window: SendWindowConfig, owner_id: str | None, expected: str
) -> None:
    sent = next_send_time(z(earliest), zone, window, owner_id)
    assert sent == z(expected)
    assert sent.tzinfo is UTC
    assert in_window(sent, zone, window, owner_id)


def test_accepts_any_offset_and_answers_in_utc() -> None:
    earliest = datetime.fromisoformat("2026-11-20T18:30:00+01:00")  # Friday 18:30 in Berlin
    assert next_send_time(earliest, "Europe/Berlin", WORKDAYS) == z("2026-11-23 08:00")


@pytest.mark.parametrize(
    ("instant", "inside"),
    [
        ("2026-03-29 00:59", True),  # 01:59 CET
        ("2026-03-29 01:00", False),  # 03:00 CEST: past the (skipped) 02:30 end
        ("2026-03-28 23:59", False),  # 00:59 CET
    ],
)
def test_in_window_across_a_gap(instant: str, inside: bool) -> None:
    assert in_window(z(instant), "Europe/Berlin", EARLY) is inside


def test_errors_are_explicit() -> None:
    with pytest.raises(ValueError, match="no days"):
        next_send_time(z("2026-11-17 10:00"), "UTC", SendWindowConfig(days=frozenset()))
    with pytest.raises(ValueError, match="no time zone"):
        next_send_time(datetime(2026, 11, 17, 10), "UTC", WORKDAYS)
    with pytest.raises(ValueError, match="not an IANA time zone"):
        next_send_time(z("2026-11-17 10:00"), "Mars/Olympus", WORKDAYS)


@pytest.mark.parametrize(
    ("contact_zone", "owner_zone", "default", "expected"),
    [
        ("Europe/Berlin", "America/New_York", "UTC", "Europe/Berlin"),
        (None, "America/New_York", "UTC", "America/New_York"),
        ("Mars/Olympus", "America/New_York", "UTC", "America/New_York"),
        (None, None, "Asia/Tokyo", "Asia/Tokyo"),
        ("", "Not/AZone", "Asia/Tokyo", "Asia/Tokyo"),
        (None, None, "Nowhere/Special", "UTC"),
    ],
)
def test_recipient_zone(
    contact_zone: str | None, owner_zone: str | None, default: str, expected: str
) -> None:
    window = SendWindowConfig(timezone=default)
    chosen = recipient_zone(contact(timezone=contact_zone), owner(timezone=owner_zone), window)
    assert chosen == expected


def test_recipient_zone_without_contact_or_owner() -> None:
    assert recipient_zone(None, None, SendWindowConfig(timezone="Europe/Paris")) == "Europe/Paris"
