"""Outgoing messages survive Slack trouble: rate limits and 5xx are retried, permanent errors are recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot import jobs
from bot.app import create_runtime
from storage.session import Database, sqlite_url
from tests.conftest import make_settings
from tests.fakes.clock import Clock


@pytest.fixture
def clock():
    return Clock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))


@pytest.fixture
def stopped_runtime(fake_slack, tmp_path, clock):
    """A runtime whose jobs are bound but whose scheduler never starts, so tests drive the jobs by hand."""
    built = create_runtime(make_settings(fake_slack), clock=clock, database=Database.from_url(sqlite_url(tmp_path / "o.db")))
    built.bind_jobs()
    yield built
    built.stop()


def _queue(text="Crisis on topic X"):
    return jobs.enqueue_call(dedupe_key=f"k:{text}", method="chat.postMessage", payload={"channel": "C0DEMOCRISIS", "text": text})


def test_rate_limited_post_is_retried_after_retry_after(stopped_runtime, fake_slack):
    """A 429 with Retry-After is retried by the client and the message arrives."""
    fake_slack.fail("chat.postMessage", status=429, retry_after=0)
    item = _queue()
    jobs.deliver_outbox_item(item)
    assert len(fake_slack.calls("chat.postMessage")) == 2
    assert stopped_runtime.outbox.get(item).status == "sent"


def test_slack_outage_keeps_the_message_and_delivers_it_later(stopped_runtime, fake_slack, clock):
    """When 5xx outlast the client's retries, the item waits with backoff and is sent once Slack is back."""
    fake_slack.fail("chat.postMessage", status=503, times=3)  # 1 try + 2 client retries
    item = _queue()
    jobs.deliver_outbox_item(item)
    pending = stopped_runtime.outbox.get(item)
    assert pending.status == "pending" and pending.attempts == 1 and pending.due_at > clock.now
    assert stopped_runtime.scheduler.get_job(f"outbox:{item}") is not None
    jobs.deliver_outbox_item(item)  # too early: nothing happens
    assert len(fake_slack.calls("chat.postMessage")) == 3
    clock.now = pending.due_at
    jobs.deliver_outbox_item(item)
    assert stopped_runtime.outbox.get(item).status == "sent"
    assert [c.failed for c in fake_slack.calls("chat.postMessage")] == [True, True, True, False]


def test_channel_not_found_gives_up_and_leaves_an_audit_record(stopped_runtime, fake_slack, clock):
    """A permanent error is not retried forever; the failure is recorded for the admins."""
    fake_slack.fail("chat.postMessage", error="channel_not_found")
    item = _queue()
    jobs.deliver_outbox_item(item)
    jobs.deliver_outbox_item(item)
    assert len(fake_slack.calls("chat.postMessage")) == 1
    assert stopped_runtime.outbox.get(item).status == "failed"
    (entry,) = stopped_runtime.deps.audit.entries(action="delivery_failed")
    assert entry.after == {"method": "chat.postMessage", "error": "channel_not_found"}


def test_sweep_recovers_an_item_whose_sender_died(stopped_runtime, fake_slack, clock):
    """A lease left by a crashed sender expires and the sweep sends the message."""
    item = _queue()
    assert stopped_runtime.outbox.claim(item, now=clock.now, lease=timedelta(minutes=5)) is not None  # the "crashed" sender
    jobs.sweep_outbox()
    assert fake_slack.calls("chat.postMessage") == []
    clock.now += timedelta(minutes=6)
    jobs.sweep_outbox()
    assert len(fake_slack.calls("chat.postMessage")) == 1
