"""State behind the automatic rotation messages: user-group sync per team, and which event keys already ran."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.rotation_messages import UsergroupState
from storage.session import Database
from storage.tables import JobRun, UsergroupSync


class RotationMessageState:
    def __init__(self, database: Database) -> None:
        self._db = database

    def ran_keys(self, keys: Iterable[str]) -> set[str]:
        """Return those of `keys` already claimed in the job ledger (one query, for the planner)."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return set()
        with self._db.session_scope() as session:
            return set(session.exec(select(JobRun.run_key).where(col(JobRun.run_key).in_(wanted))))

    def usergroup_state(self, team_id: int) -> UsergroupState | None:
        with self._db.session_scope() as session:
            row = session.get(UsergroupSync, team_id)
            if row is None:
                return None
            users = tuple(u for u in (row.synced_users or "").split(",") if u)
            return UsergroupState(usergroup_id=row.usergroup_id, synced_users=users, disabled_error=row.disabled_error)

    def record_synced(self, *, team_id: int, usergroup_id: str, users: list[str], at: datetime) -> None:
        """Remember the membership the bot set (a new group id also clears an old "disabled")."""
        with self._db.session_scope() as session:
            row = session.get(UsergroupSync, team_id) or UsergroupSync(team_id=team_id, usergroup_id=usergroup_id)
            row.usergroup_id, row.synced_users, row.synced_at = usergroup_id, ",".join(users), at
            row.disabled_error, row.disabled_at = None, None
            session.add(row)

    def disable(self, *, team_id: int, usergroup_id: str, error: str, at: datetime) -> bool:
        """Stop syncing the team's group; return True only for the caller that switched it off (it tells the admins)."""
        try:
            with self._db.session_scope() as session:
                session.add(UsergroupSync(team_id=team_id, usergroup_id=usergroup_id, disabled_error=error, disabled_at=at))
        except IntegrityError:
            # The team has a row already: flip it in one UPDATE, so two racing jobs notify the admins once.
            return self._flip_to_disabled(team_id=team_id, usergroup_id=usergroup_id, error=error, at=at)
        return True

    def _flip_to_disabled(self, *, team_id: int, usergroup_id: str, error: str, at: datetime) -> bool:
        with self._db.session_scope() as session:
            result = session.exec(
                update(UsergroupSync)
                .where(col(UsergroupSync.team_id) == team_id,
                       or_(col(UsergroupSync.disabled_error).is_(None), col(UsergroupSync.usergroup_id) != usergroup_id))
                .values(usergroup_id=usergroup_id, disabled_error=error, disabled_at=at, synced_users=None)
            )
            return result.rowcount == 1
