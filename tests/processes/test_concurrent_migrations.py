"""Instances that start together on one empty database: one migrates, the others wait, none fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from storage import migrate
from storage.session import Database

ROOT = Path(__file__).resolve().parents[2]
MIGRATE = "import sys; from storage import migrate; from storage.session import Database; migrate.upgrade(Database.from_url(sys.argv[1]).engine)"


def test_three_processes_migrating_an_empty_database_at_once_all_succeed(database_url):
    """Three real processes run every migration at the same moment; all exit 0 and the schema is at head once."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    processes = [subprocess.Popen([sys.executable, "-c", MIGRATE, database_url], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [(process.wait(timeout=120), process.communicate()[1]) for process in processes]
    assert [code for code, _ in results] == [0, 0, 0], [error[-800:] for _, error in results]
    database = Database.from_url(database_url)
    try:
        assert migrate.current_revision(database.engine) == migrate.head_revision()
    finally:
        database.dispose()
