"""Report repository on SQLite and PostgreSQL: a seeded history gives the hand-computed report; check-ins, settings, export."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.audit import AuditRecord
from bot.export import read_csvs, write_csvs
from bot.home import MemberSettings
from bot.page_hours import HourKind
from bot.reports import ReportDelivery, build_report, report_period
from storage import migrate
from storage.audit import AuditLog
from storage.member_settings import MemberSettingsStore
from storage.reports import Reports
from storage.rotations import Rotations
from storage.tables import CoverRequest, CrisisEventRow, CrisisRow, Person
from tests.bot.test_reports import ANA, BEN, CAI, END, EPOCH, START, utc

MINUTE = timedelta(minutes=1)


@pytest.fixture
def store(database):
    migrate.upgrade(database.engine)
    return Reports(database)


def seed(database) -> int:
    """The week of tests/bot/test_reports.py, stored the way the bot stores it."""
    rotations = Rotations(database)
    team_id = rotations.create_team(workspace_id="T0", name="social", tz="Europe/Rome", epoch=EPOCH, now=EPOCH, roster=[ANA, BEN, CAI],
                                    member_zones={ANA: "Europe/Rome", BEN: "Pacific/Auckland", CAI: "America/New_York"})
    for user, country in {ANA: "IT", BEN: "NZ", CAI: "US"}.items():  # each person's own holiday calendar (App Home)
        MemberSettingsStore(database).save_settings(workspace_id="T0", user_id=user, settings=MemberSettings(holiday_country=country), now=EPOCH)
    rotations.forget_cached()
    rotations.add_override(team_id=team_id, user_id=CAI, start=utc(10, 21, 18), end=utc(10, 22, 6), now=utc(10, 20, 10), created_by=CAI, replaces=BEN)
    for user in (ANA, BEN, CAI):
        rotations.add_time_off(workspace_id="T0", user_id=user, start=utc(10, 23, 10), end=utc(10, 23, 12), now=EPOCH, created_by=user)
    crises = [  # (opened, severity 3=SEV1, topic, ack minutes, resolve minutes, status, acker)
        (utc(10, 20, 13), 2, "acme", 4, 60, "resolved", BEN), (utc(10, 24, 3), 3, "acme", 10, 180, "resolved", BEN),
        (utc(10, 21, 20), 1, "acme-summer", 2, 30, "false_alarm", CAI), (utc(10, 26, 6, 30), 2, "acme", 20, None, "acknowledged", BEN),
        (utc(10, 14, 10), 2, "acme", 6, 120, "resolved", ANA), (utc(10, 15, 10), 2, "acme", 8, 240, "resolved", ANA),
        (utc(10, 26, 9), 2, "acme", 1, 5, "resolved", CAI),
    ]
    # (at, who, method, delivered). Crisis 0: Ben's DM failed and the bot posted in the channel instead (one page);
    # crisis 2: Ana chose channel pages (22:02 in Rome, a sleep page), then the group step mentioned @here (nobody in particular).
    pages = {0: [(utc(10, 20, 13), BEN, "dm", False), (utc(10, 20, 13), BEN, "channel_fallback", True)],
             1: [(utc(10, 24, 3), BEN, "dm", True), (utc(10, 24, 3, 5), CAI, "dm", True)],
             2: [(utc(10, 21, 20), CAI, "dm", True), (utc(10, 21, 20, 2), ANA, "channel", True), (utc(10, 21, 20, 7), "<!here>", "channel", True)],
             3: [(utc(10, 26, 6, 30), BEN, "dm", True), (utc(10, 26, 6, 35), ANA, "dm", True)],
             4: [(utc(10, 14, 10), ANA, "dm", True)]}
    with database.session_scope() as session:
        for n, (opened, severity, topic, ack, resolve, status, by) in enumerate(crises):
            row = CrisisRow(team_id=team_id, workspace_id="T0", topic=topic, severity=severity, origin="detected", status=status, opened_at=opened,
                            last_activity_at=opened, acked_by=by, acked_at=opened + ack * MINUTE, acked_via="button",
                            resolved_by=by if resolve else None, resolved_at=opened + resolve * MINUTE if resolve else None,
                            false_alarm=status == "false_alarm", summary=f"crisis {n}")
            session.add(row)
            session.flush()
            for at, who, method, delivered in pages.get(n, []):
                session.add(CrisisEventRow(crisis_id=row.id, at=at, kind="page", actor="system", via="scheduler", target=who, method=method,
                                           delivered=delivered))
            session.add(CrisisEventRow(crisis_id=row.id, at=opened, kind="detected", actor="system", via="scheduler"))
        session.add(CoverRequest(team_id=team_id, requester=BEN, start_at=utc(10, 21, 18), end_at=utc(10, 22, 6), created_at=utc(10, 20, 9),
                                 status="taken", taken_by=CAI, taken_at=utc(10, 20, 10)))
    return team_id


def test_seeded_history_gives_the_hand_computed_report(database, store):
    """Severity, topics, response times, pages per person in their zone, hours, weekends, holidays, gap, cover, check-ins."""
    team_id = seed(database)
    checkin = store.create_checkin(team_id=team_id, user_id=BEN, shift_start=START, shift_end=END, now=END)
    store.set_checkin_score(checkin_id=checkin.id, score=4, now=END)
    rotation = Rotations(database).load_rotation_by_id(team_id)
    period = report_period(END, tz="Europe/Rome", weeks=1)
    report = build_report(store.report_inputs(rotation, period), period)
    assert (report.crises, report.by_severity, report.false_alarms) == (4, {"SEV1": 1, "SEV2": 2, "SEV3": 1}, 1)
    assert (report.time_to_ack.median, report.time_to_ack.p90, report.time_to_ack_before.median) == (7 * MINUTE, 20 * MINUTE, 7 * MINUTE)
    assert (report.time_to_resolve.median, report.time_to_resolve_before.p90) == (120 * MINUTE, 240 * MINUTE)
    people = {p.user_id: p for p in report.people}
    assert people[BEN].pages == {HourKind.business: 0, HourKind.off: 2, HourKind.sleep: 1}  # the channel fallback is not a second page
    # Ana: her DM at 07:35 after the DST change and her channel-mention page at 22:02, both in her sleep; @here counts for no one.
    assert people[ANA].pages == {HourKind.business: 0, HourKind.off: 0, HourKind.sleep: 2} and people[CAI].pages[HourKind.business] == 1
    assert "<!here>" not in people
    assert (people[BEN].primary_hours, people[CAI].primary_hours, people[CAI].backup_hours) == (155, 12, 155)
    assert (people[BEN].weekend_days, people[BEN].holidays) == (2, 1)
    assert report.gap_total == timedelta(hours=2) and [(c.requester, c.taken_by) for c in report.covers] == [(BEN, CAI)]
    assert (people[BEN].checkin_average, people[CAI].covers_taken) == (4.0, 1)


def test_a_persons_own_zone_setting_beats_slack_and_the_roster(database, store):
    """Ben's Home setting (Rome) wins over Slack's zone (Tokyo) and the roster's (Auckland)."""
    team_id = seed(database)
    with database.session_scope() as session:
        session.add(Person(workspace_id="T0", user_id=BEN, tz="Asia/Tokyo", updated_at=EPOCH))
        session.add(Person(workspace_id="T0", user_id=CAI, tz="America/Chicago", updated_at=EPOCH))
    MemberSettingsStore(database).save_settings(workspace_id="T0", user_id=BEN, settings=MemberSettings(tz="Europe/Rome", holiday_country="NZ"),
                                                now=EPOCH)
    rotation = Rotations(database).load_rotation_by_id(team_id)
    inputs = store.report_inputs(rotation, report_period(END, tz="Europe/Rome", weeks=1))
    assert (inputs.zones[BEN], inputs.zones[CAI], inputs.zones[ANA]) == ("Europe/Rome", "America/Chicago", "Europe/Rome")


