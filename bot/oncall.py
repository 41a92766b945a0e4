"""Rotation use cases behind `/oncall`: who is on call, the coming schedule, my shifts.

Takes its store as an argument (a Protocol declared here); storage/rotations.py implements it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.errors import NotFound, UsageError
from bot.rotation import Layers, RotationSpec, ScheduleIndex, Shift, UserShift

MAX_SCHEDULE_WEEKS = 12


@dataclass(frozen=True)
class TeamInfo:
    id: int
    name: str
    tz: str
    announce_channel: str | None = None
    crisis_channel: str | None = None
    workspace_id: str = ""
    usergroup_id: str | None = None


@dataclass(frozen=True)
class TeamRotation:
    team: TeamInfo
    spec: RotationSpec
    layers: Layers


class RotationStore(Protocol):
    def team_names(self, workspace_id: str) -> list[str]: ...
    def load_rotation(self, workspace_id: str, name: str) -> TeamRotation | None: ...
    def teams_of_user(self, workspace_id: str, user_id: str) -> list[str]: ...


@dataclass(frozen=True)
class WhoAnswer:
    team: TeamInfo
    now: Shift
    next: Shift | None


@dataclass(frozen=True)
class ScheduleAnswer:
    team: TeamInfo
    shifts: list[Shift]
    weeks: int


@dataclass(frozen=True)
class MyShifts:
    user_id: str
    shifts: list[tuple[TeamInfo, UserShift]]


def pick_team(store: RotationStore, workspace_id: str, name: str | None) -> TeamRotation:
    """Return the named team, or the only team when no name is given; explain the choice otherwise."""
    names = store.team_names(workspace_id)
    if not names:
        raise NotFound("No on-call team is set up yet. An admin can create one with `/oncall setup`.")
    if name is None:
        if len(names) > 1:
            raise UsageError("Which team?", usage="This workspace has several teams: " + ", ".join(names) + ". Add one, e.g. `/oncall who " + names[0] + "`.")
        name = names[0]
    rotation = store.load_rotation(workspace_id, name)
    if rotation is None:
        raise NotFound(f"There is no team called {name!r}. Teams: {', '.join(names)}.")
    return rotation


def who(store: RotationStore, *, workspace_id: str, team: str | None, now: datetime) -> WhoAnswer:
    """Return who is primary/backup/shadow now, until when, and who comes next."""
    rotation = pick_team(store, workspace_id, team)
    index = ScheduleIndex(rotation.spec, rotation.layers)
    current = index.who_is_on_call(now)
    following = index.who_is_on_call(current.end) if current.end > now else None
    return WhoAnswer(team=rotation.team, now=current, next=following)


def schedule(store: RotationStore, *, workspace_id: str, team: str | None, weeks: int, now: datetime) -> ScheduleAnswer:
    """Return the final schedule from now for `weeks` weeks."""
    if not 1 <= weeks <= MAX_SCHEDULE_WEEKS:
        raise UsageError(f"Weeks must be between 1 and {MAX_SCHEDULE_WEEKS}.", usage="Usage: `/oncall schedule [team] [weeks]`")
    rotation = pick_team(store, workspace_id, team)
    shifts = ScheduleIndex(rotation.spec, rotation.layers).final_schedule(now, now + timedelta(weeks=weeks))
    return ScheduleAnswer(team=rotation.team, shifts=shifts, weeks=weeks)


def my_shifts(store: RotationStore, *, workspace_id: str, user_id: str, now: datetime, limit: int = 5) -> MyShifts:
    """Return `user_id`'s next shifts across all their teams, soonest first."""
    found: list[tuple[TeamInfo, UserShift]] = []
    for name in store.teams_of_user(workspace_id, user_id):
        rotation = store.load_rotation(workspace_id, name)
        if rotation is None:
            continue
        found += [(rotation.team, s) for s in ScheduleIndex(rotation.spec, rotation.layers).next_shifts(user_id, now, limit)]
    found.sort(key=lambda pair: pair[1].start)
    return MyShifts(user_id=user_id, shifts=found[:limit])
