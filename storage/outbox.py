"""Outbox repository: pending Web API calls survive restarts and outages."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy import update
from sqlmodel import col, func, select

from bot.outbox import OutboxItem
from bot.workspace_scope import current_workspace
from storage.session import Database
from storage.tables import OutboxMessage


class Outbox:
    def __init__(self, database: Database) -> None:
        self._db = database

    def enqueue(self, *, dedupe_key: str, method: str, payload: dict[str, Any], due_at: datetime, now: datetime,
                kind: str | None = None, subject: dict[str, Any] | None = None, workspace_id: str | None = None) -> int:
        """Queue a call once per dedupe_key for `workspace_id` (default: the one acting); return its id (the existing one on a repeat)."""
        workspace = current_workspace() if workspace_id is None else workspace_id
        try:
            with self._db.session_scope() as session:
                row = OutboxMessage(dedupe_key=dedupe_key, workspace_id=workspace, method=method, payload=payload,
                                    created_at=now, due_at=due_at, kind=kind, subject=subject)
                session.add(row)
                session.flush()
                assert row.id is not None
                return row.id
        except IntegrityError:
            with self._db.session_scope() as session:
                existing = session.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)).one()
                assert existing.id is not None
                return existing.id

    def get(self, item_id: int) -> OutboxItem | None:
        with self._db.session_scope() as session:
            row = session.get(OutboxMessage, item_id)
            return None if row is None else _item(row)

    def due(self, now: datetime, limit: int = 100) -> list[OutboxItem]:
        with self._db.session_scope() as session:
            query = (
                select(OutboxMessage)
                .where(OutboxMessage.status == "pending", OutboxMessage.due_at <= now)
                .order_by(OutboxMessage.due_at, OutboxMessage.id)
                .limit(limit)
            )
            return [_item(row) for row in session.exec(query)]

    def claim(self, item_id: int, *, now: datetime, lease: timedelta) -> OutboxItem | None:
        """Take a due pending item for sending (one taker wins); the lease expires if the sender dies."""
        with self._db.session_scope() as session:
            result = session.exec(
                update(OutboxMessage)
                .where(OutboxMessage.id == item_id, OutboxMessage.status == "pending", OutboxMessage.due_at <= now)
                .values(status="sending", due_at=now + lease)
            )
            if result.rowcount != 1:
                return None
            return _item(session.get_one(OutboxMessage, item_id))

    def release_expired_leases(self, now: datetime) -> int:
        """Put items whose sender died mid-send back in the queue (at-least-once beats lost)."""
        with self._db.session_scope() as session:
            result = session.exec(
                update(OutboxMessage)
                .where(OutboxMessage.status == "sending", OutboxMessage.due_at <= now)
                .values(status="pending")
            )
            return result.rowcount or 0

    def hold_workspace(self, workspace_id: str) -> int:
        """Keep a workspace's unsent items out of the queue (the app was uninstalled there); return how many."""
        with self._db.session_scope() as session:
            result = session.exec(
                update(OutboxMessage)
                .where(OutboxMessage.workspace_id == workspace_id, col(OutboxMessage.status).in_(("pending", "sending")))
                .values(status="held")
            )
            return result.rowcount or 0

    def hold(self, item_id: int, *, error: str) -> None:
        """Keep one claimed item, unsent, until its workspace installs the app again."""
        with self._db.session_scope() as session:
            row = session.get_one(OutboxMessage, item_id)
            row.status, row.last_error = "held", error[:255]

    def release_workspace(self, workspace_id: str, *, now: datetime) -> list[int]:
        """Put a reinstalled workspace's held items back in the queue, due now; return their ids."""
        with self._db.session_scope() as session:
            ids = list(session.exec(select(OutboxMessage.id).where(OutboxMessage.workspace_id == workspace_id,
                                                                   OutboxMessage.status == "held")))
            if ids:
                session.exec(update(OutboxMessage).where(col(OutboxMessage.id).in_(ids)).values(status="pending", due_at=now))
            return [item_id for item_id in ids if item_id is not None]

    def counts(self) -> dict[str, int]:
        with self._db.session_scope() as session:
            rows = session.exec(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
            return {status: count for status, count in rows}

    def sent_message(self, dedupe_key: str) -> tuple[str, str, dict[str, Any]] | None:
        """Return (channel, ts, payload) of the message queued under `dedupe_key` once it was sent; None before that."""
        with self._db.session_scope() as session:
            row = session.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key, OutboxMessage.status == "sent")).first()
            result = (row.result or {}) if row is not None else {}
            if row is None or "channel" not in result or "ts" not in result:
                return None
            return result["channel"], result["ts"], dict(row.payload)

    def mark_sent(self, item_id: int, *, at: datetime, result: dict[str, Any]) -> None:
        with self._db.session_scope() as session:
            row = session.get_one(OutboxMessage, item_id)
            row.status, row.sent_at, row.result = "sent", at, result
            row.attempts += 1

    def mark_retry(self, item_id: int, *, error: str, due_at: datetime) -> None:
        with self._db.session_scope() as session:
            row = session.get_one(OutboxMessage, item_id)
            row.attempts += 1
            row.status, row.last_error, row.due_at = "pending", error[:255], due_at

    def mark_failed(self, item_id: int, *, error: str) -> None:
        with self._db.session_scope() as session:
            row = session.get_one(OutboxMessage, item_id)
            row.attempts += 1
            row.status, row.last_error = "failed", error[:255]


def _item(row: OutboxMessage) -> OutboxItem:
    assert row.id is not None
    return OutboxItem(
        id=row.id, dedupe_key=row.dedupe_key, method=row.method, payload=dict(row.payload),
        due_at=row.due_at, attempts=row.attempts, status=row.status, kind=row.kind,
        subject=None if row.subject is None else dict(row.subject), workspace_id=row.workspace_id,
    )
