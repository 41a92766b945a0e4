"""Scheduler entry points: module-level functions referenced as text, taking IDs only.

Each job reloads its state and is idempotent, so APScheduler's catch-up after a restart (coalesced,
within the misfire grace) runs a due job once and a finished job never again. `bind()` hands the
jobs their collaborators; the composition root calls it before starting the scheduler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.date import DateTrigger

from bot.audit import SYSTEM_ACTOR, AuditRecord, AuditSink, Via
from bot.outbox import next_attempt_at, should_give_up
from bot.slack_gateway import SlackCallFailed, SlackGateway
from storage.events import EVENT_MEMORY, ProcessedEvents
from storage.outbox import Outbox

log = logging.getLogger(__name__)

SEND_LEASE = timedelta(minutes=5)
SWEEP_EVERY_S = 30


@dataclass(frozen=True)
class JobContext:
    clock: Callable[[], datetime]
    outbox: Outbox
    slack: SlackGateway
    audit: AuditSink
    events: ProcessedEvents
    scheduler: BaseScheduler


_context: JobContext | None = None


def bind(context: JobContext | None) -> None:
    """Give the job functions their collaborators (None unbinds at shutdown)."""
    global _context
    _context = context


def _ctx() -> JobContext:
    if _context is None:
        raise RuntimeError("bot.jobs used before bind(): the composition root must bind the jobs first")
    return _context


def enqueue_call(*, dedupe_key: str, method: str, payload: dict[str, Any], due_at: datetime | None = None) -> int:
    """Queue a Web API call for delivery at `due_at` (now by default); the same key is queued once."""
    ctx = _ctx()
    now = ctx.clock()
    due = due_at or now
    item_id = ctx.outbox.enqueue(dedupe_key=dedupe_key, method=method, payload=payload, due_at=due, now=now)
    schedule_delivery(ctx.scheduler, item_id, due)
    return item_id


def schedule_delivery(scheduler: BaseScheduler, item_id: int, when: datetime) -> None:
    scheduler.add_job(
        "bot.jobs:deliver_outbox_item", trigger=DateTrigger(run_date=when), args=[item_id],
        id=f"outbox:{item_id}", replace_existing=True,
    )


def deliver_outbox_item(item_id: int) -> None:
    """Send one queued call; on a transient failure try again later, on a permanent one give up loudly."""
    ctx = _ctx()
    now = ctx.clock()
    item = ctx.outbox.claim(item_id, now=now, lease=SEND_LEASE)
    if item is None:
        return  # already sent, failed for good, not yet due, or another runner holds it
    try:
        result = _send(ctx.slack, item.method, item.payload)
    except SlackCallFailed as failure:
        attempts = item.attempts + 1
        if failure.transient and not should_give_up(failure.code, attempts):
            due = next_attempt_at(attempts, ctx.clock(), failure.retry_after)
            ctx.outbox.mark_retry(item_id, error=failure.code, due_at=due)
            schedule_delivery(ctx.scheduler, item_id, due)
            log.warning("outbox item %s: %s, retrying at %s", item_id, failure.code, due.isoformat())
            return
        ctx.outbox.mark_failed(item_id, error=failure.code)
        ctx.audit.record(AuditRecord(
            at=ctx.clock(), actor=SYSTEM_ACTOR, action="delivery_failed", via=Via.scheduler,
            target=item.dedupe_key, after={"method": item.method, "error": failure.code},
        ))
        log.error("outbox item %s (%s) gave up: %s", item_id, item.method, failure.code)
        return
    ctx.outbox.mark_sent(item_id, at=ctx.clock(), result={k: result[k] for k in ("channel", "ts") if k in result})


def _send(slack: SlackGateway, method: str, payload: dict[str, Any]) -> dict[str, Any]:
    if method == "chat.postMessage":
        return slack.post_message(**payload)
    if method == "chat.update":
        return slack.update_message(**payload)
    if method == "chat.postEphemeral":
        return slack.post_ephemeral(**payload)
    if method == "dm":
        channel = slack.open_dm(payload["user"])
        return slack.post_message(channel=channel, text=payload["text"], blocks=payload.get("blocks"))
    return slack.call(method, **payload)


def sweep_outbox() -> None:
    """Deliver anything due that no date job is waiting for (e.g. a lease that expired in a crash)."""
    ctx = _ctx()
    now = ctx.clock()
    ctx.outbox.release_expired_leases(now)
    for item in ctx.outbox.due(now):
        deliver_outbox_item(item.id)


def purge_processed_events() -> None:
    """Forget event ids older than Slack's retry horizon."""
    ctx = _ctx()
    ctx.events.purge_older_than(ctx.clock() - EVENT_MEMORY)


def install_recurring_jobs(scheduler: BaseScheduler) -> None:
    """Add the housekeeping jobs with fixed IDs (replace_existing keeps one copy across restarts)."""
    scheduler.add_job("bot.jobs:sweep_outbox", "interval", seconds=SWEEP_EVERY_S, id="outbox:sweep", replace_existing=True)
    scheduler.add_job("bot.jobs:purge_processed_events", "interval", hours=1, id="events:purge", replace_existing=True)
