"""The scheduler keeps jobs in the database: a job due while the bot was down runs once after restart."""

from __future__ import annotations

import time
from datetime import timedelta

from bot import jobs
from bot.app import create_runtime
from storage.session import Database
from tests.conftest import make_settings


def _runtime(fake_slack, database_url):
    built = create_runtime(make_settings(fake_slack), database=Database.from_url(database_url))
    built.start()
    return built


def test_job_due_during_downtime_runs_once_after_restart(fake_slack, database_url):
    """Scheduled before a stop, due while stopped: delivered once on start-up, never again later."""
    first = _runtime(fake_slack, database_url)
    due = first.clock() + timedelta(seconds=1)
    jobs.enqueue_call(dedupe_key="announce:test:1", method="chat.postMessage",
                      payload={"channel": "C0DEMOANNOUNCE", "text": "Rotation handoff"}, due_at=due)
    assert first.scheduler.get_job("outbox:1") is not None
    first.stop()
    assert fake_slack.calls("chat.postMessage") == []

    time.sleep(1.5)  # the job's due time passes while nothing runs
    second = _runtime(fake_slack, database_url)
    try:
        fake_slack.wait_for("chat.postMessage", 1, timeout=10)
        time.sleep(0.5)
    finally:
        second.stop()
    third = _runtime(fake_slack, database_url)
    try:
        time.sleep(1.0)
        assert third.scheduler.get_job("outbox:1") is None
        ids = [job.id for job in third.scheduler.get_jobs()]
        assert {"outbox:sweep", "events:purge"} <= set(ids)
        assert len(ids) == len(set(ids))  # restarts re-add recurring jobs in place, never twice
    finally:
        third.stop()
    calls = fake_slack.calls("chat.postMessage")
    assert len(calls) == 1
    assert calls[0].args["text"] == "Rotation handoff"


def test_enqueueing_the_same_key_twice_schedules_one_delivery(fake_slack, database_url):
    """A repeated enqueue (e.g. a handler retried) is one message."""
    runtime = _runtime(fake_slack, database_url)
    try:
        for _ in range(2):
            jobs.enqueue_call(dedupe_key="dm:U1:shift-start", method="chat.postMessage",
                              payload={"channel": "C0DEMOTEAM", "text": "You're on call now"})
        fake_slack.wait_for("chat.postMessage", 1, timeout=10)
        time.sleep(0.5)
    finally:
        runtime.stop()
    assert len(fake_slack.calls("chat.postMessage")) == 1
