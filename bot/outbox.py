"""Messages the bot owes Slack: queued, retried with backoff, never silently dropped. Pure rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

MAX_ATTEMPTS = 8
# Errors that will not go away by waiting: give up and tell the admins instead of looping.
PERMANENT_ERRORS = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "user_not_found", "user_disabled", "invalid_blocks",
     "msg_too_long", "no_text", "invalid_arguments", "cant_update_message", "message_not_found", "invalid_auth",
     "account_inactive", "token_revoked", "missing_scope", "restricted_action"}
)


@dataclass(frozen=True)
class OutboxItem:
    id: int
    dedupe_key: str
    method: str
    payload: dict[str, Any]
    due_at: datetime
    attempts: int
    status: str
    kind: str | None = None  # declared by the flow that queued it: which on-delivered step follows (None: nothing)
    subject: dict[str, Any] | None = None  # what that step needs (ids), so nothing is parsed back out of the key
    workspace_id: str = ""  # whose token sends it; "" in single-token mode before 0016 knew the workspace


class OutboxStore(Protocol):
    def enqueue(self, *, dedupe_key: str, method: str, payload: dict[str, Any], due_at: datetime, now: datetime,
                kind: str | None = None, subject: dict[str, Any] | None = None) -> int: ...
    def get(self, item_id: int) -> OutboxItem | None: ...
    def mark_sent(self, item_id: int, *, at: datetime, result: dict[str, Any]) -> None: ...
    def mark_retry(self, item_id: int, *, error: str, due_at: datetime) -> None: ...
    def mark_failed(self, item_id: int, *, error: str) -> None: ...


def next_attempt_at(attempts: int, now: datetime, retry_after: float | None = None) -> datetime:
    """Return when to try again: Slack's Retry-After if given, else exponential backoff capped at 10 minutes."""
    if retry_after is not None:
        return now + timedelta(seconds=max(1.0, retry_after))
    return now + timedelta(seconds=min(600, 5 * 2 ** max(0, attempts - 1)))


def should_give_up(error_code: str, attempts: int) -> bool:
    """Return whether a failed delivery is final."""
    return error_code in PERMANENT_ERRORS or attempts >= MAX_ATTEMPTS
