"""Benchmark mention ingestion: mentions/s through the webhook (batches of 500 over HTTP on localhost) and through
`socialops import`, sentiment included, on SQLite and PostgreSQL, beside VADER alone on the same texts (the ceiling).

    python bench/ingest.py [--count 12000] [--million] [--no-cache] [--only postgresql-webhook] [--repeat 3]
                           [--stream english|mixed]
    (--stream: English tweets (SemEval-2017 test), a mixed stream (every other mention one of the UMSAB test tweets
     in de fr es it pt ar hi), or both (the default); --million: RSS after 1,000,000 mentions via import on SQLite; --no-cache: no reading cache at all;
     --only: just the named measurements, e.g. sqlite-import; --repeat: each measurement that many times, listed
     side by side; --with-topic-fk: put back the mentions -> topics foreign key migration 0012 drops, to compare)

VADER alone is timed next to each measurement (neighbours on a shared machine change the clock speed from one
second to the next): for the webhook on each batch's texts right before that batch is posted, for an import right
before and right after it; the ratio is against those VADER runs. Each measurement runs three times (--repeat)
and the verdict, printed last, uses the median ratio: on a 2-core machine one run swings by ±10 points with what
else is running.
Exit status 2 when a median is under the target: 40 % of VADER alone on the English stream, 1,000 mentions/s on the
mixed one (its ratio to VADER alone is printed too).
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402  (repo root is put on the path above)
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

from bot import mention_import, mentions  # noqa: E402
from bot.app import create_runtime  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.sentiment import MentionAnalyser  # noqa: E402
from bot.server import BackgroundServer, build_asgi_app  # noqa: E402
from storage import migrate  # noqa: E402
from storage.mentions import Mentions  # noqa: E402
from storage.session import Database, sqlite_url  # noqa: E402

SEMEVAL = REPO.parent / "shared" / "data" / "sentiment" / "tweeteval_semeval2017_sentiment" / "test_text.txt"
UMSAB_TEST = REPO.parent / "shared" / "data" / "sentiment" / "xlmt_umsab_test"
OTHER_LANGUAGES = ("german", "french", "spanish", "italian", "portuguese", "arabic", "hindi")
POSTGRES_ADMIN_URL = os.environ.get("SOCIALOPS_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BATCH = 500
NOW = datetime.now(UTC)


def load_texts() -> list[str]:
    """Return real tweets (SemEval-2017 test) when ../shared is there, else a synthetic mix."""
    if SEMEVAL.is_file():
        return [line for line in SEMEVAL.read_text(encoding="utf-8").splitlines() if line.strip()]
    print(f"(no {SEMEVAL}; using synthetic texts)", file=sys.stderr)
    words = ["acme", "support", "is", "great", "terrible", "again", "love", "hate", "refund", "today", "why", "thanks"]
    return [" ".join(words[(i * 7 + j * 3) % len(words)] for j in range(12)) for i in range(5000)]


def load_mixed_texts(english: list[str]) -> list[str]:
    """Every other text non-English (the UMSAB test tweets of seven languages, interleaved), when ../shared is there."""
    others = [line for language in OTHER_LANGUAGES if (UMSAB_TEST / language).is_dir()
              for line in (UMSAB_TEST / language / "test_text.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    if not others:
        print(f"(no {UMSAB_TEST}; using synthetic non-English texts)", file=sys.stderr)
        words = ["acme", "servicio", "horrible", "danke", "furchtbar", "merci", "génial", "schifezza", "ótimo", "péssimo"]
        others = [" ".join(words[(i * 5 + j * 3) % len(words)] for j in range(10)) for i in range(5000)]
    others = others[::7] + [text for i, text in enumerate(others) if i % 7]  # languages interleaved, not in runs
    mixed = []
    for english_text, other_text in zip(english, others):
        mixed += [english_text, other_text]
    return mixed


def items(texts: list[str], count: int, prefix: str, start: int = 0) -> list[dict]:
    """Return generic webhook items `start` .. `start + count` (text i is texts[i], so the first 12,284 are all distinct)."""
    return [{"id": f"{prefix}-{i}", "text": texts[i % len(texts)], "author": f"user{i % 997}", "author_reach": i % 50000,
             "created_at": (NOW - timedelta(seconds=i % 3600)).isoformat()} for i in range(start, start + count)]


def rss_mb() -> float:
    """Return the current resident set size in MB (from /proc), or the peak when /proc is absent."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def sqlite_database() -> Iterator[Database]:
    with tempfile.TemporaryDirectory() as folder:
        database = Database.from_url(sqlite_url(Path(folder) / "bench.db"))
        try:
            yield database
        finally:
            database.dispose()


