"""Mentions repository: batches stored all or nothing, idempotent per (source, source_id), with per-minute counters.

Counters are upserted in the transaction that inserts the mentions, so they always equal a recount of what was stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from itertools import chain
from datetime import datetime
from functools import lru_cache

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from bot.errors import Conflict, NotFound
from bot.mentions import (
    ListeningChannel, Mention, MentionPurge, MinuteCount, Source, StoreUnavailable, StoredBatch, Topic, count_by_minute,
)
from bot.spikes import Bucket
from storage.columns import aware_utc
from storage.session import Database
from storage.tables import ListeningChannelRow, ListeningSource, MentionCount, MentionRow, TopicRow

_ID_CHUNK = 2000  # ids per IN (...) list: well under SQLite's bound-parameter limit

_MENTIONS = MentionRow.__table__
_COUNTS = MentionCount.__table__


class Mentions:
    """Topics, sources, listening channels, raw mentions and their per-minute counters."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._postgres = database.engine.dialect.name == "postgresql"

    # ----- ingestion -------------------------------------------------------------------------

    def store_batch(self, mentions: Sequence[Mention]) -> StoredBatch:
        """Insert new mentions and bump their counters in one transaction; re-deliveries count as duplicates."""
        if not mentions:
            return StoredBatch(0, 0)
        with _unavailable_is_retryable(), self._db.engine.begin() as connection:
            inserted = self._insert_mentions(connection, mentions)
            self._add_counts(connection, count_by_minute(_fresh(mentions, inserted)))
        return StoredBatch(inserted=len(inserted), duplicate=len(mentions) - len(inserted))

    def store_chunks(self, chunks: Iterable[Sequence[Mention]]) -> StoredBatch:
        """Store what `chunks` yields as one all-or-nothing batch, like store_batch.

        A writer thread inserts chunk k while the caller's iterator makes chunk k+1 (ingestion scores it there),
        so the database's time, most of it in PostgreSQL's own process, overlaps ours. One transaction, one
        connection, used by one thread at a time: each insert is awaited before the next starts.
        """
        total = 0
        fresh: list[Mention] = []
        inserted = 0
        with _unavailable_is_retryable(), self._db.engine.begin() as connection, \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="mentions-writer") as writer:
            # Leaving this block waits for the writer first, so the transaction never ends under a running insert.
            writing: tuple[Future[set[tuple[str, str]]], Sequence[Mention]] | None = None
            for chunk in chain(chunks, [()]):  # the empty last chunk collects the final write
                if writing is not None:
                    done = writing[0].result()
                    inserted += len(done)
                    fresh += _fresh(writing[1], done)
                    writing = None
                if chunk:
                    total += len(chunk)
                    writing = (writer.submit(self._insert_mentions, connection, chunk), chunk)
            self._add_counts(connection, count_by_minute(fresh))
        return StoredBatch(inserted=inserted, duplicate=total - inserted)

    # Both writes are one statement per batch, in the driver's own SQL: ingestion is the hot path, and building
    # SQLAlchemy parameters row by row cost more than the database work. ON CONFLICT DO NOTHING ... RETURNING
    # names exactly the rows this transaction added, even when another writer delivers the same mention at once.

    def _insert_mentions(self, connection: Connection, mentions: Sequence[Mention]) -> set[tuple[str, str]]:
        if self._postgres:
            # One JSON parameter: the statement text is the same for every batch size (psycopg parses it once, the
            # server prepares it), and json.dumps in C beats psycopg adapting fourteen Python lists into arrays.
            payload = json.dumps([dict(zip(_MENTION_COLUMNS, _mention_values(m, _iso_time))) for m in mentions])
            rows = connection.exec_driver_sql(_PG_INSERT_MENTIONS, {"rows": payload})
        else:
            values: list[object] = []
            for m in mentions:
                values += _mention_values(m, sqlite_time)
            rows = connection.exec_driver_sql(_sqlite_insert_mentions(len(mentions)), tuple(values))
        return {(source, source_id) for source, source_id in rows}

    def _add_counts(self, connection: Connection, counts: dict[tuple[int, datetime], MinuteCount]) -> None:
        if not counts:
            return
        # A fixed order keeps concurrent upserts from deadlocking.
        ordered = [(topic_id, minute, c.total, c.negative, c.reach_negative) for (topic_id, minute), c in sorted(counts.items())]
        if self._postgres:
            connection.exec_driver_sql(_PG_UPSERT_COUNTS, dict(zip(_PG_COUNT_PARAMS, (list(c) for c in zip(*ordered)))))
        else:
            values: list[object] = []
            for topic_id, minute, total, negative, reach in ordered:
                values += (topic_id, sqlite_time(minute), total, negative, reach)
            connection.exec_driver_sql(_sqlite_upsert_counts(len(ordered)), tuple(values))

    def purge_mentions(self, *, before: datetime, forget_before: datetime, now: datetime) -> MentionPurge:
        """Blank the raw mentions received before `before` to tombstones, delete tombstones received before `forget_before`.

        A tombstone keeps only the key (source, source_id) with topic and times, so the unique constraint still turns a
        re-delivery into a duplicate and the counters, which are kept, never count it twice. Nothing on the insert path.
        """
        live = _MENTIONS.c.purged_at.is_(None)
        with self._db.engine.begin() as connection:
            forgotten = connection.execute(delete(_MENTIONS).where(_MENTIONS.c.received_at < forget_before)).rowcount or 0
            tombstoned = connection.execute(
                update(_MENTIONS).where(_MENTIONS.c.received_at < before, live)
                .values({**{column: None for column in _TOMBSTONE_BLANKS}, "purged_at": now})).rowcount or 0
        return MentionPurge(tombstoned=tombstoned, forgotten=forgotten)

    # ----- reading counts -------------------------------------------------------------------

    def buckets(self, *, topic_id: int, since: datetime, until: datetime) -> list[Bucket]:
        """Return the stored per-minute counters of a topic in [since, until), oldest first (empty minutes omitted)."""
        query = (
            select(_COUNTS.c.minute, _COUNTS.c.total, _COUNTS.c.negative, _COUNTS.c.reach_negative)
            .where(_COUNTS.c.topic_id == topic_id, _COUNTS.c.minute >= since, _COUNTS.c.minute < until)
            .order_by(_COUNTS.c.minute)
        )
        with self._db.engine.connect() as connection:
            return [Bucket(at=row[0], total=row[1], negative=row[2], reach=row[3]) for row in connection.execute(query)]

    def buckets_of_topics(self, topic_ids: Sequence[int], *, since: datetime, until: datetime) -> dict[int, list[Bucket]]:
        """Return `buckets()` for many topics in one query per chunk of ids (a detection pass reads them all at once)."""
        found: dict[int, list[Bucket]] = {topic_id: [] for topic_id in topic_ids}
        ids = list(found)
        for first in range(0, len(ids), _ID_CHUNK):
            query = (
                select(_COUNTS.c.topic_id, _COUNTS.c.minute, _COUNTS.c.total, _COUNTS.c.negative, _COUNTS.c.reach_negative)
                .where(_COUNTS.c.topic_id.in_(ids[first:first + _ID_CHUNK]), _COUNTS.c.minute >= since, _COUNTS.c.minute < until)
                .order_by(_COUNTS.c.topic_id, _COUNTS.c.minute)
            )
            with self._db.engine.connect() as connection:
                for row in connection.execute(query):
                    found[row[0]].append(Bucket(at=row[1], total=row[2], negative=row[3], reach=row[4]))
        return found

    def totals_since(self, *, workspace_id: str, since: datetime) -> dict[str, MinuteCount]:
        """Return each topic's counters summed from `since` on, by topic name (topics without mentions included)."""
        query = (
            select(TopicRow.name, func.coalesce(func.sum(_COUNTS.c.total), 0), func.coalesce(func.sum(_COUNTS.c.negative), 0),
                   func.coalesce(func.sum(_COUNTS.c.reach_negative), 0.0))
            .select_from(TopicRow)
            .join(_COUNTS, (_COUNTS.c.topic_id == TopicRow.id) & (_COUNTS.c.minute >= since), isouter=True)
            .where(TopicRow.workspace_id == workspace_id)
            .group_by(TopicRow.name)
            .order_by(TopicRow.name)
        )
        with self._db.engine.connect() as connection:
            return {name: MinuteCount(int(total), int(negative), float(reach)) for name, total, negative, reach in connection.execute(query)}

    def mention_count(self) -> int:
        """Return how many raw mentions are stored (tombstones of purged ones not included)."""
        with self._db.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(_MENTIONS).where(_MENTIONS.c.purged_at.is_(None))).scalar_one()

    def tombstone_count(self) -> int:
        """Return how many purged mentions are still remembered by their key."""
        with self._db.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(_MENTIONS).where(_MENTIONS.c.purged_at.is_not(None))).scalar_one()

    # ----- topics ---------------------------------------------------------------------------

    def topics(self, workspace_id: str) -> list[Topic]:
        # Core, not an ORM session: every webhook request reads the topics and the sources.
        topics = TopicRow.__table__.c
        query = (select(topics.id, topics.workspace_id, topics.name, topics.keywords, topics.hashtags)
                 .where(topics.workspace_id == workspace_id).order_by(topics.id))
        with _unavailable_is_retryable(), self._db.engine.connect() as connection:
            return [_topic(row) for row in connection.execute(query)]

    def save_topic(self, *, workspace_id: str, name: str, keywords: Sequence[str], hashtags: Sequence[str], now: datetime) -> Topic:
        """Create the topic, or replace its keywords and hashtags when it exists."""
        with self._db.session_scope() as session:
            row = session.exec(select(TopicRow).where(TopicRow.workspace_id == workspace_id, TopicRow.name == name)).scalars().first()
            if row is None:
                row = TopicRow(workspace_id=workspace_id, name=name, keywords=list(keywords), hashtags=list(hashtags), created_at=now)
                session.add(row)
            else:
                row.keywords, row.hashtags = list(keywords), list(hashtags)
            session.flush()
            return _topic(row)

    def topic_by_name(self, *, workspace_id: str, name: str) -> Topic:
        for topic in self.topics(workspace_id):
            if topic.name.lower() == name.lower():
                return topic
        raise NotFound(f"No topic called {name!r}.")

    # ----- sources --------------------------------------------------------------------------

    def sources(self) -> list[Source]:
        sources = ListeningSource.__table__.c
        query = (select(sources.id, sources.name, sources.vendor, sources.workspace_id, sources.token_hash,
                        sources.default_topic_id).order_by(sources.name))
        with _unavailable_is_retryable(), self._db.engine.connect() as connection:
            return [_source(row) for row in connection.execute(query)]

    def add_source(self, *, name: str, vendor: str, workspace_id: str, token_hash: str, now: datetime,
                   default_topic_id: int | None = None) -> Source:
        """Create a source; raise Conflict when the name is taken."""
        try:
            with self._db.session_scope() as session:
                row = ListeningSource(name=name, vendor=vendor, workspace_id=workspace_id, token_hash=token_hash,
                                      default_topic_id=default_topic_id, created_at=now)
                session.add(row)
                session.flush()
                return _source(row)
        except IntegrityError as error:
            raise Conflict(f"A source called {name!r} already exists in this workspace.") from error

    def update_source(self, *, name: str, workspace_id: str, token_hash: str | None = None, vendor: str | None = None,
                      default_topic_id: int | None = None) -> Source:
        """Change a workspace's source's token, vendor or default topic; raise NotFound when it does not exist."""
        with self._db.session_scope() as session:
            row = session.exec(select(ListeningSource).where(ListeningSource.workspace_id == workspace_id,
                                                             ListeningSource.name == name)).scalars().first()
            if row is None:
                raise NotFound(f"No source called {name!r}.")
            if token_hash is not None:
                row.token_hash = token_hash
            if vendor is not None:
                row.vendor = vendor
            if default_topic_id is not None:
                row.default_topic_id = default_topic_id
            session.flush()
            return _source(row)

    def remove_source(self, name: str, *, workspace_id: str) -> Source:
        with self._db.session_scope() as session:
            row = session.exec(select(ListeningSource).where(ListeningSource.workspace_id == workspace_id,
                                                             ListeningSource.name == name)).scalars().first()
            if row is None:
                raise NotFound(f"No source called {name!r}.")
            removed = _source(row)
            session.delete(row)
            return removed

    def source_by_name(self, name: str, *, workspace_id: str) -> Source | None:
        return next((s for s in self.sources() if s.name == name and s.workspace_id == workspace_id), None)

    # ----- listening channels ---------------------------------------------------------------

    def listening_channel(self, channel_id: str) -> ListeningChannel | None:
        with self._db.session_scope() as session:
            row = session.get(ListeningChannelRow, channel_id)
            return None if row is None else ListeningChannel(row.channel_id, row.workspace_id, row.topic_id)

    def listening_channels(self, workspace_id: str) -> list[ListeningChannel]:
        with self._db.session_scope() as session:
            query = select(ListeningChannelRow).where(ListeningChannelRow.workspace_id == workspace_id)
            return [ListeningChannel(r.channel_id, r.workspace_id, r.topic_id) for r in session.exec(query).scalars()]

    def set_listening_channel(self, *, channel_id: str, workspace_id: str, topic_id: int | None, now: datetime) -> ListeningChannel:
        with self._db.session_scope() as session:
            row = session.get(ListeningChannelRow, channel_id)
            if row is None:
                session.add(ListeningChannelRow(channel_id=channel_id, workspace_id=workspace_id, topic_id=topic_id, created_at=now))
            else:
                row.workspace_id, row.topic_id = workspace_id, topic_id
        return ListeningChannel(channel_id, workspace_id, topic_id)

    def remove_listening_channel(self, channel_id: str) -> bool:
        with self._db.session_scope() as session:
            row = session.get(ListeningChannelRow, channel_id)
            if row is None:
                return False
            session.delete(row)
            return True


