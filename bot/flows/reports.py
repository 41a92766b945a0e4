"""Weekly reports and end-of-shift check-ins after the ack: each once per team handoff (its key is the job id, the
ledger run key and the outbox dedupe key at once), skipped when too late, the report's charts uploaded under it.

The figures are bot/reports.py's and bot/shift_checkin.py's; this is the executor on ports. (The planner that gives
each handoff its jobs is still bot/jobs.py's plan_report_events.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.access import AdminDirectory
from bot.blocks.report import build_checkin_question, build_report as build_report_blocks
from bot.flows.ports import Later, RunLedger
from bot.flows.uploads import Uploader
from bot.oncall import TeamRotation
from bot.reports import ReportDelivery, ReportSource, build_report, report_period, weekly_report_weeks
from bot.rotation import ScheduleIndex
from bot.shift_checkin import CHECKIN_LATE_LIMIT, Checkin, ending_shift

CHECKIN_JOB = "bot.jobs:run_shift_checkin"
REPORT_JOB = "bot.jobs:run_weekly_report"
REPORT_DELAY = timedelta(minutes=5)  # the report follows the handoff announcement rather than racing it
REPORT_LATE_LIMIT = timedelta(hours=24)  # a report this late (a long outage) is skipped; /oncall report still answers


def report_job_key(kind: str, team_id: int, handoff: datetime) -> str:
    """Return 'checkin:7:20261130T080000Z' or 'report:7:…': job ID, ledger run key and outbox dedupe key at once."""
    return f"{kind}:{team_id}:{handoff.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def report_key_parts(key: str) -> tuple[int, datetime]:
    """Return the team and handoff a report_job_key names."""
    _, team_id, stamp = key.split(":")
    return int(team_id), datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


class ReportFacts(ReportSource, Protocol):
    """Report figures, each team's delivery setting, and check-ins (storage/reports.py)."""

    def report_delivery(self, team_id: int) -> ReportDelivery: ...
    def create_checkin(self, *, team_id: int, user_id: str, shift_start: datetime, shift_end: datetime, now: datetime) -> Checkin: ...


class RotationSource(Protocol):
    def load_rotation_by_id(self, team_id: int) -> TeamRotation | None: ...


class DeliveringOutbox(Protocol):
    """The outbox, asked to deliver an item at once (bot/flows/outbox.py:OutboxFlow)."""

    def send(self, *, dedupe_key: str, method: str, payload: dict[str, Any], due_at: datetime | None = None,
             kind: str | None = None, subject: dict[str, Any] | None = None) -> int: ...
    def deliver(self, item_id: int) -> None: ...


@dataclass(frozen=True)
class WeeklyReports:
    clock: Callable[[], datetime]
    store: ReportFacts
    rotations: RotationSource
    ledger: RunLedger
    admins: AdminDirectory
    outbox: DeliveringOutbox
    uploader: Uploader
    later: Later

    def run_checkin(self, key: str) -> None:
        """DM the primary whose shift ended at the handoff "How heavy was this shift?" (1-5); once per team handoff."""
        now = self.clock()
        if self.ledger.has_run(key):
            return
        team_id, handoff = report_key_parts(key)
        if now < handoff:
            self.later.at(CHECKIN_JOB, job_id=key, when=handoff, args=[key])
            return
        rotation = self.rotations.load_rotation_by_id(team_id)
        if rotation is None or now - handoff >= CHECKIN_LATE_LIMIT:
            return
        ending = ending_shift(ScheduleIndex(rotation.spec, rotation.layers), handoff)
        if ending is not None:
            # The row is unique per team handoff, so a run repeated after a crash asks about the same check-in.
            checkin = self.store.create_checkin(team_id=team_id, user_id=ending.user_id, shift_start=ending.start, shift_end=handoff, now=now)
            text, blocks = build_checkin_question(checkin)
            self.outbox.send(dedupe_key=key, method="dm", payload={"user": checkin.user_id, "text": text, "blocks": blocks})
        self.ledger.claim(key, at=now)

    def run_report(self, key: str) -> None:
        """Post the team's report for the weeks up to the handoff, with its charts, where the team's setting says; once."""
        now = self.clock()
        if self.ledger.has_run(key):
            return
        team_id, handoff = report_key_parts(key)
        if now < handoff + REPORT_DELAY:
            self.later.at(REPORT_JOB, job_id=key, when=handoff + REPORT_DELAY, args=[key])
            return
        rotation = self.rotations.load_rotation_by_id(team_id)
        if rotation is None or now - handoff - REPORT_DELAY >= REPORT_LATE_LIMIT:
            return
        delivery = self.store.report_delivery(team_id)
        if delivery is not ReportDelivery.off:
            self.post_report(rotation, handoff, delivery=delivery, key=key)
        self.ledger.claim(key, at=now)

    def post_report(self, rotation: TeamRotation, handoff: datetime, *, delivery: ReportDelivery, key: str) -> None:
        """Post the report for the weeks up to `handoff` and its charts; `key` makes each message and upload go out once."""
        if delivery is ReportDelivery.off:
            return
        index = ScheduleIndex(rotation.spec, rotation.layers)
        period = report_period(handoff, tz=rotation.team.tz, weeks=weekly_report_weeks(index))
        report = build_report(self.store.report_inputs(rotation, period), period)
        text, blocks = build_report_blocks(report)
        channel = rotation.team.announce_channel if delivery is ReportDelivery.channel else None
        targets = [("channel", channel)] if channel else [(admin, None) for admin in self.admins.admin_ids()]
        charts = self.uploader.report_charts(report) if targets else []  # rendered once for every destination
        for name, target in targets:
            item_key = f"{key}:{name}"
            if target is not None:
                item = self.outbox.send(dedupe_key=item_key, method="chat.postMessage", payload={"channel": target, "text": text, "blocks": blocks})
            else:
                item = self.outbox.send(dedupe_key=item_key, method="dm", payload={"user": name, "text": text, "blocks": blocks})
            self.outbox.deliver(item)  # now, so the charts land under the report (the outbox still retries on failure)
            # Each chart has its own key: a rerun after a crash, or a retry after an outage, uploads only the missing ones.
            self.uploader.upload_charts(charts, key=f"{item_key}:charts", channel=target, user=None if target else name,
                                        workspace_id=rotation.team.workspace_id)
