"""SQLModel tables: audit trail, admins, event dedupe, outbox, job ledger, teams and their rotation layers.

Alembic migrations in storage/migrations mirror these; change both together.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
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


class Team(SQLModel, table=True):
    """A rotation: one per brand or region, with its zone, handoff rule and channels."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("workspace_id", "name", name="uq_teams_workspace_name"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(max_length=32)
    name: str = Field(max_length=80)
    tz: str = Field(max_length=64)
    handoff_weekday: int = 0
    handoff_at: str = Field(default="09:00", max_length=5)  # wall-clock HH:MM in the team zone
    length_days: int = 7
    epoch: datetime = Field(sa_type=UtcDateTime, nullable=False)
    announce_channel: str | None = Field(default=None, max_length=32)
    crisis_channel: str | None = Field(default=None, max_length=32)
    usergroup_id: str | None = Field(default=None, max_length=32)
    observe_holidays: bool = False
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class TeamMember(SQLModel, table=True):
    """A person in a team's ordered roster (or a shadow, who is notified but never paged alone)."""

    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("team_id", "user_id", name="uq_team_members_team_user"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", ondelete="CASCADE")
    user_id: str = Field(max_length=32)
    position: int
    tz: str | None = Field(default=None, max_length=64)
    country: str | None = Field(default=None, max_length=8)
    paused: bool = False
    shadow: bool = False


class OverrideRow(SQLModel, table=True):
    """Someone covers a role for a time range; the newest override wins where they overlap."""

    __tablename__ = "overrides"
    __table_args__ = (Index("ix_overrides_team_end", "team_id", "end_at"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", ondelete="CASCADE")
    user_id: str = Field(max_length=32)
    role: str = Field(default="primary", max_length=16)
    start_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    end_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    replaces: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    created_by: str = Field(max_length=64)


class TimeOffRow(SQLModel, table=True):
    """A person is away (all their teams skip them) for a time range."""

    __tablename__ = "time_off"
    __table_args__ = (Index("ix_time_off_user_end", "user_id", "end_at"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(max_length=32)
    start_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    end_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    created_by: str = Field(max_length=64)
