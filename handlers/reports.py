"""`/oncall report`, `/oncall export` and the end-of-shift check-in buttons.

The report answers ephemerally; its three PNG charts go to the caller's DM (an ephemeral reply cannot carry files,
and a DM keeps them out of the team's channel). Exports are admins-only and arrive in the admin's DM as four CSVs.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import Ack, App, Respond

from bot import reports
from bot.access import require_admin
from bot.audit import AuditRecord, Via
from bot.flows.uploads import FileUpload
from bot.blocks.oncall import build_confirmation
from bot.blocks.report import ReportActions, build_charts_note, build_checkin_question, build_delivery_changed, build_report
from bot.command_grammar import ParsedCommand, team_and_weeks
from bot.errors import UsageError
from bot.export import write_csvs
from bot.oncall import pick_team
from bot.oncall_query import ONCALL
from bot.shift_checkin import answer_checkin, parse_score
from bot.when import describe_range, parse_range
from handlers.after_ack import refusals_to_presser
from handlers.asker import asker_zone
from handlers.deps import Deps
from handlers.replies import pressed_message, update_or_queue

log = logging.getLogger(__name__)
Answer = tuple[str, list[dict[str, Any]]]
DEFAULT_EXPORT_DAYS = 30
MAX_EXPORT_DAYS = 366
_CHECKIN_ACTION = re.compile(rf"^{ReportActions.checkin_score}-[1-5]$")


class ReportCommands:
    """The `/oncall report` and `/oncall export` subcommands (OncallCommand hands them over)."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def report(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        args = list(query.args)
        if args and args[0].lower() == "settings":
            return self._settings(args[1:], command)
        team, weeks = team_and_weeks(args, default=1, usage="Usage: " + ONCALL.usage("report"))
        report = reports.team_report(self.deps.rotations, self.deps.reports, workspace_id=command["team_id"], team=team,
                                     weeks=weeks, now=self.deps.clock())
        user_id, workspace_id, asked_at = command["user_id"], command["team_id"], self.deps.clock()
        self.deps.run_later(lambda: self._send_charts(report, user_id, workspace_id, asked_at))
        text, blocks = build_report(report)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": build_charts_note("sent to you by DM")}]})
        return text, blocks

    def _send_charts(self, report: reports.TeamReport, user_id: str, workspace_id: str, asked_at: datetime) -> None:
        # Keyed by the request, so an outage retries these charts later (see bot.flows.ports.Uploads) and a new request sends new ones.
        self.deps.uploads.upload_report_charts(report, key=f"report-charts:{user_id}:{asked_at:%Y%m%dT%H%M%S%f}", user=user_id,
                                  workspace_id=workspace_id)

    def _settings(self, args: list[str], command: dict[str, Any]) -> Answer:
        usage = reports.SETTINGS_USAGE
        if len(args) > 2:
            raise UsageError("Too many words.", usage=usage)
        if not args:
            raise UsageError("Where should the weekly report go?", usage=usage)
        delivery = reports.parse_delivery(args[0])
        rotation = pick_team(self.deps.rotations, command["team_id"], args[1] if len(args) > 1 else None)
        reports.change_delivery(self.deps.reports, self.deps.audit, self.deps.admins, team=rotation.team, delivery=delivery,
                                user_id=command["user_id"], now=self.deps.clock(), via=Via.slash_command)
        return build_delivery_changed(rotation.team.name, delivery)

    def export(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        user_id = command["user_id"]
        require_admin(self.deps.admins, user_id, action="export records")
        tz, now = asker_zone(self.deps, workspace_id=command["team_id"], user_id=user_id), self.deps.clock()
        if query.args:
            start, end = parse_range(query.args, tz=tz, now=now)
        else:
            start, end = now - timedelta(days=DEFAULT_EXPORT_DAYS), now
        if end - start > timedelta(days=MAX_EXPORT_DAYS):
            raise UsageError(f"Export at most {MAX_EXPORT_DAYS} days at a time.", usage="Usage: " + ONCALL.usage("export"))
        self.deps.audit.record(AuditRecord(at=now, actor=user_id, action="records_exported", via=Via.slash_command,
                                           target=f"workspace:{command['team_id']}", team_id=command["team_id"],
                                           after={"from": start.isoformat(), "to": end.isoformat()}))
        workspace = command["team_id"]
        self.deps.run_later(lambda: self._send_export(workspace, user_id, start, end, now))
        return build_confirmation(f"Exporting crises, pages, acknowledgements and the audit trail for {describe_range(start, end, tz)}: "
                                  "four CSV files are on their way to your DM.")

    def _send_export(self, workspace_id: str, user_id: str, start: datetime, end: datetime, asked_at: datetime) -> None:
        files = write_csvs(self.deps.reports.export(start=start, end=end, workspace_id=workspace_id))
        request = f"export:{user_id}:{asked_at:%Y%m%dT%H%M%S%f}"
        uploads = [FileUpload(key=f"{request}:{name}", filename=f"socialops-{name.removesuffix('.csv')}-{start:%Y%m%d}-{end:%Y%m%d}.csv",
                                   content=text.encode(), title=f"socialops {name.removesuffix('.csv')} {start:%Y-%m-%d} → {end:%Y-%m-%d}",
                                   user=user_id, workspace_id=workspace_id) for name, text in files.items()]
        self.deps.uploads.upload_files(uploads)  # a Slack outage retries later; a refusal is audited and the admin told by DM


def register(app: App, deps: Deps) -> None:
    @app.action(_CHECKIN_ACTION)
    @refusals_to_presser(deps, key="checkin-refused")
    def rate_shift(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        user_id = body["user"]["id"]
        checkin_id, score = parse_score(action["value"])
        checkin = answer_checkin(deps.reports, deps.audit, checkin_id=checkin_id, user_id=user_id, score=score, now=deps.clock(), via=Via.button)
        text, blocks = build_checkin_question(checkin)
        # The question is updated in place: the chosen number highlighted, and a thank-you under it. An answer can be
        # changed, so each press queues under its own key.
        key = f"checkin-card:{checkin.id}:{deps.clock():%Y%m%dT%H%M%S%f}"
        deps.run_later(lambda: update_or_queue(deps, *pressed_message(body), text=text, blocks=blocks, dedupe_key=key))