@contextmanager
def postgres_database() -> Iterator[Database | None]:
    """A throw-away schema, as tests/conftest.py does; None when no server answers."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError:
        admin.dispose()
        yield None
        return
    schema = f"socialops_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    database = Database.from_url(f"{POSTGRES_ADMIN_URL}?options=-csearch_path%3D{schema}")
    try:
        yield database
    finally:
        database.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


_TOPIC_FK = False  # --with-topic-fk: the schema as before migration 0012, for a before/after comparison


def prepare_store(database: Database) -> tuple[Mentions, str]:
    """Create the topic and a generic source whose default topic catches every text; return the store and token."""
    migrate.upgrade(database.engine)
    if _TOPIC_FK:
        with database.engine.begin() as connection:
            connection.execute(text("ALTER TABLE mentions ADD CONSTRAINT mentions_topic_id_fkey"
                                    " FOREIGN KEY (topic_id) REFERENCES topics (id) ON DELETE CASCADE"))
    store = Mentions(database)
    topic = store.save_topic(workspace_id="TBENCH", name="bench", keywords=["acme"], hashtags=[], now=NOW)
    token = mentions.new_token()
    store.add_source(name="bench", vendor="generic", workspace_id="TBENCH", token_hash=mentions.hash_token(token), now=NOW,
                     default_topic_id=topic.id)
    return store, token


def warm_up_analyser() -> None:
    """Load every model before timing: VADER and CLD2 (English), py3langid (short texts CLD2 abstains on), the emoji table."""
    analyser = mentions.default_analyser()
    for text in ("warm up the models", "ok", "Guten Morgen zusammen, alles gut 😀"):
        analyser.analyse(text, None)


@dataclass(frozen=True)
class Timing:
    count: int
    wall: float  # seconds on the clock: what the target is about
    cpu: float  # seconds of this process's CPU: steadier when neighbours share the cores (PostgreSQL's own work is not in it)

    @property
    def rate(self) -> float:
        return self.count / self.wall

    @property
    def cpu_rate(self) -> float:
        return self.count / self.cpu


@contextmanager
def timed(count: int, into: list[Timing]) -> Iterator[None]:
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    into.append(Timing(count, time.perf_counter() - wall, time.process_time() - cpu))


def bench_vader(texts: list[str], count: int) -> Timing:
    """VADER's polarity_scores alone (vaderSentiment itself) on the same texts: the ceiling."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyser = SentimentIntensityAnalyzer()
    timings: list[Timing] = []
    with timed(count, timings):
        for i in range(count):
            analyser.polarity_scores(texts[i % len(texts)])
    return timings[0]


