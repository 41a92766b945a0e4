"""Property and example tests of the final on-call schedule (bot/rotation.py): pure, no Slack, no database."""

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from bot.rotation import (
    HandoffRule,
    Layers,
    Member,
    Override,
    Reason,
    RegionalWindow,
    Role,
    RotationSpec,
    ScheduleIndex,
    Shift,
    Swap,
    TimeOff,
    UserShift,
    final_schedule,
    next_handoff,
    next_shifts,
    who_is_on_call,
)

ROME = ZoneInfo("Europe/Rome")
NEW_YORK = ZoneInfo("America/New_York")
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EPOCH = datetime(2026, 3, 2, 9, 0, tzinfo=ROME)  # a Monday 09:00, four weeks before Rome's spring-forward
WEEK = timedelta(days=7)


def team(roster=("ana", "ben", "cai", "dev"), **kwargs) -> RotationSpec:
    return RotationSpec(**{"tz": ROME, "roster": roster, "epoch": EPOCH, **kwargs})


def rome(*args) -> datetime:
    return datetime(*args, tzinfo=ROME)


def primaries(spec, layers, weeks) -> list:
    index = ScheduleIndex(spec, layers)
    return [index.who_is_on_call(EPOCH + k * WEEK + timedelta(hours=1)).primary for k in range(weeks)]


# --- strategies -------------------------------------------------------------------------------------


@st.composite
def rotations(draw, *, with_layers=True):
    """Draw (spec, layers, start, end): any zone, 1-5 people, several lengths, random time off and overrides."""
    tz = draw(st.timezones())
    roster = tuple(f"u{i}" for i in range(draw(st.integers(1, 5))))
    days = draw(st.sampled_from([1, 3, 7, 14]))
    first = draw(st.dates(date(2024, 1, 1), date(2030, 12, 31)))
    epoch = datetime.combine(first, time(9), tzinfo=tz).astimezone(UTC)
    spec = RotationSpec(
        tz=tz, roster=roster, epoch=epoch, handoff_weekday=first.weekday(), length=timedelta(days=days),
        shadows=draw(st.sampled_from([(), ("s0",), ("s0", "u0")])),
    )
    span_hours = 6 * days * 24
    hours = st.integers(0, span_hours)
    layers = Layers()
    if with_layers:
        time_off = [
            TimeOff(u, epoch + timedelta(hours=h), epoch + timedelta(hours=h + d))
            for u, h, d in draw(st.lists(st.tuples(st.sampled_from(roster), hours, st.integers(1, 24 * 10)), max_size=6))
        ]
        overrides = [
            Override(u, epoch + timedelta(hours=h), epoch + timedelta(hours=h + d), created_at=epoch + timedelta(minutes=c), role=role)
            for u, h, d, c, role in draw(
                st.lists(
                    st.tuples(st.sampled_from(roster + ("x",)), hours, st.integers(1, 72), st.integers(0, 5),
                              st.sampled_from([Role.PRIMARY, Role.PRIMARY, Role.BACKUP])),
                    max_size=5,
                )
            )
        ]
        layers = Layers(time_off=tuple(time_off), overrides=tuple(overrides))
    start = epoch - timedelta(hours=draw(st.integers(0, 48)))
    end = epoch + timedelta(hours=draw(st.integers(1, span_hours)))
    return spec, layers, start, end


def on_time_off(layers, user, t) -> bool:
    return any(o.user_id == user and o.start <= t < o.end for o in layers.time_off)


def winning_override(layers, role, t):
    covering = [(o.created_at, i, o.user_id) for i, o in enumerate(layers.overrides) if o.role is role and o.start <= t < o.end]
    return max(covering)[2] if covering else None


def probes(shifts):
    """Yield (instant, shift) at each shift's first and last instant: the people are constant inside a shift."""
    for shift in shifts:
        yield shift.start, shift
        yield shift.end - timedelta(microseconds=1), shift


# --- properties of the final schedule -----------------------------------------------------------------


@PROPERTY
@given(rotations())
def test_final_schedule_is_contiguous_without_gaps_or_overlaps(case):
    """Shifts tile [start, end) exactly, and neighbours always differ (identical ones are merged)."""
    spec, layers, start, end = case
    shifts = final_schedule(spec, layers, start, end)
    assert shifts[0].start == start and shifts[-1].end == end
    for before, after in zip(shifts, shifts[1:]):
        assert before.end == after.start
        assert (before.primary, before.backup, before.shadow, before.reason, before.window) != (
            after.primary, after.backup, after.shadow, after.reason, after.window,
        )
    assert all(s.start < s.end and s.start.tzinfo is UTC for s in shifts)


