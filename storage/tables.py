"""SQLModel tables of the foundation: audit trail, admins, event dedupe, outbox, job ledger.

Alembic migrations in storage/migrations mirror these; change both together.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from storage.columns import UtcDateTime


class AuditEntry(SQLModel, table=True):
    """Who did what, when, through which path, with before/after where something changed."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"), Index("ix_audit_log_target", "target"))

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    actor: str = Field(max_length=64)  # a Slack user ID, or "system"
    action: str = Field(max_length=64)
    via: str = Field(max_length=32)  # slash_command, button, modal, scheduler, api, event, console, cli
    target: str = Field(default="", max_length=255)
    team_id: str | None = Field(default=None, max_length=32)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class Admin(SQLModel, table=True):
    """A Slack user allowed to change teams, rosters and policies."""

    __tablename__ = "admins"

    user_id: str = Field(primary_key=True, max_length=32)
    added_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    added_by: str = Field(max_length=64)


class ProcessedEvent(SQLModel, table=True):
    """Events API deliveries already handled; Slack retries carry the same event_id."""

    __tablename__ = "processed_events"

    event_id: str = Field(primary_key=True, max_length=64)
    received_at: datetime = Field(sa_type=UtcDateTime, nullable=False, index=True)


class OutboxMessage(SQLModel, table=True):
    """A Web API call the bot owes Slack; kept until Slack accepts it, so an outage loses nothing."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "status", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=255, unique=True)
    method: str = Field(max_length=64)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    due_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    status: str = Field(default="pending", max_length=16)  # pending, sending (leased), sent, failed (gave up; admins told)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=255)
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class JobRun(SQLModel, table=True):
    """Ledger of scheduled runs that completed; a run key is claimed once, so a restart never repeats it."""

    __tablename__ = "job_runs"

    run_key: str = Field(primary_key=True, max_length=255)
    ran_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
