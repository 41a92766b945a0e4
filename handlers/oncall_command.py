"""`/oncall` adapter: parse the text, call the use case, render the answer."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.blocks.help import build_help
from bot.oncall_query import ONCALL
from handlers.deps import Deps


def register(app: App, deps: Deps) -> None:
    @app.command(ONCALL.command)
    def handle_oncall(ack: Ack, command: dict[str, Any]) -> None:
        query = ONCALL.parse(command.get("text", ""))  # UsageError → answered by handlers.replies
        if query.name == "help":
            text, blocks = build_help(ONCALL)
            ack(text=text, blocks=blocks, response_type="ephemeral")
