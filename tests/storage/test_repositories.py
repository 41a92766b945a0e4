"""Foundation repositories on SQLite and PostgreSQL: UTC columns, audit, admins, event dedupe, outbox."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import StatementError

from bot.audit import AuditRecord, Via
from storage import migrate
from storage.admins import AdminDirectory
from storage.audit import AuditLog
from storage.events import ProcessedEvents
from storage.job_runs import JobLedger
from storage.outbox import Outbox
from storage.tables import AuditEntry

T0 = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)


@pytest.fixture
def db(database):
    migrate.upgrade(database.engine)
    return database


def test_timestamps_come_back_aware_utc(db):
    """A time stored with an offset is read back as the same instant in UTC."""
    rome = timezone(timedelta(hours=2))
    AuditLog(db).record(AuditRecord(at=datetime(2026, 7, 1, 9, 0, tzinfo=rome), actor="U1", action="x", via=Via.cli))
    (entry,) = AuditLog(db).entries()
    assert entry.at == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    assert entry.at.utcoffset() == timedelta(0)


def test_naive_timestamps_are_refused(db):
    """Writing a naive datetime fails loudly instead of guessing a zone."""
    with pytest.raises(StatementError, match="naive"), db.session_scope() as session:
        session.add(AuditEntry(at=datetime(2026, 1, 1), actor="U1", action="x", via="cli"))
        session.flush()


def test_audit_keeps_before_and_after(db):
    """Before/after snapshots round-trip as JSON, in time order, filterable."""
    log = AuditLog(db)
    log.record(AuditRecord(at=T0 + timedelta(minutes=1), actor="U2", action="roster_changed", via=Via.modal,
                           target="team:1", before={"roster": ["U1"]}, after={"roster": ["U1", "U2"]}))
    log.record(AuditRecord(at=T0, actor="system", action="handoff", via=Via.scheduler))
    entries = log.entries()
    assert [e.action for e in entries] == ["handoff", "roster_changed"]
    assert entries[1].before == {"roster": ["U1"]} and entries[1].after == {"roster": ["U1", "U2"]}
    assert [e.action for e in log.entries(action="handoff")] == ["handoff"]


def test_bootstrap_admins_count_only_until_an_admin_is_stored(db):
    """SOCIALOPS_ADMINS grants admin while the table is empty; stored admins take over after."""
    admins = AdminDirectory(db, bootstrap=("UBOOT",))
    assert admins.is_admin("UBOOT") and not admins.is_admin("U2")
    assert admins.add("U2", by="UBOOT", at=T0)
    assert admins.is_admin("U2") and not admins.is_admin("UBOOT")
    assert not admins.add("U2", by="UBOOT", at=T0)


def test_removing_with_keep_one_never_empties_the_admin_table(db):
    """remove(keep_one=True) deletes one of two stored admins and refuses the last; stored_ids excludes the bootstrap list."""
    admins = AdminDirectory(db, bootstrap=("UBOOT",))
    assert admins.stored_ids() == []
    admins.add("U1", by="UBOOT", at=T0)
    admins.add("U2", by="UBOOT", at=T0)
    assert admins.remove("U1", keep_one=True) and admins.stored_ids() == ["U2"]
    assert not admins.remove("U2", keep_one=True) and admins.stored_ids() == ["U2"]
    assert not admins.remove("U9") and admins.remove("U2") and admins.stored_ids() == []


def test_an_event_id_is_claimed_once(db):
    """Slack's retries of one event are recognised; purging forgets old ones."""
    events = ProcessedEvents(db)
    assert events.claim("Ev1", at=T0)
    assert not events.claim("Ev1", at=T0 + timedelta(seconds=60))
    assert events.purge_older_than(T0 + timedelta(hours=2)) == 1
    assert events.claim("Ev1", at=T0 + timedelta(hours=3))


def test_outbox_queues_once_per_key_and_one_sender_wins(db):
    """Enqueue is idempotent by key; only one claim of a due item succeeds."""
    outbox = Outbox(db)
    first = outbox.enqueue(dedupe_key="k1", method="chat.postMessage", payload={"channel": "C1", "text": "hi"}, due_at=T0, now=T0)
    again = outbox.enqueue(dedupe_key="k1", method="chat.postMessage", payload={"channel": "C1", "text": "hi"}, due_at=T0, now=T0)
    assert first == again
    assert outbox.claim(first, now=T0 - timedelta(seconds=1), lease=timedelta(minutes=5)) is None  # not yet due
    assert outbox.claim(first, now=T0, lease=timedelta(minutes=5)) is not None
    assert outbox.claim(first, now=T0, lease=timedelta(minutes=5)) is None
    assert outbox.release_expired_leases(T0 + timedelta(minutes=6)) == 1
    assert [i.id for i in outbox.due(T0 + timedelta(minutes=6))] == [first]


def test_job_ledger_claims_a_run_key_once(db):
    """A run key recorded once is never claimed again."""
    ledger = JobLedger(db)
    assert ledger.claim("handoff:team1:2026-11-23", at=T0)
    assert not ledger.claim("handoff:team1:2026-11-23", at=T0)
    assert ledger.has_run("handoff:team1:2026-11-23")


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    """The embedded database uses WAL (readers beside a writer) and enforces foreign keys."""
    from sqlalchemy import text

    from storage.session import Database, sqlite_url

    db = Database.from_url(sqlite_url(tmp_path / "wal.db"))
    try:
        with db.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        db.dispose()


def test_people_learnt_by_concurrent_refreshes_are_stored_once(db):
    """Several Home refreshes learning the same person at once: no IntegrityError, one row, newest zone kept."""
    from concurrent.futures import ThreadPoolExecutor

    from storage.people import People

    people = People(db)
    barrier_count = 8
    with ThreadPoolExecutor(barrier_count) as pool:
        list(pool.map(
            lambda n: people.remember(workspace_id="T1", user_id="U9", tz="Asia/Kolkata", deleted=False, now=T0 + timedelta(seconds=n)),
            range(barrier_count),
        ))
    assert people.tz("T1", "U9") == "Asia/Kolkata"
    people.remember(workspace_id="T1", user_id="U9", tz=None, deleted=True, now=T0 + timedelta(minutes=1))
    assert people.tz("T1", "U9") == "Asia/Kolkata"  # an unknown zone never erases a known one
