"""Tests for the Slack Web API stand-in, driven through slack_sdk's real WebClient."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler, ServerErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.webhook import WebhookClient

from bot.standin import RecordedCall, SlackStandIn, demo_workspace

CRISIS = "C0DEMOCRISIS"
GIULIA = "U0DEMO0001"
CHLOE = "U0DEMO0003"


@pytest.fixture
def client(standin: SlackStandIn) -> WebClient:
    """Return a plain WebClient pointed at the stand-in."""
    return WebClient(base_url=standin.base_url, token="xoxb-test")


def test_json_call_is_recorded_with_its_arguments_and_bearer_token(standin: SlackStandIn, client: WebClient) -> None:
    """A JSON chat.postMessage is recorded with its arguments, verb, headers and token."""
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Spike*"}}]
    client.chat_postMessage(channel=CRISIS, text="Spike", blocks=blocks)
    [call] = standin.calls("chat.postMessage")
    assert call.args == {"channel": CRISIS, "text": "Spike", "blocks": blocks}
    assert call.http_verb == "POST"
    assert call.headers["content-type"].startswith("application/json")
    assert call.token == "xoxb-test"
    assert call.json_arg("blocks") == blocks
    assert not call.failed


def test_form_call_keeps_raw_json_strings_and_decodes_them_on_request(standin: SlackStandIn, client: WebClient) -> None:
    """Form-encoded JSON arguments are recorded as sent and decoded by json_arg."""
    blocks = [{"type": "divider"}]
    client.api_call("chat.postMessage", data={"channel": CRISIS, "text": "hi", "blocks": json.dumps(blocks)})
    [call] = standin.calls("chat.postMessage")
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert call.args["blocks"] == json.dumps(blocks)
    assert call.json_arg("blocks") == blocks
    assert standin.messages(CRISIS)[0]["blocks"] == blocks


def test_get_query_string_arguments_are_recorded(standin: SlackStandIn) -> None:
    """A GET call's query string becomes its arguments (slack_sdk always POSTs, so httpx sends it)."""
    response = httpx.get(
        f"{standin.base_url}users.info", params={"user": GIULIA}, headers={"Authorization": "Bearer xoxb-test"}
    )
    [call] = standin.calls("users.info")
    assert call.http_verb == "GET"
    assert call.args == {"user": GIULIA}
    assert response.json()["user"]["name"] == "giulia"


def test_posted_messages_get_increasing_unique_ts_and_are_stored_per_channel(
    standin: SlackStandIn, client: WebClient
) -> None:
    """chat.postMessage answers like Slack and keeps the message, with thread_ts, per channel."""
    first = client.chat_postMessage(channel="#social-crisis", text="first")
    reply = client.chat_postMessage(channel=CRISIS, text="reply", thread_ts=first["ts"])
    other = client.chat_postMessage(channel="C0DEMOTEAM", text="elsewhere")
    assert first["channel"] == CRISIS
    assert float(first["ts"]) < float(reply["ts"]) < float(other["ts"])
    assert first["ts"] == "1764000000.000100"
    assert first["message"]["user"] == "U0DEMOBOT"
    assert first["message"]["bot_id"] == "B0DEMOBOT"
    assert [m["text"] for m in standin.messages(CRISIS)] == ["first", "reply"]
    assert standin.messages(CRISIS)[1]["thread_ts"] == first["ts"]
    assert len(standin.messages()) == 3


def test_message_without_text_or_blocks_is_refused_with_no_text(client: WebClient) -> None:
    """A post with nothing to show gets no_text, as from Slack."""
    with pytest.raises(SlackApiError) as raised:
        # api_call skips chat_postMessage's own missing-text UserWarning, which would fail the test first.
        client.api_call("chat.postMessage", json={"channel": CRISIS, "text": ""})
    assert raised.value.response["error"] == "no_text"