@PROPERTY
@given(rotations())
def test_exactly_one_primary_whenever_anyone_is_available(case):
    """A gap (primary None) appears only before the epoch or when every roster member is away."""
    spec, layers, start, end = case
    for t, shift in probes(final_schedule(spec, layers, start, end)):
        if shift.primary is None:
            assert t < spec.epoch or all(on_time_off(layers, u, t) for u in spec.roster)
            assert shift.reason in (Reason.GAP, Reason.NOT_STARTED)


@PROPERTY
@given(rotations())
def test_override_always_wins_and_last_created_wins_among_overlapping(case):
    """Inside an override the covering person is primary (or backup), even over their own time off."""
    spec, layers, start, end = case
    for t, shift in probes(final_schedule(spec, layers, start, end)):
        if t < spec.epoch:
            continue
        forced = winning_override(layers, Role.PRIMARY, t)
        if forced is not None:
            assert shift.primary == forced and shift.reason is Reason.OVERRIDE
        forced_backup = winning_override(layers, Role.BACKUP, t)
        if forced_backup is not None and forced_backup != shift.primary:
            assert shift.backup == forced_backup


@PROPERTY
@given(rotations())
def test_person_on_time_off_is_never_scheduled(case):
    """Outside overrides, nobody on time off is primary, backup or shadow."""
    spec, layers, start, end = case
    for t, shift in probes(final_schedule(spec, layers, start, end)):
        if shift.primary is not None and winning_override(layers, Role.PRIMARY, t) is None:
            assert not on_time_off(layers, shift.primary, t)
        if shift.backup is not None and winning_override(layers, Role.BACKUP, t) is None:
            assert not on_time_off(layers, shift.backup, t)
        if shift.shadow is not None:
            assert not on_time_off(layers, shift.shadow, t)
        assert shift.backup is None or shift.backup != shift.primary
        assert shift.shadow is None or shift.primary is not None


@PROPERTY
@given(rotations())
def test_a_primary_override_never_changes_the_backup_layer(case):
    """With or without the primary overrides, the backup is the same wherever it is not the overriding person (nor overridden itself)."""
    spec, layers, start, end = case
    plain = ScheduleIndex(spec, Layers(time_off=layers.time_off, overrides=[o for o in layers.overrides if o.role is Role.BACKUP]))
    for t, shift in probes(final_schedule(spec, layers, start, end)):
        without = plain.who_is_on_call(t)
        if winning_override(layers, Role.BACKUP, t) is not None:
            continue  # an explicit backup override is its own layer
        if shift.primary is not None and without.backup is not None and without.backup != shift.primary:
            assert shift.backup == without.backup


@PROPERTY
@given(rotations())
def test_who_is_on_call_answers_with_the_final_schedule_shift(case):
    """who_is_on_call(t) is exactly the merged final-schedule shift containing t."""
    spec, layers, start, end = case
    shifts = final_schedule(spec, layers, start - timedelta(days=60), end + timedelta(days=60))
    for shift in shifts[1:-1][:8]:  # the outer two are clipped by the range
        if start <= shift.start < end:
            assert who_is_on_call(spec, layers, shift.start) == shift
            assert who_is_on_call(spec, layers, shift.end - timedelta(microseconds=1)) == shift


@PROPERTY
@given(rotations(with_layers=False), st.integers(1, 30))
def test_shift_counts_differ_by_at_most_one_without_time_off(case, slots):
    """With no time off, every member's number of shifts over any run of slots differs by at most one."""
    spec, layers, _, _ = case
    index = ScheduleIndex(spec, layers)
    handoffs = index.handoffs(spec.epoch, spec.epoch + (slots + 1) * spec.length)[:slots]
    shifts = index.final_schedule(handoffs[0], handoffs[-1] + spec.length)
    owners = Counter(next(s.primary for s in shifts if s.start <= h < s.end) for h in handoffs)
    counts = [owners.get(u, 0) for u in spec.roster]
    assert len(handoffs) == slots
    assert max(counts) - min(counts) <= 1


