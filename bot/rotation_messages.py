"""Automatic rotation messages: which announcements, shift reminders and user-group syncs are due, and health findings.

Pure decisions over a ScheduleIndex. An event's key is also its job ID, ledger run key and outbox dedupe key,
so however often the planner sees an event, it happens once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.burnout import RebalanceProposal
from bot.oncall import TeamInfo
from bot.rotation import RotationSpec, Role, ScheduleIndex, Shift

_TICK = timedelta(microseconds=1)
# An announcement posted later than this after its handoff (a long outage) would be news nobody needs.
ANNOUNCE_LATE_LIMIT = timedelta(hours=24)
# "You're on call now" is still worth sending this long after the shift began, if the bot was down.
ON_CALL_NOW_LATE_LIMIT = timedelta(hours=12)
DAY_AHEAD_LATE_CUTOFF = timedelta(hours=12)  # a day-ahead DM is not sent once the shift is this close
COMING_DAYS = timedelta(days=7)
HEALTH_HORIZON = timedelta(days=14)
# Slack's answers to usergroups.users.update that mean "this workspace or token cannot do user groups".
USERGROUP_NOT_ALLOWED = frozenset({"plan_upgrade_required", "missing_scope", "permission_denied", "not_allowed_token_type"})


class RotationEventKind(StrEnum):
    ANNOUNCE = "announce"
    REMIND_24H = "remind24"
    REMIND_1H = "remind1"
    ON_CALL_NOW = "oncallnow"
    USERGROUP = "usergroup"


REMINDER_LEADS: dict[RotationEventKind, timedelta] = {
    RotationEventKind.REMIND_24H: timedelta(hours=24),
    RotationEventKind.REMIND_1H: timedelta(hours=1),
    RotationEventKind.ON_CALL_NOW: timedelta(0),
}


@dataclass(frozen=True)
class Holders:
    """Who holds each role at one instant."""

    primary: str | None
    backup: str | None
    shadow: str | None

    @classmethod
    def of(cls, shift: Shift) -> Holders:
        """Return the people of a final-schedule stretch."""
        return cls(shift.primary, shift.backup, shift.shadow)

    def pageable(self) -> list[str]:
        """Return primary then backup (the user group's members), without blanks or repeats."""
        return list(dict.fromkeys(u for u in (self.primary, self.backup) if u))


@dataclass(frozen=True)
class PlannedEvent:
    """One automatic message (or user-group sync) about the change of people at `change_at`."""

    kind: RotationEventKind
    team_id: int
    change_at: datetime  # the handoff or role start it is about (UTC)
    at: datetime  # when to act
    expires_at: datetime  # after this the event is stale and is dropped, not sent late
    user_id: str | None = None
    role: Role | None = None

    @property
    def key(self) -> str:
        """Return the job ID / ledger run key / outbox dedupe key of this event."""
        return event_key(self.kind, team_id=self.team_id, change_at=self.change_at, user_id=self.user_id, role=self.role)


@dataclass(frozen=True)
class EventKey:
    kind: RotationEventKind
    team_id: int
    change_at: datetime
    user_id: str | None = None
    role: Role | None = None


def event_key(kind: RotationEventKind, *, team_id: int, change_at: datetime, user_id: str | None = None, role: Role | None = None) -> str:
    """Return the deterministic key, e.g. 'remind1:7:U123:primary:20261130T080000Z' (no colons in the instant)."""
    stamp = change_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    if user_id is None:
        return f"{kind.value}:{team_id}:{stamp}"
    return f"{kind.value}:{team_id}:{user_id}:{role.value if role else ''}:{stamp}"


def parse_event_key(key: str) -> EventKey:
    """Return the parts of a key made by `event_key`; ValueError for anything else."""
    parts = key.split(":")
    if len(parts) not in (3, 5):
        raise ValueError(f"not a rotation event key: {key!r}")
    kind, team_id, stamp = RotationEventKind(parts[0]), int(parts[1]), parts[-1]
    change_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if len(parts) == 3:
        return EventKey(kind, team_id, change_at)
    return EventKey(kind, team_id, change_at, parts[2], Role(parts[3]) if parts[3] else None)


def people_at(index: ScheduleIndex, at: datetime) -> Holders:
    """Return who is primary, backup and shadow at `at`."""
    return Holders.of(index.who_is_on_call(at))


def announcement_needed(previous: Holders, current: Holders) -> bool:
    """Return whether a handoff changed the effective people (after overrides, swaps and time off)."""
    return previous != current


def planned_events(index: ScheduleIndex, team: TeamInfo, window_start: datetime, window_end: datetime) -> list[PlannedEvent]:
    """Return the events whose acting instant falls in [window_start, window_end), soonest first."""
    events = _announcements(index, team, window_start, window_end)
    longest_lead = max(REMINDER_LEADS.values())
    shifts = index.final_schedule(window_start - _TICK, window_end + longest_lead)
    for i in range(1, len(shifts)):
        before, after = shifts[i - 1], shifts[i]
        at = after.start
        if team.usergroup_id and window_start <= at < window_end and Holders.of(before).pageable() != Holders.of(after).pageable():
            events.append(PlannedEvent(RotationEventKind.USERGROUP, team.id, at, at, at + timedelta(days=1)))
        for role in (Role.PRIMARY, Role.BACKUP):
            user = _holder(after, role)
            if user is None or user == _holder(before, role):
                continue
            end = role_end(index, user, role, at, known=shifts[i:])
            for kind, lead in REMINDER_LEADS.items():
                when = at - lead
                if window_start <= when < window_end:
                    events.append(PlannedEvent(kind, team.id, at, when, _reminder_expiry(kind, at, end), user, role))
    return sorted(events, key=lambda e: (e.at, e.key))


def _announcements(index: ScheduleIndex, team: TeamInfo, window_start: datetime, window_end: datetime) -> list[PlannedEvent]:
    if not team.announce_channel:
        return []
    found = []
    for handoff in index.handoffs(window_start, window_end):
        if announcement_needed(people_at(index, handoff - _TICK), people_at(index, handoff)):
            following = index.handoffs(handoff + _TICK, handoff + index.spec.length * 2)[:1]
            expires = min([handoff + ANNOUNCE_LATE_LIMIT, *following])
            found.append(PlannedEvent(RotationEventKind.ANNOUNCE, team.id, handoff, handoff, expires))
    return found


def _reminder_expiry(kind: RotationEventKind, start: datetime, end: datetime) -> datetime:
    if kind is RotationEventKind.ON_CALL_NOW:
        return min(end, start + ON_CALL_NOW_LATE_LIMIT)
    if kind is RotationEventKind.REMIND_24H:
        # Sent more than 12 h late (an outage, a late override) it would land just before the one-hour reminder.
        return start - DAY_AHEAD_LATE_CUTOFF
    return start


def _holder(shift: Shift, role: Role) -> str | None:
    return shift.primary if role is Role.PRIMARY else shift.backup


def role_end(index: ScheduleIndex, user_id: str, role: Role, start: datetime, *, known: Sequence[Shift] = ()) -> datetime:
    """Return when `user_id` stops holding `role` after taking it at `start` (within a year)."""
    shifts, cursor = list(known), start
    while True:
        for shift in shifts:
            if shift.end <= cursor:
                continue
            if _holder(shift, role) != user_id:
                return max(shift.start, cursor)
            cursor = shift.end
        if cursor >= start + timedelta(days=366):
            return cursor
        shifts = index.final_schedule(cursor, cursor + timedelta(days=28))


def find_event(index: ScheduleIndex, team: TeamInfo, key: str) -> PlannedEvent | None:
    """Return the event `key` names if the schedule still plans it (overrides may have moved it since)."""
    parsed = parse_event_key(key)
    at = parsed.change_at - REMINDER_LEADS.get(parsed.kind, timedelta(0))
    return next((e for e in planned_events(index, team, at, at + _TICK) if e.key == key), None)


@dataclass(frozen=True)
class UsergroupState:
    """The team's user group as the bot last set it, and whether syncing is off for it."""

    usergroup_id: str
    synced_users: tuple[str, ...] = ()
    disabled_error: str | None = None


def usergroup_update(team: TeamInfo, state: UsergroupState | None, current: Holders) -> list[str] | None:
    """Return the user group's new entire membership, or None when there is nothing to (or no way to) change."""
    if not team.usergroup_id:
        return None
    same_group = state is not None and state.usergroup_id == team.usergroup_id
    if same_group and state.disabled_error:
        return None
    wanted = current.pageable()
    # Slack refuses an empty membership (no_users_provided); during a gap the group keeps its last people.
    if not wanted or (same_group and list(state.synced_users) == wanted):
        return None
    return wanted


# --- what the messages say ------------------------------------------------------------------------


class OpenCrisis(Protocol):
    """What an announcement shows of a crisis still open at a handoff."""

    @property
    def title(self) -> str: ...


class OpenCoverRequest(Protocol):
    """What an announcement shows of a cover request nobody has taken yet (bot.oncall.CoverRequestInfo fits)."""

    @property
    def requester(self) -> str: ...
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def note(self) -> str: ...


class AnnouncedCrises(Protocol):
    def open_crises(self, team_id: int) -> Sequence[OpenCrisis]: ...


class OpenCoverRequests(Protocol):
    def open_cover_requests(self, team_id: int) -> Sequence[OpenCoverRequest]: ...


class NothingOpen:
    """Stands in for a store that does not exist yet: no open crises, no open cover requests."""

    def open_crises(self, team_id: int) -> list[OpenCrisis]:
        return []

    def open_cover_requests(self, team_id: int) -> list[OpenCoverRequest]:
        return []


@dataclass(frozen=True)
class Announcement:
    team: TeamInfo
    handoff: datetime
    outgoing: Holders
    incoming: Holders
    coming: list[Shift]  # the final schedule for the week from the handoff
    crises: list[OpenCrisis] = field(default_factory=list)
    cover_requests: list[OpenCoverRequest] = field(default_factory=list)
    rebalance: RebalanceProposal | None = None  # the burnout guard's load check and proposed moves


def compose_announcement(index: ScheduleIndex, team: TeamInfo, handoff: datetime, *,
                         crises: Iterable[OpenCrisis] = (), cover_requests: Iterable[OpenCoverRequest] = (),
                         now: datetime, rebalance: RebalanceProposal | None = None) -> Announcement:
    """Return the handoff announcement: who hands over to whom, the week ahead, what is carried over."""
    return Announcement(
        team=team, handoff=handoff, outgoing=people_at(index, handoff - _TICK), incoming=people_at(index, handoff),
        coming=index.final_schedule(handoff, handoff + COMING_DAYS), crises=list(crises),
        cover_requests=[c for c in cover_requests if c.end > now], rebalance=rebalance,
    )


@dataclass(frozen=True)
class ShiftReminder:
    kind: RotationEventKind
    team: TeamInfo
    user_id: str
    role: Role
    start: datetime
    end: datetime
    partner: str | None  # the backup for a primary, the primary for a backup
    now: datetime


def compose_reminder(index: ScheduleIndex, team: TeamInfo, event: PlannedEvent, *, now: datetime) -> ShiftReminder:
    """Return the DM content facts for a 24 h / 1 h / on-call-now event."""
    assert event.user_id is not None and event.role is not None
    people = people_at(index, event.change_at)
    partner = people.backup if event.role is Role.PRIMARY else people.primary
    end = role_end(index, event.user_id, event.role, event.change_at)
    return ShiftReminder(event.kind, team, event.user_id, event.role, event.change_at, end, partner, now)


# --- health check -----------------------------------------------------------------------------------


class MemberState(StrEnum):
    OK = "ok"
    DEACTIVATED = "deactivated"
    LEFT = "left"  # users.info answers user_not_found
    CANNOT_DM = "cannot_dm"
    UNKNOWN = "unknown"  # Slack did not answer; say nothing rather than raise a false alarm


@dataclass(frozen=True)
class MemberCheck:
    state: MemberState
    detail: str = ""  # Slack's error code for CANNOT_DM


@dataclass(frozen=True)
class TeamHealth:
    team: TeamInfo
    gaps: list[Shift]  # nobody primary
    no_backup: list[Shift]  # a primary alone
    problems: dict[str, MemberCheck]  # user -> what is wrong
    holiday_worked: list[Shift] = field(default_factory=list)  # someone kept on call through their public holiday

    @property
    def ok(self) -> bool:
        """Return whether there is nothing to tell the admins."""
        return not (self.gaps or self.no_backup or self.problems or self.holiday_worked)


def scheduled_people(spec: RotationSpec) -> list[str]:
    """Return everyone a rotation may page or notify: roster, regional rosters and shadows, in order, once each."""
    people = [*spec.roster, *(u for w in spec.windows for u in w.roster), *spec.shadows]
    return list(dict.fromkeys(people))


def team_health(index: ScheduleIndex, team: TeamInfo, checks: dict[str, MemberCheck], *, now: datetime) -> TeamHealth:
    """Return the gaps of the next 14 days and the members Slack says are gone or unreachable."""
    shifts = index.final_schedule(now, now + HEALTH_HORIZON)
    return TeamHealth(
        team=team,
        gaps=[s for s in shifts if s.primary is None],
        no_backup=merged_gaps([s for s in shifts if s.primary is not None and s.backup is None]),
        problems={u: c for u in scheduled_people(index.spec) if (c := checks.get(u)) and c.state not in (MemberState.OK, MemberState.UNKNOWN)},
        holiday_worked=_merged_holiday_work([s for s in shifts if s.holiday_workers]),
    )


def _merged_holiday_work(shifts: list[Shift]) -> list[Shift]:
    """Join touching stretches with the same people working a holiday, so each holiday is reported once."""
    out: list[Shift] = []
    for s in shifts:
        if out and out[-1].end == s.start and out[-1].holiday_workers == s.holiday_workers:
            out[-1] = replace(out[-1], end=s.end)
        else:
            out.append(s)
    return out


def merged_gaps(shifts: list[Shift]) -> list[Shift]:
    """Join touching stretches (they differ only in who holds a role) so a report lists each hole once."""
    out: list[Shift] = []
    for s in shifts:
        if out and out[-1].end == s.start:
            out[-1] = Shift(out[-1].start, s.end, None, None, None, s.reason, s.window)
        else:
            out.append(s)
    return out
