"""Outbox delivery (bot/flows/outbox.py): retry or give up on plain facts, and the declared on-delivered kinds run
once a call went through, without the outbox knowing what they are for."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import DeliveryFailed
from bot.flows.outbox import GiveUp, Hold, OutboxFlow, RetryAt, plan_after_failure
from bot.outbox import MAX_ATTEMPTS, OutboxItem
from bot.workspace_scope import acting_for, current_workspace
from tests.fakes.memory import MemoryAudit

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


# --- plan_after_failure ------------------------------------------------------------------------------------------


def test_a_rate_limit_is_retried_after_slacks_retry_after():
    """429 with Retry-After: 7 s → try again 7 s later."""
    assert plan_after_failure(DeliveryFailed("chat.postMessage", "ratelimited", retry_after=7), attempts=1, now=T0) == RetryAt(T0 + timedelta(seconds=7))


def test_an_outage_backs_off_exponentially():
    """A 503 without Retry-After: 5 s, 10 s, 20 s … after the 1st, 2nd, 3rd attempt."""
    failure = DeliveryFailed("chat.postMessage", "service_unavailable")
    assert [plan_after_failure(failure, attempts=n, now=T0) for n in (1, 2, 3)] == [
        RetryAt(T0 + timedelta(seconds=s)) for s in (5, 10, 20)]


@pytest.mark.parametrize("code", ["channel_not_found", "invalid_blocks", "some_new_error"])
def test_an_error_waiting_cannot_fix_gives_up_at_once(code):
    """Permanent (and unknown, non-transient) errors are final on the first attempt."""
    assert plan_after_failure(DeliveryFailed("chat.postMessage", code), attempts=1, now=T0) == GiveUp()


def test_a_transient_failure_gives_up_after_the_last_attempt():
    """The outage outlasts MAX_ATTEMPTS: give up (and leave an audit record) rather than loop for ever."""
    failure = DeliveryFailed("chat.postMessage", "service_unavailable")
    assert isinstance(plan_after_failure(failure, attempts=MAX_ATTEMPTS - 1, now=T0), RetryAt)
    assert plan_after_failure(failure, attempts=MAX_ATTEMPTS, now=T0) == GiveUp()


# --- the executor, on in-memory ports -------------------------------------------------------------------------


class MemoryQueue:
    def __init__(self) -> None:
        self.items: dict[int, OutboxItem] = {}
        self.keys: dict[str, int] = {}
        self.sent: dict[int, dict] = {}
        self.failed: dict[int, str] = {}

    def enqueue(self, *, dedupe_key, method, payload, due_at, now, kind=None, subject=None):
        if dedupe_key not in self.keys:
            item_id = len(self.items) + 1
            self.items[item_id] = OutboxItem(id=item_id, dedupe_key=dedupe_key, method=method, payload=payload, due_at=due_at,
                                             attempts=0, status="pending", kind=kind, subject=subject)
            self.keys[dedupe_key] = item_id
        return self.keys[dedupe_key]

    def claim(self, item_id, *, now, lease):
        item = self.items[item_id]
        if item.status != "pending" or item.due_at > now:
            return None
        self.items[item_id] = replace(item, status="sending", due_at=now + lease)
        return item

    def due(self, now, limit=100):
        return [i for i in self.items.values() if i.status == "pending" and i.due_at <= now][:limit]

    def release_expired_leases(self, now):
        return 0

    def mark_sent(self, item_id, *, at, result):
        self.items[item_id] = replace(self.items[item_id], status="sent")
        self.sent[item_id] = result

    def mark_retry(self, item_id, *, error, due_at):
        item = self.items[item_id]
        self.items[item_id] = replace(item, status="pending", attempts=item.attempts + 1, due_at=due_at)

    def mark_failed(self, item_id, *, error):
        self.items[item_id] = replace(self.items[item_id], status="failed")
        self.failed[item_id] = error


class Slack:
    def __init__(self, fail: DeliveryFailed | None = None) -> None:
        self.fail = fail
        self.posted: list[dict] = []

    def open_dm(self, user):
        return "D" + user

    def post_message(self, *, channel, text, blocks=None, thread_ts=None):
        if self.fail is not None:
            raise self.fail
        self.posted.append({"channel": channel, "text": text})
        return {"ok": True, "channel": channel, "ts": f"17000.{len(self.posted)}"}

    def update_message(self, **_):
        raise AssertionError("not used")

    def post_ephemeral(self, **_):
        raise AssertionError("not used")

    def call(self, method, **_):
        raise AssertionError("not used")


class Later:
    def __init__(self) -> None:
        self.jobs: dict[str, tuple[str, datetime, list]] = {}

    def at(self, func, *, job_id, when, args):
        self.jobs[job_id] = (func, when, args)


def flow(slack=None, **hooks):
    return OutboxFlow(clock=lambda: T0, queue=MemoryQueue(), slack=slack or Slack(), audit=MemoryAudit(), later=Later(), on_delivered=hooks)


def test_sending_queues_once_per_key_and_schedules_the_delivery_job():
    """The same key twice is one item; its delivery job is `outbox:{id}` at the due time."""
    outbox = flow()
    first = outbox.send(dedupe_key="k", method="dm", payload={"user": "U1", "text": "hi"}, due_at=T0 + timedelta(minutes=1))
    assert outbox.send(dedupe_key="k", method="dm", payload={"user": "U1", "text": "hi"}) == first
    assert outbox.later.jobs[f"outbox:{first}"][0:2] == ("bot.jobs:deliver_outbox_item", T0)  # the repeat re-arms it for now


def test_a_delivered_item_of_a_declared_kind_runs_that_kinds_hook_with_slacks_answer():
    """The hook gets the item (kind, subject) and the channel/ts Slack answered; the outbox itself stays ignorant of it."""
    seen = []
    outbox = flow(still_on_it=lambda item, result: seen.append((item.kind, item.subject, result["channel"], result["ts"])))
    item_id = outbox.send(dedupe_key="k", method="dm", payload={"user": "U1", "text": "Still on it?"}, kind="still_on_it",
                          subject={"crisis_id": 3, "state": "acknowledged:U1:0:2"})
    outbox.deliver(item_id)
    assert seen == [("still_on_it", {"crisis_id": 3, "state": "acknowledged:U1:0:2"}, "DU1", "17000.1")]
    assert outbox.queue.items[item_id].status == "sent"


def test_an_item_without_a_kind_runs_no_hook_and_an_unknown_kind_is_still_sent(caplog):
    """Plain items just go out; a kind this version has no hook for is sent and the missing follow-up logged."""
    seen = []
    outbox = flow(still_on_it=lambda item, result: seen.append(item.id))
    plain = outbox.send(dedupe_key="a", method="dm", payload={"user": "U1", "text": "hi"})
    stranger = outbox.send(dedupe_key="b", method="dm", payload={"user": "U1", "text": "hi"}, kind="from_the_future")
    outbox.deliver(plain)
    outbox.deliver(stranger)
    assert seen == [] and outbox.queue.items[stranger].status == "sent"
    assert "no on-delivered step for kind 'from_the_future'" in caplog.text


def test_a_transient_failure_reschedules_and_runs_no_hook_yet():
    """An outage: the item goes back to pending for later, and the hook waits for the real delivery."""
    seen = []
    outbox = flow(Slack(fail=DeliveryFailed("chat.postMessage", "service_unavailable")), still_on_it=lambda item, result: seen.append(1))
    item_id = outbox.send(dedupe_key="k", method="dm", payload={"user": "U1", "text": "hi"}, kind="still_on_it", subject={})
    outbox.deliver(item_id)
    assert outbox.queue.items[item_id].status == "pending" and seen == []
    assert outbox.later.jobs[f"outbox:{item_id}"][1] == T0 + timedelta(seconds=5)


def test_giving_up_marks_the_item_failed_with_an_audit_record():
    """A permanent error: failed, one delivery_failed audit entry naming the key, method and error."""
    outbox = flow(Slack(fail=DeliveryFailed("chat.postMessage", "channel_not_found")))
    item_id = outbox.send(dedupe_key="k", method="chat.postMessage", payload={"channel": "C1", "text": "hi"})
    outbox.deliver(item_id)
    assert outbox.queue.failed == {item_id: "channel_not_found"}
    (record,) = outbox.audit.records
    assert (record.action, record.target, record.after) == ("delivery_failed", "k", {"method": "chat.postMessage", "error": "channel_not_found"})


def test_a_claimed_item_is_not_sent_twice():
    """A second runner finds the item leased (or sent) and does nothing."""
    outbox = flow()
    item_id = outbox.send(dedupe_key="k", method="dm", payload={"user": "U1", "text": "hi"})
    outbox.deliver(item_id)
    outbox.deliver(item_id)
    assert len(outbox.slack.posted) == 1


# --- workspaces (issue 18 item 6: uninstall stops sending) ---------------------------------------------------------


@pytest.mark.parametrize("code", ["not_installed", "token_revoked", "account_inactive"])
def test_a_workspace_without_a_usable_token_holds_the_call(code):
    """Waiting will not fix it and neither will giving up: the call is kept for a reinstall."""
    assert plan_after_failure(DeliveryFailed("chat.postMessage", code), attempts=1, now=T0) == Hold()


class WorkspaceQueue(MemoryQueue):
    """The queue with the workspace column: an item belongs to the workspace acting when it was queued."""

    def __init__(self) -> None:
        super().__init__()
        self.held: dict[int, str] = {}

    def enqueue(self, **fields):
        item_id = super().enqueue(**fields)
        self.items[item_id] = replace(self.items[item_id], workspace_id=current_workspace())
        return item_id

    def hold(self, item_id, *, error):
        self.items[item_id] = replace(self.items[item_id], status="held")
        self.held[item_id] = error


class ScopeNotingSlack(Slack):
    def __init__(self, fail=None) -> None:
        super().__init__(fail)
        self.acting_for: list[str] = []

    def post_message(self, **args):
        self.acting_for.append(current_workspace())
        return super().post_message(**args)


class Stopped:
    def __init__(self, *workspaces: str) -> None:
        self.workspaces = set(workspaces)

    def is_sending(self, workspace_id):
        return workspace_id not in self.workspaces


def workspace_flow(slack, *stopped):
    return OutboxFlow(clock=lambda: T0, queue=WorkspaceQueue(), slack=slack, audit=MemoryAudit(), later=Later(), workspaces=Stopped(*stopped))


def test_each_item_is_sent_acting_for_the_workspace_that_queued_it():
    """Queued in T1, delivered from a job acting for nobody: sent with T1's scope (the gateway picks T1's token)."""
    slack = ScopeNotingSlack()
    outbox = workspace_flow(slack)
    with acting_for("T1"):
        item_id = outbox.send(dedupe_key="k", method="dm", payload={"user": "U1", "text": "hi"})
    outbox.deliver(item_id)
    assert slack.acting_for == ["T1"] and outbox.queue.items[item_id].status == "sent"


def test_an_uninstalled_workspaces_item_is_held_unsent_and_not_retried():
    """Stopped workspace: held at claim time, nothing reaches Slack, no retry job, no delivery_failed audit."""
    slack = ScopeNotingSlack()
    outbox = workspace_flow(slack, "T2")
    with acting_for("T2"):
        item_id = outbox.send(dedupe_key="k", method="dm", payload={"user": "U1", "text": "hi"})
    outbox.deliver(item_id)
    assert slack.acting_for == [] and outbox.queue.held == {item_id: "app_uninstalled"}
    outbox.sweep()  # held items are not due
    assert slack.acting_for == [] and outbox.audit.records == []


def test_a_revoked_token_holds_the_item_instead_of_failing_it():
    """Slack says token_revoked before the event arrives: the item waits for a reinstall rather than being given up."""
    outbox = workspace_flow(ScopeNotingSlack(fail=DeliveryFailed("chat.postMessage", "token_revoked")))
    with acting_for("T1"):
        item_id = outbox.send(dedupe_key="k", method="dm", payload={"user": "U1", "text": "hi"})
    outbox.deliver(item_id)
    assert outbox.queue.held == {item_id: "token_revoked"} and outbox.queue.failed == {} and outbox.audit.records == []
