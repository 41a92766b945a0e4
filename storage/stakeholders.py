"""Where each team's stakeholder updates go (implements bot.stakeholders.StakeholderStore)."""

from __future__ import annotations

from datetime import datetime

from storage.session import Database
from storage.tables import StakeholderChannelRow


class StakeholderChannels:
    def __init__(self, database: Database) -> None:
        self._db = database

    def stakeholder_channel(self, team_id: int) -> str | None:
        with self._db.session_scope() as session:
            row = session.get(StakeholderChannelRow, team_id)
            return None if row is None else row.channel

    def set_stakeholder_channel(self, *, team_id: int, channel: str, user_id: str, now: datetime) -> str | None:
        """Store the team's channel; return the one before (None: there was none)."""
        with self._db.session_scope() as session:
            row = session.get(StakeholderChannelRow, team_id)
            before = None if row is None else row.channel
            if row is None:
                session.add(StakeholderChannelRow(team_id=team_id, channel=channel, updated_at=now, updated_by=user_id))
            else:
                row.channel, row.updated_at, row.updated_by = channel, now, user_id
            return before
