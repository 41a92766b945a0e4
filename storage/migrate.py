"""Apply or revert Alembic migrations on an engine; used at start-up and by `socialops db`.

Several instances start at once on one empty database: each migration run holds a lock (a PostgreSQL transaction
advisory lock, a lock file beside SQLite), so one migrates and the others wait, then find nothing left to do.
"""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from storage.leadership import database_lock_key

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _config(connection) -> Config:  # noqa: ANN001 - a SQLAlchemy Connection
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


MIGRATION_LOCK = "socialops:migrate"


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """A transaction that only one process at a time holds for migrating this database."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        with open(f"{url.database}.migrate.lock", "a+") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)  # blocks until the other process has committed
            with engine.begin() as connection:
                yield connection
        return
    with engine.begin() as connection:
        if url.get_backend_name() == "postgresql":
            # Released at commit: by then the schema is migrated and alembic_version says so.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": database_lock_key(connection, MIGRATION_LOCK)})
        yield connection


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Bring the schema up to `revision` (default: the newest)."""
    with _migrating(engine) as connection:
        command.upgrade(_config(connection), revision)


def downgrade(engine: Engine, revision: str = "-1") -> None:
    """Revert the schema to `revision` (default: one step back)."""
    with _migrating(engine) as connection:
        command.downgrade(_config(connection), revision)


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is at, or None when it was never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """Return the newest revision the code knows."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None, "the migrations folder has no revisions"
    return head
