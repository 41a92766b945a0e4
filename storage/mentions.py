"""Mentions repository: batches stored all or nothing, idempotent per (source, source_id), with per-minute counters.

Counters are upserted in the transaction that inserts the mentions, so they always equal a recount of what was stored.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from bot.errors import Conflict, NotFound
from bot.mentions import (
    ListeningChannel, Mention, MinuteCount, Source, StoreUnavailable, StoredBatch, Topic, count_by_minute,
)
from bot.spikes import Bucket
from storage.session import Database
from storage.tables import ListeningChannelRow, ListeningSource, MentionCount, MentionRow, TopicRow

_MENTIONS = MentionRow.__table__
_COUNTS = MentionCount.__table__


class Mentions:
    """Topics, sources, listening channels, raw mentions and their per-minute counters."""

    def __init__(self, database: Database) -> None:
        self._db = database
        dialect = database.engine.dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert

    # ----- ingestion -------------------------------------------------------------------------

    def store_batch(self, mentions: Sequence[Mention]) -> StoredBatch:
        """Insert new mentions and bump their counters in one transaction; re-deliveries count as duplicates."""
        if not mentions:
            return StoredBatch(0, 0)
        with _unavailable_is_retryable(), self._db.engine.begin() as connection:
            inserted = self._insert_mentions(connection, mentions)
            fresh = [m for m in mentions if (m.source, m.source_id) in inserted]
            self._add_counts(connection, count_by_minute(fresh))
        return StoredBatch(inserted=len(inserted), duplicate=len(mentions) - len(inserted))

    def _insert_mentions(self, connection: Connection, mentions: Sequence[Mention]) -> set[tuple[str, str]]:
        rows = [
            {
                "source": m.source, "source_id": m.source_id, "topic_id": m.topic_id, "text": m.text, "author": m.author,
                "reach": m.reach, "url": m.url, "language": m.language, "created_at": m.created_at,
                "received_at": m.received_at, "sentiment_label": m.sentiment.label, "sentiment_score": m.sentiment.score,
                "sentiment_confidence": m.sentiment.confidence, "analyser": m.sentiment.analyser,
            }
            for m in mentions
        ]
        # ON CONFLICT DO NOTHING + RETURNING names exactly the rows this transaction added, even when another
        # writer delivers the same mention at the same moment; one multi-row statement per batch, not one per row.
        statement = (
            self._insert(_MENTIONS)
            .on_conflict_do_nothing(index_elements=["source", "source_id"])
            .returning(_MENTIONS.c.source, _MENTIONS.c.source_id)
        )
        return {(source, source_id) for source, source_id in connection.execute(statement, rows)}

    def _add_counts(self, connection: Connection, counts: dict[tuple[int, datetime], MinuteCount]) -> None:
        if not counts:
            return
        rows = [
            {"topic_id": topic_id, "minute": minute, "total": c.total, "negative": c.negative, "reach_negative": c.reach_negative}
            for (topic_id, minute), c in sorted(counts.items())  # a fixed order keeps concurrent upserts from deadlocking
        ]
        statement = self._insert(_COUNTS)
        statement = statement.on_conflict_do_update(
            index_elements=["topic_id", "minute"],
            set_={
                "total": _COUNTS.c.total + statement.excluded.total,
                "negative": _COUNTS.c.negative + statement.excluded.negative,
                "reach_negative": _COUNTS.c.reach_negative + statement.excluded.reach_negative,
            },
        )
        connection.execute(statement, rows)

    def purge_mentions(self, *, before: datetime) -> int:
        """Delete raw mentions received before `before`; counters are kept."""
        with self._db.engine.begin() as connection:
            return connection.execute(delete(_MENTIONS).where(_MENTIONS.c.received_at < before)).rowcount or 0

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
        """Return how many raw mentions are stored."""
        with self._db.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(_MENTIONS)).scalar_one()

    # ----- topics ---------------------------------------------------------------------------

    def topics(self, workspace_id: str) -> list[Topic]:
        with _unavailable_is_retryable(), self._db.session_scope() as session:
            rows = session.exec(select(TopicRow).where(TopicRow.workspace_id == workspace_id).order_by(TopicRow.id)).scalars()
            return [_topic(row) for row in rows]

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
        with _unavailable_is_retryable(), self._db.session_scope() as session:
            return [_source(row) for row in session.exec(select(ListeningSource).order_by(ListeningSource.name)).scalars()]

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
            raise Conflict(f"A source called {name!r} already exists.") from error

    def update_source(self, *, name: str, token_hash: str | None = None, vendor: str | None = None,
                      default_topic_id: int | None = None) -> Source:
        """Change a source's token, vendor or default topic; raise NotFound when it does not exist."""
        with self._db.session_scope() as session:
            row = session.exec(select(ListeningSource).where(ListeningSource.name == name)).scalars().first()
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

    def remove_source(self, name: str) -> Source:
        with self._db.session_scope() as session:
            row = session.exec(select(ListeningSource).where(ListeningSource.name == name)).scalars().first()
            if row is None:
                raise NotFound(f"No source called {name!r}.")
            removed = _source(row)
            session.delete(row)
            return removed

    def source_by_name(self, name: str) -> Source | None:
        return next((s for s in self.sources() if s.name == name), None)

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
