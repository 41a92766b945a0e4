"""`/oncall` adapter: parse the text, call the use case, render the answer (ephemeral)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltResponse

from bot import access, burnout, oncall
from bot.access import require_admin
from bot.audit import Via
from bot.blocks.burnout import build_limits
from bot.blocks.help import build_help
from bot.blocks.oncall import (build_admins, build_confirmation, build_cover_card, build_my_shifts, build_schedule, build_swap_request, build_time_off_list,
                               build_who)
from bot.command_grammar import ParsedCommand, parse_number, parse_user, team_from_and_weeks
from bot.errors import UsageError
from bot.oncall_query import ONCALL
from bot.slack_gateway import SlackCallFailed
from bot.when import describe_range, parse_range, parse_when, parse_when_or_period, split_range
from handlers import offboarding
from handlers.app_home import refresh_team_homes
from handlers.asker import asker_zone
from handlers.calendar_feed import CalendarLinks
from handlers.acks import Answer, EphemeralAcks, IdentityMemo
from handlers.deps import Deps
from handlers.routing import Route, dispatch
from handlers.offboarding import Offboarding
from handlers.oncall_setup import TeamSetup
from handlers.reports import ReportCommands

log = logging.getLogger(__name__)
# The same `who` answer object renders to the same message while it holds (build_help is cached itself).
_rendered_who = IdentityMemo(build_who)
DEFAULT_SCHEDULE_WEEKS = 2


def _schedule_args(query: ParsedCommand) -> tuple[str | None, list[str], int]:
    return team_from_and_weeks(query.args, default=DEFAULT_SCHEDULE_WEEKS, usage="Usage: " + ONCALL.usage("schedule"))


class OncallCommand:
    """One instance per app; each method answers one subcommand."""

    def __init__(self, deps: Deps, *, setup: TeamSetup, calendar: CalendarLinks, offboarding: Offboarding) -> None:
        self.deps = deps
        self.setup = setup
        self.calendar = calendar
        self.offboarding = offboarding
        self.reports = ReportCommands(deps)
        # Subcommand name → method, and the permission it needs (checked before the method runs).
        self.routes: dict[str, Route] = {
            "who": Route(self._who),
            "schedule": Route(self._schedule),
            "me": Route(self._me),
            "help": Route(self._help),
            "cover": Route(self._cover),
            "swap": Route(self._swap),
            "away": Route(self._away),
            "back": Route(self._back),
            "pause": Route(self._pause),
            "resume": Route(self._resume),
            "override": Route(self._override, admin_only="add overrides"),
            "setup": Route(self._setup, admin_only="set up teams"),
            "calendar": Route(self._calendar),
            "limits": Route(self._limits),
            "report": Route(self._report),
            "export": Route(self._export),
            "offboard": Route(self._offboard, admin_only="offboard people"),
            "admins": Route(self._admins),  # everyone sees the list; the use cases check add/remove
        }

    def answer(self, command: dict[str, Any]) -> Answer:
        query = ONCALL.parse(command.get("text", ""))  # UsageError → answered by handlers.replies
        return dispatch(self.routes, query, command, self.deps.admins)

    def _zone(self, command: dict[str, Any]):  # noqa: ANN202 - ZoneInfo
        return asker_zone(self.deps, workspace_id=command["team_id"], user_id=command["user_id"])

    def _who(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        return _rendered_who(oncall.who(self.deps.rotations, workspace_id=command["team_id"], team=query.args[0] if query.args else None, now=self.deps.clock()))

    def _schedule(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        team, from_words, weeks = _schedule_args(query)
        now = self.deps.clock()
        start = parse_when(" ".join(from_words), tz=self._zone(command), now=now) if from_words else None
        return build_schedule(oncall.schedule(self.deps.rotations, workspace_id=command["team_id"], team=team, weeks=weeks, now=now, start=start))

    def _me(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        return build_my_shifts(oncall.my_shifts(self.deps.rotations, workspace_id=command["team_id"], user_id=command["user_id"], now=self.deps.clock()))

    def _help(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        return build_help(ONCALL)

    def _cover(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        tz, now = self._zone(command), self.deps.clock()
        start, end, note_words = split_range(query.args, tz=tz, now=now)
        request = oncall.request_cover(self.deps.rotations, self.deps.audit, workspace_id=command["team_id"], team=None,
                                       user_id=command["user_id"], start=start, end=end, note=" ".join(note_words), now=now, via=Via.slash_command)
        channel = request.team.announce_channel or command["channel_id"]
        self.deps.run_later(lambda: self._post_cover_card(request.id, channel, command["user_id"]))
        refresh_team_homes(self.deps, request.team.id)  # the team's Homes list cover they could take
        return build_confirmation(f"Cover request posted in <#{channel}> for {describe_range(request.start, request.end, tz)}. I'll tell you who takes it.")

    def _post_cover_card(self, request_id: int, channel: str, requester: str) -> None:
        request = self.deps.rotations.get_cover_request(request_id)
        assert request is not None
        text, blocks = build_cover_card(request)
        try:
            posted = self.deps.slack.post_message(channel=channel, text=text, blocks=blocks)
        except SlackCallFailed as failure:
            self.deps.outbox.send(dedupe_key=f"cover-failed:{request_id}", method="dm", payload={
                "user": requester, "text": f"I could not post your cover request in <#{channel}> ({failure.code}). Invite me to the channel and ask again."})
            return
        self.deps.rotations.set_cover_message(request_id=request_id, channel=posted["channel"], ts=posted["ts"])
        self.deps.cover_reminders.schedule_first(request_id, start=request.start)

    def _swap(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        other = parse_user(query.args[0], "Usage: " + ONCALL.usage("swap"))
        tz, now = self._zone(command), self.deps.clock()
        at, day_end = parse_when_or_period(" ".join(query.args[1:]), tz=tz, now=now)
        swap = oncall.request_swap(self.deps.rotations, self.deps.audit, workspace_id=command["team_id"], team=None,
                                   requester=command["user_id"], other=other, other_at=at, now=now, via=Via.slash_command,
                                   other_day_end=day_end)
        text, blocks = build_swap_request(swap)
        self.deps.outbox.send(dedupe_key=f"swap-request:{swap.id}", method="dm", payload={"user": other, "text": text, "blocks": blocks})
        return build_confirmation(f"Asked <@{other}> to swap; I'll tell you their answer.")

    def _away(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        tz, now = self._zone(command), self.deps.clock()
        action = query.args[0].lower()
        if action == "list" and len(query.args) == 1:
            return build_time_off_list(oncall.my_time_off(self.deps.rotations, user_id=command["user_id"], workspace_id=command["team_id"], now=now), tz)
        if action == "cancel":
            if len(query.args) != 2:
                raise UsageError("Say which one: `/oncall away cancel <id>` (`/oncall away list` shows the ids).", usage="Usage: " + ONCALL.usage("away"))
            time_off_id = parse_number(query.args[1], what="time-off id", usage="Usage: " + ONCALL.usage("away"))
            cancelled = oncall.cancel_time_off(self.deps.rotations, self.deps.audit, user_id=command["user_id"], workspace_id=command["team_id"],
                                               time_off_id=time_off_id, now=now, via=Via.slash_command)
            ended = "ended now" if cancelled.start < now else "cancelled"
            return build_confirmation(f"Time off #{cancelled.id} ({describe_range(cancelled.start, cancelled.end, tz)}) {ended}.")
        start, end = parse_range(query.args, tz=tz, now=now)
        time_off_id = oncall.go_away(self.deps.rotations, self.deps.audit, user_id=command["user_id"], workspace_id=command["team_id"],
                                     start=start, end=end, now=now, via=Via.slash_command)
        return build_confirmation(f"Time off #{time_off_id} recorded: {describe_range(start, end, tz)}. Every rotation skips you then; "
                                  f"`/oncall back` ends it early, `/oncall away cancel {time_off_id}` cancels it.")

    def _back(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        ended = oncall.come_back(self.deps.rotations, self.deps.audit, user_id=command["user_id"], workspace_id=command["team_id"], now=self.deps.clock(), via=Via.slash_command)
        return build_confirmation("Welcome back: your time off ended now." if ended else "You are not on time off right now.")

    def _pause(self, query: ParsedCommand, command: dict[str, Any], paused: bool = True) -> Answer:
        target = parse_user(query.args[0], "Usage: " + ONCALL.usage("pause" if paused else "resume")) if query.args else command["user_id"]
        if target != command["user_id"]:
            require_admin(self.deps.admins, command["user_id"], action=f"{'pause' if paused else 'resume'} someone else")
        teams = oncall.set_paused(self.deps.rotations, self.deps.audit, actor=command["user_id"], workspace_id=command["team_id"],
                                  user_id=target, paused=paused, now=self.deps.clock(), via=Via.slash_command)
        state = "paused (kept in the roster, skipped)" if paused else "back in the rotation"
        return build_confirmation(f"<@{target}> is {state} in {', '.join(teams)}.")

    def _resume(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        return self._pause(query, command, paused=False)

    def _override(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        who = parse_user(query.args[0], "Usage: " + ONCALL.usage("override"))
        tz, now = self._zone(command), self.deps.clock()
        start, end, rest = split_range(query.args[1:], tz=tz, now=now)
        if len(rest) > 1:
            raise UsageError("Too many words after the dates.", usage="Usage: " + ONCALL.usage("override"))
        team = oncall.add_override(self.deps.rotations, self.deps.audit, actor=command["user_id"], workspace_id=command["team_id"],
                                   team=rest[0] if rest else None, user_id=who, start=start, end=end, now=now, via=Via.slash_command)
        return build_confirmation(f"<@{who}> is primary for *{team.name}* {describe_range(start, end, tz)}.")

    def _setup(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        return self.setup.open(command, team=query.args[0] if query.args else None)

    def _calendar(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        return self.calendar.answer(command, team=query.args[0] if query.args else None)

    def _limits(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        team_name, changes = burnout.parse_limit_args(query.args, usage="Usage: " + ONCALL.usage("limits"))
        team = oncall.pick_team(self.deps.rotations, command["team_id"], team_name).team
        if not changes:
            return build_limits(team, self.deps.burnout.limits(team.id))
        require_admin(self.deps.admins, command["user_id"], action="change burnout limits")
        before, after = burnout.change_limits(self.deps.burnout, self.deps.audit, team=team, actor=command["user_id"], changes=changes,
                                              now=self.deps.clock(), via=Via.slash_command)
        return build_limits(team, after, before=before)

    def _report(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        return self.reports.report(query, command)

    def _export(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        return self.reports.export(query, command)

    def _admins(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        usage = "Usage: " + ONCALL.usage("admins")
        if not query.args:
            return build_admins(access.list_admins(self.deps.admins))
        action = query.args[0].lower()
        if action not in ("add", "remove") or len(query.args) != 2:
            raise UsageError("Say `add @who` or `remove @who`, or nothing to see the admins.", usage=usage)
        who = parse_user(query.args[1], usage)
        change = access.grant_admin if action == "add" else access.revoke_admin
        return build_admins(change(self.deps.admins, self.deps.audit, actor=command["user_id"], user_id=who,
                                   workspace_id=command["team_id"], now=self.deps.clock(), via=Via.slash_command))

    def _offboard(self, query: ParsedCommand, command: dict[str, Any]) -> Answer:
        who = parse_user(query.args[0], "Usage: " + ONCALL.usage("offboard"))
        return self.offboarding.offboard(actor=command["user_id"], workspace_id=command["team_id"], user_id=who, via=Via.slash_command)


def register(app: App, deps: Deps) -> None:
    offboarder = Offboarding(deps)
    command_handler = OncallCommand(deps, setup=TeamSetup(deps), calendar=CalendarLinks(deps), offboarding=offboarder)

    # Registered before the offboarding listeners: Bolt tries listeners in order, and this is the hot one.
    ack_with = EphemeralAcks()

    @app.command(ONCALL.command)
    def handle_oncall(command: dict[str, Any]) -> BoltResponse:
        return ack_with(command_handler.answer(command))  # the ack itself (handlers.acks)

    offboarding.register(app, deps, offboarder)
