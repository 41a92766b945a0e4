"""Burnout guard: per-team limits, sleep-hour offers (one per primary shift) and rebalancing proposals.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from storage.columns import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _team_fk() -> sa.ForeignKey:
    return sa.ForeignKey("teams.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "burnout_limits",
        sa.Column("team_id", sa.Integer(), _team_fk(), primary_key=True),
        sa.Column("sleep_pages", sa.Integer(), nullable=False),
        sa.Column("consecutive_weeks", sa.Integer(), nullable=False),
        sa.Column("weekends_per_month", sa.Integer(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "burnout_offers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.Integer(), _team_fk(), nullable=False),
        sa.Column("primary_user", sa.String(32), nullable=False),
        sa.Column("backup_user", sa.String(32), nullable=False),
        sa.Column("shift_start", UtcDateTime(), nullable=False),
        sa.Column("shift_end", UtcDateTime(), nullable=False),
        sa.Column("sleep_pages", sa.Integer(), nullable=False),
        sa.Column("sleep_limit", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("offered_at", UtcDateTime(), nullable=False),
        sa.Column("accepted_by", sa.String(32), nullable=True),
        sa.Column("accepted_at", UtcDateTime(), nullable=True),
        sa.Column("override_id", sa.Integer(), nullable=True),
        sa.UniqueConstraint("team_id", "primary_user", "shift_start", name="uq_burnout_offer_shift"),
    )
    op.create_table(
        "rebalance_proposals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.Integer(), _team_fk(), nullable=False),
        sa.Column("handoff", UtcDateTime(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("moves", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("applied_by", sa.String(32), nullable=True),
        sa.Column("applied_at", UtcDateTime(), nullable=True),
        sa.UniqueConstraint("team_id", "handoff", name="uq_rebalance_team_handoff"),
    )


def downgrade() -> None:
    op.drop_table("rebalance_proposals")
    op.drop_table("burnout_offers")
    op.drop_table("burnout_limits")
