"""`/crisis` adapter: parse the text, call the use case, render the answer."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot import mentions
from bot.audit import Via
from bot.blocks.help import build_help
from bot.blocks.mentions import build_sources_answer
from bot.crisis_query import CRISIS, parse_sources
from handlers.deps import Deps


def register(app: App, deps: Deps) -> None:
    @app.command(CRISIS.command)
    def handle_crisis(ack: Ack, command: dict[str, Any]) -> None:
        query = CRISIS.parse(command.get("text", ""))
        if query.name == "help":
            text, blocks = build_help(CRISIS)
            ack(text=text, blocks=blocks, response_type="ephemeral")
        elif query.name == "sources":
            answer = mentions.configure_sources(
                deps.mentions, parse_sources(query.args), workspace_id=command["team_id"], actor=command["user_id"],
                admins=deps.admins, audit=deps.audit, via=Via.slash_command, now=deps.clock(),
            )
            text, blocks = build_sources_answer(answer)
            ack(text=text, blocks=blocks, response_type="ephemeral")
