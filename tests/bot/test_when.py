"""Tests of the date/time phrases /oncall accepts (bot/when.py), always read in the asker's zone."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings, strategies as st
import pytest

from bot.errors import UsageError
from bot.when import WhenError, describe, describe_range, local_to_utc, parse_range, parse_when, split_range

ROME = ZoneInfo("Europe/Rome")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 12, 22, 10, 0, tzinfo=UTC)  # Tuesday 11:00 in Rome
PROPERTY = settings(max_examples=150, deadline=None)


def rome(*args) -> datetime:
    return datetime(*args, tzinfo=ROME).astimezone(UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-24 08:00", rome(2026, 12, 24, 8)),
        ("2026-12-24T08:00", rome(2026, 12, 24, 8)),
        ("2026-12-24", rome(2026, 12, 24)),
        ("2026-12-24T08:00Z", datetime(2026, 12, 24, 8, tzinfo=UTC)),
        ("thursday", rome(2026, 12, 24)),
        ("Thu 17:00", rome(2026, 12, 24, 17)),
        ("tuesday", rome(2026, 12, 22)),
        ("tuesday 09:00", rome(2026, 12, 29, 9)),
        ("today", rome(2026, 12, 22)),
        ("tomorrow 9am", rome(2026, 12, 23, 9)),
        ("tomorrow 12pm", rome(2026, 12, 23, 12)),
        ("next week", rome(2026, 12, 28)),
        ("+3d", rome(2026, 12, 25, 11)),
        ("+2h", NOW + timedelta(hours=2)),
        ("+90m", NOW + timedelta(minutes=90)),
        ("+1w2d", rome(2026, 12, 31, 11)),
        ("now", NOW),
        ("17:00", rome(2026, 12, 22, 17)),
        ("10:30", rome(2026, 12, 23, 10, 30)),
    ],
)
def test_phrases_are_read_in_the_askers_zone(text, expected):
    """Each accepted form names the instant it should, in Rome, returned as aware UTC."""
    result = parse_when(text, tz=ROME, now=NOW)
    assert result == expected and result.tzinfo is UTC


def test_same_phrase_means_different_instants_in_different_zones():
    """"tomorrow 09:00" is 09:00 where the asker is, not where the server is."""
    assert parse_when("tomorrow 09:00", tz=NEW_YORK, now=NOW) - parse_when("tomorrow 09:00", tz=ROME, now=NOW) == timedelta(hours=6)


def test_time_in_the_spring_forward_gap_moves_forward_by_the_gap():
    """02:30 on Rome's spring-forward day does not exist; it is read as 03:30 CEST."""
    result = parse_when("2026-03-29 02:30", tz=ROME, now=NOW)
    assert result == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert describe(result, ROME) == "Sun 29 Mar 2026 03:30 CEST (01:30 UTC)"


def test_time_in_the_fall_back_fold_is_the_first_occurrence():
    """02:30 on Rome's fall-back day happens twice; it means the first (CEST) one."""
    result = parse_when("2026-10-25 02:30", tz=ROME, now=NOW)
    assert result == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert describe(result, ROME) == "Sun 25 Oct 2026 02:30 CEST (00:30 UTC)"


def test_relative_days_keep_the_wall_clock_across_dst():
    """"+1d" from Saturday 09:00 before spring-forward is Sunday 09:00, only 23 hours later."""
    saturday = rome(2026, 3, 28, 9)
    assert parse_when("+1d", tz=ROME, now=saturday) == rome(2026, 3, 29, 9)
    assert parse_when("+24h", tz=ROME, now=saturday) == rome(2026, 3, 29, 10)


def test_describe_echoes_local_and_utc_unambiguously():
    """The echo names the weekday, the zone abbreviation and the UTC time (and UTC day when it differs)."""
    assert describe(rome(2026, 12, 24, 8), ROME) == "Thu 24 Dec 2026 08:00 CET (07:00 UTC)"
    assert describe(rome(2026, 12, 24, 0, 30), ROME) == "Thu 24 Dec 2026 00:30 CET (Wed 23 Dec 2026 23:30 UTC)"
    assert describe(datetime(2026, 12, 24, 8, tzinfo=UTC), ZoneInfo("UTC")) == "Thu 24 Dec 2026 08:00 UTC"


def test_range_with_whole_days_includes_the_last_day():
    """"2026-12-24 2026-12-26" is away from the 24th through the 26th inclusive."""
    assert parse_range("2026-12-24 2026-12-26", tz=ROME, now=NOW) == (rome(2026, 12, 24), rome(2026, 12, 27))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-24 08:00 2026-12-24 18:00", (rome(2026, 12, 24, 8), rome(2026, 12, 24, 18))),
        ("2026-12-24 08:00 to 18:00", (rome(2026, 12, 24, 8), rome(2026, 12, 24, 18))),
        ("friday monday", (rome(2026, 12, 25), rome(2026, 12, 29))),
        ("friday 17:00 monday 09:00", (rome(2026, 12, 25, 17), rome(2026, 12, 28, 9))),
        ("friday +3d", (rome(2026, 12, 25), rome(2026, 12, 28))),
        ("now +2h", (NOW, NOW + timedelta(hours=2))),
        ("tomorrow", (rome(2026, 12, 23), rome(2026, 12, 24))),
        ("next week", (rome(2026, 12, 28), rome(2027, 1, 4))),
        ("today until next week", (rome(2026, 12, 22), rome(2027, 1, 4))),
    ],
)
def test_range_forms_read_the_end_from_the_start(text, expected):
    """End weekdays, bare times and offsets count from the start; one whole-day phrase is that day."""
    assert parse_range(text, tz=ROME, now=NOW) == expected


