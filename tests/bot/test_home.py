"""App Home content and view: computed from in-memory ports at fixed instants, no Slack and no database."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.blocks.home import HomeActions, build_home
from bot.blocks.oncall import OncallActions
from bot.crisis_query import CRISIS
from bot.errors import UsageError
from bot.home import (
    SLACK_ZONE, CrisisButton, HomeCrisis, MemberSettings, NoCrises, PageVia, SettingsField, apply_change, change_settings,
    home_content, load_stats,
)
from bot.oncall import CoverRequestInfo, TeamInfo, TeamRotation
from bot.oncall_query import ONCALL
from bot.rotation import Layers, Override, Role, RotationSpec
from tests.fakes.memory import MemoryAudit

EPOCH = datetime(2026, 1, 5, 9, tzinfo=UTC)  # a Monday handoff
NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)  # Wednesday of week 8: primary UC, backup UA
A, B, C = "UA", "UB", "UC"


def rotation(team_id: int = 1, name: str = "social", roster: tuple[str, ...] = (A, B, C), layers: Layers | None = None) -> TeamRotation:
    team = TeamInfo(id=team_id, name=name, tz="UTC", workspace_id="T1")
    return TeamRotation(team=team, spec=RotationSpec(tz=ZoneInfo("UTC"), roster=roster, epoch=EPOCH), layers=layers or Layers())


def cover(request_id: int, team: TeamInfo, requester: str, start: datetime, hours: int = 4) -> CoverRequestInfo:
    return CoverRequestInfo(id=request_id, team=team, requester=requester, start=start, end=start + timedelta(hours=hours), note="dentist", status="open")


@dataclass
class FakeRotations:
    teams: dict[str, TeamRotation]
    covers: dict[int, list[CoverRequestInfo]] = field(default_factory=dict)

    def team_names(self, workspace_id: str) -> list[str]:
        return sorted(self.teams)

    def teams_of_user(self, workspace_id: str, user_id: str) -> list[str]:
        return sorted(n for n, r in self.teams.items() if user_id in r.spec.roster + r.spec.shadows)

    def load_rotation(self, workspace_id: str, name: str) -> TeamRotation | None:
        return self.teams.get(name)

    def open_cover_requests(self, team_id: int) -> list[CoverRequestInfo]:
        return self.covers.get(team_id, [])


@dataclass
class FakeSettings:
    saved: dict[tuple[str, str], MemberSettings] = field(default_factory=dict)

    def settings_of(self, workspace_id: str, user_id: str) -> MemberSettings | None:
        return self.saved.get((workspace_id, user_id))

    def save_settings(self, *, workspace_id: str, user_id: str, settings: MemberSettings, now: datetime) -> None:
        self.saved[(workspace_id, user_id)] = settings


@dataclass
class FixedCrises:
    crises: list[HomeCrisis]

    def open_crises_for(self, workspace_id: str, user_id: str) -> list[HomeCrisis]:
        return self.crises


def content(store: FakeRotations, user_id: str = A, *, is_admin: bool = False, crises: list[HomeCrisis] | None = None, settings: FakeSettings | None = None):
    return home_content(store, FixedCrises(crises) if crises else NoCrises(), settings or FakeSettings(), workspace_id="T1", user_id=user_id,
                        is_admin=is_admin, slack_tz="Europe/Rome", now=NOW)


def view_text(view: dict) -> str:
    return json.dumps(view, ensure_ascii=False)


def test_home_says_who_is_on_call_now_in_each_of_the_members_teams():
    """Each of the member's teams shows its current primary and backup; teams they are not in do not appear."""
    store = FakeRotations({"social": rotation(), "apac": rotation(2, "apac", (B, C)), "emea": rotation(3, "emea", (A, B))})
    home = content(store)
    assert [(t.team.name, t.now.primary, t.now.backup) for t in home.teams] == [("emea", A, B), ("social", C, A)]


def test_home_lists_the_members_next_shifts_soonest_first():
    """Next shifts from every team are merged in start order and capped at five."""
    home = content(FakeRotations({"social": rotation(), "emea": rotation(3, "emea", (A, B))}))
    starts = [s.start for _, s in home.my_shifts]
    assert starts == sorted(starts) and len(starts) == 5
    assert home.my_shifts[0][1].start <= NOW


def test_cover_requests_exclude_the_members_own_and_ended_ones():
    """A member can take others' open, unfinished requests from their teams only."""
    team = rotation().team
    other = rotation(2, "apac", (B, C))
    store = FakeRotations({"social": rotation(), "apac": other}, covers={
        1: [cover(1, team, B, NOW + timedelta(days=2)), cover(2, team, A, NOW + timedelta(days=1)), cover(3, team, C, NOW - timedelta(hours=8))],
        2: [cover(4, other.team, B, NOW + timedelta(days=1))],
    })
    assert [c.id for c in content(store).covers] == [1]


