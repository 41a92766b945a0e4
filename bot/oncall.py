"""Rotation use cases behind `/oncall`: who is on call, the coming schedule, my shifts.

Takes its store as an argument (a Protocol declared here); storage/rotations.py implements it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.audit import AuditRecord
from bot.errors import Conflict, NotAllowed, NotFound, UsageError
from bot.rotation import Layers, RotationSpec, ScheduleIndex, Shift, UserShift

# A year ahead; the answer itself stays within Block Kit's limits (bot/blocks/oncall.py says where to go on).
MAX_SCHEDULE_WEEKS = 52


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
    def load_rotation_by_id(self, team_id: int) -> TeamRotation | None: ...
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
    start: datetime | None = None  # None: from now


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
    return _who_cache.get(rotation, now) or _who_cache.put(rotation, now, _compute_who(rotation, now))


def _compute_who(rotation: TeamRotation, now: datetime) -> WhoAnswer:
    index = ScheduleIndex(rotation.spec, rotation.layers)
    current = index.who_is_on_call(now)
    following = index.who_is_on_call(current.end) if current.end > now else None
    return WhoAnswer(team=rotation.team, now=current, next=following)


class _WhoCache:
    """The answer holds until the current stretch ends, for the same loaded rotation (a change loads a new one)."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[TeamRotation, WhoAnswer]] = {}
        self._lock = threading.Lock()

    def get(self, rotation: TeamRotation, now: datetime) -> WhoAnswer | None:
        with self._lock:
            entry = self._entries.get(rotation.team.id)
        # Identity, not equality: comparing two rotations field by field costs more than recomputing.
        if entry is not None and entry[0] is rotation and entry[1].now.start <= now < entry[1].now.end:
            return entry[1]
        return None

    def put(self, rotation: TeamRotation, now: datetime, answer: WhoAnswer) -> WhoAnswer:
        with self._lock:
            self._entries[rotation.team.id] = (rotation, answer)
        return answer


_who_cache = _WhoCache()


def schedule(store: RotationStore, *, workspace_id: str, team: str | None, weeks: int, now: datetime,
             start: datetime | None = None) -> ScheduleAnswer:
    """Return the final schedule for `weeks` weeks from `start` (default: now)."""
    if not 1 <= weeks <= MAX_SCHEDULE_WEEKS:
        raise UsageError(f"Weeks must be between 1 and {MAX_SCHEDULE_WEEKS}.", usage="Usage: `/oncall schedule [team] [from <date>] [weeks]`")
    rotation = pick_team(store, workspace_id, team)
    begin = now if start is None else start
    shifts = ScheduleIndex(rotation.spec, rotation.layers).final_schedule(begin, begin + timedelta(weeks=weeks))
    return ScheduleAnswer(team=rotation.team, shifts=shifts, weeks=weeks, start=start)


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


# --- changes: cover requests, overrides, time off, pauses, swaps ---------------------------------


@dataclass(frozen=True)
class CoverRequestInfo:
    id: int
    team: TeamInfo
    requester: str
    start: datetime
    end: datetime
    note: str
    status: str  # open, taken, cancelled
    taken_by: str | None = None
    taken_at: datetime | None = None
    channel: str | None = None
    message_ts: str | None = None


@dataclass(frozen=True)
class SwapRequestInfo:
    id: int
    team: TeamInfo
    requester: str
    requester_at: datetime
    other: str
    other_at: datetime
    status: str


@dataclass(frozen=True)
class TimeOffInfo:
    id: int
    user_id: str
    start: datetime
    end: datetime