def test_split_range_hands_back_the_trailing_note():
    """"/oncall cover friday 17:00 monday 09:00 dentist" leaves the note for the caller."""
    start, end, rest = split_range(["friday", "17:00", "monday", "09:00", "dentist", "run"], tz=ROME, now=NOW)
    assert (start, end, rest) == (rome(2026, 12, 25, 17), rome(2026, 12, 28, 9), ["dentist", "run"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("blah", "couldn't read “blah”"),
        ("2026-02-30", "not a calendar date"),
        ("25:00", "not a time of day"),
        ("13pm", "am/pm hours"),
        ("+99999999d", "too far ahead"),
        ("next friday", "couldn't read"),
        ("", "couldn't read"),
    ],
)
def test_bad_phrases_raise_a_readable_error(text, message):
    """Bad input is a WhenError (a ValueError) whose message tells the person what to type."""
    with pytest.raises(WhenError, match=message):
        parse_when(text, tz=ROME, now=NOW)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("friday 17:00", "not when it ends"),
        ("2026-12-24 2026-12-20", "not after the start"),
        ("2026-12-24 2026-12-26 oops", "not “oops”"),
        ("9999-12-31", "out of range"),
        ("", "Say when"),
    ],
)
def test_bad_ranges_raise_a_readable_error(text, message):
    """Missing ends, backwards ranges and leftovers are usage errors, not crashes."""
    with pytest.raises(WhenError, match=message):
        parse_range(text, tz=ROME, now=NOW)


def test_when_error_is_a_usage_error_with_the_accepted_forms():
    """The product's one error handler can answer a bad date with the usage text."""
    with pytest.raises(UsageError) as caught:
        parse_when("someday", tz=ROME, now=NOW)
    assert isinstance(caught.value, ValueError) and "next week" in caught.value.usage


def test_naive_now_is_rejected():
    """The caller must pass an aware `now`; a naive one is a programming error."""
    with pytest.raises(ValueError, match="aware"):
        parse_when("today", tz=ROME, now=datetime(2026, 12, 22, 10))


@PROPERTY
@given(st.timezones(), st.datetimes(datetime(2000, 1, 1), datetime(2060, 1, 1)))
def test_iso_local_time_round_trips_unless_it_falls_in_a_gap(tz, wall):
    """Typed wall time comes back as itself in the asker's zone, or moved forward if it does not exist."""
    wall = wall.replace(second=0, microsecond=0)
    result = parse_when(f"{wall:%Y-%m-%d %H:%M}", tz=tz, now=NOW)
    local = result.astimezone(tz).replace(tzinfo=None)
    assert result.tzinfo is UTC
    assert local == wall or timedelta(0) < local - wall <= timedelta(hours=24)
    assert result == local_to_utc(wall, tz)


@PROPERTY
@given(
    st.timezones(),
    st.datetimes(datetime(2020, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC)),
    st.sampled_from(["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]),
)
def test_weekday_is_the_next_such_local_day_that_has_not_passed(tz, now, name):
    """A weekday name is that day's local midnight within the coming week, never an earlier day."""
    result = parse_when(name, tz=tz, now=now)
    day = result.astimezone(tz).date()
    today = now.astimezone(tz).date()
    assert day.strftime("%A").lower() == name
    assert today <= day <= today + timedelta(days=6)


@PROPERTY
@given(
    st.timezones(),
    st.datetimes(datetime(2020, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC)),
    st.integers(0, 500),
)
def test_relative_hours_are_elapsed_time(tz, now, hours):
    """"+Nh" is exactly N hours after now in every zone, DST or not."""
    assert parse_when(f"+{hours}h", tz=tz, now=now) == now + timedelta(hours=hours)


@PROPERTY
@given(st.timezones(), st.datetimes(datetime(2020, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC)))
def test_today_range_contains_now_and_describe_names_the_zone(tz, now):
    """"today" is a range containing now, and the echo always shows the UTC time."""
    start, end = parse_range("today", tz=tz, now=now)
    assert start <= now < end
    assert describe_range(start, end, tz).count("UTC") >= 2
    assert date.fromisoformat(f"{start.astimezone(tz):%Y-%m-%d}") == now.astimezone(tz).date()
    assert start.astimezone(tz).time() in (time(0), time(1), time(0, 30))  # midnight, or just after a midnight jump
