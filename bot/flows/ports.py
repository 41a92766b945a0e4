"""Ports: what handlers and flows ask of the work that runs after the ack; the runtime plugs in the adapters (bot/jobs.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.reports import TeamReport


@dataclass(frozen=True)
class FileUpload:
    """One file to upload once: `key` is its ledger run key (and retry job id); to `channel`, else to `user`'s DM."""

    key: str
    filename: str
    content: bytes
    title: str
    channel: str | None = None
    user: str | None = None
    workspace_id: str | None = None  # whose token uploads it, and the audit entry's workspace when it fails for good

    def as_job_args(self) -> dict[str, Any]:
        """Return the upload as the plain arguments a persisted retry job carries."""
        return {"key": self.key, "filename": self.filename, "content": self.content, "title": self.title, "channel": self.channel,
                "user": self.user, "workspace_id": self.workspace_id}


class OutboxSender(Protocol):
    """Queue one Web API call for delivery now or at `due_at`, retried on transient failures; one delivery per key.

    `kind` names the step to run once it is delivered (a hook the runtime plugs into bot.flows.outbox), with `subject`.
    """

    def send(self, *, dedupe_key: str, method: str, payload: dict[str, Any], due_at: datetime | None = None,
             kind: str | None = None, subject: dict[str, Any] | None = None) -> int: ...


class CrisisFollowUps(Protocol):
    """What a crisis change sets going: refresh the card and Homes, run the paging chain, page one person by hand."""

    def after_change(self, crisis_id: int) -> None: ...
    def start_chain(self, crisis_id: int) -> None: ...
    def refresh_card(self, crisis_id: int) -> None: ...
    def page_person(self, crisis_id: int, user_id: str, actor: str) -> bool: ...


class HandoverFollowUps(Protocol):
    """What a saved handover note sets going: the handoff messages already sent are edited to show it."""

    def handover_note_saved(self, team_id: int, handoff: datetime) -> None: ...


class CoverReminders(Protocol):
    """Plan the first reminder of a freshly posted cover request."""

    def schedule_first(self, request_id: int, *, start: datetime) -> None: ...


class Uploads(Protocol):
    """Upload files once each, surviving a Slack outage (retried later, audited when given up)."""

    def upload_files(self, uploads: list[FileUpload]) -> bool: ...
    def upload_report_charts(self, report: TeamReport, *, key: str, user: str | None = None,
                             workspace_id: str | None = None) -> bool: ...


class MentionsStored(Protocol):
    """Told after a write stored new mentions, so a spike is detected (and paged) in seconds, not at the next pass."""

    def after_stored(self) -> None: ...


class Messenger(Protocol):
    """Slack's messaging calls the flows make directly (the gateway); each raises bot.errors.DeliveryFailed."""

    def post_message(self, *, channel: str, text: str, blocks: list[dict[str, Any]] | None = None,
                     thread_ts: str | None = None) -> dict[str, Any]: ...
    def update_message(self, *, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]: ...
    def open_dm(self, user: str) -> str: ...


class Later(Protocol):
    """Run the job `func` (a text reference such as "bot.jobs:check_still_on_it") with `args` at `when`; one job per `job_id`."""

    def at(self, func: str, *, job_id: str, when: datetime, args: list[Any]) -> None: ...


class RunLedger(Protocol):
    """Run keys claimed once each (storage/job_runs.py)."""

    def claim(self, run_key: str, *, at: datetime) -> bool: ...
    def has_run(self, run_key: str) -> bool: ...


def instant_key(at: datetime) -> str:
    """Write an instant into a job id or run key ("20261124T020000000000Z"): UTC, sortable, microseconds kept."""
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
