"""Weekly report settings and end-of-shift check-ins.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from storage.columns import UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_settings",
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("delivery", sa.String(16), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "shift_checkins",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("shift_start", UtcDateTime(), nullable=False),
        sa.Column("shift_end", UtcDateTime(), nullable=False),
        sa.Column("asked_at", UtcDateTime(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("answered_at", UtcDateTime(), nullable=True),
        sa.UniqueConstraint("team_id", "shift_end", name="uq_shift_checkins_team_end"),
    )


def downgrade() -> None:
    op.drop_table("shift_checkins")
    op.drop_table("report_settings")
