"""Event-delivery dedupe: Slack re-sends an event with the same event_id up to three times."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete

from storage.session import Database
from storage.tables import ProcessedEvent


class ProcessedEvents:
    def __init__(self, database: Database) -> None:
        self._db = database

    def claim(self, event_id: str, *, at: datetime) -> bool:
        """Return True the first time an event_id is seen, False on every re-delivery."""
        return self._db.insert_once(ProcessedEvent(event_id=event_id, received_at=at))

    def purge_older_than(self, cutoff: datetime) -> int:
        """Forget events received before `cutoff`; Slack's last retry comes about 5 minutes after the first."""
        with self._db.session_scope() as session:
            result = session.exec(delete(ProcessedEvent).where(ProcessedEvent.received_at < cutoff))
            return result.rowcount or 0


EVENT_MEMORY = timedelta(hours=1)
