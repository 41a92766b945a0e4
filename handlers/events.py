"""Events API adapter: drop Slack's re-deliveries, ack at once, do the work after the ack."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse

from handlers.deps import Deps


def register(app: App, deps: Deps) -> None:
    @app.middleware
    def skip_redelivered_events(body: dict[str, Any], next: Callable[[], None]) -> BoltResponse | None:  # noqa: A002 - Bolt's name
        event_id = body.get("event_id")
        if body.get("type") == "event_callback" and event_id and not deps.events.claim(event_id, at=deps.clock()):
            # A retry of something already handled (X-Slack-Retry-Num): answer 200 so Slack stops retrying.
            return BoltResponse(status=200, body="")
        next()
        return None


def register_fallbacks(app: App) -> None:
    """Register last: acknowledge message events no surface wants, so Slack does not retry them as failures."""

    @app.event("message")
    def ignore_unclaimed_message(body: dict[str, Any]) -> None:
        # Bolt answers 404 for an event no listener matches, and Slack treats that as a failed delivery.
        return None
