"""Rotation announcements, shift DMs, user-group sync and the health check, driven through the job functions.

Most tests step an injected clock and run the due date jobs by hand (no real waiting); one test restarts the
persisted scheduler for real.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.triggers.date import DateTrigger

from bot import jobs
from bot.app import create_runtime
from bot.rotation import HandoffRule, next_handoff
from storage.rotations import Rotations
from storage.session import Database, sqlite_url
from storage.tables import Team
from tests.conftest import make_settings
from zoneinfo import ZoneInfo
from tests.fakes.clock import Clock

ANA, BEN, CAI, OLIVER = "U0DEMO0001", "U0DEMO0002", "U0DEMO0003", "U0DEMO0005"  # Ana is the demo admin
ANNOUNCE, GROUP = "C0DEMOANNOUNCE", "S0DEMOONCALL"
EPOCH = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)  # Monday 09:00 Rome: week 0 Ana/Ben, week 1 Ben/Cai, week 2 Cai/Ana
HANDOFF = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # Ben/Cai -> Cai/Ana


@pytest.fixture
def clock():
    return Clock(HANDOFF - timedelta(hours=26))


@pytest.fixture
def stopped_runtime(fake_slack, tmp_path, clock):
    """A runtime whose jobs are bound but whose scheduler never starts: tests run the due jobs themselves."""
    built = create_runtime(make_settings(fake_slack), clock=clock, database=Database.from_url(sqlite_url(tmp_path / "r.db")))
    built.bind_jobs()
    yield built
    built.stop()


def make_team(runtime, *, roster=(ANA, BEN, CAI), usergroup=GROUP, name="social", announce=ANNOUNCE,
              epoch=EPOCH, tz="Europe/Rome", length_days=7, handoff_at="09:00", weekday=0) -> int:
    team_id = Rotations(runtime.database).create_team(
        workspace_id="T0DEMO", name=name, tz=tz, epoch=epoch, now=epoch, roster=list(roster), announce_channel=announce,
        length_days=length_days, handoff_at=handoff_at, handoff_weekday=weekday,
    )
    if usergroup:
        with runtime.database.session_scope() as session:
            session.get_one(Team, team_id).usergroup_id = usergroup  # create_team has no user-group argument yet
    return team_id


def advance(runtime, clock, until, *, plan_every=timedelta(hours=1)) -> list[tuple[datetime, str]]:
    """Move the clock to `until`, running the planner periodically and each date job at its run date; return (when, job id)."""
    ran = []
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
            ran.append((clock.now, job.id))
        else:
            jobs.plan_rotation_messages()
            next_plan += plan_every
    clock.now = until
    return ran


def posts(fake_slack, channel_prefix):
    return [c for c in fake_slack.calls("chat.postMessage") if str(c.args["channel"]).startswith(channel_prefix) and not c.failed]


def dm_texts(fake_slack):
    return [c.args["text"] for c in posts(fake_slack, "D")]


def test_announcement_reminders_and_group_sync_fire_once_at_their_instants(stopped_runtime, fake_slack, clock):
    """Over the handoff: one announcement at 09:00 Rome, 24 h / 1 h / start DMs to Cai and Ana, the group set twice."""
    make_team(stopped_runtime)
    ran = advance(stopped_runtime, clock, HANDOFF + timedelta(hours=3))
    stamp = "20261130T080000Z"
    when = {job_id: at for at, job_id in ran}
    assert when[f"announce:1:{stamp}"] == HANDOFF
    for user, role in ((CAI, "primary"), (ANA, "backup")):
        assert when[f"remind24:1:{user}:{role}:{stamp}"] == HANDOFF - timedelta(hours=24)
        assert when[f"remind1:1:{user}:{role}:{stamp}"] == HANDOFF - timedelta(hours=1)
        assert when[f"oncallnow:1:{user}:{role}:{stamp}"] == HANDOFF
    assert when[f"usergroup:1:{stamp}"] == HANDOFF

    (announcement,) = posts(fake_slack, ANNOUNCE)
    assert f"→ *primary <@{CAI}>, backup <@{ANA}>*" in announcement.args["text"]
    texts = dm_texts(fake_slack)
    assert len(texts) == 6
    assert sum("on call now" in t for t in texts) == 2 and sum("in about 24 h" in t for t in texts) == 2
    updates = [c.args["users"] for c in fake_slack.calls("usergroups.users.update")]
    assert updates == [f"{BEN},{CAI}", f"{CAI},{ANA}"]  # the first sync catches up a group never set before
    assert fake_slack.usergroup_members(GROUP) == [CAI, ANA]

    advance(stopped_runtime, clock, HANDOFF + timedelta(hours=20))  # planners keep running: nothing repeats
    assert len(posts(fake_slack, ANNOUNCE)) == 1 and len(dm_texts(fake_slack)) == 6
    assert len(fake_slack.calls("usergroups.users.update")) == 2


def test_missed_handoff_is_announced_once_on_catch_up_and_stale_reminders_are_dropped(stopped_runtime, fake_slack, clock):
    """The bot was down over the handoff: on its first planner pass it announces late and sends "on call now" only."""
    make_team(stopped_runtime, usergroup=None)
    clock.now = HANDOFF + timedelta(hours=2)
    advance(stopped_runtime, clock, HANDOFF + timedelta(hours=4))
    assert len(posts(fake_slack, ANNOUNCE)) == 1
    texts = dm_texts(fake_slack)
    assert len(texts) == 2 and all("on call now" in t for t in texts)


def test_override_made_after_planning_cancels_the_handoff_messages(stopped_runtime, fake_slack, clock):
    """Ben and Cai stay on by override: the planned announcement and DMs find nothing changed and stay silent."""
    team_id = make_team(stopped_runtime, usergroup=None)
    clock.now = HANDOFF - timedelta(minutes=90)
    advance(stopped_runtime, clock, HANDOFF - timedelta(minutes=30))  # the 1 h reminders went out
    assert len(dm_texts(fake_slack)) == 2
    rotations = Rotations(stopped_runtime.database)
    for user, role in ((BEN, "primary"), (CAI, "backup")):
        rotations.add_override(team_id=team_id, user_id=user, role=role, start=HANDOFF - timedelta(hours=1),
                               end=HANDOFF + timedelta(days=7), now=clock.now, created_by=ANA)
    advance(stopped_runtime, clock, HANDOFF + timedelta(hours=2))
    assert posts(fake_slack, ANNOUNCE) == [] and len(dm_texts(fake_slack)) == 2


def test_plan_upgrade_required_stops_group_sync_and_tells_admins_once(stopped_runtime, fake_slack, clock):
    """A free workspace: one failed update, one DM per admin, no retry at the handoff or on later passes."""
    make_team(stopped_runtime)
    fake_slack.fail("usergroups.users.update", error="plan_upgrade_required", times=10)
    advance(stopped_runtime, clock, HANDOFF + timedelta(hours=3))
    assert len(fake_slack.calls("usergroups.users.update")) == 1
    notices = [t for t in dm_texts(fake_slack) if "user group" in t]
    assert len(notices) == 1 and "plan_upgrade_required" in notices[0]
    assert len(posts(fake_slack, ANNOUNCE)) == 1  # everything else carries on


def test_health_check_dms_admins_the_findings_once_a_day(stopped_runtime, fake_slack, clock):
    """A member who left, one deactivated, one the bot cannot DM, and a lone primary: one DM per admin per day."""
    fake_slack.workspace.user(OLIVER).deleted = True
    make_team(stopped_runtime, roster=(ANA, BEN, "U0GONE0001", OLIVER), usergroup=None)
    make_team(stopped_runtime, roster=(BEN,), usergroup=None, name="solo", announce=None)
    fake_slack.fail("conversations.open", error="user_disabled")  # the first check, Ana's
    jobs.run_health_check()
    jobs.run_health_check()
    jobs.sweep_outbox()
    (report,) = posts(fake_slack, "D")
    body = str(report.args["blocks"])
    assert f"<@{ANA}> cannot be sent a DM" in body and "user_disabled" in body
    assert "<@U0GONE0001> has left the workspace" in body and f"<@{OLIVER}> is deactivated" in body
    assert "*solo*" in body and "No backup" in body
    clock.now += timedelta(days=1)
    jobs.run_health_check()
    jobs.sweep_outbox()
    assert len(posts(fake_slack, "D")) == 2


def test_health_check_is_silent_when_all_is_well(stopped_runtime, fake_slack, clock):
    """Three reachable people and no gaps: no DM."""
    make_team(stopped_runtime, usergroup=None)
    jobs.run_health_check()
    jobs.sweep_outbox()
    assert posts(fake_slack, "D") == []


def test_planner_jobs_have_deterministic_ids_and_key_only_args(stopped_runtime, clock):
    """Date jobs are named by their event key and take it (or the team id) as their only argument."""
    make_team(stopped_runtime)
    clock.now = HANDOFF - timedelta(hours=2)
    jobs.plan_rotation_messages()
    jobs.plan_rotation_messages()  # an overlapping pass replaces, never duplicates
    planned = {job.id: job for job in stopped_runtime.scheduler.get_jobs()}
    announce = planned["announce:1:20261130T080000Z"]
    assert announce.args == ("announce:1:20261130T080000Z",) and announce.trigger.run_date == HANDOFF
    assert planned["usergroup:1:20261130T080000Z"].args == (1,)
    assert f"remind1:1:{CAI}:primary:20261130T080000Z" in planned


def test_announcement_due_while_stopped_is_posted_once_after_restart(fake_slack, database_url, monkeypatch):
    """Planned before a stop, due while stopped: posted once by the restarted scheduler, never by the next one."""
    real_now = datetime.now(UTC).replace(second=0, microsecond=0)
    handoff = real_now - timedelta(hours=1)  # a daily handoff an hour ago, well inside the misfire grace
    epoch = next_handoff(HandoffRule(handoff.weekday(), handoff.time(), ZoneInfo("UTC")), handoff - timedelta(days=3, seconds=1))

    first = create_runtime(make_settings(fake_slack), clock=lambda: handoff - timedelta(minutes=10), database=Database.from_url(database_url))
    make_team(first, usergroup=None, tz="UTC", epoch=epoch, length_days=1, handoff_at=f"{handoff:%H:%M}", weekday=epoch.weekday())
    first.bind_jobs()
    first.scheduler.start(paused=True)  # jobs are persisted, nothing runs
    jobs.plan_rotation_messages()
    # APScheduler 3 wakes a paused scheduler's thread on shutdown and it then processes due jobs against the
    # executors it just shut down; this first run only has to persist the jobs, so its thread must do nothing.
    monkeypatch.setattr(first.scheduler, "_process_jobs", lambda: None)
    first.stop()
    assert fake_slack.calls("chat.postMessage") == []

    second = create_runtime(make_settings(fake_slack), clock=lambda: handoff + timedelta(minutes=1), database=Database.from_url(database_url))
    second.start()
    try:
        # The announcement, two "on call now" DMs, and the day-ahead DMs for tomorrow's handoff (due now).
        fake_slack.wait_for("chat.postMessage", 5, timeout=10)
        time.sleep(0.5)
    finally:
        second.stop()

    third = create_runtime(make_settings(fake_slack), clock=lambda: handoff + timedelta(minutes=2), database=Database.from_url(database_url))
    third.start()
    try:
        jobs.plan_rotation_messages()
        time.sleep(1.0)
    finally:
        third.stop()
    assert len(posts(fake_slack, ANNOUNCE)) == 1
    texts = dm_texts(fake_slack)
    assert len(texts) == 4 and sum("on call now" in t for t in texts) == 2
