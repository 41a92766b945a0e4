"""Burnout guard end to end: `/oncall limits`, the sleep-hour offer from real crisis pages, the rebalancing proposal in the
handoff announcement with its admin-only Apply, and App Home refreshes at handoffs and crisis changes.

Runs the due date jobs by hand on an injected clock (the scheduler never starts), except where a test says otherwise.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.triggers.date import DateTrigger

from bot import jobs
from bot.app import create_runtime
from bot.blocks.burnout import BurnoutActions
from bot.blocks.crisis import CrisisActions
from bot.crisis import NewCrisis
from bot.rotation_messages import RotationEventKind, event_key
from bot.spikes import Severity
from storage.burnout import Burnout
from storage.crises import Crises
from storage.rotations import Rotations
from storage.session import Database, sqlite_url
from tests.conftest import make_settings
from tests.fakes.clock import Clock
from tests.fakes.waiting import wait_until

GIULIA, MARCUS, CHLOE, PRIYA = "U0DEMO0001", "U0DEMO0002", "U0DEMO0003", "U0DEMO0004"  # giulia: admin; chloe: Sydney
CRISIS_CHANNEL, ANNOUNCE = "C0DEMOCRISIS", "C0DEMOANNOUNCE"
EPOCH = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)  # Monday 09:00 Rome: week 0 Marcus/Chloe, week 1 Chloe/Priya, week 2 Priya/Marcus
NIGHT = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # week 1, 01:00 in Sydney: Chloe (primary) is asleep, Priya is backup


@pytest.fixture
def clock():
    return Clock(NIGHT)


@pytest.fixture
def stopped_runtime(fake_slack, tmp_path, clock):
    built = create_runtime(make_settings(fake_slack), clock=clock, database=Database.from_url(sqlite_url(tmp_path / "b.db")))
    built.bind_jobs()
    yield built
    built.stop()


def make_team(runtime, *, roster=(MARCUS, CHLOE, PRIYA), epoch=EPOCH, tz="Europe/Rome", announce=None) -> int:
    return Rotations(runtime.database).create_team(workspace_id="T0DEMO", name="social", tz=tz, epoch=epoch, now=epoch,
                                                   roster=list(roster), crisis_channel=CRISIS_CHANNEL, announce_channel=announce)


def run_due(runtime, clock) -> list[str]:
    """Run every date job due by the clock (and those they add), oldest first; return their ids."""
    ran = []
    while True:
        due = sorted((job.trigger.run_date, job.id) for job in runtime.scheduler.get_jobs()
                     if isinstance(job.trigger, DateTrigger) and job.trigger.run_date <= clock.now)
        if not due:
            return ran
        job = runtime.scheduler.get_job(due[0][1])
        runtime.scheduler.remove_job(job.id)
        job.func(*job.args)
        ran.append(job.id)


def oncall(runtime, signed, text, user):
    response = runtime.app.dispatch(signed.slash_command("/oncall", text, user_id=user, channel_id="C0DEMOTEAM").as_bolt_request())
    assert response.status == 200
    return json.loads(response.body)


def declare(runtime, signed, topic, user=MARCUS):
    response = runtime.app.dispatch(signed.slash_command("/crisis", f"declare {topic} sev2", user_id=user, channel_id="C0DEMOTEAM").as_bolt_request())
    assert response.status == 200


def dms(fake_slack, user):
    return [c for c in fake_slack.calls("chat.postMessage") if c.args["channel"] == "D" + user[1:] and not c.failed]


def offer_dms(fake_slack, user):
    return [c for c in dms(fake_slack, user) if "sleep hours" in c.args["text"]]


def page_chloe(runtime, signed, fake_slack, clock, topic):
    """Declare a crisis, wait for its page to reach Chloe, and run what the page planned (the guard among it)."""
    before = len([c for c in dms(fake_slack, CHLOE) if "sleep hours" not in c.args["text"]])
    declare(runtime, signed, topic)
    wait_until(lambda: len([c for c in dms(fake_slack, CHLOE) if "sleep hours" not in c.args["text"]]) > before)
    wait_until(lambda: any(j.id.startswith("burnout-page:") for j in runtime.scheduler.get_jobs()))
    run_due(runtime, clock)


# --- /oncall limits -----------------------------------------------------------------------------------


def test_limits_show_change_for_admins_only_and_are_audited(stopped_runtime, signed):
    """Anyone sees the defaults; a member's change is refused; an admin's is stored and audited; bad words get usage."""
    team = make_team(stopped_runtime)
    shown = oncall(stopped_runtime, signed, "limits", MARCUS)
    assert "`sleep-pages=2`" in shown["text"] and "`weeks=2`" in shown["text"] and "`weekends=2`" in shown["text"]
    refused = oncall(stopped_runtime, signed, "limits sleep-pages=1", MARCUS)
    assert "Only admins can change burnout limits" in refused["text"]
    changed = oncall(stopped_runtime, signed, "limits social sleep-pages=1 weekends=3", GIULIA)
    assert "`sleep-pages=1`" in changed["text"] and "(was 2)" in changed["text"]
    limits = Burnout(stopped_runtime.database).limits(team)
    assert (limits.sleep_pages, limits.consecutive_weeks, limits.weekends_per_month) == (1, 2, 3)
    (entry,) = stopped_runtime.deps.audit.entries(action="burnout_limits_changed")
    assert entry.actor == GIULIA and entry.before["sleep_pages"] == 2 and entry.after == {"sleep_pages": 1, "consecutive_weeks": 2, "weekends_per_month": 3}
    bad = oncall(stopped_runtime, signed, "limits nights=3", GIULIA)
    assert "There is no limit called 'nights'" in bad["text"] and "/oncall limits" in json.dumps(bad)
    assert "`/oncall limits" in json.dumps(oncall(stopped_runtime, signed, "help", MARCUS))


# --- the sleep-hour offer ----------------------------------------------------------------------------------


def test_offer_fires_once_at_the_limit_and_the_backups_accept_shows_in_who(stopped_runtime, signed, fake_slack, clock):
    """Limit 1: Chloe's second page at 01:00 Sydney brings one offer; a third page, a rerun and the primary's press change
    nothing; Priya's press makes her primary until the handoff, in `/oncall who`, the audit and Chloe's DMs."""
    team = make_team(stopped_runtime)
    oncall(stopped_runtime, signed, "limits sleep-pages=1", GIULIA)

    page_chloe(stopped_runtime, signed, fake_slack, clock, "acme")
    assert offer_dms(fake_slack, PRIYA) == [] and offer_dms(fake_slack, CHLOE) == []

    clock.now = NIGHT + timedelta(minutes=2)
    page_chloe(stopped_runtime, signed, fake_slack, clock, "widgets")
    (to_backup,) = offer_dms(fake_slack, PRIYA)
    (to_primary,) = offer_dms(fake_slack, CHLOE)
    assert f"<@{CHLOE}> has had 2 pages in their sleep hours" in to_backup.args["text"]
    assert f"I've asked <@{PRIYA}>" in to_primary.args["text"]
    button = next(e for b in to_backup.json_arg("blocks") if b["type"] == "actions" for e in b["elements"])
    assert button["action_id"] == BurnoutActions.accept_offer
    assert not any(b["type"] == "actions" for b in to_primary.json_arg("blocks"))

    clock.now = NIGHT + timedelta(minutes=4)
    page_chloe(stopped_runtime, signed, fake_slack, clock, "gadgets")
    jobs.guard_sleep_pages(team, CHLOE, clock.now.isoformat())  # a restart re-running the check
    run_due(stopped_runtime, clock)
    assert len(offer_dms(fake_slack, PRIYA)) == 1 and len(offer_dms(fake_slack, CHLOE)) == 1
    assert len(stopped_runtime.deps.audit.entries(action="burnout_offer_made")) == 1

    clock.now = NIGHT + timedelta(minutes=6)
    press = lambda user, url=None: stopped_runtime.app.dispatch(signed.block_action(  # noqa: E731
        user_id=user, action_id=button["action_id"], value=button["value"], channel_id=to_backup.response["channel"],
        message_ts=to_backup.response["ts"], response_url=url).as_bolt_request())
    assert press(CHLOE, fake_slack.response_url("chloe")).status == 200
    wait_until(lambda: fake_slack.responses())
    assert f"Only <@{PRIYA}>, the backup" in fake_slack.responses()[-1].body["text"]
    assert f"primary <@{CHLOE}>" in oncall(stopped_runtime, signed, "who", MARCUS)["text"]
    assert Rotations(stopped_runtime.database).load_rotation_by_id(team).layers.overrides == ()

    assert press(PRIYA).status == 200
    who = oncall(stopped_runtime, signed, "who", MARCUS)
    assert f"primary <@{PRIYA}>" in who["text"]
    (override,) = Rotations(stopped_runtime.database).load_rotation_by_id(team).layers.overrides
    assert (override.user_id, override.start, override.end, override.replaces) == (PRIYA, clock.now, EPOCH + timedelta(weeks=2), CHLOE)
    (accepted,) = stopped_runtime.deps.audit.entries(action="burnout_offer_accepted")
    assert accepted.actor == PRIYA and accepted.before["primary"] == CHLOE and accepted.after["primary"] == PRIYA
    wait_until(lambda: any(c.args.get("ts") == to_backup.response["ts"] for c in fake_slack.calls("chat.update")))
    run_due(stopped_runtime, clock)
    assert any(f"<@{PRIYA}> is primary" in c.args["text"] for c in dms(fake_slack, CHLOE))

    assert press(PRIYA, fake_slack.response_url("priya")).status == 200
    wait_until(lambda: any("Already done" in r.body["text"] for r in fake_slack.responses()))
    assert len(Rotations(stopped_runtime.database).load_rotation_by_id(team).layers.overrides) == 1


def test_no_offer_when_the_night_page_is_daytime_in_the_primarys_own_zone(stopped_runtime, signed, fake_slack, clock):
    """02:00 UTC is 03:00 in Rome (the team's zone) but 13:00 in Sydney, where Chloe lives: no offer however many pages."""
    make_team(stopped_runtime)
    oncall(stopped_runtime, signed, "limits sleep-pages=1", GIULIA)
    clock.now = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    for n, topic in enumerate(("acme", "widgets", "gadgets")):
        clock.now += timedelta(minutes=n)
        page_chloe(stopped_runtime, signed, fake_slack, clock, topic)
    assert offer_dms(fake_slack, PRIYA) == []


# --- the rebalancing proposal -----------------------------------------------------------------------------


REB_EPOCH = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)  # Monday; week k primary is [Giulia, Marcus, Chloe][k % 3]
REB_HANDOFF = REB_EPOCH + timedelta(weeks=8)