def test_update_changes_the_stored_message_and_unknown_ts_is_not_found(
    standin: SlackStandIn, client: WebClient
) -> None:
    """chat.update edits the stored message; an unknown ts answers message_not_found."""
    posted = client.chat_postMessage(channel=CRISIS, text="Acknowledge?")
    updated = client.chat_update(channel=CRISIS, ts=posted["ts"], text="Acked by @giulia")
    assert updated["ts"] == posted["ts"]
    assert standin.messages(CRISIS)[0]["text"] == "Acked by @giulia"
    with pytest.raises(SlackApiError) as raised:
        client.chat_update(channel=CRISIS, ts="1.000001", text="x")
    assert raised.value.response["error"] == "message_not_found"
    assert standin.calls("chat.update")[-1].failed


def test_delete_removes_the_message(standin: SlackStandIn, client: WebClient) -> None:
    """chat.delete removes the message from the channel store."""
    posted = client.chat_postMessage(channel=CRISIS, text="oops")
    client.chat_delete(channel=CRISIS, ts=posted["ts"])
    assert standin.messages(CRISIS) == []


def test_ephemeral_and_permalink_answer_with_slack_shapes(standin: SlackStandIn, client: WebClient) -> None:
    """chat.postEphemeral returns message_ts; chat.getPermalink builds an archives link."""
    ephemeral = client.chat_postEphemeral(channel=CRISIS, user=GIULIA, text="only you")
    assert ephemeral["message_ts"]
    assert standin.ephemerals(CRISIS)[0]["target_user"] == GIULIA
    link = client.chat_getPermalink(channel=CRISIS, message_ts="1764000000.000100")
    assert link["permalink"] == "https://acme-social.slack.com/archives/C0DEMOCRISIS/p1764000000000100"


def test_missing_token_is_not_authed_and_unknown_token_is_invalid_auth(standin: SlackStandIn) -> None:
    """Calls without a token or with a non-bot token are refused."""
    with pytest.raises(SlackApiError) as missing:
        WebClient(base_url=standin.base_url).auth_test()
    with pytest.raises(SlackApiError) as unknown:
        WebClient(base_url=standin.base_url, token="xoxp-user").auth_test()
    assert missing.value.response["error"] == "not_authed"
    assert unknown.value.response["error"] == "invalid_auth"


def test_auth_test_describes_the_bot(client: WebClient) -> None:
    """auth.test answers with the workspace's team and bot identity."""
    answer = client.auth_test()
    assert (answer["team_id"], answer["user_id"], answer["bot_id"]) == ("T0DEMO", "U0DEMOBOT", "B0DEMOBOT")


def test_rate_limited_call_is_retried_by_rate_limit_handler_and_succeeds(standin: SlackStandIn) -> None:
    """A 429 with Retry-After: 0 is retried by RateLimitErrorRetryHandler; both attempts are recorded."""
    standin.fail("chat.postMessage", status=429, retry_after=0)
    client = WebClient(
        base_url=standin.base_url, token="xoxb-test", retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)]
    )
    answer = client.chat_postMessage(channel=CRISIS, text="retry me")
    attempts = standin.calls("chat.postMessage")
    assert answer["ok"]
    assert [attempt.status for attempt in attempts] == [429, 200]
    assert [attempt.failed for attempt in attempts] == [True, False]
    assert len(standin.messages(CRISIS)) == 1


