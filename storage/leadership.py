"""Who may run the scheduler: one process per database, chosen by a PostgreSQL advisory lock or a lock file beside SQLite.

A PostgreSQL session-level advisory lock is held on a connection of its own; when the holder dies (even kill -9) the
server ends its session and the lock is free for the next instance. The lock key is derived from the database and
schema, so two deployments (or two test runs) sharing one server never block each other.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, OperationalError

from bot.leadership import Lock
from storage.session import Database

log = logging.getLogger(__name__)

LOCK_NAME = "socialops:scheduler"


def lock_key(*parts: str, name: str = LOCK_NAME) -> int:
    """A stable signed 64-bit key for pg_advisory_lock from the lock's name and where it applies."""
    digest = hashlib.blake2b("\x1f".join((name, *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def database_lock_key(connection: Connection, name: str) -> int:
    """The advisory-lock key of `name` for the database and schema this connection is on."""
    where = connection.execute(text("SELECT current_database(), current_schema()")).one()
    return lock_key(str(where[0]), str(where[1]), name=name)


class PostgresAdvisoryLock:
    """pg_try_advisory_lock on a dedicated connection; losing that connection loses the lock."""

    kind = "postgresql advisory lock"

    def __init__(self, database: Database) -> None:
        self._engine = database.engine
        self._connection: Connection | None = None
        self._key: int | None = None

    def try_acquire(self) -> bool:
        try:
            if self._connection is None:
                self._connection = self._engine.connect()
                self._key = database_lock_key(self._connection, LOCK_NAME)
                self._connection.commit()
            got = bool(self._connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}).scalar())
            # Session-level locks outlive transactions: end this one so the connection does not sit "idle in transaction".
            self._connection.commit()
        except (OperationalError, DBAPIError) as error:
            log.warning("scheduler lock: database unavailable (%s); staying on standby", type(error).__name__)
            self._drop_connection()
            return False
        if not got:
            self._drop_connection()  # a standby keeps no connection open between tries
        return got

    def held(self) -> bool:
        if self._connection is None:
            return False
        try:
            granted = self._connection.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid() "
                     "AND ((classid::bigint << 32) | objid::bigint) = :key"),
                {"key": self._key},
            ).scalar()
            self._connection.commit()
        except (OperationalError, DBAPIError) as error:
            log.error("scheduler lock: lost the database connection that holds the lock (%s)", type(error).__name__)
            self._drop_connection()
            return False
        return bool(granted)

    def release(self) -> None:
        if self._connection is None:
            return
        try:
            self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
            self._connection.commit()
        except (OperationalError, DBAPIError) as error:
            log.warning("scheduler lock: could not release cleanly (%s); the server frees it with the session",
                        type(error).__name__)
        self._drop_connection()

    def _drop_connection(self) -> None:
        # Invalidate rather than return it to the pool: a pooled session would keep any lock it still held.
        if self._connection is not None:
            self._connection.invalidate()
            self._connection.close()
            self._connection = None


class FileLock:
    """An exclusive flock on `<database file>.scheduler.lock`: SQLite supports one scheduler per file."""

    kind = "lock file"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class ProcessLock:
    """An in-memory database lives in one process, so that process always leads."""

    kind = "in-process database"

    def __init__(self) -> None:
        self._held = False

    def try_acquire(self) -> bool:
        self._held = True
        return True

    def held(self) -> bool:
        return self._held

    def release(self) -> None:
        self._held = False


def leader_lock_for(database: Database) -> Lock:
    """The lock that elects this database's scheduler leader."""
    url = database.engine.url
    if url.get_backend_name() == "postgresql":
        return PostgresAdvisoryLock(database)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" and "mode=memory" not in str(url):
        return FileLock(Path(f"{url.database}.scheduler.lock"))
    return ProcessLock()
