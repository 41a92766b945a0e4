"""Who may do what: admins change teams, rosters and policies; everyone reads. Pure rules and ports."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.errors import NotAllowed


class AdminDirectory(Protocol):
    def is_admin(self, user_id: str) -> bool: ...
    def admin_ids(self) -> list[str]: ...


def require_admin(admins: AdminDirectory, user_id: str, *, action: str) -> None:
    """Raise NotAllowed, naming who can, unless `user_id` is an admin."""
    if admins.is_admin(user_id):
        return
    names = ", ".join(f"<@{admin}>" for admin in admins.admin_ids()) or "a socialops admin (set SOCIALOPS_ADMINS)"
    raise NotAllowed(f"Only admins can {action}. Ask {names}.")


class EventLedger(Protocol):
    """Remembers Events API deliveries so Slack's retries are handled once."""

    def claim(self, event_id: str, *, at: datetime) -> bool: ...