@pytest.mark.parametrize("zone", ["Europe/Rome", "America/New_York", "Australia/Sydney", "Asia/Kolkata"])
def test_handoff_stays_at_nine_local_across_both_dst_transitions(zone):
    """Over two years of weekly shifts every handoff is Monday 09:00 local, whatever the UTC offset."""
    tz = ZoneInfo(zone)
    spec = RotationSpec(tz=tz, roster=("a", "b", "c"), epoch=datetime(2026, 1, 5, 9, tzinfo=tz))
    shifts = final_schedule(spec, Layers(), spec.epoch, spec.epoch + 104 * WEEK)
    starts = [s.start.astimezone(tz) for s in shifts]
    assert len(starts) == 104
    assert all((t.weekday(), t.hour, t.minute) == (0, 9, 0) for t in starts)
    offsets = {t.utcoffset() for t in starts}
    assert len(offsets) == (1 if zone == "Asia/Kolkata" else 2)  # both sides of DST were crossed


@PROPERTY
@given(st.timezones(), st.datetimes(datetime(2024, 1, 1), datetime(2032, 1, 1), timezones=st.just(UTC)), st.integers(0, 6))
def test_next_handoff_keeps_its_wall_clock_time_in_any_zone(tz, after, weekday):
    """next_handoff is strictly later, within a week, on the right weekday at 09:00 local."""
    handoff = next_handoff(HandoffRule(weekday, time(9), tz), after)
    local = handoff.astimezone(tz)
    assert after < handoff <= after + WEEK + timedelta(hours=3)
    assert local.weekday() == weekday
    assert (local.hour, local.minute) == (9, 0)


@PROPERTY
@given(
    st.timezones(),
    st.dates(date(2024, 1, 1), date(2030, 12, 31)),
    st.sampled_from([1, 2, 7]),
)
def test_every_shift_starts_at_the_handoff_time_in_any_zone(tz, first, days):
    """Daily, custom and weekly rotations in any zone hand off at 09:00 local for a year."""
    spec = RotationSpec(
        tz=tz, roster=("a", "b"), epoch=datetime.combine(first, time(9), tzinfo=tz),
        handoff_weekday=first.weekday(), length=timedelta(days=days),
    )
    handoffs = ScheduleIndex(spec, Layers()).handoffs(spec.epoch, spec.epoch + timedelta(days=365))
    for k, handoff in enumerate(handoffs):
        local = handoff.astimezone(tz)
        assert (local.hour, local.minute) == (9, 0)
        assert local.date() == first + timedelta(days=k * days)


# --- follow-the-sun ------------------------------------------------------------------------------------


def follow_the_sun(**kwargs) -> RotationSpec:
    return team(
        roster=("apac1", "apac2"),
        windows=(
            RegionalWindow("Europe", "Europe/Rome", time(7), time(19), ("eu1", "eu2")),
            RegionalWindow("Americas", "America/New_York", time(7), time(19), ("us1", "us2")),
        ),
        **kwargs,
    )


def test_follow_the_sun_hands_over_between_regions_each_day():
    """Europe covers 07-19 Rome, the Americas take over until 19 New York, the base roster has the rest."""
    spec = follow_the_sun()
    at = lambda *a: who_is_on_call(spec, Layers(), rome(*a))
    assert (at(2026, 3, 3, 12).primary, at(2026, 3, 3, 12).window) == ("eu1", "Europe")
    assert (at(2026, 3, 3, 20).primary, at(2026, 3, 3, 20).window) == ("us1", "Americas")
    assert (at(2026, 3, 4, 3).primary, at(2026, 3, 4, 3).window) == ("apac1", None)
    assert at(2026, 3, 10, 12).primary == "eu2"  # each region rotates weekly on its own roster


@PROPERTY
@given(st.datetimes(datetime(2026, 3, 2, 9), datetime(2027, 3, 1), timezones=st.just(UTC)))
def test_each_instant_belongs_to_the_first_open_window_or_the_base_roster(t):
    """Europe is first where windows overlap; an instant no window covers falls back to the base roster."""
    spec = follow_the_sun()
    shift = who_is_on_call(spec, Layers(), t)
    rome_hour, ny_hour = t.astimezone(ROME).hour, t.astimezone(NEW_YORK).hour
    if 7 <= rome_hour < 19:
        assert shift.window == "Europe" and shift.primary in ("eu1", "eu2")
    elif 7 <= ny_hour < 19:
        assert shift.window == "Americas" and shift.primary in ("us1", "us2")
    else:
        assert shift.window is None and shift.primary in ("apac1", "apac2")


