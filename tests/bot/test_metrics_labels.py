"""Metric labels stay bounded: a surface per command or interaction type, a job kind without ids."""

from bot.metrics import job_kind, surface_of


def test_surface_is_the_command_the_interaction_type_or_the_event_type():
    """Slash commands by name, interactions by type, events as event:<type>."""
    assert surface_of({"command": "/crisis", "text": "ack 1"}) == "/crisis"
    assert surface_of({"type": "block_actions", "actions": []}) == "block_actions"
    assert surface_of({"type": "event_callback", "event": {"type": "app_home_opened"}}) == "event:app_home_opened"
    assert surface_of({}) == "unknown"


def test_job_kind_drops_the_ids_of_one_run():
    """escalate:12:3 and outbox:17 are kinds escalate and outbox; named recurring jobs keep their name."""
    assert job_kind("escalate:12:3") == "escalate"
    assert job_kind("held-page:4:1:U0DEMO0001") == "held-page"
    assert job_kind("outbox:17") == "outbox"
    assert job_kind("outbox:sweep") == "outbox:sweep"
    assert job_kind("crisis:detect") == "crisis:detect"
