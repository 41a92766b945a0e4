"""Audit trail repository: append-only records of who changed what."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlmodel import select

from bot.audit import AuditRecord
from bot.workspace_scope import current_workspace
from storage.session import Database
from storage.tables import AuditEntry


class AuditLog:
    """Writes and reads the audit table."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def record(self, entry: AuditRecord) -> None:
        """Append one record in its own unit of work, under the acting workspace when it names none (exports filter on it)."""
        if entry.team_id is None and current_workspace():
            entry = replace(entry, team_id=current_workspace())
        with self._db.session_scope() as session:
            session.add(_to_row(entry))

    def entries(self, *, since: datetime | None = None, until: datetime | None = None, action: str | None = None) -> list[AuditRecord]:
        """Return records in time order, optionally filtered."""
        with self._db.session_scope() as session:
            query = select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id)
            if since is not None:
                query = query.where(AuditEntry.at >= since)
            if until is not None:
                query = query.where(AuditEntry.at < until)
            if action is not None:
                query = query.where(AuditEntry.action == action)
            return [_from_row(row) for row in session.exec(query)]


def _to_row(entry: AuditRecord) -> AuditEntry:
    return AuditEntry(
        at=entry.at, actor=entry.actor, action=entry.action, via=entry.via, target=entry.target,
        team_id=entry.team_id, before=entry.before, after=entry.after,
    )


def _from_row(row: AuditEntry) -> AuditRecord:
    before: dict[str, Any] | None = row.before
    return AuditRecord(
        at=row.at, actor=row.actor, action=row.action, via=row.via, target=row.target,
        team_id=row.team_id, before=before, after=row.after,
    )
