"""Tests for the signed inbound-request builder, dispatched through a real Bolt App and its verification."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.standin import SignedRequests, SlackStandIn, demo_workspace

SECRET = "s3cret"
CRISIS = "C0DEMOCRISIS"
GIULIA = "U0DEMO0001"


@pytest.fixture
def requests(standin: SlackStandIn) -> SignedRequests:
    """Return a request builder whose response URLs point at the stand-in."""
    return SignedRequests.for_workspace(SECRET, demo_workspace(), response_url_for=standin.response_url)


@pytest.fixture
def app(standin: SlackStandIn, monkeypatch: pytest.MonkeyPatch) -> App:
    """Return a minimal Bolt app that acks commands, actions and views, and posts on mentions."""
    # SLACK_CLIENT_ID + SLACK_CLIENT_SECRET would switch Bolt to OAuth mode (slack-contract.md §8).
    for name in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    bolt_app = App(
        client=WebClient(base_url=standin.base_url, token="xoxb-valid"),
        signing_secret=SECRET,
        token_verification_enabled=False,
        process_before_response=True,  # run listeners before answering, so assertions need no polling
    )

    @bolt_app.command("/oncall")
    def answer_oncall(ack: Ack, command: dict[str, Any]) -> None:
        ack(text=f"on call: {command['text']}")

    @bolt_app.action("ack_alert")
    def acknowledge(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        respond(text=f"Acked by <@{body['user']['id']}>", replace_original=True)

    @bolt_app.view("declare")
    def declare(ack: Ack, view: dict[str, Any]) -> None:
        summary = view["state"]["values"]["summary"]["summary_input"]["value"]
        ack(response_action="errors", errors={"summary": f"got {summary}"})

    @bolt_app.event("app_mention")
    def mention(event: dict[str, Any], client: WebClient) -> None:
        client.chat_postMessage(channel=event["channel"], text="here", thread_ts=event["ts"])

    return bolt_app


def test_signed_slash_command_is_acked_with_200(app: App, requests: SignedRequests) -> None:
    """A correctly signed slash command passes Bolt's verification and returns the ack text."""
    request = requests.slash_command("/oncall", "now", user_id=GIULIA, channel_id=CRISIS)
    response = app.dispatch(request.as_bolt_request())
    assert response.status == 200
    assert response.body == "on call: now"  # Bolt answers a text-only ack as plain text


def test_slash_command_carries_every_documented_field(requests: SignedRequests, standin: SlackStandIn) -> None:
    """The form body has the fields Slack sends, with names from the workspace and a stand-in response_url."""
    request = requests.slash_command("/oncall", "who", user_id=GIULIA, channel_id=CRISIS)
    fields = {name: values[0] for name, values in parse_qs(request.body).items()}
    assert fields["command"] == "/oncall" and fields["text"] == "who"
    assert fields["user_name"] == "giulia"
    assert (fields["channel_name"], fields["team_domain"]) == ("social-crisis", "acme-social")
    assert request.response_url_name is not None
    assert fields["response_url"] == standin.response_url(request.response_url_name)
    assert {"team_id", "api_app_id", "trigger_id", "token", "is_enterprise_install"} <= set(fields)
    assert request.content_type == "application/x-www-form-urlencoded"


def test_signature_is_hmac_of_version_timestamp_and_raw_body(requests: SignedRequests) -> None:
    """The X-Slack-Signature header verifies with slack_sdk's SignatureVerifier."""
    request = requests.url_verification("abc")
    headers = request.headers_for_http()
    assert headers["X-Slack-Signature"].startswith("v0=")
    assert SignatureVerifier(SECRET).is_valid(
        body=request.body,
        timestamp=headers["X-Slack-Request-Timestamp"],
        signature=headers["X-Slack-Signature"],
    )
    assert headers["Content-Type"] == "application/json"


def test_signature_301_seconds_old_is_rejected_with_401(app: App, requests: SignedRequests) -> None:
    """A timestamp outside the five-minute window fails verification even with a valid HMAC."""
    stale = requests.slash_command("/oncall", "", user_id=GIULIA, channel_id=CRISIS, timestamp=int(time.time()) - 301)
    assert app.dispatch(stale.as_bolt_request()).status == 401


def test_wrong_signature_is_rejected_with_401(app: App, requests: SignedRequests) -> None:
    """A signature made with another secret fails verification."""
    forged = requests.slash_command("/oncall", "", user_id=GIULIA, channel_id=CRISIS, signature="v0=" + "0" * 64)
    assert app.dispatch(forged.as_bolt_request()).status == 401


