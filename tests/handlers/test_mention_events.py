"""Slack channel listener: a listening tool's posts in a configured channel become mentions, once each."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

NOW = datetime.now(UTC)
CHANNEL = "C0LISTEN01"


@pytest.fixture
def listening(runtime, signed):
    """Workspace topic "acme" and a listening channel defaulting to it."""
    store = runtime.deps.mentions
    acme = store.save_topic(workspace_id=signed.team_id, name="acme", keywords=["acme"], hashtags=[], now=NOW)
    store.save_topic(workspace_id=signed.team_id, name="globex", keywords=["globex"], hashtags=[], now=NOW)
    store.set_listening_channel(channel_id=CHANNEL, workspace_id=signed.team_id, topic_id=acme.id, now=NOW)
    return store


def totals(store, team_id):
    return {name: (c.total, c.negative) for name, c in store.totals_since(workspace_id=team_id, since=NOW - timedelta(hours=1)).items()}


def bot_post(ts: str, text: str = "New mention", **extra) -> dict:
    return {"type": "message", "subtype": "bot_message", "bot_id": "B0KWATCH", "username": "KWatch", "channel": CHANNEL,
            "ts": ts, "text": text} | extra


def test_bot_post_with_attachment_becomes_a_mention_of_the_matching_topic(runtime, signed, listening):
    """A KWatch-style bot post (link + attachment) through a signed Events API request is stored for its topic."""
    event = bot_post(f"{NOW.timestamp():.6f}", "New mention",
                     attachments=[{"title": "globex support is useless and rude", "title_link": "https://x.com/a/status/1"}])
    response = runtime.app.dispatch(signed.event(event).as_bolt_request())
    assert response.status == 200
    assert totals(listening, signed.team_id)["globex"] == (1, 1)


def test_same_message_delivered_twice_is_one_mention(runtime, signed, listening):
    """Dedupe is by channel and ts, so a second delivery with a new event_id still counts once."""
    event = bot_post(f"{NOW.timestamp():.6f}", "acme app keeps crashing")
    runtime.app.dispatch(signed.event(event, event_id="EvM1").as_bolt_request())
    runtime.app.dispatch(signed.event(event, event_id="EvM2").as_bolt_request())
    assert listening.mention_count() == 1


def test_unfurl_edit_of_an_unmatched_link_becomes_a_mention(runtime, signed):
    """A bare link matches no topic; the message_changed Slack sends with the unfurl carries the title that does."""
    store = runtime.deps.mentions
    store.save_topic(workspace_id=signed.team_id, name="acme", keywords=["acme"], hashtags=[], now=NOW)
    store.set_listening_channel(channel_id=CHANNEL, workspace_id=signed.team_id, topic_id=None, now=NOW)
    ts = f"{NOW.timestamp():.6f}"
    runtime.app.dispatch(signed.event({"type": "message", "user": "U0DEMO0001", "channel": CHANNEL, "ts": ts,
                                       "text": "<https://news.example/story>"}).as_bolt_request())
    assert store.mention_count() == 0
    changed = {"type": "message", "subtype": "message_changed", "channel": CHANNEL, "hidden": True, "ts": f"{NOW.timestamp() + 1:.6f}",
               "message": {"type": "message", "user": "U0DEMO0001", "ts": ts, "text": "<https://news.example/story>",
                           "attachments": [{"from_url": "https://news.example/story", "title": "Acme recalls 2 million phones",
                                            "text": "Batteries overheating"}]}}
    runtime.app.dispatch(signed.event(changed).as_bolt_request())
    assert store.mention_count() == 1


def test_messages_in_other_channels_are_not_mentions(runtime, signed, listening):
    """Only configured listening channels are read."""
    runtime.app.dispatch(signed.event({"type": "message", "user": "U0DEMO0001", "channel": "C0ELSEWHERE", "ts": "1.000001",
                                       "text": "acme is terrible"}).as_bolt_request())
    assert listening.mention_count() == 0


def test_deleted_message_events_are_ignored(runtime, signed, listening):
    """A message_deleted in the listening channel stores nothing."""
    response = runtime.app.dispatch(signed.event({"type": "message", "subtype": "message_deleted", "channel": CHANNEL,
                                                  "ts": "2.000001", "deleted_ts": "1.000001"}).as_bolt_request())
    assert response.status == 200 and listening.mention_count() == 0


def crisis(runtime, signed, text: str, user: str = "U0DEMO0001") -> dict:
    response = runtime.app.dispatch(signed.slash_command("/crisis", text, user_id=user, channel_id="C0DEMOTEAM").as_bolt_request())
    assert response.status == 200
    return json.loads(response.body)


def test_admin_configures_topic_channel_and_source_with_crisis_sources(runtime, signed):
    """`/crisis sources topic|channel|add` set everything up; the token is shown once and never audited."""
    crisis(runtime, signed, "sources topic acme acme, #acmefail")
    crisis(runtime, signed, f"sources channel <#{CHANNEL}|listening> acme")
    body = crisis(runtime, signed, "sources add brandwatch-prod brandwatch acme")
    token = next(word.strip("`") for word in body["text"].split() if word.startswith("so_"))
    assert body["response_type"] == "ephemeral"
    source = runtime.deps.mentions.source_by_name("brandwatch-prod", workspace_id="T0DEMO")
    assert source is not None and source.token_hash != token and source.vendor == "brandwatch"
    assert runtime.deps.mentions.listening_channel(CHANNEL).topic_id is not None
    entries = runtime.deps.audit.entries()
    assert [e.action for e in entries if e.action.startswith("sources.")] == ["sources.topic", "sources.channel", "sources.add"]
    assert all(token not in str(e.after) for e in entries)
    runtime.app.dispatch(signed.event(bot_post(f"{NOW.timestamp():.6f}", "#acmefail trending")).as_bolt_request())
    listing = crisis(runtime, signed, "sources")
    assert "1 in the last hour" in json.dumps(listing["blocks"])


def test_topic_change_is_audited_with_before_and_after(runtime, signed):
    """Changing a topic's keywords records the old and new terms."""
    crisis(runtime, signed, "sources topic acme acme")
    crisis(runtime, signed, "sources topic acme acme, acme phone")
    (entry,) = [e for e in runtime.deps.audit.entries() if e.action == "sources.topic"][1:]
    assert entry.before["keywords"] == ["acme"] and entry.after["keywords"] == ["acme", "acme phone"]


