"""The people, channels and user groups a local Slack stand-in pretends to host.

Plain dataclasses with stable Slack-style IDs, so tests and console mode can refer to them by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SlackUser:
    """A member of the workspace, as `users.info` describes them."""

    id: str
    name: str
    real_name: str
    tz: str  # IANA zone name, e.g. "Europe/Rome"
    is_admin: bool = False
    deleted: bool = False
    is_bot: bool = False


@dataclass
class SlackChannel:
    """A public or private channel (IDs start with C)."""

    id: str
    name: str
    is_private: bool = False


@dataclass
class SlackUsergroup:
    """A user group (an @handle; IDs start with S) and its current members."""

    id: str
    handle: str
    name: str
    user_ids: list[str] = field(default_factory=list)


@dataclass
class Workspace:
    """One Slack team: its bot identity, members, channels and user groups."""

    team_id: str
    team_name: str
    domain: str
    bot_user_id: str
    bot_id: str
    users: list[SlackUser] = field(default_factory=list)
    channels: list[SlackChannel] = field(default_factory=list)
    usergroups: list[SlackUsergroup] = field(default_factory=list)

    def user(self, user_id: str) -> SlackUser | None:
        """Return the member with this ID, or None."""
        return next((user for user in self.users if user.id == user_id), None)

    def user_by_name(self, name: str) -> SlackUser | None:
        """Return the member with this handle (with or without a leading @), or None."""
        handle = name.removeprefix("@")
        return next((user for user in self.users if user.name == handle), None)

    def channel(self, channel_id: str) -> SlackChannel | None:
        """Return the channel with this ID, or None."""
        return next((channel for channel in self.channels if channel.id == channel_id), None)

    def channel_by_name(self, name: str) -> SlackChannel | None:
        """Return the channel with this name (with or without a leading #), or None."""
        bare_name = name.removeprefix("#")
        return next((channel for channel in self.channels if channel.name == bare_name), None)

    def usergroup(self, usergroup_id: str) -> SlackUsergroup | None:
        """Return the user group with this ID, or None."""
        return next((group for group in self.usergroups if group.id == usergroup_id), None)

    @property
    def people(self) -> list[SlackUser]:
        """Return the human members who are still active."""
        return [user for user in self.users if not user.is_bot and not user.deleted]


def demo_workspace() -> Workspace:
    """Return a fresh "Acme Social" workspace with five people on four continents."""
    return Workspace(
        team_id="T0DEMO",
        team_name="Acme Social",
        domain="acme-social",
        bot_user_id="U0DEMOBOT",
        bot_id="B0DEMOBOT",
        users=[
            SlackUser("U0DEMOBOT", "socialops", "Socialops", "America/Los_Angeles", is_bot=True),
            SlackUser("U0DEMO0001", "giulia", "Giulia Rossi", "Europe/Rome", is_admin=True),
            SlackUser("U0DEMO0002", "marcus", "Marcus Johnson", "America/New_York"),
            SlackUser("U0DEMO0003", "chloe", "Chloe Nguyen", "Australia/Sydney"),
            SlackUser("U0DEMO0004", "priya", "Priya Sharma", "Asia/Kolkata"),
            SlackUser("U0DEMO0005", "oliver", "Oliver Bennett", "Europe/London"),
        ],
        channels=[
            SlackChannel("C0DEMOCRISIS", "social-crisis"),
            SlackChannel("C0DEMOANNOUNCE", "social-announcements"),
            SlackChannel("C0DEMOTEAM", "social-team"),
            SlackChannel("C0DEMOLISTEN", "listening-feed"),
        ],
        usergroups=[SlackUsergroup("S0DEMOONCALL", "social-oncall", "Social on-call")],
    )