def test_window_with_nobody_available_falls_back_to_base_roster():
    """When a whole regional roster is away, the base roster covers instead of leaving a gap."""
    away = Layers(time_off=(TimeOff("eu1", EPOCH, EPOCH + WEEK), TimeOff("eu2", EPOCH, EPOCH + WEEK)))
    shift = who_is_on_call(follow_the_sun(), away, rome(2026, 3, 3, 12))
    assert shift.primary == "apac1" and shift.window == "Europe"


def test_shares_stay_fair_within_each_region():
    """Over eight weeks each regional roster member is the weekly owner equally often."""
    index = ScheduleIndex(follow_the_sun(), Layers())
    noon = [index.who_is_on_call(EPOCH + k * WEEK + timedelta(days=1, hours=3)).primary for k in range(8)]
    assert Counter(noon) == {"eu1": 4, "eu2": 4}


def test_window_over_midnight_and_overlap_order_are_honoured():
    """An overnight window (22:00-06:00) covers the small hours of the next day."""
    spec = team(roster=("day",), windows=(RegionalWindow("Night", ROME, time(22), time(6), ("owl",)),))
    assert who_is_on_call(spec, Layers(), rome(2026, 3, 3, 23)).primary == "owl"
    assert who_is_on_call(spec, Layers(), rome(2026, 3, 4, 5, 59)).primary == "owl"
    assert who_is_on_call(spec, Layers(), rome(2026, 3, 4, 6)).primary == "day"


# --- time off, holidays, swaps, overrides -------------------------------------------------------------


def test_time_off_reflows_the_shift_and_is_paid_back_later():
    """Ana away for her week: Ben covers it, then Ana takes Ben's next turn, and the rest never move."""
    layers = Layers(time_off=(TimeOff("ana", EPOCH - timedelta(days=1), EPOCH + WEEK),))
    assert primaries(team(), layers, 6) == ["ben", "ana", "cai", "dev", "ana", "ben"]
    first = who_is_on_call(team(), layers, EPOCH + timedelta(hours=1))
    assert first.reason is Reason.TIME_OFF
    assert who_is_on_call(team(), layers, EPOCH + WEEK + timedelta(hours=1)).reason is Reason.REBALANCE


def test_debtor_is_preferred_when_covering_another_absence():
    """Someone who owes a shift covers the next absence first, which settles their debt."""
    layers = Layers(
        time_off=(TimeOff("ana", EPOCH, EPOCH + WEEK), TimeOff("ben", EPOCH + WEEK, EPOCH + 2 * WEEK))
    )
    # Week 0 Ben covers Ana (Ana owes Ben); week 1 Ben is away and Ana, who owes, covers him: square.
    assert primaries(team(), layers, 5) == ["ben", "ana", "cai", "dev", "ana"]


def test_short_time_off_is_covered_only_while_away():
    """Cai away one afternoon of his week: Dev covers just those hours, with no ledger entry."""
    spec = team()
    off = TimeOff("cai", rome(2026, 3, 18, 13), rome(2026, 3, 18, 18))
    shifts = final_schedule(spec, Layers(time_off=(off,)), rome(2026, 3, 16, 9), rome(2026, 3, 23, 9))
    assert [(s.primary, s.backup, s.reason) for s in shifts] == [
        ("cai", "dev", Reason.ROTATION),
        ("dev", "ana", Reason.TIME_OFF),
        ("cai", "dev", Reason.ROTATION),
    ]
    assert (shifts[1].start, shifts[1].end) == (off.start.astimezone(UTC), off.end.astimezone(UTC))
    assert primaries(spec, Layers(time_off=(off,)), 6)[4:] == ["ana", "ben"]


def test_nobody_available_yields_an_explicit_gap_shift():
    """If the whole roster is away the schedule says so with primary None, so the health check can report it."""
    layers = Layers(time_off=(TimeOff("ana", rome(2026, 3, 3), rome(2026, 3, 4)), TimeOff("ben", rome(2026, 3, 3), rome(2026, 3, 4))))
    shift = who_is_on_call(team(roster=("ana", "ben")), layers, rome(2026, 3, 3, 12))
    assert (shift.primary, shift.backup, shift.reason) == (None, None, Reason.GAP)
    assert (shift.start, shift.end) == (rome(2026, 3, 3).astimezone(UTC), rome(2026, 3, 4).astimezone(UTC))


