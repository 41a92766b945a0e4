"""Admin directory: who may change teams, rosters and policies, per workspace (the one the unit of work acts for)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import func, select

from bot.workspace_scope import current_workspace
from storage.session import Database
from storage.tables import Admin


class AdminDirectory:
    """Admins stored in the database, with a bootstrap list used until the first one exists."""

    def __init__(self, database: Database, bootstrap: tuple[str, ...] = ()) -> None:
        self._db = database
        self._bootstrap = frozenset(bootstrap)

    def is_admin(self, user_id: str) -> bool:
        workspace = current_workspace()
        with self._db.session_scope() as session:
            if session.get(Admin, (workspace, user_id)) is not None:
                return True
            stored = session.exec(select(func.count()).select_from(Admin).where(Admin.workspace_id == workspace)).one()
        # SOCIALOPS_ADMINS only counts before anyone is stored, so removing an env entry is never needed to revoke.
        return stored == 0 and user_id in self._bootstrap

    def admin_ids(self) -> list[str]:
        """Return the admins of the current workspace (the bootstrap list until one is stored there)."""
        with self._db.session_scope() as session:
            stored = list(session.exec(select(Admin.user_id).where(Admin.workspace_id == current_workspace()).order_by(Admin.user_id)))
        return stored or sorted(self._bootstrap)

    def add(self, user_id: str, *, by: str, at: datetime) -> bool:
        """Store an admin of the current workspace; return False when they already were one."""
        return self._db.insert_once(Admin(workspace_id=current_workspace(), user_id=user_id, added_at=at, added_by=by))

    def stored_ids(self) -> list[str]:
        """Return the admins stored for the current workspace (the bootstrap list not included)."""
        with self._db.session_scope() as session:
            return list(session.exec(select(Admin.user_id).where(Admin.workspace_id == current_workspace()).order_by(Admin.user_id)))

    def remove(self, user_id: str, *, keep_one: bool = False) -> bool:
        """Delete a stored admin of the current workspace; with `keep_one`, refuse (False) when they are its only one left."""
        with self._db.session_scope() as session:
            # Lock the workspace's admin rows (PostgreSQL; SQLite serialises writers anyway) so two admins removing each
            # other at once cannot leave nobody.
            rows = list(session.exec(select(Admin).where(Admin.workspace_id == current_workspace()).with_for_update()))
            row = next((r for r in rows if r.user_id == user_id), None)
            if row is None or (keep_one and len(rows) <= 1):
                return False
            session.delete(row)
        return True
