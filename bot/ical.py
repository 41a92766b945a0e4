"""The final schedule as an iCalendar feed: one event per shift, role and backup in the description."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from bot.rotation import Shift


def build_feed(*, team_name: str, tz: str, shifts: list[Shift], now: datetime, for_user: str | None = None, names: dict[str, str] | None = None) -> bytes:
    """Return an .ics body; with `for_user`, only the shifts where that person is primary, backup or shadow."""
    names = names or {}
    calendar = Calendar()
    calendar.add("prodid", "-//socialops//on-call//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"On call: {team_name}")
    calendar.add("x-wr-timezone", tz)
    zone = ZoneInfo(tz)
    for shift in shifts:
        if shift.primary is None:
            continue
        roles = [] if for_user is None else [
            role for role, person in (("primary", shift.primary), ("backup", shift.backup), ("shadow", shift.shadow)) if person == for_user
        ]
        if for_user is not None and not roles:
            continue
        event = Event()
        # Stable UIDs let calendar apps update an event in place when the schedule changes.
        event.add("uid", f"{team_name}-{int(shift.start.timestamp())}-{shift.primary}@socialops")
        event.add("dtstamp", now)
        # Times carry the team zone (TZID + VTIMEZONE), so clients keep 09:00 local across DST.
        event.add("dtstart", shift.start.astimezone(zone))
        event.add("dtend", shift.end.astimezone(zone))
        who = names.get(shift.primary, shift.primary)
        event.add("summary", f"On call ({', '.join(roles)}): {team_name}" if roles else f"{team_name}: {who} on call")
        lines = [f"Primary: {names.get(shift.primary, shift.primary)}", f"Backup: {names.get(shift.backup, shift.backup) if shift.backup else 'nobody'}"]
        if shift.shadow:
            lines.append(f"Shadow: {names.get(shift.shadow, shift.shadow)}")
        lines.append(f"Why: {shift.reason.value}")
        event.add("description", "\n".join(lines))
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()
