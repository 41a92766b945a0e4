"""Outbox items declare what follows their delivery: `kind` and `subject` columns instead of a parsed dedupe key.

A "still on it?" DM that waited for Slack used to carry its crisis and card state in its key
("queued-still-on-it:<crisis>|<state>|<ledger key>"); existing rows get kind "still_on_it" and that subject. The
downgrade writes the old key back for rows queued since, so the older code keeps tracking them.

Revision ID: 0019
Revises: 0015
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

OLD_PREFIX = "queued-still-on-it:"
KIND = "still_on_it"
NEW_PREFIX = "still-on-it-dm:"

_outbox = sa.table("outbox", sa.column("id", sa.Integer), sa.column("dedupe_key", sa.String), sa.column("kind", sa.String),
                   sa.column("subject", sa.JSON))


def upgrade() -> None:
    op.add_column("outbox", sa.Column("kind", sa.String(length=32), nullable=True))
    op.add_column("outbox", sa.Column("subject", sa.JSON(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(_outbox.c.id, _outbox.c.dedupe_key).where(_outbox.c.dedupe_key.like(f"{OLD_PREFIX}%"))).all()
    for item_id, key in rows:
        crisis_id, state, _ = key.removeprefix(OLD_PREFIX).split("|", 2)
        connection.execute(_outbox.update().where(_outbox.c.id == item_id)
                           .values(kind=KIND, subject={"crisis_id": int(crisis_id), "state": state}))


def downgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(_outbox.c.id, _outbox.c.dedupe_key, _outbox.c.subject).where(_outbox.c.kind == KIND)).all()
    for item_id, key, subject in rows:
        if not key.startswith(OLD_PREFIX):
            old_key = f"{OLD_PREFIX}{subject['crisis_id']}|{subject['state']}|{key.removeprefix(NEW_PREFIX)}"
            connection.execute(_outbox.update().where(_outbox.c.id == item_id).values(dedupe_key=old_key[:255]))
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("subject")
        batch.drop_column("kind")
