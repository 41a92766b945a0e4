"""`/oncall` adapter: parse the text, call the use case, render the answer."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot import oncall
from bot.blocks.help import build_help
from bot.blocks.oncall import build_my_shifts, build_schedule, build_who
from bot.command_grammar import ParsedCommand
from bot.errors import UsageError
from bot.oncall_query import ONCALL
from handlers.deps import Deps

DEFAULT_SCHEDULE_WEEKS = 2


def _schedule_args(query: ParsedCommand) -> tuple[str | None, int]:
    """Split `[team] [weeks]`: a trailing number is the weeks."""
    args = list(query.args)
    weeks = DEFAULT_SCHEDULE_WEEKS
    if args and args[-1].isdigit():
        weeks = int(args.pop())
    if len(args) > 1:
        raise UsageError("Too many words.", usage="Usage: " + ONCALL.usage("schedule"))
    return (args[0] if args else None), weeks


def register(app: App, deps: Deps) -> None:
    @app.command(ONCALL.command)
    def handle_oncall(ack: Ack, command: dict[str, Any]) -> None:
        query = ONCALL.parse(command.get("text", ""))  # UsageError → answered by handlers.replies
        workspace = command["team_id"]
        if query.name == "who":
            text, blocks = build_who(oncall.who(deps.rotations, workspace_id=workspace, team=query.args[0] if query.args else None, now=deps.clock()))
        elif query.name == "schedule":
            team, weeks = _schedule_args(query)
            text, blocks = build_schedule(oncall.schedule(deps.rotations, workspace_id=workspace, team=team, weeks=weeks, now=deps.clock()))
        elif query.name == "me":
            text, blocks = build_my_shifts(oncall.my_shifts(deps.rotations, workspace_id=workspace, user_id=command["user_id"], now=deps.clock()))
        else:
            text, blocks = build_help(ONCALL)
        ack(text=text, blocks=blocks, response_type="ephemeral")
