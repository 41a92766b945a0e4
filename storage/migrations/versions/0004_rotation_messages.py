"""User-group sync state for the automatic rotation messages.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from storage.columns import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usergroup_sync",
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("usergroup_id", sa.String(32), nullable=False),
        sa.Column("synced_users", sa.String(512), nullable=True),
        sa.Column("synced_at", UtcDateTime(), nullable=True),
        sa.Column("disabled_error", sa.String(64), nullable=True),
        sa.Column("disabled_at", UtcDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("usergroup_sync")
