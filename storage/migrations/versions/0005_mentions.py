"""Mentions in: topics, listening sources and channels, raw mentions and per-minute counters.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from storage.columns import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "topics",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workspace_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("hashtags", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("workspace_id", "name", name="uq_topics_workspace_name"),
    )
    op.create_table(
        "listening_sources",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("vendor", sa.String(16), nullable=False),
        sa.Column("workspace_id", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("default_topic_id", sa.Integer(), sa.ForeignKey("topics.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "listening_channels",
        sa.Column("channel_id", sa.String(32), primary_key=True),
        sa.Column("workspace_id", sa.String(32), nullable=False),
        sa.Column("topic_id", sa.Integer(), sa.ForeignKey("topics.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "mentions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("source_id", sa.String(255), nullable=False),
        sa.Column("topic_id", sa.Integer(), sa.ForeignKey("topics.id", ondelete="CASCADE"), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("author", sa.String(255), nullable=True),
        sa.Column("reach", sa.BigInteger(), nullable=True),
        sa.Column("url", sa.String(), nullable=True),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("sentiment_label", sa.String(8), nullable=False),
        sa.Column("sentiment_score", sa.Float(), nullable=False),
        sa.Column("sentiment_confidence", sa.Float(), nullable=False),
        sa.Column("analyser", sa.String(64), nullable=False),
        sa.UniqueConstraint("source", "source_id", name="uq_mentions_source_id"),
    )
    op.create_index("ix_mentions_received_at", "mentions", ["received_at"])
    op.create_index("ix_mentions_topic_created", "mentions", ["topic_id", "created_at"])
    op.create_table(
        "mention_counts",
        sa.Column("topic_id", sa.Integer(), sa.ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("minute", UtcDateTime(), primary_key=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("negative", sa.Integer(), nullable=False),
        sa.Column("reach_negative", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mention_counts")
    op.drop_index("ix_mentions_topic_created", table_name="mentions")
    op.drop_index("ix_mentions_received_at", table_name="mentions")
    op.drop_table("mentions")
    op.drop_table("listening_channels")
    op.drop_table("listening_sources")
    op.drop_table("topics")
