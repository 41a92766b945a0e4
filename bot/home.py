"""What a member's App Home shows: on call now, their shifts, crises, cover they could take, stats, settings.

Pure: computed from small ports (rotations, open crises, member settings); handlers/app_home.py renders it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.audit import AuditRecord
from bot.burnout import PageRecord, count_sleep_pages
from bot.errors import UsageError
from bot.oncall import Audit, CoverRequestInfo, TeamInfo, TeamRotation
from bot.rotation import Role, ScheduleIndex, Shift, UserShift, supported_countries
from bot.rotation_messages import TeamHealth, team_health

STATS_DAYS = 30
MY_SHIFTS = 5


class PageVia(StrEnum):
    """How a member wants to be paged."""

    dm = "dm"
    channel = "channel"  # an @-mention in the team's crisis channel


@dataclass(frozen=True)
class MemberSettings:
    """A member's own preferences; `tz` None means "use my Slack time zone"."""

    tz: str | None = None
    quiet_start: time | None = None  # wall-clock in `tz`; both set or both None
    quiet_end: time | None = None
    page_via: PageVia = PageVia.dm
    holiday_country: str | None = None  # public-holiday calendar (ISO code); None: the team's default


class SettingsStore(Protocol):
    def settings_of(self, workspace_id: str, user_id: str) -> MemberSettings | None: ...
    def save_settings(self, *, workspace_id: str, user_id: str, settings: MemberSettings, now: datetime) -> None: ...


class HomeRotations(Protocol):
    """The rotation reads the Home needs (storage/rotations.py implements them)."""

    def team_names(self, workspace_id: str) -> list[str]: ...
    def teams_of_user(self, workspace_id: str, user_id: str) -> list[str]: ...
    def load_rotation(self, workspace_id: str, name: str) -> TeamRotation | None: ...
    def open_cover_requests(self, team_id: int) -> list[CoverRequestInfo]: ...


@dataclass(frozen=True)
class CrisisButton:
    label: str
    action_id: str
    value: str
    style: str | None = None  # "primary" | "danger" | None


@dataclass(frozen=True)
class HomeCrisis:
    """An open crisis as the Home lists it; the crisis store decides which buttons this member gets."""

    id: int
    title: str
    severity: str
    status: str
    started_at: datetime
    team: str = ""
    channel: str | None = None
    buttons: tuple[CrisisButton, ...] = ()


class PageHistory(Protocol):
    """Delivered pages per team (storage/burnout.py implements it)."""

    def pages(self, *, team_id: int, since: datetime, until: datetime) -> list[PageRecord]: ...


class OpenCrises(Protocol):
    """Open crises visible to a member (storage/crises.py will implement it)."""

    def open_crises_for(self, workspace_id: str, user_id: str) -> list[HomeCrisis]: ...


class NoCrises:
    """The crisis port until a crisis store exists: nothing is open."""

    def open_crises_for(self, workspace_id: str, user_id: str) -> list[HomeCrisis]:
        return []


@dataclass(frozen=True)
class TeamNow:
    team: TeamInfo
    now: Shift


@dataclass(frozen=True)
class HomeStats:
    """A member's on-call load over the last `days` days, from the final schedule."""

    days: int
    shifts: int
    primary_hours: float
    backup_hours: float
    pages: int | None = None  # None: no page history to count from
    sleep_pages: int | None = None  # of those, pages in the member's own sleep hours (22:00-08:00)


@dataclass(frozen=True)
class HomeContent:
    user_id: str
    now: datetime
    teams: list[TeamNow]
    my_shifts: list[tuple[TeamInfo, UserShift]]
    crises: list[HomeCrisis]
    covers: list[CoverRequestInfo]
    stats: HomeStats
    settings: MemberSettings
    slack_tz: str
    is_admin: bool
    health: list[TeamHealth] = field(default_factory=list)


