"""Rotation repository: teams, rosters, overrides and time off, loaded as domain objects."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import logging
import threading
import weakref
import time as time_module
from collections.abc import Callable
from dataclasses import asdict
from functools import wraps
from typing import Any, TypeVar

from sqlalchemy import update
from sqlmodel import col, select

from bot.errors import Conflict
from bot.offboarding import OffboardingTaskInfo
from bot.oncall import CoverRequestInfo, SwapRequestInfo, TeamInfo, TeamRotation, TimeOffInfo
from bot.team_setup import TeamForm, WindowForm
from bot.rotation import Layers, Member, Override, RegionalWindow, Role, RotationSpec, Swap, TimeOff, supported_countries
from storage.session import Database
from storage.tables import (
    MemberSettingRow,
    CoverRequest, OffboardingTask, OverrideRow, SwapRequest, Team, TeamAccount, TeamMember, TeamWindow, TimeOffRow,
)



# Rotations change rarely and /oncall answers must ack fast: loaded teams are kept this long. Writes
# through this process clear the cache at once; the TTL bounds staleness from other processes.
CACHE_SECONDS = 10.0
# An entry this old is still served, and reloaded in the background meanwhile: under steady traffic no
# request waits for the reload (milliseconds of queries that would hold up every ack queued behind it).
REFRESH_AFTER_SECONDS = 7.5

log = logging.getLogger(__name__)

_Method = TypeVar("_Method", bound=Callable[..., Any])


def _changes_rotations(method: _Method) -> _Method:
    """Mark a write that can change who is on call: the cache is cleared after it."""
    @wraps(method)
    def wrapper(self: Rotations, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        finally:
            self.forget_cached()
    return wrapper  # type: ignore[return-value]


class _Cache:
    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], tuple[float, Any]] = {}
        self.lock = threading.Lock()
        # Bumped by every clear: a load that began before a write must not be stored after it.
        self.generation = 0
        self.refreshing: set[tuple[str, str]] = set()


def _in_daemon_thread(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="rotations-cache-refresh", daemon=True).start()


# One cache per database, shared by every Rotations on it, so a write through any of them clears it.
_CACHES: weakref.WeakKeyDictionary[Database, _Cache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


class Rotations:
    def __init__(self, database: Database, *, monotonic: Callable[[], float] = time_module.monotonic,
                 refresh_in_background: Callable[[Callable[[], None]], object] = _in_daemon_thread) -> None:
        self._db = database
        self._monotonic = monotonic
        self._refresh_in_background = refresh_in_background
        with _CACHES_LOCK:
            self._shared = _CACHES.setdefault(database, _Cache())
        self._cache = self._shared.entries
        self._lock = self._shared.lock

    def forget_cached(self) -> None:
        with self._lock:
            self._cache.clear()
            self._shared.generation += 1

    def _cached(self, key: tuple[str, str], load: Callable[[], Any]) -> Any:
        now = self._monotonic()
        with self._lock:
            hit = self._cache.get(key)
            generation = self._shared.generation
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            if now - hit[0] >= REFRESH_AFTER_SECONDS:
                self._refresh(key, load)
            return hit[1]
        return self._store(key, load(), loaded_at=now, generation=generation)

    def _store(self, key: tuple[str, str], value: Any, *, loaded_at: float, generation: int) -> Any:
        """Cache `value` unless a write cleared the cache since its load began; return what callers should use.

        A reload equal to the cached value keeps the cached object: answers built from it and cached by
        identity (bot.oncall's who, the rendered acks in handlers.acks) stay valid across reloads.
        """
        with self._lock:
            if generation != self._shared.generation:
                return value
            hit = self._cache.get(key)
            if hit is not None and hit[1] == value:
                value = hit[1]
            self._cache[key] = (loaded_at, value)
        return value

    def _refresh(self, key: tuple[str, str], load: Callable[[], Any]) -> None:
        """Reload `key` in the background, once at a time; the cached entry serves until it expires."""
        with self._lock:
            if key in self._shared.refreshing:
                return
            self._shared.refreshing.add(key)
            generation = self._shared.generation
        started = self._monotonic()

        def reload() -> None:
            try:
                self._store(key, load(), loaded_at=started, generation=generation)
            except Exception:
                # The entry still expires on time; the first request after that loads it inline.
                log.warning("background reload of cached rotation data %s failed", key, exc_info=True)
            finally:
                with self._lock:
                    self._shared.refreshing.discard(key)

        try:
            self._refresh_in_background(reload)
        except RuntimeError:  # no new threads while the interpreter shuts down
            log.warning("could not start a background reload of %s", key, exc_info=True)
            with self._lock:
                self._shared.refreshing.discard(key)

    @_changes_rotations
    def create_team(self, *, workspace_id: str, name: str, tz: str, epoch: datetime, now: datetime,
                    roster: list[str], handoff_weekday: int = 0, handoff_at: str = "09:00", length_days: int = 7,
                    announce_channel: str | None = None, crisis_channel: str | None = None,
                    shadows: tuple[str, ...] = (), member_zones: dict[str, str] | None = None) -> int:
        """Store a team and its ordered roster; return its id."""
        zones = member_zones or {}
        with self._db.session_scope() as session:
            team = Team(workspace_id=workspace_id, name=name, tz=tz, epoch=epoch, handoff_weekday=handoff_weekday,
                        handoff_at=handoff_at, length_days=length_days, announce_channel=announce_channel,
                        crisis_channel=crisis_channel, created_at=now)
            session.add(team)
            session.flush()
            assert team.id is not None
            for position, user_id in enumerate(roster):
                session.add(TeamMember(team_id=team.id, user_id=user_id, position=position, tz=zones.get(user_id)))
            for position, user_id in enumerate(shadows, start=len(roster)):
                session.add(TeamMember(team_id=team.id, user_id=user_id, position=position, shadow=True, tz=zones.get(user_id)))
            return team.id

    @_changes_rotations
    def add_override(self, *, team_id: int, user_id: str, start: datetime, end: datetime, now: datetime,
                     created_by: str, role: str = "primary", replaces: str | None = None) -> int:
        with self._db.session_scope() as session:
            row = OverrideRow(team_id=team_id, user_id=user_id, role=role, start_at=start, end_at=end,
                              replaces=replaces, created_at=now, created_by=created_by)
            session.add(row)
            session.flush()
            assert row.id is not None
            return row.id

    @_changes_rotations
    def add_time_off(self, *, workspace_id: str, user_id: str, start: datetime, end: datetime, now: datetime, created_by: str) -> int:
        with self._db.session_scope() as session:
            # Away in the workspace that asked: a user of an Enterprise Grid org is still on duty in its other workspaces.
            row = TimeOffRow(workspace_id=workspace_id, user_id=user_id, start_at=start, end_at=end, created_at=now,
                             created_by=created_by)
            session.add(row)
            session.flush()
            assert row.id is not None
            return row.id

    def team_names(self, workspace_id: str) -> list[str]:
        def load() -> list[str]:
            with self._db.session_scope() as session:
                return list(session.exec(select(Team.name).where(Team.workspace_id == workspace_id).order_by(Team.name)))
        return list(self._cached(("names", workspace_id), load))

    def teams_of_user(self, workspace_id: str, user_id: str) -> list[str]:
        with self._db.session_scope() as session:
            query = (select(Team.name).join(TeamMember, col(TeamMember.team_id) == col(Team.id))
                     .where(Team.workspace_id == workspace_id, TeamMember.user_id == user_id).order_by(Team.name))
            return list(session.exec(query))

    def all_teams(self) -> list[TeamInfo]:
        """Return every team of every workspace (for scheduled jobs)."""
        with self._db.session_scope() as session:
            return [_info(team) for team in session.exec(select(Team).order_by(Team.id))]

    def load_rotation(self, workspace_id: str, name: str) -> TeamRotation | None:
        """Return the team's rules and layers, or None when there is no such team."""
        def load() -> TeamRotation | None:
            with self._db.session_scope() as session:
                team = session.exec(select(Team).where(Team.workspace_id == workspace_id, Team.name == name)).first()
                return None if team is None else self._load(session, team)
        return self._cached((workspace_id, name), load)

    def team_workspace(self, team_id: int) -> str | None:
        """Return the workspace a team belongs to (None once deleted): what a job acts for."""
        with self._db.session_scope() as session:
            return session.exec(select(Team.workspace_id).where(Team.id == team_id)).first()

    def load_rotation_by_id(self, team_id: int) -> TeamRotation | None:
        with self._db.session_scope() as session:
            team = session.get(Team, team_id)
            return None if team is None else self._load(session, team)

    @staticmethod
    def _load(session, team: Team) -> TeamRotation:  # noqa: ANN001 - a sqlmodel Session
        members = list(session.exec(select(TeamMember).where(TeamMember.team_id == team.id).order_by(TeamMember.position)))
        overrides = list(session.exec(select(OverrideRow).where(OverrideRow.team_id == team.id)))
        swaps = list(session.exec(select(SwapRequest).where(SwapRequest.team_id == team.id, SwapRequest.status == "accepted")))
        windows = list(session.exec(select(TeamWindow).where(TeamWindow.team_id == team.id).order_by(TeamWindow.position)))
        people = [m.user_id for m in members]
        time_off = list(session.exec(select(TimeOffRow).where(
            TimeOffRow.workspace_id == team.workspace_id, col(TimeOffRow.user_id).in_(people)))) if people else []
        # A person's own calendar (App Home), else the team's default; never guessed from their Slack language.
        chosen: dict[str, str] = {user: country for user, country in session.exec(
            select(MemberSettingRow.user_id, MemberSettingRow.holiday_country).where(
                MemberSettingRow.workspace_id == team.workspace_id, col(MemberSettingRow.user_id).in_(people),
                col(MemberSettingRow.holiday_country).is_not(None)))} if people else {}
        spec = RotationSpec(
            tz=ZoneInfo(team.tz),
            roster=tuple(m.user_id for m in members if not m.shadow),
            shadows=tuple(m.user_id for m in members if m.shadow),
            epoch=team.epoch,
            handoff_weekday=team.handoff_weekday,
            handoff_at=_clock(team.handoff_at),
            length=timedelta(days=team.length_days),
            members=tuple(Member(user_id=m.user_id, tz=m.tz or team.tz, country=_calendar(chosen.get(m.user_id) or team.holiday_country),
                                 paused=m.paused) for m in members),
            observe_holidays=team.observe_holidays,
            windows=tuple(RegionalWindow(w.name, ZoneInfo(w.tz), _clock(w.start), _clock(w.end), tuple(w.roster)) for w in windows),
        )
        layers = Layers(
            time_off=tuple(TimeOff(r.user_id, r.start_at, r.end_at) for r in time_off),
            overrides=tuple(Override(r.user_id, r.start_at, r.end_at, r.created_at, Role(r.role), r.replaces) for r in overrides),
            swaps=tuple(Swap(r.requester, r.requester_at, r.other, r.other_at) for r in swaps),
        )
        return TeamRotation(team=_info(team), spec=spec, layers=layers)


    # --- the write side used by the /oncall use cases ---

    @_changes_rotations
    def end_time_off(self, *, workspace_id: str, user_id: str, now: datetime) -> int:
        with self._db.session_scope() as session:
            rows = list(session.exec(select(TimeOffRow).where(TimeOffRow.workspace_id == workspace_id, TimeOffRow.user_id == user_id,
                                                              TimeOffRow.start_at <= now, TimeOffRow.end_at > now)))
            for row in rows:
                row.end_at = now
            return len(rows)

    def upcoming_time_off(self, *, workspace_id: str, user_id: str, now: datetime) -> list[TimeOffInfo]:
        """Return the person's time off in the workspace that has not ended by `now`, soonest first."""
        with self._db.session_scope() as session:
            rows = session.exec(select(TimeOffRow).where(TimeOffRow.workspace_id == workspace_id, TimeOffRow.user_id == user_id,
                                                         TimeOffRow.end_at > now)
                                .order_by(col(TimeOffRow.start_at), col(TimeOffRow.id)))
            return [TimeOffInfo(id=r.id, user_id=r.user_id, start=r.start_at, end=r.end_at) for r in rows]

    @_changes_rotations
    def cancel_time_off(self, *, workspace_id: str, time_off_id: int, user_id: str, now: datetime) -> TimeOffInfo | None:
        """Delete a future range, or end one in progress at `now`; None when it is not the person's (in this workspace) or is over."""
        with self._db.session_scope() as session:
            row = session.get(TimeOffRow, time_off_id)
            if row is None or row.workspace_id != workspace_id or row.user_id != user_id or row.end_at <= now:
                return None
            before = TimeOffInfo(id=time_off_id, user_id=row.user_id, start=row.start_at, end=row.end_at)
            if row.start_at >= now:
                session.delete(row)
            else:
                row.end_at = now
            return before

    @_changes_rotations
    def set_paused(self, *, workspace_id: str, user_id: str, paused: bool) -> list[str]:
        with self._db.session_scope() as session:
            query = (select(TeamMember, Team.name).join(Team, col(Team.id) == col(TeamMember.team_id))
                     .where(Team.workspace_id == workspace_id, TeamMember.user_id == user_id))
            names = []
            for member, name in session.exec(query):
                member.paused = paused
                names.append(name)
            return sorted(names)

    def create_cover_request(self, *, team_id: int, requester: str, start: datetime, end: datetime, note: str, now: datetime) -> int:
        with self._db.session_scope() as session:
            row = CoverRequest(team_id=team_id, requester=requester, start_at=start, end_at=end, note=note[:500], created_at=now)
            session.add(row)
            session.flush()
            assert row.id is not None
            return row.id

    def get_cover_request(self, request_id: int) -> CoverRequestInfo | None:
        with self._db.session_scope() as session:
            row = session.get(CoverRequest, request_id)
            if row is None:
                return None
            return _cover(row, _info(session.get_one(Team, row.team_id)))

    @_changes_rotations
    def take_cover_request(self, *, request_id: int, user_id: str, role: str, now: datetime) -> bool:
        """Claim an open request and create the override in one transaction; only one taker can win."""
        with self._db.session_scope() as session:
            claimed = session.exec(
                update(CoverRequest)
                .where(CoverRequest.id == request_id, CoverRequest.status == "open")
                .values(status="taken", taken_by=user_id, taken_at=now)
            )
            if claimed.rowcount != 1:
                return False
            request = session.get_one(CoverRequest, request_id)
            override = OverrideRow(team_id=request.team_id, user_id=user_id, role=role, start_at=request.start_at,
                                   end_at=request.end_at, replaces=request.requester, created_at=now, created_by=user_id)
            session.add(override)
            session.flush()
            request.override_id = override.id
            return True

    def set_cover_message(self, *, request_id: int, channel: str, ts: str) -> None:
        with self._db.session_scope() as session:
            row = session.get_one(CoverRequest, request_id)
            row.channel, row.message_ts = channel, ts

    def open_cover_requests(self, team_id: int) -> list[CoverRequestInfo]:
        with self._db.session_scope() as session:
            team = _info(session.get_one(Team, team_id))
            query = select(CoverRequest).where(CoverRequest.team_id == team_id, CoverRequest.status == "open").order_by(CoverRequest.start_at)
            return [_cover(row, team) for row in session.exec(query)]

    def create_swap_request(self, *, team_id: int, requester: str, requester_at: datetime, other: str, other_at: datetime, now: datetime) -> int:
        with self._db.session_scope() as session:
            row = SwapRequest(team_id=team_id, requester=requester, requester_at=requester_at, other=other, other_at=other_at, created_at=now)
            session.add(row)
            session.flush()
            assert row.id is not None
            return row.id

    def get_swap_request(self, swap_id: int) -> SwapRequestInfo | None:
        with self._db.session_scope() as session:
            row = session.get(SwapRequest, swap_id)
            if row is None:
                return None
            assert row.id is not None
            return SwapRequestInfo(id=row.id, team=_info(session.get_one(Team, row.team_id)), requester=row.requester,
                                   requester_at=row.requester_at, other=row.other, other_at=row.other_at, status=row.status)

    @_changes_rotations
    def decide_swap_request(self, *, swap_id: int, accept: bool, now: datetime) -> bool:
        with self._db.session_scope() as session:
            result = session.exec(
                update(SwapRequest).where(SwapRequest.id == swap_id, SwapRequest.status == "pending")
                .values(status="accepted" if accept else "declined", decided_at=now)
            )
            return result.rowcount == 1

    # --- setup ---

    def team_form(self, workspace_id: str, name: str) -> tuple[int, TeamForm] | None:
        """Return (team id, the setup form as stored) for editing."""
        with self._db.session_scope() as session:
            team = session.exec(select(Team).where(Team.workspace_id == workspace_id, Team.name == name)).first()
            if team is None or team.id is None:
                return None
            return team.id, _form(session, team)

    @_changes_rotations
    def save_team(self, *, workspace_id: str, team_id: int | None, form: TeamForm, epoch: datetime, now: datetime) -> tuple[int, dict | None]:
        """Create or update a team from the setup form; return (id, the form before as a dict or None)."""
        with self._db.session_scope() as session:
            clash = session.exec(select(Team).where(Team.workspace_id == workspace_id, Team.name == form.name)).first()
            if clash is not None and clash.id != team_id:
                raise Conflict(f"A team called {form.name!r} already exists.")
            team = session.get(Team, team_id) if team_id else None
            before = asdict(_form(session, team)) if team else None
            if team is None:
                team = Team(workspace_id=workspace_id, name=form.name, tz=form.tz, epoch=epoch, created_at=now)
                session.add(team)
            elif (team.tz, team.handoff_weekday, team.handoff_at, team.length_days) != (form.tz, form.handoff_weekday, form.handoff_at, form.length_days):
                team.epoch = epoch  # a new handoff rule restarts the count from its latest handoff
            team.name, team.tz, team.handoff_weekday, team.handoff_at = form.name, form.tz, form.handoff_weekday, form.handoff_at
            team.length_days, team.announce_channel, team.crisis_channel = form.length_days, form.announce_channel, form.crisis_channel
            team.usergroup_id, team.observe_holidays, team.holiday_country = form.usergroup_id, form.observe_holidays, form.holiday_country
            session.flush()
            assert team.id is not None
            old = {m.user_id: m for m in session.exec(select(TeamMember).where(TeamMember.team_id == team.id))}
            for member in old.values():
                session.delete(member)
            session.flush()
            for position, (user_id, shadow) in enumerate([(u, False) for u in form.roster] + [(u, True) for u in form.shadows]):
                kept = old.get(user_id)
                session.add(TeamMember(team_id=team.id, user_id=user_id, position=position, shadow=shadow,
                                       tz=kept.tz if kept else None, country=kept.country if kept else None, paused=kept.paused if kept else False))
            for window in session.exec(select(TeamWindow).where(TeamWindow.team_id == team.id)):
                session.delete(window)
            for position, window in enumerate(form.windows):
                session.add(TeamWindow(team_id=team.id, name=window.name, tz=window.tz, start=window.start, end=window.end,
                                       roster=list(window.roster), position=position))
            for account in session.exec(select(TeamAccount).where(TeamAccount.team_id == team.id)):
                session.delete(account)
            for account_name in form.accounts:
                session.add(TeamAccount(team_id=team.id, name=account_name[:120]))
            return team.id, before

    @_changes_rotations
    def set_member_profile(self, *, workspace_id: str, user_id: str, tz: str | None, country: str | None) -> int:
        """Record a member's own zone and holiday country (from Slack) in every team of the workspace."""
        with self._db.session_scope() as session:
            rows = list(session.exec(select(TeamMember).join(Team, col(Team.id) == col(TeamMember.team_id))
                                     .where(Team.workspace_id == workspace_id, TeamMember.user_id == user_id)))
            for member in rows:
                member.tz = tz or member.tz
                member.country = country or member.country
            return len(rows)

    # --- offboarding ---

    @_changes_rotations
    def remove_member_everywhere(self, *, workspace_id: str, user_id: str) -> list[tuple[int, str]]:
        """Delete the person from every roster of the workspace; return the (id, name) of those teams."""
        with self._db.session_scope() as session:
            rows = list(session.exec(select(TeamMember, Team).join(Team, col(Team.id) == col(TeamMember.team_id))
                                     .where(Team.workspace_id == workspace_id, TeamMember.user_id == user_id)))
            for member, _ in rows:
                session.delete(member)
            teams = [(team.id, team.name) for _, team in rows]
            for window in session.exec(select(TeamWindow).where(col(TeamWindow.team_id).in_([t for t, _ in teams]))):
                if user_id in window.roster:
                    window.roster = [u for u in window.roster if u != user_id]
            return [(team_id, name) for team_id, name in teams if team_id is not None]

    @_changes_rotations
    def cancel_requests_of(self, *, user_id: str, team_ids: list[int]) -> tuple[int, int]:
        with self._db.session_scope() as session:
            swaps = session.exec(update(SwapRequest).where(col(SwapRequest.team_id).in_(team_ids), col(SwapRequest.status).in_(["pending", "accepted"]),
                                                           (SwapRequest.requester == user_id) | (SwapRequest.other == user_id)).values(status="cancelled"))
            covers = session.exec(update(CoverRequest).where(col(CoverRequest.team_id).in_(team_ids), CoverRequest.status == "open",
                                                             CoverRequest.requester == user_id).values(status="cancelled"))
            return swaps.rowcount or 0, covers.rowcount or 0

    @_changes_rotations
    def delete_future_overrides_of(self, *, user_id: str, team_ids: list[int], now: datetime) -> int:
        """Drop overrides the person holds that have not ended; a running one is cut at `now`."""
        with self._db.session_scope() as session:
            count = 0
            for row in session.exec(select(OverrideRow).where(col(OverrideRow.team_id).in_(team_ids), OverrideRow.user_id == user_id, OverrideRow.end_at > now)):
                if row.start_at < now:
                    row.end_at = now
                else:
                    session.delete(row)
                count += 1
            return count

    def set_team_accounts(self, *, team_id: int, names: list[str]) -> None:
        with self._db.session_scope() as session:
            for row in session.exec(select(TeamAccount).where(TeamAccount.team_id == team_id)):
                session.delete(row)
            for name in names:
                session.add(TeamAccount(team_id=team_id, name=name[:120]))

    def team_accounts(self, team_id: int) -> list[str]:
        with self._db.session_scope() as session:
            return list(session.exec(select(TeamAccount.name).where(TeamAccount.team_id == team_id).order_by(TeamAccount.id)))

    def create_offboarding_tasks(self, *, workspace_id: str, user_id: str, team_ids: list[int], now: datetime) -> list[OffboardingTaskInfo]:
        with self._db.session_scope() as session:
            rows = []
            for team_id in team_ids:
                for name in session.exec(select(TeamAccount.name).where(TeamAccount.team_id == team_id).order_by(TeamAccount.id)):
                    row = OffboardingTask(workspace_id=workspace_id, user_id=user_id, team_id=team_id, item=name, created_at=now)
                    session.add(row)
                    rows.append(row)
            session.flush()
            return [_task(row, session.get_one(Team, row.team_id).name) for row in rows]

    def get_offboarding_task(self, task_id: int) -> OffboardingTaskInfo | None:
        with self._db.session_scope() as session:
            row = session.get(OffboardingTask, task_id)
            return None if row is None else _task(row, _team_name(session, row.team_id))

    def confirm_offboarding_task(self, *, task_id: int, user_id: str, now: datetime) -> bool:
        with self._db.session_scope() as session:
            result = session.exec(update(OffboardingTask).where(OffboardingTask.id == task_id, col(OffboardingTask.confirmed_by).is_(None))
                                  .values(confirmed_by=user_id, confirmed_at=now))
            return result.rowcount == 1

    def offboarding_tasks_of(self, *, workspace_id: str, user_id: str) -> list[OffboardingTaskInfo]:
        with self._db.session_scope() as session:
            rows = session.exec(select(OffboardingTask).where(OffboardingTask.workspace_id == workspace_id, OffboardingTask.user_id == user_id).order_by(OffboardingTask.id))
            return [_task(row, _team_name(session, row.team_id)) for row in rows]


def _calendar(country: str | None) -> str | None:
    # A stored code the holidays package no longer knows is dropped rather than failing the whole rotation load.
    return country if country in supported_countries() else None


def _form(session, team: Team) -> TeamForm:  # noqa: ANN001 - a sqlmodel Session
    members = list(session.exec(select(TeamMember).where(TeamMember.team_id == team.id).order_by(TeamMember.position)))
    windows = session.exec(select(TeamWindow).where(TeamWindow.team_id == team.id).order_by(TeamWindow.position))
    accounts = session.exec(select(TeamAccount.name).where(TeamAccount.team_id == team.id).order_by(TeamAccount.id))
    return TeamForm(
        name=team.name, tz=team.tz, handoff_weekday=team.handoff_weekday, handoff_at=team.handoff_at, length_days=team.length_days,
        roster=tuple(m.user_id for m in members if not m.shadow), shadows=tuple(m.user_id for m in members if m.shadow),
        announce_channel=team.announce_channel, crisis_channel=team.crisis_channel, usergroup_id=team.usergroup_id,
        observe_holidays=team.observe_holidays, holiday_country=team.holiday_country, windows=tuple(WindowForm(w.name, w.tz, w.start, w.end, tuple(w.roster)) for w in windows),
        accounts=tuple(accounts),
    )


def _team_name(session, team_id: int | None) -> str:  # noqa: ANN001 - a sqlmodel Session
    team = session.get(Team, team_id) if team_id is not None else None
    return team.name if team else "(deleted team)"


def _task(row: OffboardingTask, team_name: str) -> OffboardingTaskInfo:
    assert row.id is not None
    return OffboardingTaskInfo(id=row.id, workspace_id=row.workspace_id, user_id=row.user_id, team_name=team_name, item=row.item,
                               confirmed_by=row.confirmed_by, confirmed_at=row.confirmed_at)


def _info(team: Team) -> TeamInfo:
    assert team.id is not None
    return TeamInfo(id=team.id, name=team.name, tz=team.tz, announce_channel=team.announce_channel,
                    crisis_channel=team.crisis_channel, workspace_id=team.workspace_id, usergroup_id=team.usergroup_id)


def _cover(row: CoverRequest, team: TeamInfo) -> CoverRequestInfo:
    assert row.id is not None
    return CoverRequestInfo(id=row.id, team=team, requester=row.requester, start=row.start_at, end=row.end_at, note=row.note,
                            status=row.status, taken_by=row.taken_by, taken_at=row.taken_at, channel=row.channel, message_ts=row.message_ts)


def _clock(text: str) -> time:
    hour, minute = (int(part) for part in text.split(":"))
    return time(hour, minute)
