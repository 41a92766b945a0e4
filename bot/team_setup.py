"""The `/oncall setup` form: reading and checking what an admin typed, before anything is stored."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.rotation import HandoffRule, next_handoff, supported_countries
from bot.when import local_to_utc

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_WINDOW = re.compile(r"^(\S+)\s+(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s+(\S+)\s+(.+)$")
_USER = re.compile(r"<?@?([UW][A-Z0-9]{2,})(?:\|[^>]*)?>?")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class WindowForm:
    name: str
    tz: str
    start: str
    end: str
    roster: tuple[str, ...]


@dataclass(frozen=True)
class TeamForm:
    name: str
    tz: str
    handoff_weekday: int
    handoff_at: str
    length_days: int
    roster: tuple[str, ...]
    shadows: tuple[str, ...] = ()
    announce_channel: str | None = None
    crisis_channel: str | None = None
    usergroup_id: str | None = None
    observe_holidays: bool = False
    holiday_country: str | None = None  # the default calendar for members who have not chosen their own
    windows: tuple[WindowForm, ...] = ()
    accounts: tuple[str, ...] = ()


class FormErrors(Exception):
    """Problems keyed by the form field (block id) they belong to."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _zone_ok(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def parse_clock(text: str) -> time | None:
    match = _HHMM.match(text.strip())
    return time(int(match.group(1)), int(match.group(2))) if match else None


def read_form(values: dict[str, object]) -> TeamForm:
    """Return the checked form, or raise FormErrors naming every bad field at once."""
    errors: dict[str, str] = {}
    name = str(values.get("name") or "").strip().lower()
    if not _NAME.match(name):
        errors["name"] = "Use 1–40 lowercase letters, digits, - or _ (e.g. brand-eu)."
    tz = str(values.get("tz") or "").strip()
    if not _zone_ok(tz):
        errors["tz"] = "Use an IANA time zone such as Europe/Rome or America/New_York."
    weekday_text = str(values.get("handoff_weekday") or "0")
    weekday = int(weekday_text) if weekday_text.isdigit() and int(weekday_text) < 7 else -1
    if weekday < 0:
        errors["handoff_weekday"] = "Pick a weekday."
    handoff_at = str(values.get("handoff_at") or "09:00").strip()
    clock = parse_clock(handoff_at)
    if clock is None:
        errors["handoff_at"] = "Use 24-hour HH:MM, e.g. 09:00."
    length_text = str(values.get("length_days") or "7").strip()
    length = int(length_text) if length_text.isdigit() else 0
    if not 1 <= length <= 28:
        errors["length_days"] = "A rotation lasts 1 to 28 days (7 is weekly)."
    roster = tuple(dict.fromkeys(values.get("roster") or []))  # type: ignore[arg-type]
    if not roster:
        errors["roster"] = "Pick at least one person; two or more so nobody is on call alone."
    shadows = tuple(u for u in dict.fromkeys(values.get("shadows") or []) if u not in roster)  # type: ignore[arg-type]
    windows = []
    for number, line in enumerate(str(values.get("windows") or "").splitlines(), start=1):
        if not line.strip():
            continue
        match = _WINDOW.match(line.strip())
        if match is None or parse_clock(match.group(2)) is None or parse_clock(match.group(3)) is None or not _zone_ok(match.group(4)):
            errors["windows"] = f"Line {number}: write `Europe 07:00-19:00 Europe/Rome @ana @ben`."
            continue
        people = tuple(_USER.findall(match.group(5)))
        if not people:
            errors["windows"] = f"Line {number}: name the people of the {match.group(1)} window with @mentions or user IDs."
            continue
        windows.append(WindowForm(match.group(1), match.group(4), match.group(2).zfill(5), match.group(3).zfill(5), people))
    accounts = tuple(line.strip() for line in str(values.get("accounts") or "").splitlines() if line.strip())
    holiday_country = (_text_or_none(values.get("holiday_country")) or "").upper() or None
    if holiday_country is not None and holiday_country not in supported_countries():
        errors["holiday_country"] = "Use an ISO country code with a holiday calendar, e.g. IT, US, GB."
    if errors:
        raise FormErrors(errors)
    return TeamForm(
        name=name, tz=tz, handoff_weekday=weekday, handoff_at=f"{clock:%H:%M}" if clock else handoff_at, length_days=length,
        roster=roster, shadows=shadows, announce_channel=_text_or_none(values.get("announce_channel")),
        crisis_channel=_text_or_none(values.get("crisis_channel")), usergroup_id=_text_or_none(values.get("usergroup_id")),
        observe_holidays=bool(values.get("observe_holidays")), holiday_country=holiday_country, windows=tuple(windows), accounts=accounts,
    )


def _text_or_none(value: object) -> str | None:
    text = str(value or "").strip()
    return text or None


def latest_start(form: TeamForm, now: datetime) -> datetime:
    """Return the latest handoff at or before `now` under the form's rule: the new rotation's epoch."""
    zone = ZoneInfo(form.tz)
    clock = parse_clock(form.handoff_at)
    assert clock is not None, "read_form checked the handoff time"
    if form.length_days % 7 == 0:
        rule = HandoffRule(form.handoff_weekday, clock, zone)
        start = next_handoff(rule, now - timedelta(days=7))
        # Across a DST change two handoffs can be 7 days ± 1 hour apart.
        return start if start <= now else next_handoff(rule, now - timedelta(days=8))
    today = now.astimezone(zone).date()
    for day in (today, today - timedelta(days=1)):
        start = local_to_utc(datetime.combine(day, clock), zone)
        if start <= now:
            return start
    return local_to_utc(datetime.combine(today - timedelta(days=2), clock), zone)


class TeamSetupStore(Protocol):
    def team_form(self, workspace_id: str, name: str) -> tuple[int, TeamForm] | None: ...
    def save_team(self, *, workspace_id: str, team_id: int | None, form: TeamForm, epoch: datetime, now: datetime) -> tuple[int, dict | None]: ...
    def set_member_profile(self, *, workspace_id: str, user_id: str, tz: str | None, country: str | None) -> int: ...