def test_stats_count_hours_per_role_and_role_changes_as_new_shifts_over_thirty_days():
    """UA was backup (9–16 Feb), primary (16–23 Feb) and backup again since 2 Mar 09:00: 3 shifts, 168 h primary, 219 h backup."""
    stats = load_stats([rotation()], A, now=NOW)
    assert (stats.days, stats.shifts, stats.primary_hours, stats.backup_hours) == (30, 3, 168.0, 168.0 + 51.0)


def test_stats_include_an_override_taken_as_cover():
    """A four-hour override UB held for UC counts as UB's shift and hours."""
    start = datetime(2026, 3, 3, 10, tzinfo=UTC)
    layers = Layers(overrides=(Override(B, start, start + timedelta(hours=4), start - timedelta(days=1), Role.PRIMARY, C),))
    stats = load_stats([rotation(layers=layers)], B, now=NOW)
    assert stats.primary_hours == (7 * 24 - 3) + 7 * 24 + 4  # 2 Feb 12:00–9 Feb 09:00, 23 Feb–2 Mar, and the override


def test_only_admins_see_schedule_gaps():
    """A one-person team has no backup; admins see that finding, members get no health section."""
    lonely = rotation(4, "night", (A,))
    store = FakeRotations({"night": lonely})
    assert content(store, is_admin=False).health == []
    (report,) = content(store, is_admin=True).health
    assert report.team.name == "night" and report.no_backup


def test_setting_quiet_start_alone_fills_the_default_end():
    """Choosing only a start gives 22:00-style quiet hours ending at the default 08:00."""
    changed = apply_change(MemberSettings(), SettingsField.quiet_start, "23:00")
    assert (changed.quiet_start, changed.quiet_end) == (time(23), time(8))
    assert apply_change(changed, SettingsField.quiet_off, "off").quiet_start is None


def test_quiet_hours_with_equal_start_and_end_are_refused():
    """A zero-length quiet range is a usage error, not silently stored."""
    with pytest.raises(UsageError):
        apply_change(MemberSettings(quiet_start=time(22), quiet_end=time(8)), SettingsField.quiet_end, "22:00")


def test_time_zone_must_exist_and_slack_zone_clears_the_choice():
    """Unknown zones are refused; choosing "my Slack zone" stores no zone of our own."""
    with pytest.raises(UsageError):
        apply_change(MemberSettings(), SettingsField.tz, "Mars/Olympus")
    chosen = apply_change(MemberSettings(), SettingsField.tz, "Asia/Tokyo")
    assert chosen.tz == "Asia/Tokyo"
    assert apply_change(chosen, SettingsField.tz, SLACK_ZONE).tz is None


def test_page_delivery_accepts_only_dm_or_channel():
    """page_via takes the enum's values and nothing else."""
    assert apply_change(MemberSettings(), SettingsField.page_via, "channel").page_via is PageVia.channel
    with pytest.raises(UsageError):
        apply_change(MemberSettings(), SettingsField.page_via, "pigeon")


def test_changing_a_setting_saves_and_audits_once_and_repeats_are_silent():
    """The first change is stored and audited with before/after; pressing the same button again records nothing."""
    store, audit = FakeSettings(), MemoryAudit()
    for _ in range(2):
        change_settings(store, audit, workspace_id="T1", user_id=A, what=SettingsField.page_via, value="channel", now=NOW, via="button")
    assert store.saved[("T1", A)].page_via is PageVia.channel
    (entry,) = audit.records
    assert (entry.action, entry.before["page_via"], entry.after["page_via"]) == ("settings_changed", "dm", "channel")


def test_home_view_stays_within_100_blocks_with_many_teams_crises_and_requests():
    """Sixty teams, 200 crises and 200 requests still make a view of at most 100 blocks with "more" notes."""
    teams = {f"t{i:02d}": rotation(i + 1, f"t{i:02d}") for i in range(60)}
    first = teams["t00"].team
    store = FakeRotations(teams, covers={1: [cover(i, first, B, NOW + timedelta(hours=i + 1)) for i in range(200)]})
    crises = [HomeCrisis(id=i, title=f"spike {i}", severity="SEV2", status="open", started_at=NOW, channel="C1",
                         buttons=(CrisisButton("Acknowledge", "crisis-ack", str(i), "primary"),)) for i in range(200)]
    view = build_home(content(store, is_admin=True, crises=crises), grammars=(ONCALL, CRISIS))
    assert len(view["blocks"]) <= 100
    text = view_text(view)
    assert "190 more open crises" in text and "190 more cover requests" in text and "50 more teams" in text
    block_ids = [b["block_id"] for b in view["blocks"] if "block_id" in b]
    assert len(block_ids) == len(set(block_ids))


