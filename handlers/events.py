"""Events API adapter: drop Slack's re-deliveries, ack at once, do the work after the ack."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

from handlers.deps import Deps


class SkipRedeliveredEvents(Middleware):
    """Answer 200 to a re-delivered event (same event_id) without running its listeners again.

    A Middleware subclass rather than a decorated function: Bolt then skips its per-request argument
    injection, which costs more than this check on every slash command (bench/ack.py).
    """

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse | None:  # noqa: A002 - Bolt's name
        body = req.body
        event_id = body.get("event_id")
        if body.get("type") == "event_callback" and event_id and not self.deps.events.claim(event_id, at=self.deps.clock()):
            # A retry of something already handled (X-Slack-Retry-Num): answer 200 so Slack stops retrying.
            return BoltResponse(status=200, body="")
        return next()


def register(app: App, deps: Deps) -> None:
    app.use(SkipRedeliveredEvents(deps))


def register_fallbacks(app: App) -> None:
    """Register last: acknowledge message events no surface wants, so Slack does not retry them as failures."""

    @app.event("message")
    def ignore_unclaimed_message(body: dict[str, Any]) -> None:
        # Bolt answers 404 for an event no listener matches, and Slack treats that as a failed delivery.
        return None
