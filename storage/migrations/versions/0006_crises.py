"""Crises: crises, their timeline, responders and escalation steps; policies, stepping away, playbooks, topic watches.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from storage.columns import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _team_fk() -> sa.ForeignKey:
    return sa.ForeignKey("teams.id", ondelete="CASCADE")


def _crisis_fk() -> sa.ForeignKey:
    return sa.ForeignKey("crises.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "crises",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.Integer(), _team_fk(), nullable=False),
        sa.Column("workspace_id", sa.String(32), nullable=False),
        sa.Column("topic", sa.String(80), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=True),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("summary", sa.String(500), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("declared_by", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at", UtcDateTime(), nullable=False),
        sa.Column("acked_by", sa.String(32), nullable=True),
        sa.Column("acked_at", UtcDateTime(), nullable=True),
        sa.Column("acked_via", sa.String(32), nullable=True),
        sa.Column("resolved_by", sa.String(32), nullable=True),
        sa.Column("resolved_at", UtcDateTime(), nullable=True),
        sa.Column("resolution_note", sa.String(2000), nullable=True),
        sa.Column("real", sa.Boolean(), nullable=True),
        sa.Column("false_alarm", sa.Boolean(), nullable=False),
        sa.Column("last_activity_at", UtcDateTime(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.Column("thread_lines", sa.Integer(), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=True),
    )
    op.create_index("ix_crises_team_status", "crises", ["team_id", "status"])
    op.create_table(
        "crisis_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("crisis_id", sa.Integer(), _crisis_fk(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("via", sa.String(32), nullable=False),
        sa.Column("target", sa.String(64), nullable=True),
        sa.Column("method", sa.String(16), nullable=True),
        sa.Column("delivered", sa.Boolean(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
    )
    op.create_index("ix_crisis_events_crisis", "crisis_events", ["crisis_id", "at"])
    op.create_table(
        "crisis_responders",
        sa.Column("crisis_id", sa.Integer(), _crisis_fk(), primary_key=True),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "crisis_escalation_steps",
        sa.Column("crisis_id", sa.Integer(), _crisis_fk(), primary_key=True),
        sa.Column("step", sa.Integer(), primary_key=True),
        sa.Column("target", sa.String(16), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("ran_at", UtcDateTime(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
    )
    op.create_index("ix_crisis_steps_due", "crisis_escalation_steps", ["ran_at", "due_at"])
    op.create_table(
        "escalation_policies",
        sa.Column("team_id", sa.Integer(), _team_fk(), primary_key=True),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("repeat", sa.Integer(), nullable=False),
        sa.Column("still_on_it_s", sa.Integer(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "crisis_away",
        sa.Column("team_id", sa.Integer(), _team_fk(), primary_key=True),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("until", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "playbook_steps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.Integer(), _team_fk(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(2000), nullable=False),
        sa.Column("holding_statement", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "playbook_checks",
        sa.Column("crisis_id", sa.Integer(), _crisis_fk(), primary_key=True),
        sa.Column("step_id", sa.Integer(), sa.ForeignKey("playbook_steps.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("checked_by", sa.String(32), nullable=False),
        sa.Column("checked_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "topic_watches",
        sa.Column("topic_id", sa.Integer(), sa.ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("team_id", sa.Integer(), _team_fk(), nullable=False),
        sa.Column("detector", sa.JSON(), nullable=True),
        sa.Column("read_until", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("topic_watches")
    op.drop_table("playbook_checks")
    op.drop_table("playbook_steps")
    op.drop_table("crisis_away")
    op.drop_table("escalation_policies")
    op.drop_index("ix_crisis_steps_due", table_name="crisis_escalation_steps")
    op.drop_table("crisis_escalation_steps")
    op.drop_table("crisis_responders")
    op.drop_index("ix_crisis_events_crisis", table_name="crisis_events")
    op.drop_table("crisis_events")
    op.drop_index("ix_crises_team_status", table_name="crises")
    op.drop_table("crises")