class RotationWriter(RotationStore, Protocol):
    """The write side of the rotation store; storage/rotations.py implements both."""

    def add_override(self, *, team_id: int, user_id: str, start: datetime, end: datetime, now: datetime,
                     created_by: str, role: str = "primary", replaces: str | None = None) -> int: ...
    def add_time_off(self, *, workspace_id: str, user_id: str, start: datetime, end: datetime, now: datetime, created_by: str) -> int: ...
    def end_time_off(self, *, workspace_id: str, user_id: str, now: datetime) -> int: ...
    def upcoming_time_off(self, *, workspace_id: str, user_id: str, now: datetime) -> list[TimeOffInfo]: ...
    def cancel_time_off(self, *, workspace_id: str, time_off_id: int, user_id: str, now: datetime) -> TimeOffInfo | None: ...
    def set_paused(self, *, workspace_id: str, user_id: str, paused: bool) -> list[str]: ...
    def create_cover_request(self, *, team_id: int, requester: str, start: datetime, end: datetime, note: str, now: datetime) -> int: ...
    def get_cover_request(self, request_id: int) -> CoverRequestInfo | None: ...
    def take_cover_request(self, *, request_id: int, user_id: str, role: str, now: datetime) -> bool: ...
    def set_cover_message(self, *, request_id: int, channel: str, ts: str) -> None: ...
    def open_cover_requests(self, team_id: int) -> list[CoverRequestInfo]: ...
    def create_swap_request(self, *, team_id: int, requester: str, requester_at: datetime, other: str, other_at: datetime, now: datetime) -> int: ...
    def get_swap_request(self, swap_id: int) -> SwapRequestInfo | None: ...
    def decide_swap_request(self, *, swap_id: int, accept: bool, now: datetime) -> bool: ...


class Audit(Protocol):
    def record(self, entry: AuditRecord) -> None: ...


def _team_of(store: RotationStore, workspace_id: str, team: str | None, user_id: str) -> TeamRotation:
    """Return the named team, else the asker's only team, else the workspace's only team."""
    if team is None:
        mine = store.teams_of_user(workspace_id, user_id)
        if len(mine) == 1:
            team = mine[0]
    return pick_team(store, workspace_id, team)


def _require_future_range(start: datetime, end: datetime, now: datetime) -> None:
    if end <= start:
        raise UsageError("The end must be after the start.")
    if end <= now:
        raise UsageError("That range is already over.")


def role_during(index: ScheduleIndex, user_id: str, start: datetime, end: datetime) -> str | None:
    """Return 'primary' or 'backup' if `user_id` holds that role at some point in [start, end)."""
    shifts = index.final_schedule(start, end)
    if any(s.primary == user_id for s in shifts):
        return "primary"
    if any(s.backup == user_id for s in shifts):
        return "backup"
    return None


def request_cover(store: RotationWriter, audit: Audit, *, workspace_id: str, team: str | None, user_id: str,
                  start: datetime, end: datetime, note: str, now: datetime, via: str) -> CoverRequestInfo:
    """Open a cover request for the asker's own on-call time in [start, end)."""
    _require_future_range(start, end, now)
    rotation = _team_of(store, workspace_id, team, user_id)
    if role_during(ScheduleIndex(rotation.spec, rotation.layers), user_id, max(start, now), end) is None:
        raise UsageError("You are not on call in that range, so there is nothing to cover.",
                         usage="See your shifts with `/oncall me`.")
    request_id = store.create_cover_request(team_id=rotation.team.id, requester=user_id, start=max(start, now), end=end, note=note, now=now)
    audit.record(AuditRecord(at=now, actor=user_id, action="cover_requested", via=via, target=f"cover:{request_id}",
                             team_id=workspace_id, after={"team": rotation.team.name, "start": max(start, now).isoformat(), "end": end.isoformat(), "note": note}))
    info = store.get_cover_request(request_id)
    assert info is not None
    return info