def test_announcement_proposes_rebalancing_that_only_an_admin_can_apply(stopped_runtime, signed, fake_slack, clock):
    """Giulia covered Marcus in weeks 1 and 4 (840 h vs share 448): the week-8 announcement proposes Marcus takes her
    week 9; Marcus's press is refused, Giulia's creates the override, is audited and updates the post in place."""
    team = make_team(stopped_runtime, roster=(GIULIA, MARCUS, CHLOE), epoch=REB_EPOCH, tz="UTC", announce=ANNOUNCE)
    rotations = Rotations(stopped_runtime.database)
    for k in (1, 4):
        rotations.add_override(team_id=team, user_id=GIULIA, start=REB_EPOCH + timedelta(weeks=k), end=REB_EPOCH + timedelta(weeks=k + 1),
                               now=REB_EPOCH, created_by=GIULIA, replaces=MARCUS)
    clock.now = REB_HANDOFF
    jobs.run_rotation_event(event_key(RotationEventKind.ANNOUNCE, team_id=team, change_at=REB_HANDOFF))
    run_due(stopped_runtime, clock)
    (post,) = [c for c in fake_slack.calls("chat.postMessage") if c.args["channel"] == ANNOUNCE]
    text = json.dumps(post.json_arg("blocks"))
    assert f"<@{GIULIA}> 840 h as primary in 8 weeks (fair share 448 h)" in text
    assert f"<@{MARCUS}> takes <@{GIULIA}>'s shift" in text
    apply = next(e for b in post.json_arg("blocks") if b["type"] == "actions" for e in b["elements"])
    assert apply["action_id"] == BurnoutActions.apply_rebalance

    def press(user, url):
        return stopped_runtime.app.dispatch(signed.block_action(
            user_id=user, action_id=apply["action_id"], value=apply["value"], channel_id=ANNOUNCE, message_ts=post.response["ts"],
            message={"ts": post.response["ts"], "text": post.args["text"], "blocks": post.json_arg("blocks")}, response_url=url).as_bolt_request())

    assert press(MARCUS, fake_slack.response_url("marcus")).status == 200
    wait_until(lambda: fake_slack.responses())
    assert "Only admins can apply a rebalancing" in fake_slack.responses()[-1].body["text"]
    assert len(rotations.load_rotation_by_id(team).layers.overrides) == 2

    assert press(GIULIA, fake_slack.response_url("giulia")).status == 200
    week9 = (REB_EPOCH + timedelta(weeks=9), REB_EPOCH + timedelta(weeks=10))
    added = [o for o in rotations.load_rotation_by_id(team).layers.overrides if o.user_id == MARCUS]
    assert [(o.start, o.end, o.replaces) for o in added] == [(*week9, GIULIA)]
    (entry,) = stopped_runtime.deps.audit.entries(action="rebalance_applied")
    assert entry.actor == GIULIA and entry.before["status"] == "proposed" and entry.after["status"] == "applied"
    wait_until(lambda: any(c.args.get("ts") == post.response["ts"] for c in fake_slack.calls("chat.update")))
    updated = next(c for c in fake_slack.calls("chat.update") if c.args.get("ts") == post.response["ts"])
    assert f"Applied by <@{GIULIA}>" in json.dumps(updated.json_arg("blocks"))
    assert not any(b["type"] == "actions" for b in updated.json_arg("blocks"))
    assert "On-call handoff" in json.dumps(updated.json_arg("blocks"))  # the rest of the announcement stays

    again = Burnout(stopped_runtime.database).get_proposal(int(apply["value"]))
    assert again.status == "applied" and again.applied_by == GIULIA
    assert press(GIULIA, fake_slack.response_url("giulia2")).status == 200
    wait_until(lambda: any("Already applied" in r.body["text"] for r in fake_slack.responses()))
    assert len(rotations.load_rotation_by_id(team).layers.overrides) == 3