def test_a_check_in_is_created_once_per_team_handoff_and_its_score_changes(database, store):
    """Creating twice returns the same row; setting a score twice keeps the last."""
    team_id = seed(database)
    first = store.create_checkin(team_id=team_id, user_id=BEN, shift_start=START, shift_end=END, now=END)
    again = store.create_checkin(team_id=team_id, user_id=BEN, shift_start=START, shift_end=END, now=END + MINUTE)
    assert again == first and first.team_name == "social" and first.score is None
    store.set_checkin_score(checkin_id=first.id, score=2, now=END)
    assert store.set_checkin_score(checkin_id=first.id, score=5, now=END + MINUTE).score == 5
    assert store.get_checkin(first.id).answered_at == END + MINUTE and store.get_checkin(999) is None


def test_report_delivery_defaults_to_the_channel_and_returns_the_one_before(database, store):
    """No row: channel. Setting admins returns channel; setting off returns admins."""
    team_id = seed(database)
    assert store.report_delivery(team_id) is ReportDelivery.channel
    assert store.set_report_delivery(team_id=team_id, delivery=ReportDelivery.admins, user_id=ANA, now=END) is ReportDelivery.channel
    assert store.set_report_delivery(team_id=team_id, delivery=ReportDelivery.off, user_id=ANA, now=END) is ReportDelivery.admins
    assert store.report_delivery(team_id) is ReportDelivery.off