def test_before_the_epoch_nobody_is_on_call_yet():
    """Instants before the first handoff are an explicit not-started gap, ending at the epoch."""
    shift = who_is_on_call(team(), Layers(), EPOCH - timedelta(days=2))
    assert (shift.primary, shift.reason, shift.end) == (None, Reason.NOT_STARTED, EPOCH.astimezone(UTC))


def test_paused_member_is_skipped_but_kept_in_the_roster():
    """A paused member never comes up; the others share the weeks evenly."""
    spec = team(members=(Member("ben", "Europe/Rome", paused=True),))
    assert primaries(spec, Layers(), 6) == ["ana", "cai", "dev"] * 2
    assert "ben" in spec.roster


def test_public_holiday_counts_as_time_off_only_when_the_team_opts_in():
    """An Italian member is skipped on Christmas Day (their local day) only with observe_holidays."""
    members = (Member("ana", "Europe/Rome", country="IT"), Member("ben", "America/New_York", country="US"))
    daily = dict(roster=("ana", "ben"), length=timedelta(days=1), members=members)
    christmas_noon = rome(2026, 12, 25, 12)
    opted_out = who_is_on_call(team(**daily), Layers(), christmas_noon)
    opted_in = who_is_on_call(team(observe_holidays=True, **daily), Layers(), christmas_noon)
    assert opted_out.primary == "ana"
    # Ben (US) also has Christmas off, so in his zone's 25 Dec nobody is free: Ana, scheduled, works the holiday.
    assert (opted_in.primary, opted_in.backup, opted_in.reason) == ("ana", "ben", Reason.HOLIDAY_WORKED)
    assert opted_in.holiday_workers == ("ana", "ben")
    boxing_day = who_is_on_call(team(observe_holidays=True, **daily), Layers(), rome(2026, 12, 26, 8))
    assert boxing_day.primary == "ben"  # 26 Dec is a holiday in Italy but not in the US


def test_christmas_morning_with_everyone_on_holiday_keeps_the_scheduled_people():
    """The reported hole (25 Dec 06:00-14:00, primary and backup nobody): the scheduled primary and backup work the holiday."""
    members = (Member("ana", "Europe/Rome", country="IT"), Member("ben", "Europe/London", country="GB"),
               Member("cai", "America/New_York", country="US"))
    spec = team(roster=("ana", "ben", "cai"), members=members, observe_holidays=True, epoch=rome(2026, 12, 21, 9))
    shifts = final_schedule(spec, Layers(), rome(2026, 12, 24, 9), rome(2026, 12, 27, 9))
    assert all(s.primary is not None and s.backup is not None for s in shifts)
    at_seven = who_is_on_call(spec, Layers(), rome(2026, 12, 25, 7))
    assert (at_seven.primary, at_seven.reason) == ("ana", Reason.HOLIDAY_WORKED) and "ana" in at_seven.holiday_workers
    # Where someone is free the holiday still moves the shift to them (Cai, in New York, until 06:00 Rome); Ana backs up through hers.
    early = who_is_on_call(spec, Layers(), rome(2026, 12, 25, 3))
    assert (early.primary, early.backup, early.reason, early.holiday_workers) == ("cai", "ana", Reason.HOLIDAY, ("ana",))


def test_time_off_of_everyone_is_still_a_gap_even_on_a_holiday():
    """Holidays never make a hole, but time off of the whole roster still does (and the health check reports it)."""
    members = (Member("ana", "Europe/Rome", country="IT"), Member("ben", "Europe/Rome", country="IT"))
    spec = team(roster=("ana", "ben"), members=members, observe_holidays=True, epoch=rome(2026, 12, 21, 9))
    layers = Layers(time_off=(TimeOff("ana", rome(2026, 12, 24), rome(2026, 12, 27)), TimeOff("ben", rome(2026, 12, 24), rome(2026, 12, 27))))
    assert who_is_on_call(spec, layers, rome(2026, 12, 25, 12)).reason is Reason.GAP
    only_ana_away = Layers(time_off=layers.time_off[:1])
    shift = who_is_on_call(spec, only_ana_away, rome(2026, 12, 25, 12))
    assert (shift.primary, shift.backup, shift.reason, shift.holiday_workers) == ("ben", None, Reason.HOLIDAY_WORKED, ("ben",))


