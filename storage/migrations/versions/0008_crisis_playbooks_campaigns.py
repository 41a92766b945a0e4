"""Crisis playbooks and checks, crisis notes, DM copies of cards, one open crisis per topic.

Adds `crises.topic_key` (lower-cased topic) with a partial unique index over open crises, so two simultaneous
declares of one topic cannot both open; `crises.playbook_ts` (the playbook message in the card's thread); and
`crisis_card_copies`, the DM copies of each card that paging sent, so state changes update them in place; and
`crisis_events.in_thread`, so each timeline line is claimed for the card's thread by its row, not by its position.
Playbook steps and checks reuse the tables of 0006; notes are crisis_events rows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from storage.columns import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_OPEN = "status IN ('open', 'acknowledged')"


def upgrade() -> None:
    # A server default lets SQLite add a NOT NULL column to existing rows; they get their key right after.
    op.add_column("crises", sa.Column("topic_key", sa.String(80), nullable=False, server_default=""))
    op.execute("UPDATE crises SET topic_key = lower(topic)")
    op.add_column("crises", sa.Column("playbook_ts", sa.String(32), nullable=True))
    op.create_index("ux_crises_open_topic", "crises", ["team_id", "topic_key"], unique=True,
                    sqlite_where=sa.text(_OPEN), postgresql_where=sa.text(_OPEN))
    # Thread lines are claimed per event row; lines of existing crises were posted by position already.
    op.add_column("crisis_events", sa.Column("in_thread", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table(
        "crisis_card_copies",
        sa.Column("crisis_id", sa.Integer(), sa.ForeignKey("crises.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("ts", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("posted_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("crisis_card_copies")
    op.execute("ALTER TABLE crisis_events DROP COLUMN in_thread")
    op.drop_index("ux_crises_open_topic", table_name="crises")
    # Plain ALTER TABLE (SQLite >= 3.35 and PostgreSQL): batch mode would copy and drop `crises`, and with foreign
    # keys on that drop cascades into the timeline, responders and steps.
    op.execute("ALTER TABLE crises DROP COLUMN playbook_ts")
    op.execute("ALTER TABLE crises DROP COLUMN topic_key")
