"""The gateway enforces limits and pacing before calling Slack, and uploads with the external flow."""

from __future__ import annotations

from bot.slack_gateway import SlackCallFailed, SlackGateway, build_web_client

import pytest


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time():
    return FakeTime()


@pytest.fixture
def gateway(fake_slack, fake_time):
    client = build_web_client(token="xoxb-test", base_url=fake_slack.base_url)
    return SlackGateway(client, sleep=fake_time.sleep, monotonic=fake_time.monotonic)


def test_posts_to_one_channel_are_paced_one_per_second(gateway, fake_time):
    """The second post to the same channel waits; another channel does not."""
    gateway.post_message(channel="C0DEMOCRISIS", text="one")
    gateway.post_message(channel="C0DEMOTEAM", text="other channel")
    gateway.post_message(channel="C0DEMOCRISIS", text="two")
    assert fake_time.slept == [pytest.approx(1.0)]


def test_oversized_messages_are_truncated_before_sending(gateway, fake_slack):
    """Slack receives at most 50 blocks and a non-empty text fallback."""
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 4000}} for _ in range(80)]
    gateway.post_message(channel="C0DEMOCRISIS", text="", blocks=blocks)
    (call,) = fake_slack.calls("chat.postMessage")
    sent = call.json_arg("blocks")
    assert len(sent) == 50 and all(len(b["text"]["text"]) <= 3000 for b in sent if b["type"] == "section")
    assert call.args["text"]


def test_slack_errors_become_typed_failures(gateway, fake_slack):
    """ok:false answers raise SlackCallFailed with Slack's code."""
    fake_slack.fail("chat.postMessage", error="not_in_channel")
    with pytest.raises(SlackCallFailed) as caught:
        gateway.post_message(channel="C0DEMOCRISIS", text="hi")
    assert caught.value.code == "not_in_channel" and not caught.value.transient


def test_rate_limit_past_the_retries_is_transient_with_retry_after(gateway, fake_slack):
    """A 429 that outlasts the client's retries carries Retry-After for the outbox."""
    fake_slack.fail("chat.update", status=429, retry_after=0, times=4)
    with pytest.raises(SlackCallFailed) as caught:
        gateway.update_message(channel="C0DEMOCRISIS", ts="1.2", text="x")
    assert caught.value.transient and caught.value.retry_after == 0


def test_files_use_the_external_upload_flow(gateway, fake_slack):
    """A chart upload goes getUploadURLExternal → bytes → completeUploadExternal, never files.upload."""
    gateway.upload_file(channel="C0DEMOCRISIS", filename="chart.png", content=b"\x89PNG fake", title="Mentions, last 24 h")
    assert fake_slack.calls("files.upload") == []
    assert len(fake_slack.calls("files.getUploadURLExternal")) == 1
    assert len(fake_slack.calls("files.completeUploadExternal")) == 1
    assert b"\x89PNG fake" in fake_slack.uploaded_files.values()


def test_rate_limited_call_waits_at_least_retry_after(fake_slack):
    """A 429 with Retry-After: 1 is retried no sooner than one second later."""
    import time

    gateway = SlackGateway(build_web_client(token="xoxb-test", base_url=fake_slack.base_url))
    fake_slack.fail("chat.postMessage", status=429, retry_after=1)
    gateway.post_message(channel="C0DEMOCRISIS", text="after the limit")
    first, second = fake_slack.calls("chat.postMessage")
    assert first.failed and not second.failed
    assert second.received_at - first.received_at >= 1.0


def test_each_call_uses_the_acting_workspace_token_and_none_without_one(fake_slack):
    """Many workspaces: posts and uploads carry the token of the workspace the caller acts for; a workspace with no
    token (never installed, or uninstalled) gets SlackCallFailed(not_installed) and nothing reaches Slack."""
    from bot.workspace_scope import acting_for

    tokens = {"T0ACME": "xoxb-acme", "T0GLOBEX": "xoxb-globex"}

    class Tokens:
        def bot_token(self, workspace_id: str) -> str | None:
            return tokens.get(workspace_id)

    gateway = SlackGateway(build_web_client(token="", base_url=fake_slack.base_url), tokens=Tokens(), sleep=lambda s: None)
    for workspace in ("T0ACME", "T0GLOBEX"):
        with acting_for(workspace):
            gateway.post_message(channel="C0DEMOCRISIS", text=f"hello {workspace}")
            gateway.upload_file(channel="C0DEMOCRISIS", filename="a.csv", content=b"a,b\n", title=workspace)
    assert [(c.args["text"], c.token) for c in fake_slack.calls("chat.postMessage")] == [
        ("hello T0ACME", "xoxb-acme"), ("hello T0GLOBEX", "xoxb-globex")]
    assert [c.token for c in fake_slack.calls("files.getUploadURLExternal")] == ["xoxb-acme", "xoxb-globex"]
    before = len(fake_slack.calls())
    for workspace in ("T0NOBODY", ""):
        with acting_for(workspace), pytest.raises(SlackCallFailed) as refused:
            gateway.post_message(channel="C0DEMOCRISIS", text="lost?")
        assert refused.value.code == "not_installed"
    assert len(fake_slack.calls()) == before
