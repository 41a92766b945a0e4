"""Team report figures from a seeded week, checked against values worked out by hand.

The week is Mon 19 Oct 09:00 → Mon 26 Oct 09:00 Europe/Rome, so it holds the end of European summer time
(25 Oct): 169 hours. Ben is in Auckland (NZ), Cai in New York (US), Ana in Rome (IT); 26 Oct is NZ Labour Day.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.errors import UsageError
from bot.oncall import TeamInfo, TeamRotation
from bot.page_hours import HourKind
from bot.reports import (
    CheckinFact, CoverFact, CrisisFact, ReportDelivery, PageFact, ReportInputs, build_report, durations, parse_delivery, report_period,
    weekly_report_due, weekly_report_weeks, negative_language_mix,
)
from bot.rotation import Layers, Member, Override, Role, RotationSpec, ScheduleIndex, TimeOff

ANA, BEN, CAI = "U0ANA", "U0BEN", "U0CAI"
EPOCH = datetime(2026, 10, 12, 7, 0, tzinfo=UTC)  # Mon 09:00 CEST: week 0 Ana/Ben, week 1 Ben/Cai, week 2 Cai/Ana
END = datetime(2026, 10, 26, 8, 0, tzinfo=UTC)  # Mon 09:00 CET, after the clocks went back
START = datetime(2026, 10, 19, 7, 0, tzinfo=UTC)
TEAM = TeamInfo(id=1, name="social", tz="Europe/Rome", workspace_id="T0")


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def rotation() -> TeamRotation:
    spec = RotationSpec(tz=ZoneInfo("Europe/Rome"), roster=(ANA, BEN, CAI), epoch=EPOCH, members=(
        Member(ANA, "Europe/Rome", "IT"), Member(BEN, "Pacific/Auckland", "NZ"), Member(CAI, "America/New_York", "US")))
    layers = Layers(
        # Cai covers Ben for 12 h (a taken cover request); everyone is away for 2 h on Friday: a gap.
        overrides=(Override(CAI, utc(10, 21, 18), utc(10, 22, 6), utc(10, 20, 10), Role.PRIMARY, BEN),),
        time_off=tuple(TimeOff(u, utc(10, 23, 10), utc(10, 23, 12)) for u in (ANA, BEN, CAI)),
    )
    return TeamRotation(team=TEAM, spec=spec, layers=layers)


def crisis(n: int, opened: datetime, *, severity: str = "SEV2", topic: str = "acme", ack_min: int | None = None,
           resolve_min: int | None = None, status: str = "resolved", by: str = BEN) -> CrisisFact:
    return CrisisFact(id=n, topic=topic, severity=severity, status=status, opened_at=opened,
                      acked_by=by if ack_min is not None else None,
                      acked_at=opened + timedelta(minutes=ack_min) if ack_min is not None else None,
                      resolved_at=opened + timedelta(minutes=resolve_min) if resolve_min is not None else None)


def seeded() -> ReportInputs:
    crises = [
        crisis(1, utc(10, 20, 13), ack_min=4, resolve_min=60),
        crisis(2, utc(10, 24, 3), severity="SEV1", ack_min=10, resolve_min=180),
        crisis(3, utc(10, 21, 20), severity="SEV3", topic="acme-summer", ack_min=2, resolve_min=30, status="false_alarm", by=CAI),
        crisis(4, utc(10, 26, 6, 30), ack_min=20, status="acknowledged"),
        crisis(5, utc(10, 14, 10), ack_min=6, resolve_min=120),  # the week before
        crisis(6, utc(10, 15, 10), ack_min=8, resolve_min=240),  # the week before
        crisis(7, utc(10, 26, 9), ack_min=1, resolve_min=5),  # after the period: ignored
    ]
    pages = [
        PageFact(1, utc(10, 20, 13), BEN),  # Auckland Wed 02:00: sleep
        PageFact(2, utc(10, 24, 3), BEN),  # Auckland Sat 16:00: off
        PageFact(2, utc(10, 24, 3, 5), CAI),  # New York Fri 23:05: sleep
        PageFact(3, utc(10, 21, 20), CAI),  # New York Wed 16:00: business
        PageFact(4, utc(10, 26, 6, 30), BEN),  # Auckland Mon 19:30: off
        PageFact(4, utc(10, 26, 6, 35), ANA),  # Rome Mon 07:35 CET: sleep (it would be 08:35, business, a day earlier)
        PageFact(5, utc(10, 14, 10), ANA),  # the week before: not counted
    ]
    covers = [CoverFact(requester=BEN, taken_by=CAI, start=utc(10, 21, 18), end=utc(10, 22, 6), taken_at=utc(10, 20, 10))]
    checkins = [
        CheckinFact(BEN, START, END, 4),
        CheckinFact(CAI, utc(10, 21, 18), utc(10, 22, 6), 5),
        CheckinFact(CAI, utc(10, 22, 6), utc(10, 22, 7), 2),
        CheckinFact(ANA, EPOCH, START, 2),  # ended when the period began: the week before
        CheckinFact(ANA, START, utc(10, 20, 7), None),  # asked, never answered
    ]
    return ReportInputs(rotation=rotation(), crises=crises, pages=pages, covers=covers, checkins=checkins)


@pytest.fixture
def report():
    period = report_period(END, tz="Europe/Rome", weeks=1)
    return build_report(seeded(), period)


def test_week_ending_after_the_clocks_go_back_is_169_hours_from_nine_to_nine():
    """The period is whole wall-clock weeks: 09:00 to 09:00 Rome, and the week before it too."""
    period = report_period(END, tz="Europe/Rome", weeks=1)
    assert (period.before, period.start, period.end) == (EPOCH, START, END)
    assert period.end - period.start == timedelta(hours=169)
    spring = report_period(utc(4, 2, 7), tz="Europe/Rome", weeks=1)  # summer time began on 29 Mar
    assert spring.start == utc(3, 26, 8) and spring.end - spring.start == timedelta(hours=167)


def test_crises_are_counted_by_severity_and_topic_with_the_false_alarm_share(report):
    """Four crises in the week: SEV1 1, SEV2 2, SEV3 1; acme 3, acme-summer 1; one false alarm = 25%."""
    assert report.crises == 4
    assert report.by_severity == {"SEV1": 1, "SEV2": 2, "SEV3": 1}
    assert report.by_topic == {"acme": 3, "acme-summer": 1}
    assert report.false_alarms == 1 and report.false_alarm_share == 0.25


def test_time_to_acknowledge_and_resolve_have_median_and_p90_beside_the_week_before(report):
    """Acks 2, 4, 10, 20 min → median 7, p90 20; before 6, 8 → 7 and 8. Resolved (not false alarms) 60, 180 → 120 and 180."""
    minute = timedelta(minutes=1)
    assert (report.time_to_ack.count, report.time_to_ack.median, report.time_to_ack.p90) == (4, 7 * minute, 20 * minute)
    assert (report.time_to_ack_before.median, report.time_to_ack_before.p90) == (7 * minute, 8 * minute)
    assert (report.time_to_resolve.count, report.time_to_resolve.median, report.time_to_resolve.p90) == (2, 120 * minute, 180 * minute)
    assert (report.time_to_resolve_before.median, report.time_to_resolve_before.p90) == (180 * minute, 240 * minute)
    assert report.ack_minutes == [2.0, 4.0, 10.0, 20.0]


def test_pages_are_split_into_business_off_and_sleep_hours_in_each_persons_own_zone(report):
    """Ben (Auckland) off 2 sleep 1; Cai (New York) business 1 sleep 1; Ana (Rome, after the DST change) sleep 1."""
    people = {p.user_id: p for p in report.people}
    assert people[BEN].pages == {HourKind.business: 0, HourKind.off: 2, HourKind.sleep: 1}
    assert people[CAI].pages == {HourKind.business: 1, HourKind.off: 0, HourKind.sleep: 1}
    assert people[ANA].pages == {HourKind.business: 0, HourKind.off: 0, HourKind.sleep: 1}
    assert [p.user_id for p in report.people] == [BEN, CAI, ANA]  # most paged first
    assert people[BEN].tz == "Pacific/Auckland"


def test_on_call_hours_follow_the_final_schedule_with_the_override_and_the_gap(report):
    """169 h: Ben primary 155 (12 covered by Cai, 2 nobody); Cai backup 155, Ana backup 12 while Cai was primary."""
    people = {p.user_id: p for p in report.people}
    assert (people[BEN].primary_hours, people[BEN].backup_hours) == (155, 0)
    assert (people[CAI].primary_hours, people[CAI].backup_hours) == (12, 155)
    assert (people[ANA].primary_hours, people[ANA].backup_hours) == (0, 12)


def test_weekends_and_public_holidays_are_local_days_of_the_primary(report):
    """Ben's Saturday and Sunday in Auckland, and NZ Labour Day (Mon 26 Oct, his evening); Cai's cover fell on weekdays."""
    people = {p.user_id: p for p in report.people}
    assert (people[BEN].weekend_days, people[BEN].holidays) == (2, 1)
    assert (people[CAI].weekend_days, people[CAI].holidays) == (0, 0)


def test_coverage_gaps_cover_requests_and_check_in_averages(report):
    """One 2 h gap; Cai took Ben's cover; check-ins in the period average Ben 4, Cai 3.5, Ana none answered."""
    assert [(g.start, g.end) for g in report.gaps] == [(utc(10, 23, 10), utc(10, 23, 12))]
    assert report.gap_total == timedelta(hours=2)
    assert [(c.requester, c.taken_by) for c in report.covers] == [(BEN, CAI)]
    people = {p.user_id: p for p in report.people}
    assert people[CAI].covers_taken == 1 and people[BEN].covers_taken == 0
    assert (people[BEN].checkin_average, people[BEN].checkins) == (4.0, 1)
    assert (people[CAI].checkin_average, people[CAI].checkins) == (3.5, 2)
    assert (people[ANA].checkin_average, people[ANA].checkins) == (None, 0)


