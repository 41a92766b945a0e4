"""Read the date/time phrases people type into /oncall, in the asker's zone, and echo them back unambiguously.

A local time that does not exist (spring-forward gap) moves forward by the gap; one that happens twice
(fall-back fold) means the first occurrence. Everything returned is an aware UTC datetime.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
import re
from zoneinfo import ZoneInfo

from bot.errors import UsageError

FORMS = "2026-12-24 08:00, 2026-12-24, friday, friday 17:00, 17:00, today, tomorrow, next week, +3d, +2h, +90m or now"
WEEKDAYS = {
    name: i
    for i, names in enumerate(
        [
            ("monday", "mon"),
            ("tuesday", "tue", "tues"),
            ("wednesday", "wed"),
            ("thursday", "thu", "thur", "thurs"),
            ("friday", "fri"),
            ("saturday", "sat"),
            ("sunday", "sun"),
        ]
    )
    for name in names
}
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_CONNECTORS = frozenset({"to", "until", "till", "-", "–", "→", ".."})
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_AMPM = re.compile(r"(\d{1,2})(?::(\d{2}))?(am|pm)")
_ISO_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}t\d{1,2}:\d{2}(:\d{2})?(z|[+-]\d{2}:?\d{2})?")
_RELATIVE = re.compile(r"\+((?:\d+[wdhm])+)")
_RELATIVE_PART = re.compile(r"(\d+)([wdhm])")
_MAX_AHEAD = timedelta(days=3660)  # keeps "+99999999d" a usage error rather than an OverflowError


class WhenError(UsageError, ValueError):
    """A phrase we could not read; the message is written for the person who typed it."""

    def __init__(self, message: str, usage: str = f"Dates can be {FORMS}, read in your time zone.") -> None:
        super().__init__(message, usage)


@dataclass(frozen=True)
class _Parsed:
    instant: datetime  # aware UTC
    period_end: datetime | None  # for whole-day/whole-week phrases: where that day or week ends


def parse_when(text: str, *, tz: ZoneInfo, now: datetime) -> datetime:
    """Return the instant `text` names, read in the asker's zone `tz`, as an aware UTC datetime."""
    now = _require_aware(now)
    words = text.split()
    parsed = _parse_phrase(words, tz=tz, now=now, anchor=now) if 0 < len(words) <= 2 else None
    if parsed is None:
        raise WhenError(f"I couldn't read “{text.strip()}” as a date or time. Try {FORMS}.")
    return parsed.instant


def parse_when_or_period(text: str, *, tz: ZoneInfo, now: datetime) -> tuple[datetime, datetime | None]:
    """Return (instant, period end) for `text`; the end is set when it names a whole day or week ("2026-12-28")."""
    now = _require_aware(now)
    words = text.split()
    parsed = _parse_phrase(words, tz=tz, now=now, anchor=now) if 0 < len(words) <= 2 else None
    if parsed is None:
        raise WhenError(f"I couldn't read “{text.strip()}” as a date or time. Try {FORMS}.")
    return parsed.instant, parsed.period_end


