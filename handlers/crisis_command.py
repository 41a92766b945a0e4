"""`/crisis` adapter: parse the text, call the use case, render the answer."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.blocks.help import build_help
from bot.crisis_query import CRISIS
from handlers.deps import Deps


def register(app: App, deps: Deps) -> None:
    @app.command(CRISIS.command)
    def handle_crisis(ack: Ack, command: dict[str, Any]) -> None:
        query = CRISIS.parse(command.get("text", ""))
        if query.name == "help":
            text, blocks = build_help(CRISIS)
            ack(text=text, blocks=blocks, response_type="ephemeral")