def test_crises_per_day_are_team_local_days_with_zeros(report):
    """Eight Rome days touch the week; the crisis at 06:30 UTC on the 26th is that Monday in Rome."""
    assert report.crises_per_day == [(date(2026, 10, d), n) for d, n in
                                     ((19, 0), (20, 1), (21, 1), (22, 0), (23, 0), (24, 1), (25, 0), (26, 1))]


def test_a_zone_set_by_the_person_wins_over_the_roster_zone():
    """Ben's own zone setting (Rome): Tue 15:00 business, Sat 05:00 and Mon 07:30 (CET) sleep."""
    inputs = seeded()
    moved = ReportInputs(rotation=inputs.rotation, crises=inputs.crises, pages=inputs.pages, covers=inputs.covers,
                         checkins=inputs.checkins, zones={BEN: "Europe/Rome"})
    people = {p.user_id: p for p in build_report(moved, report_period(END, tz="Europe/Rome", weeks=1)).people}
    assert people[BEN].pages == {HourKind.business: 1, HourKind.off: 0, HourKind.sleep: 2}
    assert people[BEN].weekend_days == 2 and people[BEN].tz == "Europe/Rome"


def test_durations_take_the_nearest_rank_p90_and_nothing_for_no_values():
    """Ten values: p90 is the 9th; none: no median."""
    values = [timedelta(minutes=m) for m in range(1, 11)]
    assert durations(values).p90 == timedelta(minutes=9) and durations(values).median == timedelta(minutes=5.5)
    assert durations([]) == durations(()) and durations([]).median is None


