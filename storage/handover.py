"""Handover notes repository: one note per team handoff (implements bot.handover.HandoverStore)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from bot.handover import HandoverNote
from storage.session import Database
from storage.tables import HandoverNoteRow


def _note(row: HandoverNoteRow) -> HandoverNote:
    return HandoverNote(team_id=row.team_id, handoff=row.handoff, author=row.author, text=row.text, updated_at=row.updated_at)


class HandoverNotes:
    def __init__(self, database: Database) -> None:
        self._db = database

    def handover_note(self, *, team_id: int, handoff: datetime) -> HandoverNote | None:
        with self._db.session_scope() as session:
            row = session.exec(select(HandoverNoteRow).where(HandoverNoteRow.team_id == team_id, HandoverNoteRow.handoff == handoff)).scalars().first()
            return None if row is None else _note(row)

    def save_handover_note(self, *, team_id: int, handoff: datetime, author: str, text: str, now: datetime) -> HandoverNote | None:
        """Insert or replace the handoff's note; empty text removes it (None)."""
        if not text:
            with self._db.session_scope() as session:
                session.exec(delete(HandoverNoteRow).where(HandoverNoteRow.team_id == team_id, HandoverNoteRow.handoff == handoff))
            return None
        for _ in range(2):  # two first saves racing: the loser's insert fails on the unique key and updates instead
            try:
                with self._db.session_scope() as session:
                    row = session.exec(select(HandoverNoteRow).where(HandoverNoteRow.team_id == team_id,
                                                                     HandoverNoteRow.handoff == handoff)).scalars().first()
                    if row is None:
                        row = HandoverNoteRow(team_id=team_id, handoff=handoff, author=author, text=text, created_at=now, updated_at=now)
                        session.add(row)
                    else:
                        row.author, row.text, row.updated_at = author, text, now
                    session.flush()
                    return _note(row)
            except IntegrityError:
                continue
        raise RuntimeError("handover note could not be saved")

    def handover_notes(self, *, team_id: int, start: datetime, end: datetime) -> list[HandoverNote]:
        """Return the team's notes for handoffs in (start, end], oldest first (the report's period)."""
        with self._db.session_scope() as session:
            rows = session.exec(select(HandoverNoteRow).where(HandoverNoteRow.team_id == team_id, HandoverNoteRow.handoff > start,
                                                              HandoverNoteRow.handoff <= end).order_by(HandoverNoteRow.handoff)).scalars().all()
            return [_note(r) for r in rows]