def load_stats(rotations: list[TeamRotation], user_id: str, *, now: datetime, days: int = STATS_DAYS) -> HomeStats:
    """Count `user_id`'s shifts (contiguous stretches in one role) and hours per role over the last `days` days."""
    start = now - timedelta(days=days)
    shifts, hours = 0, {Role.PRIMARY: 0.0, Role.BACKUP: 0.0}
    for rotation in rotations:
        previous: tuple[datetime, Role] | None = None
        for shift in ScheduleIndex(rotation.spec, rotation.layers).final_schedule(start, now):
            role = Role.PRIMARY if shift.primary == user_id else Role.BACKUP if shift.backup == user_id else None
            if role is None:
                continue
            hours[role] += (shift.end - shift.start).total_seconds() / 3600
            # The final schedule splits a week whenever the other person changes; that is still one shift.
            if previous != (shift.start, role):
                shifts += 1
            previous = (shift.end, role)
    return HomeStats(days=days, shifts=shifts, primary_hours=hours[Role.PRIMARY], backup_hours=hours[Role.BACKUP])


def count_pages(history: PageHistory, rotations: list[TeamRotation], user_id: str, *, tz: str, now: datetime,
                days: int = STATS_DAYS) -> tuple[int, int]:
    """Return (pages, pages in their sleep hours) that reached `user_id` from their teams over the last `days` days."""
    since = now - timedelta(days=days)
    pages = [p for r in rotations for p in history.pages(team_id=r.team.id, since=since, until=now)]
    return sum(1 for p in pages if p.user_id == user_id), count_sleep_pages(pages, user_id, tz, since, now)


def home_content(rotations: HomeRotations, crises: OpenCrises, settings: SettingsStore, *, workspace_id: str, user_id: str,
                 is_admin: bool, slack_tz: str, now: datetime, pages: PageHistory | None = None) -> HomeContent:
    """Return everything `user_id`'s Home shows at `now`."""
    mine = [r for name in rotations.teams_of_user(workspace_id, user_id) if (r := rotations.load_rotation(workspace_id, name))]
    indexes = [(r, ScheduleIndex(r.spec, r.layers)) for r in mine]
    shifts = sorted(((r.team, s) for r, index in indexes for s in index.next_shifts(user_id, now, MY_SHIFTS)), key=lambda pair: pair[1].start)
    covers = [c for r in mine for c in rotations.open_cover_requests(r.team.id) if c.requester != user_id and c.end > now]
    health: list[TeamHealth] = []
    if is_admin:
        # Admins are workspace-wide, so they see every team's gaps; no Slack lookups here (the daily check does those).
        for name in rotations.team_names(workspace_id):
            rotation = rotations.load_rotation(workspace_id, name)
            if rotation is not None:
                found = team_health(ScheduleIndex(rotation.spec, rotation.layers), rotation.team, {}, now=now)
                if not found.ok:
                    health.append(found)
    chosen = settings.settings_of(workspace_id, user_id) or MemberSettings()
    stats = load_stats(mine, user_id, now=now)
    if pages is not None:
        total, asleep = count_pages(pages, mine, user_id, tz=chosen.tz or slack_tz, now=now)
        stats = replace(stats, pages=total, sleep_pages=asleep)
    return HomeContent(
        user_id=user_id, now=now,
        teams=[TeamNow(r.team, index.who_is_on_call(now)) for r, index in indexes],
        my_shifts=shifts[:MY_SHIFTS],
        crises=crises.open_crises_for(workspace_id, user_id),
        covers=sorted(covers, key=lambda c: c.start),
        stats=stats,
        settings=chosen,
        slack_tz=slack_tz, is_admin=is_admin, health=health,
    )


class SettingsField(StrEnum):
    """What one Home control changes."""

    tz = "tz"
    quiet_start = "quiet_start"
    quiet_end = "quiet_end"
    quiet_off = "quiet_off"
    page_via = "page_via"
    holiday_country = "holiday_country"


TEAM_CALENDAR = "team"  # the holiday-calendar choice "use my team's default"
DEFAULT_QUIET = (time(22, 0), time(8, 0))  # PagerDuty's sleep hours
SLACK_ZONE = "slack"  # the time-zone choice "use the zone my Slack profile says"


