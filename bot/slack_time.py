"""Times as Slack shows them: a date token every reader sees in their own zone, with a team-zone fallback."""

from datetime import datetime
from zoneinfo import ZoneInfo


def team_time(at: datetime, tz: str) -> str:
    """Return `at` in the team's zone with its abbreviation, e.g. 'Mon 23 Nov 09:00 CET'."""
    return at.astimezone(ZoneInfo(tz)).strftime("%a %d %b %H:%M %Z")


def slack_date(at: datetime, tz: str) -> str:
    """Return a Slack date token (reader's own zone) whose fallback is the time in the team zone."""
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{team_time(at, tz)}>"
