"""Alembic migrations: an empty database upgrades to head, each step reverses, and the schema matches the tables."""

import json

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from storage import migrate, tables  # noqa: F401 - registers the tables


def test_empty_database_upgrades_to_head(database):
    """`upgrade` on an empty database creates every table and records the head revision."""
    migrate.upgrade(database.engine)
    assert migrate.current_revision(database.engine) == migrate.head_revision()
    assert {"audit_log", "admins", "processed_events", "outbox", "job_runs"} <= set(inspect(database.engine).get_table_names())


def test_each_migration_reverses_one_step(database):
    """Downgrading one step from head and upgrading again round-trips."""
    migrate.upgrade(database.engine)
    migrate.downgrade(database.engine)
    assert migrate.current_revision(database.engine) != migrate.head_revision()
    migrate.upgrade(database.engine)
    assert migrate.current_revision(database.engine) == migrate.head_revision()


def test_migrated_schema_matches_the_sqlmodel_tables(database):
    """Autogenerate finds no difference between the migrations and tables.py."""
    migrate.upgrade(database.engine)
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        diff = [d for d in compare_metadata(context, SQLModel.metadata) if "apscheduler" not in str(d)]
    assert diff == []


def test_upgrade_resolves_a_topic_open_twice_into_the_oldest(database):
    """A database from before 0008 may hold two open crises for one topic (a declare race); the upgrade keeps the
    acknowledged one (else the oldest) open, resolves the others into it with a timeline line and an audit entry,
    and deletes nothing."""
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from storage.columns import UtcDateTime

    migrate.upgrade(database.engine, "0007")
    t0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    teams = sa.table("teams", *(sa.column(name) for name in ("id", "workspace_id", "name", "tz", "handoff_weekday", "handoff_at",
                                                             "length_days", "observe_holidays")),
                     sa.column("epoch", UtcDateTime()), sa.column("created_at", UtcDateTime()))
    crises = sa.table("crises", *(sa.column(name) for name in ("id", "team_id", "workspace_id", "topic", "severity", "summary", "origin",
                                                               "status", "false_alarm", "acked_by", "thread_lines")),
                      sa.column("opened_at", UtcDateTime()), sa.column("last_activity_at", UtcDateTime()))
    with database.engine.begin() as connection:
        connection.execute(teams.insert().values(id=1, workspace_id="T1", name="social", tz="Europe/Rome", handoff_weekday=0,
                                                 handoff_at="09:00", length_days=7, observe_holidays=False, epoch=t0, created_at=t0))
        for crisis_id, topic, status, minutes in ((1, "Acme", "acknowledged", 5), (2, "acme", "open", 0), (3, "acme", "open", 9),
                                                  (4, "Other", "open", 1), (5, "acme", "resolved", -60),
                                                  (6, "Other", "acknowledged", 2), (7, "other", "acknowledged", 3),
                                                  (8, "Ürün", "open", 4), (9, "ÜRÜN", "open", 6)):
            connection.execute(crises.insert().values(
                id=crisis_id, team_id=1, workspace_id="T1", topic=topic, severity=2, summary="", origin="declared", status=status,
                false_alarm=False, acked_by="U1" if status == "acknowledged" else None, thread_lines=0,
                opened_at=t0 + timedelta(minutes=minutes), last_activity_at=t0 + timedelta(minutes=minutes)))
    migrate.upgrade(database.engine)
    with database.engine.connect() as connection:
        status = dict(connection.execute(sa.text("SELECT id, status FROM crises")).all())
        notes = dict(connection.execute(sa.text("SELECT id, resolution_note FROM crises WHERE resolved_by = 'system'")).all())
        events = connection.execute(sa.text("SELECT crisis_id, kind FROM crisis_events ORDER BY crisis_id")).all()
        audit = connection.execute(sa.text("SELECT target, action, team_id, before FROM audit_log ORDER BY target")).all()
    # Crisis 1 is being worked (acknowledged), so it stays although 2 opened first; 2 and 3 are resolved into it.
    # Of "other", the older acknowledged 6 stays; 4 (open, oldest) and 7 (acknowledged later) are resolved into it.
    # Topics are keyed by Python's lower(), as the app looks them up: "Ürün" and "ÜRÜN" are one topic (SQLite's lower()
    # would have left "Ü" alone), so 9 is resolved into 8.
    assert status == {1: "acknowledged", 2: "resolved", 3: "resolved", 4: "resolved", 5: "resolved", 6: "acknowledged", 7: "resolved",
                      8: "open", 9: "resolved"}
    assert set(notes) == {2, 3, 4, 7, 9}
    assert all(f"Merged into crisis #{ {2: 1, 3: 1, 4: 6, 7: 6, 9: 8}[crisis_id] }" in note for crisis_id, note in notes.items())
    assert events == [(2, "resolved"), (3, "resolved"), (4, "resolved"), (7, "resolved"), (9, "resolved")]
    assert [(target, action, team) for target, action, team, _ in audit] == [
        ("crisis:2", "crisis_merged", "T1"), ("crisis:3", "crisis_merged", "T1"), ("crisis:4", "crisis_merged", "T1"),
        ("crisis:7", "crisis_merged", "T1"), ("crisis:9", "crisis_merged", "T1")]
    # The audit entry's "before" is the status each had: open, or acknowledged.
    assert [json.loads(before) if isinstance(before, str) else before for *_, before in audit] == [
        {"status": "open"}, {"status": "open"}, {"status": "open"}, {"status": "acknowledged"}, {"status": "open"}]
    with database.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT topic_key FROM crises WHERE id = 9")).scalar_one() == "ürün"


