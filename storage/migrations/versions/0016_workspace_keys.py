"""Workspace keys and Slack installations (issues 16 and 18 item 5).

- admins: keyed by (workspace_id, user_id), so the "admins" escalation step pages only the crisis' workspace's admins.
- time_off, outbox: a workspace_id column (the outbox row's workspace is whose token sends it).
- listening_sources: names unique per workspace instead of globally; a mention's `source` is the source's
  `mention_key` ("name@workspace"), so two workspaces' "brandwatch" never swallow each other's mentions as duplicates.
- workspace_states: a workspace that uninstalled the app (or revoked its token) gets nothing sent until it installs again.
- slack_installations, slack_bots, slack_oauth_states: slack_sdk's SQLAlchemy installation and OAuth state stores.

Existing rows are back-filled with the one workspace this single-token deployment served: SOCIALOPS_WORKSPACE_ID when
set, else the only workspace_id found in teams, topics, sources and crises. Several distinct ones without that variable
stop the upgrade with a clear message (nothing is guessed); none (a fresh database) leaves the rows unscoped ("").

Revision ID: 0016
Revises: 0017
Create Date: 2026-12-04
"""

import os

import sqlalchemy as sa
from alembic import op
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

from storage.columns import UtcDateTime

revision = "0016"
down_revision = "0017"
branch_labels = None
depends_on = None

_OWNED = ("teams", "topics", "listening_sources", "crises")


def _configured_workspace(bind: sa.Connection) -> str:
    configured = os.environ.get("SOCIALOPS_WORKSPACE_ID", "").strip()
    if configured:
        return configured
    found: set[str] = set()
    for table in _OWNED:
        found |= {row[0] for row in bind.execute(sa.text(f"SELECT DISTINCT workspace_id FROM {table}")) if row[0]}
    if len(found) > 1:
        raise RuntimeError(
            f"migration 0016 back-fills admins, time off, sources and outbox rows with this deployment's workspace, but the "
            f"database holds several ({', '.join(sorted(found))}); set SOCIALOPS_WORKSPACE_ID to the one they belong to and run it again."
        )
    return next(iter(found), "")


def _recreate_sqlite(old: str, columns: list[sa.Column], constraints: list[sa.Constraint], copy: str) -> None:
    """SQLite cannot change a key in place: build the new table, copy, swap."""
    op.create_table(f"{old}_0016", *columns, *constraints)
    op.execute(f"INSERT INTO {old}_0016 {copy}")
    op.drop_table(old)
    op.rename_table(f"{old}_0016", old)


def _admin_columns() -> list[sa.Column]:
    return [sa.Column("added_at", UtcDateTime(), nullable=False), sa.Column("added_by", sa.String(64), nullable=False)]


def _source_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("vendor", sa.String(16), nullable=False),
        sa.Column("workspace_id", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("default_topic_id", sa.Integer(), sa.ForeignKey("topics.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    ]


def upgrade() -> None:
    bind = op.get_bind()
    workspace = _configured_workspace(bind)
    sqlite = bind.dialect.name == "sqlite"
    for table in ("outbox", "time_off"):
        op.add_column(table, sa.Column("workspace_id", sa.String(32), nullable=False, server_default=""))
        bind.execute(sa.text(f"UPDATE {table} SET workspace_id = :ws"), {"ws": workspace})

    if sqlite:
        _recreate_sqlite("admins", [sa.Column("workspace_id", sa.String(32), primary_key=True),
                                    sa.Column("user_id", sa.String(32), primary_key=True), *_admin_columns()], [],
                         f"(workspace_id, user_id, added_at, added_by) SELECT '{_quoted(workspace)}', user_id, added_at, added_by FROM admins")
        _recreate_sqlite("listening_sources", _source_columns(),
                         [sa.UniqueConstraint("workspace_id", "name", name="uq_listening_sources_workspace_name")],
                         "SELECT id, name, vendor, workspace_id, token_hash, default_topic_id, created_at FROM listening_sources")
    else:
        op.add_column("admins", sa.Column("workspace_id", sa.String(32), nullable=False, server_default=workspace))
        op.alter_column("admins", "workspace_id", server_default=None)
        op.drop_constraint("admins_pkey", "admins", type_="primary")
        op.create_primary_key("admins_pkey", "admins", ["workspace_id", "user_id"])
        op.drop_constraint("listening_sources_name_key", "listening_sources", type_="unique")
        op.create_unique_constraint("uq_listening_sources_workspace_name", "listening_sources", ["workspace_id", "name"])
        op.alter_column("mentions", "source", type_=sa.String(100), existing_nullable=False)
    # A source with no workspace keeps its bare name as the key (Source.mention_key), so only scoped ones move.
    bind.execute(sa.text(
        "UPDATE mentions SET source = source || '@' || (SELECT workspace_id FROM listening_sources s WHERE s.name = mentions.source) "
        "WHERE source IN (SELECT name FROM listening_sources WHERE workspace_id <> '')"
    ))

    op.create_table(
        "workspace_states",
        sa.Column("workspace_id", sa.String(32), primary_key=True),
        sa.Column("sending", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
    )
    metadata = sa.MetaData()
    SQLAlchemyInstallationStore.build_installations_table(metadata, "slack_installations")
    SQLAlchemyInstallationStore.build_bots_table(metadata, "slack_bots")
    SQLAlchemyOAuthStateStore.build_oauth_states_table(metadata, "slack_oauth_states")
    metadata.create_all(bind)


def downgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    for table in ("slack_oauth_states", "slack_bots", "slack_installations", "workspace_states"):
        op.drop_table(table)
    bind.execute(sa.text(
        "UPDATE mentions SET source = substr(source, 1, length(source) - length(s.workspace_id) - 1) FROM listening_sources s "
        "WHERE s.workspace_id <> '' AND mentions.source = s.name || '@' || s.workspace_id"
    ))
    # The older schema holds one admin row per user and one source per name: keep the first of each.
    if sqlite:
        _recreate_sqlite("admins", [sa.Column("user_id", sa.String(32), primary_key=True), *_admin_columns()], [],
                         "(user_id, added_at, added_by) SELECT user_id, MIN(added_at), MIN(added_by) FROM admins GROUP BY user_id")
        columns = _source_columns()
        columns[1] = sa.Column("name", sa.String(64), nullable=False, unique=True)
        _recreate_sqlite("listening_sources", columns, [],
                         "SELECT id, name, vendor, workspace_id, token_hash, default_topic_id, created_at FROM listening_sources "
                         "WHERE id IN (SELECT MIN(id) FROM listening_sources GROUP BY name)")
    else:
        op.execute("DELETE FROM admins a USING admins b WHERE a.user_id = b.user_id AND a.workspace_id > b.workspace_id")
        op.drop_constraint("admins_pkey", "admins", type_="primary")
        op.drop_column("admins", "workspace_id")
        op.create_primary_key("admins_pkey", "admins", ["user_id"])
        op.execute("DELETE FROM listening_sources a USING listening_sources b WHERE a.name = b.name AND a.id > b.id")
        op.drop_constraint("uq_listening_sources_workspace_name", "listening_sources", type_="unique")
        op.create_unique_constraint("listening_sources_name_key", "listening_sources", ["name"])
        op.alter_column("mentions", "source", type_=sa.String(64), existing_nullable=False)
    for table in ("time_off", "outbox"):
        op.drop_column(table, "workspace_id")


def _quoted(text: str) -> str:
    return text.replace("'", "''")
