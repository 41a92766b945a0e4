"""Events API adapter: drop Slack's re-deliveries, ack at once, do the work after the ack."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

from bot import installs
from bot.audit import SYSTEM_ACTOR, AuditRecord, Via
from bot.oncall_query import ONCALL
from bot.blocks.help import build_help
from handlers.deps import Deps

# What a workspace-level event means for the audit trail (data is kept; an admin reinstalls to resume).
WORKSPACE_EVENTS = {"app_uninstalled": "app_uninstalled", "tokens_revoked": "tokens_revoked", "team_join": "member_joined"}


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

    @app.event("app_mention")
    def answer_mention(event: dict[str, Any]) -> None:
        # Someone @-mentioned the bot: answer in the thread with the commands it understands (queued: survives an outage).
        text, blocks = build_help(ONCALL)
        thread = event.get("thread_ts") or event.get("ts")
        deps.outbox.send(dedupe_key=f"app-mention:{event.get('channel')}:{event.get('ts')}", method="chat.postMessage",
                         payload={"channel": event["channel"], "thread_ts": thread, "text": text, "blocks": blocks})

    def record_workspace_event(body: dict[str, Any], event: dict[str, Any]) -> None:
        user = event.get("user")
        target = user.get("id", "") if isinstance(user, dict) else str(body.get("team_id", ""))
        deps.audit.record(AuditRecord(
            at=deps.clock(), actor=SYSTEM_ACTOR, action=WORKSPACE_EVENTS[event["type"]], via=Via.event, target=target,
            team_id=body.get("team_id"), after={key: event[key] for key in ("tokens",) if key in event} or None,
        ))

    def stop_sending(body: dict[str, Any], event: dict[str, Any]) -> None:
        # Slack took the app (or its bot token) away: nothing more goes there; teams, crises and audit stay.
        workspace_id = body.get("team_id") or ""
        tokens = event.get("tokens")
        if not workspace_id or (event["type"] == "tokens_revoked" and not installs.bot_tokens_revoked(tokens)):
            record_workspace_event(body, event)  # only user tokens went: sending is unaffected
            return
        installs.stop_sending(deps.workspaces, deps.audit, workspace_id=workspace_id, reason=installs.StopReason(event["type"]),
                              detail={"tokens": tokens} if tokens else None, via=Via.event, now=deps.clock())

    for name in WORKSPACE_EVENTS:
        app.event(name)(stop_sending if name in installs.StopReason.__members__ else record_workspace_event)


def register_fallbacks(app: App) -> None:
    """Register last: acknowledge message events no surface wants, so Slack does not retry them as failures."""

    @app.event("message")
    def ignore_unclaimed_message(body: dict[str, Any]) -> None:
        # Bolt answers 404 for an event no listener matches, and Slack treats that as a failed delivery.
        return None