def test_rate_limit_surfaces_as_429_error_without_a_retry_handler(standin: SlackStandIn, client: WebClient) -> None:
    """Without a handler the 429 surfaces as SlackApiError with status 429, Retry-After and ratelimited."""
    standin.fail("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel=CRISIS, text="too fast")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.response["error"] == "ratelimited"
    assert len(standin.calls("chat.postMessage")) == 1


def test_server_error_is_retried_by_server_error_handler(standin: SlackStandIn) -> None:
    """An HTTP 500 is retried by ServerErrorRetryHandler and the retry succeeds."""
    standin.fail("users.info", status=500)
    handler = ServerErrorRetryHandler(max_retry_count=1, interval_calculator=FixedValueRetryIntervalCalculator(0.0))
    client = WebClient(base_url=standin.base_url, token="xoxb-test", retry_handlers=[handler])
    assert client.users_info(user=GIULIA)["user"]["id"] == GIULIA
    assert [call.status for call in standin.calls("users.info")] == [500, 200]


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "plan_upgrade_required", "ratelimited"])
def test_scripted_ok_false_error_surfaces_as_slack_api_error_with_its_code(
    standin: SlackStandIn, client: WebClient, error: str
) -> None:
    """fail(error=...) answers HTTP 200 ok:false with that code, for exactly `times` calls."""
    standin.fail("chat.postMessage", error=error, times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as raised:
            client.chat_postMessage(channel=CRISIS, text="x")
        assert raised.value.response.status_code == 200
        assert raised.value.response["error"] == error
    assert client.chat_postMessage(channel=CRISIS, text="x")["ok"]
    assert [call.failed for call in standin.calls("chat.postMessage")] == [True, True, False]


def test_fail_needs_a_status_or_an_error(standin: SlackStandIn) -> None:
    """fail() without a status or error code is a usage error."""
    with pytest.raises(ValueError, match="status"):
        standin.fail("chat.postMessage")


def test_files_upload_v2_completes_the_three_step_flow_and_the_bytes_arrive(
    standin: SlackStandIn, client: WebClient
) -> None:
    """files_upload_v2 gets an upload URL, posts the bytes back here and completes the upload."""
    answer = client.files_upload_v2(content=b"\x89PNG fake", filename="x.png", channel=CRISIS, title="Chart")
    methods = [call.method for call in standin.calls()]
    assert methods == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    file_id = answer["file"]["id"]
    assert standin.uploaded_files[file_id] == b"\x89PNG fake"
    assert answer["file"]["title"] == "Chart"
    assert standin.completed_files()[0]["channels"] == [CRISIS]
    assert standin.calls("files.getUploadURLExternal")[0].args["length"] == str(len(b"\x89PNG fake"))
    assert standin.violations == []


def test_completing_an_upload_that_never_happened_is_file_not_found(client: WebClient) -> None:
    """files.completeUploadExternal with an unknown file ID answers file_not_found."""
    with pytest.raises(SlackApiError) as raised:
        client.files_completeUploadExternal(files=[{"id": "F0NEVER", "title": "x"}], channel_id=CRISIS)
    assert raised.value.response["error"] == "file_not_found"


def test_files_upload_is_refused_and_recorded_as_a_violation(standin: SlackStandIn, client: WebClient) -> None:
    """The retired files.upload always answers method_deprecated and counts as a violation."""
    with pytest.raises(SlackApiError) as raised:
        client.api_call("files.upload", data={"content": "x", "channels": CRISIS})
    assert raised.value.response["error"] == "method_deprecated"
    assert standin.violations == ["files.upload: files.upload was retired by Slack; use files_upload_v2"]


def test_unknown_method_is_refused_and_recorded_as_a_violation(standin: SlackStandIn, client: WebClient) -> None:
    """A method the stand-in does not serve answers unknown_method and counts as a violation."""
    with pytest.raises(SlackApiError) as raised:
        client.api_call("chat.postMessages", json={"channel": CRISIS})
    assert raised.value.response["error"] == "unknown_method"
    assert standin.violations[0].startswith("chat.postMessages:")


def test_validator_problems_answer_invalid_arguments_and_become_violations() -> None:
    """A validator's problems are returned as invalid_arguments and kept as "method: problem"."""
    seen: list[tuple[str, dict]] = []

    def refuse_colour(method: str, args: dict) -> list[str]:
        seen.append((method, args))
        return ["unknown argument 'colour'"] if "colour" in args else []

    with SlackStandIn(validator=refuse_colour) as standin:
        client = WebClient(base_url=standin.base_url, token="xoxb-test")
        client.api_call("chat.postMessage", data={"channel": CRISIS, "text": "ok", "token": "xoxb-test"})
        with pytest.raises(SlackApiError) as raised:
            client.chat_postMessage(channel=CRISIS, text="x", colour="red")
        assert raised.value.response["error"] == "invalid_arguments"
        assert raised.value.response["response_metadata"]["messages"] == ["[ERROR] unknown argument 'colour'"]
        assert standin.violations == ["chat.postMessage: unknown argument 'colour'"]
        assert "token" not in seen[0][1]
        assert len(standin.messages()) == 1


def test_users_info_reports_the_zone_offset_of_now(client: WebClient) -> None:
    """users.info returns the member's zone and its current UTC offset; unknown IDs are user_not_found."""
    user = client.users_info(user=CHLOE)["user"]
    expected_offset = datetime.now(ZoneInfo("Australia/Sydney")).utcoffset()
    assert user["tz"] == "Australia/Sydney"
    assert expected_offset is not None and user["tz_offset"] == int(expected_offset.total_seconds())
    assert user["profile"]["real_name"] == "Chloe Nguyen"
    assert client.users_info(user=GIULIA)["user"]["is_admin"] is True
    with pytest.raises(SlackApiError) as raised:
        client.users_info(user="U0NOBODY")
    assert raised.value.response["error"] == "user_not_found"


def test_users_list_includes_every_member(client: WebClient) -> None:
    """users.list returns the bot and the five people."""
    members = client.users_list()["members"]
    assert len(members) == 6
    assert {member["tz"] for member in members} >= {"Europe/Rome", "Asia/Kolkata", "America/New_York"}


def test_conversations_open_returns_a_dm_channel_for_one_user(client: WebClient) -> None:
    """conversations.open with one user returns a D… channel; unknown users are user_not_found."""
    first = client.conversations_open(users=[GIULIA])
    again = client.conversations_open(users=GIULIA)
    assert first["channel"]["id"].startswith("D")
    assert again["channel"]["id"] == first["channel"]["id"]
    assert again["already_open"] is True
    with pytest.raises(SlackApiError) as raised:
        client.conversations_open(users="U0NOBODY")
    assert raised.value.response["error"] == "user_not_found"


def test_conversation_info_members_and_join_describe_workspace_channels(client: WebClient) -> None:
    """conversations.info/members/join answer from the workspace; unknown channels are channel_not_found."""
    info = client.conversations_info(channel=CRISIS)["channel"]
    assert (info["name"], info["is_member"]) == ("social-crisis", True)
    assert GIULIA in client.conversations_members(channel=CRISIS)["members"]
    assert client.conversations_join(channel=CRISIS)["warning"] == "already_in_channel"
    with pytest.raises(SlackApiError) as raised:
        client.conversations_info(channel="C0NOWHERE")
    assert raised.value.response["error"] == "channel_not_found"


def test_views_are_stored_with_generated_ids_and_home_views_per_user(standin: SlackStandIn, client: WebClient) -> None:
    """views.open/update keep the modal's current state; views.publish keeps each user's last Home view."""
    title = {"type": "plain_text", "text": "Declare"}
    modal = {"type": "modal", "callback_id": "declare", "title": title, "blocks": []}
    opened = client.views_open(trigger_id="1.2.abc", view=modal)["view"]
    assert opened["id"].startswith("V")
    client.views_update(view_id=opened["id"], view={**modal, "callback_id": "declare-2"})
    assert [view["callback_id"] for view in standin.opened_views()] == ["declare-2"]
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "v1"}}]}
    first = client.views_publish(user_id=GIULIA, view=home)["view"]
    second = client.views_publish(user_id=GIULIA, view={**home, "blocks": []})["view"]
    assert first["id"] == second["id"]
    published = standin.published_home(GIULIA)
    assert published is not None and published["blocks"] == []
    assert standin.published_home(CHLOE) is None


