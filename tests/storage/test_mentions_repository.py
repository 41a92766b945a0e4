"""Mentions repository on SQLite and PostgreSQL: idempotent atomic batches, counters equal to a recount, purge, outages."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from bot.mentions import (
    RETENTION, TOMBSTONE_HORIZON, Mention, MentionPurge, MinuteCount, StoredBatch, StoreUnavailable, minute_of, reach_weight,
)
from bot.sentiment import Sentiment
from storage import migrate
from storage.crises import Detection
from storage.mentions import Mentions
from storage.session import Database
from storage.tables import MentionCount, MentionRow, TopicRow

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
_topic_names = itertools.count()


@pytest.fixture
def repo(database: Database) -> Mentions:
    migrate.upgrade(database.engine)
    return Mentions(database)


def new_topic(repo: Mentions) -> int:
    return repo.save_topic(workspace_id="T1", name=f"topic-{next(_topic_names)}", keywords=["acme"], hashtags=[], now=NOW).id


def mention(topic_id: int, source_id: str, *, minute: int = 0, label: str = "negative", reach: int | None = None,
            source: str = "tool") -> Mention:
    at = NOW + timedelta(minutes=minute, seconds=7)
    return Mention(source, source_id, topic_id, f"acme {source_id}", "jane", reach, None, "en", at, NOW,
                   Sentiment(label, -0.5 if label == "negative" else 0.5, 0.9, "vader+linear"))  # type: ignore[arg-type]


def stored_counts(database: Database, topic_id: int) -> dict[datetime, tuple[int, int, float]]:
    with database.engine.connect() as connection:
        rows = connection.execute(select(MentionCount.minute, MentionCount.total, MentionCount.negative, MentionCount.reach_negative)
                                  .where(MentionCount.topic_id == topic_id))
        return {minute: (total, negative, round(reach, 6)) for minute, total, negative, reach in rows}


def recount(database: Database, topic_id: int) -> dict[datetime, tuple[int, int, float]]:
    """Count the raw mentions again from scratch, the slow way the counters exist to avoid."""
    with database.engine.connect() as connection:
        rows = connection.execute(select(MentionRow.created_at, MentionRow.sentiment_label, MentionRow.reach)
                                  .where(MentionRow.topic_id == topic_id, MentionRow.purged_at.is_(None))).all()
    counts: dict[datetime, MinuteCount] = {}
    for created, label, reach in rows:
        count = counts.setdefault(minute_of(created), MinuteCount())
        count.total += 1
        if label == "negative":
            count.negative += 1
            count.reach_negative += reach_weight(reach)
    return {minute: (c.total, c.negative, round(c.reach_negative, 6)) for minute, c in counts.items()}


@contextmanager
def outage_on(database: Database, statement_start: str) -> Iterator[None]:
    """Make the database fail (as a dropped connection would) on the first statement starting with `statement_start`."""
    dbapi_error = database.engine.dialect.loaded_dbapi.OperationalError

    def fail(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001 - SQLAlchemy's hook
        if statement.lstrip().upper().startswith(statement_start):
            raise dbapi_error("simulated outage: server closed the connection unexpectedly")

    event.listen(database.engine, "before_cursor_execute", fail)
    try:
        yield
    finally:
        event.remove(database.engine, "before_cursor_execute", fail)


def test_batch_is_stored_once_and_redelivery_counts_as_duplicate(repo, database):
    """A second delivery of the same (source, id) stores nothing and leaves the counters alone."""
    topic = new_topic(repo)
    batch = [mention(topic, "1"), mention(topic, "2", label="positive"), mention(topic, "3", minute=1, reach=1000)]
    first = repo.store_batch(batch)
    assert (first.inserted, first.duplicate) == (3, 0)
    again = repo.store_batch(batch + [mention(topic, "4")])
    assert (again.inserted, again.duplicate) == (1, 3)
    assert stored_counts(database, topic) == {minute_of(NOW): (3, 2, 2.0), minute_of(NOW) + timedelta(minutes=1): (1, 1, 3.0)}


def test_same_id_from_another_source_is_a_different_mention(repo):
    """Ids are unique per source, not globally."""
    topic = new_topic(repo)
    assert repo.store_batch([mention(topic, "1", source="a"), mention(topic, "1", source="b")]).inserted == 2


def test_outage_mid_batch_stores_nothing_and_a_retry_stores_it_once(repo, database):
    """The mentions insert succeeded but the counter upsert failed: the whole batch rolls back, then a retry lands once."""
    topic = new_topic(repo)
    batch = [mention(topic, str(i), minute=i % 3) for i in range(50)]
    before = repo.mention_count()
    with outage_on(database, "INSERT INTO MENTION_COUNTS"), pytest.raises(StoreUnavailable):
        repo.store_batch(batch)
    assert repo.mention_count() == before
    assert stored_counts(database, topic) == {}
    result = repo.store_batch(batch)
    assert (result.inserted, result.duplicate) == (50, 0)
    assert stored_counts(database, topic) == recount(database, topic)
    assert sum(total for total, _, _ in stored_counts(database, topic).values()) == 50


def test_outage_while_reading_topics_is_store_unavailable(repo, database):
    """A database that does not answer is a retryable StoreUnavailable, not an unexplained error."""
    with outage_on(database, "SELECT"), pytest.raises(StoreUnavailable):
        repo.topics("T1")


batches = st.lists(
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 4), st.sampled_from(["negative", "neutral", "positive"]),
                       st.one_of(st.none(), st.integers(0, 10**7))), max_size=15),
    min_size=1, max_size=6,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=batches, repeats=st.lists(st.integers(0, 5), max_size=4))
def test_counters_equal_a_recount_after_any_interleaving_of_batches_and_retries(repo, database, batches, repeats):
    """Overlapping batches, retries of earlier batches and in-batch repeats never double-count."""
    topic = new_topic(repo)
    order = list(range(len(batches))) + [r % len(batches) for r in repeats]
    for index in order:
        seen: dict[str, Mention] = {}
        for source_id, minute, label, reach in batches[index]:
            seen.setdefault(str(source_id), mention(topic, str(source_id), minute=minute, label=label, reach=reach))
        repo.store_batch(list(seen.values()))
    assert stored_counts(database, topic) == recount(database, topic)


def test_concurrent_writers_with_overlapping_batches_count_each_mention_once(repo, database):
    """Four threads deliver overlapping batches at once; counters still equal the recount."""
    topic = new_topic(repo)
    errors: list[BaseException] = []

    def deliver(offset: int) -> None:
        try:
            for start in range(0, 60, 20):
                repo.store_batch([mention(topic, str(i), minute=i % 4, reach=i * 100) for i in range(start + offset, start + offset + 25)])
        except BaseException as error:  # noqa: BLE001 - re-raised in the main thread below
            errors.append(error)

    threads = [threading.Thread(target=deliver, args=(offset,)) for offset in (0, 5, 10, 15)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert repo.mention_count() == len({str(i) for o in (0, 5, 10, 15) for s in range(0, 60, 20) for i in range(s + o, s + o + 25)})
    assert stored_counts(database, topic) == recount(database, topic)


def received(m: Mention, days_ago: int) -> Mention:
    return Mention(**{**m.__dict__, "received_at": NOW - timedelta(days=days_ago)})


def purge(repo: Mentions, *, now: datetime = NOW) -> MentionPurge:
    return repo.purge_mentions(before=now - RETENTION, forget_before=now - TOMBSTONE_HORIZON, now=now)


def test_purge_blanks_old_raw_mentions_to_tombstones_and_keeps_counters(repo, database):
    """Retention empties raw rows received before the cutoff (content and personal data gone); per-minute counts survive."""
    topic = new_topic(repo)
    old = [received(mention(topic, str(i), reach=500), 31) for i in range(3)]
    repo.store_batch(old + [mention(topic, "new")])
    counts_before = stored_counts(database, topic)
    assert purge(repo) == MentionPurge(tombstoned=3, forgotten=0)
    assert repo.mention_count() == 1 and repo.tombstone_count() == 3
    assert stored_counts(database, topic) == counts_before
    with database.engine.connect() as connection:
        tombstones = connection.execute(select(MentionRow).where(MentionRow.source_id.in_(["0", "1", "2"]))).all()
    assert len(tombstones) == 3
    for row in tombstones:
        assert (row.text, row.author, row.reach, row.url, row.language, row.sentiment_label, row.sentiment_score,
                row.analyser) == (None,) * 8
        assert row.purged_at == NOW and row.topic_id == topic and row.created_at == NOW + timedelta(seconds=7)
    assert purge(repo) == MentionPurge(tombstoned=0, forgotten=0)  # a second run leaves the tombstones as they are


def test_redelivery_after_the_purge_is_a_duplicate_and_counts_do_not_move(repo, database):
    """A vendor re-sending a purged mention (same source and id) is refused by its tombstone, with no per-row cost."""
    topic = new_topic(repo)
    old = [received(mention(topic, str(i), reach=1000), 40) for i in range(4)]
    repo.store_batch(old)
    counts, totals = stored_counts(database, topic), repo.totals_since(workspace_id="T1", since=NOW - timedelta(days=1))
    purge(repo)
    redelivered = [received(m, 0) for m in old] + [mention(topic, "fresh", minute=1)]
    assert repo.store_batch(redelivered) == StoredBatch(inserted=1, duplicate=4)
    assert repo.store_chunks([redelivered[:2], redelivered[2:]]) == StoredBatch(inserted=0, duplicate=5)
    after = dict(counts)
    after[NOW + timedelta(minutes=1)] = (1, 1, round(reach_weight(None), 6))
    assert stored_counts(database, topic) == after
    hour = repo.totals_since(workspace_id="T1", since=NOW - timedelta(days=1))
    topic_name = next(name for name, c in totals.items() if c.total == 4)
    assert (hour[topic_name].total, hour[topic_name].negative) == (5, 5)  # /crisis sources: 4 counted once, plus the new one
    assert repo.mention_count() == 1 and repo.tombstone_count() == 4


def test_tombstones_are_forgotten_after_the_horizon(repo, database):
    """Past TOMBSTONE_HORIZON a tombstone is deleted; only then could the same id be stored (and counted) again."""
    topic = new_topic(repo)
    repo.store_batch([received(mention(topic, "ancient"), 35), received(mention(topic, "old"), 35)])
    purge(repo)
    later = NOW + TOMBSTONE_HORIZON - timedelta(days=35) + timedelta(hours=1)
    with database.engine.begin() as connection:  # "old" arrived a day later than "ancient" by its own clock
        connection.execute(MentionRow.__table__.update().where(MentionRow.source_id == "old")
                           .values(received_at=NOW - timedelta(days=34)))
    assert purge(repo, now=later) == MentionPurge(tombstoned=0, forgotten=1)
    assert repo.tombstone_count() == 1
    assert repo.store_batch([mention(topic, "old"), mention(topic, "ancient")]) == StoredBatch(inserted=1, duplicate=1)


def test_crisis_card_never_shows_a_tombstone(repo, database):
    """The card's top negative mentions read raw mentions: purged ones, even within its window, are not among them."""
    topic = new_topic(repo)
    repo.store_batch([received(mention(topic, "loud", reach=90_000), 31), mention(topic, "quiet", reach=10)])
    detection = Detection(database)
    assert [m["text"] for m in detection.top_negative_mentions(topic_id=topic, since=NOW - timedelta(days=60))] == ["acme loud", "acme quiet"]
    purge(repo)
    assert detection.top_negative_mentions(topic_id=topic, since=NOW - timedelta(days=60)) == [
        {"text": "acme quiet", "author": "jane", "reach": 10, "url": None, "source": "tool",
         "posted_at": (NOW + timedelta(seconds=7)).astimezone(UTC).isoformat()}]


