"""Send windows: when a message may arrive, in the recipient's own time zone.

A window is a set of weekdays and a wall-clock range `[start, end)` in an IANA zone. A day
listed in `holiday_dates`, or in `owner_away[owner_id]`, has no window; those dates are read
in the recipient's zone. When `end <= start` the window runs past midnight into the next day
(`end == start` is a full day); it belongs to the day it starts on.

Wall-clock times are mapped to instants the way a clock on the recipient's wall would:
- a time that does not exist (skipped by a spring-forward change) maps to the first instant
  whose wall clock reads later than it, i.e. the moment of the change;
- a time that happens twice (a fall-back change) maps to its first occurrence.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from triggers.config import SendWindowConfig
from triggers.model import Contact, Owner

__all__ = [
    "in_window",
    "next_send_time",
    "recipient_zone",
    "zone_info",
]

_ONE_DAY = timedelta(days=1)


@lru_cache(maxsize=1024)
def _lookup(name: str) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def zone_info(name: str) -> ZoneInfo:
    """The IANA zone called `name`; ValueError when there is no such zone."""
    found = _lookup(name)
    if found is None:
        raise ValueError(f"{name!r} is not an IANA time zone name (e.g. Europe/Berlin)")
    return found


def recipient_zone(contact: Contact | None, owner: Owner | None, window: SendWindowConfig) -> str:
    """The zone a message to `contact` is planned in.

    The contact's zone, else the deal owner's, else the configured default, else UTC; a name
    that is not a known IANA zone is skipped the same way as a missing one.
    """
    for name in (
        contact.timezone if contact is not None else None,
        owner.timezone if owner is not None else None,
        window.timezone,
    ):
        if name and _lookup(name) is not None:
            return name
    return "UTC"


def _wall(instant: datetime, zone: tzinfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _resolve(day: date, at: time, zone: tzinfo) -> datetime:
    """The first instant (UTC) at which the wall clock in `zone` reads `day at` or later."""
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=zone)  # fold=0: an ambiguous time maps to its first occurrence
    instant = first.astimezone(UTC)
    if _wall(instant, zone) == naive:
        return instant
    # `naive` falls in a gap: find the change, the first instant whose wall clock is past it.
    other = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    lo, hi = min(instant, other), max(instant, other)
    if _wall(lo, zone) >= naive:  # pragma: no cover - defensive; zoneinfo never does this
        return lo
    low, high = 0, int((hi - lo).total_seconds())
    while high - low > 1:  # invariant: wall(lo + low) < naive <= wall(lo + high)
        middle = (low + high) // 2
        if _wall(lo + timedelta(seconds=middle), zone) >= naive:
            high = middle
        else:
            low = middle
    return lo + timedelta(seconds=high)


def _day_allowed(day: date, window: SendWindowConfig, away: frozenset[date]) -> bool:
    return day.weekday() in window.days and day not in window.holiday_dates and day not in away


def _bounds(day: date, window: SendWindowConfig, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return _day_bounds(day, window.start, window.end, zone)


@lru_cache(maxsize=4096)
def _day_bounds(day: date, start: time, end: time, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The window `[start, end)` of `day` as UTC instants (memoized: a pure function)."""
    end_day = day if end > start else day + _ONE_DAY
    return _resolve(day, start, zone), _resolve(end_day, end, zone)


def _check(instant: datetime, zone: str) -> tuple[datetime, ZoneInfo]:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{instant.isoformat()} has no time zone; pass an aware datetime")
    return instant.astimezone(UTC), zone_info(zone)


def next_send_time(
    earliest: datetime,
    zone: str,
    window: SendWindowConfig,
    owner_id: str | None = None,
) -> datetime:
    """The first instant at or after `earliest` inside the send window, in UTC.

    `zone` is the recipient's IANA zone (see `recipient_zone`); holiday and out-of-office dates
    are dates in that zone. ValueError when the window has no days at all.
    """
    moment, tz = _check(earliest, zone)
    if not window.days:
        raise ValueError("the send window has no days; list at least one of mon..sun")
    away = window.owner_away.get(owner_id, frozenset()) if owner_id is not None else frozenset()
    day = _wall(moment, tz).date() - _ONE_DAY  # yesterday's window may run past midnight
    # Every excluded date removes at most one day, so this many days always holds a window.
    for _ in range(7 * (len(window.holiday_dates) + len(away) + 2)):
        if _day_allowed(day, window, away):
            start, end = _bounds(day, window, tz)
            if start < end and moment < end:
                return max(moment, start)
        day += _ONE_DAY
    raise ValueError("the send window never opens")  # pragma: no cover - bounded above


def in_window(
    instant: datetime,
    zone: str,
    window: SendWindowConfig,
    owner_id: str | None = None,
) -> bool:
    """Whether `instant` falls inside the send window (same reading as `next_send_time`)."""
    moment, tz = _check(instant, zone)
    away = window.owner_away.get(owner_id, frozenset()) if owner_id is not None else frozenset()
    today = _wall(moment, tz).date()
    for day in (today - _ONE_DAY, today):
        if _day_allowed(day, window, away):
            start, end = _bounds(day, window, tz)
            if start <= moment < end:
                return True
    return False