@contextmanager
def _unavailable_is_retryable() -> Iterator[None]:
    """Turn a database that does not answer (or is locked) into StoreUnavailable; the transaction is already rolled back."""
    try:
        yield
    except (OperationalError, InterfaceError) as error:
        raise StoreUnavailable(f"database unavailable: {type(error.orig).__name__ if error.orig is not None else error}") from error


def _topic(row: TopicRow) -> Topic:
    assert row.id is not None
    return Topic(id=row.id, workspace_id=row.workspace_id, name=row.name, keywords=tuple(row.keywords), hashtags=tuple(row.hashtags))


def _source(row: ListeningSource) -> Source:
    assert row.id is not None
    return Source(id=row.id, name=row.name, vendor=row.vendor, workspace_id=row.workspace_id, token_hash=row.token_hash,
                  default_topic_id=row.default_topic_id)


# What the purge blanks: the content, personal data included; the sentiment label too, so readers of negative
# mentions (the crisis card) cannot pick a tombstone up.
_TOMBSTONE_BLANKS = ("text", "author", "reach", "url", "language", "sentiment_label", "sentiment_score",
                     "sentiment_confidence", "analyser")


# ----- the ingestion statements ----------------------------------------------------------------

_MENTION_COLUMNS = ("source", "source_id", "topic_id", "text", "author", "reach", "url", "language", "created_at",
                    "received_at", "sentiment_label", "sentiment_score", "sentiment_confidence", "analyser")