def test_usergroup_membership_is_replaced_by_users_update(standin: SlackStandIn, client: WebClient) -> None:
    """usergroups.users.update sets the whole membership, which users.list and usergroups.list report."""
    client.usergroups_users_update(usergroup="S0DEMOONCALL", users=[GIULIA, CHLOE])
    client.usergroups_users_update(usergroup="S0DEMOONCALL", users=[CHLOE])
    assert client.usergroups_users_list(usergroup="S0DEMOONCALL")["users"] == [CHLOE]
    [group] = client.usergroups_list(include_users=True)["usergroups"]
    assert (group["handle"], group["users"], group["user_count"]) == ("social-oncall", [CHLOE], 1)
    assert standin.usergroup_members("S0DEMOONCALL") == [CHLOE]
    with pytest.raises(SlackApiError) as raised:
        client.usergroups_users_update(usergroup="S0DEMOONCALL", users=[])
    assert raised.value.response["error"] == "no_users_provided"


def test_duplicate_reaction_answers_already_reacted(standin: SlackStandIn, client: WebClient) -> None:
    """The same reaction twice on one message answers already_reacted."""
    client.reactions_add(channel=CRISIS, timestamp="1764000000.000100", name="eyes")
    with pytest.raises(SlackApiError) as raised:
        client.reactions_add(channel=CRISIS, timestamp="1764000000.000100", name="eyes")
    assert raised.value.response["error"] == "already_reacted"
    assert standin.reactions() == [(CRISIS, "1764000000.000100", "eyes")]


