"""A workspace stops or resumes getting messages: uninstall and token revocation, reinstall. Pure use cases and ports.

Uninstalling keeps every row (teams, crises, audit); it only stops sending: the workspace's queued messages are held,
not dropped and not retried, jobs for it skip, and each change is audited. Installing again releases what was held.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from bot.audit import SYSTEM_ACTOR, AuditRecord, AuditSink
from bot.workspace_scope import acting_for

log = logging.getLogger(__name__)

R = TypeVar("R")

# The acting workspace has no token: it uninstalled the app, revoked the token, or never installed (many-workspace mode).
NOT_INSTALLED = "not_installed"
# Slack's answers meaning the workspace took the token away: a queued call waits (held) for a reinstall instead of failing.
WORKSPACE_GONE = frozenset({NOT_INSTALLED, "token_revoked", "account_inactive"})


class StopReason(enum.StrEnum):
    app_uninstalled = "app_uninstalled"
    tokens_revoked = "tokens_revoked"


class SendingCheck(Protocol):
    """Whether the bot may send to a workspace: what the flows and jobs ask before acting for one."""

    def is_sending(self, workspace_id: str) -> bool: ...


class EverySending:
    """The SendingCheck of a runtime that never stops a workspace (flows built without one, e.g. in tests)."""

    def is_sending(self, workspace_id: str) -> bool:
        return True


def run_for_workspace(check: SendingCheck, workspace_id: str | None, work: Callable[[], R], *, skipped: R, what: str) -> R:
    """Run `work` acting for `workspace_id` (its token, its admins, its outbox rows); while that workspace has
    uninstalled the app return `skipped` instead. None or "" (the row is gone, or single-workspace data) runs unscoped."""
    if workspace_id and not check.is_sending(workspace_id):
        log.info("%s skipped: workspace %s uninstalled the app", what, workspace_id)
        return skipped
    with acting_for(workspace_id):
        return work()


class WorkspaceStates(SendingCheck, Protocol):
    """Whether the bot may send to a workspace, and the changes (storage/installations.py implements it)."""

    def stop_sending(self, *, workspace_id: str, reason: str, at: datetime) -> bool: ...
    def resume_sending(self, *, workspace_id: str, at: datetime) -> bool: ...


class HeldMessages(Protocol):
    def hold_workspace(self, workspace_id: str) -> int: ...
    def release_workspace(self, workspace_id: str, *, now: datetime) -> list[int]: ...


class StoredTokens(Protocol):
    def forget(self, workspace_id: str) -> None: ...


@dataclass(frozen=True)
class Workspaces:
    """What stopping and resuming a workspace touches."""

    states: WorkspaceStates
    held: HeldMessages
    tokens: StoredTokens  # many-workspace mode deletes the revoked tokens; single-token mode has nothing to delete


def bot_tokens_revoked(tokens: dict[str, list[str]] | None) -> bool:
    """Return whether a tokens_revoked event took the bot's token (user tokens alone change nothing for sending)."""
    return bool((tokens or {}).get("bot"))


def stop_sending(workspaces: Workspaces, audit: AuditSink, *, workspace_id: str, reason: StopReason,
                 detail: dict[str, object] | None, via: str, now: datetime) -> int:
    """Stop all sending to the workspace, hold its queued messages, forget its token and audit it; return how many were held."""
    workspaces.states.stop_sending(workspace_id=workspace_id, reason=reason.value, at=now)
    held = workspaces.held.hold_workspace(workspace_id)
    workspaces.tokens.forget(workspace_id)
    audit.record(AuditRecord(at=now, actor=SYSTEM_ACTOR, action=reason.value, via=via, target=f"workspace:{workspace_id}",
                             team_id=workspace_id, after={**(detail or {}), "held_messages": held}))
    return held


def resume_sending(workspaces: Workspaces, audit: AuditSink, *, workspace_id: str, via: str, now: datetime) -> list[int] | None:
    """Resume a stopped workspace (it installed the app again): return the held message ids now due, or None if it never stopped."""
    if not workspaces.states.resume_sending(workspace_id=workspace_id, at=now):
        return None
    released = workspaces.held.release_workspace(workspace_id, now=now)
    audit.record(AuditRecord(at=now, actor=SYSTEM_ACTOR, action="app_reinstalled", via=via, target=f"workspace:{workspace_id}",
                             team_id=workspace_id, after={"released_messages": len(released)}))
    return released
