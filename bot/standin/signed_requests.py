"""Build inbound requests exactly as Slack sends them (slash commands, interactions, events), correctly signed.

Knobs for negative tests: `timestamp=`/`signature=` overrides and `SignedRequest.without(...)` to drop headers.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, urlencode

from slack_bolt import BoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.standin.workspace import Workspace

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"
RETRY_NUM_HEADER = "X-Slack-Retry-Num"
RETRY_REASON_HEADER = "X-Slack-Retry-Reason"
# Slack still sends the deprecated verification token; nothing should rely on it (slack-contract.md §1).
DEPRECATED_VERIFICATION_TOKEN = "deprecated-verification-token"

# Process-wide, so event IDs and trigger IDs stay unique even across several builders in one test.
_sequence = itertools.count(1)


def _state_value(leaf: Any) -> Any:
    """Wrap a bare string as a plain_text_input state value; pass full element states through."""
    if isinstance(leaf, str) or leaf is None:
        return {"type": "plain_text_input", "value": leaf}
    return leaf


@dataclass(frozen=True)
class SignedRequest:
    """A raw inbound request body with the headers Slack would send alongside it."""

    body: str
    headers: dict[str, str]
    content_type: str
    response_url: str | None = None
    response_url_name: str | None = None  # the name passed to `response_url_for`, for `SlackStandIn.responses()`

    def headers_for_http(self) -> dict[str, str]:
        """Return the headers for an HTTP client posting `body` to the app."""
        return dict(self.headers)

    def as_bolt_request(self) -> BoltRequest:
        """Return a BoltRequest, so `app.dispatch()` runs Bolt's real signature verification."""
        return BoltRequest(body=self.body, headers=dict(self.headers))

    def without(self, *header_names: str) -> SignedRequest:
        """Return a copy without the named headers (case-insensitive), e.g. to drop the signature."""
        dropped = {name.lower() for name in header_names}
        kept = {name: value for name, value in self.headers.items() if name.lower() not in dropped}
        return replace(self, headers=kept)

    def payload(self) -> dict[str, Any]:
        """Return the decoded JSON payload (events, or the `payload=` field of interactions)."""
        if self.content_type == JSON_CONTENT_TYPE:
            return json.loads(self.body)
        return json.loads(parse_qs(self.body)["payload"][0])


