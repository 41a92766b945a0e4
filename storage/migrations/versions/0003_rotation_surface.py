"""Regional windows, swap and cover requests, calendar tokens, offboarding, people.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from storage.columns import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _team_fk() -> sa.Column:
    return sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "team_windows",
        sa.Column("id", sa.Integer(), primary_key=True), _team_fk(),
        sa.Column("name", sa.String(40), nullable=False), sa.Column("tz", sa.String(64), nullable=False),
        sa.Column("start", sa.String(5), nullable=False), sa.Column("end", sa.String(5), nullable=False),
        sa.Column("roster", sa.JSON(), nullable=False), sa.Column("position", sa.Integer(), nullable=False),
    )
    op.create_table(
        "swap_requests",
        sa.Column("id", sa.Integer(), primary_key=True), _team_fk(),
        sa.Column("requester", sa.String(32), nullable=False), sa.Column("requester_at", UtcDateTime(), nullable=False),
        sa.Column("other", sa.String(32), nullable=False), sa.Column("other_at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False), sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("decided_at", UtcDateTime(), nullable=True),
    )
    op.create_table(
        "cover_requests",
        sa.Column("id", sa.Integer(), primary_key=True), _team_fk(),
        sa.Column("requester", sa.String(32), nullable=False),
        sa.Column("start_at", UtcDateTime(), nullable=False), sa.Column("end_at", UtcDateTime(), nullable=False),
        sa.Column("note", sa.String(500), nullable=False), sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("taken_by", sa.String(32), nullable=True), sa.Column("taken_at", UtcDateTime(), nullable=True),
        sa.Column("override_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(32), nullable=True), sa.Column("message_ts", sa.String(32), nullable=True),
    )
    op.create_index("ix_cover_requests_team_status", "cover_requests", ["team_id", "status"])
    op.create_table(
        "calendar_tokens",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("workspace_id", sa.String(32), nullable=False), sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("workspace_id", "user_id", name="uq_calendar_tokens_user"),
    )
    op.create_table(
        "team_accounts",
        sa.Column("id", sa.Integer(), primary_key=True), _team_fk(), sa.Column("name", sa.String(120), nullable=False),
    )
    op.create_table(
        "offboarding_tasks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workspace_id", sa.String(32), nullable=False), sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True), sa.Column("item", sa.String(120), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("confirmed_by", sa.String(32), nullable=True), sa.Column("confirmed_at", UtcDateTime(), nullable=True),
    )
    op.create_table(
        "people",
        sa.Column("workspace_id", sa.String(32), primary_key=True), sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("tz", sa.String(64), nullable=True), sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("people")
    op.drop_table("offboarding_tasks")
    op.drop_table("team_accounts")
    op.drop_table("calendar_tokens")
    op.drop_index("ix_cover_requests_team_status", table_name="cover_requests")
    op.drop_table("cover_requests")
    op.drop_table("swap_requests")
    op.drop_table("team_windows")
