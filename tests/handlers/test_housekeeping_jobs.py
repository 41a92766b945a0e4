"""Housekeeping jobs: raw mentions older than the retention are purged; counts stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot import jobs
from bot.app import create_runtime
from bot.mentions import TOMBSTONE_HORIZON, MentionPurge
from storage.session import Database, sqlite_url
from tests.conftest import make_settings


class Purger:
    def __init__(self) -> None:
        self.calls = []

    def purge_mentions(self, *, before, forget_before, now):
        self.calls.append((before, forget_before, now))
        return MentionPurge(tombstoned=3, forgotten=1)


def test_mention_purge_uses_the_configured_retention(fake_slack, tmp_path):
    """SOCIALOPS_MENTION_RETENTION_DAYS=7 purges what arrived more than 7 days ago; tombstones go after 13 months."""
    now = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)
    runtime = create_runtime(make_settings(fake_slack, SOCIALOPS_MENTION_RETENTION_DAYS="7"), clock=lambda: now,
                             database=Database.from_url(sqlite_url(tmp_path / "p.db")))
    runtime.bind_jobs()
    try:
        purger = Purger()
        jobs.bind(jobs.JobContext(**{**vars(jobs._ctx()), "mentions": purger}))
        jobs.purge_old_mentions()
        assert purger.calls == [(datetime(2026, 11, 16, 3, 30, tzinfo=UTC), now - TOMBSTONE_HORIZON, now)]
    finally:
        runtime.stop()


def test_recurring_jobs_include_the_daily_mention_purge(runtime):
    """The purge is scheduled once a day with a fixed id."""
    job = runtime.scheduler.get_job("mentions:purge")
    assert job is not None and "cron" in str(job.trigger)


def test_the_nightly_retention_purge_runs_with_the_configured_policy(fake_slack, tmp_path):
    """purge_expired_rows asks the store for the cut-offs of SOCIALOPS_*_RETENTION_DAYS at the job's now."""
    now = datetime(2026, 11, 23, 3, 45, tzinfo=UTC)
    runtime = create_runtime(make_settings(fake_slack, SOCIALOPS_AUDIT_RETENTION_DAYS="1000"), clock=lambda: now,
                             database=Database.from_url(sqlite_url(tmp_path / "r.db")))
    runtime.bind_jobs()
    seen = []

    class Store:
        def purge_expired(self, cutoffs):
            seen.append(cutoffs)
            return {"audit_log": 2}

    try:
        jobs.bind(jobs.JobContext(**{**vars(jobs._ctx()), "retention_store": Store()}))
        jobs.purge_expired_rows()
    finally:
        runtime.stop()
    assert [cutoff.audit_before for cutoff in seen] == [now - timedelta(days=1000)]


def test_recurring_jobs_include_the_nightly_retention_purge(runtime):
    """The retention purge is scheduled once a day with a fixed id."""
    job = runtime.scheduler.get_job("retention:purge")
    assert job is not None and "cron" in str(job.trigger)
