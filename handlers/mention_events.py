"""Slack channel listener: messages a listening tool posts in a configured channel become mentions."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App

from bot import mentions
from handlers.deps import Deps

log = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    def in_listening_channel(event: dict[str, Any]) -> bool:
        # A matcher, not an if in the listener: Bolt runs only the first matching listener, so other
        # surfaces' message listeners still get every message outside listening channels.
        channel = event.get("channel")
        return isinstance(channel, str) and deps.mentions.listening_channel(channel) is not None

    @app.event("message", matchers=[in_listening_channel])
    def handle_listening_message(event: dict[str, Any]) -> None:
        channel = deps.mentions.listening_channel(event["channel"])
        if channel is None:  # removed between the matcher and now
            return
        result = mentions.ingest_slack_message(deps.mentions, event, channel=channel,
                                               analyser=mentions.default_analyser(), now=deps.clock())
        deps.mention_tally.counted(result, via="slack")
        if result.accepted:
            deps.mentions_stored.after_stored()
        for rejection in result.rejections:
            log.info("message %s in %s is not a mention: %s", event.get("ts"), channel.channel_id, rejection.reason)