def _clock(value: str) -> time:
    try:
        parsed = time.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{value!r} is not a time like 22:00.") from None
    return parsed.replace(second=0, microsecond=0)


def apply_change(current: MemberSettings, what: SettingsField, value: str) -> MemberSettings:
    """Return `current` with one control's new value applied; refuse values no control offers."""
    if what is SettingsField.tz:
        if value == SLACK_ZONE:
            return replace(current, tz=None)
        if value:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise UsageError(f"{value!r} is not a time zone.") from None
        return replace(current, tz=value or None)
    if what is SettingsField.holiday_country:
        if value in ("", TEAM_CALENDAR):
            return replace(current, holiday_country=None)
        if value.upper() not in supported_countries():
            raise UsageError(f"{value!r} is not a public-holiday calendar I know (use an ISO country code such as IT).")
        return replace(current, holiday_country=value.upper())
    if what is SettingsField.quiet_off:
        return replace(current, quiet_start=None, quiet_end=None)
    if what in (SettingsField.quiet_start, SettingsField.quiet_end):
        at = _clock(value)
        # Setting one end of an unset range fills the other with the default, so the range is never half set.
        start = at if what is SettingsField.quiet_start else current.quiet_start or DEFAULT_QUIET[0]
        end = at if what is SettingsField.quiet_end else current.quiet_end or DEFAULT_QUIET[1]
        if start == end:
            raise UsageError("Quiet hours need different start and end times.")
        return replace(current, quiet_start=start, quiet_end=end)
    try:
        return replace(current, page_via=PageVia(value))
    except ValueError:
        raise UsageError(f"Pages come by {' or '.join(PageVia)}, not {value!r}.") from None


def _as_dict(settings: MemberSettings) -> dict[str, str | None]:
    return {"tz": settings.tz, "quiet_start": settings.quiet_start.strftime("%H:%M") if settings.quiet_start else None,
            "quiet_end": settings.quiet_end.strftime("%H:%M") if settings.quiet_end else None, "page_via": settings.page_via.value,
            "holiday_country": settings.holiday_country}


def change_settings(store: SettingsStore, audit: Audit, *, workspace_id: str, user_id: str, what: SettingsField, value: str,
                    now: datetime, via: str) -> MemberSettings:
    """Change one of the member's own settings, record it, and return the settings now in force."""
    before = store.settings_of(workspace_id, user_id) or MemberSettings()
    after = apply_change(before, what, value)
    if after != before:
        store.save_settings(workspace_id=workspace_id, user_id=user_id, settings=after, now=now)
        audit.record(AuditRecord(at=now, actor=user_id, action="settings_changed", via=via, target=f"user:{user_id}",
                                 team_id=workspace_id, before=_as_dict(before), after=_as_dict(after)))
    return after


class OpenCrisisList(Protocol):
    def list_crises(self, *, workspace_id: str, open_only: bool, limit: int = 20) -> list[Any]: ...


class CrisesOnHome:
    """Open crises of the workspace as the Home lists them, with Acknowledge until someone has."""

    def __init__(self, store: OpenCrisisList, *, ack_action: str, responding_action: str) -> None:
        self._store = store
        self._ack = ack_action
        self._responding = responding_action

    def open_crises_for(self, workspace_id: str, user_id: str) -> list[HomeCrisis]:
        result = []
        for crisis in self._store.list_crises(workspace_id=workspace_id, open_only=True):
            buttons = [] if crisis.acked_by else [CrisisButton("Acknowledge", self._ack, str(crisis.id), "primary")]
            if user_id not in crisis.responders:
                buttons.append(CrisisButton("I'm responding", self._responding, str(crisis.id)))
            result.append(HomeCrisis(id=crisis.id, title=crisis.title, severity=crisis.severity.label, status=str(crisis.status),
                                     started_at=crisis.opened_at, team=crisis.team_name, channel=crisis.channel, buttons=tuple(buttons)))
        return result