def test_a_mention_of_a_topic_that_does_not_exist_rolls_the_batch_back(repo, database):
    """mentions.topic_id has no foreign key (per-row cost), but the counter upsert in the same transaction has one."""
    topic = new_topic(repo)
    with pytest.raises(IntegrityError):
        repo.store_batch([mention(topic, "ok"), mention(topic + 10_000, "orphan")])
    assert repo.mention_count() == 0 and stored_counts(database, topic) == {}


def test_buckets_and_totals_read_the_counters(repo):
    """The detector's per-minute Buckets and the per-topic hour totals come from the counters."""
    topic = new_topic(repo)
    repo.store_batch([mention(topic, "1"), mention(topic, "2", minute=2, label="positive")])
    buckets = repo.buckets(topic_id=topic, since=NOW, until=NOW + timedelta(minutes=5))
    assert [(b.at, b.total, b.negative, b.reach) for b in buckets] == [(NOW, 1, 1, 1.0), (NOW + timedelta(minutes=2), 1, 0, 0.0)]
    totals = repo.totals_since(workspace_id="T1", since=NOW)
    assert [(c.total, c.negative) for name, c in totals.items() if name.startswith("topic-")][-1] == (2, 1)


def test_sources_channels_and_topics_round_trip(repo):
    """Sources keep only the token hash; channels and topics are stored and updated."""
    topic = new_topic(repo)
    source = repo.add_source(name="bw", vendor="brandwatch", workspace_id="T1", token_hash="h" * 64, now=NOW, default_topic_id=topic)
    assert repo.sources() == [source]
    assert repo.update_source(name="bw", workspace_id="T1", token_hash="g" * 64).token_hash == "g" * 64
    repo.set_listening_channel(channel_id="C1", workspace_id="T1", topic_id=topic, now=NOW)
    assert repo.listening_channel("C1").topic_id == topic
    assert repo.remove_listening_channel("C1") and repo.listening_channel("C1") is None
    repo.remove_source("bw", workspace_id="T1")
    assert repo.sources() == []