class SignedRequests:
    """Builds signed slash commands, block actions, view submissions and events for one workspace."""

    def __init__(
        self,
        signing_secret: str,
        *,
        team_id: str = "T0DEMO",
        team_domain: str = "acme-social",
        bot_user_id: str = "U0DEMOBOT",
        bot_id: str = "B0DEMOBOT",
        api_app_id: str = "A0DEMO",
        clock: Callable[[], float] = time.time,
        response_url_for: Callable[[str], str] | None = None,
        workspace: Workspace | None = None,
    ) -> None:
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.api_app_id = api_app_id
        self.clock = clock
        self.response_url_for = response_url_for
        self.workspace = workspace
        self._verifier = SignatureVerifier(signing_secret)

    @classmethod
    def for_workspace(cls, signing_secret: str, workspace: Workspace, **options: Any) -> SignedRequests:
        """Return a builder whose team, bot and user/channel names come from `workspace`."""
        return cls(
            signing_secret,
            team_id=workspace.team_id,
            team_domain=workspace.domain,
            bot_user_id=workspace.bot_user_id,
            bot_id=workspace.bot_id,
            workspace=workspace,
            **options,
        )

    # ----- signing ---------------------------------------------------------------------------

    def sign(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        extra_headers: dict[str, str] | None = None,
        response_url: str | None = None,
        response_url_name: str | None = None,
    ) -> SignedRequest:
        """Sign any raw body: `v0=` HMAC-SHA256 over `v0:{timestamp}:{body}`."""
        request_timestamp = str(int(self.clock()) if timestamp is None else int(timestamp))
        computed = self._verifier.generate_signature(timestamp=request_timestamp, body=body)
        headers = {
            "Content-Type": content_type,
            TIMESTAMP_HEADER: request_timestamp,
            SIGNATURE_HEADER: signature if signature is not None else str(computed),
            **(extra_headers or {}),
        }
        return SignedRequest(
            body=body,
            headers=headers,
            content_type=content_type,
            response_url=response_url,
            response_url_name=response_url_name,
        )

    # ----- slash commands [slack-contract.md §3] ----------------------------------------------

    def slash_command(
        self,
        command: str,
        text: str,
        *,
        user_id: str,
        channel_id: str,
        user_name: str | None = None,
        channel_name: str | None = None,
        trigger_id: str | None = None,
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> SignedRequest:
        """Return a signed, form-encoded slash command invocation."""
        name, url = self._response_url("command")
        fields = {
            "token": DEPRECATED_VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name or self._channel_name(channel_id),
            "user_id": user_id,
            "user_name": user_name or self._user_name(user_id),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": url,
            "trigger_id": trigger_id or self._trigger_id(),
        }
        return self.sign(
            urlencode(fields),
            FORM_CONTENT_TYPE,
            timestamp=timestamp,
            signature=signature,
            response_url=url,
            response_url_name=name,
        )

    # ----- interactivity [slack-contract.md §4] ------------------------------------------------

    def block_action(
        self,
        *,
        user_id: str,
        action_id: str,
        value: str | None = None,
        block_id: str | None = None,
        channel_id: str | None = None,
        message_ts: str | None = None,
        message: dict[str, Any] | None = None,
        view: dict[str, Any] | None = None,
        is_ephemeral: bool = False,
        action_type: str = "button",
        action_text: str | None = None,
        response_url: str | None = None,
        timestamp: int | None = None,
        signature: str | None = None,
        selected_option: dict[str, Any] | None = None,
    ) -> SignedRequest:
        """Return a signed block_actions payload from a message (channel_id) or a view container."""
        action: dict[str, Any] = {
            "type": action_type,
            "action_id": action_id,
            "block_id": block_id or f"block-{action_id}",
            "action_ts": f"{self.clock():.6f}",
        }
        if action_type == "button":
            action["text"] = {"type": "plain_text", "text": action_text or action_id, "emoji": True}
        if value is not None:
            action["value"] = value
        if selected_option is not None:  # a menu (static_select, radio_buttons, overflow) sends the option picked
            action["selected_option"] = selected_option
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user_object(user_id),
            "api_app_id": self.api_app_id,
            "token": DEPRECATED_VERIFICATION_TOKEN,
            "trigger_id": self._trigger_id(),
            "team": {"id": self.team_id, "domain": self.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "actions": [action],
            "state": {"values": {}},
        }
        name: str | None = None
        if view is not None:
            # Clicks inside modals and the Home tab carry the view and no response_url.
            payload["container"] = {"type": "view", "view_id": view.get("id", "")}
            payload["view"] = view
        else:
            if channel_id is None:
                raise ValueError("block_action needs channel_id (message container) or view (view container)")
            ts = message_ts or (message or {}).get("ts")
            if ts is None:
                raise ValueError("block_action from a message needs message_ts or message")
            payload["container"] = {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel_id,
                "is_ephemeral": is_ephemeral,
            }
            payload["channel"] = {"id": channel_id, "name": self._channel_name(channel_id)}
            # Slack omits the message for ephemeral containers; the app can only reach them via response_url.
            if not is_ephemeral:
                payload["message"] = message or {"type": "message", "ts": ts, "text": "", "blocks": []}
            if response_url is None:
                name, response_url = self._response_url("action")
            payload["response_url"] = response_url
        return self.sign(
            urlencode({"payload": json.dumps(payload)}),
            FORM_CONTENT_TYPE,
            timestamp=timestamp,
            signature=signature,
            response_url=response_url,
            response_url_name=name,
        )

    def view_submission(
        self,
        *,
        user_id: str,
        callback_id: str,
        values: dict[str, dict[str, Any]],
        private_metadata: str = "",
        view_id: str | None = None,
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> SignedRequest:
        """Return a signed view_submission; plain string leaves in `values` become plain_text_input values."""
        state_values = {
            block_id: {action_id: _state_value(leaf) for action_id, leaf in actions.items()}
            for block_id, actions in values.items()
        }
        modal_id = view_id or f"V0SR{next(_sequence):06d}"
        view = {
            "id": modal_id,
            "team_id": self.team_id,
            "type": "modal",
            "blocks": [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": state_values},
            "hash": f"{int(self.clock())}.signed",
            "title": {"type": "plain_text", "text": "Modal"},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": None,
            "submit": {"type": "plain_text", "text": "Submit"},
            "previous_view_id": None,
            "root_view_id": modal_id,
            "app_id": self.api_app_id,
            "external_id": "",
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        payload = {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": self.team_domain},
            "user": self._user_object(user_id),
            "api_app_id": self.api_app_id,
            "token": DEPRECATED_VERIFICATION_TOKEN,
            "trigger_id": self._trigger_id(),
            "view": view,
            "response_urls": [],
            "enterprise": None,
            "is_enterprise_install": False,
        }
        return self.sign(
            urlencode({"payload": json.dumps(payload)}), FORM_CONTENT_TYPE, timestamp=timestamp, signature=signature
        )

    # ----- Events API [slack-contract.md §2.3–2.4, §5] ----------------------------------------

    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> SignedRequest:
        """Return a signed event_callback wrapping `event`; retries carry X-Slack-Retry-* headers."""
        now = self.clock()
        inner = dict(event)
        inner.setdefault("event_ts", inner.get("ts", f"{now:.6f}"))
        wrapper = {
            "token": DEPRECATED_VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": inner,
            "type": "event_callback",
            "event_id": event_id or f"Ev0SR{next(_sequence):08d}",
            "event_time": int(now),
            # authed_users was deprecated on 2021-02-24; current payloads carry one authorization.
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{inner.get('type', 'event')}-{self.team_id}",
        }
        retry_headers: dict[str, str] = {}
        if retry_num is not None:
            retry_headers[RETRY_NUM_HEADER] = str(retry_num)
            retry_headers[RETRY_REASON_HEADER] = retry_reason or "http_timeout"
        elif retry_reason is not None:
            retry_headers[RETRY_REASON_HEADER] = retry_reason
        return self.sign(
            json.dumps(wrapper),
            JSON_CONTENT_TYPE,
            timestamp=timestamp,
            signature=signature,
            extra_headers=retry_headers,
        )

    def url_verification(
        self, challenge: str, *, timestamp: int | None = None, signature: str | None = None
    ) -> SignedRequest:
        """Return the signed handshake Slack sends when the Events Request URL is saved."""
        body = json.dumps({"token": DEPRECATED_VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"})
        return self.sign(body, JSON_CONTENT_TYPE, timestamp=timestamp, signature=signature)

    def ssl_check(self, *, timestamp: int | None = None, signature: str | None = None) -> SignedRequest:
        """Return the form post Slack uses to check the Request URL's certificate."""
        body = urlencode({"ssl_check": "1", "token": DEPRECATED_VERIFICATION_TOKEN})
        return self.sign(body, FORM_CONTENT_TYPE, timestamp=timestamp, signature=signature)

    # ----- helpers -----------------------------------------------------------------------------

    def _response_url(self, kind: str) -> tuple[str, str]:
        """Return a fresh (name, url) pair; the URL points at the stand-in when one is wired in."""
        name = f"{kind}-{next(_sequence)}"
        if self.response_url_for is not None:
            return name, self.response_url_for(name)
        return name, f"https://hooks.slack.com/{kind}s/{self.team_id}/{name}/standin"

    def _trigger_id(self) -> str:
        """Return a trigger_id shaped like Slack's ("<epoch>.<number>.<hex>")."""
        return f"{int(self.clock())}.{next(_sequence)}.0f5a1e"

    def _user_name(self, user_id: str) -> str:
        """Return the member's handle from the workspace, else the ID itself."""
        user = self.workspace.user(user_id) if self.workspace is not None else None
        return user.name if user is not None else user_id.lower()

    def _channel_name(self, channel_id: str) -> str:
        """Return the channel's name as Slack reports it in payloads."""
        if channel_id.startswith("D"):
            return "directmessage"
        channel = self.workspace.channel(channel_id) if self.workspace is not None else None
        return channel.name if channel is not None else channel_id.lower()

    def _user_object(self, user_id: str) -> dict[str, str]:
        """Return the `user` object of interaction payloads."""
        name = self._user_name(user_id)
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}
