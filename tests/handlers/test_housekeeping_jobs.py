"""Housekeeping jobs: raw mentions older than the retention are purged; counts stay."""

from __future__ import annotations

from datetime import UTC, datetime

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
