"""Two real processes share one PostgreSQL job store: a job the twin already ran and removed never kills a scheduler."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storage import migrate
from storage.session import Database

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def postgres_url():
    from tests.conftest import _postgres_schema_url

    yield from _postgres_schema_url()


def _child(module: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.postgres
def test_both_schedulers_survive_date_jobs_their_twin_removed(postgres_url, fake_slack):
    """60 date jobs due at one instant in two processes: both schedulers are still running afterwards, no job is left."""
    database = Database.from_url(postgres_url)
    migrate.upgrade(database.engine)  # migrating at once is another test's subject
    database.dispose()
    fire_at = time.time() + 6
    children = [_child("tests.processes.scheduler_child", postgres_url, fake_slack.base_url, str(fire_at), "60") for _ in range(2)]
    results = []
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
        assert "JobLookupError" not in err
    assert [r["alive"] for r in results] == [True, True]
    assert [r["left"] for r in results] == [[], []]
