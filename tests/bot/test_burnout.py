"""Burnout guard, pure: limit parsing, sleep-page counting in the person's own zone, the offer rule, rebalancing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.burnout import (
    LOOKBACK, Finding, Limits, Move, PageRecord, _slots, active_roster, count_sleep_pages, loads, parse_limit_args, propose_rebalance,
    sleep_offer_due,
)
from bot.errors import UsageError
from bot.oncall import TeamInfo
from bot.rotation import Layers, Member, Override, RotationSpec, ScheduleIndex, TimeOff

A, B, C = "UA", "UB", "UC"
EPOCH = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)  # a Monday; week k is roster[k % 3]: A, B, C, A, B, C, A, B, C, A
HANDOFF = EPOCH + timedelta(weeks=8)  # Mon 2 Nov 2026 09:00 UTC: week 8 (C) starts, week 9 (A) follows
TEAM = TeamInfo(id=1, name="social", tz="UTC", workspace_id="T1")
USAGE = "Usage: `/oncall limits ...`"


def week(k: int) -> tuple[datetime, datetime]:
    return EPOCH + timedelta(weeks=k), EPOCH + timedelta(weeks=k + 1)


def spec(**kwargs) -> RotationSpec:
    return RotationSpec(tz=ZoneInfo("UTC"), roster=(A, B, C), epoch=EPOCH, **kwargs)


def primary_for(user: str, k: int) -> Override:
    start, end = week(k)
    return Override(user, start, end, created_at=EPOCH)


# --- /oncall limits arguments --------------------------------------------------------------------------


def test_limit_arguments_give_the_team_and_the_changed_fields():
    """`social sleep-pages=3 weekends=1` names the team and two fields; no arguments change nothing."""
    assert parse_limit_args(["social", "sleep-pages=3", "weekends=1"], usage=USAGE) == ("social", {"sleep_pages": 3, "weekends_per_month": 1})
    assert parse_limit_args(["WEEKS=4"], usage=USAGE) == (None, {"consecutive_weeks": 4})
    assert parse_limit_args([], usage=USAGE) == (None, {})


@pytest.mark.parametrize("words", [["sleep=3"], ["weeks=0"], ["weekends=5"], ["weeks=two"], ["weeks=2", "social"], ["a", "b"]])
def test_bad_limit_arguments_raise_usage(words):
    """Unknown names, out-of-range or non-numeric values and a stray word get the usage text."""
    with pytest.raises(UsageError) as raised:
        parse_limit_args(words, usage=USAGE)
    assert raised.value.usage == USAGE


# --- sleep pages in the person's own zone --------------------------------------------------------------


def test_sleep_pages_are_counted_in_the_persons_zone_across_both_dst_changes():
    """07:30 is sleep and 08:30 is not, in New York, whichever side of a DST change the page lands on."""
    pages = [
        PageRecord(A, datetime(2026, 10, 30, 12, 30, tzinfo=UTC)),  # 08:30 EDT, Friday: business
        PageRecord(A, datetime(2026, 11, 2, 12, 30, tzinfo=UTC)),  # 07:30 EST, after fall-back: sleep
        PageRecord(A, datetime(2027, 3, 12, 13, 30, tzinfo=UTC)),  # 08:30 EST, Friday: business
        PageRecord(A, datetime(2027, 3, 15, 11, 30, tzinfo=UTC)),  # 07:30 EDT, after spring-forward: sleep
        PageRecord(B, datetime(2026, 11, 2, 12, 30, tzinfo=UTC)),  # someone else
    ]
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC)
    assert count_sleep_pages(pages, A, "America/New_York", start, end) == 2
    assert count_sleep_pages(pages, A, "Europe/Rome", start, end) == 0  # 13:30/12:30 there


# --- the sleep-hour offer ------------------------------------------------------------------------------


def night(day: int, hour: int = 2) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=UTC)


def test_offer_comes_with_the_page_that_passes_the_limit_not_before():
    """Limit 2: the second sleep-hour page of C's shift brings no offer, the third does (backup A, until the handoff)."""
    pages = [PageRecord(C, night(3)), PageRecord(C, night(4))]
    assert sleep_offer_due(spec(), Layers(), TEAM, Limits(), pages, user_id=C, tz="UTC", now=night(4)) is None
    pages.append(PageRecord(C, night(5)))
    offer = sleep_offer_due(spec(), Layers(), TEAM, Limits(), pages, user_id=C, tz="UTC", now=night(5))
    assert offer is not None
    assert (offer.primary, offer.backup, offer.sleep_pages, offer.limit) == (C, A, 3, 2)
    assert (offer.shift_start, offer.shift_end) == week(8)


