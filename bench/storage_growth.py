"""Storage growth on PostgreSQL: 2 M mentions and their counters, and what the hot reads and the nightly purge cost.

`python bench/storage_growth.py [--mentions N] [--topics N] [--postgres URL] [--repeat N]` (issue 18 item 7).

The database is a steady state after two months: mentions received over `--days` days, those past the 30-day
retention already tombstones (last night's purge ran), their per-minute counters, and finished outbox rows, ledger keys
and audit entries younger than their retention. Timed through the real repositories, each `--repeat` times (median):

- detector read: `Mentions.buckets_of_topics`, every topic's last 15 minutes (what a detection pass reads);
- card's top mentions: `Detection.top_negative_mentions` of one topic, last 15 minutes;
- `/crisis sources` hour totals: `Mentions.totals_since`, the last hour of an agency workspace with most of the
  topics, and of a small one;
- nightly purge: `Mentions.purge_mentions` + `RetentionStore.purge_expired`, with nothing due (the common night).

Before and after side by side in one run: "before" drops the indexes of migration 0014, "after" recreates them (the
queries are today's in both). Without mention_counts(minute) the planner hash-joins a seq scan of the whole counters
table for a workspace with many topics; with it the hour totals are one range scan over the last hour's minutes.
Buffers are shared-buffer hits + reads of each statement, from EXPLAIN (ANALYZE, BUFFERS) of the very SQL the
repository sent (inside a rolled-back transaction).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from a checkout, without installing

from sqlalchemy import Engine, create_engine, event, func, select, text  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

from bot.mentions import TOMBSTONE_HORIZON  # noqa: E402
from bot.retention import RetentionPolicy  # noqa: E402
from storage import migrate  # noqa: E402
from storage.crises import Detection  # noqa: E402
from storage.mentions import Mentions  # noqa: E402
from storage.retention import RetentionStore  # noqa: E402
from storage.session import Database  # noqa: E402
from storage.tables import JobRun, MentionCount, MentionRow, OutboxMessage  # noqa: E402

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MENTION_RETENTION = timedelta(days=30)
WORKSPACES = 4
AGENCY_SHARE = 0.75  # of the topics belong to workspace T0 (an agency watching many brands); the rest to T1..T3
# Migration 0014's indexes, by table (their definitions are read from storage/tables.py, so "after" is today's schema).
INDEXES_0014 = {"mentions": "ix_mentions_live_received", "mention_counts": "ix_mention_counts_minute",
                "outbox": "ix_outbox_finished", "job_runs": "ix_job_runs_ran_at"}
TABLES = {"mentions": MentionRow, "mention_counts": MentionCount, "outbox": OutboxMessage, "job_runs": JobRun}


def _workspace_of(index: int, topics: int) -> str:
    return "T0" if index < topics * AGENCY_SHARE else f"T{1 + index % (WORKSPACES - 1)}"


def seed(engine: Engine, *, mentions: int, topics: int, days: int, now: datetime) -> None:
    """Bulk-load the steady state in SQL (a few seconds per million rows)."""
    with engine.begin() as connection:
        for i in range(topics):
            connection.execute(text("INSERT INTO topics (id, workspace_id, name, keywords, hashtags, created_at) "
                                    "VALUES (:id, :ws, :name, :kw, '[]', :now)"),
                               {"id": i + 1, "ws": _workspace_of(i, topics), "name": f"brand-{i}", "kw": json.dumps([f"brand{i}"]), "now": now})
        connection.execute(text("SELECT setval(pg_get_serial_sequence('topics', 'id'), :n)"), {"n": topics})
        # Received uniformly over `days`; those past the retention are tombstones already (key and times only).
        connection.execute(text("""
            INSERT INTO mentions (source, source_id, topic_id, text, author, reach, url, language, created_at, received_at,
                                  sentiment_label, sentiment_score, sentiment_confidence, analyser, purged_at)
            SELECT 'bench', 'm' || g, 1 + (g % :topics), t.text, t.author, t.reach, t.url, t.language, t.created,
                   t.created + interval '5 seconds', t.label, t.score, t.confidence, t.analyser, t.purged
            FROM generate_series(1, :mentions) AS g,
            LATERAL (SELECT :now - (g::float8 / :mentions) * (:days * interval '1 day') AS created) c,
            LATERAL (SELECT c.created,
                            CASE WHEN c.created >= :cutoff THEN 'brand' || (g % :topics) || ' outage again, support is not answering #' || g END AS text,
                            CASE WHEN c.created >= :cutoff THEN 'author' || (g % 5000) END AS author,
                            CASE WHEN c.created >= :cutoff THEN (g::bigint * 7919) % 200000 END AS reach,
                            CASE WHEN c.created >= :cutoff THEN 'https://social.example/p/' || g END AS url,
                            CASE WHEN c.created >= :cutoff THEN 'en' END AS language,
                            CASE WHEN c.created >= :cutoff THEN (CASE WHEN g % 4 = 0 THEN 'negative' ELSE 'neutral' END) END AS label,
                            CASE WHEN c.created >= :cutoff THEN (CASE WHEN g % 4 = 0 THEN -0.6 ELSE 0.0 END) END AS score,
                            CASE WHEN c.created >= :cutoff THEN 0.8 END AS confidence,
                            CASE WHEN c.created >= :cutoff THEN 'vader' END AS analyser,
                            CASE WHEN c.created < :cutoff THEN c.created + interval '30 days' END AS purged) t
        """), {"topics": topics, "mentions": mentions, "now": now, "days": days, "cutoff": now - MENTION_RETENTION})
        # Counters are kept past the mentions' retention: they are derived from every mention, tombstones included.
        connection.execute(text("""
            INSERT INTO mention_counts (topic_id, minute, total, negative, reach_negative)
            SELECT topic_id, date_trunc('minute', created_at), count(*), count(*) FILTER (WHERE (id % 4) = 0),
                   count(*) FILTER (WHERE (id % 4) = 0)
            FROM mentions GROUP BY 1, 2
        """))
        side = max(1000, mentions // 20)  # finished outbox rows, ledger keys, audit entries: all younger than their cut-off
        connection.execute(text("""
            INSERT INTO outbox (dedupe_key, method, payload, created_at, due_at, status, attempts, sent_at)
            SELECT 'bench:' || g, 'chat.postMessage', '{"channel": "C1", "text": "x"}', t, t, 'sent', 1, t
            FROM generate_series(1, :n) AS g, LATERAL (SELECT :now - (g::float8 / :n) * interval '85 days' AS t) x
        """), {"n": side, "now": now})
        connection.execute(text("""
            INSERT INTO job_runs (run_key, ran_at) SELECT 'bench:' || g, :now - (g::float8 / :n) * interval '85 days'
            FROM generate_series(1, :n) AS g
        """), {"n": side, "now": now})
        connection.execute(text("""
            INSERT INTO audit_log (at, actor, action, via, target, team_id)
            SELECT :now - (g::float8 / :n) * interval '700 days', 'system', 'crisis_paged', 'scheduler', 'crisis:' || g, 'T0'
            FROM generate_series(1, :n) AS g
        """), {"n": side, "now": now})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))


@contextmanager
def statements_sent(engine: Engine) -> Iterator[list[tuple[str, object]]]:
    """Record every statement (and its parameters) the repositories send while inside the block."""
    sent: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many) -> None:  # noqa: ANN001 - SQLAlchemy's event signature
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def buffers_of(engine: Engine, sent: list[tuple[str, object]]) -> int:
    """Shared buffers (hit + read) the statements touch, from EXPLAIN ANALYZE in a transaction that is rolled back."""
    total = 0
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            for statement, parameters in sent:
                if not statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "WITH")):
                    continue
                plan = connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters).scalar_one()
                top = plan[0]["Plan"]
                total += top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
        finally:
            transaction.rollback()
    return total


def measure(engine: Engine, work: Callable[[], object], *, repeat: int) -> tuple[float, int, object]:
    """Median milliseconds of `work` over `repeat` runs (after one warm-up), its buffers, and its last result."""
    with statements_sent(engine) as sent:
        result = work()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), buffers_of(engine, sent), result


def run_all(database: Database, *, now: datetime, topics: int, repeat: int) -> dict[str, tuple[float, int, object]]:
    mentions, detection, retention = Mentions(database), Detection(database), RetentionStore(database)
    ids = list(range(1, topics + 1))
    since = now - timedelta(minutes=15)
    before = now - MENTION_RETENTION
    cutoffs = RetentionPolicy().cutoffs(now)
    engine = database.engine
    agency = sum(1 for i in range(topics) if _workspace_of(i, topics) == "T0")
    small = sum(1 for i in range(topics) if _workspace_of(i, topics) == "T1")
    return {
        "detector read (all topics, 15 min)": measure(
            engine, lambda: mentions.buckets_of_topics(ids, since=since, until=now + timedelta(minutes=1)), repeat=repeat),
        "card's top mentions (1 topic, 15 min)": measure(
            engine, lambda: detection.top_negative_mentions(topic_id=1, since=since), repeat=repeat),
        f"/crisis sources, {agency} topics": measure(
            engine, lambda: mentions.totals_since(workspace_id="T0", since=now - timedelta(hours=1)), repeat=repeat),
        f"/crisis sources, {small} topics": measure(
            engine, lambda: mentions.totals_since(workspace_id="T1", since=now - timedelta(hours=1)), repeat=repeat),
        "nightly purge, nothing due": measure(engine, lambda: (
            mentions.purge_mentions(before=before, forget_before=min(before, now - TOMBSTONE_HORIZON), now=now),
            retention.purge_expired(cutoffs)), repeat=repeat),
    }


def drop_0014_indexes(engine: Engine) -> None:
    with engine.begin() as connection:
        for name in INDEXES_0014.values():
            connection.execute(text(f"DROP INDEX {name}"))
        connection.execute(text("ANALYZE"))


def create_0014_indexes(engine: Engine) -> None:
    with engine.begin() as connection:
        for table, name in INDEXES_0014.items():
            (index,) = [i for i in TABLES[table].__table__.indexes if i.name == name]
            index.create(connection)
        connection.execute(text("ANALYZE"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=2_000_000)
    parser.add_argument("--topics", type=int, default=200)
    parser.add_argument("--days", type=int, default=60, help="mentions received over this many days (retention is 30)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", default=POSTGRES, help=f"an admin URL (default {POSTGRES}); a schema is made and dropped")
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards (its name is printed), to look at plans")
    args = parser.parse_args(argv)

    admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        print(f"storage_growth: no PostgreSQL at {args.postgres}: {error.orig}", file=sys.stderr)
        return 2
    schema = f"socialops_growth_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    database = Database.from_url(f"{args.postgres}?options=-csearch_path%3D{schema}")
    try:
        migrate.upgrade(database.engine)
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        started = time.perf_counter()
        seed(database.engine, mentions=args.mentions, topics=args.topics, days=args.days, now=now)
        mentions = Mentions(database)
        with database.engine.connect() as connection:
            counters = connection.execute(select(func.count()).select_from(MentionCount.__table__)).scalar_one()
        print(f"seeded in {time.perf_counter() - started:.0f} s: {args.mentions:,} mentions ({mentions.mention_count():,} live, "
              f"{mentions.tombstone_count():,} tombstones), {counters:,} per-minute counters, {args.topics} topics in "
              f"{WORKSPACES} workspaces; median of {args.repeat} runs")

        drop_0014_indexes(database.engine)
        before = run_all(database, now=now, topics=args.topics, repeat=args.repeat)
        create_0014_indexes(database.engine)
        after = run_all(database, now=now, topics=args.topics, repeat=args.repeat)

        print(f"\n{'':40} {'before ms':>10} {'buffers':>9}   {'after ms':>9} {'buffers':>9}   {'ratio':>6}")
        for name, (ms_before, buf_before, result_before) in before.items():
            ms_after, buf_after, result_after = after[name]
            assert result_before == result_after, f"{name}: before and after disagree"
            print(f"{name:40} {ms_before:10.1f} {buf_before:9,}   {ms_after:9.1f} {buf_after:9,}   {ms_before / ms_after:5.1f}x")
        print("\nbefore: without migration 0014's indexes; after: with them (this checkout). Results are checked equal.")
    finally:
        database.dispose()
        if args.keep:
            print(f"kept schema {schema}")
        else:
            with admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
