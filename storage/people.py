"""What the bot remembers of Slack users: time zone (to read typed dates) and whether they left."""

from __future__ import annotations

from datetime import datetime

from storage.session import Database
from storage.tables import Person


class People:
    def __init__(self, database: Database) -> None:
        self._db = database

    def tz(self, workspace_id: str, user_id: str) -> str | None:
        with self._db.session_scope() as session:
            row = session.get(Person, (workspace_id, user_id))
            return row.tz if row else None

    def remember(self, *, workspace_id: str, user_id: str, tz: str | None, deleted: bool, now: datetime) -> None:
        with self._db.session_scope() as session:
            row = session.get(Person, (workspace_id, user_id))
            if row is None:
                session.add(Person(workspace_id=workspace_id, user_id=user_id, tz=tz, deleted=deleted, updated_at=now))
            else:
                row.tz, row.deleted, row.updated_at = tz or row.tz, deleted, now
