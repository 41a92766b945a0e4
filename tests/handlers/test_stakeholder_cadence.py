"""Stakeholder cadence end to end: an acknowledged SEV1 reminds its acknowledger in the thread every 30 min, the
Post update form posts to the stakeholders' channel and the timeline, reminders stop at resolve, each goes out once."""

from __future__ import annotations

import json
from datetime import timedelta

from bot import jobs
from bot.app import create_runtime
from bot.blocks.crisis import CrisisActions
from bot.blocks.stakeholders import STAKEHOLDER_UPDATE_CALLBACK, StakeholderActions
from bot.crisis import EventKind
from storage.crises import Crises
from storage.session import Database, sqlite_url
from tests.conftest import make_settings
from tests.handlers.test_crisis_flow import (  # noqa: F401 - fixtures
    CHLOE, CRISIS_CHANNEL, GIULIA, MARCUS, OLIVER, T0, Clock, advance, channel_posts, clock, declare_and_settle, make_team, press, slash, wait_until,
    stopped_runtime,
)

STAKEHOLDERS = "C0DEMOTEAM"


def reminders(fake_slack):
    return [c for c in channel_posts(fake_slack, top_level=False) if "time for a stakeholder update" in c.args["text"].lower()]


def acknowledged_sev1(runtime, signed, fake_slack, clock):
    declare_and_settle(runtime, signed, fake_slack)
    clock.now = T0 + timedelta(minutes=3)
    (card,) = channel_posts(fake_slack)
    press(runtime, signed, CHLOE, CrisisActions.acknowledge, card)
    wait_until(lambda: runtime.scheduler.get_job("stakeholder-update:1") is not None)  # planned after the ack
    return card


def test_reminder_every_interval_in_the_thread_and_the_form_posts_to_the_stakeholders(stopped_runtime, signed, fake_slack, clock):
    """Ack at +3: reminders at +33 (naming Chloe, with Post update); the update goes to the channel and the thread; next at update + 30."""
    assert "no stakeholders' channel" in slash(stopped_runtime, signed, "stakeholders", MARCUS)["text"]
    assert "Only admins" in slash(stopped_runtime, signed, f"stakeholders <#{STAKEHOLDERS}|social-team>", MARCUS)["text"]
    assert f"<#{STAKEHOLDERS}>" in slash(stopped_runtime, signed, f"stakeholders <#{STAKEHOLDERS}|social-team>", GIULIA)["text"]
    card = acknowledged_sev1(stopped_runtime, signed, fake_slack, clock)
    advance(stopped_runtime, clock, T0 + timedelta(minutes=32))
    assert reminders(fake_slack) == []
    advance(stopped_runtime, clock, T0 + timedelta(minutes=34))
    (reminder,) = reminders(fake_slack)
    assert f"<@{CHLOE}>" in reminder.args["text"] and reminder.args["thread_ts"] == card.response["ts"]
    assert f"<#{STAKEHOLDERS}>" in json.dumps(reminder.json_arg("blocks"))

    clock.now = T0 + timedelta(minutes=40)
    stopped_runtime.app.dispatch(signed.block_action(user_id=CHLOE, action_id=StakeholderActions.post_update.value, value="1",
                                                     channel_id=CRISIS_CHANNEL, message_ts=reminder.response["ts"]).as_bolt_request())
    (opened,) = fake_slack.wait_for("views.open", 1, timeout=15)
    view = opened.json_arg("view")
    response = stakeholder_submit(stopped_runtime, signed, CHLOE, view, "Holding statement published; next update 04:10")
    assert response.status == 200 and response.body == ""
    advance(stopped_runtime, clock, clock.now)
    (posted,) = [c for c in fake_slack.calls("chat.postMessage") if c.args["channel"] == STAKEHOLDERS and not c.failed]
    assert "Holding statement published" in posted.args["text"]
    (event,) = [e for e in Crises(stopped_runtime.database).timeline(1) if e.kind is EventKind.STAKEHOLDER_UPDATE]
    assert event.actor == CHLOE and event.target == STAKEHOLDERS
    def thread_line_posted():
        advance(stopped_runtime, clock, clock.now)  # the line is queued by the after-the-ack card refresh
        return any("Stakeholder update in" in c.args["text"] for c in channel_posts(fake_slack, top_level=False))
    wait_until(thread_line_posted)

    advance(stopped_runtime, clock, T0 + timedelta(minutes=69))
    assert len(reminders(fake_slack)) == 1  # +63 would be the old slot; the update moved it to +70
    advance(stopped_runtime, clock, T0 + timedelta(minutes=71))
    assert len(reminders(fake_slack)) == 2


