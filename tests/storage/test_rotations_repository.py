"""Rotation repository on SQLite and PostgreSQL: teams, rosters and layers round-trip into domain objects."""

from datetime import UTC, datetime, timedelta

from bot.rotation import Role
from storage import migrate
from storage.rotations import Rotations

EPOCH = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # Monday 09:00 Europe/Rome


def test_team_roster_and_layers_round_trip(database):
    """What is stored comes back as RotationSpec and Layers, roster order kept."""
    migrate.upgrade(database.engine)
    rotations = Rotations(database)
    team_id = rotations.create_team(workspace_id="T1", name="social", tz="Europe/Rome", epoch=EPOCH, now=EPOCH,
                                    roster=["U3", "U1", "U2"], shadows=("U9",), member_zones={"U1": "Asia/Kolkata"},
                                    crisis_channel="C1")
    rotations.add_override(team_id=team_id, user_id="U2", start=EPOCH, end=EPOCH + timedelta(hours=4), now=EPOCH,
                           created_by="U1", role="backup", replaces="U1")
    rotations.add_time_off(workspace_id="T1", user_id="U1", start=EPOCH + timedelta(days=1), end=EPOCH + timedelta(days=3), now=EPOCH, created_by="U1")
    rotations.add_time_off(workspace_id="T1", user_id="U7", start=EPOCH, end=EPOCH + timedelta(days=1), now=EPOCH, created_by="U7")
    loaded = rotations.load_rotation("T1", "social")
    assert loaded is not None
    assert loaded.spec.roster == ("U3", "U1", "U2") and loaded.spec.shadows == ("U9",)
    assert loaded.spec.epoch == EPOCH and loaded.spec.tz.key == "Europe/Rome"
    assert {m.user_id: m.tz for m in loaded.spec.members}["U1"] == "Asia/Kolkata"
    (override,) = loaded.layers.overrides
    assert override.role is Role.BACKUP and override.start == EPOCH and override.replaces == "U1"
    assert [t.user_id for t in loaded.layers.time_off] == ["U1"]  # U7 is in no roster of this team
    assert loaded.team.crisis_channel == "C1"
    assert rotations.team_names("T1") == ["social"] and rotations.teams_of_user("T1", "U9") == ["social"]
    assert rotations.load_rotation("T1", "other") is None and rotations.team_names("T2") == []


def test_time_off_is_listed_and_cancelled_only_by_its_owner(database):
    """upcoming_time_off lists unfinished ranges soonest first; cancel deletes a future one, ends a running one, refuses others'
    (another person's, or the same person's range in another workspace)."""
    migrate.upgrade(database.engine)
    rotations = Rotations(database)
    now = EPOCH + timedelta(days=2)
    running = rotations.add_time_off(workspace_id="T1", user_id="U1", start=EPOCH + timedelta(days=1), end=EPOCH + timedelta(days=3), now=EPOCH, created_by="U1")
    future = rotations.add_time_off(workspace_id="T1", user_id="U1", start=EPOCH + timedelta(days=9), end=EPOCH + timedelta(days=10), now=EPOCH, created_by="U1")
    rotations.add_time_off(workspace_id="T1", user_id="U1", start=EPOCH - timedelta(days=3), end=EPOCH - timedelta(days=2), now=EPOCH, created_by="U1")
    elsewhere = rotations.add_time_off(workspace_id="T2", user_id="U1", start=EPOCH + timedelta(days=5), end=EPOCH + timedelta(days=6), now=EPOCH, created_by="U1")
    assert [t.id for t in rotations.upcoming_time_off(workspace_id="T1", user_id="U1", now=now)] == [running, future]
    assert rotations.cancel_time_off(workspace_id="T1", time_off_id=future, user_id="U2", now=now) is None
    assert rotations.cancel_time_off(workspace_id="T1", time_off_id=elsewhere, user_id="U1", now=now) is None
    cancelled = rotations.cancel_time_off(workspace_id="T1", time_off_id=future, user_id="U1", now=now)
    assert cancelled is not None and cancelled.start == EPOCH + timedelta(days=9)
    assert rotations.cancel_time_off(workspace_id="T1", time_off_id=running, user_id="U1", now=now).end == EPOCH + timedelta(days=3)
    assert rotations.upcoming_time_off(workspace_id="T1", user_id="U1", now=now) == []
    assert rotations.cancel_time_off(workspace_id="T1", time_off_id=running, user_id="U1", now=now) is None  # already over
    assert [t.id for t in rotations.upcoming_time_off(workspace_id="T2", user_id="U1", now=now)] == [elsewhere]


def test_holiday_calendar_is_the_members_own_then_the_teams_default(database):
    """A member's App Home calendar wins; others get the team's default from the setup form; TeamMember.country (the old locale guess) is ignored."""
    from bot.home import MemberSettings
    from bot.team_setup import TeamForm
    from storage.member_settings import MemberSettingsStore

    migrate.upgrade(database.engine)
    rotations = Rotations(database)
    form = TeamForm(name="social", tz="Europe/Rome", handoff_weekday=0, handoff_at="09:00", length_days=7, roster=("U1", "U2", "U3"),
                    observe_holidays=True, holiday_country="IT")
    team_id, _ = rotations.save_team(workspace_id="T1", team_id=None, form=form, epoch=EPOCH, now=EPOCH)
    rotations.set_member_profile(workspace_id="T1", user_id="U3", tz="America/New_York", country="US")  # a stale locale guess
    MemberSettingsStore(database).save_settings(workspace_id="T1", user_id="U1", settings=MemberSettings(holiday_country="GB"), now=EPOCH)
    MemberSettingsStore(database).save_settings(workspace_id="T2", user_id="U2", settings=MemberSettings(holiday_country="AU"), now=EPOCH)
    rotations.forget_cached()
    loaded = rotations.load_rotation("T1", "social")
    assert {m.user_id: m.country for m in loaded.spec.members} == {"U1": "GB", "U2": "IT", "U3": "IT"}
    assert rotations.team_form("T1", "social")[1].holiday_country == "IT"
    assert MemberSettingsStore(database).settings_of("T1", "U1").holiday_country == "GB"