@pytest.mark.parametrize("holiday", [
    date(2027, 3, 29),  # Easter Monday, the day after Rome's spring-forward
    date(2027, 11, 1),  # All Saints, the day after Rome's fall-back
])
def test_holiday_worked_after_a_dst_change_keeps_the_nine_oclock_handoff(holiday):
    """A daily all-Italian team on a holiday the day after either DST change: the scheduled person works it from 09:00
    local to the holiday's local midnight, then keeps the shift until 09:00 local the next day."""
    members = tuple(Member(u, "Europe/Rome", country="IT") for u in ("ana", "ben", "cai"))
    spec = team(roster=("ana", "ben", "cai"), members=members, observe_holidays=True, length=timedelta(days=1),
                epoch=rome(2027, 3, 1, 9), handoff_weekday=0)
    nine, midnight = rome(holiday.year, holiday.month, holiday.day, 9), rome(holiday.year, holiday.month, holiday.day) + timedelta(days=1)
    worked = who_is_on_call(spec, Layers(), nine + timedelta(hours=3))
    assert worked.primary is not None and worked.reason is Reason.HOLIDAY_WORKED and worked.primary in worked.holiday_workers
    assert worked.start == nine.astimezone(UTC) and worked.end == rome(midnight.year, midnight.month, midnight.day).astimezone(UTC)
    after = who_is_on_call(spec, Layers(), worked.end + timedelta(hours=1))
    assert after.primary == worked.primary and after.holiday_workers == ()
    assert after.end == rome(midnight.year, midnight.month, midnight.day, 9).astimezone(UTC)
    before = who_is_on_call(spec, Layers(), nine - timedelta(hours=1))
    assert before.end == nine.astimezone(UTC) and before.primary not in (None, worked.primary)


@PROPERTY
@given(st.timezones(), st.integers(2024, 2030), st.integers(15, 31),
       st.lists(st.sampled_from(["IT", "US", "GB", "AU", "IN", "DE"]), min_size=1, max_size=4), st.sampled_from([1, 7]))
def test_public_holidays_never_leave_nobody_on_call(tz, year, day, countries, days):
    """Around Christmas and New Year, whatever the zones and countries, every instant has a primary (no time off given)."""
    roster = tuple(f"u{i}" for i in range(len(countries)))
    members = tuple(Member(u, tz.key, country=c) for u, c in zip(roster, countries))
    first = date(year, 12, day)
    spec = RotationSpec(tz=tz, roster=roster, epoch=datetime.combine(first, time(9), tzinfo=tz).astimezone(UTC),
                        handoff_weekday=first.weekday(), length=timedelta(days=days), members=members, observe_holidays=True)
    start = spec.epoch
    for shift in final_schedule(spec, Layers(), start, start + timedelta(days=14)):
        assert shift.primary is not None
        assert len(roster) == 1 or shift.backup is not None


def test_holiday_covering_most_of_a_daily_shift_moves_the_whole_shift():
    """A holiday over most of a daily shift re-assigns it whole, and the debt is repaid next time."""
    members = (Member("ana", "Europe/Rome", country="IT"),)
    spec = team(roster=("ana", "ben", "cai"), length=timedelta(days=1), members=members, observe_holidays=True,
                epoch=rome(2026, 4, 6, 9), handoff_weekday=0)  # Easter Monday 2026
    index = ScheduleIndex(spec, Layers())
    owners = [index._owner(index._base, k) for k in range(4)]
    assert owners == [("ben", Reason.HOLIDAY), ("ana", Reason.REBALANCE), ("cai", Reason.ROTATION), ("ana", Reason.ROTATION)]


def test_swap_exchanges_two_whole_shifts():
    """Ana and Cai swap weeks 0 and 2; nobody else moves."""
    swap = Swap("ana", EPOCH + timedelta(days=3), "cai", EPOCH + 2 * WEEK + timedelta(days=1))
    layers = Layers(swaps=(swap,))
    assert primaries(team(), layers, 4) == ["cai", "ben", "ana", "dev"]
    assert who_is_on_call(team(), layers, EPOCH + timedelta(hours=1)).reason is Reason.SWAP


def test_stale_swap_is_ignored_as_a_whole():
    """A swap naming a shift its person no longer owns (time off re-flowed it) changes nothing."""
    swap = Swap("ana", EPOCH + timedelta(days=3), "cai", EPOCH + 2 * WEEK + timedelta(days=1))
    layers = Layers(time_off=(TimeOff("ana", EPOCH, EPOCH + WEEK),), swaps=(swap,))
    assert primaries(team(), layers, 4) == ["ben", "ana", "cai", "dev"]