def stakeholder_submit(runtime, signed, user, view, text):
    return runtime.app.dispatch(signed.view_submission(user_id=user, callback_id=STAKEHOLDER_UPDATE_CALLBACK, values={"update": {"update": text}},
                                                       private_metadata=view["private_metadata"]).as_bolt_request())


def test_bystander_and_empty_update_are_refused_in_the_form(stopped_runtime, signed, fake_slack, clock):
    """Oliver (not involved) and an empty text get the reason beside the field; nothing is recorded."""
    acknowledged_sev1(stopped_runtime, signed, fake_slack, clock)
    view = {"private_metadata": json.dumps({"crisis_id": 1})}
    refused = stakeholder_submit(stopped_runtime, signed, OLIVER, view, "I think it's over")
    assert "Only the person who acknowledged" in json.loads(refused.body)["errors"]["update"]
    empty = stakeholder_submit(stopped_runtime, signed, CHLOE, view, "  ")
    assert "empty" in json.loads(empty.body)["errors"]["update"]
    assert not [e for e in Crises(stopped_runtime.database).timeline(1) if e.kind is EventKind.STAKEHOLDER_UPDATE]


def test_reminders_stop_at_resolve_and_skip_sev3(stopped_runtime, signed, fake_slack, clock):
    """One reminder at +33, then resolved at +40: none after. Lowered to SEV3 instead, the cadence would stop too."""
    acknowledged_sev1(stopped_runtime, signed, fake_slack, clock)
    advance(stopped_runtime, clock, T0 + timedelta(minutes=34))
    assert len(reminders(fake_slack)) == 1
    clock.now = T0 + timedelta(minutes=40)
    slash(stopped_runtime, signed, "resolve 1 statement accepted", CHLOE)
    advance(stopped_runtime, clock, T0 + timedelta(hours=3))
    jobs.sweep_stakeholder_reminders()
    advance(stopped_runtime, clock, clock.now)
    assert len(reminders(fake_slack)) == 1


def test_sev3_crisis_gets_no_reminders(stopped_runtime, signed, fake_slack, clock):
    """A SEV3 crisis, acknowledged, has no stakeholder cadence."""
    declare_and_settle(stopped_runtime, signed, fake_slack, text="declare acme sev3")
    (card,) = channel_posts(fake_slack)
    press(stopped_runtime, signed, CHLOE, CrisisActions.acknowledge, card)
    advance(stopped_runtime, clock, T0 + timedelta(hours=2))
    assert reminders(fake_slack) == []


def test_each_reminder_goes_out_once_across_repeats_a_restart_and_a_second_instance(fake_slack, signed, tmp_path):
    """The job, the sweep and a second runtime on the same database all run the +33 slot: one reminder."""
    clock = Clock(T0)
    path = sqlite_url(tmp_path / "cadence.db")
    first = create_runtime(make_settings(fake_slack), clock=clock, database=Database.from_url(path))
    first.bind_jobs()
    make_team(first.database)
    acknowledged_sev1(first, signed, fake_slack, clock)
    clock.now = T0 + timedelta(minutes=34)
    jobs.remind_stakeholder_update(1)
    jobs.sweep_stakeholder_reminders()
    advance(first, clock, clock.now)
    first.stop()
    second = create_runtime(make_settings(fake_slack), clock=clock, database=Database.from_url(path))
    second.bind_jobs()
    try:
        jobs.sweep_stakeholder_reminders()
        jobs.remind_stakeholder_update(1)
        advance(second, clock, clock.now)
        assert len(reminders(fake_slack)) == 1
    finally:
        second.stop()
