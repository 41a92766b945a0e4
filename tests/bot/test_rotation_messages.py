"""Pure decisions behind the automatic rotation messages: what is due when, and what the messages say."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.blocks.announcement import build_announcement, build_health_report, build_reminder, build_usergroup_disabled
from bot.oncall import TeamInfo
from bot.rotation import Layers, Override, Role, RotationSpec, ScheduleIndex, TimeOff
from bot.rotation_messages import (
    RotationEventKind,
    MemberCheck,
    MemberState,
    Holders,
    UsergroupState,
    announcement_needed,
    compose_announcement,
    compose_reminder,
    event_key,
    find_event,
    parse_event_key,
    planned_events,
    team_health,
    usergroup_update,
)

ANA, BEN, CAI, DEV = "U0DEMO0001", "U0DEMO0002", "U0DEMO0003", "U0DEMO0004"
ROME = ZoneInfo("Europe/Rome")
EPOCH = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)  # Monday 09:00 Rome: week 0 Ana/Ben, week 1 Ben/Cai, week 2 Cai/Ana
HANDOFF = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # Ben/Cai -> Cai/Ana
TEAM = TeamInfo(id=7, name="social", tz="Europe/Rome", announce_channel="C0DEMOANNOUNCE", workspace_id="T0DEMO",
                usergroup_id="S0DEMOONCALL")


def index(layers: Layers = Layers(), roster=(ANA, BEN, CAI), **spec) -> ScheduleIndex:
    return ScheduleIndex(RotationSpec(tz=ROME, roster=roster, epoch=EPOCH, **spec), layers)


def kinds(events, kind):
    return [e for e in events if e.kind is kind]


def override(user, start, end, role=Role.PRIMARY):
    return Override(user, start, end, created_at=EPOCH, role=role)


def test_event_key_round_trips_and_has_no_colon_in_the_instant():
    """Keys are job IDs and dedupe keys: deterministic, and parseable back into their parts."""
    key = event_key(RotationEventKind.REMIND_1H, team_id=7, change_at=HANDOFF, user_id=CAI, role=Role.PRIMARY)
    assert key == f"remind1:7:{CAI}:primary:20261130T080000Z"
    parsed = parse_event_key(key)
    assert (parsed.kind, parsed.team_id, parsed.change_at, parsed.user_id, parsed.role) == (RotationEventKind.REMIND_1H, 7, HANDOFF, CAI, Role.PRIMARY)
    assert parse_event_key(event_key(RotationEventKind.ANNOUNCE, team_id=7, change_at=HANDOFF)).user_id is None


def test_handoff_with_new_people_is_announced_at_the_handoff():
    """The weekly handoff that changes primary and backup gives one announcement at that instant."""
    events = planned_events(index(), TEAM, HANDOFF - timedelta(days=1), HANDOFF + timedelta(days=1))
    (announce,) = kinds(events, RotationEventKind.ANNOUNCE)
    assert announce.at == announce.change_at == HANDOFF
    assert announce.key == "announce:7:20261130T080000Z"


def test_handoff_whose_people_an_override_keeps_is_not_announced():
    """Overrides that keep Ben and Cai on across the handoff mean nothing changes, so nothing is posted."""
    layers = Layers(overrides=(override(BEN, HANDOFF - timedelta(days=2), HANDOFF + timedelta(days=7)),
                               override(CAI, HANDOFF - timedelta(days=2), HANDOFF + timedelta(days=7), Role.BACKUP)))
    events = planned_events(index(layers), TEAM, HANDOFF - timedelta(hours=1), HANDOFF + timedelta(hours=1))
    assert events == []


def test_announcement_needed_compares_all_three_roles():
    """A new shadow alone is a change worth announcing; identical people are not."""
    assert not announcement_needed(Holders(ANA, BEN, None), Holders(ANA, BEN, None))
    assert announcement_needed(Holders(ANA, BEN, None), Holders(ANA, BEN, DEV))
    assert announcement_needed(Holders(ANA, BEN, None), Holders(BEN, ANA, None))


def test_incoming_primary_and_backup_get_24h_1h_and_start_dms():
    """Cai (backup -> primary) and Ana (new backup) are reminded; Ben, who goes off call, is not."""
    events = planned_events(index(), TEAM, HANDOFF - timedelta(days=2), HANDOFF + timedelta(hours=1))
    reminders = {(e.kind, e.user_id, e.role, e.at) for e in events if e.user_id}
    expected = {
        (kind, user, role, HANDOFF - lead)
        for user, role in ((CAI, Role.PRIMARY), (ANA, Role.BACKUP))
        for kind, lead in ((RotationEventKind.REMIND_24H, timedelta(hours=24)), (RotationEventKind.REMIND_1H, timedelta(hours=1)), (RotationEventKind.ON_CALL_NOW, timedelta(0)))
    }
    assert reminders == expected


def test_reminders_expire_instead_of_arriving_late():
    """The day-ahead DM is dropped within 12 h of the shift; the 1 h one at the start; "on call now" after 12 h."""
    events = planned_events(index(), TEAM, HANDOFF - timedelta(days=2), HANDOFF + timedelta(hours=1))
    by_kind = {e.kind: e for e in events if e.user_id == CAI}
    assert by_kind[RotationEventKind.REMIND_24H].expires_at == HANDOFF - timedelta(hours=12)
    assert by_kind[RotationEventKind.REMIND_1H].expires_at == HANDOFF
    assert by_kind[RotationEventKind.ON_CALL_NOW].expires_at == HANDOFF + timedelta(hours=12)
    (announce,) = kinds(events, RotationEventKind.ANNOUNCE)
    assert announce.expires_at == HANDOFF + timedelta(hours=24)


def test_short_override_reminds_the_cover_and_the_returning_primary():
    """A 3-hour override is a shift of its own: the cover gets DMs, and so does the primary coming back."""
    start = HANDOFF + timedelta(days=2)
    layers = Layers(overrides=(override(DEV, start, start + timedelta(hours=3)),))
    events = planned_events(index(layers), TEAM, start - timedelta(hours=2), start + timedelta(hours=4))
    now_dms = {(e.user_id, e.at) for e in kinds(events, RotationEventKind.ON_CALL_NOW)}
    assert now_dms == {(DEV, start), (CAI, start + timedelta(hours=3))}
    assert kinds(events, RotationEventKind.ANNOUNCE) == []


def test_team_without_channel_or_user_group_plans_only_dms():
    """No announcements channel: no announcement; no user group: no sync events."""
    bare = replace(TEAM, announce_channel=None, usergroup_id=None)
    events = planned_events(index(), bare, HANDOFF - timedelta(hours=1), HANDOFF + timedelta(hours=1))
    assert {e.kind for e in events} == {RotationEventKind.REMIND_1H, RotationEventKind.ON_CALL_NOW}


def test_user_group_sync_is_planned_when_primary_or_backup_change():
    """A sync at the handoff, at the instant the pageable people change."""
    events = planned_events(index(), TEAM, HANDOFF - timedelta(hours=1), HANDOFF + timedelta(hours=1))
    assert [e.at for e in kinds(events, RotationEventKind.USERGROUP)] == [HANDOFF]


def test_usergroup_update_says_what_to_set_or_nothing():
    """Primary then backup; nothing when unchanged, when disabled for this group, or when nobody is on call."""
    now = Holders(CAI, ANA, DEV)
    assert usergroup_update(TEAM, None, now) == [CAI, ANA]
    assert usergroup_update(TEAM, UsergroupState("S0DEMOONCALL", (CAI, ANA)), now) is None
    assert usergroup_update(TEAM, UsergroupState("S0DEMOONCALL", (BEN, CAI)), now) == [CAI, ANA]
    assert usergroup_update(TEAM, UsergroupState("S0DEMOONCALL", (), "plan_upgrade_required"), now) is None
    assert usergroup_update(TEAM, UsergroupState("S0OLDGROUP", (), "plan_upgrade_required"), now) == [CAI, ANA]
    assert usergroup_update(TEAM, None, Holders(None, None, None)) is None
    assert usergroup_update(replace(TEAM, usergroup_id=None), None, now) is None


def test_find_event_forgets_an_event_an_override_made_obsolete():
    """A job planned before an override sees, when it runs, that its change no longer happens."""
    key = event_key(RotationEventKind.ON_CALL_NOW, team_id=7, change_at=HANDOFF, user_id=CAI, role=Role.PRIMARY)
    assert find_event(index(), TEAM, key) is not None
    layers = Layers(overrides=(override(BEN, HANDOFF - timedelta(days=1), HANDOFF + timedelta(days=7)),))
    assert find_event(index(layers), TEAM, key) is None


def test_handoff_after_spring_forward_is_announced_at_nine_rome_time():
    """DST: the handoff after 28 March 2027 is 07:00 UTC (09:00 CEST), and its day-ahead DM is 24 real hours before."""
    after_dst = datetime(2027, 3, 29, 7, 0, tzinfo=UTC)
    events = planned_events(index(), TEAM, after_dst - timedelta(days=2), after_dst + timedelta(hours=1))
    (announce,) = kinds(events, RotationEventKind.ANNOUNCE)
    assert announce.at == after_dst and announce.at.astimezone(ROME).time() == time(9, 0)
    assert {e.at for e in kinds(events, RotationEventKind.REMIND_24H)} == {after_dst - timedelta(hours=24)}


@dataclass(frozen=True)
class _Cover:
    requester: str
    start: datetime
    end: datetime
    note: str


@dataclass(frozen=True)
class _Crisis:
    title: str


def test_announcement_shows_the_change_the_week_and_what_is_carried_over():
    """Outgoing -> incoming, the week ahead, open crises and still-open cover requests (ended ones dropped)."""
    covers = [_Cover(CAI, HANDOFF + timedelta(days=1), HANDOFF + timedelta(days=2), "dentist"),
              _Cover(BEN, HANDOFF - timedelta(days=3), HANDOFF - timedelta(days=2), "old")]
    announcement = compose_announcement(index(), TEAM, HANDOFF, crises=[_Crisis("Boycott thread")], cover_requests=covers, now=HANDOFF)
    assert announcement.outgoing == Holders(BEN, CAI, None) and announcement.incoming == Holders(CAI, ANA, None)
    text, blocks = build_announcement(announcement)
    assert f"primary <@{BEN}>, backup <@{CAI}> → *primary <@{CAI}>, backup <@{ANA}>*" in text
    body = str(blocks)
    assert "The week ahead" in body and "Boycott thread" in body and "dentist" in body and "old" not in body


def test_reminder_dm_names_role_start_end_and_partner():
    """The 1 h DM says the role, when it starts and ends, and who backs the person up."""
    idx = index()
    key = event_key(RotationEventKind.REMIND_1H, team_id=7, change_at=HANDOFF, user_id=CAI, role=Role.PRIMARY)
    reminder = compose_reminder(idx, TEAM, find_event(idx, TEAM, key), now=HANDOFF - timedelta(hours=1))
    assert reminder.end == HANDOFF + timedelta(days=7) and reminder.partner == ANA
    text, _ = build_reminder(reminder)
    assert "you're primary for *social*" in text and "in about 1 h" in text and f"Your backup: <@{ANA}>" in text
    now_text, _ = build_reminder(replace(reminder, kind=RotationEventKind.ON_CALL_NOW, now=HANDOFF))
    assert now_text.startswith("You're on call now for *social* as primary")


def test_health_finds_gaps_lone_primaries_and_people_slack_says_are_gone():
    """Everyone away leaves a gap; a one-person roster has no backup; left/deactivated/undeliverable members are listed."""
    away = Layers(time_off=(TimeOff(ANA, HANDOFF, HANDOFF + timedelta(days=1)),))
    checks = {ANA: MemberCheck(MemberState.LEFT), BEN: MemberCheck(MemberState.OK), CAI: MemberCheck(MemberState.UNKNOWN)}
    health = team_health(index(away, roster=(ANA,)), TEAM, checks, now=HANDOFF - timedelta(days=1))
    assert [(g.start, g.end) for g in health.gaps] == [(HANDOFF, HANDOFF + timedelta(days=1))]
    assert health.no_backup and health.problems == {ANA: MemberCheck(MemberState.LEFT)}
    text, blocks = build_health_report([health])
    assert "social: " in text and "has left the workspace" in str(blocks) and "No one on call" in str(blocks)


def test_healthy_team_has_no_findings():
    """Three available people and reachable members: nothing to report."""
    checks = {u: MemberCheck(MemberState.OK) for u in (ANA, BEN, CAI)}
    assert team_health(index(), TEAM, checks, now=HANDOFF).ok


def test_health_check_flags_people_kept_on_call_through_a_public_holiday():
    """All-Italian team over Christmas: no gap, but the admins are told who works the holiday and when."""
    from bot.rotation import Member

    members = tuple(Member(u, "Europe/Rome", country="IT") for u in (ANA, BEN, CAI))
    checks = {u: MemberCheck(MemberState.OK) for u in (ANA, BEN, CAI)}
    health = team_health(index(members=members, observe_holidays=True), TEAM, checks, now=datetime(2026, 12, 20, 12, tzinfo=UTC))
    assert not health.gaps and not health.no_backup and not health.ok
    christmas = datetime(2026, 12, 24, 23, tzinfo=UTC)  # 25 Dec 00:00 Rome
    first = health.holiday_worked[0]
    assert first.start == christmas and first.end == christmas + timedelta(days=2)  # Christmas and Santo Stefano, merged
    assert len(first.holiday_workers) == 2
    text, blocks = build_health_report([health])
    assert "on call through their public holiday" in str(blocks) and "nobody else is free" in str(blocks)


def test_usergroup_notice_names_the_group_and_the_error():
    """Admins learn which group, which Slack error, and that the bot stops trying."""
    text, _ = build_usergroup_disabled(TEAM, usergroup_id="S0DEMOONCALL", error="plan_upgrade_required")
    assert "<!subteam^S0DEMOONCALL>" in text and "plan_upgrade_required" in text


@settings(max_examples=40, deadline=None)
@given(
    tz=st.sampled_from(["Europe/Rome", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]),
    offset_h=st.integers(min_value=0, max_value=24 * 120),
    span_h=st.integers(min_value=1, max_value=24 * 9),
    overrides=st.lists(st.tuples(st.integers(0, 24 * 120), st.integers(1, 24 * 10), st.sampled_from([ANA, BEN, CAI, DEV])), max_size=4),
)
def test_planned_events_are_unique_in_window_and_only_for_real_changes(tz, offset_h, span_h, overrides):
    """For any window and overrides: keys are unique, instants fall in the window, and every announcement is a change."""
    zone = ZoneInfo(tz)
    epoch = datetime(2026, 11, 16, 9, 0, tzinfo=zone).astimezone(UTC)
    start = epoch + timedelta(hours=offset_h)
    layers = Layers(overrides=tuple(Override(u, start - timedelta(hours=s), start - timedelta(hours=s) + timedelta(hours=d), created_at=epoch)
                                    for s, d, u in overrides))
    idx = ScheduleIndex(RotationSpec(tz=zone, roster=(ANA, BEN, CAI), epoch=epoch), layers)
    team = replace(TEAM, tz=tz)
    end = start + timedelta(hours=span_h)
    events = planned_events(idx, team, start, end)
    keys = [e.key for e in events]
    assert len(keys) == len(set(keys))
    assert all(start <= e.at < end and e.at < e.expires_at for e in events)
    for e in kinds(events, RotationEventKind.ANNOUNCE):
        before, after = idx.who_is_on_call(e.at - timedelta(microseconds=1)), idx.who_is_on_call(e.at)
        assert (before.primary, before.backup, before.shadow) != (after.primary, after.backup, after.shadow)
        assert e.at.astimezone(zone).time() == time(9, 0)
    for e in events:
        assert find_event(idx, team, e.key) == e