def test_override_wins_even_over_the_covering_persons_time_off():
    """An override is an explicit decision, so it beats time off of both people."""
    cover = Override("ben", rome(2026, 3, 4), rome(2026, 3, 5), created_at=EPOCH)
    layers = Layers(time_off=(TimeOff("ben", rome(2026, 3, 1), rome(2026, 3, 10)), TimeOff("ana", rome(2026, 3, 4), rome(2026, 3, 5))), overrides=(cover,))
    shift = who_is_on_call(team(), layers, rome(2026, 3, 4, 12))
    assert (shift.primary, shift.reason) == ("ben", Reason.OVERRIDE)
    # Without the override Cai (Ana away) is primary and Dev backup; the override replaces only the primary layer.
    assert shift.backup == "dev"


def test_last_created_override_wins_whatever_the_input_order():
    """Of two overlapping overrides, the one created later wins in the overlap."""
    later = Override("dev", rome(2026, 3, 4), rome(2026, 3, 6), created_at=EPOCH + timedelta(hours=2))
    earlier = Override("cai", rome(2026, 3, 3), rome(2026, 3, 5), created_at=EPOCH + timedelta(hours=1))
    shifts = final_schedule(team(), Layers(overrides=(later, earlier)), rome(2026, 3, 3), rome(2026, 3, 6))
    assert [s.primary for s in shifts] == ["cai", "dev"]


def test_backup_override_replaces_only_the_backup():
    """A backup override changes the backup and leaves the primary alone."""
    cover = Override("dev", rome(2026, 3, 3), rome(2026, 3, 4), created_at=EPOCH, role=Role.BACKUP, replaces="ben")
    shift = who_is_on_call(team(), Layers(overrides=(cover,)), rome(2026, 3, 3, 12))
    assert (shift.primary, shift.backup) == ("ana", "dev")


def test_primary_override_keeps_the_scheduled_backup():
    """Dev overrides Ana's primary in week 0: Ben stays backup (he was before), Ana is not made backup."""
    cover = Override("dev", rome(2026, 3, 3), rome(2026, 3, 4), created_at=EPOCH, replaces="ana")
    shift = who_is_on_call(team(), Layers(overrides=(cover,)), rome(2026, 3, 3, 12))
    assert (shift.primary, shift.backup, shift.reason) == ("dev", "ben", Reason.OVERRIDE)


def test_override_of_the_scheduled_backup_into_primary_takes_the_next_backup():
    """Ben, scheduled backup, covers Ana as primary: the next free member after Ben (Cai) backs up."""
    cover = Override("ben", rome(2026, 3, 3), rome(2026, 3, 4), created_at=EPOCH, replaces="ana")
    shift = who_is_on_call(team(), Layers(overrides=(cover,)), rome(2026, 3, 3, 12))
    assert (shift.primary, shift.backup) == ("ben", "cai")


def test_swap_changes_the_primaries_and_keeps_both_weeks_backups():
    """Ana and Cai swap weeks 0 and 2: the primaries trade places, the backups (Ben, Dev) stay as scheduled."""
    swap = Swap("ana", EPOCH + timedelta(days=3), "cai", EPOCH + 2 * WEEK + timedelta(days=1))
    index = ScheduleIndex(team(), Layers(swaps=(swap,)))
    week0, week2 = (index.who_is_on_call(EPOCH + k * WEEK + timedelta(hours=1)) for k in (0, 2))
    assert (week0.primary, week0.backup) == ("cai", "ben")
    assert (week2.primary, week2.backup) == ("ana", "dev")


def test_cover_across_spring_forward_keeps_the_backup_and_the_nine_oclock_handoff():
    """An override over Rome's spring-forward week (29 Mar 2026) keeps Ana as backup; the shift still ends Monday 09:00 CEST."""
    week = EPOCH + 4 * WEEK  # Mon 30 Mar 09:00 CEST; week 3 (23-30 Mar) is Dev primary, Ana backup
    cover = Override("ben", rome(2026, 3, 28, 12), rome(2026, 3, 30, 9), created_at=EPOCH, replaces="dev")
    shift = who_is_on_call(team(), Layers(overrides=(cover,)), rome(2026, 3, 29, 12))
    assert (shift.primary, shift.backup) == ("ben", "ana")
    assert shift.end == week.astimezone(UTC) == rome(2026, 3, 30, 9).astimezone(UTC)


