"""Socket Mode: `/oncall help` through Bolt's SocketModeHandler request path (no Slack, no socket)."""

from __future__ import annotations

import logging
import urllib.parse

import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.socket_mode.request import SocketModeRequest


class RecordingSocketClient:
    """Stands in for the WebSocket client: keeps what the handler would send back over the socket."""

    def __init__(self) -> None:
        self.logger = logging.getLogger("socket-test")
        self.sent = []

    def send_socket_mode_response(self, response) -> None:
        self.sent.append(response)


@pytest.fixture
def handler(runtime):
    built = SocketModeHandler(runtime.app, app_token="xapp-1-test")
    yield built
    built.client.close()


def _slash_payload(signed, text: str) -> dict:
    # Socket Mode carries the same fields as the HTTP form, already parsed, and no signature.
    body = signed.slash_command("/oncall", text, user_id="U0DEMO0001", channel_id="C0DEMOTEAM").body
    return {key: values[0] for key, values in urllib.parse.parse_qs(body).items()}


def test_oncall_help_is_acked_over_the_socket_with_the_help(handler, signed):
    """The envelope is acked with the help as its payload."""
    client = RecordingSocketClient()
    request = SocketModeRequest(type="slash_commands", envelope_id="env-1", payload=_slash_payload(signed, "help"), accepts_response_payload=True)
    handler.handle(client, request)
    (response,) = client.sent
    assert response.envelope_id == "env-1"
    assert "/oncall help" in response.payload["text"]
    assert response.payload["response_type"] == "ephemeral"


def test_socket_mode_event_retries_are_deduplicated(handler, signed, fake_slack):
    """An event re-sent over the socket with the same event_id publishes the Home tab once."""
    client = RecordingSocketClient()
    payload = signed.event({"type": "app_home_opened", "user": "U0DEMO0002", "channel": "D2", "tab": "home"}, event_id="EvSock1").payload()
    handler.handle(client, SocketModeRequest(type="events_api", envelope_id="e1", payload=payload))
    handler.handle(client, SocketModeRequest(type="events_api", envelope_id="e2", payload=payload, retry_attempt=1, retry_reason="timeout"))
    assert [r.envelope_id for r in client.sent] == ["e1", "e2"]
    fake_slack.wait_for("views.publish", 1)
    assert len(fake_slack.calls("views.publish")) == 1