def test_no_offer_for_a_daytime_page_a_backup_or_pages_from_an_earlier_shift():
    """A business-hours page, a page to someone not primary, and last week's night pages do not count toward it."""
    last_week = [PageRecord(C, night(3) - timedelta(weeks=3) + timedelta(hours=h)) for h in range(3)]  # week 5, also C's
    pages = [*last_week, PageRecord(C, night(3)), PageRecord(C, night(4)), PageRecord(C, night(5))]
    assert sleep_offer_due(spec(), Layers(), TEAM, Limits(), pages, user_id=C, tz="UTC", now=night(5, hour=10)) is None
    assert sleep_offer_due(spec(), Layers(), TEAM, Limits(), pages, user_id=A, tz="UTC", now=night(5)) is None
    assert sleep_offer_due(spec(), Layers(), TEAM, Limits(sleep_pages=3), pages, user_id=C, tz="UTC", now=night(5)) is None


def test_offer_uses_the_primarys_own_zone():
    """02:00 UTC is 21:00 the evening before in New York: off hours, so no offer there."""
    pages = [PageRecord(C, night(d)) for d in (3, 4, 5)]
    assert sleep_offer_due(spec(), Layers(), TEAM, Limits(), pages, user_id=C, tz="America/New_York", now=night(5)) is None


# --- rebalancing ---------------------------------------------------------------------------------------


def test_rebalancing_moves_a_far_above_share_primarys_next_shift_to_the_least_loaded():
    """A covered B in weeks 1 and 4: A 840 h, B 168 h, C 336 h (share 448); A took all 6 pages (share 2). A's week 9 goes to B."""
    layers = Layers(overrides=(primary_for(A, 1), primary_for(A, 4)))
    pages = [PageRecord(A, EPOCH + timedelta(weeks=6, hours=h + 3)) for h in range(6)]
    proposal = propose_rebalance(spec(), layers, TEAM, Limits(), pages, {}, handoff=HANDOFF)
    assert proposal is not None
    assert proposal.findings == (Finding(A, "840 h as primary in 8 weeks (fair share 448 h); 6 pages in 8 weeks (fair share 2.0)"),)
    assert proposal.moves == (Move(*week(9), A, B),)
    since = HANDOFF - LOOKBACK
    measured = loads(_slots(ScheduleIndex(spec(), layers), since, HANDOFF), active_roster(spec()), pages, since, HANDOFF)
    assert {l.user_id: l.primary_hours for l in measured.values()} == {A: 840.0, B: 168.0, C: 336.0}


def test_rebalancing_skips_a_taker_on_time_off():
    """With B away in week 9 the shift goes to C, who then holds weeks 8 and 9 (two in a row is within the limit)."""
    start, end = week(9)
    layers = Layers(overrides=(primary_for(A, 1), primary_for(A, 4)), time_off=(TimeOff(B, start + timedelta(days=2), end),))
    proposal = propose_rebalance(spec(), layers, TEAM, Limits(), [], {}, handoff=HANDOFF)
    assert proposal is not None and proposal.moves == (Move(*week(9), A, C),)


def test_rebalancing_flags_consecutive_weeks_and_weekends():
    """B primary in weeks 7-9 would be 3 in a row and 3 weekends in four weeks; C (336 h, below A's 504) takes week 9."""
    layers = Layers(overrides=(primary_for(B, 8), primary_for(B, 9)))
    proposal = propose_rebalance(spec(), layers, TEAM, Limits(), [], {}, handoff=HANDOFF)
    assert proposal is not None
    assert proposal.findings == (Finding(B, "would be primary 3 weeks in a row (limit 2); would be on call 3 weekends in four weeks (limit 2)"),)
    assert proposal.moves == (Move(*week(9), B, C),)


def test_weekends_are_counted_in_each_persons_zone():
    """Weeks 7-9 hold 3 weekends in UTC or Tokyo; in Honolulu the Monday 09:00 UTC handoff is still Sunday night, so 4."""
    layers = Layers(overrides=(primary_for(B, 8), primary_for(B, 9)))
    limits = Limits(weekends_per_month=3, consecutive_weeks=3)
    assert propose_rebalance(spec(), layers, TEAM, limits, [], {}, handoff=HANDOFF) is None
    assert propose_rebalance(spec(), layers, TEAM, limits, [], {B: "Asia/Tokyo"}, handoff=HANDOFF) is None
    honolulu = propose_rebalance(spec(), layers, TEAM, limits, [], {B: "Pacific/Honolulu"}, handoff=HANDOFF)
    assert honolulu is not None
    assert honolulu.findings == (Finding(B, "would be on call 4 weekends in four weeks (limit 3)"),)


def test_a_plain_rotation_needs_no_rebalancing():
    """Three people taking turns: nobody over a limit, nobody far above the share."""
    assert propose_rebalance(spec(), Layers(), TEAM, Limits(), [], {}, handoff=HANDOFF) is None


def test_no_move_when_nobody_can_take_it_without_breaking_a_limit():
    """A two-person team with weekends=1: the finding is reported but no move is proposed."""
    two = RotationSpec(tz=ZoneInfo("UTC"), roster=(A, B), epoch=EPOCH, members=(Member(A, "UTC"), Member(B, "UTC")))
    proposal = propose_rebalance(two, Layers(), TEAM, Limits(weekends_per_month=1), [], {}, handoff=HANDOFF)
    assert proposal is not None
    assert proposal.moves == () and [f.user_id for f in proposal.findings] == [A, B]