def test_cover_across_fall_back_keeps_the_backup_and_the_nine_oclock_handoff():
    """An override over Rome's fall-back night (25 Oct 2026) keeps the scheduled backup; the handoff stays 09:00 CET."""
    spec = team(epoch=rome(2026, 10, 19, 9))  # Ana 19-26 Oct, Ben backup
    cover = Override("cai", rome(2026, 10, 24, 12), rome(2026, 10, 26, 9), created_at=EPOCH, replaces="ana")
    shift = who_is_on_call(spec, Layers(overrides=(cover,)), rome(2026, 10, 25, 2, 30))
    assert (shift.primary, shift.backup) == ("cai", "ben")
    assert shift.end == rome(2026, 10, 26, 9).astimezone(UTC)
    assert shift.end - shift.start == timedelta(hours=46)  # 12:00 Sat CEST → 09:00 Mon CET, one hour longer


def test_shadow_rotates_alongside_and_is_never_the_primary():
    """Shadows take turns per shift and are only listed next to a primary."""
    spec = team(shadows=("tia", "tom"))
    index = ScheduleIndex(spec, Layers())
    assert [index.who_is_on_call(EPOCH + k * WEEK).shadow for k in range(3)] == ["tia", "tom", "tia"]


def test_next_shifts_lists_my_upcoming_stretches_by_role():
    """"/oncall me": Cai is backup in week 1 and primary in week 2, and again four weeks later."""
    mine = next_shifts(team(), Layers(), "cai", EPOCH + timedelta(days=1), limit=3)
    assert mine == [
        UserShift(EPOCH.astimezone(UTC) + WEEK, EPOCH.astimezone(UTC) + 2 * WEEK, Role.BACKUP),
        UserShift(EPOCH.astimezone(UTC) + 2 * WEEK, rome(2026, 3, 23, 9).astimezone(UTC), Role.PRIMARY),
        UserShift(rome(2026, 4, 6, 9).astimezone(UTC), rome(2026, 4, 13, 9).astimezone(UTC), Role.BACKUP),
    ]


def test_next_shifts_keeps_the_real_start_of_a_shift_in_progress():
    """A shift already running at `after` is listed from its handoff, not from `after`."""
    [current] = next_shifts(team(), Layers(), "ana", EPOCH + timedelta(days=2), limit=1)
    assert current.start == EPOCH.astimezone(UTC) and current.role is Role.PRIMARY


def test_single_person_roster_is_one_merged_shift():
    """Adjacent identical shifts merge: a one-person team has one shift over the whole range."""
    shifts = final_schedule(team(roster=("solo",)), Layers(), EPOCH, EPOCH + 10 * WEEK)
    assert shifts == [Shift(EPOCH.astimezone(UTC), (EPOCH + 10 * WEEK).astimezone(UTC), "solo", None, None, Reason.ROTATION)]


# --- validation ---------------------------------------------------------------------------------------


def test_naive_datetimes_are_rejected():
    """Every instant in must be aware; a naive one is a ValueError, not a silent guess."""
    with pytest.raises(ValueError, match="aware"):
        who_is_on_call(team(), Layers(), datetime(2026, 3, 3, 12))
    with pytest.raises(ValueError, match="aware"):
        TimeOff("ana", datetime(2026, 3, 3), datetime(2026, 3, 4))
    with pytest.raises(ValueError, match="aware"):
        next_handoff(HandoffRule(0, time(9), ROME), datetime(2026, 3, 3))


def test_epoch_must_be_a_handoff_instant():
    """An epoch that is not the handoff weekday and time is refused with the reason."""
    with pytest.raises(ValueError, match="not a handoff"):
        RotationSpec(tz=ROME, roster=("a",), epoch=rome(2026, 3, 3, 9))
    with pytest.raises(ValueError, match="whole number of days"):
        RotationSpec(tz=ROME, roster=("a",), epoch=EPOCH, length=timedelta(hours=12))


def test_unknown_zone_and_country_are_refused():
    """Member zones and holiday countries are checked when the member is built."""
    with pytest.raises(ValueError, match="time zone"):
        Member("ana", "Mars/Olympus")
    with pytest.raises(ValueError, match="country"):
        Member("ana", "Europe/Rome", country="XX")