# --- App Home refreshes -------------------------------------------------------------------------------------


def test_homes_are_republished_at_the_handoff(stopped_runtime, fake_slack, clock):
    """The planner gives the next handoff a refresh job; at the handoff every member's Home shows the new primary."""
    team = make_team(stopped_runtime)
    handoff = EPOCH + timedelta(weeks=2)  # Chloe/Priya -> Priya/Marcus
    clock.now = handoff - timedelta(hours=1)
    jobs.plan_rotation_messages()
    job_id = f"homes:{team}:{handoff.strftime('%Y%m%dT%H%M%S%fZ')}"
    assert stopped_runtime.scheduler.get_job(job_id).trigger.run_date == handoff
    assert fake_slack.calls("views.publish") == []
    clock.now = handoff
    run_due(stopped_runtime, clock)
    wait_until(lambda: {c.args["user_id"] for c in fake_slack.calls("views.publish")} == {MARCUS, CHLOE, PRIYA})
    published = {c.args["user_id"] for c in fake_slack.calls("views.publish")}
    for user in published:
        assert f"primary <@{PRIYA}>, backup <@{MARCUS}>" in json.dumps(fake_slack.published_home(user))


def test_a_handoff_missed_while_the_bot_was_down_refreshes_the_homes_once_after(stopped_runtime, fake_slack, clock):
    """Down from before the look-ahead saw the handoff until after it: the next planner run refreshes the Homes now,
    and later runs (or a second process planning too) do not refresh them again."""
    team = make_team(stopped_runtime)
    handoff = EPOCH + timedelta(weeks=2)  # Chloe/Priya -> Priya/Marcus
    clock.now = handoff - timedelta(hours=5)
    jobs.plan_rotation_messages()
    job_id = f"homes:{team}:{handoff.strftime('%Y%m%dT%H%M%S%fZ')}"
    assert stopped_runtime.scheduler.get_job(job_id) is None  # beyond the 3-hour look-ahead
    clock.now = handoff + timedelta(hours=7)  # back up 7 hours after the handoff
    jobs.plan_rotation_messages()
    assert stopped_runtime.scheduler.get_job(job_id).trigger.run_date == clock.now
    run_due(stopped_runtime, clock)
    wait_until(lambda: {c.args["user_id"] for c in fake_slack.calls("views.publish")} == {MARCUS, CHLOE, PRIYA})
    for user in (MARCUS, CHLOE, PRIYA):
        assert f"primary <@{PRIYA}>, backup <@{MARCUS}>" in json.dumps(fake_slack.published_home(user))
    published = len(fake_slack.calls("views.publish"))
    clock.now += timedelta(minutes=5)
    jobs.plan_rotation_messages()
    assert stopped_runtime.scheduler.get_job(job_id) is None
    jobs.refresh_team_homes(team, job_id)  # a racing process that had scheduled it too
    time.sleep(0.5)
    assert len(fake_slack.calls("views.publish")) == published


