"""App Home adapter: publish the Home tab when a member opens it (after the ack)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.blocks.home import build_home
from bot.crisis_query import CRISIS
from bot.oncall_query import ONCALL
from handlers.deps import Deps


def register(app: App, deps: Deps) -> None:
    def ack_now(ack: Ack) -> None:
        ack()

    def publish_home(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        user_id = event["user"]
        view = build_home(user_id=user_id, is_admin=deps.admins.is_admin(user_id), grammars=(ONCALL, CRISIS))
        deps.slack.publish_home(user_id=user_id, view=view)

    app.event("app_home_opened")(ack=ack_now, lazy=[publish_home])