def test_cover_in_the_home_has_the_same_take_button_as_the_channel_card():
    """Take in the Home uses OncallActions.cover_take with the request id, so the existing handler takes it."""
    team = rotation().team
    store = FakeRotations({"social": rotation()}, covers={1: [cover(7, team, B, NOW + timedelta(days=1))]})
    view = build_home(content(store), grammars=(ONCALL,))
    (take,) = [b["accessory"] for b in view["blocks"] if b.get("accessory", {}).get("action_id") == OncallActions.cover_take]
    assert take["value"] == "7"


def test_crises_from_the_port_are_shown_with_their_own_buttons():
    """Whatever buttons the crisis port gives a member appear under that crisis."""
    crisis = HomeCrisis(id=3, title="Checkout outage chatter", severity="SEV1", status="open", started_at=NOW, team="social",
                        buttons=(CrisisButton("Acknowledge", "crisis-ack", "3", "primary"), CrisisButton("Resolve", "crisis-resolve", "3")))
    view = build_home(content(FakeRotations({"social": rotation()}), crises=[crisis]), grammars=(ONCALL,))
    (actions,) = [b for b in view["blocks"] if b.get("block_id") == "home-crisis-3"]
    assert [e["action_id"] for e in actions["elements"]] == ["crisis-ack", "crisis-resolve"]


def test_settings_controls_show_the_current_choices():
    """The zone select, quiet-hour selects and delivery buttons start at the stored values."""
    settings = FakeSettings({("T1", A): MemberSettings(tz="Asia/Tokyo", quiet_start=time(22, 30), quiet_end=time(7), page_via=PageVia.channel)})
    view = build_home(content(FakeRotations({}), settings=settings), grammars=(ONCALL,))
    elements = [b.get("accessory") for b in view["blocks"]] + [e for b in view["blocks"] for e in b.get("elements", []) if b["type"] == "actions"]
    by_id = {e["action_id"]: e for e in elements if e}
    assert by_id[HomeActions.tz]["initial_option"]["value"] == "Asia/Tokyo"
    assert by_id[HomeActions.quiet_start]["initial_option"]["value"] == "22:30"
    assert by_id[HomeActions.page_channel].get("style") == "primary" and "style" not in by_id[HomeActions.page_dm]
    assert "22:30–07:00 (Asia/Tokyo)" in view_text(view)


def test_admin_home_has_the_setup_button_and_member_home_does_not():
    """Only admins get the button that opens /oncall setup."""
    store = FakeRotations({"social": rotation()})
    assert HomeActions.open_setup in view_text(build_home(content(store, is_admin=True), grammars=(ONCALL,)))
    assert HomeActions.open_setup not in view_text(build_home(content(store, is_admin=False), grammars=(ONCALL,)))


@dataclass
class FakePages:
    by_team: dict[int, list]

    def pages(self, *, team_id: int, since: datetime, until: datetime) -> list:
        return [p for p in self.by_team.get(team_id, []) if since <= p.at <= until]


def test_home_stats_count_the_members_pages_and_those_in_their_own_sleep_hours():
    """Pages of the last 30 days from the member's teams; sleep hours in the zone they chose (Sydney), not Slack's (Rome)."""
    from bot.burnout import PageRecord

    history = FakePages({1: [PageRecord(A, NOW - timedelta(hours=1)),  # 22:00 Sydney (AEDT): sleep; 12:00 in Rome: business
                             PageRecord(A, NOW - timedelta(hours=4)),  # 19:00 Sydney: off hours
                             PageRecord(B, NOW - timedelta(hours=1)),  # someone else
                             PageRecord(A, NOW - timedelta(days=31))],  # too old
                         2: [PageRecord(A, NOW - timedelta(hours=2))]})  # a team A is not in
    settings = FakeSettings({("T1", A): MemberSettings(tz="Australia/Sydney")})
    home = home_content(FakeRotations({"social": rotation(), "apac": rotation(2, "apac", (B, C))}), NoCrises(), settings,
                        workspace_id="T1", user_id=A, is_admin=False, slack_tz="Europe/Rome", now=NOW, pages=history)
    assert (home.stats.pages, home.stats.sleep_pages) == (2, 1)
    text = view_text(build_home(home, grammars=(ONCALL, CRISIS)))
    assert "*Pages*\\n2" in text and "*Pages in your sleep hours*\\n1" in text
    assert content(FakeRotations({"social": rotation()})).stats.pages is None  # no history port, no figures


def test_holiday_calendar_setting_takes_iso_codes_or_the_team_default():
    """"us" is stored as US, "team" clears it back to the team's default, and an unknown code is refused."""
    from bot.errors import UsageError
    from bot.home import MemberSettings, SettingsField, apply_change

    chosen = apply_change(MemberSettings(), SettingsField.holiday_country, "us")
    assert chosen.holiday_country == "US"
    assert apply_change(chosen, SettingsField.holiday_country, "team").holiday_country is None
    with pytest.raises(UsageError):
        apply_change(chosen, SettingsField.holiday_country, "ZZ")