def bench_webhook(database: Database, texts: list[str], count: int) -> tuple[Timing, Timing]:
    """Mentions/s posted in batches of 500 over HTTP to the real ASGI app (uvicorn in this process), and VADER alone.

    VADER alone scores each batch's texts right before that batch is posted, so both see the same clock speed
    (on a shared machine it drifts from one second to the next); returns (webhook, VADER alone), each summed.
    """
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    store, token = prepare_store(database)
    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": "bench", "SLACK_API_URL": "http://127.0.0.1:9/"})
    runtime = create_runtime(settings, database=database)  # the scheduler is not started: no Slack calls
    batches = list(_batches(items(texts, count, "w")))
    bodies = [json.dumps(batch).encode() for batch in batches]
    webhook: list[Timing] = []
    alone: list[Timing] = []
    with BackgroundServer(build_asgi_app(runtime)) as server, httpx.Client(timeout=120) as client:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        accepted = 0
        for batch, body in zip(batches, bodies):
            with timed(len(batch), alone):
                for item in batch:
                    vader.polarity_scores(item["text"])
            with timed(len(batch), webhook):
                response = client.post(f"{server.url}/api/mentions", content=body, headers=headers)
                response.raise_for_status()
                accepted += response.json()["accepted"]
    assert accepted == count, f"only {accepted} of {count} accepted"
    assert sum(c.total for c in store.totals_since(workspace_id="TBENCH", since=NOW - timedelta(days=1)).values()) == count
    return summed(webhook), summed(alone)


def summed(timings: list[Timing]) -> Timing:
    return Timing(sum(t.count for t in timings), sum(t.wall for t in timings), sum(t.cpu for t in timings))


def _batches(rows: list[dict]) -> Iterator[list[dict]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start:start + BATCH]


def write_jsonl(path: Path, texts: list[str], count: int, prefix: str) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for start in range(0, count, 10_000):
            for row in items(texts, min(10_000, count - start), prefix, start):
                handle.write(json.dumps(row) + "\n")