def test_nul_characters_are_dropped_not_fatal(repo, database):
    """PostgreSQL text cannot hold NUL; a sender's NUL is dropped instead of failing the batch (same on SQLite)."""
    topic = new_topic(repo)
    odd = Mention(**{**mention(topic, "nul\x00id").__dict__, "text": "acme\x00 broke", "author": "ja\x00ne"})
    assert repo.store_batch([odd, mention(topic, "plain")]) == StoredBatch(2, 0)
    assert repo.store_batch([odd]) == StoredBatch(0, 1)
    with database.engine.connect() as connection:
        texts = set(connection.execute(select(MentionRow.source_id, MentionRow.text)).all())
    assert ("nulid", "acme broke") in texts
    assert stored_counts(database, topic) == recount(database, topic)


def test_chunked_batch_is_all_or_nothing_and_counts_each_mention_once(repo, database):
    """store_chunks (ingestion's overlapped writes) fails whole when its third chunk's insert fails; a retry lands once."""
    topic = new_topic(repo)
    chunks = [[mention(topic, f"c{k}-{i}", minute=i % 4) for i in range(40)] for k in range(4)]
    dbapi_error = database.engine.dialect.loaded_dbapi.OperationalError
    seen = []

    def fail_third_insert(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001 - SQLAlchemy's hook
        if statement.lstrip().upper().startswith("INSERT INTO MENTIONS "):
            seen.append(statement)
            if len(seen) == 3:
                raise dbapi_error("simulated outage: server closed the connection unexpectedly")

    event.listen(database.engine, "before_cursor_execute", fail_third_insert)
    try:
        with pytest.raises(StoreUnavailable):
            repo.store_chunks(iter(chunks))
    finally:
        event.remove(database.engine, "before_cursor_execute", fail_third_insert)
    assert repo.mention_count() == 0 and stored_counts(database, topic) == {}
    assert repo.store_chunks(iter(chunks)) == StoredBatch(160, 0)
    # A re-delivery overlapping the stored ones, chunked differently: only the new mentions count.
    again = [chunks[1] + chunks[2], [mention(topic, "new-1"), mention(topic, "new-2")], []]
    assert repo.store_chunks(iter(again)) == StoredBatch(2, 80)
    assert stored_counts(database, topic) == recount(database, topic)
    assert sum(total for total, _, _ in stored_counts(database, topic).values()) == 162


def test_chunk_producer_failing_rolls_the_batch_back(repo, database):
    """When making the next chunk fails (a scoring bug), the chunks already written are rolled back too."""
    topic = new_topic(repo)

    def chunks():
        yield [mention(topic, "p1"), mention(topic, "p2")]
        raise RuntimeError("scoring failed")

    with pytest.raises(RuntimeError):
        repo.store_chunks(chunks())
    assert repo.mention_count() == 0 and stored_counts(database, topic) == {}


def test_migration_0012_round_trip_keeps_rows_indexes_and_the_unique_key(database):
    """0011 -> 0012 -> 0011 with data: content becomes nullable and the topic key goes, then both come back; tombstones
    (no text) are dropped on the way down; indexes and the (source, source_id) key survive SQLite's table rebuilds."""
    engine = database.engine
    migrate.upgrade(engine, "0011")
    row = {"source": "tool", "source_id": "kept", "text": "acme", "created_at": NOW, "received_at": NOW,
           "sentiment_label": "negative", "sentiment_score": -0.5, "sentiment_confidence": 0.9, "analyser": "vader"}
    with engine.begin() as connection:
        topic = connection.execute(insert(TopicRow.__table__).values(workspace_id="T1", name="t", keywords=[], hashtags=[],
                                                                     created_at=NOW).returning(TopicRow.__table__.c.id)).scalar_one()
        connection.execute(insert(MentionRow.__table__).values(topic_id=topic, **row))

    def schema() -> tuple[set[str], set[tuple[str, ...]], bool, bool]:
        inspector = inspect(engine)
        columns = {c["name"]: c for c in inspector.get_columns("mentions")}
        unique = {u["name"] for u in inspector.get_unique_constraints("mentions")}  # PostgreSQL lists their indexes too
        return ({i["name"] for i in inspector.get_indexes("mentions") if i["name"] not in unique},
                {tuple(u["column_names"]) for u in inspector.get_unique_constraints("mentions")},
                any(fk["referred_table"] == "topics" for fk in inspector.get_foreign_keys("mentions")),
                columns["text"]["nullable"])

    indexes = {"ix_mentions_received_at", "ix_mentions_topic_created"}
    assert schema() == (indexes, {("source", "source_id")}, True, False)
    migrate.upgrade(engine, "0012")
    assert schema() == (indexes, {("source", "source_id")}, False, True)
    repo = Mentions(database)
    repo.store_batch([received(mention(topic, "purged"), 31)])
    purge(repo)
    assert repo.store_batch([mention(topic, "kept"), mention(topic, "purged")]) == StoredBatch(inserted=0, duplicate=2)
    migrate.downgrade(engine, "0011")
    assert schema() == (indexes, {("source", "source_id")}, True, False)
    with engine.connect() as connection:
        assert connection.execute(select(MentionRow.__table__.c.source_id)).scalars().all() == ["kept"]
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