_PG_MENTION_TYPES = ("varchar", "varchar", "integer", "varchar", "varchar", "bigint", "varchar", "varchar", "timestamptz",
                     "timestamptz", "varchar", "float8", "float8", "varchar")
_PG_INSERT_MENTIONS = (
    f"INSERT INTO mentions ({', '.join(_MENTION_COLUMNS)}) SELECT {', '.join(_MENTION_COLUMNS)}"
    f" FROM json_to_recordset(%(rows)s::json) AS r({', '.join(f'{c} {t}' for c, t in zip(_MENTION_COLUMNS, _PG_MENTION_TYPES))})"
    " ON CONFLICT (source, source_id) DO NOTHING RETURNING source, source_id"
)
_COUNT_COLUMNS = ("topic_id", "minute", "total", "negative", "reach_negative")
_PG_COUNT_PARAMS = tuple(f"c_{name}" for name in _COUNT_COLUMNS)
_COUNTS_ON_CONFLICT = (
    " ON CONFLICT (topic_id, minute) DO UPDATE SET total = mention_counts.total + excluded.total,"
    " negative = mention_counts.negative + excluded.negative,"
    " reach_negative = mention_counts.reach_negative + excluded.reach_negative"
)
_PG_UPSERT_COUNTS = (
    f"INSERT INTO mention_counts ({', '.join(_COUNT_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"%({param})s::{kind}[]" for param, kind in zip(_PG_COUNT_PARAMS, ("integer", "timestamptz", "integer", "integer", "float8")))
    + ")" + _COUNTS_ON_CONFLICT
)


