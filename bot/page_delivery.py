"""How one page reaches one person: by DM or by a mention in the crisis channel (their App Home choice), now or,
for a SEV3 under a team's "hold-sev3" quiet-hours rule, when their quiet hours end. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.detector_tuning import QuietHours
from bot.home import MemberSettings, PageVia
from bot.spikes import Severity


@dataclass(frozen=True)
class Delivery:
    """`via` is how to reach the person; `hold_until` is set when the page waits for their quiet hours to end."""

    via: PageVia
    hold_until: datetime | None = None


def quiet_hours_end(settings: MemberSettings | None, *, zone: str, at: datetime) -> datetime | None:
    """Return when the person's quiet hours that contain `at` end (aware UTC), or None when `at` is outside them."""
    if at.tzinfo is None:
        raise ValueError("quiet_hours_end needs an aware datetime")
    if settings is None or settings.quiet_start is None or settings.quiet_end is None or settings.quiet_start == settings.quiet_end:
        return None
    tz = ZoneInfo(settings.tz or zone)
    local = at.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    start, end = settings.quiet_start, settings.quiet_end
    inside = start <= clock < end if start < end else (clock >= start or clock < end)
    if not inside:
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    return _wall_clock(day, end, tz)


def _wall_clock(day, clock: time, tz: ZoneInfo) -> datetime:
    """Return the UTC instant of `clock` on `day` in `tz`; a time in a spring-forward gap moves forward by the gap."""
    # fold=0 uses the offset in force before a transition: a gap time lands after the jump, a repeated time is the first.
    return datetime.combine(day, clock, tzinfo=tz).replace(fold=0).astimezone(UTC)


def plan_delivery(settings: MemberSettings | None, *, zone: str, severity: Severity, quiet_hours: QuietHours,
                  has_channel: bool, at: datetime) -> Delivery:
    """Decide how to page one person at `at` from their settings and the team's quiet-hours rule."""
    # Without a crisis channel a "mention me in the channel" preference cannot be honoured: DM rather than page nobody.
    via = settings.page_via if settings is not None and has_channel else PageVia.dm
    if quiet_hours is QuietHours.hold_sev3 and severity is Severity.SEV3:
        until = quiet_hours_end(settings, zone=zone, at=at)
        if until is not None:
            return Delivery(via=via, hold_until=until)
    return Delivery(via=via)
