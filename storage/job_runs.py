"""Ledger of completed scheduled runs, so a job restarted after a crash does not act twice."""

from __future__ import annotations

from datetime import datetime

from storage.session import Database
from storage.tables import JobRun


class JobLedger:
    def __init__(self, database: Database) -> None:
        self._db = database

    def claim(self, run_key: str, *, at: datetime) -> bool:
        """Return True if this run key was not claimed before (and claim it)."""
        return self._db.insert_once(JobRun(run_key=run_key, ran_at=at))

    def has_run(self, run_key: str) -> bool:
        with self._db.session_scope() as session:
            return session.get(JobRun, run_key) is not None