def parse_range(text_or_tokens: str | Sequence[str], *, tz: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """Return [start, end) from "<from> [to] <to>", or the whole day/week one phrase names; UTC."""
    start, end, rest = split_range(text_or_tokens, tz=tz, now=now)
    if rest:
        raise WhenError(f"I read the dates but not “{' '.join(rest)}” after them. Try {FORMS}.")
    return start, end


def split_range(
    text_or_tokens: str | Sequence[str], *, tz: ZoneInfo, now: datetime
) -> tuple[datetime, datetime, list[str]]:
    """Return (start, end, leftover words) for commands with a trailing note, e.g. "/oncall cover".

    The end phrase is read relative to the start: a weekday or bare time is the next one at or after
    the start, "+3d" counts from the start, and a whole-day phrase ("2026-12-26", "friday") includes
    that day, so "away 2026-12-24 2026-12-26" ends at 27 Dec 00:00.
    """
    now = _require_aware(now)
    words = text_or_tokens.split() if isinstance(text_or_tokens, str) else list(text_or_tokens)
    if not words:
        raise WhenError(f"Say when: for example “tomorrow 09:00 tomorrow 17:00”. Try {FORMS}.")
    for size in (2, 1):
        start = _parse_phrase(words[:size], tz=tz, now=now, anchor=now) if len(words) >= size else None
        if start is None:
            continue
        i = size + (1 if len(words) > size and words[size].lower() in _CONNECTORS else 0)
        for end_size in (2, 1):
            if len(words) - i < end_size:
                continue
            end = _parse_phrase(words[i : i + end_size], tz=tz, now=now, anchor=start.instant)
            if end is not None:
                end_at = end.period_end or end.instant
                if end_at <= start.instant:
                    raise WhenError(
                        f"The end ({describe(end_at, tz)}) is not after the start ({describe(start.instant, tz)})."
                    )
                return start.instant, end_at, words[i + end_size :]
        if start.period_end is not None:
            return start.instant, start.period_end, words[size:]
        raise WhenError(f"I read the start ({describe(start.instant, tz)}) but not when it ends. Try {FORMS}.")
    raise WhenError(f"I couldn't read “{words[0]}” as a date or time. Try {FORMS}.")


def describe(dt: datetime, tz: ZoneInfo) -> str:
    """Echo `dt` back in `tz` and in UTC, e.g. "Thu 24 Dec 2026 08:00 CET (07:00 UTC)"."""
    local = _require_aware(dt).astimezone(tz)
    utc = dt.astimezone(UTC)
    text = f"{_day(local)} {local:%H:%M} {local.tzname()}"
    if local.utcoffset() == timedelta(0) and local.tzname() == "UTC":
        return text
    # Name the UTC day too when it differs, or "(23:30 UTC)" would point at the wrong day.
    utc_day = "" if utc.date() == local.date() else f"{_day(utc)} "
    return f"{text} ({utc_day}{utc:%H:%M} UTC)"


def describe_range(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    """Echo a range back, e.g. "Thu 24 Dec 2026 00:00 CET (…) → Sun 27 Dec 2026 00:00 CET (…)"."""
    return f"{describe(start, tz)} → {describe(end, tz)}"


def local_to_utc(naive: datetime, tz: ZoneInfo) -> datetime:
    """Return the UTC instant of wall-clock `naive` in `tz`: a gap time moves forward, a fold takes the first."""
    # fold=0 makes zoneinfo use the offset in force before the transition: for a gap time that lands
    # after the jump by exactly the gap's length, and for a repeated time it is the first occurrence.
    try:
        return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    except OverflowError as error:
        raise WhenError("That date is out of range.") from error


# --- phrases ---------------------------------------------------------------------------------------


def _parse_phrase(words: Sequence[str], *, tz: ZoneInfo, now: datetime, anchor: datetime) -> _Parsed | None:
    """Return what a one- or two-word phrase names, or None if it is not a date phrase."""
    try:
        return _read_phrase(words, tz=tz, now=now, anchor=anchor)
    except OverflowError as error:  # year 9999 plus a day, and the like
        raise WhenError("That date is out of range.") from error


def _read_phrase(words: Sequence[str], *, tz: ZoneInfo, now: datetime, anchor: datetime) -> _Parsed | None:
    """Parse one phrase (see `_parse_phrase`).

    `anchor` is where "next occurrence" and relative offsets count from: `now` for a start, the
    start for an end. "today", "tomorrow" and "next week" always count from `now`.
    """
    words = [w.lower() for w in words]
    if len(words) == 2:
        if words == ["next", "week"]:
            today = now.astimezone(tz).date()
            monday = today + timedelta(days=7 - today.weekday())
            return _Parsed(_midnight(monday, tz), _midnight(monday + timedelta(days=7), tz))
        day = _day_word(words[0], tz=tz, now=now, anchor=anchor)
        at = _clock(words[1])
        if day is None or at is None:
            return None
        instant = local_to_utc(datetime.combine(day, at), tz)
        if words[0] in WEEKDAYS and instant < anchor:
            # "monday 09:00" said on a Monday at 10:00 means next Monday.
            instant = local_to_utc(datetime.combine(day + timedelta(days=7), at), tz)
        return _Parsed(instant, None)
    if len(words) != 1:
        return None
    word = words[0]
    if word == "now":
        return _Parsed(now.astimezone(UTC), None)
    day = _day_word(word, tz=tz, now=now, anchor=anchor)
    if day is not None:
        return _Parsed(_midnight(day, tz), _midnight(day + timedelta(days=1), tz))
    if _ISO_STAMP.fullmatch(word):
        return _Parsed(_iso_stamp(word, tz), None)
    match = _RELATIVE.fullmatch(word)
    if match:
        return _Parsed(_relative(match.group(1), tz=tz, anchor=anchor), None)
    at = _clock(word)
    if at is not None:
        local_anchor = anchor.astimezone(tz)
        instant = local_to_utc(datetime.combine(local_anchor.date(), at), tz)
        if instant < anchor:  # a bare time is its next occurrence
            instant = local_to_utc(datetime.combine(local_anchor.date() + timedelta(days=1), at), tz)
        return _Parsed(instant, None)
    return None


def _day_word(word: str, *, tz: ZoneInfo, now: datetime, anchor: datetime) -> date | None:
    """Return the local date a day word names ("today", "friday", "2026-12-24"), or None."""
    if word == "today":
        return now.astimezone(tz).date()
    if word == "tomorrow":
        return now.astimezone(tz).date() + timedelta(days=1)
    if word in WEEKDAYS:
        # The next such day that has not fully passed: said on a Friday, "friday" is today.
        base = anchor.astimezone(tz).date()
        return base + timedelta(days=(WEEKDAYS[word] - base.weekday()) % 7)
    match = _DATE.fullmatch(word)
    if match:
        try:
            return date(*(int(g) for g in match.groups()))
        except ValueError as error:
            raise WhenError(f"{word} is not a calendar date.") from error
    return None


def _clock(word: str) -> time | None:
    """Return the wall-clock time in "17:00", "9:30:15", "5pm" or "8:30am", or None."""
    match = _CLOCK.fullmatch(word)
    if match:
        hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    else:
        match = _AMPM.fullmatch(word)
        if not match:
            return None
        hour, minute, second = int(match[1]), int(match[2] or 0), 0
        if not 1 <= hour <= 12:
            raise WhenError(f"{word} is not a time: am/pm hours run from 1 to 12.")
        hour = hour % 12 + (12 if match[3] == "pm" else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise WhenError(f"{word} is not a time of day: use 00:00 to 23:59.")
    return time(hour, minute, second)


def _iso_stamp(word: str, tz: ZoneInfo) -> datetime:
    try:
        stamp = datetime.fromisoformat(word.upper())
    except ValueError as error:
        raise WhenError(f"{word} is not a valid date and time.") from error
    if stamp.tzinfo is not None:  # an explicit offset is unambiguous and wins over the asker's zone
        return stamp.astimezone(UTC)
    return local_to_utc(stamp, tz)


def _relative(spec: str, *, tz: ZoneInfo, anchor: datetime) -> datetime:
    """Add "3d", "2h", "1w2d" to `anchor`: weeks and days on the wall clock, hours and minutes elapsed."""
    amounts = {unit: 0 for unit in "wdhm"}
    for number, unit in _RELATIVE_PART.findall(spec):
        amounts[unit] += int(number)
    calendar = timedelta(days=7 * amounts["w"] + amounts["d"])
    elapsed = timedelta(hours=amounts["h"], minutes=amounts["m"])
    if calendar + elapsed > _MAX_AHEAD:
        raise WhenError(f"+{spec} is too far ahead; the most is about ten years.")
    # Days are calendar days, so "+1d" from 09:00 is 09:00 tomorrow even across a DST change.
    local = anchor.astimezone(tz).replace(tzinfo=None) + calendar
    return local_to_utc(local, tz) + elapsed if calendar else anchor.astimezone(UTC) + elapsed


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    # Some zones (e.g. America/Havana, Asia/Beirut) change at midnight; 00:00 then moves forward.
    return local_to_utc(datetime.combine(day, time(0)), tz)


def _day(dt: datetime) -> str:
    return f"{_DAY_NAMES[dt.weekday()]} {dt.day} {_MONTH_NAMES[dt.month - 1]} {dt.year}"


def _require_aware(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"expected an aware datetime, got naive {dt.isoformat()}")
    return dt
