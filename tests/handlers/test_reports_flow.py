"""Reports end to end: `/oncall report` (ephemeral, charts by DM), report settings, `/oncall export`, the weekly report job
and the end-of-shift check-in (once per handoff across a restart; answered in place), and `socialops export`."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.triggers.date import DateTrigger
from PIL import Image

from bot import jobs
from bot.__main__ import run as run_cli
from bot.app import create_runtime
from bot.blocks.report import ReportActions
from bot.export import read_csvs
from bot.outbox import MAX_ATTEMPTS
from bot.report_chart import CHART_SIZE
from bot.reports import ReportDelivery
from storage.audit import AuditLog
from storage.reports import Reports
from storage.rotations import Rotations
from storage.session import Database, sqlite_url
from storage.tables import CrisisEventRow, CrisisRow, JobRun
from tests.conftest import make_settings
from tests.fakes.clock import Clock

GIULIA, MARCUS, CHLOE = "U0DEMO0001", "U0DEMO0002", "U0DEMO0003"  # Giulia is the demo admin
ANNOUNCE = "C0DEMOANNOUNCE"
EPOCH = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)  # Monday 09:00 Rome: week 0 Marcus, week 1 Chloe, week 2 Giulia
HANDOFF = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # Chloe hands over to Giulia


def build(fake_slack, path, clock):
    runtime = create_runtime(make_settings(fake_slack), clock=clock, database=Database.from_url(sqlite_url(path)))
    runtime.bind_jobs()
    return runtime


@pytest.fixture
def clock():
    return Clock(HANDOFF - timedelta(hours=1))


@pytest.fixture
def app(fake_slack, tmp_path, clock):
    """A runtime whose scheduler never starts: tests run the due jobs themselves."""
    runtime = build(fake_slack, tmp_path / "r.db", clock)
    yield runtime
    runtime.stop()


def make_team(runtime, *, announce=ANNOUNCE) -> int:
    team_id = Rotations(runtime.database).create_team(workspace_id="T0DEMO", name="social", tz="Europe/Rome", epoch=EPOCH, now=EPOCH,
                                                      roster=[MARCUS, CHLOE, GIULIA], announce_channel=announce)
    opened = HANDOFF - timedelta(days=2, hours=20)  # Thu 26 Nov 12:00 UTC, Chloe's week
    with runtime.database.session_scope() as session:
        row = CrisisRow(team_id=team_id, workspace_id="T0DEMO", topic="acme, \"phones\"", severity=2, origin="declared", status="resolved",
                        opened_at=opened, last_activity_at=opened, acked_by=CHLOE, acked_at=opened + timedelta(minutes=6), acked_via="button",
                        resolved_by=CHLOE, resolved_at=opened + timedelta(hours=1), summary="Outage,\nmany replies")
        session.add(row)
        session.flush()
        session.add(CrisisEventRow(crisis_id=row.id, at=opened, kind="page", actor="system", via="scheduler", target=CHLOE, method="dm", delivered=True))
    return team_id


def run_due(runtime, clock) -> list[str]:
    """Run every date job due at the clock (and those they add), oldest first; return their IDs."""
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


def slash(runtime, signed, text, user=GIULIA):
    response = runtime.app.dispatch(signed.slash_command("/oncall", text, user_id=user, channel_id="C0DEMOTEAM").as_bolt_request())
    assert response.status == 200
    return json.loads(response.body)


def wait_for_files(fake_slack, count, timeout=20.0):
    deadline = time.monotonic() + timeout
    while len(fake_slack.completed_files()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return fake_slack.completed_files()


def dm_posts(fake_slack, user):
    return [c for c in fake_slack.calls("chat.postMessage") if c.args["channel"] == "D" + user[1:] and not c.failed]


def test_oncall_report_answers_ephemerally_and_dms_three_png_charts(app, signed, fake_slack, clock):
    """The figures come back only to the caller; the charts go up through the external-upload flow into their DM."""
    make_team(app)
    body = slash(app, signed, "report social 2")
    assert body["response_type"] == "ephemeral"
    assert body["text"].startswith("social report, last 2 weeks: 1 crisis (0% false alarms), time to acknowledge median 6 min")
    assert "charts" in str(body["blocks"]).lower() and "sent to you by DM" in str(body["blocks"])
    files = wait_for_files(fake_slack, 3)
    assert len(files) == 3 and not fake_slack.calls("files.upload")
    assert {c.args["channel_id"] for c in fake_slack.calls("files.completeUploadExternal")} == {"D" + GIULIA[1:]}
    for content in fake_slack.uploaded_files.values():
        assert Image.open(io.BytesIO(content)).size == CHART_SIZE


def test_report_usage_and_settings_are_checked_and_only_admins_change_settings(app, signed, fake_slack):
    """Bad weeks → usage; Marcus may not change where the report goes; Giulia may, and it is audited."""
    team_id = make_team(app)
    assert "Weeks must be between 1 and 12" in slash(app, signed, "report social 13")["text"]
    assert "Usage: `/oncall report [team] [weeks]`" in slash(app, signed, "report social extra")["text"]
    assert "Where should the weekly report go?" in slash(app, signed, "report settings")["text"]
    assert "Only admins can change where the weekly report goes" in slash(app, signed, "report settings off", user=MARCUS)["text"]
    assert "DM'd to the admins" in slash(app, signed, "report settings admins social")["text"]
    assert Reports(app.database).report_delivery(team_id).value == "admins"
    (entry,) = AuditLog(app.database).entries(action="report_delivery_changed")
    assert (entry.actor, entry.before, entry.after) == (GIULIA, {"delivery": "channel"}, {"delivery": "admins"})


def test_export_is_for_admins_and_uploads_four_csvs_that_read_back(app, signed, fake_slack, clock):
    """Marcus is refused; Giulia gets crises, pages, acknowledgements and audit CSVs in her DM, matching the store."""
    make_team(app)
    assert "Only admins can export records" in slash(app, signed, "export", user=MARCUS)["text"]
    body = slash(app, signed, "export 2026-11-01 2026-11-30")
    assert "four CSV files" in body["text"]
    files = wait_for_files(fake_slack, 4)
    names = sorted(f["name"] for f in files)
    assert names == ["socialops-acknowledgements-20261031-20261130.csv", "socialops-audit-20261031-20261130.csv",
                     "socialops-crises-20261031-20261130.csv", "socialops-pages-20261031-20261130.csv"]
    by_kind = {f["name"].split("-")[1] + ".csv": fake_slack.uploaded_files[f["id"]].decode() for f in files}
    export = read_csvs(by_kind)
    assert [(c.topic, c.summary) for c in export.crises] == [("acme, \"phones\"", "Outage,\nmany replies")]
    assert [(p.person, p.hour_kind) for p in export.pages] == [(CHLOE, "business")]  # Thu 13:00 in Rome
    assert [a.seconds_to_ack for a in export.acknowledgements] == [360]
    assert "records_exported" in {r.action for r in AuditLog(app.database).entries()}
    assert list(csv.reader(io.StringIO(by_kind["crises.csv"])))[0][0] == "id"


def test_check_in_is_asked_once_per_handoff_across_a_restart(fake_slack, tmp_path, clock):
    """At the handoff Chloe (outgoing primary) gets one question; a restarted bot planning the same handoff asks nobody again."""
    first = build(fake_slack, tmp_path / "c.db", clock)
    make_team(first)
    jobs.plan_report_events()
    assert [j for j in run_due(first, clock) if j.startswith("checkin")] == []  # not yet: the handoff is in an hour
    clock.now = HANDOFF + timedelta(seconds=1)
    ran = run_due(first, clock)
    assert "checkin:1:20261130T080000Z" in ran
    first.stop()
    second = build(fake_slack, tmp_path / "c.db", clock)
    try:
        jobs.run_shift_checkin("checkin:1:20261130T080000Z")  # a stale job firing again does nothing
        clock.now = HANDOFF + timedelta(minutes=30)
        jobs.plan_report_events()
        assert not [j for j in run_due(second, clock) if j.startswith("checkin")]
    finally:
        second.stop()
    (question,) = [c for c in dm_posts(fake_slack, CHLOE) if "How heavy" in c.args["text"]]  # the other DM asks for a handover note
    assert "How heavy was this shift?" in str(question.json_arg("blocks")) and not dm_posts(fake_slack, MARCUS)


def test_check_in_answer_is_stored_changed_in_place_and_refused_to_others(app, signed, fake_slack, clock):
    """Chloe presses 4 then 2: the DM is updated in place each time, the store keeps 2, both are audited; Marcus is refused."""
    make_team(app)
    clock.now = HANDOFF + timedelta(seconds=1)
    jobs.plan_report_events()
    run_due(app, clock)
    (question,) = dm_posts(fake_slack, CHLOE)
    buttons = next(b for b in question.json_arg("blocks") if b["type"] == "actions")["elements"]

    def press(user, score):
        button = buttons[score - 1]
        request = signed.block_action(user_id=user, action_id=button["action_id"], value=button["value"], channel_id=question.response["channel"],
                                      message_ts=question.response["ts"])
        assert app.app.dispatch(request.as_bolt_request()).status == 200

    press(CHLOE, 4)
    press(CHLOE, 2)
    press(MARCUS, 5)
    deadline = time.monotonic() + 5
    while len(fake_slack.calls("chat.update")) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    updates = fake_slack.calls("chat.update")
    assert [u.args["text"] for u in updates] == ["You rated your social shift 4/5.", "You rated your social shift 2/5."]
    checkin_id = int(buttons[0]["value"].split(":")[0])
    assert Reports(app.database).get_checkin(checkin_id).score == 2
    assert [(r.action, r.after) for r in AuditLog(app.database).entries() if r.action.startswith("checkin")] == [
        ("checkin_answered", {"score": 4}), ("checkin_changed", {"score": 2})]
    assert buttons[0]["action_id"] == f"{ReportActions.checkin_score}-1"


def test_weekly_report_is_posted_once_in_the_announcements_channel_with_its_charts(app, fake_slack, clock):
    """Five minutes after the handoff: one report in the channel and three charts there; later passes add nothing."""
    make_team(app)
    clock.now = HANDOFF + timedelta(minutes=6)
    jobs.plan_report_events()
    run_due(app, clock)
    reports = [c for c in fake_slack.calls("chat.postMessage") if c.args["channel"] == ANNOUNCE and "report" in c.args["text"]]
    assert len(reports) == 1 and reports[0].args["text"].startswith("social report, last 1 week: 1 crisis")
    assert {c.args["channel_id"] for c in fake_slack.calls("files.completeUploadExternal")} == {ANNOUNCE}
    assert len(fake_slack.completed_files()) == 3
    clock.now += timedelta(hours=2)
    jobs.plan_report_events()
    run_due(app, clock)
    jobs.run_weekly_report("report:1:20261130T080000Z")
    assert len([c for c in fake_slack.calls("chat.postMessage") if c.args["channel"] == ANNOUNCE]) == 1
    assert len(fake_slack.completed_files()) == 3


def test_weekly_report_goes_to_the_admins_or_nowhere_as_set(app, fake_slack, clock):
    """Set to admins: Giulia gets it by DM with the charts; set to off: the next week's handoff posts nothing."""
    team_id = make_team(app)
    store = Reports(app.database)
    store.set_report_delivery(team_id=team_id, delivery=ReportDelivery.admins, user_id=GIULIA, now=EPOCH)
    clock.now = HANDOFF + timedelta(minutes=6)
    jobs.plan_report_events()
    run_due(app, clock)
    assert [c.args["text"][:22] for c in dm_posts(fake_slack, GIULIA)] == ["social report, last 1 "]
    assert not [c for c in fake_slack.calls("chat.postMessage") if c.args["channel"] == ANNOUNCE]
    assert {c.args["channel_id"] for c in fake_slack.calls("files.completeUploadExternal")} == {"D" + GIULIA[1:]}
    store.set_report_delivery(team_id=team_id, delivery=ReportDelivery.off, user_id=GIULIA, now=EPOCH)
    clock.now = HANDOFF + timedelta(days=7, minutes=6)
    jobs.plan_report_events()
    run_due(app, clock)
    posted = [c.args["text"] for c in dm_posts(fake_slack, GIULIA)]
    assert len([t for t in posted if t.startswith("social report")]) == 1
    assert posted[-1] == "How heavy was your social shift? Answer 1-5."  # her own week ended: the check-in still comes


