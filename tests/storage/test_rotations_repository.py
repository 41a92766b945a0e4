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
