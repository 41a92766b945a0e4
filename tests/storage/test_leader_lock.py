"""The scheduler leader lock: one holder per database, freed when the holder goes (even by kill -9)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storage.leadership import FileLock, PostgresAdvisoryLock, leader_lock_for
from storage.session import Database

ROOT = Path(__file__).resolve().parents[2]


def test_one_lock_holder_per_database_and_the_next_takes_it_after_release(database):
    """Two instances on one database: exactly one holds the lock; once released, the other gets it."""
    first, second = leader_lock_for(database), leader_lock_for(database)
    try:
        assert first.try_acquire() is True
        assert first.held() is True
        assert second.try_acquire() is False
        assert second.held() is False
        first.release()
        assert first.held() is False
        assert second.try_acquire() is True
    finally:
        first.release()
        second.release()


def test_sqlite_uses_a_lock_file_beside_the_database(tmp_path):
    """SQLite runs one scheduler per file: the lock is a file next to it."""
    database = Database.from_url(f"sqlite:///{tmp_path / 'app.db'}")
    try:
        lock = leader_lock_for(database)
        assert isinstance(lock, FileLock)
        assert lock.path == tmp_path / "app.db.scheduler.lock"
    finally:
        database.dispose()


@pytest.mark.postgres
def test_deployments_in_other_schemas_do_not_block_each_other(postgres_url):
    """The key is derived from database and schema: a second deployment on the same server elects its own leader."""
    other_schema = postgres_url.replace("socialops_test_", "socialops_other_")
    first_db, second_db = Database.from_url(postgres_url), Database.from_url(other_schema)
    admin = Database.from_url(postgres_url.split("?")[0])
    schema = other_schema.rsplit("%3D", 1)[1]
    try:
        with admin.engine.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        first, second = PostgresAdvisoryLock(first_db), PostgresAdvisoryLock(second_db)
        assert first.try_acquire() and second.try_acquire()
        first.release()
        second.release()
    finally:
        with admin.engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        for db in (first_db, second_db, admin):
            db.dispose()


class Instance:
    """A socialops runtime in its own process (tests/fakes/instance_process.py), read line by line."""

    def __init__(self, database_url: str, slack_url: str) -> None:
        env = os.environ | {"DATABASE_URL": database_url, "SLACK_API_URL": slack_url, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.instance_process"], cwd=ROOT, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        self.lines: list[str] = []

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def wait_for(self, wanted: str, timeout: float) -> float:
        """Read output until `wanted` is a line; return the seconds it took."""
        assert self.process.stdout is not None
        started = time.monotonic()
        while wanted not in self.lines:
            left = timeout - (time.monotonic() - started)
            if left <= 0 or self.process.poll() is not None:
                raise AssertionError(f"no {wanted!r} within {timeout}s; saw {self.lines}")
            ready, _, _ = select.select([self.process.stdout], [], [], left)
            if ready:
                line = self.process.stdout.readline()
                if line:
                    self.lines.append(line.strip())
        return time.monotonic() - started

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def close(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        if self.process.poll() is None:
            self.process.stdin.close()  # end of input: the instance stops cleanly
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout):
            if not stream.closed:
                try:
                    stream.close()
                except BrokenPipeError:
                    continue  # a killed instance's stdin: nothing left to flush


@pytest.mark.postgres
def test_the_standby_takes_over_within_30_seconds_of_a_kill_and_every_message_goes_once(postgres_url, fake_slack):
    """Two processes on one PostgreSQL: one leads; kill -9 it mid-run; the standby leads and nothing is sent twice or lost."""
    first = Instance(postgres_url, fake_slack.base_url)
    second = None
    try:
        first.wait_for("role leader", timeout=60)
        second = Instance(postgres_url, fake_slack.base_url)
        second.wait_for("role standby", timeout=60)
        # Queued through the standby: its paused scheduler writes the jobs to the shared store, the leader runs them.
        for number, seconds in enumerate((0, 1, 9, 12, 15)):
            second.send(f"enqueue failover:{number} {seconds} message {number}")
            second.wait_for(f"queued failover:{number}", timeout=30)
        fake_slack.wait_for("chat.postMessage", 2, timeout=30)
        first.kill()
        takeover = second.wait_for("role leader", timeout=30)
        assert takeover <= 30
        fake_slack.wait_for("chat.postMessage", 5, timeout=60)
        time.sleep(3)  # room for a duplicate to show up
    finally:
        first.close()
        if second is not None:
            second.close()
    texts = sorted(call.args["text"] for call in fake_slack.calls("chat.postMessage"))
    assert texts == [f"message {number}" for number in range(5)]


def test_a_second_process_on_one_sqlite_file_serves_but_does_not_run_a_scheduler(fake_slack, tmp_path, caplog):
    """SQLite: the second runtime on the same file stands by and says why in one line."""
    from bot.app import create_runtime
    from bot.leadership import Role
    from tests.conftest import make_settings

    url = f"sqlite:///{tmp_path / 'app.db'}"
    first = create_runtime(make_settings(fake_slack), database=Database.from_url(url))
    second = create_runtime(make_settings(fake_slack), database=Database.from_url(url))
    first.start()
    try:
        with caplog.at_level("WARNING", logger="bot.leadership"):
            second.start()
        try:
            assert (first.scheduler_role, second.scheduler_role) == (Role.leader, Role.standby)
            assert any("SQLite runs one scheduler per database file" in record.getMessage() for record in caplog.records)
        finally:
            second.stop()
    finally:
        first.stop()
    assert first.scheduler_role is Role.stopped