def bench_import(database: Database, texts: list[str], count: int, *, url: str) -> tuple[Timing, float]:
    """Mentions/s through `socialops import mentions FILE` (JSON Lines); returns the timing and the RSS (MB) after."""
    prepare_store(database)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mentions.jsonl"
        write_jsonl(path, texts, count, "i")
        gc.collect()
        out, err = io.StringIO(), io.StringIO()
        timings: list[Timing] = []
        with timed(count, timings):
            code = mention_import.main(["mentions", str(path), "--source", "bench", "--db", url], stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    assert out.getvalue().startswith(f"imported {count:,},"), out.getvalue()
    return timings[0], rss_mb()


def database_url_of(database: Database) -> str:
    return database.engine.url.render_as_string(hide_password=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=12_000, help="mentions per measurement (default 12,000: every text distinct; each measurement starts with an empty reading cache)")
    parser.add_argument("--million", action="store_true", help="also import 1,000,000 mentions on SQLite and report RSS")
    parser.add_argument("--no-cache", action="store_true", help="score every text, even one already scored (no reading cache)")
    parser.add_argument("--only", action="append", choices=[f"{d}-{s}" for d in ("sqlite", "postgresql") for s in ("webhook", "import")],
                        help="run only this measurement (repeatable); default: all four")
    parser.add_argument("--repeat", type=int, default=3, help="run each measurement this many times (default 3; the verdict uses the median)")
    parser.add_argument("--stream", choices=("english", "mixed"), action="append",
                        help="texts to ingest (repeatable); default: both the English and the mixed stream")
    parser.add_argument("--with-topic-fk", action="store_true",
                        help="also time PostgreSQL with the mentions.topic_id foreign key put back (before/after migration 0012)")
    args = parser.parse_args()
    global _TOPIC_FK
    english = load_texts()
    streams = {"english": english, "mixed": load_mixed_texts(english)}
    streams = {name: texts for name, texts in streams.items() if name in (args.stream or streams)}
    warm_up_analyser()
    print(f"{args.count:,} mentions per run, {', '.join(f'{len(t):,} distinct texts ({n})' for n, t in streams.items())},"
          f" batches of {BATCH}, one process; RSS at start {rss_mb():.0f} MB")
    # Neighbours on a shared machine make the clock speed drift, so VADER alone is timed next to each measurement:
    # batch by batch for the webhook, right before and right after an import (one command); the ratio uses the
    # sum of those VADER runs. CPU-time ratios (this process only) are shown beside.
    rows: list[tuple[str, Timing, Timing, int]] = []
    analyser = mentions.default_analyser()
    assert isinstance(analyser, MentionAnalyser)
    variants = [("SQLite", sqlite_database, False), ("PostgreSQL", postgres_database, False)]
    if args.with_topic_fk:
        variants.append(("PostgreSQL+topic FK", postgres_database, True))
    runs = [(name, factory, fk, surface, stream) for _ in range(args.repeat) for stream in streams
            for name, factory, fk in variants for surface in ("webhook", "import")
            if not args.only or f"{name.split('+')[0].lower()}-{surface}" in args.only]
    for name, factory, topic_fk, surface, stream in runs:
        texts = streams[stream]
        with factory() as database:
            if database is None:
                print(f"{name}: skipped (no server at {POSTGRES_ADMIN_URL})")
                continue
            _TOPIC_FK = topic_fk
            analyser.clear_cache()  # every measurement starts cold: the texts were all seen by the one before
            if args.no_cache:
                analyser.cache_size = 0
            if surface == "webhook":
                timing, ceiling = bench_webhook(database, texts, args.count)
            else:
                before = bench_vader(texts, args.count)
                timing, _ = bench_import(database, texts, args.count, url=database_url_of(database))
                after = bench_vader(texts, args.count)
                ceiling = summed([before, after])
        rows.append((f"{surface}, {name}, {stream}", timing, ceiling, analyser.cache_hits))
    print(f"{'':33} {'rate':>9}      {'VADER alone':>11}   {'ratio':>6}   {'CPU-time ratio':>14}   {'cache hits':>10}")
    for label, timing, ceiling, hits in rows:
        print(f"{label:<33} {timing.rate:>9,.0f} /s   {ceiling.rate:>9,.0f} /s   {timing.rate / ceiling.rate:6.0%}"
              f"   {timing.cpu_rate / ceiling.cpu_rate:14.0%}   {hits / timing.count:10.0%}")
    print("cache hits: mentions whose text (without handles and links) was already scored in that measurement, e.g. retweets")
    missed = print_verdict(rows)
    if args.million:
        with sqlite_database() as database:
            timing, rss = bench_import(database, english, 1_000_000, url=database_url_of(database))
        print(f"{'import of 1,000,000, SQLite':<34} {timing.rate:>9,.0f} /s   RSS after: {rss:,.0f} MB (peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB)")
    return 2 if missed else 0


TARGET_SHARE = 0.40  # of the VADER-alone rate on the English stream, for every surface and database (the target)
MIXED_TARGET_RATE = 1_000  # mentions/s on the mixed stream (the target)


def print_verdict(rows: list[tuple[str, Timing, Timing, int]]) -> bool:
    """Print each measurement's median ratio over its repeats and whether all reach the target; return True on a miss."""
    ratios: dict[str, list[float]] = {}
    for label, timing, ceiling, _ in rows:
        ratios.setdefault(label, []).append(timing.rate / ceiling.rate)
    if not ratios:
        return False
    rates: dict[str, list[float]] = {}
    for label, timing, _, _ in rows:
        rates.setdefault(label, []).append(timing.rate)
    medians = {label: statistics.median(values) for label, values in ratios.items()}
    median_rates = {label: statistics.median(values) for label, values in rates.items()}
    runs = max(len(values) for values in ratios.values())
    print(("median of %d runs: " % runs if runs > 1 else "") + ", ".join(
        f"{label} {share:.0%} ({median_rates[label]:,.0f} /s)" for label, share in medians.items()))
    short = [f"{label} {share:.0%}" for label, share in medians.items() if label.endswith("english") and share < TARGET_SHARE]
    short += [f"{label} {rate:,.0f} /s" for label, rate in median_rates.items()
              if label.endswith("mixed") and rate < MIXED_TARGET_RATE]
    if short:
        print(f"target MISSED (English >= {TARGET_SHARE:.0%} of VADER alone, mixed >= {MIXED_TARGET_RATE:,} /s): {', '.join(short)}")
    else:
        print(f"target HOLDS: English at or above {TARGET_SHARE:.0%} of VADER alone, mixed at or above {MIXED_TARGET_RATE:,} /s")
    return bool(short)


if __name__ == "__main__":
    sys.exit(main())