def test_non_admin_cannot_see_or_change_sources(runtime, signed):
    """Only admins may use `/crisis sources`; others are told who can."""
    body = crisis(runtime, signed, "sources add sneaky", user="U0DEMO0002")
    assert "Only admins" in body["text"]
    assert runtime.deps.mentions.source_by_name("sneaky", workspace_id="T0DEMO") is None


def test_malformed_sources_command_gets_usage(runtime, signed):
    """A bad `/crisis sources` line answers with the usage, not an error."""
    body = crisis(runtime, signed, "sources channel general")
    assert "not a channel" in body["text"] and "/crisis sources channel #channel" in body["text"]


def test_setup_modal_can_name_the_listening_channel(runtime, signed):
    """An admin who picks a listening channel in `/oncall setup` makes it listened to, audited like `/crisis sources channel`."""
    from bot.blocks.setup import SETUP_CALLBACK

    store = runtime.deps.mentions
    store.save_topic(workspace_id=signed.team_id, name="acme", keywords=["acme"], hashtags=[], now=NOW)
    values = {
        "name": {"value": "brand-eu"}, "tz": {"value": "Europe/Rome"},
        "handoff_weekday": {"value": {"type": "static_select", "selected_option": {"value": "0"}}},
        "handoff_at": {"value": "09:00"}, "length_days": {"value": "7"},
        "roster": {"value": {"type": "multi_users_select", "selected_users": ["U0DEMO0002"]}},
        "listening_channel": {"value": {"type": "conversations_select", "selected_conversation": CHANNEL}},
    }
    response = runtime.app.dispatch(signed.view_submission(user_id="U0DEMO0001", callback_id=SETUP_CALLBACK, values=values).as_bolt_request())
    assert response.status == 200 and not response.body
    assert store.listening_channel(CHANNEL) is not None
    (entry,) = runtime.deps.audit.entries(action="sources.channel")
    assert (entry.actor, entry.via, entry.after) == ("U0DEMO0001", "modal", {"channel": CHANNEL, "topic_id": None})
    runtime.app.dispatch(signed.event(bot_post(f"{NOW.timestamp():.6f}", "acme support is terrible")).as_bolt_request())
    assert totals(store, signed.team_id)["acme"] == (1, 1)
