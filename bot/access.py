"""Who may do what: admins change teams, rosters, policies and the admin list; everyone reads. Pure rules and ports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.audit import AuditRecord, AuditSink
from bot.errors import Conflict, NotAllowed, NotFound


class AdminDirectory(Protocol):
    def is_admin(self, user_id: str) -> bool: ...
    def admin_ids(self) -> list[str]: ...


def require_admin(admins: AdminDirectory, user_id: str, *, action: str) -> None:
    """Raise NotAllowed, naming who can, unless `user_id` is an admin."""
    if admins.is_admin(user_id):
        return
    names = ", ".join(f"<@{admin}>" for admin in admins.admin_ids()) or "a socialops admin (set SOCIALOPS_ADMINS)"
    raise NotAllowed(f"Only admins can {action}. Ask {names}.")


class AdminRoster(AdminDirectory, Protocol):
    """The admin list as `/oncall admins` changes it (storage/admins.py implements it)."""

    def stored_ids(self) -> list[str]: ...
    def add(self, user_id: str, *, by: str, at: datetime) -> bool: ...
    def remove(self, user_id: str, *, keep_one: bool = False) -> bool: ...


@dataclass(frozen=True)
class AdminsAnswer:
    admins: list[str]
    bootstrap: bool  # True: nobody is stored yet, these come from SOCIALOPS_ADMINS
    changed: str | None = None  # "added" / "removed" when the command changed the list
    who: str | None = None


def list_admins(admins: AdminRoster) -> AdminsAnswer:
    """Return who the admins are and whether they still come from SOCIALOPS_ADMINS."""
    return AdminsAnswer(admins=admins.admin_ids(), bootstrap=not admins.stored_ids())


def _materialise_bootstrap(admins: AdminRoster, *, actor: str, at: datetime) -> None:
    # SOCIALOPS_ADMINS counts only while nobody is stored; store them before the first change so nobody loses rights by it.
    if not admins.stored_ids():
        for user_id in admins.admin_ids():
            admins.add(user_id, by=actor, at=at)


def grant_admin(admins: AdminRoster, audit: AuditSink, *, actor: str, user_id: str, workspace_id: str, now: datetime, via: str) -> AdminsAnswer:
    """Make `user_id` an admin (admins only; audited); adding an existing admin changes nothing."""
    require_admin(admins, actor, action="add admins")
    before = admins.admin_ids()
    if user_id in before:
        raise Conflict(f"<@{user_id}> is already an admin.")
    _materialise_bootstrap(admins, actor=actor, at=now)
    admins.add(user_id, by=actor, at=now)
    after = admins.admin_ids()
    audit.record(AuditRecord(at=now, actor=actor, action="admin_added", via=via, target=f"user:{user_id}", team_id=workspace_id,
                             before={"admins": before}, after={"admins": after}))
    return AdminsAnswer(admins=after, bootstrap=False, changed="added", who=user_id)


def revoke_admin(admins: AdminRoster, audit: AuditSink, *, actor: str, user_id: str, workspace_id: str, now: datetime, via: str) -> AdminsAnswer:
    """Take admin rights away (admins only; audited); the last admin cannot remove themselves."""
    require_admin(admins, actor, action="remove admins")
    before = admins.admin_ids()
    if user_id not in before:
        raise NotFound(f"<@{user_id}> is not an admin.")
    if before == [user_id]:
        raise Conflict("You are the last admin: add another with `/oncall admins add @who` before removing yourself.")
    _materialise_bootstrap(admins, actor=actor, at=now)
    if not admins.remove(user_id, keep_one=True):
        raise Conflict(f"<@{user_id}> could not be removed: they are the last admin.")
    after = admins.admin_ids()
    audit.record(AuditRecord(at=now, actor=actor, action="admin_removed", via=via, target=f"user:{user_id}", team_id=workspace_id,
                             before={"admins": before}, after={"admins": after}))
    return AdminsAnswer(admins=after, bootstrap=False, changed="removed", who=user_id)


class EventLedger(Protocol):
    """Remembers Events API deliveries so Slack's retries are handled once."""

    def claim(self, event_id: str, *, at: datetime) -> bool: ...
