"""Alembic migrations: an empty database upgrades to head, each step reverses, and the schema matches the tables."""

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
