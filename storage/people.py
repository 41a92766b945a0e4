"""What the bot remembers of Slack users: time zone (chosen on the Home, or reported by Slack) and whether they left."""

from __future__ import annotations

from datetime import datetime

from bot.people import ZoneFacts
from storage.session import Database
from storage.tables import MemberSettingRow, Person


class People:
    """The only store of a person's zone facts (bot.people.zone_of decides between them)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def tz(self, workspace_id: str, user_id: str) -> str | None:
        """Return the zone Slack reported for the person, if the bot has met them."""
        with self._db.session_scope() as session:
            row = session.get(Person, (workspace_id, user_id))
            return row.tz if row else None

    def tz_facts(self, workspace_id: str, user_id: str) -> ZoneFacts:
        """Return the zone the person chose on their Home and the one Slack reported, in one read."""
        with self._db.session_scope() as session:
            chosen = session.get(MemberSettingRow, (workspace_id, user_id))
            known = session.get(Person, (workspace_id, user_id))
            return ZoneFacts(chosen=chosen.tz if chosen is not None and chosen.tz else None,
                             known=known.tz if known is not None and known.tz else None)

    def remember(self, *, workspace_id: str, user_id: str, tz: str | None, deleted: bool, now: datetime) -> None:
        # Two Home refreshes can learn the same person at once: the loser of the insert updates instead.
        if self._db.insert_once(Person(workspace_id=workspace_id, user_id=user_id, tz=tz, deleted=deleted, updated_at=now)):
            return
        with self._db.session_scope() as session:
            row = session.get(Person, (workspace_id, user_id))
            row.tz, row.deleted, row.updated_at = tz or row.tz, deleted, now

    def remember_zone(self, *, workspace_id: str, user_id: str, tz: str, now: datetime) -> None:
        """Keep the zone Slack reported; a zone already known stays (and whether the person left is not touched)."""
        if self._db.insert_once(Person(workspace_id=workspace_id, user_id=user_id, tz=tz, deleted=False, updated_at=now)):
            return
        with self._db.session_scope() as session:
            row = session.get(Person, (workspace_id, user_id))
            if row is not None and not row.tz:
                row.tz, row.updated_at = tz, now
