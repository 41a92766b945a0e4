"""Tests for validating Web API calls against Slack's published OpenAPI spec (skipped without ../shared)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.standin import SlackStandIn
from tests.fakes.slack_spec import SPEC_MISSING_REASON, SlackSpec

CRISIS = "C0DEMOCRISIS"


@pytest.fixture(scope="module")
def spec() -> SlackSpec:
    """Load the vendored spec or skip."""
    loaded = SlackSpec.load()
    if loaded is None:
        pytest.skip(SPEC_MISSING_REASON)
    return loaded


@pytest.fixture
def checked_standin(spec: SlackSpec) -> Iterator[SlackStandIn]:
    """Run a stand-in that validates every call against the spec."""
    with SlackStandIn(validator=spec.validator()) as standin:
        yield standin


def test_load_returns_none_when_the_spec_file_is_absent(tmp_path: Path) -> None:
    """A missing spec file yields None so callers can skip with SPEC_MISSING_REASON."""
    assert SlackSpec.load(tmp_path / "missing.json") is None
    assert "../shared" in SPEC_MISSING_REASON


def test_correct_post_message_is_accepted(spec: SlackSpec) -> None:
    """A chat.postMessage with declared and allow-listed arguments validates."""
    args = {"channel": CRISIS, "text": "Spike", "blocks": "[]", "thread_ts": "1.2", "team_id": "T0DEMO",
            "metadata": "{}", "markdown_text": "*Spike*"}
    assert spec.validate("chat.postMessage", args) == []


def test_unknown_argument_is_rejected(spec: SlackSpec) -> None:
    """An argument the spec does not declare is reported by name."""
    assert spec.validate("chat.postMessage", {"channel": CRISIS, "text": "x", "colour": "red"}) == [
        "unknown argument 'colour'"
    ]


def test_missing_required_argument_is_rejected(spec: SlackSpec) -> None:
    """A required argument (channel) that is absent is reported; the token never is."""
    assert spec.validate("chat.postMessage", {"text": "x"}) == ["missing required argument 'channel'"]


def test_allow_list_is_per_method(spec: SlackSpec) -> None:
    """file_ids is allowed on chat.update but still unknown on chat.postMessage."""
    assert spec.validate("chat.update", {"channel": CRISIS, "ts": "1.2", "file_ids": "F1"}) == []
    assert spec.validate("chat.postMessage", {"channel": CRISIS, "file_ids": "F1"}) == [
        "unknown argument 'file_ids'"
    ]


def test_unknown_method_is_rejected(spec: SlackSpec) -> None:
    """A method that exists nowhere is an error."""
    assert spec.validate("chat.postMessages", {}) == ["unknown method chat.postMessages"]


def test_files_upload_is_always_rejected(spec: SlackSpec) -> None:
    """files.upload is in the 2020 spec but retired by Slack, so it is always an error."""
    [problem] = spec.validate("files.upload", {"content": "x", "channels": CRISIS})
    assert "retired" in problem


def test_upload_methods_use_the_local_schema(spec: SlackSpec) -> None:
    """The two upload methods, absent from the spec, validate against the local schema."""
    assert spec.validate("files.getUploadURLExternal", {"filename": "x.png", "length": "3", "alt_txt": "chart"}) == []
    assert spec.validate("files.getUploadURLExternal", {"filename": "x.png"}) == ["missing required argument 'length'"]
    assert spec.validate("files.completeUploadExternal", {"files": "[]", "channel_id": CRISIS, "title": "x"}) == [
        "unknown argument 'title'"
    ]


def test_required_alternatives_are_accepted(spec: SlackSpec) -> None:
    """views.open takes interactivity_pointer instead of trigger_id; a token refresh needs no code."""
    assert spec.validate("views.open", {"interactivity_pointer": "p", "view": "{}"}) == []
    assert spec.validate("views.open", {"view": "{}"}) == ["missing required argument 'trigger_id'"]
    assert spec.validate("oauth.v2.access", {"grant_type": "refresh_token", "refresh_token": "xoxe-1"}) == []


def test_standin_with_spec_validator_refuses_an_unknown_argument(checked_standin: SlackStandIn) -> None:
    """Through the stand-in, an unknown argument answers invalid_arguments and becomes a violation."""
    client = WebClient(base_url=checked_standin.base_url, token="xoxb-test")
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel=CRISIS, text="x", colour="red")
    assert raised.value.response["error"] == "invalid_arguments"
    assert checked_standin.violations == ["chat.postMessage: unknown argument 'colour'"]


def test_standin_with_spec_validator_accepts_the_sdk_calls_the_bot_makes(checked_standin: SlackStandIn) -> None:
    """The SDK's own calls (post, update, DM, home, user group, upload) pass validation with team_id added."""
    client = WebClient(base_url=checked_standin.base_url, token="xoxb-test", team_id="T0DEMO")
    posted = client.chat_postMessage(channel=CRISIS, text="Spike", blocks=[{"type": "divider"}])
    client.chat_update(channel=CRISIS, ts=posted["ts"], text="Acked", blocks=[])
    client.chat_postEphemeral(channel=CRISIS, user="U0DEMO0001", text="only you")
    client.conversations_open(users="U0DEMO0001")
    client.views_publish(user_id="U0DEMO0001", view={"type": "home", "blocks": []})
    client.usergroups_users_update(usergroup="S0DEMOONCALL", users=["U0DEMO0001"])
    client.users_info(user="U0DEMO0002")
    client.reactions_add(channel=CRISIS, timestamp=posted["ts"], name="eyes")
    client.files_upload_v2(content=b"abc", filename="x.png", channel=CRISIS)
    assert checked_standin.violations == []