def test_export_keeps_the_callers_workspace_audit_and_system_wide_entries_only(database, store):
    """Another workspace's audit entries stay out of an export; entries with no workspace (system-wide) stay in."""
    team_id = seed(database)
    log = AuditLog(database)
    for action, workspace in (("ours", "T0"), ("ours_by_team_id", str(team_id)), ("theirs", "T-other"), ("system_wide", None)):
        log.record(AuditRecord(at=utc(10, 21, 9), actor=ANA, action=action, via="slash_command", team_id=workspace))
    assert [r.action for r in store.export(start=START, end=END, workspace_id="T0").audit] == ["ours", "ours_by_team_id", "system_wide"]
    assert [r.action for r in store.export(start=START, end=END, workspace_id="T-other").audit] == ["theirs", "system_wide"]
    assert [r.action for r in store.export(start=START, end=END, team_id=team_id).audit] == ["ours", "ours_by_team_id", "system_wide"]
    assert len(store.export(start=START, end=END).audit) == 4  # the CLI without a workspace exports everything


def test_export_of_a_range_round_trips_through_csv(database, store):
    """The week's crises, pages (with hour kind in the person's zone), acks and audit records survive CSV and back."""
    team_id = seed(database)
    AuditLog(database).record(AuditRecord(at=utc(10, 20, 9), actor=ANA, action="override_added", via="slash_command", target="team:1",
                                          team_id=str(team_id), after={"user": CAI, "note": 'says "hi", twice\nreally'}))
    AuditLog(database).record(AuditRecord(at=utc(10, 30, 9), actor=ANA, action="later", via="cli"))
    export = store.export(start=START, end=END, workspace_id="T0")
    assert [c.summary for c in export.crises] == ["crisis 0", "crisis 2", "crisis 1", "crisis 3"]
    assert [(p.person, p.method, p.hour_kind) for p in export.pages][:3] == [
        (BEN, "dm", "sleep"), (BEN, "channel_fallback", None), (CAI, "dm", "business")]
    assert [(p.person, p.method, p.hour_kind) for p in export.pages][3:5] == [(ANA, "channel", "sleep"), ("<!here>", "channel", None)]
    assert [a.seconds_to_ack for a in export.acknowledgements] == [240, 120, 600, 1200]
    assert [r.action for r in export.audit] == ["override_added"]
    assert read_csvs(write_csvs(export)) == export
    assert store.export(start=START, end=END, workspace_id="T-other").crises == []
    assert store.find_team_id("social") == team_id and store.find_team_id("nope") is None


def test_the_crisis_cards_language_mix_reaches_the_report(database, store):
    """The negatives and language mix stored with a crisis card's stats are what the report's mix is made of."""
    from sqlmodel import select

    from bot.crisis import SpikeStats

    team_id = seed(database)
    with database.session_scope() as session:
        rows = session.exec(select(CrisisRow).where(CrisisRow.opened_at >= START, CrisisRow.opened_at < END)
                            .order_by(CrisisRow.opened_at)).all()
        rows[0].stats = SpikeStats(negative=90, languages=(("it", 0.6), ("en", 0.4))).to_dict()
        rows[1].stats = SpikeStats(negative=10, languages=(("en", 1.0),)).to_dict()
    rotation = Rotations(database).load_rotation_by_id(team_id)
    period = report_period(END, tz="Europe/Rome", weeks=1)
    mix = build_report(store.report_inputs(rotation, period), period).negative_languages
    assert [(code, round(share, 2)) for code, share in mix] == [("it", 0.54), ("en", 0.46)]
