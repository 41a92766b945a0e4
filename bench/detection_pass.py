"""Time one `crisis:detect` pass over 10,000 watched topics, each with a day of learned history, on SQLite and PostgreSQL.

`python bench/detection_pass.py [--topics N …] [--postgres URL]` (default: 1,000 and 10,000 topics). Each topic's
detector has already learned a day of minutes (a persisted state, as after a day of passes), one new minute of counts
is waiting, and one topic in 20 carries a learned threshold change (false-alarm labels), which is what a steady-state
minute job reads. The pass is the real `jobs.detect_spikes()` through the real stores. Target: <= 10 s for 10,000.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from a checkout, without installing

from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

from bot import jobs  # noqa: E402
from bot.app import create_runtime  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.spikes import Bucket, SpikeDetector, Tuning  # noqa: E402
from bot.standin.web_api import SlackStandIn  # noqa: E402
from bot.standin.workspace import demo_workspace  # noqa: E402
from storage.rotations import Rotations  # noqa: E402
from storage.session import Database, sqlite_url  # noqa: E402
from storage.tables import MentionCount, TopicRow, TopicSensitivityRow, TopicWatch  # noqa: E402

TARGET_S = 10.0
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MINUTE = timedelta(minutes=1)


def learned_state(now: datetime) -> dict:
    """Return a detector state after a day of calm per-minute counts ending at `now` (one state, reused per topic)."""
    rng = random.Random(5)
    detector = SpikeDetector(tuning=Tuning(), step=MINUTE)
    start = now - timedelta(days=1)
    for i in range(24 * 60):
        value = float(rng.choice((0, 1, 1, 2, 3)))
        detector.observe(Bucket(at=start + i * MINUTE, total=value * 3, negative=value, reach=value))
    return detector.to_dict()


def seed(database: Database, *, topics: int, now: datetime) -> None:
    """Store `topics` watched topics with a learned detector and one new minute of counts each, in bulk."""
    team_id = Rotations(database).create_team(workspace_id="T0DEMO", name="social", tz="Europe/Rome", epoch=now - timedelta(days=7),
                                              now=now, roster=["U0DEMO0002", "U0DEMO0003"], crisis_channel="C0DEMOCRISIS")
    state = learned_state(now - MINUTE)
    rng = random.Random(9)
    with database.session_scope() as session:
        connection = session.connection()
        connection.execute(insert(TopicRow), [
            {"id": i + 1, "workspace_id": "T0DEMO", "name": f"topic-{i}", "keywords": [f"topic{i}"], "hashtags": [], "created_at": now}
            for i in range(topics)])
        connection.execute(insert(TopicWatch), [
            {"topic_id": i + 1, "team_id": team_id, "detector": state, "read_until": now - MINUTE, "updated_at": now}
            for i in range(topics)])
        connection.execute(insert(TopicSensitivityRow), [
            {"topic_id": i + 1, "team_id": team_id, "log_factor": 0.15, "adjusted_at": now - timedelta(days=3), "false_alarms": 1,
             "missed": 0, "last_crisis_id": 1, "updated_by": "U0DEMO0001"}
            for i in range(0, topics, 20)])
        connection.execute(insert(MentionCount), [
            {"topic_id": i + 1, "minute": now - MINUTE, "total": 6, "negative": rng.choice((0, 1, 2)), "reach_negative": 1.0}
            for i in range(topics)])


def one_pass(url: str, *, topics: int) -> tuple[float, float]:
    """Seed a fresh database and return (wall seconds, this process's CPU seconds) of one detection pass over it.

    The CPU figure leaves out the database server's own work but not other load on a shared machine's clock."""
    now = datetime.now(UTC).replace(second=30, microsecond=0)
    with SlackStandIn(demo_workspace()) as standin:
        settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": "bench-secret",
                                  "SLACK_API_URL": standin.base_url, "SOCIALOPS_ADMINS": "U0DEMO0001"})
        runtime = create_runtime(settings, database=Database.from_url(url), clock=lambda: now)
        try:
            runtime.bind_jobs()
            seed(runtime.database, topics=topics, now=now.replace(second=0))
            started, cpu = time.perf_counter(), time.process_time()
            jobs.detect_spikes()
            return time.perf_counter() - started, time.process_time() - cpu
        finally:
            jobs.bind(None)


def main(argv: list[str] | None = None) -> int:
    """Print seconds per pass on each database and topic count beside the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--postgres", default=POSTGRES, help="PostgreSQL URL (a throw-away schema is made in it)")
    args = parser.parse_args(argv)
    results: dict[tuple[str, int], tuple[float, float]] = {}
    for topics in args.topics:
        with TemporaryDirectory() as scratch:
            results["SQLite", topics] = one_pass(sqlite_url(Path(scratch) / "pass.db"), topics=topics)
        schema = f"bench_pass_{uuid.uuid4().hex[:10]}"
        admin = create_engine(args.postgres)
        try:
            with admin.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                results["PostgreSQL", topics] = one_pass(f"{args.postgres}?options=-csearch_path%3D{schema}", topics=topics)
            finally:
                with admin.begin() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        except OperationalError as error:  # no server: report it and keep the SQLite figure
            print(f"PostgreSQL skipped: {type(error).__name__}: {str(error).splitlines()[0]}")
        finally:
            admin.dispose()
    print(f"one detection pass over N watched topics (a day learned each, one new minute), target <= {TARGET_S:.0f} s at 10,000:")
    print(f"  (wall clock, and the bot process's CPU time; load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    for (name, topics), (seconds, cpu) in results.items():
        print(f"  {name:10s} {topics:>6d} topics {seconds:6.2f} s wall {cpu:6.2f} s CPU  ({seconds / topics * 1000:.2f} ms per topic)"
              f"  {'ok' if seconds <= TARGET_S else 'OVER TARGET'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
