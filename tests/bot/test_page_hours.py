from datetime import UTC, datetime

import pytest

from bot.page_hours import HourKind, classify_page_time


@pytest.mark.parametrize(
    ("utc", "tz", "expected"),
    [
        # Monday 2026-11-23 07:59 in Rome is still sleep; 08:00 is business.
        (datetime(2026, 11, 23, 6, 59, tzinfo=UTC), "Europe/Rome", HourKind.sleep),
        (datetime(2026, 11, 23, 7, 0, tzinfo=UTC), "Europe/Rome", HourKind.business),
        # 18:00 Monday Rome: off hours until 22:00.
        (datetime(2026, 11, 23, 17, 0, tzinfo=UTC), "Europe/Rome", HourKind.off),
        (datetime(2026, 11, 23, 21, 0, tzinfo=UTC), "Europe/Rome", HourKind.sleep),
        # Saturday noon is off hours, Saturday 23:00 sleep.
        (datetime(2026, 11, 28, 11, 0, tzinfo=UTC), "Europe/Rome", HourKind.off),
        # The same instant is business in New York and sleep in Sydney.
        (datetime(2026, 11, 23, 15, 0, tzinfo=UTC), "America/New_York", HourKind.business),
        (datetime(2026, 11, 23, 15, 0, tzinfo=UTC), "Australia/Sydney", HourKind.sleep),
        # Kolkata's half-hour offset: 02:30 UTC Monday is 08:00 IST.
        (datetime(2026, 11, 23, 2, 29, tzinfo=UTC), "Asia/Kolkata", HourKind.sleep),
        (datetime(2026, 11, 23, 2, 30, tzinfo=UTC), "Asia/Kolkata", HourKind.business),
    ],
)
def test_classifies_in_the_persons_own_zone(utc, tz, expected):
    assert classify_page_time(utc, tz) is expected


def test_follows_dst_both_ways():
    # 07:30 UTC is 08:30 CET (business) on Monday 2026-10-26, but 07:30 UTC on Friday 2026-10-23 was 09:30 CEST.
    assert classify_page_time(datetime(2026, 10, 26, 6, 30, tzinfo=UTC), "Europe/Rome") is HourKind.sleep
    assert classify_page_time(datetime(2026, 10, 23, 6, 30, tzinfo=UTC), "Europe/Rome") is HourKind.business
    # Spring forward in New York (2026-03-08): 12:30 UTC Monday 9th is 08:30 EDT, a week earlier 07:30 EST.
    assert classify_page_time(datetime(2026, 3, 9, 12, 30, tzinfo=UTC), "America/New_York") is HourKind.business
    assert classify_page_time(datetime(2026, 3, 2, 12, 30, tzinfo=UTC), "America/New_York") is HourKind.sleep


def test_rejects_naive_instants():
    with pytest.raises(ValueError, match="aware"):
        classify_page_time(datetime(2026, 11, 23, 9, 0), "Europe/Rome")
