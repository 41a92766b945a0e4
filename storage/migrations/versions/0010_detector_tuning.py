"""Per-team detector tuning and campaign windows.

`detector_settings`: one row per team that changed its sensitivity, minimum count or quiet-hours behaviour.
`campaign_windows`: windows during which a topic (or all of a team's topics) is watched more closely.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from storage.columns import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "detector_settings",
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("sensitivity", sa.String(16), nullable=False),
        sa.Column("min_count", sa.Integer(), nullable=False),
        sa.Column("quiet_hours", sa.String(16), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "campaign_windows",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("topic", sa.String(80), nullable=True),
        sa.Column("starts_at", UtcDateTime(), nullable=False),
        sa.Column("ends_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("cancelled_by", sa.String(32), nullable=True),
        sa.Column("cancelled_at", UtcDateTime(), nullable=True),
    )
    op.create_index("ix_campaign_windows_team_end", "campaign_windows", ["team_id", "ends_at"])


def downgrade() -> None:
    op.drop_index("ix_campaign_windows_team_end", table_name="campaign_windows")
    op.drop_table("campaign_windows")
    op.drop_table("detector_settings")