def test_outbox_kind_upgrade_reads_the_old_still_on_it_key_and_the_downgrade_writes_it_back(database):
    """0019: a queued "still on it?" DM keyed "queued-still-on-it:<crisis>|<state>|<ledger key>" gets kind and subject;
    one queued since (declared kind, plain key) gets the old key back on downgrade, so older code still tracks it."""
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from storage.columns import UtcDateTime

    migrate.upgrade(database.engine, "0014")
    t0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    columns = [sa.column(name) for name in ("id", "dedupe_key", "method", "status", "attempts")]
    old = sa.table("outbox", *columns, sa.column("payload", sa.JSON), sa.column("created_at", UtcDateTime()), sa.column("due_at", UtcDateTime()))
    row = dict(method="dm", payload={"user": "U1", "text": "Still on it?"}, status="pending", attempts=1, created_at=t0, due_at=t0)
    with database.engine.begin() as connection:
        connection.execute(old.insert().values(id=1, dedupe_key="queued-still-on-it:7|acknowledged:U1:0:2|still-on-it:7:20261204T090000", **row))
        connection.execute(old.insert().values(id=2, dedupe_key="crisis-line:7:e3", **row))
    migrate.upgrade(database.engine, "0019")
    new = sa.table("outbox", sa.column("id"), sa.column("dedupe_key"), sa.column("kind"), sa.column("subject", sa.JSON))
    with database.engine.begin() as connection:
        kinds = {r.id: (r.kind, r.subject) for r in connection.execute(sa.select(new.c.id, new.c.kind, new.c.subject))}
        connection.execute(old.insert().values(id=3, dedupe_key="still-on-it-dm:still-on-it:8:20261204T091500", **row))
        connection.execute(new.update().where(new.c.id == 3).values(kind="still_on_it", subject={"crisis_id": 8, "state": "acknowledged:U2:1:1"}))
    assert kinds == {1: ("still_on_it", {"crisis_id": 7, "state": "acknowledged:U1:0:2"}), 2: (None, None)}
    migrate.downgrade(database.engine, "0014")
    with database.engine.connect() as connection:
        keys = dict(connection.execute(sa.text("SELECT id, dedupe_key FROM outbox")).all())
    assert keys == {1: "queued-still-on-it:7|acknowledged:U1:0:2|still-on-it:7:20261204T090000", 2: "crisis-line:7:e3",
                    3: "queued-still-on-it:8|acknowledged:U2:1:1|still-on-it:8:20261204T091500"}
