"""The one error handler: product errors become ephemeral replies, unknown ones get an error id."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from slack_bolt import App, BoltResponse, Respond

from bot.blocks.help import build_usage
from bot.errors import SocialopsError, UsageError
from bot.slack_gateway import SlackCallFailed
from handlers.deps import Deps

log = logging.getLogger(__name__)
JSON_HEADERS = {"content-type": "application/json;charset=utf-8"}


def ephemeral_body(text: str, blocks: list[dict[str, Any]] | None = None) -> str:
    body: dict[str, Any] = {"response_type": "ephemeral", "text": text}
    if blocks:
        body["blocks"] = blocks
    return json.dumps(body)


def register(app: App) -> None:
    @app.error
    def answer_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        if isinstance(error, UsageError):
            text, blocks = build_usage(str(error), error.usage)
        elif isinstance(error, SocialopsError):
            text, blocks = str(error), None
        else:
            error_id = uuid.uuid4().hex[:8]
            log.exception("unhandled error %s while handling a %s request", error_id, body.get("type") or body.get("command"))
            text, blocks = f"Something went wrong on our side (error id `{error_id}`). Nothing was changed; please try again.", None
        # Slack shows a 200 body to the person as an ephemeral reply; a 500 would show "failed with the error".
        return BoltResponse(status=200, body=ephemeral_body(text, blocks), headers=JSON_HEADERS)


def tell_presser(deps: Deps, body: dict[str, Any], respond: Respond, text: str, *, dedupe_key: str) -> None:
    """Answer the person who pressed a button: ephemerally in place when Slack gave a response_url
    (messages), else by DM (App Home and modal clicks carry none). Runs after the ack."""
    if body.get("response_url"):
        deps.run_later(lambda: respond(text=text, response_type="ephemeral", replace_original=False))
    else:
        deps.outbox.send(dedupe_key=dedupe_key, method="dm", payload={"user": body["user"]["id"], "text": text})


def pressed_message(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """Return (channel, ts) of the message whose button was pressed (None when it came from a view)."""
    return (body.get("channel") or {}).get("id"), (body.get("message") or {}).get("ts")


def update_or_queue(deps: Deps, channel: str | None, ts: str | None, *, text: str, blocks: list[dict[str, Any]] | None,
                    dedupe_key: str) -> None:
    """Update a message in place for everyone who sees it; when Slack fails, the outbox retries it under `dedupe_key`."""
    if not (channel and ts):
        return
    try:
        deps.slack.update_message(channel=channel, ts=ts, text=text, blocks=blocks)
    except SlackCallFailed:
        deps.outbox.send(dedupe_key=dedupe_key, method="chat.update", payload={"channel": channel, "ts": ts, "text": text, "blocks": blocks})
