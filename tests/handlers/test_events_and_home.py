"""Events API: acked at once, work after the ack, re-deliveries ignored; App Home published."""

from __future__ import annotations

import time

import pytest


def test_app_home_opened_publishes_a_valid_home_view(runtime, signed, fake_slack):
    """Opening the Home tab publishes a home view for that user (spec-validated by the stand-in)."""
    response = runtime.app.dispatch(signed.event({"type": "app_home_opened", "user": "U0DEMO0001", "channel": "D1", "tab": "home"}, event_id="EvH1").as_bolt_request())
    assert response.status == 200
    (call,) = fake_slack.wait_for("views.publish", 1)
    assert call.args["user_id"] == "U0DEMO0001"
    assert fake_slack.published_home("U0DEMO0001")["type"] == "home"


def test_redelivered_event_does_its_work_once(runtime, signed, fake_slack):
    """Slack's retry (same event_id, X-Slack-Retry-Num) gets 200 and no second publish."""
    event = {"type": "app_home_opened", "user": "U0DEMO0003", "channel": "D3", "tab": "home"}
    first = runtime.app.dispatch(signed.event(event, event_id="EvDup").as_bolt_request())
    retry = runtime.app.dispatch(signed.event(event, event_id="EvDup", retry_num=1, retry_reason="http_timeout").as_bolt_request())
    assert first.status == 200 and retry.status == 200
    fake_slack.wait_for("views.publish", 1)
    time.sleep(0.3)
    assert len(fake_slack.calls("views.publish")) == 1


def test_event_ack_does_not_wait_for_the_work(runtime, signed, fake_slack):
    """The 200 for an event comes back before a slow Web API call finishes."""
    fake_slack.fail("views.publish", status=500, times=1)  # the retry handler will wait before the second try
    started = time.monotonic()
    response = runtime.app.dispatch(signed.event({"type": "app_home_opened", "user": "U0DEMO0004", "channel": "D4", "tab": "home"}, event_id="EvSlow").as_bolt_request())
    assert response.status == 200
    assert time.monotonic() - started < 0.5
    fake_slack.wait_for("views.publish", 2, timeout=5)


def test_messages_tab_does_not_publish(runtime, signed, fake_slack):
    """Opening the Messages tab is not a reason to publish the Home view."""
    runtime.app.dispatch(signed.event({"type": "app_home_opened", "user": "U0DEMO0001", "channel": "D1", "tab": "messages"}, event_id="EvMsg").as_bolt_request())
    time.sleep(0.3)
    assert fake_slack.calls("views.publish") == []


def test_message_events_nobody_listens_to_get_200_not_404(runtime, signed):
    """A channel message outside any listening channel is acknowledged, so Slack does not retry it."""
    event = {"type": "message", "channel": "C0DEMOTEAM", "user": "U0DEMO0002", "text": "lunch?", "ts": "1764000000.000100", "channel_type": "channel"}
    assert runtime.app.dispatch(signed.event(event, event_id="EvChat").as_bolt_request()).status == 200


def test_an_app_mention_is_answered_in_its_thread_with_the_commands(runtime, signed, fake_slack):
    """@socialops in a channel: 200 at once, then the /oncall help in that message's thread."""
    event = {"type": "app_mention", "user": "U0DEMO0001", "channel": "C0DEMOTEAM", "ts": "1700000000.000100",
             "text": "<@U0BOT> who is on call?"}
    response = runtime.app.dispatch(signed.event(event, event_id="EvMention").as_bolt_request())
    assert response.status == 200
    posted = fake_slack.wait_for("chat.postMessage", 1, timeout=10)[0]
    assert posted.args["channel"] == "C0DEMOTEAM" and posted.args["thread_ts"] == "1700000000.000100"
    assert "/oncall help" in posted.args["text"]


@pytest.mark.parametrize(("event", "action"), [
    ({"type": "app_uninstalled"}, "app_uninstalled"),
    ({"type": "tokens_revoked", "tokens": {"bot": ["U0BOT"]}}, "tokens_revoked"),
    ({"type": "team_join", "user": {"id": "U0NEWBIE", "name": "newbie"}}, "member_joined"),
])
def test_workspace_events_the_manifest_subscribes_to_are_acknowledged_and_audited(runtime, signed, event, action):
    """Uninstall, revoked tokens and a new member get 200 (not 404) and an audit entry; no data is deleted."""
    response = runtime.app.dispatch(signed.event(event, event_id=f"Ev{action}").as_bolt_request())
    assert response.status == 200
    entries = runtime.deps.audit.entries(action=action)
    assert len(entries) == 1 and entries[0].via == "event"
    if action == "member_joined":
        assert entries[0].target == "U0NEWBIE"