def test_response_url_posts_are_recorded_by_name_and_a_sixth_post_is_a_violation(standin: SlackStandIn) -> None:
    """JSON posts to a response URL are kept per name; more than five posts are flagged."""
    webhook = WebhookClient(standin.response_url("command-1"))
    answer = webhook.send(text="Acked by @giulia", replace_original=True)
    assert answer.status_code == 200
    [posted] = standin.responses("command-1")
    assert posted.body == {"text": "Acked by @giulia", "replace_original": True}
    for _ in range(5):
        webhook.send(text="again")
    assert standin.violations == ["response_url command-1: more than 5 posts to one response_url"]


def test_wait_for_returns_once_a_background_call_arrives(standin: SlackStandIn, client: WebClient) -> None:
    """wait_for polls until a call made on another thread is recorded."""
    later = threading.Timer(0.1, lambda: client.chat_postMessage(channel=CRISIS, text="later"))
    later.start()
    try:
        [call] = standin.wait_for("chat.postMessage", timeout=3.0)
    finally:
        later.join()
    assert call.args["text"] == "later"


def test_wait_for_fails_with_the_calls_seen_when_time_runs_out(standin: SlackStandIn, client: WebClient) -> None:
    """wait_for raises an AssertionError naming what arrived instead."""
    client.auth_test()
    with pytest.raises(AssertionError, match=r"chat.postMessage.*auth.test"):
        standin.wait_for("chat.postMessage", timeout=0.05)


def test_on_call_subscribers_see_each_answered_call(standin: SlackStandIn, client: WebClient) -> None:
    """on_call subscribers receive every call with the stand-in's answer."""
    seen: list[RecordedCall] = []
    standin.on_call.append(seen.append)
    client.chat_postMessage(channel=CRISIS, text="printed")
    deadline = time.monotonic() + 3
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen[0].response["ts"] == "1764000000.000100"


def test_reset_calls_forgets_calls_but_keeps_messages(standin: SlackStandIn, client: WebClient) -> None:
    """reset_calls clears the record, not Slack-side state."""
    client.chat_postMessage(channel=CRISIS, text="kept")
    standin.reset_calls()
    assert standin.calls() == []
    assert len(standin.messages(CRISIS)) == 1


def test_stop_closes_the_listening_port() -> None:
    """After stop() nothing listens on the port any more."""
    standin = SlackStandIn(demo_workspace()).start()
    port = standin.port
    standin.stop()
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))