def take_cover(store: RotationWriter, audit: Audit, *, request_id: int, user_id: str, now: datetime, via: str) -> CoverRequestInfo:
    """Give the cover to the first person who presses Take; everyone after is told who got it."""
    request = store.get_cover_request(request_id)
    if request is None:
        raise NotFound("That cover request no longer exists.")
    if request.requester == user_id:
        raise Conflict("This is your own cover request; someone else has to take it.")
    if request.status != "open":
        raise Conflict(_closed_cover_text(request))
    if request.end <= now:
        raise Conflict("That cover request has already ended.")
    rotation = store.load_rotation_by_id(request.team.id)
    role = "primary"
    if rotation is not None:
        role = role_during(ScheduleIndex(rotation.spec, rotation.layers), request.requester, max(request.start, now), request.end) or "primary"
    if not store.take_cover_request(request_id=request_id, user_id=user_id, role=role, now=now):
        latest = store.get_cover_request(request_id)
        raise Conflict(_closed_cover_text(latest) if latest else "That cover request no longer exists.")
    taken = store.get_cover_request(request_id)
    assert taken is not None
    audit.record(AuditRecord(at=now, actor=user_id, action="cover_taken", via=via, target=f"cover:{request_id}",
                             team_id=request.team.workspace_id, before={"status": "open"},
                             after={"status": "taken", "taken_by": user_id, "role": role}))
    return taken


def _closed_cover_text(request: CoverRequestInfo) -> str:
    if request.status == "taken" and request.taken_by:
        return f"Already taken by <@{request.taken_by}>."
    return f"That cover request is {request.status}."


def add_override(store: RotationWriter, audit: Audit, *, actor: str, workspace_id: str, team: str | None, user_id: str,
                 start: datetime, end: datetime, now: datetime, via: str) -> TeamInfo:
    """Make `user_id` primary over [start, end) (admins only; the caller checks)."""
    _require_future_range(start, end, now)
    rotation = _team_of(store, workspace_id, team, user_id)
    override_id = store.add_override(team_id=rotation.team.id, user_id=user_id, start=start, end=end, now=now, created_by=actor)
    audit.record(AuditRecord(at=now, actor=actor, action="override_added", via=via, target=f"override:{override_id}",
                             team_id=workspace_id, after={"team": rotation.team.name, "user": user_id, "start": start.isoformat(), "end": end.isoformat()}))
    return rotation.team


def go_away(store: RotationWriter, audit: Audit, *, user_id: str, workspace_id: str, start: datetime, end: datetime, now: datetime, via: str) -> int:
    """Record time off: every team of the workspace skips the person over [start, end); return its id."""
    _require_future_range(start, end, now)
    time_off_id = store.add_time_off(workspace_id=workspace_id, user_id=user_id, start=start, end=end, now=now, created_by=user_id)
    audit.record(AuditRecord(at=now, actor=user_id, action="time_off_added", via=via, target=f"time_off:{time_off_id}",
                             team_id=workspace_id, after={"start": start.isoformat(), "end": end.isoformat()}))
    return time_off_id


def come_back(store: RotationWriter, audit: Audit, *, user_id: str, workspace_id: str, now: datetime, via: str) -> int:
    """End the time off the person is on now; return how many ranges were cut short."""
    ended = store.end_time_off(workspace_id=workspace_id, user_id=user_id, now=now)
    if ended:
        audit.record(AuditRecord(at=now, actor=user_id, action="time_off_ended", via=via, target=f"user:{user_id}",
                                 team_id=workspace_id, after={"ended_at": now.isoformat(), "ranges": ended}))
    return ended


def my_time_off(store: RotationWriter, *, user_id: str, workspace_id: str, now: datetime) -> list[TimeOffInfo]:
    """Return the person's booked time off in this workspace that has not ended, soonest first."""
    return store.upcoming_time_off(workspace_id=workspace_id, user_id=user_id, now=now)


def cancel_time_off(store: RotationWriter, audit: Audit, *, user_id: str, workspace_id: str, time_off_id: int,
                    now: datetime, via: str) -> TimeOffInfo:
    """Cancel one of the person's own ranges: a future one is removed, one in progress ends now (audited)."""
    before = store.cancel_time_off(workspace_id=workspace_id, time_off_id=time_off_id, user_id=user_id, now=now)
    if before is None:
        raise NotFound(f"You have no time off #{time_off_id} that is still to come; `/oncall away list` shows yours.")
    started = before.start < now
    audit.record(AuditRecord(at=now, actor=user_id, action="time_off_cancelled", via=via, target=f"time_off:{time_off_id}",
                             team_id=workspace_id, before={"start": before.start.isoformat(), "end": before.end.isoformat()},
                             after={"start": before.start.isoformat(), "end": now.isoformat()} if started else None))
    return before