def test_socialops_export_writes_the_same_csvs(app, tmp_path, monkeypatch, capsys):
    """`socialops export --from --to --out DIR --team social` writes four files that read back."""
    make_team(app)
    monkeypatch.setenv("DATABASE_URL", sqlite_url(tmp_path / "r.db"))
    out = tmp_path / "out"
    assert run_cli(["export", "--from", "2026-11-01", "--to", "2026-12-01", "--out", str(out), "--team", "social"]) == 0
    export = read_csvs({name: (out / name).read_text(encoding="utf-8") for name in ("crises.csv", "pages.csv", "acknowledgements.csv", "audit.csv")})
    assert [c.topic for c in export.crises] == ["acme, \"phones\""] and len(export.pages) == 1
    assert "crises.csv: 1 rows" in capsys.readouterr().out
    assert run_cli(["export", "--from", "2026-12-01", "--to", "2026-11-01", "--out", str(out)]) == 2
    assert run_cli(["export", "--from", "2026-11-01", "--to", "2026-12-01", "--out", str(out), "--team", "nope"]) == 2


def test_weekly_report_rerun_after_a_crash_before_its_claim_posts_nothing_twice(app, fake_slack, clock):
    """A run that died after posting but before claiming its key is repeated: the outbox key and chart claim hold it to once."""
    make_team(app)
    clock.now = HANDOFF + timedelta(minutes=6)
    jobs.run_weekly_report("report:1:20261130T080000Z")
    with app.database.session_scope() as session:
        session.delete(session.get(JobRun, "report:1:20261130T080000Z"))  # as if the process died before the claim
    jobs.run_weekly_report("report:1:20261130T080000Z")
    run_due(app, clock)
    assert len([c for c in fake_slack.calls("chat.postMessage") if c.args["channel"] == ANNOUNCE]) == 1
    assert len(fake_slack.completed_files()) == 3