def test_a_snapshot_restored_in_a_new_stand_in_keeps_messages_groups_and_stamps(standin: SlackStandIn, client: WebClient) -> None:
    """What a restart would lose (messages, user-group members, the ts counter) comes back from snapshot(); updates then work."""
    posted = client.chat_postMessage(channel=CRISIS, text="card")
    client.usergroups_users_update(usergroup="S0DEMOONCALL", users=[CHLOE])
    with SlackStandIn(demo_workspace()) as reopened:
        reopened.restore(json.loads(json.dumps(standin.snapshot())))  # it goes through a JSON file in console mode
        again = WebClient(base_url=reopened.base_url, token="xoxb-test")
        assert again.chat_update(channel=CRISIS, ts=posted["ts"], text="card, acked")["ok"]
        assert [m["text"] for m in reopened.messages(CRISIS)] == ["card, acked"]
        assert reopened.usergroup_members("S0DEMOONCALL") == [CHLOE]
        assert float(again.chat_postMessage(channel=CRISIS, text="next")["ts"]) > float(posted["ts"])


def test_a_forgotten_message_comes_back_only_when_asked_and_never_after_a_delete() -> None:
    """With recreate_forgotten_messages an update of a message from before the restart brings it back (the call says so);
    a message deleted in this run stays message_not_found, and without the option Slack's answer stands."""
    with SlackStandIn(demo_workspace(), recreate_forgotten_messages=True) as lenient:
        client = WebClient(base_url=lenient.base_url, token="xoxb-test")
        assert client.chat_update(channel=CRISIS, ts="1764000000.000100", text="card, acked")["ok"]
        assert lenient.calls("chat.update")[-1].recreated
        assert [m["text"] for m in lenient.messages(CRISIS)] == ["card, acked"]
        doomed = client.chat_postMessage(channel=CRISIS, text="gone soon")["ts"]
        client.chat_delete(channel=CRISIS, ts=doomed)
        with pytest.raises(SlackApiError) as refused:
            client.chat_update(channel=CRISIS, ts=doomed, text="again")
        assert refused.value.response["error"] == "message_not_found"
    with SlackStandIn(demo_workspace()) as strict:
        with pytest.raises(SlackApiError) as refused:
            WebClient(base_url=strict.base_url, token="xoxb-test").chat_update(channel=CRISIS, ts="1764000000.000100", text="x")
        assert refused.value.response["error"] == "message_not_found" and not strict.calls("chat.update")[-1].recreated


def test_with_a_clock_message_stamps_follow_it_and_never_repeat() -> None:
    """A stand-in given a clock stamps messages at that time (console time), still strictly increasing."""
    at = datetime(2027, 3, 28, 6, 0, tzinfo=UTC)
    with SlackStandIn(demo_workspace(), clock=lambda: at) as timed:
        timed_client = WebClient(base_url=timed.base_url, token="xoxb-test")
        first, second = (float(timed_client.chat_postMessage(channel=CRISIS, text=t)["ts"]) for t in ("a", "b"))
    assert at.timestamp() < first < second < at.timestamp() + 0.001


def test_oauth_v2_access_exchanges_a_granted_code_once_with_the_app_credentials(standin):
    """oauth.v2.access checks the client id and secret (HTTP Basic, as slack_sdk sends them), answers a granted code
    once with a bot token of that workspace, and auth.test with that token names the workspace."""
    standin.client_credentials = ("1.2", "secret")
    token = standin.grant_install("c1", team_id="T0ACME", team_name="Acme")
    anonymous = WebClient(base_url=standin.base_url)
    with pytest.raises(SlackApiError) as wrong:
        anonymous.oauth_v2_access(client_id="1.2", client_secret="guess", code="c1")
    assert wrong.value.response["error"] == "bad_client_secret"
    answer = anonymous.oauth_v2_access(client_id="1.2", client_secret="secret", code="c1")
    assert (answer["access_token"], answer["team"]["id"], answer["token_type"]) == (token, "T0ACME", "bot")
    assert standin.calls("oauth.v2.access")[-1].headers["authorization"].startswith("Basic ")
    with pytest.raises(SlackApiError) as reused:
        anonymous.oauth_v2_access(client_id="1.2", client_secret="secret", code="c1")
    assert reused.value.response["error"] == "invalid_code"
    assert WebClient(base_url=standin.base_url, token=token).auth_test()["team_id"] == "T0ACME"
    assert standin.token_team(token) == "T0ACME"
