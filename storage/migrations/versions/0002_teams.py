"""Teams, rosters, overrides and time off.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from storage.columns import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workspace_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("tz", sa.String(64), nullable=False),
        sa.Column("handoff_weekday", sa.Integer(), nullable=False),
        sa.Column("handoff_at", sa.String(5), nullable=False),
        sa.Column("length_days", sa.Integer(), nullable=False),
        sa.Column("epoch", UtcDateTime(), nullable=False),
        sa.Column("announce_channel", sa.String(32), nullable=True),
        sa.Column("crisis_channel", sa.String(32), nullable=True),
        sa.Column("usergroup_id", sa.String(32), nullable=True),
        sa.Column("observe_holidays", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("workspace_id", "name", name="uq_teams_workspace_name"),
    )
    op.create_table(
        "team_members",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("tz", sa.String(64), nullable=True),
        sa.Column("country", sa.String(8), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("shadow", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("team_id", "user_id", name="uq_team_members_team_user"),
    )
    op.create_table(
        "overrides",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("start_at", UtcDateTime(), nullable=False),
        sa.Column("end_at", UtcDateTime(), nullable=False),
        sa.Column("replaces", sa.String(32), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
    )
    op.create_index("ix_overrides_team_end", "overrides", ["team_id", "end_at"])
    op.create_table(
        "time_off",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("start_at", UtcDateTime(), nullable=False),
        sa.Column("end_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
    )
    op.create_index("ix_time_off_user_end", "time_off", ["user_id", "end_at"])


def downgrade() -> None:
    op.drop_index("ix_time_off_user_end", table_name="time_off")
    op.drop_table("time_off")
    op.drop_index("ix_overrides_team_end", table_name="overrides")
    op.drop_table("overrides")
    op.drop_table("team_members")
    op.drop_table("teams")