def upload_jobs(runtime) -> list[str]:
    return [job.id for job in runtime.scheduler.get_jobs() if job.id.startswith("upload:")]


def test_weekly_report_chart_hit_by_a_slack_outage_is_retried_later_and_uploaded_once(app, fake_slack, clock):
    """The first chart meets 503s past the client's own retries: the other two go up now, it follows in a retry job, once."""
    make_team(app)
    clock.now = HANDOFF + timedelta(minutes=6)
    fake_slack.fail("files.getUploadURLExternal", status=503, times=3)  # 1 try + 2 client retries, all refused
    jobs.run_weekly_report("report:1:20261130T080000Z")
    assert len(fake_slack.completed_files()) == 2
    [retry] = upload_jobs(app)
    assert retry.startswith("upload:report:1:20261130T080000Z:channel:charts:") and retry.endswith("-crises-per-day.png")
    run_due(app, clock)  # not due yet: the backoff waits
    assert len(fake_slack.completed_files()) == 2
    clock.now += timedelta(minutes=1)
    run_due(app, clock)
    assert len(fake_slack.completed_files()) == 3 and upload_jobs(app) == []
    assert len({f["name"] for f in fake_slack.completed_files()}) == 3
    jobs.run_weekly_report("report:1:20261130T080000Z")
    with app.database.session_scope() as session:
        session.delete(session.get(JobRun, "report:1:20261130T080000Z"))  # a rerun after a crash uploads nothing again
    jobs.run_weekly_report("report:1:20261130T080000Z")
    assert len(fake_slack.completed_files()) == 3
    assert not [r for r in AuditLog(app.database).entries() if r.action == "upload_failed"]


