"""File uploads that survive a Slack outage (report charts, exports): each file once (a ledger key), a transient
failure retried with the outbox's backoff and attempt limit, anything else given up, audited and told to the asker."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.audit import SYSTEM_ACTOR, AuditRecord, AuditSink, Via
from bot.errors import DeliveryFailed
from bot.flows.outbox import RetryAt, plan_after_failure
from bot.flows.ports import FileUpload, Later, OutboxSender, RunLedger
from bot.report_chart import Chart, report_charts
from bot.reports import TeamReport
from bot.workspace_scope import acting_for

__all__ = ["FileUpload", "Uploader"]

log = logging.getLogger(__name__)

RETRY_JOB = "bot.jobs:retry_file_upload"


class FileSlack(Protocol):
    """The Slack calls an upload makes (the gateway)."""

    def open_dm(self, user: str) -> str: ...
    def upload_file(self, *, channel: str, filename: str, content: bytes, title: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Uploader:
    clock: Callable[[], datetime]
    ledger: RunLedger
    slack: FileSlack
    audit: AuditSink
    outbox: OutboxSender
    later: Later
    display_name: Callable[[str], str]  # a person's Slack name (their ID when Slack cannot say), for chart labels

    def upload_files(self, uploads: list[FileUpload]) -> bool:
        """Upload each file not uploaded yet; return whether all are up (the others retry later or were given up and audited)."""
        return all([self.upload_once(upload, attempt=1) for upload in uploads])

    def upload_once(self, upload: FileUpload, *, attempt: int) -> bool:
        """Upload the file unless its key has run; False when it waits for a retry or was given up."""
        if self.ledger.has_run(upload.key):
            return True
        try:
            with acting_for(upload.workspace_id):  # its workspace's token, wherever the retry job runs
                channel = upload.channel or self.slack.open_dm(upload.user or "")
                self.slack.upload_file(channel=channel, filename=upload.filename, content=upload.content, title=upload.title)
        except DeliveryFailed as failure:
            plan = plan_after_failure(failure, attempts=attempt, now=self.clock())
            if isinstance(plan, RetryAt):
                self.later.at(RETRY_JOB, job_id=f"upload:{upload.key}", when=plan.at, args=[upload.as_job_args(), attempt + 1])
                log.warning("upload %s: %s, retrying at %s", upload.key, failure.code, plan.at.isoformat())
            else:
                self.audit.record(AuditRecord(at=self.clock(), actor=SYSTEM_ACTOR, action="upload_failed", via=Via.scheduler,
                                              target=upload.key, team_id=upload.workspace_id,
                                              after={"filename": upload.filename, "error": failure.code, "attempts": attempt}))
                log.error("upload %s gave up after %s attempt(s): %s", upload.key, attempt, failure.code)
                if upload.user:
                    self.outbox.send(dedupe_key=f"upload-failed:{upload.key}", method="dm",
                                     payload={"user": upload.user, "text": f"I could not upload {upload.filename} ({failure.code}). Please ask again."})
            return False
        self.ledger.claim(upload.key, at=self.clock())
        return True

    def upload_charts(self, charts: Sequence[Chart], *, key: str, channel: str | None = None, user: str | None = None,
                      workspace_id: str | None = None) -> bool:
        """Upload each chart once (its own ledger key under `key`) to `channel` or `user`'s DM; False if one must wait for a retry."""
        return self.upload_files([FileUpload(key=f"{key}:{chart.filename}", filename=chart.filename, content=chart.png, title=chart.title,
                                             channel=channel, user=user, workspace_id=workspace_id) for chart in charts])

    def upload_report_charts(self, report: TeamReport, *, key: str, channel: str | None = None, user: str | None = None,
                             workspace_id: str | None = None) -> bool:
        """Render the report's three PNG charts and upload each once to `channel` or `user`'s DM."""
        return self.upload_charts(self.report_charts(report), key=key, channel=channel, user=user, workspace_id=workspace_id)

    def report_charts(self, report: TeamReport) -> list[Chart]:
        """Render the report's charts, people labelled by their Slack names."""
        return report_charts(report, self.display_name)