def _mention_values(m: Mention, time: Callable[[datetime], object]) -> tuple[object, ...]:
    """One mention's column values in _MENTION_COLUMNS order, its times as `time` turns them for the dialect."""
    sentiment = m.sentiment
    return (m.source, _no_nul(m.source_id), m.topic_id, _no_nul(m.text), _no_nul(m.author), m.reach, _no_nul(m.url), m.language,
            time(m.created_at), time(m.received_at), sentiment.label, sentiment.score, sentiment.confidence,
            sentiment.analyser)


def _fresh(mentions: Sequence[Mention], inserted: set[tuple[str, str]]) -> Sequence[Mention]:
    """Return the mentions this transaction inserted (each key once, as the database stored it)."""
    if len(inserted) == len(mentions):
        return mentions  # the usual case: nothing was a re-delivery
    unclaimed = set(inserted)
    fresh = []
    for m in mentions:
        key = (m.source, _no_nul(m.source_id))
        if key in unclaimed:
            unclaimed.discard(key)
            fresh.append(m)
    return fresh


def _no_nul(value: str | None) -> str | None:
    """Return text both databases can store: NUL dropped (PostgreSQL text cannot hold it), lone surrogates replaced."""
    # A sender's odd bytes must not turn a whole batch into a 500.
    if value is None or value.isascii() and "\x00" not in value:
        return value
    value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def _iso_time(at: datetime) -> str:
    return aware_utc(at).isoformat()


def sqlite_time(at: datetime) -> str:
    """Return `at` as SQLAlchemy stores a UtcDateTime in SQLite ("2026-03-02 12:00:07.000000", UTC, no offset)."""
    return aware_utc(at).replace(tzinfo=None).isoformat(" ", "microseconds")


@lru_cache(maxsize=32)  # the full batch size repeats; odd last batches come and go
def _sqlite_insert_mentions(rows: int) -> str:
    placeholders = "(" + ", ".join("?" * len(_MENTION_COLUMNS)) + ")"
    return (f"INSERT INTO mentions ({', '.join(_MENTION_COLUMNS)}) VALUES {', '.join([placeholders] * rows)}"
            " ON CONFLICT (source, source_id) DO NOTHING RETURNING source, source_id")


@lru_cache(maxsize=32)
def _sqlite_upsert_counts(rows: int) -> str:
    placeholders = "(" + ", ".join("?" * len(_COUNT_COLUMNS)) + ")"
    return f"INSERT INTO mention_counts ({', '.join(_COUNT_COLUMNS)}) VALUES {', '.join([placeholders] * rows)}" + _COUNTS_ON_CONFLICT
