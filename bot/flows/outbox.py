"""Outbox delivery: send one queued Web API call, retry what waiting may fix, give up loudly on the rest, then run
the step the item declared for after its delivery (its `kind`).

The outbox knows nothing of crises or rotations: a flow that needs to hear of a delivery declares a kind and plugs
its hook into `OutboxFlow.on_delivered` (paging keeps a late "still on it?" DM as a card copy that way).

Each item belongs to the workspace that queued it and is sent with that workspace's token; an item of a workspace
that uninstalled the app (or whose token Slack no longer takes) is held, neither sent nor retried, until it installs again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.audit import SYSTEM_ACTOR, AuditRecord, AuditSink, Via
from bot.errors import DeliveryFailed
from bot.flows.ports import Later, Messenger
from bot.installs import WORKSPACE_GONE, EverySending, SendingCheck
from bot.outbox import OutboxItem, next_attempt_at, should_give_up
from bot.workspace_scope import acting_for

log = logging.getLogger(__name__)

SEND_LEASE = timedelta(minutes=5)
DELIVER_JOB = "bot.jobs:deliver_outbox_item"


# --- the decision (pure) ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryAt:
    """Try the call again at `at`."""

    at: datetime


@dataclass(frozen=True)
class GiveUp:
    """The call will not go through: mark it failed and leave an audit record."""


@dataclass(frozen=True)
class Hold:
    """The workspace took the app's token away: keep the call, unsent and not retried, until it installs again."""


def plan_after_failure(failure: DeliveryFailed, *, attempts: int, now: datetime) -> RetryAt | GiveUp | Hold:
    """A transient failure is retried (after Retry-After, else with backoff) until MAX_ATTEMPTS; a workspace without a
    usable token holds the call; any other failure is final."""
    if failure.code in WORKSPACE_GONE:
        return Hold()
    if failure.transient and not should_give_up(failure.code, attempts):
        return RetryAt(next_attempt_at(attempts, now, failure.retry_after))
    return GiveUp()


# --- the ports ----------------------------------------------------------------------------------------------


class OutboxQueue(Protocol):
    """The queued calls (storage/outbox.py)."""

    def enqueue(self, *, dedupe_key: str, method: str, payload: dict[str, Any], due_at: datetime, now: datetime,
                kind: str | None = None, subject: dict[str, Any] | None = None) -> int: ...  # for the acting workspace
    def claim(self, item_id: int, *, now: datetime, lease: timedelta) -> OutboxItem | None: ...
    def due(self, now: datetime, limit: int = 100) -> list[OutboxItem]: ...
    def release_expired_leases(self, now: datetime) -> int: ...
    def mark_sent(self, item_id: int, *, at: datetime, result: dict[str, Any]) -> None: ...
    def mark_retry(self, item_id: int, *, error: str, due_at: datetime) -> None: ...
    def mark_failed(self, item_id: int, *, error: str) -> None: ...
    def hold(self, item_id: int, *, error: str) -> None: ...


class WebApi(Messenger, Protocol):
    """Every call an outbox item may name (the Slack gateway)."""

    def post_ephemeral(self, *, channel: str, user: str, text: str, blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]: ...
    def call(self, method: str, **args: Any) -> dict[str, Any]: ...


# After an item of that kind was delivered: the item and what Slack answered (its channel and ts, when it posted).
OnDelivered = Callable[[OutboxItem, dict[str, Any]], None]


def send_call(slack: WebApi, method: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Make one queued call; "dm" is ours: open the person's DM, then post in it."""
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


def schedule_delivery(later: Later, item_id: int, when: datetime) -> None:
    """Give one queued item its delivery job (one per item: a later call moves it)."""
    later.at(DELIVER_JOB, job_id=f"outbox:{item_id}", when=when, args=[item_id])


# --- the executor ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxFlow:
    """Queues calls, delivers them once each, and hands delivered items of a declared kind to that kind's hook."""

    clock: Callable[[], datetime]
    queue: OutboxQueue
    slack: WebApi
    audit: AuditSink
    later: Later
    on_delivered: Mapping[str, OnDelivered] = field(default_factory=dict)
    workspaces: SendingCheck = field(default_factory=EverySending)  # an uninstalled workspace's items are held

    def send(self, *, dedupe_key: str, method: str, payload: dict[str, Any], due_at: datetime | None = None,
             kind: str | None = None, subject: dict[str, Any] | None = None) -> int:
        """Queue a call for delivery at `due_at` (now by default); the same key is queued once."""
        now = self.clock()
        due = due_at or now
        item_id = self.queue.enqueue(dedupe_key=dedupe_key, method=method, payload=payload, due_at=due, now=now,
                                     kind=kind, subject=subject)
        self.deliver_at(item_id, due)
        return item_id

    def deliver_at(self, item_id: int, when: datetime) -> None:
        schedule_delivery(self.later, item_id, when)

    def deliver(self, item_id: int) -> None:
        """Send one queued call with its workspace's token; on a transient failure try again later, on a permanent one
        give up loudly; while its workspace has uninstalled the app, hold it."""
        item = self.queue.claim(item_id, now=self.clock(), lease=SEND_LEASE)
        if item is None:
            return  # already sent, failed for good, not yet due, held, or another runner holds it
        if not self.workspaces.is_sending(item.workspace_id):
            self.queue.hold(item_id, error="app_uninstalled")  # kept for a reinstall, never retried meanwhile
            return
        with acting_for(item.workspace_id):
            self._deliver_claimed(item)

    def _deliver_claimed(self, item: OutboxItem) -> None:
        item_id = item.id
        try:
            result = send_call(self.slack, item.method, item.payload)
        except DeliveryFailed as failure:
            plan = plan_after_failure(failure, attempts=item.attempts + 1, now=self.clock())
            if isinstance(plan, Hold):
                self.queue.hold(item_id, error=failure.code)
                log.warning("outbox item %s held: workspace %s has no usable token (%s)", item_id, item.workspace_id or "-", failure.code)
                return
            if isinstance(plan, RetryAt):
                self.queue.mark_retry(item_id, error=failure.code, due_at=plan.at)
                self.deliver_at(item_id, plan.at)
                log.warning("outbox item %s: %s, retrying at %s", item_id, failure.code, plan.at.isoformat())
                return
            self.queue.mark_failed(item_id, error=failure.code)
            self.audit.record(AuditRecord(
                at=self.clock(), actor=SYSTEM_ACTOR, action="delivery_failed", via=Via.scheduler,
                target=item.dedupe_key, team_id=item.workspace_id or None, after={"method": item.method, "error": failure.code},
            ))
            log.error("outbox item %s (%s) gave up: %s", item_id, item.method, failure.code)
            return
        self.queue.mark_sent(item_id, at=self.clock(), result={k: result[k] for k in ("channel", "ts") if k in result})
        if item.kind is not None:
            hook = self.on_delivered.get(item.kind)
            if hook is None:
                # Sent all the same; only the follow-up is missing (a kind this version does not know).
                log.error("outbox item %s: no on-delivered step for kind %r", item_id, item.kind)
                return
            hook(item, result)

    def sweep(self) -> None:
        """Deliver anything due that no date job is waiting for (e.g. a lease that expired in a crash)."""
        now = self.clock()
        self.queue.release_expired_leases(now)
        for item in self.queue.due(now):
            self.deliver(item.id)
