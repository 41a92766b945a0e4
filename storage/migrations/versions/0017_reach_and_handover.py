"""Reach and handover (issue 17): escalation step kinds, handover notes, stakeholder channels, each person's phone and quiet-hours reach,
and the ledger of pages sent through Twilio, PagerDuty and Opsgenie.

Revision ID: 0017
Revises: 0019
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from storage.columns import UtcDateTime

revision = "0017"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # An escalation step's kind beyond Slack (call, sms, pagerduty, opsgenie); steps planned before stay Slack-only.
    with op.batch_alter_table("crisis_escalation_steps") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="slack"))
    op.create_table(
        "handover_notes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="CASCADE"), nullable=False),
        sa.Column("handoff", UtcDateTime(), nullable=False),
        sa.Column("author", sa.String(32), nullable=False),
        sa.Column("text", sa.String(3000), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("team_id", "handoff", name="uq_handover_notes_team_handoff"),
    )
    op.create_table(
        "stakeholder_channels",
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(32), nullable=False),
    )
    op.create_table(
        "person_reach",
        sa.Column("workspace_id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("phone_verified_at", UtcDateTime(), nullable=True),
        sa.Column("code_hash", sa.String(128), nullable=True),
        sa.Column("code_expires_at", UtcDateTime(), nullable=True),
        sa.Column("code_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("quiet_rule", sa.JSON(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "provider_pages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("crisis_id", sa.Integer(), sa.ForeignKey("crises.id", ondelete="CASCADE"), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("external_id", sa.String(128), nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=True),
        sa.Column("acked_at", UtcDateTime(), nullable=True),
        sa.UniqueConstraint("crisis_id", "step", "user_id", "kind", name="uq_provider_pages_once"),
    )
    op.create_index("ix_provider_pages_status_due", "provider_pages", ["status", "due_at"])
    op.create_index("ix_provider_pages_external", "provider_pages", ["kind", "external_id"])


def downgrade() -> None:
    op.drop_index("ix_provider_pages_external", table_name="provider_pages")
    op.drop_index("ix_provider_pages_status_due", table_name="provider_pages")
    op.drop_table("provider_pages")
    op.drop_table("person_reach")
    op.drop_table("stakeholder_channels")
    op.drop_table("handover_notes")
    with op.batch_alter_table("crisis_escalation_steps") as batch:
        batch.drop_column("kind")
