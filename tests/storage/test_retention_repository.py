"""The retention purge on SQLite and PostgreSQL deletes exactly what is past each cut-off."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.audit import AuditRecord
from bot.retention import RetentionPolicy
from storage import migrate
from storage.audit import AuditLog
from storage.outbox import Outbox
from storage.retention import RetentionStore
from storage.tables import AuditEntry, JobRun, MentionCount, OutboxMessage, TopicRow

NOW = datetime(2026, 12, 3, 3, 45, tzinfo=UTC)
OLD = NOW - timedelta(days=800)
RECENT = NOW - timedelta(days=1)


def _count(database, table) -> int:
    with database.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table.__table__)).scalar_one()


def test_purge_removes_only_rows_past_their_cutoff(database):
    """Old counters, finished outbox rows, ledger keys and audit entries go; recent ones and pending calls stay."""
    migrate.upgrade(database.engine)
    with database.session_scope() as session:
        topic = TopicRow(workspace_id="T1", name="acme", keywords=["acme"], hashtags=[], created_at=OLD)
        session.add(topic)
        session.flush()
        session.add_all([MentionCount(topic_id=topic.id, minute=OLD), MentionCount(topic_id=topic.id, minute=RECENT)])
    outbox = Outbox(database)
    for key, at in (("old-sent", OLD), ("old-pending", OLD), ("new-sent", RECENT)):
        item = outbox.enqueue(dedupe_key=key, method="chat.postMessage", payload={"text": key}, due_at=at, now=at)
        if key.endswith("sent"):
            outbox.mark_sent(item, at=at, result={})
    with database.session_scope() as session:
        session.add_all([JobRun(run_key="old", ran_at=OLD), JobRun(run_key="new", ran_at=RECENT)])
    audit = AuditLog(database)
    for at in (OLD, RECENT):
        audit.record(AuditRecord(at=at, actor="U1", action="test", via="cli"))

    purged = RetentionStore(database).purge_expired(RetentionPolicy().cutoffs(NOW))

    assert purged == {"mention_counts": 1, "outbox": 1, "job_runs": 1, "audit_log": 1}
    assert _count(database, MentionCount) == 1 and _count(database, JobRun) == 1 and _count(database, AuditEntry) == 1
    assert {row.dedupe_key for row in outbox_rows(database)} == {"old-pending", "new-sent"}
    again = RetentionStore(database).purge_expired(RetentionPolicy().cutoffs(NOW))
    assert again == {"mention_counts": 0, "outbox": 0, "job_runs": 0, "audit_log": 0}


def outbox_rows(database):
    with database.session_scope() as session:
        return list(session.exec(select(OutboxMessage)).scalars())
