"""Rotation upkeep (bot/flows/rotation_messages.py) across workspaces: the daily health check asks about each
workspace's teams acting for that workspace (its token, its admins) and leaves an uninstalled one alone."""

from datetime import UTC, datetime
from types import SimpleNamespace

from bot.flows.rotation_messages import RotationUpkeep
from bot.workspace_scope import UNSCOPED, current_workspace

NOW = datetime(2026, 12, 4, 7, 0, tzinfo=UTC)


class Teams:
    """Three teams in two workspaces; notes the workspace acting when each team's rotation is loaded (none is found)."""

    def __init__(self) -> None:
        self.loaded: list[tuple[int, str]] = []

    def all_teams(self):
        return [SimpleNamespace(id=1, workspace_id="T1"), SimpleNamespace(id=2, workspace_id="T2"), SimpleNamespace(id=3, workspace_id="T1")]

    def load_rotation_by_id(self, team_id):
        self.loaded.append((team_id, current_workspace()))
        return None


class Ledger:
    def __init__(self) -> None:
        self.claimed: list[str] = []

    def has_run(self, key):
        return key in self.claimed

    def claim(self, key, *, at):
        self.claimed.append(key)
        return True


class Stopped:
    def __init__(self, *workspaces: str) -> None:
        self.workspaces = set(workspaces)

    def is_sending(self, workspace_id):
        return workspace_id not in self.workspaces


def test_the_health_check_acts_for_each_workspace_and_skips_an_uninstalled_one():
    teams, ledger = Teams(), Ledger()
    upkeep = RotationUpkeep(clock=lambda: NOW, rotations=teams, syncs=None, ledger=ledger, admins=None, slack=None, outbox=None,
                            later=None, workspaces=Stopped("T2"))
    upkeep.health_check()
    assert teams.loaded == [(1, "T1"), (3, "T1")] and current_workspace() == UNSCOPED
    assert ledger.claimed == ["health:2026-12-04"]  # once for the day, whichever workspaces were checked
    upkeep.health_check()
    assert len(teams.loaded) == 2
