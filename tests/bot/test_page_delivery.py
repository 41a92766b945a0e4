"""How one page reaches one person (bot/page_delivery.py): page_via, quiet hours across midnight and DST, the SEV3 hold."""

from datetime import UTC, datetime, time

import pytest

from bot.detector_tuning import QuietHours
from bot.home import MemberSettings, PageVia
from bot.page_delivery import Delivery, plan_delivery, quiet_hours_end
from bot.spikes import Severity

NIGHTS = MemberSettings(tz="Europe/Rome", quiet_start=time(22, 0), quiet_end=time(7, 0))


def test_no_settings_means_a_dm_now():
    """A person who never opened their App Home is paged by DM at once."""
    assert plan_delivery(None, zone="UTC", severity=Severity.SEV3, quiet_hours=QuietHours.hold_sev3, has_channel=True,
                         at=datetime(2026, 1, 1, 3, tzinfo=UTC)) == Delivery(PageVia.dm)


def test_channel_preference_is_honoured_only_when_there_is_a_channel():
    """page_via=channel mentions them in the crisis channel; without one, a DM rather than no page."""
    settings = MemberSettings(page_via=PageVia.channel)
    at = datetime(2026, 1, 1, 12, tzinfo=UTC)
    common = dict(zone="UTC", severity=Severity.SEV2, quiet_hours=QuietHours.page, at=at)
    assert plan_delivery(settings, has_channel=True, **common).via is PageVia.channel
    assert plan_delivery(settings, has_channel=False, **common).via is PageVia.dm


@pytest.mark.parametrize(("utc", "end"), [
    (datetime(2026, 1, 15, 2, 0, tzinfo=UTC), datetime(2026, 1, 15, 6, 0, tzinfo=UTC)),  # 03:00 CET → 07:00 CET same day
    (datetime(2026, 1, 15, 22, 30, tzinfo=UTC), datetime(2026, 1, 16, 6, 0, tzinfo=UTC)),  # 23:30 CET → next morning
    (datetime(2026, 1, 15, 12, 0, tzinfo=UTC), None),  # 13:00 CET: not quiet
])
def test_quiet_hours_across_midnight_end_at_the_local_end_time(utc, end):
    """22:00–07:00 in Rome contains 03:00 and 23:30 local and ends at 07:00 local."""
    assert quiet_hours_end(NIGHTS, zone="UTC", at=utc) == end


def test_quiet_hours_end_keeps_wall_clock_time_across_spring_forward():
    """The night Rome moves to CEST (29 Mar 2026), quiet hours still end at 07:00 local, now 05:00 UTC."""
    assert quiet_hours_end(NIGHTS, zone="UTC", at=datetime(2026, 3, 28, 23, 30, tzinfo=UTC)) == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)


def test_quiet_hours_end_keeps_wall_clock_time_across_fall_back():
    """The night Rome returns to CET (25 Oct 2026), quiet hours end at 07:00 local, now 06:00 UTC."""
    assert quiet_hours_end(NIGHTS, zone="UTC", at=datetime(2026, 10, 24, 23, 30, tzinfo=UTC)) == datetime(2026, 10, 25, 6, 0, tzinfo=UTC)


def test_the_persons_zone_is_used_when_their_settings_name_none():
    """Quiet hours without an explicit zone are read in the zone the caller passes (Slack's or the team's)."""
    settings = MemberSettings(quiet_start=time(1, 0), quiet_end=time(6, 0))
    at = datetime(2026, 1, 15, 7, 0, tzinfo=UTC)  # 02:00 in New York
    assert quiet_hours_end(settings, zone="America/New_York", at=at) == datetime(2026, 1, 15, 11, 0, tzinfo=UTC)
    assert quiet_hours_end(settings, zone="UTC", at=at) is None


@pytest.mark.parametrize("severity", [Severity.SEV1, Severity.SEV2])
def test_hold_rule_never_delays_sev1_or_sev2(severity):
    """Under hold-sev3, SEV1 and SEV2 page at once even in quiet hours."""
    at = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
    assert plan_delivery(NIGHTS, zone="UTC", severity=severity, quiet_hours=QuietHours.hold_sev3, has_channel=True, at=at).hold_until is None


def test_sev3_in_quiet_hours_is_held_only_under_the_hold_rule():
    """The default "page anyway" pages at 03:00; hold-sev3 waits until 07:00 local."""
    at = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
    assert plan_delivery(NIGHTS, zone="UTC", severity=Severity.SEV3, quiet_hours=QuietHours.page, has_channel=True, at=at).hold_until is None
    held = plan_delivery(NIGHTS, zone="UTC", severity=Severity.SEV3, quiet_hours=QuietHours.hold_sev3, has_channel=True, at=at)
    assert held == Delivery(PageVia.dm, hold_until=datetime(2026, 1, 15, 6, 0, tzinfo=UTC))
