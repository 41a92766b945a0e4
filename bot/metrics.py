"""Prometheus metrics of one instance: Slack requests and ack latency by surface, job lateness and failures,
outbox depth, pages sent, mentions ingested and refused, detection pass time, and whether this instance leads
the scheduler. Served at GET /metrics (bearer token).

Each runtime owns its registry (not prometheus_client's global one), so several runtimes in one process (tests)
never share or collide on counters.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, EVENT_JOB_SUBMITTED, JobEvent, JobSubmissionEvent
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from slack_bolt.middleware import Middleware
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot.audit import AuditRecord, AuditSink
from bot.mentions import IngestResult

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Slack retries after 3 s: buckets dense below that, one above to count misses.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
LATENESS_BUCKETS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)
# A pass runs every minute and after each webhook batch; 1,000 topics take about half a second (bench/detection_pass.py).
DETECTION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
PAGED = "crisis_paged"  # the audit action bot.crisis.record_page writes for every page, by any method


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
        family = GaugeMetricFamily("socialops_outbox_items", "Queued Slack calls by status (failed = gave up; held = the "
                                   "workspace uninstalled the app)", labels=["status"])
        counts = self._outbox.counts()
        for status in ("pending", "sending", "held", "sent", "failed"):
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
        self.pages = Counter("socialops_pages", "Pages sent, by method (dm, channel, ...), escalation step index (0: first page; manual: by hand) "
                             "and whether Slack took it", ["method", "step", "delivered"], registry=self.registry)
        self.mentions_ingested = Counter("socialops_mentions_ingested", "New mentions stored, by way in (webhook, slack)",
                                         ["via"], registry=self.registry)
        self.mentions_duplicate = Counter("socialops_mentions_duplicate", "Mentions already stored (re-deliveries), by way in",
                                          ["via"], registry=self.registry)
        self.mentions_rejected = Counter("socialops_mentions_rejected", "Items that could not become a mention, by way in and reason",
                                         ["via", "reason"], registry=self.registry)
        self.mention_requests_refused = Counter("socialops_mention_requests_refused",
                                                "Ingestion requests refused whole (nothing stored), by way in and reason",
                                                ["via", "reason"], registry=self.registry)
        self.detection_seconds = Histogram("socialops_detection_pass_seconds", "Time of one spike-detection pass over every topic",
                                           buckets=DETECTION_BUCKETS, registry=self.registry)
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

    def counted(self, result: IngestResult, *, via: str) -> None:
        """bot.mentions.IngestTally: what one ingestion call stored, skipped and rejected."""
        if result.accepted:
            self.mentions_ingested.labels(via).inc(result.accepted)
        if result.duplicate:
            self.mentions_duplicate.labels(via).inc(result.duplicate)
        for rejection in result.rejections:
            self.mentions_rejected.labels(via, str(rejection.kind)).inc()

    def refused(self, reason: str, *, via: str) -> None:
        self.mention_requests_refused.labels(via, reason).inc()

    def counting_pages(self, audit: AuditSink) -> AuditSink:
        """Return `audit` that also counts each page it records (every page is audited once, whoever sent it)."""
        return _CountPages(audit, self)


class _CountPages:
    def __init__(self, audit: AuditSink, metrics: Metrics) -> None:
        self._audit = audit
        self._metrics = metrics

    def record(self, entry: AuditRecord) -> None:
        self._audit.record(entry)
        if entry.action == PAGED and entry.after:
            step = entry.after.get("step")
            self._metrics.pages.labels(str(entry.after.get("method", "unknown")), "manual" if step is None else str(step),
                                       "true" if entry.after.get("delivered") else "false").inc()


class _HasMetrics(Protocol):
    metrics: Metrics | None


Result = TypeVar("Result")


def timed_detection_pass(detection_pass: Callable[..., Result]) -> Callable[..., Result]:
    """Decorate the detection pass `(ctx, ...)`: its duration goes to ctx.metrics when the runtime has metrics."""
    @functools.wraps(detection_pass)
    def run(ctx: _HasMetrics, *args: Any, **kwargs: Any) -> Result:
        started = time.perf_counter()
        result = detection_pass(ctx, *args, **kwargs)
        if ctx.metrics is not None:
            ctx.metrics.detection_seconds.observe(time.perf_counter() - started)
        return result
    return run


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