def test_homes_follow_crisis_changes_and_stay_within_limits_with_many_crises(runtime, signed, fake_slack):
    """With the scheduler running: 60 open crises, a new one and its acknowledgement each republish the team's Homes,
    every view spec-valid (the fixture checks) and at most 100 blocks."""
    team = make_team(runtime, epoch=EPOCH)
    now = runtime.clock()
    crises = Crises(runtime.database)
    for n in range(60):
        crises.create_crisis(NewCrisis(team_id=team, workspace_id="T0DEMO", topic=f"topic{n}", severity=Severity.SEV3, summary="x" * 400,
                                       origin="declared", declared_by=MARCUS, channel=None, opened_at=now, steps=()))
    declare(runtime, signed, "acme")
    wait_until(lambda: {MARCUS, CHLOE, PRIYA} <= {c.args["user_id"] for c in fake_slack.calls("views.publish")
                                                  if "acme" in json.dumps(c.json_arg("view"))}, timeout=15)
    acme = next(c for c in crises.list_crises(workspace_id="T0DEMO", open_only=True, limit=100) if c.topic == "acme")
    before = len(fake_slack.calls("views.publish"))
    response = runtime.app.dispatch(signed.block_action(user_id=MARCUS, action_id=CrisisActions.acknowledge, value=str(acme.id), channel_id="C0DEMOCRISIS",
                                                        message_ts=acme.message_ts or "1.1").as_bolt_request())
    assert response.status == 200
    fake_slack.wait_for("views.publish", before + 3, timeout=15)
    for call in fake_slack.calls("views.publish"):
        assert len(call.json_arg("view")["blocks"]) <= 100