@pytest.mark.parametrize("header", ["X-Slack-Signature", "X-Slack-Request-Timestamp"])
def test_missing_signature_header_is_rejected_with_401(app: App, requests: SignedRequests, header: str) -> None:
    """Dropping either signing header fails verification."""
    request = requests.slash_command("/oncall", "", user_id=GIULIA, channel_id=CRISIS).without(header)
    assert header not in request.headers
    assert app.dispatch(request.as_bolt_request()).status == 401


def test_block_action_from_a_message_reaches_the_listener_and_respond_posts_back(
    app: App, requests: SignedRequests, standin: SlackStandIn
) -> None:
    """A button click in a message is acked and the listener's respond() lands on the stand-in's response URL."""
    message = {"type": "message", "ts": "1764000000.000100", "text": "Crisis!", "blocks": []}
    request = requests.block_action(
        user_id=GIULIA, action_id="ack_alert", value="crisis:42", channel_id=CRISIS, message=message
    )
    payload = request.payload()
    assert payload["container"] == {
        "type": "message", "message_ts": "1764000000.000100", "channel_id": CRISIS, "is_ephemeral": False
    }
    assert payload["message"] == message
    assert app.dispatch(request.as_bolt_request()).status == 200
    [posted] = standin.responses(request.response_url_name)
    assert posted.body == {"text": f"Acked by <@{GIULIA}>", "replace_original": True}


def test_block_action_from_a_view_has_a_view_container_and_no_response_url(requests: SignedRequests) -> None:
    """A click inside a modal carries the view, a view container and no message."""
    payload = requests.block_action(
        user_id=GIULIA, action_id="pick", view={"id": "V123", "type": "modal"}
    ).payload()
    assert payload["container"] == {"type": "view", "view_id": "V123"}
    assert payload["view"]["id"] == "V123"
    assert "message" not in payload and "response_url" not in payload


def test_view_submission_values_reach_the_listener(app: App, requests: SignedRequests) -> None:
    """A view_submission's state values arrive in the view listener, which can answer with errors."""
    request = requests.view_submission(
        user_id=GIULIA, callback_id="declare", values={"summary": {"summary_input": "brand attack"}}
    )
    response = app.dispatch(request.as_bolt_request())
    assert response.status == 200
    assert json.loads(response.body) == {"response_action": "errors", "errors": {"summary": "got brand attack"}}


def test_event_is_wrapped_like_slack_and_retries_carry_retry_headers(
    app: App, requests: SignedRequests, standin: SlackStandIn
) -> None:
    """An app_mention arrives in an event_callback wrapper; the listener's post reaches the stand-in."""
    mention = {"type": "app_mention", "user": GIULIA, "text": "<@U0DEMOBOT> status?", "ts": "1764000001.000100",
               "channel": CRISIS}
    first = requests.event(mention, event_id="Ev0TEST0001")
    retry = requests.event(mention, event_id="Ev0TEST0001", retry_num=1, retry_reason="http_timeout")
    wrapper = first.payload()
    assert (wrapper["type"], wrapper["event_id"], wrapper["team_id"]) == ("event_callback", "Ev0TEST0001", "T0DEMO")
    assert wrapper["authorizations"][0]["user_id"] == "U0DEMOBOT"
    assert "X-Slack-Retry-Num" not in first.headers
    assert (retry.headers["X-Slack-Retry-Num"], retry.headers["X-Slack-Retry-Reason"]) == ("1", "http_timeout")
    assert app.dispatch(first.as_bolt_request()).status == 200
    [post] = standin.wait_for("chat.postMessage")
    assert post.args["thread_ts"] == "1764000001.000100"
    assert post.args["team_id"] == "T0DEMO"


def test_url_verification_echoes_the_challenge(app: App, requests: SignedRequests) -> None:
    """Bolt answers a signed url_verification with the challenge."""
    response = app.dispatch(requests.url_verification("c-123").as_bolt_request())
    assert response.status == 200
    assert json.loads(response.body) == {"challenge": "c-123"}


def test_clock_sets_the_signed_timestamp(standin: SlackStandIn) -> None:
    """The injected clock decides the X-Slack-Request-Timestamp header."""
    builder = SignedRequests(SECRET, clock=lambda: 1_764_000_000.5, response_url_for=standin.response_url)
    assert builder.ssl_check().headers["X-Slack-Request-Timestamp"] == "1764000000"
