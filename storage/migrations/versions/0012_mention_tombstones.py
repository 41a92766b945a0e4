"""Purged mentions keep a tombstone (their source id) so a late re-delivery is not counted again.

The retention purge blanks a mention's content (text, author, reach, URL, language, sentiment) and stamps purged_at;
the row's key (source, source_id, topic, created minute) stays, so uq_mentions_source_id keeps turning a vendor's
re-delivery into a duplicate. Tombstones are deleted after bot.mentions.TOMBSTONE_HORIZON.

The mentions -> topics foreign key goes: checking it row by row was a third of a 500-row insert on PostgreSQL.
Ingestion only ever files a mention under a topic it has just read, topics are never deleted, and the counter upsert
in the same transaction still references topics (mention_counts keeps its foreign key), so a batch naming a missing
topic still rolls back whole.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from storage.columns import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# SQLite reflects the foreign key without a name; batch mode needs one to drop it.
_NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
_TOPIC_FK = "mentions_topic_id_fkey"  # PostgreSQL's name for the key 0005 created
# Columns a tombstone empties, with their types as 0005 made them (NOT NULL before this revision).
_CONTENT = (("text", sa.String()), ("sentiment_label", sa.String(8)), ("sentiment_score", sa.Float()),
            ("sentiment_confidence", sa.Float()), ("analyser", sa.String(64)))


def upgrade() -> None:
    topic_keys = [fk for fk in sa.inspect(op.get_bind()).get_foreign_keys("mentions") if fk["referred_table"] == "topics"]
    with op.batch_alter_table("mentions", naming_convention=_NAMING) as batch:
        batch.add_column(sa.Column("purged_at", UtcDateTime(), nullable=True))
        for name, kind in _CONTENT:
            batch.alter_column(name, existing_type=kind, nullable=True)
        for key in topic_keys:
            batch.drop_constraint(key["name"] or "fk_mentions_topic_id_topics", type_="foreignkey")


def downgrade() -> None:
    # Tombstones have no text and orphans no topic: neither fits the older schema, and both were purged content.
    op.execute("DELETE FROM mentions WHERE purged_at IS NOT NULL")
    op.execute("DELETE FROM mentions WHERE topic_id NOT IN (SELECT id FROM topics)")
    with op.batch_alter_table("mentions", naming_convention=_NAMING) as batch:
        batch.create_foreign_key(_TOPIC_FK, "topics", ["topic_id"], ["id"], ondelete="CASCADE")
        for name, kind in _CONTENT:
            batch.alter_column(name, existing_type=kind, nullable=False)
        batch.drop_column("purged_at")
