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
        # Two Home refreshes can learn the same person at once: the loser of the insert updates instead.
        if self._db.insert_once(Person(workspace_id=workspace_id, user_id=user_id, tz=tz, deleted=deleted, updated_at=now)):
            return
        with self._db.session_scope() as session:
            row = session.get(Person, (workspace_id, user_id))
            row.tz, row.deleted, row.updated_at = tz or row.tz, deleted, now