def test_report_weeks_and_destinations_are_checked():
    """0 or 13 weeks and an unknown destination are usage errors."""
    for weeks in (0, 13):
        with pytest.raises(UsageError):
            report_period(END, tz="Europe/Rome", weeks=weeks)
    assert parse_delivery("ADMINS") is ReportDelivery.admins
    with pytest.raises(UsageError):
        parse_delivery("email")


def test_weekly_report_goes_out_at_every_weekly_handoff_and_once_a_week_for_daily_rotations():
    """A weekly rotation reports at each handoff; a daily one only on the rule's weekday; a fortnightly one covers 2 weeks."""
    weekly = ScheduleIndex(rotation().spec, Layers())
    assert weekly_report_due(weekly, START) and weekly_report_weeks(weekly) == 1
    daily_spec = RotationSpec(tz=ZoneInfo("Europe/Rome"), roster=(ANA, BEN), epoch=EPOCH, length=timedelta(days=1))
    daily = ScheduleIndex(daily_spec, Layers())
    due = [h for h in daily.handoffs(START, START + timedelta(days=7)) if weekly_report_due(daily, h)]
    assert due == [START]
    fortnightly = ScheduleIndex(RotationSpec(tz=ZoneInfo("Europe/Rome"), roster=(ANA, BEN), epoch=EPOCH, length=timedelta(days=14)), Layers())
    assert weekly_report_weeks(fortnightly) == 2


def test_the_report_names_the_language_mix_of_the_negative_mentions():
    """Each crisis card's shares are weighted by its negatives; crises outside the period and cards without a mix
    do not count, and a report of crises with no mix names none."""
    inputs = seeded()
    crises = list(inputs.crises)
    crises[0] = replace(crises[0], negative=300, languages=(("it", 0.9), ("en", 0.1)))  # in the period
    crises[1] = replace(crises[1], negative=100, languages=(("en", 0.5), ("de", 0.3)))  # in the period, 20 % undetected
    crises[4] = replace(crises[4], negative=5000, languages=(("fr", 1.0),))  # the week before: not this report's
    period = report_period(END, tz="Europe/Rome", weeks=1)
    mix = build_report(replace(inputs, crises=crises), period).negative_languages
    assert [code for code, _ in mix] == ["it", "en", "de"]
    assert [round(share, 3) for _, share in mix] == [0.675, 0.2, 0.075]  # (270, 30 + 50, 30) of 400
    assert build_report(inputs, period).negative_languages == ()
    assert negative_language_mix([replace(crises[0], negative=0)]) == ()
