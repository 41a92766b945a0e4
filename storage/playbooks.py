"""Playbook repository: a team's checklist steps and holding statements (playbook_steps), ticks per crisis (playbook_checks).

Saving keeps the row (and so the ticks) of every step whose text is unchanged; a removed step takes its ticks with
it, which is why each tick is also a crisis_events row and an audit record.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from bot.playbook import Check, Playbook, PlaybookDraft, PlaybookItem
from storage.session import Database
from storage.tables import PlaybookCheck, PlaybookStepRow, Team


class Playbooks:
    """Implements bot.playbook.PlaybookStore."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def playbook(self, team_id: int) -> Playbook | None:
        with self._db.session_scope() as session:
            rows = session.exec(select(PlaybookStepRow).where(PlaybookStepRow.team_id == team_id)
                                .order_by(PlaybookStepRow.position, PlaybookStepRow.id)).scalars().all()
            if not rows:
                return None
            return Playbook(team_id=team_id,
                            steps=tuple(PlaybookItem(r.id, r.text) for r in rows if not r.holding_statement and r.id is not None),
                            statements=tuple(PlaybookItem(r.id, r.text) for r in rows if r.holding_statement and r.id is not None))

    def seed_playbook(self, *, team_id: int, draft: PlaybookDraft) -> Playbook:
        with self._db.session_scope() as session:
            self._lock_team(session, team_id)
            exists = session.exec(select(PlaybookStepRow.id).where(PlaybookStepRow.team_id == team_id).limit(1)).first()
            if exists is None:
                self._write(session, team_id, draft)
        found = self.playbook(team_id)
        assert found is not None
        return found

    def save_playbook(self, *, team_id: int, draft: PlaybookDraft) -> Playbook:
        with self._db.session_scope() as session:
            self._lock_team(session, team_id)
            self._write(session, team_id, draft)
        found = self.playbook(team_id)
        assert found is not None
        return found

    @staticmethod
    def _lock_team(session, team_id: int) -> None:  # noqa: ANN001 - a sqlmodel Session
        # Write first: a no-op UPDATE of the team row takes its row lock (PostgreSQL) or the write lock (SQLite), so two
        # writers of one playbook take turns, and SQLite never has to upgrade a read transaction (which fails at once).
        session.exec(update(Team).where(Team.id == team_id).values(name=Team.name))

    @staticmethod
    def _write(session, team_id: int, draft: PlaybookDraft) -> None:  # noqa: ANN001 - a sqlmodel Session
        """Make the team's rows hold `draft`: an unchanged step keeps its row (and ticks), moved to its new position."""
        rows = session.exec(select(PlaybookStepRow).where(PlaybookStepRow.team_id == team_id)).scalars().all()
        kept = {(r.holding_statement, r.text): r for r in rows}
        wanted = [(False, text) for text in draft.steps] + [(True, text) for text in draft.statements]
        for row in rows:
            if (row.holding_statement, row.text) not in wanted:
                session.delete(row)
        for position, (statement, text) in enumerate(wanted):
            row = kept.get((statement, text))
            if row is None:
                session.add(PlaybookStepRow(team_id=team_id, position=position, text=text, holding_statement=statement))
            else:
                row.position = position

    def record_check(self, *, crisis_id: int, step_id: int, user_id: str, at: datetime) -> bool:
        return self._db.insert_once(PlaybookCheck(crisis_id=crisis_id, step_id=step_id, checked_by=user_id, checked_at=at))

    def checks(self, crisis_id: int) -> list[Check]:
        with self._db.session_scope() as session:
            rows = session.exec(select(PlaybookCheck).where(PlaybookCheck.crisis_id == crisis_id)
                                .order_by(PlaybookCheck.checked_at)).scalars().all()
            return [Check(step_id=r.step_id, checked_by=r.checked_by, checked_at=r.checked_at) for r in rows]
