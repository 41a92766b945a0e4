"""What false-alarm and missed-crisis labels taught each topic's detector (issue 12).

`topic_sensitivity`: one row per topic whose threshold labels moved; an admin's `/crisis tuning reset <topic>` deletes it.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from storage.columns import UtcDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "topic_sensitivity",
        sa.Column("topic_id", sa.Integer(), sa.ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="CASCADE"), nullable=False),
        sa.Column("log_factor", sa.Float(), nullable=False),
        sa.Column("adjusted_at", UtcDateTime(), nullable=False),
        sa.Column("false_alarms", sa.Integer(), nullable=False),
        sa.Column("missed", sa.Integer(), nullable=False),
        sa.Column("last_crisis_id", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("topic_sensitivity")
