"""The setup form is checked field by field, and a new rotation starts at its latest handoff (DST-safe)."""

from datetime import UTC, datetime

import pytest

from bot.team_setup import FormErrors, latest_start, read_form

GOOD = {"name": "brand-eu", "tz": "Europe/Rome", "handoff_weekday": "0", "handoff_at": "09:00", "length_days": "7",
        "roster": ["U0A1", "U0A2"], "shadows": ["U0A2", "U0A3"], "windows": "Europe 07:00-19:00 Europe/Rome <@U0A1> U0A2\n\nAmericas 7:00-19:00 America/New_York @U0A3",
        "accounts": "Instagram @acme\n\n Sprout Social "}


def test_a_good_form_is_read_with_windows_and_accounts():
    """Windows parse with their people; shadows already in the roster are dropped; blank lines ignored."""
    form = read_form(GOOD)
    assert form.roster == ("U0A1", "U0A2") and form.shadows == ("U0A3",)
    assert [(w.name, w.start, w.roster) for w in form.windows] == [("Europe", "07:00", ("U0A1", "U0A2")), ("Americas", "07:00", ("U0A3",))]
    assert form.accounts == ("Instagram @acme", "Sprout Social")


def test_every_bad_field_is_reported_at_once():
    """Errors come back keyed by field so the modal can show each next to its input."""
    with pytest.raises(FormErrors) as caught:
        read_form(GOOD | {"name": "Brand EU!", "tz": "Nowhere/City", "handoff_at": "9am", "length_days": "0", "roster": [], "windows": "nonsense"})
    assert set(caught.value.errors) == {"name", "tz", "handoff_at", "length_days", "roster", "windows"}


@pytest.mark.parametrize(("now", "expected"), [
    # Weekly, Monday 09:00 Rome: the Monday before, whether or not DST changed in between.
    (datetime(2026, 3, 31, 12, 0, tzinfo=UTC), datetime(2026, 3, 30, 7, 0, tzinfo=UTC)),   # after spring-forward: 09:00 CEST
    (datetime(2026, 3, 30, 6, 59, tzinfo=UTC), datetime(2026, 3, 23, 8, 0, tzinfo=UTC)),   # just before the first CEST handoff
    (datetime(2026, 10, 26, 8, 0, tzinfo=UTC), datetime(2026, 10, 26, 8, 0, tzinfo=UTC)),  # exactly at a handoff after fall-back
])
def test_a_new_weekly_rotation_starts_at_the_latest_handoff(now, expected):
    """The epoch is the last Monday 09:00 local at or before now, in UTC."""
    assert latest_start(read_form(GOOD), now) == expected


def test_a_daily_rotation_starts_today_or_yesterday():
    """Daily at 09:00 New York: before 09:00 local it is yesterday's."""
    form = read_form(GOOD | {"tz": "America/New_York", "length_days": "1"})
    assert latest_start(form, datetime(2026, 11, 23, 13, 0, tzinfo=UTC)) == datetime(2026, 11, 22, 14, 0, tzinfo=UTC)
    assert latest_start(form, datetime(2026, 11, 23, 15, 0, tzinfo=UTC)) == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(("given", "kept"), [("it", "IT"), (" US ", "US"), ("", None)])
def test_the_team_holiday_calendar_is_an_iso_code(given, kept):
    """The setup form's team calendar is upper-cased; empty means none."""
    assert read_form(GOOD | {"holiday_country": given}).holiday_country == kept


def test_an_unknown_team_holiday_calendar_is_a_form_error():
    """A code the holidays package has no calendar for is refused next to the field."""
    with pytest.raises(FormErrors) as raised:
        read_form(GOOD | {"holiday_country": "ZZ"})
    assert "holiday_country" in raised.value.errors
