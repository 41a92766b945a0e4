"""Indexes for the retention purges and /crisis sources.

- mentions: a partial index on received_at of rows not yet purged, so the nightly tombstoning reads only live rows
  (the plain index walked every tombstone older than the cut-off: 913k buffer reads to update nothing on 2 M rows).
- mention_counts(minute): the counter purge and the sources totals range over recent minutes of every topic.
- outbox(status, created_at) and job_runs(ran_at): their retention deletes.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None

_LIVE = sa.text("purged_at IS NULL")


def upgrade() -> None:
    op.create_index("ix_mentions_live_received", "mentions", ["received_at"], postgresql_where=_LIVE, sqlite_where=_LIVE)
    op.create_index("ix_mention_counts_minute", "mention_counts", ["minute"])
    op.create_index("ix_outbox_finished", "outbox", ["status", "created_at"])
    op.create_index("ix_job_runs_ran_at", "job_runs", ["ran_at"])


def downgrade() -> None:
    op.drop_index("ix_job_runs_ran_at", table_name="job_runs")
    op.drop_index("ix_outbox_finished", table_name="outbox")
    op.drop_index("ix_mention_counts_minute", table_name="mention_counts")
    op.drop_index("ix_mentions_live_received", table_name="mentions")
