"""The bot's way out to Slack: a retrying WebClient, Block Kit limits, per-channel pacing, typed errors.

An edge module (imports slack_sdk). Everything the bot posts goes through here, so limits and the
text fallback are enforced in one place.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.blocks.limits import fit_message, fit_view
from bot.errors import DeliveryFailed
from bot.installs import NOT_INSTALLED
from bot.workspace_scope import current_workspace

log = logging.getLogger(__name__)

CHANNEL_INTERVAL_S = 1.0  # chat.postMessage is "about one message per second per channel"
UPDATE_INTERVAL_S = 1.2  # chat.update is Tier 3 (~50/min); edits of one card are paced a little slower


class SlackCallFailed(DeliveryFailed):
    """A Web API call that Slack refused or that never got through, keyed by Slack's error code."""


def build_web_client(*, token: str, base_url: str) -> WebClient:
    """Return a WebClient that retries 429s (after Retry-After), 5xx and dropped connections."""
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=10,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


class BotTokens(Protocol):
    """Where each workspace's bot token comes from (storage/installations.py)."""

    def bot_token(self, workspace_id: str) -> str | None: ...


class _Pacer:
    """Space calls per key (channel) at least `interval` seconds apart."""

    def __init__(self, interval: float, sleep: Callable[[float], None], monotonic: Callable[[], float]) -> None:
        self._interval = interval
        self._sleep = sleep
        self._monotonic = monotonic
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, key: str) -> None:
        with self._lock:
            now = self._monotonic()
            slot = max(now, self._next.get(key, now))
            self._next[key] = slot + self._interval
        if slot > now:
            self._sleep(slot - now)


class SlackGateway:
    """Typed, limited, paced calls to the Slack Web API, with the bot token of the workspace the caller acts for."""

    def __init__(
        self,
        client: WebClient,
        *,
        tokens: BotTokens | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        channel_interval: float = CHANNEL_INTERVAL_S,
        update_interval: float = UPDATE_INTERVAL_S,
    ) -> None:
        self._client = client
        self._tokens = tokens
        self._clients: dict[str, WebClient] = {}  # one per token: a WebClient's token is fixed, and clients are thread-safe
        self._clients_lock = threading.Lock()
        self._post_pacer = _Pacer(channel_interval, sleep, monotonic)
        self._update_pacer = _Pacer(update_interval, sleep, monotonic)

    @property
    def client(self) -> WebClient:
        """The client for the acting workspace (bot.workspace_scope); raises SlackCallFailed(not_installed) without a token."""
        return self._client_for("auth")

    def _client_for(self, method: str) -> WebClient:
        if self._tokens is None:
            return self._client
        token = self._tokens.bot_token(current_workspace())
        if token is None:
            raise SlackCallFailed(method, NOT_INSTALLED)
        with self._clients_lock:
            client = self._clients.get(token)
            if client is None:
                client = self._clients[token] = build_web_client(token=token, base_url=self._client.base_url)
            return client

    def call(self, method: str, **args: Any) -> dict[str, Any]:
        """Call any Web API method, turning failures into SlackCallFailed."""
        client = self._client_for(method)
        try:
            response = client.api_call(method, json=args) if method in _JSON_METHODS else client.api_call(method, data=args)
        except SlackApiError as error:
            raise _refused(method, error) from error
        except (SlackClientError, OSError) as error:
            raise SlackCallFailed(method, "connection_error") from error
        return dict(response.data) if isinstance(response.data, dict) else {"ok": True}

    def post_message(self, *, channel: str, text: str, blocks: list[dict[str, Any]] | None = None, thread_ts: str | None = None) -> dict[str, Any]:
        text, blocks = fit_message(text, blocks)
        args: dict[str, Any] = {"channel": channel, "text": text}
        if blocks is not None:
            args["blocks"] = blocks
        if thread_ts:
            args["thread_ts"] = thread_ts
        self._post_pacer.wait(channel)
        return self.call("chat.postMessage", **args)

    def update_message(self, *, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        text, blocks = fit_message(text, blocks)
        args: dict[str, Any] = {"channel": channel, "ts": ts, "text": text}
        if blocks is not None:
            args["blocks"] = blocks
        self._update_pacer.wait(f"{channel}:{ts}")
        return self.call("chat.update", **args)

    def post_ephemeral(self, *, channel: str, user: str, text: str, blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        text, blocks = fit_message(text, blocks)
        args: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if blocks is not None:
            args["blocks"] = blocks
        return self.call("chat.postEphemeral", **args)

    def open_dm(self, user: str) -> str:
        """Return the DM channel id with `user`."""
        return self.call("conversations.open", users=user)["channel"]["id"]

    def publish_home(self, *, user_id: str, view: dict[str, Any]) -> dict[str, Any]:
        return self.call("views.publish", user_id=user_id, view=fit_view(view))

    def open_view(self, *, trigger_id: str, view: dict[str, Any]) -> dict[str, Any]:
        return self.call("views.open", trigger_id=trigger_id, view=fit_view(view))

    def user_info(self, user: str, *, include_locale: bool = False) -> dict[str, Any]:
        args: dict[str, Any] = {"user": user}
        if include_locale:
            args["include_locale"] = "true"
        return self.call("users.info", **args)["user"]

    def upload_file(self, *, channel: str, filename: str, content: bytes, title: str, initial_comment: str | None = None) -> dict[str, Any]:
        """Upload with Slack's current external-upload flow (never the retired files.upload)."""
        client = self._client_for("files.upload_v2")
        try:
            response = client.files_upload_v2(
                channel=channel, filename=filename, content=content, title=title, initial_comment=initial_comment
            )
        except SlackApiError as error:
            # Classified like any call, so a 429/5xx/dropped connection is transient and the caller retries later.
            raise _refused("files.upload_v2", error) from error
        except (SlackClientError, OSError) as error:
            raise SlackCallFailed("files.upload_v2", "connection_error") from error
        return dict(response.data) if isinstance(response.data, dict) else {"ok": True}


def _refused(method: str, error: SlackApiError) -> SlackCallFailed:
    """Return the SlackCallFailed for a response Slack refused, with its Retry-After and HTTP status."""
    headers = error.response.headers or {}
    retry_after = headers.get("Retry-After") or headers.get("retry-after")
    if isinstance(retry_after, list):
        retry_after = retry_after[0]
    status = error.response.status_code
    code = error.response.get("error") or ("server_error" if status >= 500 else f"http_{status}")
    return SlackCallFailed(method, code, retry_after=float(retry_after) if retry_after else None, status=status)


# slack_sdk sends these as JSON; everything else as a form, as Slack documents per method.
_JSON_METHODS = frozenset(
    {"chat.postMessage", "chat.update", "chat.postEphemeral", "chat.delete", "views.publish", "views.open",
     "views.update", "views.push"}
)
