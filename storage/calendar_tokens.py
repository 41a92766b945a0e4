"""Secrets of personal calendar URLs: one per member, made on first request."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from storage.session import Database
from storage.tables import CalendarToken


class CalendarTokens:
    def __init__(self, database: Database) -> None:
        self._db = database

    def token_for(self, *, workspace_id: str, user_id: str, now: datetime) -> str:
        """Return the member's token, creating it the first time."""
        existing = self._find(workspace_id, user_id)
        if existing:
            return existing
        try:
            with self._db.session_scope() as session:
                token = secrets.token_urlsafe(24)
                session.add(CalendarToken(token=token, workspace_id=workspace_id, user_id=user_id, created_at=now))
                return token
        except IntegrityError:
            # Two requests raced to create it; the other one's token stands.
            found = self._find(workspace_id, user_id)
            assert found is not None
            return found

    def owner(self, token: str) -> tuple[str, str] | None:
        """Return (workspace_id, user_id) for a token, or None."""
        with self._db.session_scope() as session:
            row = session.get(CalendarToken, token)
            return (row.workspace_id, row.user_id) if row else None

    def _find(self, workspace_id: str, user_id: str) -> str | None:
        with self._db.session_scope() as session:
            return session.exec(select(CalendarToken.token).where(CalendarToken.workspace_id == workspace_id, CalendarToken.user_id == user_id)).first()
