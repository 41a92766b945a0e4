"""Deletes rows past their retention (bot/retention.py): counters, finished outbox rows, the job ledger, the audit trail.

Each delete is one indexed range (or primary-key-ordered) statement, so a purge that finds nothing reads almost nothing.
"""

from __future__ import annotations

from sqlalchemy import delete

from bot.retention import RetentionCutoffs
from storage.session import Database
from storage.tables import AuditEntry, JobRun, MentionCount, OutboxMessage

_COUNTS = MentionCount.__table__
_OUTBOX = OutboxMessage.__table__
_LEDGER = JobRun.__table__
_AUDIT = AuditEntry.__table__


class RetentionStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    def purge_expired(self, cutoffs: RetentionCutoffs) -> dict[str, int]:
        """Delete what is past its cut-off; return how many rows went, per table."""
        statements = {
            "mention_counts": delete(_COUNTS).where(_COUNTS.c.minute < cutoffs.counters_before),
            # Only finished rows: a pending or leased call is owed to Slack whatever its age.
            "outbox": delete(_OUTBOX).where(_OUTBOX.c.status.in_(("sent", "failed")), _OUTBOX.c.created_at < cutoffs.outbox_before),
            "job_runs": delete(_LEDGER).where(_LEDGER.c.ran_at < cutoffs.ledger_before),
            "audit_log": delete(_AUDIT).where(_AUDIT.c.at < cutoffs.audit_before),
        }
        with self._db.engine.begin() as connection:
            return {table: connection.execute(statement).rowcount or 0 for table, statement in statements.items()}
