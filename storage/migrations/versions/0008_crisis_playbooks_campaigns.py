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

from datetime import UTC, datetime

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
    _fill_topic_keys()
    op.add_column("crises", sa.Column("playbook_ts", sa.String(32), nullable=True))
    # Thread lines are claimed per event row; lines of existing crises were posted by position already.
    op.add_column("crisis_events", sa.Column("in_thread", sa.Boolean(), nullable=False, server_default=sa.true()))
    _resolve_duplicate_open_crises()
    op.create_index("ux_crises_open_topic", "crises", ["team_id", "topic_key"], unique=True,
                    sqlite_where=sa.text(_OPEN), postgresql_where=sa.text(_OPEN))
    op.create_table(
        "crisis_card_copies",
        sa.Column("crisis_id", sa.Integer(), sa.ForeignKey("crises.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("ts", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("posted_at", UtcDateTime(), nullable=False),
    )


def _fill_topic_keys() -> None:
    """Key existing crises by Python's lower(), as storage/crises.py does (SQLite's lower() folds ASCII only: "Ürün")."""
    bind = op.get_bind()
    crises = sa.table("crises", sa.column("id", sa.Integer()), sa.column("topic_key", sa.String()))
    for crisis_id, topic in bind.execute(sa.text("SELECT id, topic FROM crises")).all():
        bind.execute(crises.update().where(crises.c.id == crisis_id).values(topic_key=topic.lower()))


def _resolve_duplicate_open_crises() -> None:
    """Keep one open crisis per team and topic (an acknowledged one first: someone is working it; then the oldest);
    resolve the others into it, saying so (timeline, audit).

    Before this revision two racing declares could both open a crisis for one topic, and the unique index
    below refuses to be built over such a pair. Nothing is deleted: each other one is resolved with a note
    naming the crisis it was merged into, and its acknowledgement, responders and timeline stay as they were.
    """
    bind = op.get_bind()
    rows = bind.execute(sa.text(f"SELECT id, team_id, topic_key, workspace_id, status FROM crises WHERE {_OPEN}"
                                " ORDER BY team_id, topic_key, CASE WHEN status = 'acknowledged' THEN 0 ELSE 1 END, opened_at, id")).all()
    kept: dict[tuple[int, str], int] = {}
    merged: list[tuple[int, int, str, str]] = []
    for crisis_id, team_id, topic_key, workspace_id, status in rows:
        keep = kept.setdefault((team_id, topic_key), crisis_id)
        if keep != crisis_id:
            merged.append((crisis_id, keep, workspace_id, status))
    if not merged:
        return
    now = datetime.now(UTC)
    crises = sa.table("crises", sa.column("id", sa.Integer()), sa.column("status", sa.String()), sa.column("resolved_by", sa.String()),
                      sa.column("resolved_at", UtcDateTime()), sa.column("resolution_note", sa.String()))
    events = sa.table("crisis_events", sa.column("crisis_id", sa.Integer()), sa.column("at", UtcDateTime()), sa.column("kind", sa.String()),
                      sa.column("actor", sa.String()), sa.column("via", sa.String()), sa.column("detail", sa.JSON()),
                      sa.column("in_thread", sa.Boolean()))
    audit = sa.table("audit_log", sa.column("at", UtcDateTime()), sa.column("actor", sa.String()), sa.column("action", sa.String()),
                     sa.column("via", sa.String()), sa.column("target", sa.String()), sa.column("team_id", sa.String()),
                     sa.column("before", sa.JSON()), sa.column("after", sa.JSON()))
    for crisis_id, keep, workspace_id, status in merged:
        note = f"Merged into crisis #{keep}: the same topic was open twice (upgrade to one open crisis per topic)."
        bind.execute(crises.update().where(crises.c.id == crisis_id).values(
            status="resolved", resolved_by="system", resolved_at=now, resolution_note=note))
        bind.execute(events.insert().values(crisis_id=crisis_id, at=now, kind="resolved", actor="system", via="cli",
                                            detail={"note": note, "real": None, "merged_into": keep}, in_thread=False))
        bind.execute(audit.insert().values(at=now, actor="system", action="crisis_merged", via="cli", target=f"crisis:{crisis_id}",
                                           team_id=workspace_id, before={"status": status},
                                           after={"status": "resolved", "merged_into": keep}))


def downgrade() -> None:
    op.drop_table("crisis_card_copies")
    op.execute("ALTER TABLE crisis_events DROP COLUMN in_thread")
    op.drop_index("ux_crises_open_topic", table_name="crises")
    # Plain ALTER TABLE (SQLite >= 3.35 and PostgreSQL): batch mode would copy and drop `crises`, and with foreign
    # keys on that drop cascades into the timeline, responders and steps.
    op.execute("ALTER TABLE crises DROP COLUMN playbook_ts")
    op.execute("ALTER TABLE crises DROP COLUMN topic_key")
