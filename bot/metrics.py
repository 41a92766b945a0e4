"""Prometheus metrics of one instance: Slack requests and ack latency by surface, job lateness and failures,
outbox depth, and whether this instance leads the scheduler. Served at GET /metrics (bearer token).

Each runtime owns its registry (not prometheus_client's global one), so several runtimes in one process (tests)
never share or collide on counters.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Protocol

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, EVENT_JOB_SUBMITTED, JobEvent, JobSubmissionEvent
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from slack_bolt.middleware import Middleware
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Slack retries after 3 s: buckets dense below that, one above to count misses.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
LATENESS_BUCKETS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)


class OutboxCounts(Protocol):
    def counts(self) -> dict[str, int]: ...


def surface_of(body: dict) -> str:
    """A bounded label for a Slack request: the slash command, the interaction type, or event:<type>."""
    if "command" in body:
        return str(body["command"])
    kind = str(body.get("type", "unknown"))
    if kind == "event_callback":
        return f"event:{body.get('event', {}).get('type', 'unknown')}"
    return kind


def job_kind(job_id: str) -> str:
    """A job id without its instance parts: `escalate:12:3` -> `escalate`, `outbox:sweep` stays `outbox:sweep`."""
    kept = []
    for part in job_id.split(":"):
        if any(character.isdigit() for character in part):
            break
        kept.append(part)
    return ":".join(kept) or "job"


class _OutboxCollector(Collector):
    def __init__(self, outbox: OutboxCounts) -> None:
        self._outbox = outbox

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("socialops_outbox_items", "Queued Slack calls by status (failed = gave up)", labels=["status"])
        counts = self._outbox.counts()
        for status in ("pending", "sending", "sent", "failed"):
            family.add_metric([status], counts.get(status, 0))
        yield family


class Metrics:
    """This instance's metrics and the hooks that feed them."""

    def __init__(self, *, outbox: OutboxCounts, is_leader: Callable[[], bool]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("socialops_slack_requests", "Slack requests by surface", ["surface"], registry=self.registry)
        self.ack_seconds = Histogram("socialops_ack_seconds", "Time to answer a Slack request, by surface", ["surface"],
                                     buckets=ACK_BUCKETS, registry=self.registry)
        self.job_lateness = Histogram("socialops_job_lateness_seconds", "Seconds a scheduled job started after it was due",
                                      ["job"], buckets=LATENESS_BUCKETS, registry=self.registry)
        self.job_failures = Counter("socialops_job_failures", "Scheduled jobs that raised or missed their grace time",
                                    ["job", "outcome"], registry=self.registry)
        leader = Gauge("socialops_scheduler_leader", "1 while this instance runs the scheduler, 0 on standby", registry=self.registry)
        leader.set_function(lambda: 1.0 if is_leader() else 0.0)
        self.registry.register(_OutboxCollector(outbox))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def on_job_event(self, event: JobEvent) -> None:
        """APScheduler listener: lateness when a job is handed to an executor, failures when it raises or is missed."""
        kind = job_kind(event.job_id)
        if isinstance(event, JobSubmissionEvent):
            now = datetime.now(UTC)
            for due in event.scheduled_run_times:
                self.job_lateness.labels(kind).observe(max(0.0, (now - due).total_seconds()))
        elif event.code == EVENT_JOB_ERROR:
            self.job_failures.labels(kind, "error").inc()
        elif event.code == EVENT_JOB_MISSED:
            self.job_failures.labels(kind, "missed").inc()

    JOB_EVENTS = EVENT_JOB_SUBMITTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED


class TimeSlackRequests(Middleware):
    """Count every Slack request and time it to the answer (acks are sent after the listener: process_before_response)."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse | None:  # noqa: A002 - Bolt's name
        started = time.perf_counter()
        try:
            return next()
        finally:
            surface = surface_of(req.body)
            self._metrics.requests.labels(surface).inc()
            self._metrics.ack_seconds.labels(surface).observe(time.perf_counter() - started)
