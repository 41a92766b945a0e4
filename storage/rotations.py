"""Rotation repository: teams, rosters, overrides and time off, loaded as domain objects."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from bot.oncall import TeamInfo, TeamRotation
from bot.rotation import Layers, Member, Override, Role, RotationSpec, TimeOff
from storage.session import Database
from storage.tables import OverrideRow, Team, TeamMember, TimeOffRow



class Rotations:
    def __init__(self, database: Database) -> None:
        self._db = database

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

    def add_override(self, *, team_id: int, user_id: str, start: datetime, end: datetime, now: datetime,
                     created_by: str, role: str = "primary", replaces: str | None = None) -> int:
        with self._db.session_scope() as session:
            row = OverrideRow(team_id=team_id, user_id=user_id, role=role, start_at=start, end_at=end,
                              replaces=replaces, created_at=now, created_by=created_by)
            session.add(row)
            session.flush()
            assert row.id is not None
            return row.id

    def add_time_off(self, *, user_id: str, start: datetime, end: datetime, now: datetime, created_by: str) -> int:
        with self._db.session_scope() as session:
            row = TimeOffRow(user_id=user_id, start_at=start, end_at=end, created_at=now, created_by=created_by)
            session.add(row)
            session.flush()
            assert row.id is not None
            return row.id

    def team_names(self, workspace_id: str) -> list[str]:
        with self._db.session_scope() as session:
            return list(session.exec(select(Team.name).where(Team.workspace_id == workspace_id).order_by(Team.name)))

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
        with self._db.session_scope() as session:
            team = session.exec(select(Team).where(Team.workspace_id == workspace_id, Team.name == name)).first()
            return None if team is None else self._load(session, team)

    def load_rotation_by_id(self, team_id: int) -> TeamRotation | None:
        with self._db.session_scope() as session:
            team = session.get(Team, team_id)
            return None if team is None else self._load(session, team)

    @staticmethod
    def _load(session, team: Team) -> TeamRotation:  # noqa: ANN001 - a sqlmodel Session
        members = list(session.exec(select(TeamMember).where(TeamMember.team_id == team.id).order_by(TeamMember.position)))
        overrides = list(session.exec(select(OverrideRow).where(OverrideRow.team_id == team.id)))
        people = [m.user_id for m in members]
        time_off = list(session.exec(select(TimeOffRow).where(col(TimeOffRow.user_id).in_(people)))) if people else []
        hour, minute = (int(part) for part in team.handoff_at.split(":"))
        spec = RotationSpec(
            tz=ZoneInfo(team.tz),
            roster=tuple(m.user_id for m in members if not m.shadow),
            shadows=tuple(m.user_id for m in members if m.shadow),
            epoch=team.epoch,
            handoff_weekday=team.handoff_weekday,
            handoff_at=time(hour, minute),
            length=timedelta(days=team.length_days),
            members=tuple(Member(user_id=m.user_id, tz=m.tz or team.tz, country=m.country, paused=m.paused) for m in members),
            observe_holidays=team.observe_holidays,
        )
        layers = Layers(
            time_off=tuple(TimeOff(r.user_id, r.start_at, r.end_at) for r in time_off),
            overrides=tuple(Override(r.user_id, r.start_at, r.end_at, r.created_at, Role(r.role), r.replaces) for r in overrides),
        )
        return TeamRotation(team=_info(team), spec=spec, layers=layers)


def _info(team: Team) -> TeamInfo:
    assert team.id is not None
    return TeamInfo(id=team.id, name=team.name, tz=team.tz, announce_channel=team.announce_channel,
                    crisis_channel=team.crisis_channel, workspace_id=team.workspace_id, usergroup_id=team.usergroup_id)
