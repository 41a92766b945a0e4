"""Handover notes end to end: asked before the handoff, written in a form, carried by the announcement and the
"you're on call now" DM, edited in place after the handoff (with one notice to the incoming primary), and in the report."""

from __future__ import annotations

import json
from datetime import timedelta

from apscheduler.triggers.date import DateTrigger

from bot import jobs
from bot.blocks.handover import HANDOVER_CALLBACK, HandoverActions
from bot.oncall import TeamRotation  # noqa: F401 - documents what load_rotation_by_id returns
from bot.reports import build_report, report_period
from storage.handover import HandoverNotes
from storage.reports import Reports
from storage.rotations import Rotations
from tests.handlers.test_rotation_jobs import ANA, ANNOUNCE, BEN, CAI, HANDOFF, clock, make_team, posts, stopped_runtime  # noqa: F401

STAMP = "20261130T080000Z"


def run_until(runtime, clock, until):
    """Move the clock to `until`, planning every 5 minutes and running each date job at its run date."""
    next_plan = clock.now
    while True:
        due = sorted((job.trigger.run_date, job.id) for job in runtime.scheduler.get_jobs() if isinstance(job.trigger, DateTrigger))
        step = min([next_plan, *(at for at, _ in due[:1])])
        if step > until:
            break
        clock.now = max(clock.now, step)
        if due and due[0][0] == step:
            job = runtime.scheduler.get_job(due[0][1])
            runtime.scheduler.remove_job(job.id)
            job.func(*job.args)
        else:
            jobs.plan_rotation_messages()
            jobs.plan_report_events()
            next_plan += timedelta(minutes=5)
    clock.now = until


def announcements(fake_slack):
    return [c for c in posts(fake_slack, ANNOUNCE) if "On-call handoff" in c.args["text"]]


def dms_to(fake_slack, user):
    return [c for c in posts(fake_slack, "D" + user[1:])]


def write_note(runtime, signed, fake_slack, user, text, question):
    button = next(b for b in question.json_arg("blocks") if b["type"] == "actions")["elements"][0]
    runtime.app.dispatch(signed.block_action(user_id=user, action_id=HandoverActions.write.value, value=button["value"],
                                             channel_id=question.response["channel"], message_ts=question.response["ts"]).as_bolt_request())
    opened = fake_slack.wait_for("views.open", len(fake_slack.calls("views.open")) + 1, timeout=15)[-1]
    view = opened.json_arg("view")
    assert view["callback_id"] == HANDOVER_CALLBACK
    response = runtime.app.dispatch(signed.view_submission(user_id=user, callback_id=HANDOVER_CALLBACK, values={"note": {"note": text}},
                                                           private_metadata=view["private_metadata"]).as_bolt_request())
    assert response.status == 200
    return view, response


def test_note_written_before_the_handoff_is_in_the_announcement_and_the_on_call_now_dm(stopped_runtime, signed, fake_slack, clock):
    """Ben (outgoing) is asked 30 min before; his note is quoted in the announcement and Cai's "on call now" DM."""
    make_team(stopped_runtime)
    clock.now = HANDOFF - timedelta(hours=2)
    run_until(stopped_runtime, clock, HANDOFF - timedelta(minutes=20))
    (question,) = [c for c in dms_to(fake_slack, BEN) if "Anything the next person should know?" in c.args["text"] + json.dumps(c.json_arg("blocks"))]
    assert clock.now >= HANDOFF - timedelta(minutes=30)
    write_note(stopped_runtime, signed, fake_slack, BEN, "Acme recall story may flare up again\nlegal contact: Sara", question)
    run_until(stopped_runtime, clock, HANDOFF + timedelta(minutes=1))
    (announcement,) = announcements(fake_slack)
    assert "Acme recall story may flare up again" in json.dumps(announcement.json_arg("blocks"))
    (on_call_now,) = [c for c in dms_to(fake_slack, CAI) if "on call now" in c.args["text"]]
    assert f"Handover note from <@{BEN}>" in json.dumps(on_call_now.json_arg("blocks"))
    # Asked once, however often the planner ran.
    assert len([c for c in dms_to(fake_slack, BEN) if "Anything the next" in c.args["text"]]) == 1


def test_note_edited_after_the_handoff_updates_both_messages_and_tells_the_incoming_primary_once(stopped_runtime, signed, fake_slack, clock):
    """Ben writes after the handoff, then edits: both messages are edited in place each time; Cai gets one notice."""
    make_team(stopped_runtime)
    clock.now = HANDOFF - timedelta(hours=1)
    run_until(stopped_runtime, clock, HANDOFF + timedelta(minutes=5))
    (question,) = [c for c in dms_to(fake_slack, BEN) if "Anything the next" in c.args["text"]]
    (announcement,) = announcements(fake_slack)
    assert "Handover note" not in json.dumps(announcement.json_arg("blocks"))
    write_note(stopped_runtime, signed, fake_slack, BEN, "first version", question)
    run_until(stopped_runtime, clock, clock.now + timedelta(seconds=1))
    clock.now += timedelta(minutes=10)
    write_note(stopped_runtime, signed, fake_slack, BEN, "second version", question)
    run_until(stopped_runtime, clock, clock.now + timedelta(seconds=1))
    edits = [c for c in fake_slack.calls("chat.update") if not c.failed and "version" in json.dumps(c.json_arg("blocks"))]
    edited = {(c.args["channel"], "second" in json.dumps(c.json_arg("blocks"))) for c in edits}
    assert (ANNOUNCE, True) in edited and (ANNOUNCE, False) in edited
    assert any(channel.startswith("D") and second for channel, second in edited)
    notices = [c for c in dms_to(fake_slack, CAI) if "left you a handover note" in c.args["text"] + json.dumps(c.json_arg("blocks"))]
    assert len(notices) == 1
    assert HandoverNotes(stopped_runtime.database).handover_note(team_id=1, handoff=HANDOFF).text == "second version"
    actions = [e.action for e in stopped_runtime.deps.audit.entries() if e.target.startswith("handover:")]
    assert actions == ["handover_note_written", "handover_note_changed"]


def test_only_the_outgoing_primary_writes_and_the_note_is_in_the_report(stopped_runtime, signed, fake_slack, clock):
    """Cai (incoming) is refused in the form; Ben's note shows in the report covering that handoff."""
    make_team(stopped_runtime)
    clock.now = HANDOFF - timedelta(hours=1)
    run_until(stopped_runtime, clock, HANDOFF - timedelta(minutes=10))
    (question,) = [c for c in dms_to(fake_slack, BEN) if "Anything the next" in c.args["text"]]
    view, _ = write_note(stopped_runtime, signed, fake_slack, BEN, "watch the #acmefail hashtag", question)
    refused = stopped_runtime.app.dispatch(signed.view_submission(user_id=CAI, callback_id=HANDOVER_CALLBACK, values={"note": {"note": "mine"}},
                                                                  private_metadata=view["private_metadata"]).as_bolt_request())
    assert "Only <@" in json.loads(refused.body)["errors"]["note"]
    rotation = Rotations(stopped_runtime.database).load_rotation_by_id(1)
    period = report_period(HANDOFF + timedelta(hours=1), tz=rotation.team.tz, weeks=1)
    report = build_report(Reports(stopped_runtime.database).report_inputs(rotation, period), period)
    assert [(n.author, n.text) for n in report.handover_notes] == [(BEN, "watch the #acmefail hashtag")]
