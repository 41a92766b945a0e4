"""APScheduler's SQLAlchemy job store, made safe for several processes sharing one table.

Two processes that both see a due date job both run it (every job is idempotent) and both try to remove it; the
second removal finds no row. APScheduler 3 raises JobLookupError for that inside its scheduling pass, which ends
the scheduler thread for good (issue 18). Here a job already gone is the expected end of that race, not an error.
"""

from __future__ import annotations

import logging

from apscheduler.job import Job
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

log = logging.getLogger(__name__)


class SharedJobStore(SQLAlchemyJobStore):
    """A job store several schedulers may share: removing a vanished job is done, updating one puts it back."""

    def remove_job(self, job_id: str) -> None:
        try:
            super().remove_job(job_id)
        except JobLookupError:
            log.debug("job %s was already removed (run by another process)", job_id)

    def update_job(self, job: Job) -> None:
        # Reached from add_job(replace_existing=True) after an id conflict, and from the pass that moves a
        # recurring job to its next run: in both the caller wants the job stored, so a row removed meanwhile
        # by another process is inserted again.
        try:
            super().update_job(job)
        except JobLookupError:
            try:
                super().add_job(job)
            except ConflictingIdError:
                super().update_job(job)  # re-added by the other process in between: ours is the newer state
