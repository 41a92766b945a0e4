"""Installations: slack_sdk's SQLAlchemy installation and OAuth state stores in our database, and who is still installed.

Many-workspace mode (SLACK_CLIENT_ID/SECRET) keeps each workspace's bot token in slack_sdk's tables; single-token mode
(SLACK_BOT_TOKEN) has one token for the workspace it was installed in. Either way `workspace_states` records a workspace
that uninstalled the app or revoked the bot's token, and no token is handed out for it until it installs again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import select, update

from storage.session import Database
from storage.tables import BOTS_TABLE, INSTALLATIONS_TABLE, OAUTH_STATES_TABLE, WorkspaceState

# Slack allows ten minutes between "Add to Slack" and the redirect back.
OAUTH_STATE_SECONDS = 600
STATES_FRESH_S = 5.0
_STATES = WorkspaceState.__table__


class WorkspaceStatesStore:
    """bot.installs.WorkspaceStates on the workspace_states table (no row: the workspace is sending).

    Every request and every Slack call asks, so the set of stopped workspaces is read at most every STATES_FRESH_S (one
    small query) instead of once per ask, which had cost most of an ack's in-process time. A change made here is seen
    here at once, one made by another instance within STATES_FRESH_S; meanwhile Slack itself refuses a revoked token,
    and the outbox holds what it refused.
    """

    def __init__(self, database: Database, *, fresh_for: float = STATES_FRESH_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._db = database
        self._fresh_for = fresh_for
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._stopped: frozenset[str] | None = None
        self._read_at = 0.0

    def is_sending(self, workspace_id: str) -> bool:
        return not workspace_id or workspace_id not in self._stopped_now()

    def _stopped_now(self) -> frozenset[str]:
        with self._lock:
            now = self._monotonic()
            if self._stopped is None or now - self._read_at >= self._fresh_for:
                query = select(_STATES.c.workspace_id).where(_STATES.c.sending.is_(False))
                with self._db.engine.connect() as connection:
                    self._stopped = frozenset(connection.execute(query).scalars())
                self._read_at = now
            return self._stopped

    def _forget(self) -> None:
        with self._lock:
            self._stopped = None

    def stop_sending(self, *, workspace_id: str, reason: str, at: datetime) -> bool:
        """Mark the workspace stopped; return False when it already was."""
        try:
            return self._set(workspace_id, sending=False, reason=reason, at=at)
        finally:
            self._forget()

    def resume_sending(self, *, workspace_id: str, at: datetime) -> bool:
        """Mark the workspace sending again; return False when it was not stopped."""
        try:
            with self._db.session_scope() as session:
                result = session.exec(update(WorkspaceState).where(WorkspaceState.workspace_id == workspace_id,
                                                                   WorkspaceState.sending.is_(False))
                                      .values(sending=True, reason=None, changed_at=at))
                return result.rowcount == 1
        finally:
            self._forget()

    def _set(self, workspace_id: str, *, sending: bool, reason: str | None, at: datetime) -> bool:
        if self._db.insert_once(WorkspaceState(workspace_id=workspace_id, sending=sending, reason=reason, changed_at=at)):
            return True
        with self._db.session_scope() as session:
            result = session.exec(update(WorkspaceState).where(WorkspaceState.workspace_id == workspace_id,
                                                               WorkspaceState.sending.is_(not sending))
                                  .values(sending=sending, reason=reason, changed_at=at))
            return result.rowcount == 1


class SingleTokenSource:
    """The one SLACK_BOT_TOKEN, for any workspace that has not uninstalled the app."""

    def __init__(self, token: str, states: WorkspaceStatesStore) -> None:
        self._token = token
        self._states = states

    def bot_token(self, workspace_id: str) -> str | None:
        return self._token if self._states.is_sending(workspace_id) else None

    def forget(self, workspace_id: str) -> None:
        """Nothing to delete: the operator revokes or replaces the one token."""


class Installations:
    """Per-workspace bot tokens from slack_sdk's installation store (the OAuth v2 install flow writes them)."""

    def __init__(self, database: Database, *, client_id: str, states: WorkspaceStatesStore) -> None:
        self.installation_store = SQLAlchemyInstallationStore(
            client_id=client_id, engine=database.engine, bots_table_name=BOTS_TABLE, installations_table_name=INSTALLATIONS_TABLE,
        )
        self.state_store = SQLAlchemyOAuthStateStore(
            expiration_seconds=OAUTH_STATE_SECONDS, engine=database.engine, table_name=OAUTH_STATES_TABLE,
        )
        self._states = states

    def bot_token(self, workspace_id: str) -> str | None:
        """Return the workspace's newest bot token, or None when it is not (or no longer) installed."""
        if not workspace_id or not self._states.is_sending(workspace_id):
            return None
        bot = self.installation_store.find_bot(enterprise_id=None, team_id=workspace_id)
        return None if bot is None else bot.bot_token

    def forget(self, workspace_id: str) -> None:
        """Delete the workspace's stored tokens (Slack revoked them); teams, crises and audit stay."""
        self.installation_store.delete_all(enterprise_id=None, team_id=workspace_id)