def test_a_chart_slack_refuses_for_good_is_audited_not_retried(app, fake_slack, clock):
    """not_in_channel will not pass by waiting: one audit entry with the error, no retry job."""
    make_team(app)
    clock.now = HANDOFF + timedelta(minutes=6)
    fake_slack.fail("files.completeUploadExternal", error="not_in_channel")
    jobs.run_weekly_report("report:1:20261130T080000Z")
    assert upload_jobs(app) == [] and len(fake_slack.completed_files()) == 2
    [failed] = [r for r in AuditLog(app.database).entries() if r.action == "upload_failed"]
    assert (failed.team_id, failed.after["error"], failed.after["attempts"]) == ("T0DEMO", "not_in_channel", 1)


def test_an_upload_that_keeps_failing_gives_up_after_the_attempt_limit_and_tells_the_person(app, signed, fake_slack, clock):
    """`/oncall report` charts during a long outage: retried with backoff up to the outbox's limit, then audited and DM'd."""
    make_team(app)
    fake_slack.fail("files.getUploadURLExternal", error="service_unavailable", times=1000)
    slash(app, signed, "report social")
    deadline = time.monotonic() + 20
    while len(upload_jobs(app)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(upload_jobs(app)) == 3
    for _ in range(MAX_ATTEMPTS + 2):
        clock.now += timedelta(minutes=11)
        run_due(app, clock)
    assert upload_jobs(app) == [] and fake_slack.completed_files() == []
    failed = [r for r in AuditLog(app.database).entries() if r.action == "upload_failed"]
    assert len(failed) == 3 and {r.after["attempts"] for r in failed} == {MAX_ATTEMPTS}
    assert len(fake_slack.calls("files.getUploadURLExternal")) == 3 * MAX_ATTEMPTS
    assert sum("could not upload" in c.args["text"] for c in dm_posts(fake_slack, GIULIA)) == 3


def test_export_csvs_hit_by_an_outage_arrive_after_the_retry(app, signed, fake_slack, clock):
    """`/oncall export` shares the path: a 503 burst delays one CSV until its retry job; all four arrive, each once."""
    make_team(app)
    fake_slack.fail("files.getUploadURLExternal", status=503, times=3)
    slash(app, signed, "export 2026-11-01 2026-11-30")
    deadline = time.monotonic() + 20
    while not upload_jobs(app) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(upload_jobs(app)) == 1 and len(wait_for_files(fake_slack, 3)) == 3
    clock.now += timedelta(minutes=1)
    run_due(app, clock)
    assert len(fake_slack.completed_files()) == 4 and len({f["name"] for f in fake_slack.completed_files()}) == 4