def set_paused(store: RotationWriter, audit: Audit, *, actor: str, workspace_id: str, user_id: str, paused: bool, now: datetime, via: str) -> list[str]:
    """Pause or resume a member in every team they belong to; return those teams."""
    teams = store.set_paused(workspace_id=workspace_id, user_id=user_id, paused=paused)
    if not teams:
        raise NotFound(f"<@{user_id}> is in no on-call team.")
    audit.record(AuditRecord(at=now, actor=actor, action="member_paused" if paused else "member_resumed", via=via,
                             target=f"user:{user_id}", team_id=workspace_id, before={"paused": not paused}, after={"paused": paused, "teams": teams}))
    return teams


def request_swap(store: RotationWriter, audit: Audit, *, workspace_id: str, team: str | None, requester: str, other: str,
                 other_at: datetime, now: datetime, via: str, other_day_end: datetime | None = None) -> SwapRequestInfo:
    """Ask `other` to take the requester's next primary shift in exchange for theirs at `other_at`.

    With `other_day_end` (a date-only phrase), [other_at, other_day_end) is a whole day and `other`'s shift is the one
    holding most of it, so "2026-12-28" means the Monday shift from 09:00, not local midnight of the week before.
    """
    if other == requester:
        raise UsageError("Swap with someone else.", usage="Usage: `/oncall swap @other <date>`")
    rotation = _team_of(store, workspace_id, team, requester)
    index = ScheduleIndex(rotation.spec, rotation.layers)
    if other_day_end is not None:
        other_at = _their_shift_on_day(index, other, other_at, other_day_end)
    theirs = index.who_is_on_call(other_at)
    if theirs.primary != other:
        raise UsageError(f"<@{other}> is not primary then; pick a date inside one of their shifts (`/oncall schedule`).")
    mine = next((s for s in index.next_shifts(requester, now, 10) if s.role.value == "primary"), None)
    if mine is None:
        raise UsageError("You have no upcoming primary shift to swap.", usage="See your shifts with `/oncall me`.")
    mine_at = max(mine.start, now)
    swap_id = store.create_swap_request(team_id=rotation.team.id, requester=requester, requester_at=mine_at, other=other, other_at=other_at, now=now)
    audit.record(AuditRecord(at=now, actor=requester, action="swap_requested", via=via, target=f"swap:{swap_id}", team_id=workspace_id,
                             after={"team": rotation.team.name, "other": other, "requester_at": mine_at.isoformat(), "other_at": other_at.isoformat()}))
    info = store.get_swap_request(swap_id)
    assert info is not None
    return info


def _their_shift_on_day(index: ScheduleIndex, user_id: str, day_start: datetime, day_end: datetime) -> datetime:
    """Return an instant in `user_id`'s primary stretch holding most of [day_start, day_end); day_start if none."""
    theirs = [s for s in index.final_schedule(day_start, day_end) if s.primary == user_id]
    if not theirs:
        return day_start
    longest = max(theirs, key=lambda s: s.end - s.start)
    return longest.start


def decide_swap(store: RotationWriter, audit: Audit, *, swap_id: int, user_id: str, accept: bool, now: datetime, via: str) -> SwapRequestInfo:
    """Accept or decline a swap; only the person asked may decide, once."""
    swap = store.get_swap_request(swap_id)
    if swap is None:
        raise NotFound("That swap request no longer exists.")
    if swap.other != user_id:
        raise NotAllowed(f"Only <@{swap.other}> can answer this swap request.")
    if swap.status != "pending" or not store.decide_swap_request(swap_id=swap_id, accept=accept, now=now):
        raise Conflict(f"This swap request was already {swap.status}.")
    audit.record(AuditRecord(at=now, actor=user_id, action="swap_accepted" if accept else "swap_declined", via=via,
                             target=f"swap:{swap_id}", team_id=swap.team.workspace_id, before={"status": "pending"},
                             after={"status": "accepted" if accept else "declined"}))
    decided = store.get_swap_request(swap_id)
    assert decided is not None
    return decided
